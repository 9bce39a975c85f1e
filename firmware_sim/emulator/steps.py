"""Graph -> steps: the emulator's prepared ops, grouped into what one fused kernel call does.

The one step planner: the code generator emits one kernel call per step (firmware/generate.py),
fit/arena.py plans the firmware's arena over the steps (what `check` reports), and the
emulator's fast path (tables.py) folds into a multiply-accumulate op's output table exactly the
activation its step absorbs after it. Every op is prepared by firmware_sim's own resolver
(ops.prepare_op), so the device runs on the parameters the emulator runs on. Fusion rules, each exact because it only reorders integer
steps that do not depend on each other:
- CONV_2D / FULLY_CONNECTED absorb the table ops (TANH, LOGISTIC, RELU, RELU6, int8 QUANTIZE)
  that follow them, composed into one table;
- a CONV_2D also absorbs a following 2x2 stride-2 subsampling (a depthwise 2x2 convolution,
  LeNet's trainable subsampling, or an average/max pool) and the table ops after it, so its own
  output is never stored: this is what keeps the arena far below TFLM's;
- a DEPTHWISE_CONV_2D of a one-channel input is a conv step (its filter read as CONV_2D's);
- DEPTHWISE_CONV_2D, the pools, ADD and MUL absorb the table ops that follow them;
- other runs of table ops become one lookup.
An op is absorbed only if it is the sole reader of the previous output and that is no graph
output.
"""
from dataclasses import dataclass, field, replace

import numpy as np

from firmware_sim.emulator.ir import Graph
from firmware_sim.emulator.kernels.activations import LookupParams
from firmware_sim.emulator.kernels.conv import ConvParams
from firmware_sim.emulator.kernels.pooling import PoolParams
from firmware_sim.emulator.ops import PreparedOp, prepare_op

_CONVOLUTIONS = ("CONV_2D", "FULLY_CONNECTED")
_SUBSAMPLES = ("DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D")


@dataclass(frozen=True)
class Step:
    kind: str  # conv, depthwise, pool, lookup, dequantize, quantize, softmax, binary, reshape
    ops: tuple[int, ...]  # graph op indices covered, in order
    inputs: tuple[int, ...]  # activation tensors read (constants excluded)
    output: int  # tensor written
    params: object  # the first op's prepared parameters
    table: np.ndarray | None = None  # composed int8 table after the (first) op
    subsample: tuple[str, object] | None = None  # (opcode, prepared params)
    subsample_table: np.ndarray | None = None
    constants: dict = field(default_factory=dict)  # input slot -> constant tensor index


def plan_steps(graph: Graph, prepared: list[PreparedOp] | None = None) -> list[Step]:
    """The graph as a list of steps in execution order; raises what prepare raises.

    `prepared` are the graph's ops already prepared, in order (prepared here otherwise)."""
    if prepared is None:
        prepared = [prepare_op(graph, index) for index in range(len(graph.ops))]
    readers = _readers(graph)
    steps, index = [], 0
    while index < len(prepared):
        step, index = _next_step(graph, prepared, readers, index)
        steps.append(step)
    return steps


def _readers(graph: Graph) -> dict[int, list[int]]:
    readers = {}
    for index, op in enumerate(graph.ops):
        for t in op.inputs:
            if t >= 0:
                readers.setdefault(t, []).append(index)
    return readers


def _absorbable(graph, prepared, readers, index: int, tensor: int) -> bool:
    """Op `index` exists, reads `tensor` as its data input, and nothing else reads `tensor`."""
    return (index < len(prepared) and tensor not in graph.outputs
            and readers.get(tensor) == [index] and prepared[index].data_inputs == (tensor,))


def is_table(op: PreparedOp) -> bool:
    """An int8 -> int8 lookup (TANH, LOGISTIC, RELU, RELU6, int8 QUANTIZE): absorbable."""
    return isinstance(op.params, LookupParams) and op.params.table.dtype == np.int8


def absorbed_tables(steps: list[Step], prepared: list[PreparedOp]) -> dict[int, int]:
    """Op index -> the table op right after it in the same step (the activation a fused kernel
    applies to that op's output before anything else reads it)."""
    return {a: b for step in steps for a, b in zip(step.ops, step.ops[1:])
            if is_table(prepared[b])}


def _tables(graph, prepared, readers, index: int, tensor: int):
    """Compose the table ops from `index` on that read `tensor` in a chain."""
    table = None
    while _absorbable(graph, prepared, readers, index, tensor) and is_table(prepared[index]):
        step_table = prepared[index].params.table
        table = step_table if table is None else step_table[table.view(np.uint8)]
        tensor = prepared[index].outputs[0]
        index += 1
    return table, index, tensor


def _is_subsample(graph: Graph, op: PreparedOp, conv_hw: tuple[int, int]) -> bool:
    """A 2x2 stride-2 window over every complete 2x2 block of the conv output."""
    params, opcode = op.params, graph.ops[op.index].opcode
    if opcode not in _SUBSAMPLES:
        return False
    halves = (conv_hw[0] // 2, conv_hw[1] // 2)
    common = (params.filter_hw == (2, 2) and params.stride == (2, 2)
              and params.padding == (0, 0))
    if isinstance(params, ConvParams):
        return (common and params.depth_multiplier == 1 and params.dilation == (1, 1)
                and tuple(params.output_shape[:2]) == halves)
    return isinstance(params, PoolParams) and common and tuple(params.output_hw) == halves


def _single_channel_depthwise(graph: Graph, op: PreparedOp) -> bool:
    """A DEPTHWISE_CONV_2D of a one-channel input: a CONV_2D in all but its filter's layout.
    (Read as a conv, a depthwise of more channels keeps one input channel an output: the
    conv kernels then ran 3x3 ones at 26-32 instructions a MAC against nn_depthwise's 35-37,
    a 5x5 on 3 channels slower, for more RAM and flash; they stay depthwise.)"""
    return (graph.ops[op.index].opcode == "DEPTHWISE_CONV_2D"
            and graph.tensors[op.data_inputs[0]].shape[-1] == 1)


def _as_conv(params: ConvParams) -> ConvParams:
    """A one-channel depthwise's parameters as CONV_2D's: output channel c multiplies the one
    input channel by filter[0, :, :, c] either way, so the filter (1, fh, fw, M) is read as
    (M, fh, fw, 1) and the conv kernels (a patch, four channels a pass) run it."""
    return replace(params, filter=params.filter.transpose(3, 1, 2, 0), depth_multiplier=0)


def _conv_step(graph, prepared, readers, index: int) -> tuple[Step, int]:
    first = prepared[index]
    params = _as_conv(first.params) if _single_channel_depthwise(graph, first) else first.params
    table, index, tensor = _tables(graph, prepared, readers, index + 1, first.outputs[0])
    subsample = subsample_table = None
    conv_hw = tuple(graph.tensors[first.outputs[0]].shape[1:3])
    if (graph.ops[first.index].opcode == "CONV_2D"
            and _absorbable(graph, prepared, readers, index, tensor)
            and _is_subsample(graph, prepared[index], conv_hw)):
        op = prepared[index]
        subsample = (graph.ops[op.index].opcode, op.params)
        subsample_table, index, tensor = _tables(graph, prepared, readers, index + 1,
                                                 op.outputs[0])
    ops = tuple(range(first.index, index))
    return Step("conv", ops, first.data_inputs, tensor, params, table, subsample,
                subsample_table), index


# kernels whose int8 output can go through a table before it is stored
_WITH_TABLE = ("depthwise", "pool", "binary")
_KINDS = {"DEPTHWISE_CONV_2D": "depthwise", "AVERAGE_POOL_2D": "pool", "MAX_POOL_2D": "pool",
          "SOFTMAX": "softmax", "ADD": "binary", "MUL": "binary", "RESHAPE": "reshape",
          "DEQUANTIZE": "dequantize", "QUANTIZE": "quantize"}


def _next_step(graph, prepared, readers, index: int) -> tuple[Step, int]:
    op, opcode = prepared[index], graph.ops[index].opcode
    if opcode in _CONVOLUTIONS or _single_channel_depthwise(graph, op):
        return _conv_step(graph, prepared, readers, index)
    if is_table(op):
        table = op.params.table
        more, end, tensor = _tables(graph, prepared, readers, index + 1, op.outputs[0])
        if more is not None:
            table = more[table.view(np.uint8)]
        return Step("lookup", tuple(range(index, end)), op.data_inputs, tensor, op.params,
                    table), end
    inputs = tuple(t for t in op.data_inputs if not graph.tensors[t].is_constant)
    constants = {slot: t for slot, t in enumerate(op.data_inputs)
                 if graph.tensors[t].is_constant}
    table, end, tensor = None, index + 1, op.outputs[0]
    if _KINDS[opcode] in _WITH_TABLE:
        table, end, tensor = _tables(graph, prepared, readers, index + 1, op.outputs[0])
    return Step(_KINDS[opcode], tuple(range(index, end)), inputs, tensor, op.params, table,
                constants=constants), end


def planar_tensors(graph: Graph, steps: list[Step]) -> set[int]:
    """Activations passed from one convolution straight to another (not a graph output): the
    firmware stores them channel-major, which makes each channel's window rows contiguous."""
    readers = {}
    for step in steps:
        for t in step.inputs:
            readers.setdefault(t, []).append(step)
    return {step.output for step in steps
            if _is_conv2d(step) and step.output not in graph.outputs
            and len(readers.get(step.output, [])) == 1 and _is_conv2d(readers[step.output][0])}


def _is_conv2d(step: Step) -> bool:
    return step.kind == "conv" and isinstance(step.params, ConvParams)
