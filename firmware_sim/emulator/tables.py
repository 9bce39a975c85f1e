"""Op fusion for the emulator's speed: output stages as tables, activations folded into them.

TFLM runs every node on its own; so may the emulator, but a multiply-accumulate op followed by
the activation that alone reads its output (C1 -> tanh in every LeNet) can run as one kernel
whose output stage is a table (output_table.py) that already holds the activation. The bytes are
the same: the table is filled by the reference arithmetic of both ops, from their op data. Which
activation goes into which op is the step planner's decision (steps.py, which the firmware's
kernels follow too): the table op a step absorbs right after a conv, depthwise or FC. Stages
too big for a table, and activations no step absorbs, stay as they are.
"""
import dataclasses

from firmware_sim.emulator import speed
from firmware_sim.emulator import steps as step_planner
from firmware_sim.emulator.ir import Graph
from firmware_sim.emulator.ops import PreparedOp


def fuse(graph: Graph, ops: list[PreparedOp]) -> list[PreparedOp]:
    """The fast ops (speed.fast_op) of `ops` (the graph's prepared ops, in order) with tabled
    output stages, each activation the step planner absorbs after a multiply-accumulate op
    merged into it."""
    fast = [speed.fast_op(op) for op in ops]
    folds = folded_activations(graph, ops)
    fused, merged = [], set()
    for op in fast:
        if op.index in merged:
            continue
        if not isinstance(op.params, speed.MacParams):
            fused.append(op)
            continue
        activation = ops[folds[op.index]] if op.index in folds else None
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


def folded_activations(graph: Graph, ops: list[PreparedOp]) -> dict[int, int]:
    """Op index of each op with an output stage -> the activation op its step absorbs next."""
    absorbed = step_planner.absorbed_tables(step_planner.plan_steps(graph, ops), ops)
    return {a: b for a, b in absorbed.items() if speed.has_output_stage(ops[a])}
