"""Emit a conv step (CONV_2D or FULLY_CONNECTED, with what steps.py fused into it): the variant
of runtime/conv_*.c its weights, subsampling and output stage call for (nn_ops.h), and its struct.

The struct carries the emulator's integer op data (ConvOpData, FullyConnectedOpData: int8 filter,
int32 bias, output_multiplier, output_shift, offsets) unchanged, except for two folds that are
the firmware's own: input_offset * sum(weights) goes into the bias, modulo 2**32 as the int32
accumulator wraps, so the kernel multiplies raw inputs; and a per-tensor FULLY_CONNECTED's
filter_offset goes into its weights while they stay int8 (fit/conv_layout.int8_weights).
"""
import numpy as np

from firmware_sim.emulator.ir import Graph
from firmware_sim.firmware import cgen, encode
from firmware_sim.firmware.emitted import Arrays, Emitted
from firmware_sim.fit.conv_layout import (conv_weights, int8_weights, lut_variant,
                                          scratch_bytes, step_geometry, window)

def wrap_int32(values) -> np.ndarray:
    return ((np.asarray(values, dtype=np.int64) + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def folded_bias(bias: np.ndarray, weights: np.ndarray, input_offset: int) -> np.ndarray:
    """bias + input_offset * sum(weights) per output channel, wrapped to int32."""
    sums = weights.reshape(len(weights), -1).sum(axis=1)
    return wrap_int32(np.asarray(bias).reshape(-1) + input_offset * sums)


def emit_conv(graph: Graph, step, prefix: str, planar_input: bool = False,
              planar_output: bool = False, kind: str | None = None) -> Emitted:
    """The struct and the call of the conv variant for a step (nn_ops.h: nn_conv_<weights>
    [_<subsampling>][_lut]); planar_* say which activations are stored channel-major, `kind`
    the weights' encoding (cost_model.step_costs' choice; None: the smallest)."""
    params, g = step.params, step_geometry(graph, step)
    span, inside = window(g)
    weights, geometry = conv_weights(graph, step, planar_input)
    groups = geometry.groups
    encoding = encode.pack(kind, weights, geometry) if kind else encode.choose(weights, geometry)
    bias = folded_bias(params.bias, weights, params.input_offset)
    doubled = encoding.kind == "pairs" and _doubles(step, weights, bias)
    if doubled:
        encoding = encode.doubled_pairs(encoding)
    arrays = Arrays(prefix)
    pointers = {name: arrays.add(name, values, dtype)
                for name, (values, dtype) in encoding.arrays.items()}
    out_pixels = (g["out_h"] // 2) * (g["out_w"] // 2) if step.subsample else \
        g["out_h"] * g["out_w"]
    fields = dict(window=_nested(arrays, _window_fields(g, span, inside, geometry, out_pixels,
                                                        planar_output)))
    patched = encoding.kind in ("dense", "blocked")
    scratched = patched or encoding.kind == "pairs"
    if patched:
        fields["taps"] = _nested(arrays, _taps_fields(encoding, pointers, params.input_offset))
    fields.update(out_c=g["out_c"], weights=pointers["weights"])
    if encoding.kind == "sparse":
        fields.update(nnz=pointers["nnz"], skip=pointers["skip"])
    elif encoding.kind == "bitmap":
        fields.update(bitmap=pointers["bitmap"], bitmap_words=encoding.bitmap_words)
    elif encoding.kind == "pairs":
        fields.update(in_size=geometry.in_h * geometry.in_w * geometry.in_c,
                      pairs=pointers["pairs"], doubled=int(doubled))
    fields["output"] = _nested(arrays, _output_stage(arrays, "", params, bias, step.table))
    if encoding.kind == "blocked":  # a patch conv (nn_patch_conv_t) and its runs of segments
        fields = dict(conv=_nested(arrays, fields), seg_count=pointers["seg_count"],
                      seg_index=pointers["seg_index"])
    arrays.struct(f"nn_conv_{encoding.kind}_t", fields)
    scratch = scratch_bytes(encoding, groups)
    notes = dict(encoding=encoding.kind, weight_bytes=encoding.nbytes,
                 executed_macs=groups * out_pixels * encoding.slots)
    return arrays.emitted(_call(arrays, step, encoding.kind, scratched), scratch, notes)


def _doubles(step, weights: np.ndarray, bias: np.ndarray) -> bool:
    """Pairs with a fused depthwise subsampling in the _lut form run on doubled weights where
    the sums allow (encode.sums_double): the DSP cores' row block takes its short stage then."""
    if not (step.subsample and step.subsample[0] == "DEPTHWISE_CONV_2D" and lut_variant(step)):
        return False
    sub = step.subsample[1]
    sub_weights = int8_weights(sub, step.subsample[0])
    return encode.sums_double(weights, bias, sub_weights,
                              folded_bias(sub.bias, sub_weights, sub.input_offset),
                              [step.params.output_shift, sub.output_shift])


def _window_fields(g: dict, span, inside: bool, geometry: encode.Geometry, out_pixels: int,
                   planar_output: bool) -> dict:
    """nn_window_t: where the windows are read and the outputs written."""
    y_step, x_step, _ = geometry.steps
    return dict(in_h=g["in_h"], in_w=g["in_w"], out_h=g["out_h"], out_w=g["out_w"],
                x_step=x_step, y_step=y_step,
                out_pixel_step=1 if planar_output else g["out_c"],
                out_channel_step=out_pixels if planar_output else 1,
                stride_h=g["stride"][0], stride_w=g["stride"][1], pad_h=g["padding"][0],
                pad_w=g["padding"][1], win_h=span[0], win_w=span[1], all_inside=int(inside))


def _taps_fields(encoding: encode.Encoding, pointers: dict, input_offset: int) -> dict:
    """nn_taps_t: a window's taps in patch order (dense and blocked weights)."""
    return dict(segments=encoding.segments, seg_len=encoding.seg_len,
                seg_contiguous=encoding.seg_contiguous, seg_step=encoding.seg_step,
                tap_offset=pointers.get("tap_offset", "0"), tap_y=pointers.get("tap_y", "0"),
                tap_x=pointers.get("tap_x", "0"), input_zero_point=-input_offset)


def _call(arrays: Arrays, step, kind: str, scratched: bool) -> str:
    """The variant's call for model.c: nn_conv_<kind>[_dw|_avg|_max][_lut](...)."""
    function, arguments = f"nn_conv_{kind}", [f"&{arrays.prefix}"]
    if step.subsample:
        suffix, name = _subsample(arrays, step)
        function, arguments = f"{function}_{suffix}", [*arguments, f"&{name}"]
    if lut_variant(step):
        function += "_lut"
    arguments += ["{inputs[0]}", "{output}"] + (["(int16_t *){scratch}"] if scratched else [])
    return f"{function}({', '.join(arguments)});"


def _nested(arrays: Arrays, fields: dict) -> str:
    """A nested struct's initializer, its fields counted in the step's flash like the others."""
    arrays.nbytes += 4 * (len(fields) - 1)
    return cgen.initializer(fields)


def _output_stage(arrays: Arrays, name: str, op_data, bias: np.ndarray,
                  table: np.ndarray | None) -> dict:
    """nn_output_t of an op data's output stage (TFLM's names) and the table after it."""
    return dict(bias=arrays.add(f"{name}bias", bias, "int32"),
                output_multiplier=arrays.add(f"{name}multiplier", op_data.output_multiplier,
                                             "int32"),
                output_shift=arrays.add(f"{name}shift", op_data.output_shift, "int8"),
                output_offset=op_data.output_offset,
                **clamp_and_table(arrays, f"{name}table", op_data.quantized_activation_min,
                                  op_data.quantized_activation_max, table))


def by_value(table: np.ndarray) -> np.ndarray:
    """An emulator's table (indexed by the input's byte) in the runtime's order: by value, -128
    first, so that the kernels read entry value + 128 (nn_arith.h)."""
    return np.asarray(table)[np.arange(-128, 128).astype(np.int8).view(np.uint8)]


def clamp_and_table(arrays: Arrays, name: str, act_min: int, act_max: int,
                    table: np.ndarray | None) -> dict:
    """The activation clamp and the table after it, by value (by_value). A table absorbs the
    clamp: the kernel then only saturates to int8."""
    if table is None:
        return dict(quantized_activation_min=act_min, quantized_activation_max=act_max,
                    table="0")
    clamped = np.clip(np.arange(-128, 128), act_min, act_max).astype(np.int8)
    return dict(quantized_activation_min=-128, quantized_activation_max=127,
                table=arrays.add(name, table[clamped.view(np.uint8)], "int8"))


def _subsample(arrays: Arrays, step) -> tuple[str, str]:
    """The fused subsampling's struct: its variant suffix and its name."""
    opcode, params = step.subsample
    if opcode == "DEPTHWISE_CONV_2D":
        weights = int8_weights(params, opcode)
        fields = dict(weights=arrays.add("sub_weights", weights, "int8"),
                      output=_nested(arrays, _output_stage(
                          arrays, "sub_", params,
                          folded_bias(params.bias, weights, params.input_offset),
                          step.subsample_table)))
        return "dw", arrays.struct("nn_sub_depthwise_t", fields, "sub", exported=True)
    fields = clamp_and_table(arrays, "sub_table", params.quantized_activation_min,
                             params.quantized_activation_max, step.subsample_table)
    return _POOLS[opcode], arrays.struct("nn_sub_pool_t", fields, "sub", exported=True)


_POOLS = {"AVERAGE_POOL_2D": "avg", "MAX_POOL_2D": "max"}
