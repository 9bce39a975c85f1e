"""Emit the steps that are not convolutions: one function per runtime kernel.

Each takes the emulator's prepared parameters as they are (tables reordered by value, as the
runtime indexes them: nn_arith.h): tables for the ops of one int8 input, the softmax exp tables, ADD/MUL multipliers, pooling windows.
"""
import numpy as np

from firmware_sim.emulator.ir import Graph
from firmware_sim.errors import UnsupportedOpError
from firmware_sim.firmware import cgen
from firmware_sim.firmware.emit_conv import by_value
from firmware_sim.firmware.emitted import Arrays, Emitted


def _size(graph: Graph, tensor: int) -> int:
    return graph.tensors[tensor].size


def emit_lookup(graph: Graph, step, prefix: str) -> Emitted:
    arrays = Arrays(prefix)
    table = arrays.add("table", by_value(step.table), "int8", exported=True)
    call = f"nn_lookup({table}, {{inputs[0]}}, {{output}}, {_size(graph, step.output)}u);"
    return arrays.emitted(call)


def emit_dequantize(graph: Graph, step, prefix: str) -> Emitted:
    arrays = Arrays(prefix)
    table = arrays.add("table", by_value(step.params.table), "float32", exported=True)
    call = (f"nn_dequantize({table}, {{inputs[0]}}, (float *){{output}}, "
            f"{_size(graph, step.output)}u);")
    return arrays.emitted(call)


def emit_quantize(graph: Graph, step, prefix: str) -> Emitted:
    params = step.params
    call = (f"nn_quantize({cgen.literal(params.scale, 'float32')}, {params.zero_point}, "
            f"(const float *){{inputs[0]}}, {{output}}, {_size(graph, step.output)}u);")
    return Emitted([], call)


def emit_reshape(graph: Graph, step, prefix: str) -> Emitted:
    """The arena gives a reshape's output the bytes of its input: nothing to run."""
    return Emitted([], "")


def emit_depthwise(graph: Graph, step, prefix: str) -> Emitted:
    params = step.params
    _, in_h, in_w, in_c = graph.tensors[step.inputs[0]].shape
    out_h, out_w, out_c = params.output_shape
    arrays = Arrays(prefix)
    fields = dict(
        in_h=in_h, in_w=in_w, in_c=in_c, out_h=out_h, out_w=out_w, out_c=out_c,
        depth_multiplier=params.depth_multiplier, filter_h=params.filter_hw[0],
        filter_w=params.filter_hw[1], stride_h=params.stride[0], stride_w=params.stride[1],
        dil_h=params.dilation[0], dil_w=params.dilation[1], pad_h=params.padding[0],
        pad_w=params.padding[1], input_offset=params.input_offset,
        # the kernel reads the .tflite's (fh, fw, out_c) int8 filter, as the op data keeps it
        weights=arrays.add("weights", params.filter[0].reshape(-1, out_c), "int8"),
        bias=arrays.add("bias", params.bias, "int32"),
        multiplier=arrays.add("multiplier", params.output_multiplier, "int32"),
        shift=arrays.add("shift", params.output_shift, "int8"),
        output_offset=params.output_offset, act_min=params.quantized_activation_min,
        act_max=params.quantized_activation_max, table=_table(arrays, step))
    arrays.struct("nn_depthwise_t", fields)
    return arrays.emitted(f"nn_depthwise(&{prefix}, {{inputs[0]}}, {{output}});")


def emit_pool(graph: Graph, step, prefix: str) -> Emitted:
    params = step.params
    _, in_h, in_w, channels = graph.tensors[step.inputs[0]].shape
    arrays = Arrays(prefix)
    fields = dict(
        is_max=int(graph.ops[step.ops[0]].opcode == "MAX_POOL_2D"), in_h=in_h, in_w=in_w,
        channels=channels, out_h=params.output_hw[0], out_w=params.output_hw[1],
        filter_h=params.filter_hw[0], filter_w=params.filter_hw[1], stride_h=params.stride[0],
        stride_w=params.stride[1], pad_h=params.padding[0], pad_w=params.padding[1],
        act_min=params.quantized_activation_min, act_max=params.quantized_activation_max,
        table=_table(arrays, step))
    arrays.struct("nn_pool_t", fields)
    return arrays.emitted(f"nn_pool(&{prefix}, {{inputs[0]}}, {{output}});")


def emit_softmax(graph: Graph, step, prefix: str) -> Emitted:
    """The exp table up to its last nonzero entry: farther distances add nothing to the sum and
    give -128, as the emulator's out-of-range ones do. The Q12.19 sums are recomputed from it
    (the emulator's accumulation_table is that rescale)."""
    params = step.params
    exp = np.where(params.in_range, params.exp_table, 0)
    size = int(np.flatnonzero(exp).max(initial=-1)) + 1
    depth = graph.tensors[step.output].shape[-1]
    arrays = Arrays(prefix)
    fields = dict(rows=_size(graph, step.output) // depth, depth=depth, table_size=size,
                  exp_table=arrays.add("exp", exp[:max(size, 1)], "int32"))
    arrays.struct("nn_softmax_t", fields)
    return arrays.emitted(f"nn_softmax(&{prefix}, {{inputs[0]}}, {{output}});")


def emit_binary(graph: Graph, step, prefix: str) -> Emitted:
    params, op = step.params, graph.ops[step.ops[0]]
    output_shape = graph.tensors[step.output].shape
    if len(output_shape) > 4:
        raise UnsupportedOpError(f"{op.opcode} (node {step.ops[0]}): the firmware broadcasts "
                                 f"up to 4 dimensions, the output has {len(output_shape)}")
    shape = (1,) * (4 - len(output_shape)) + tuple(output_shape)
    arrays = Arrays(prefix)
    is_mul = op.opcode == "MUL"
    fields = dict(is_mul=int(is_mul), shape=_braces(shape),
                  stride1=_braces(_strides(graph.tensors[op.inputs[0]].shape, shape)),
                  stride2=_braces(_strides(graph.tensors[op.inputs[1]].shape, shape)),
                  input1_offset=params.input1_offset, input2_offset=params.input2_offset,
                  output_offset=params.output_offset)
    if not is_mul:
        fields.update(input1_multiplier=params.input1_multiplier,
                      input1_shift=params.input1_shift,
                      input2_multiplier=params.input2_multiplier,
                      input2_shift=params.input2_shift)
    fields.update(output_multiplier=params.output_multiplier, output_shift=params.output_shift,
                  act_min=params.quantized_activation_min,
                  act_max=params.quantized_activation_max, table=_table(arrays, step))
    arrays.struct("nn_binary_t", fields)
    operands = [_operand(graph, arrays, step, slot) for slot in (0, 1)]
    call = f"nn_binary(&{prefix}, {operands[0]}, {operands[1]}, {{output}});"
    return arrays.emitted(call)


def _table(arrays: Arrays, step) -> str:
    """The table ops fused after the kernel (by value, see by_value), or none."""
    return arrays.optional("table", None if step.table is None else by_value(step.table), "int8")


def _operand(graph: Graph, arrays: Arrays, step, slot: int) -> str:
    """A constant input as an emitted array, else the next live input's placeholder."""
    if slot in step.constants:
        return arrays.add(f"input{slot + 1}", graph.tensors[step.constants[slot]].data, "int8",
                          exported=True)
    live = slot - sum(1 for s in step.constants if s < slot)
    return f"{{inputs[{live}]}}"


def _strides(input_shape, shape) -> list[int]:
    """Row-major strides of an input padded to `shape`'s rank; 0 where it is broadcast."""
    padded = (1,) * (len(shape) - len(input_shape)) + tuple(input_shape)
    strides, step = [], 1
    for size in reversed(padded):
        strides.append(step if size > 1 else 0)
        step *= size
    return strides[::-1]


def _braces(values) -> str:
    return "{" + ", ".join(str(int(v)) for v in values) + "}"


EMITTERS = {"lookup": emit_lookup, "dequantize": emit_dequantize, "quantize": emit_quantize,
            "reshape": emit_reshape, "depthwise": emit_depthwise, "pool": emit_pool,
            "softmax": emit_softmax, "binary": emit_binary}
