"""What every op's prepare step shares: the node being prepared, activation ranges, padding.

Mirrors TFLM's kernel_util.cc (CalculateActivationRangeQuantized) and padding.h
(ComputePaddingHeightWidth). Prepare functions validate here, once, so kernels trust their inputs.
"""
from dataclasses import dataclass

import numpy as np

from firmware_sim.emulator.ir import Graph, Op, Tensor
from firmware_sim.emulator.kernels.requantize import INT32_MAX, INT32_MIN, round_half_away
from firmware_sim.errors import ModelFileError, UnsupportedOpError

INT8_MIN, INT8_MAX = -128, 127
# FusedActivationFunctionType codes from the schema
ACTIVATION_NAMES = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH",
                    5: "SIGN_BIT"}
PADDING_SAME, PADDING_VALID = 0, 1
# Scratch elements one image may need in a kernel (padded planes, im2col rows, tables): a guard
# against corrupt geometry, far above what a microcontroller model uses.
MAX_SCRATCH_ELEMENTS = 1 << 22


@dataclass(frozen=True)
class OpContext:
    """One node of a graph during prepare: typed access to its tensors and its error messages."""

    graph: Graph
    index: int

    @property
    def op(self) -> Op:
        return self.graph.ops[self.index]

    def fail(self, message: str) -> ModelFileError:
        return ModelFileError(f"{self.op.opcode} (node {self.index}): {message}")

    def unsupported(self, message: str) -> UnsupportedOpError:
        return UnsupportedOpError(f"{self.op.opcode} (node {self.index}): {message}")

    def ensure(self, condition: bool, message: str) -> None:
        if not condition:
            raise self.fail(message)

    def optional_input(self, slot: int) -> Tensor | None:
        inputs = self.op.inputs
        if slot >= len(inputs) or inputs[slot] < 0:
            return None
        return self.graph.tensors[inputs[slot]]

    def input(self, slot: int) -> Tensor:
        tensor = self.optional_input(slot)
        self.ensure(tensor is not None, f"input {slot} is missing")
        return tensor

    def output(self, slot: int = 0) -> Tensor:
        self.ensure(slot < len(self.op.outputs), f"output {slot} is missing")
        return self.graph.tensors[self.op.outputs[slot]]

    def expect_scratch(self, elements: int, what: str) -> None:
        self.ensure(elements <= MAX_SCRATCH_ELEMENTS,
                    f"{what} needs {elements} elements per image, more than the "
                    f"{MAX_SCRATCH_ELEMENTS} firmware_sim allows")

    def expect_arity(self, n_inputs: tuple[int, ...], n_outputs: int = 1) -> None:
        self.ensure(len(self.op.inputs) in n_inputs and len(self.op.outputs) == n_outputs,
                    f"takes {'/'.join(map(str, n_inputs))} inputs and {n_outputs} output, "
                    f"got {len(self.op.inputs)} and {len(self.op.outputs)}")

    def expect_dtype(self, tensor: Tensor, dtype: str, role: str) -> None:
        if tensor.dtype != dtype:
            raise self.unsupported(f"{role} tensor {tensor.name!r} is {tensor.dtype}; "
                                   f"firmware_sim runs {dtype} here")

    def expect_rank(self, tensor: Tensor, rank: int, role: str) -> None:
        self.ensure(len(tensor.shape) == rank,
                    f"{role} tensor {tensor.name!r} has shape {list(tensor.shape)}, "
                    f"expected rank {rank}")

    def expect_shape(self, tensor: Tensor, shape: tuple[int, ...], role: str) -> None:
        self.ensure(tuple(tensor.shape) == tuple(shape),
                    f"{role} tensor {tensor.name!r} has shape {list(tensor.shape)}, "
                    f"expected {list(shape)}")


def in_memory_order(array: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    """`array` with its axes permuted into memory order, and the permutation that undoes it.

    Kernels hand on channel-major results as transposed views; elementwise kernels work in
    memory order so that such a layout flows through without copies.
    """
    order = tuple(int(i) for i in np.argsort([-s for s in array.strides], kind="stable"))
    return array.transpose(order), tuple(int(i) for i in np.argsort(order))


def quantize_to_int(ctx: OpContext, scale: float, zero_point: int, value: float) -> int:
    """kernel_util's Quantize: zero_point + round(value / scale), computed in float32."""
    quotient = float(np.float32(value) / np.float32(scale))
    ctx.ensure(np.isfinite(quotient) and INT32_MIN <= quotient <= INT32_MAX,
               f"activation bound {value} does not fit the output scale {scale}")
    return zero_point + round_half_away(quotient)


def activation_range_quantized(ctx: OpContext, activation: int, output: Tensor,
                               qmin: int = INT8_MIN, qmax: int = INT8_MAX) -> tuple[int, int]:
    """CalculateActivationRangeQuantized: the int8 clamp a fused activation becomes."""
    scale, zero_point = output.quant.scale, output.quant.zero_point
    if activation == 0:
        return qmin, qmax
    if activation == 1:
        return max(qmin, quantize_to_int(ctx, scale, zero_point, 0.0)), qmax
    if activation == 3:
        return (max(qmin, quantize_to_int(ctx, scale, zero_point, 0.0)),
                min(qmax, quantize_to_int(ctx, scale, zero_point, 6.0)))
    if activation == 2:
        return (max(qmin, quantize_to_int(ctx, scale, zero_point, -1.0)),
                min(qmax, quantize_to_int(ctx, scale, zero_point, 1.0)))
    name = ACTIVATION_NAMES.get(activation, str(activation))
    raise ctx.unsupported(f"fused activation {name} is not supported")


def compute_out_size(padding: int, image_size: int, filter_size: int, stride: int,
                     dilation: int) -> int:
    """ComputeOutSize (TensorFlow's GetWindowedOutputSize)."""
    effective_filter_size = (filter_size - 1) * dilation + 1
    if padding == PADDING_SAME:
        return (image_size + stride - 1) // stride
    return max(0, (image_size + stride - effective_filter_size) // stride)


def compute_padding(stride: int, dilation: int, in_size: int, filter_size: int,
                    out_size: int) -> int:
    """ComputePaddingWithOffset: padding before the first row/column; the odd pixel goes after."""
    effective_filter_size = (filter_size - 1) * dilation + 1
    total_padding = max(0, (out_size - 1) * stride + effective_filter_size - in_size)
    return total_padding // 2


def windowed_geometry(ctx: OpContext, options: dict, in_hw: tuple[int, int],
                      filter_hw: tuple[int, int]) -> dict:
    """Strides, dilations, padding and output size of a 2-D windowed op, validated."""
    padding = options["padding"]
    stride = (options["stride_h"], options["stride_w"])
    dilation = (options.get("dilation_h_factor", 1), options.get("dilation_w_factor", 1))
    ctx.ensure(padding in (PADDING_SAME, PADDING_VALID), f"padding code {padding} is unknown")
    ctx.ensure(min(stride) >= 1 and min(dilation) >= 1 and min(filter_hw) >= 1,
               f"strides {list(stride)}, dilations {list(dilation)} and filter "
               f"{list(filter_hw)} must be positive")
    out = tuple(compute_out_size(padding, in_hw[i], filter_hw[i], stride[i], dilation[i])
                for i in range(2))
    pad = tuple(compute_padding(stride[i], dilation[i], in_hw[i], filter_hw[i], out[i])
                for i in range(2))
    # rows and columns a kernel reads: every window, padding included
    span = tuple(max((out[i] - 1) * stride[i] + (filter_hw[i] - 1) * dilation[i] + 1,
                     pad[i] + in_hw[i]) for i in range(2))
    ctx.expect_scratch(span[0] * span[1], "the padded image")
    return dict(stride=stride, dilation=dilation, padding=pad, output_hw=out, span=span)
