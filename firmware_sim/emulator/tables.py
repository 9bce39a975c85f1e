"""Op fusion for the emulator's speed: output stages as tables, activations folded into them.

TFLM runs every node on its own; so may the emulator, but a multiply-accumulate op followed by
the activation that alone reads its output (C1 -> tanh in every LeNet) can run as one kernel
whose output stage is a table (output_table.py) that already holds the activation. The bytes are
the same: the table is filled by the reference arithmetic of both ops, from their op data. Stages too big
for a table, and activations that feed more than one op or are graph outputs, stay as they are.
"""
import dataclasses
from collections import Counter

from firmware_sim.emulator import speed
from firmware_sim.emulator.ir import Graph
from firmware_sim.emulator.ops import PreparedOp


def fuse(graph: Graph, ops: list[PreparedOp]) -> list[PreparedOp]:
    """`ops` (fast ops, speed.fast_op) with tabled output stages, each fusable activation
    merged into its producer."""
    readers = Counter(t for op in ops for t in op.data_inputs)
    fused, merged = [], set()
    for position, op in enumerate(ops):
        if op.index in merged:
            continue
        if not isinstance(op.params, speed.MacParams):
            fused.append(op)
            continue
        activation = _sole_activation(graph, op, ops[position + 1:], readers)
        table = speed.mac_output_table(op.params,
                                       activation.params.table if activation else None)
        if table is None:
            fused.append(op)
            continue
        params = speed.with_table(op.params, table)
        outputs = op.outputs
        if activation is not None:
            merged.add(activation.index)
            outputs = activation.outputs
        fused.append(dataclasses.replace(op, params=params, outputs=outputs))
    return fused


def _sole_activation(graph: Graph, op: PreparedOp, later: list[PreparedOp],
                     readers: Counter) -> PreparedOp | None:
    """The int8 table activation that is the only reader of op's output, if it comes next."""
    output = op.outputs[0]
    if not later or readers[output] != 1 or output in graph.outputs:
        return None
    candidate = later[0]
    if candidate.kernel is not speed.lookup or candidate.data_inputs != (output,):
        return None
    return candidate if candidate.params.table.dtype == "int8" else None
