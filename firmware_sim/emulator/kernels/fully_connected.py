"""FULLY_CONNECTED, int8, per-tensor or per-channel.

TFLM: micro/kernels/fully_connected_common.cc prepares, reference/integer_ops/fully_connected.h
computes. The input is read as (batches, accum_depth) rows whatever its shape, the filter is
(output_depth, accum_depth), and the requantization is the one of CONV_2D. Two details differ
between the paths, and both are kept:
- per-tensor: the filter zero point is applied (filter_offset), and the multiplier is
  GetQuantizedConvolutionMultipler's, whose input * filter scale product is rounded to float32;
- per-channel: the filter zero point is ignored and the scale product is taken in double.
"""
from dataclasses import dataclass

import numpy as np

from firmware_sim.emulator.kernels import accumulate
from firmware_sim.emulator.kernels.common import OpContext, activation_range_quantized


@dataclass(frozen=True)
class FullyConnectedOpData:
    """TFLM's OpDataFullyConnected with the filter and bias it reads: integers only.

    Per tensor, TFLM keeps one output_multiplier and output_shift; here they are repeated for
    every output channel, so both paths read the same (output_depth,) arrays.
    """

    filter: np.ndarray  # int8 (output_depth, accum_depth)
    bias: np.ndarray  # int32 (output_depth,), zeros when the op has none
    input_offset: int  # -input_zero_point
    filter_offset: int  # -filter_zero_point per tensor; 0 per channel (TFLM ignores it there)
    output_offset: int  # +output_zero_point
    output_multiplier: np.ndarray  # int32 (output_depth,)
    output_shift: np.ndarray  # int32 (output_depth,): > 0 shifts left, < 0 rounds right
    quantized_activation_min: int
    quantized_activation_max: int
    accum_depth: int
    output_shape: tuple[int, ...]  # per image, batch dimension dropped


def prepare_fully_connected(ctx: OpContext) -> FullyConnectedOpData:
    input_, filter_, bias, output = ctx.input(0), ctx.input(1), ctx.optional_input(2), ctx.output()
    ctx.expect_arity((2, 3))
    for tensor, role in ((input_, "input"), (filter_, "filter"), (output, "output")):
        ctx.expect_dtype(tensor, "int8", role)
    ctx.ensure(filter_.is_constant, "filter must be a constant tensor")
    ctx.expect_rank(filter_, 2, "filter")
    options = ctx.op.options
    if options["weights_format"] != 0:
        raise ctx.unsupported("shuffled weights formats are not supported")
    output_depth, accum_depth = filter_.shape
    ctx.ensure(len(output.shape) >= 1 and output.shape[-1] == output_depth,
               f"output shape {list(output.shape)} does not end in the filter's {output_depth}")
    batches = output.size // output_depth
    ctx.ensure(input_.size == batches * accum_depth,
               f"input shape {list(input_.shape)} does not give {batches} rows of {accum_depth}")
    output_multiplier, output_shift, filter_offset = _multipliers(ctx, input_, filter_, bias,
                                                                  output)
    activation_min, activation_max = activation_range_quantized(
        ctx, options["fused_activation_function"], output)
    return FullyConnectedOpData(
        filter=filter_.data.astype(np.int8),
        bias=accumulate.bias_values(ctx, bias, output_depth),
        input_offset=-input_.quant.zero_point,  # sign flip: TFLM adds -zero_point to inputs
        filter_offset=filter_offset, output_offset=output.quant.zero_point,
        output_multiplier=output_multiplier, output_shift=output_shift,
        quantized_activation_min=activation_min, quantized_activation_max=activation_max,
        accum_depth=accum_depth, output_shape=output.shape[1:])


def _multipliers(ctx: OpContext, input_, filter_, bias, output):
    """(output_multiplier, output_shift, filter_offset) of CalculateOpDataFullyConnected."""
    if filter_.quant.per_channel:
        multiplier, shift = accumulate.per_channel_multipliers(
            ctx, input_, filter_, output, filter_.shape[0], 0)
        return multiplier, shift, 0  # FullyConnectedPerChannel reads no filter offset
    input_scale, filter_scale = input_.quant.scale, filter_.quant.scale
    output_scale = output.quant.scale
    if bias is not None:  # the bias must be quantized with input_scale * filter_scale
        bias_scale = bias.quant.scale if bias.quant is not None else 0.0
        scale_diff = abs(input_scale * filter_scale - bias_scale)
        ctx.ensure(scale_diff / output_scale <= 0.02,
                   f"bias scale {bias_scale:g} does not match input scale * filter scale")
    input_product_scale = float(np.float32(input_scale) * np.float32(filter_scale))
    pair = accumulate.checked_multiplier(ctx, input_product_scale / output_scale)
    multiplier, shift = accumulate.multipliers_and_shifts([pair] * filter_.shape[0])
    return multiplier, shift, -filter_.quant.zero_point  # sign flip: filter_offset = -zero point


def fully_connected(op_data: FullyConnectedOpData, input_data: np.ndarray) -> np.ndarray:
    """FullyConnected / FullyConnectedPerChannel over a batch of images, in int64:
    acc = sum((filter + filter_offset) * (input + input_offset)), then the output stage."""
    rows = input_data.reshape(-1, op_data.accum_depth).astype(np.int64) + op_data.input_offset
    acc = rows @ (op_data.filter.astype(np.int64) + op_data.filter_offset).T
    output = accumulate.output_stage(op_data, acc)
    return output.reshape(len(input_data), *op_data.output_shape)
