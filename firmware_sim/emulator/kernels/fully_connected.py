"""FULLY_CONNECTED, int8, per-tensor or per-channel.

TFLM: micro/kernels/fully_connected_common.cc prepares, reference/integer_ops/fully_connected.h
computes. The input is read as (batches, accum_depth) rows whatever its shape, the filter is
(output_depth, accum_depth), and the requantization is the one of CONV_2D. Two details differ
between the paths, and both are kept:
- per-tensor: the filter zero point is applied (weights_offset), and the multiplier is
  GetQuantizedConvolutionMultipler's, whose input * filter scale product is rounded to float32;
- per-channel: the filter zero point is ignored and the scale product is taken in double.
"""
from dataclasses import dataclass

import numpy as np

from firmware_sim.emulator.kernels import accumulate
from firmware_sim.emulator.kernels.common import OpContext, activation_range_quantized


@dataclass(frozen=True)
class FullyConnectedParams:
    input_offset: int  # -input_zero_point
    accum_depth: int
    output_shape: tuple[int, ...]  # per image, batch dimension dropped
    weights: np.ndarray  # (output_depth, accum_depth): filter + weights_offset, as floats
    output_stage: accumulate.OutputStage


def prepare_fully_connected(ctx: OpContext) -> FullyConnectedParams:
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
    multiplier, shift, weights_offset = _multipliers(ctx, input_, filter_, bias, output)
    weights = filter_.data.astype(np.int64) + weights_offset
    input_offset = -input_.quant.zero_point
    bounds = accumulate.accumulation_bounds(weights, input_offset)
    activation_range = activation_range_quantized(
        ctx, options["fused_activation_function"], output)
    stage = accumulate.output_stage(bounds, accumulate.bias_values(ctx, bias, output_depth),
                                    multiplier, shift, output.quant.zero_point, activation_range)
    return FullyConnectedParams(
        input_offset=input_offset, accum_depth=accum_depth, output_shape=output.shape[1:],
        weights=weights.astype(accumulate.accumulation_dtype(bounds)), output_stage=stage)


def _multipliers(ctx: OpContext, input_, filter_, bias, output):
    """(output_multiplier, output_shift, weights_offset) of CalculateOpDataFullyConnected."""
    if filter_.quant.per_channel:
        multiplier, shift = accumulate.per_channel_multipliers(
            ctx, input_, filter_, output, filter_.shape[0], 0)
        return multiplier, shift, 0
    input_scale, filter_scale = input_.quant.scale, filter_.quant.scale
    output_scale = output.quant.scale
    if bias is not None:  # the bias must be quantized with input_scale * filter_scale
        bias_scale = bias.quant.scale if bias.quant is not None else 0.0
        scale_diff = abs(input_scale * filter_scale - bias_scale)
        ctx.ensure(scale_diff / output_scale <= 0.02,
                   f"bias scale {bias_scale:g} does not match input scale * filter scale")
    input_product_scale = float(np.float32(input_scale) * np.float32(filter_scale))
    multiplier, shift = accumulate.checked_multiplier(ctx, input_product_scale / output_scale)
    return [multiplier] * filter_.shape[0], [shift] * filter_.shape[0], -filter_.quant.zero_point


def fully_connected(params: FullyConnectedParams, input_data: np.ndarray) -> np.ndarray:
    """FullyConnected / FullyConnectedPerChannel over a batch of images."""
    rows = input_data.reshape(-1, params.accum_depth)
    shifted = np.add(rows, params.input_offset, dtype=params.weights.dtype)
    acc = params.weights @ shifted.T  # channel-major, as the output stage wants
    output = accumulate.requantize(params.output_stage, acc)
    return output.T.reshape(len(input_data), *params.output_shape)
