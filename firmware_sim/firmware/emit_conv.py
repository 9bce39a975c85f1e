"""Emit a conv step (CONV_2D or FULLY_CONNECTED, with what steps.py fused into it) for conv.c.

The struct carries the emulator's prepared parameters (conv.py / fully_connected.py and the
OutputStage of accumulate.py) unchanged, except the bias: input_offset * sum(weights) is folded
into it, modulo 2**32 as the int32 accumulator wraps, so the kernel multiplies raw inputs.
"""
import numpy as np

from firmware_sim.emulator.ir import Graph
from firmware_sim.firmware import encode
from firmware_sim.firmware.emitted import Arrays, Emitted
from firmware_sim.fit.conv_layout import (conv_weights, int8_weights, patch_scratch_bytes,
                                          step_geometry, window)

_SUBSAMPLE_KINDS = {"DEPTHWISE_CONV_2D": "NN_SUB_DEPTHWISE", "AVERAGE_POOL_2D": "NN_SUB_AVERAGE",
                    "MAX_POOL_2D": "NN_SUB_MAX"}


def wrap_int32(values) -> np.ndarray:
    return ((np.asarray(values, dtype=np.int64) + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def folded_bias(bias: np.ndarray, weights: np.ndarray, input_offset: int) -> np.ndarray:
    """bias + input_offset * sum(weights) per output channel, wrapped to int32."""
    sums = weights.reshape(len(weights), -1).sum(axis=1)
    return wrap_int32(np.asarray(bias).reshape(-1) + input_offset * sums)


def emit_conv(graph: Graph, step, prefix: str, planar_input: bool = False,
              planar_output: bool = False) -> Emitted:
    """The nn_conv_t of a conv step; planar_* say which activations are stored channel-major."""
    params, g = step.params, step_geometry(graph, step)
    span, inside = window(g)
    weights, geometry = conv_weights(graph, step, planar_input)
    groups = geometry.groups
    encoding = encode.choose(weights, geometry)
    stage = params.output_stage
    arrays = Arrays(prefix)
    pointers = {name: arrays.add(name, values, dtype)
                for name, (values, dtype) in encoding.arrays.items()}
    y_step, x_step, _ = geometry.steps
    out_pixels = (g["out_h"] // 2) * (g["out_w"] // 2) if step.subsample else \
        g["out_h"] * g["out_w"]
    fields = dict(
        in_h=g["in_h"], in_w=g["in_w"], in_c=g["in_c"], out_h=g["out_h"], out_w=g["out_w"],
        out_c=g["out_c"], x_step=x_step, y_step=y_step,
        out_pixel_step=1 if planar_output else g["out_c"],
        out_channel_step=out_pixels if planar_output else 1,
        stride_h=g["stride"][0], stride_w=g["stride"][1],
        pad_h=g["padding"][0], pad_w=g["padding"][1], win_h=span[0], win_w=span[1],
        all_inside=int(inside), input_zero_point=-params.input_offset,
        segments=encoding.segments, seg_len=encoding.seg_len,
        seg_contiguous=encoding.seg_contiguous, seg_step=encoding.seg_step,
        tap_offset=pointers.get("tap_offset", "0"), tap_y=pointers.get("tap_y", "0"),
        tap_x=pointers.get("tap_x", "0"), encoding=f"NN_{encoding.kind.upper()}",
        weights=pointers["weights"], seg_count=pointers.get("seg_count", "0"),
        seg_index=pointers.get("seg_index", "0"), nnz=pointers.get("nnz", "0"),
        skip=pointers.get("skip", "0"), bitmap=pointers.get("bitmap", "0"),
        bitmap_words=encoding.bitmap_words,
        **_output_stage(arrays, "", stage, folded_bias(stage.bias, weights, params.input_offset)),
        **clamp_and_table(arrays, "table", stage.quantized_activation_min,
                          stage.quantized_activation_max, step.table),
        subsample=_subsample(arrays, step), fast=int(_fast(step)))
    arrays.struct("nn_conv_t", fields)
    scratch = patch_scratch_bytes(encoding.kind, encoding.segments, encoding.seg_len, groups)
    notes = dict(encoding=encoding.kind, weight_bytes=encoding.nbytes,
                 executed_macs=groups * out_pixels * encoding.slots)
    return arrays.emitted(f"nn_conv(&{prefix}, {{inputs[0]}}, {{output}}, "
                          f"(int16_t *){{scratch}});", scratch, notes)


def _fast(step) -> bool:
    """Every shift of the step is <= -2: the kernels' short requantization applies."""
    shifts = [np.asarray(step.params.output_stage.output_shift).reshape(-1)]
    if step.subsample and step.subsample[0] == "DEPTHWISE_CONV_2D":
        shifts.append(np.asarray(step.subsample[1].output_stage.output_shift).reshape(-1))
    return all(int(s.max(initial=-2)) <= -2 for s in shifts)


def _output_stage(arrays: Arrays, name: str, stage, bias: np.ndarray) -> dict:
    """bias, multiplier, shift and output_offset of an OutputStage."""
    return dict(bias=arrays.add(f"{name}bias", bias, "int32"),
                multiplier=arrays.add(f"{name}multiplier", stage.output_multiplier, "int32"),
                shift=arrays.add(f"{name}shift", stage.output_shift, "int8"),
                output_offset=stage.output_offset)


def clamp_and_table(arrays: Arrays, name: str, act_min: int, act_max: int,
                    table: np.ndarray | None) -> dict:
    """The activation clamp and the table after it. A table absorbs the clamp (the kernel then
    only saturates to int8) and is stored by value, -128 first, where the emulator's is by byte."""
    if table is None:
        return dict(act_min=act_min, act_max=act_max, table="0")
    clamped = np.clip(np.arange(-128, 128), act_min, act_max).astype(np.int8)
    return dict(act_min=-128, act_max=127,
                table=arrays.add(name, table[clamped.view(np.uint8)], "int8"))


def _subsample(arrays: Arrays, step) -> str:
    if step.subsample is None:
        return "0"
    opcode, params = step.subsample
    fields = dict(kind=_SUBSAMPLE_KINDS[opcode], weights="0", bias="0", multiplier="0", shift="0",
                  output_offset=0)
    if opcode == "DEPTHWISE_CONV_2D":
        stage = params.output_stage
        weights = int8_weights(params.weights, opcode)
        fields.update(weights=arrays.add("sub_weights", weights, "int8"),
                      **_output_stage(arrays, "sub_", stage, folded_bias(
                          stage.bias, weights, params.input_offset)))
        bounds = stage.quantized_activation_min, stage.quantized_activation_max
    else:
        bounds = params.quantized_activation_min, params.quantized_activation_max
    fields.update(clamp_and_table(arrays, "sub_table", *bounds, step.subsample_table))
    return "&" + arrays.struct("nn_subsample_t", fields, name="sub")
