"""Per-layer cost of a graph for one image: multiply-accumulates, parameter and activation bytes.

MACs count the multiply-accumulates of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED as dense
arithmetic (every filter tap at every output pixel, padding included); effective MACs count only
the nonzero weights, which is what pruning saves on a kernel that skips zeros. Other ops count 0.
"""
from dataclasses import dataclass

import numpy as np

from firmware_sim.emulator.ir import Graph, Op


@dataclass(frozen=True)
class LayerCost:
    index: int
    opcode: str
    output_shape: tuple[int, ...]
    macs: int
    effective_macs: int  # MACs of nonzero weights only
    param_bytes: int  # constant inputs: weights, biases, shapes
    activation_bytes: int  # non-constant inputs plus outputs


def layer_costs(graph: Graph) -> list[LayerCost]:
    """One LayerCost per op, in execution order."""
    return [_layer_cost(graph, index, op) for index, op in enumerate(graph.ops)]


def _layer_cost(graph: Graph, index: int, op: Op) -> LayerCost:
    inputs = [graph.tensors[t] for t in op.inputs if t >= 0]
    outputs = [graph.tensors[t] for t in op.outputs]
    macs, effective = _macs(graph, op)
    return LayerCost(
        index=index, opcode=op.opcode,
        output_shape=outputs[0].shape if outputs else (),
        macs=macs, effective_macs=effective,
        param_bytes=sum(t.nbytes for t in inputs if t.is_constant),
        activation_bytes=sum(t.nbytes for t in inputs + outputs if not t.is_constant))


def _macs(graph: Graph, op: Op) -> tuple[int, int]:
    """(dense, effective) MACs: output positions times the weights each position uses."""
    if op.opcode not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED") \
            or len(op.inputs) < 2 or not op.outputs:
        return 0, 0
    filter_, output = graph.tensors[op.inputs[1]], graph.tensors[op.outputs[0]]
    if filter_.data is None or not output.shape:
        return 0, 0
    # every filter weight is used once per output position (pixel, or row for FC)
    positions = output.size // output.shape[-1]
    nonzero = int(np.count_nonzero(filter_.data))
    return positions * filter_.size, positions * nonzero
