"""Op code -> (prepare, kernel): the operator resolver of firmware_sim.

A prepare function validates one node and computes its quantization parameters once, the way
TFLM's Prepare does; the kernel then runs on a whole batch of int8 activations. `data_inputs`
lists the input slots the kernel receives at run time; other inputs (filters, biases, shapes)
are folded into the prepared parameters.
"""
from dataclasses import dataclass
from typing import Callable

from firmware_sim.emulator.ir import Graph
from firmware_sim.emulator.kernels import (activations, conv, elementwise, fully_connected, pooling,
                                           quantize, reshape, softmax)
from firmware_sim.emulator.kernels.common import OpContext
from firmware_sim.errors import UnsupportedOpError


@dataclass(frozen=True)
class OpKernel:
    prepare: Callable[[OpContext], object]
    kernel: Callable
    data_inputs: tuple[int, ...] = (0,)


OPS = {
    "ADD": OpKernel(elementwise.prepare_add, elementwise.add, (0, 1)),
    "AVERAGE_POOL_2D": OpKernel(pooling.prepare_pool, pooling.average_pool),
    "CONV_2D": OpKernel(conv.prepare_conv, conv.conv_per_channel),
    "DEPTHWISE_CONV_2D": OpKernel(conv.prepare_depthwise_conv, conv.depthwise_conv_per_channel),
    "DEQUANTIZE": OpKernel(quantize.prepare_dequantize, activations.evaluate),
    "FULLY_CONNECTED": OpKernel(fully_connected.prepare_fully_connected,
                                fully_connected.fully_connected),
    "LOGISTIC": OpKernel(activations.prepare_logistic, activations.evaluate),
    "MAX_POOL_2D": OpKernel(pooling.prepare_pool, pooling.max_pool),
    "MUL": OpKernel(elementwise.prepare_mul, elementwise.mul, (0, 1)),
    "QUANTIZE": OpKernel(quantize.prepare_quantize, quantize.quantize),
    "RELU": OpKernel(activations.prepare_relu, activations.evaluate),
    "RELU6": OpKernel(activations.prepare_relu6, activations.evaluate),
    "RESHAPE": OpKernel(reshape.prepare_reshape, reshape.reshape),
    "SOFTMAX": OpKernel(softmax.prepare_softmax, softmax.softmax),
    "TANH": OpKernel(activations.prepare_tanh, activations.evaluate),
}


@dataclass(frozen=True)
class PreparedOp:
    index: int
    params: object
    kernel: Callable
    data_inputs: tuple[int, ...]  # tensor indices passed to the kernel
    outputs: tuple[int, ...]


def prepare_op(graph: Graph, index: int) -> PreparedOp:
    """Resolve and prepare node `index`; raises UnsupportedOpError or ModelFileError."""
    op = graph.ops[index]
    if op.opcode not in OPS:
        raise UnsupportedOpError(f"unsupported op {op.opcode} (node {index}); firmware_sim "
                                 f"supports: {', '.join(sorted(OPS))}")
    entry = OPS[op.opcode]
    ctx = OpContext(graph, index)
    params = entry.prepare(ctx)  # validates the node, its inputs included
    tensors = tuple(op.inputs[slot] for slot in entry.data_inputs)
    return PreparedOp(index, params, entry.kernel, tensors, op.outputs)
