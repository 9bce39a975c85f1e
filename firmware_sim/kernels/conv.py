"""CONV_2D and DEPTHWISE_CONV_2D, int8 per-channel (per-tensor scales are broadcast per channel).

TFLM: micro/kernels/conv_common.cc and depthwise_conv_common.cc prepare; the arithmetic is
reference/integer_ops/conv.h ConvPerChannel and depthwise_conv.h DepthwiseConvPerChannel:
    acc = sum(filter * (input + input_offset)) + bias        (int32; padding contributes nothing)
    acc = MultiplyByQuantizedMultiplier(acc, output_multiplier[c], output_shift[c])
    out = clamp(acc + output_offset, quantized_activation_min, quantized_activation_max)
The filter zero point is never read: int8 filters are symmetric in TFLite's quantization spec.

Here the sum is an im2col matrix product in floating point, which is exact: every partial sum is
an integer no larger than bound = max_c sum|filter[c]| * max|input + input_offset|, and prepare
picks float32 when bound < 2**24 and float64 otherwise.
"""
from dataclasses import dataclass

import numpy as np

from firmware_sim.kernels import accumulate
from firmware_sim.kernels.common import OpContext, activation_range_quantized, windowed_geometry


@dataclass(frozen=True)
class ConvParams:
    input_offset: int  # -input_zero_point, so that r = s * (q + input_offset)
    output_offset: int  # +output_zero_point
    output_multiplier: np.ndarray  # per output channel, Q0.31
    output_shift: np.ndarray  # per output channel; > 0 shifts left, < 0 rounds right
    quantized_activation_min: int
    quantized_activation_max: int
    stride: tuple[int, int]
    dilation: tuple[int, int]
    padding: tuple[int, int]  # rows/columns of padding before the image
    filter_hw: tuple[int, int]
    output_shape: tuple[int, int, int]  # per image: height, width, channels
    weights: np.ndarray  # (filter_h * filter_w * in_channels, out_channels), accumulation dtype
    bias: np.ndarray  # int64 per output channel (zeros when the model has none)
    accumulator_wraps: bool  # the int32 accumulator can overflow, and TFLM's wraps
    depth_multiplier: int = 0  # DEPTHWISE_CONV_2D only


def prepare_conv(ctx: OpContext) -> ConvParams:
    """ConvPrepare + CalculateOpDataConv: filter (out, fh, fw, in), quantized along dimension 0."""
    input_, filter_ = ctx.input(0), ctx.input(1)
    ctx.ensure(filter_.is_constant, "filter must be a constant tensor")
    ctx.expect_rank(filter_, 4, "filter")
    out_channels, filter_h, filter_w, filter_in = filter_.shape
    ctx.expect_rank(input_, 4, "input")
    if input_.shape[3] != filter_in:
        raise ctx.unsupported(f"input has {input_.shape[3]} channels and the filter {filter_in}"
                              f"; grouped convolution is not supported")
    # rows of the im2col matrix run over (filter_y, filter_x, in_channel), as the filter does
    weights = filter_.data.reshape(out_channels, -1).T
    return _prepare(ctx, 0, (filter_h, filter_w), weights, 0)


def prepare_depthwise_conv(ctx: OpContext) -> ConvParams:
    """DepthwiseConvPrepare: filter (1, fh, fw, in * multiplier), quantized along dimension 3."""
    input_, filter_ = ctx.input(0), ctx.input(1)
    ctx.ensure(filter_.is_constant, "filter must be a constant tensor")
    ctx.expect_rank(filter_, 4, "filter")
    ctx.expect_rank(input_, 4, "input")
    _, filter_h, filter_w, out_channels = filter_.shape
    multiplier = ctx.op.options["depth_multiplier"]
    ctx.ensure(filter_.shape[0] == 1 and multiplier >= 1
               and out_channels == input_.shape[3] * multiplier,
               f"filter shape {list(filter_.shape)} does not fit {input_.shape[3]} input "
               f"channels with depth multiplier {multiplier}")
    weights = filter_.data.reshape(filter_h * filter_w, out_channels)
    return _prepare(ctx, 3, (filter_h, filter_w), weights, multiplier)


def _prepare(ctx: OpContext, quantized_dimension: int, filter_hw: tuple[int, int],
             weights: np.ndarray, depth_multiplier: int) -> ConvParams:
    input_, filter_, bias, output = ctx.input(0), ctx.input(1), ctx.optional_input(2), ctx.output()
    ctx.expect_arity((2, 3))
    for tensor, role in ((input_, "input"), (filter_, "filter"), (output, "output")):
        ctx.expect_dtype(tensor, "int8", role)
    out_channels = weights.shape[1]
    geometry = windowed_geometry(ctx, ctx.op.options, input_.shape[1:3], filter_hw)
    ctx.expect_shape(output, (input_.shape[0], *geometry["output_hw"], out_channels), "output")
    multiplier, shift = accumulate.per_channel_multipliers(
        ctx, input_, filter_, output, out_channels, quantized_dimension)
    activation_min, activation_max = activation_range_quantized(
        ctx, ctx.op.options["fused_activation_function"], output)
    bias_values = accumulate.bias_values(ctx, bias, out_channels)
    input_offset = -input_.quant.zero_point
    dtype, wraps = accumulate.accumulation_dtype(weights, input_offset, bias_values)
    return ConvParams(
        input_offset=input_offset, output_offset=output.quant.zero_point,
        output_multiplier=multiplier, output_shift=shift,
        quantized_activation_min=activation_min, quantized_activation_max=activation_max,
        stride=geometry["stride"], dilation=geometry["dilation"], padding=geometry["padding"],
        filter_hw=filter_hw, output_shape=output.shape[1:],
        weights=weights.astype(dtype), bias=bias_values, accumulator_wraps=wraps,
        depth_multiplier=depth_multiplier)


def conv_per_channel(params: ConvParams, input_data: np.ndarray) -> np.ndarray:
    """ConvPerChannel over a batch (n, h, w, in) of int8 images."""
    padded = _padded_input(params, input_data)
    n, (oh, ow), (fh, fw) = len(input_data), params.output_shape[:2], params.filter_hw
    # im2col: one row per output pixel, columns in the filter's (fy, fx, in) order
    patches = np.empty((n, oh, ow, fh, fw, input_data.shape[3]), dtype=params.weights.dtype)
    for fy in range(fh):
        for fx in range(fw):
            patches[:, :, :, fy, fx, :] = _window(params, padded, fy, fx)
    acc = patches.reshape(n * oh * ow, -1) @ params.weights
    return accumulate.requantize(params, acc).reshape(n, oh, ow, -1)


def depthwise_conv_per_channel(params: ConvParams, input_data: np.ndarray) -> np.ndarray:
    """DepthwiseConvPerChannel: output channel c reads input channel c // depth_multiplier."""
    if params.depth_multiplier > 1:
        input_data = np.repeat(input_data, params.depth_multiplier, axis=3)
    padded = _padded_input(params, input_data)
    fh, fw = params.filter_hw
    acc = np.zeros((len(input_data), *params.output_shape), dtype=params.weights.dtype)
    for fy in range(fh):
        for fx in range(fw):
            acc += _window(params, padded, fy, fx) * params.weights[fy * fw + fx]
    return accumulate.requantize(params, acc.reshape(-1, acc.shape[3])).reshape(acc.shape)


def _padded_input(params: ConvParams, input_data: np.ndarray) -> np.ndarray:
    """input + input_offset, zero-padded so that padding adds nothing, as TFLM skips it."""
    n, height, width, channels = input_data.shape
    (pad_h, pad_w), (oh, ow) = params.padding, params.output_shape[:2]
    span_h = (oh - 1) * params.stride[0] + (params.filter_hw[0] - 1) * params.dilation[0] + 1
    span_w = (ow - 1) * params.stride[1] + (params.filter_hw[1] - 1) * params.dilation[1] + 1
    padded = np.zeros((n, max(span_h, pad_h + height), max(span_w, pad_w + width), channels),
                      dtype=params.weights.dtype)
    interior = padded[:, pad_h:pad_h + height, pad_w:pad_w + width]
    np.add(input_data, params.input_offset, out=interior, dtype=padded.dtype)
    return padded


def _window(params: ConvParams, padded: np.ndarray, fy: int, fx: int) -> np.ndarray:
    """The input pixels that filter tap (fy, fx) meets, one per output pixel (a view)."""
    (oh, ow), (stride_h, stride_w) = params.output_shape[:2], params.stride
    top, left = fy * params.dilation[0], fx * params.dilation[1]
    return padded[:, top:top + (oh - 1) * stride_h + 1:stride_h,
                  left:left + (ow - 1) * stride_w + 1:stride_w]
