"""CONV_2D and DEPTHWISE_CONV_2D, int8 per-channel (a per-tensor scale is broadcast per channel).

TFLM: micro/kernels/conv_common.cc and depthwise_conv_common.cc prepare; the arithmetic is
reference/integer_ops/conv.h ConvPerChannel and depthwise_conv.h DepthwiseConvPerChannel:
    acc = sum(filter * (input + input_offset)) + bias      (int32; taps in the padding skipped)
then the output stage of accumulate.py. The filter zero point is never read: int8 filters are
symmetric in TFLite's quantization spec.

The sum is an im2col matrix product (exact, see accumulate.py). Padding holds zeros after the
input offset is added, so padded taps add nothing, as TFLM's skipped taps do.
"""
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from firmware_sim.emulator.kernels import accumulate
from firmware_sim.emulator.kernels.common import (OpContext, activation_range_quantized,
                                                  windowed_geometry)


@dataclass(frozen=True)
class ConvParams:
    input_offset: int  # -input_zero_point, so that r = s * (q + input_offset)
    stride: tuple[int, int]
    dilation: tuple[int, int]
    padding: tuple[int, int]  # rows/columns of padding before the image
    span: tuple[int, int]  # rows/columns of the padded image that windows read
    filter_hw: tuple[int, int]
    output_shape: tuple[int, int, int]  # per image: height, width, channels
    weights: np.ndarray  # (out_channels, fh * fw * in) for CONV_2D, (fh * fw, out) depthwise
    output_stage: accumulate.OutputStage
    depth_multiplier: int = 0  # DEPTHWISE_CONV_2D only
    patches_by_row: bool = False  # im2col copies (fx, in) runs rather than whole tap planes
    # DEPTHWISE_CONV_2D whose taps share one weight per channel (LeNet's subsampling): the sum
    # is that weight times the window's sum, so a tabled output stage reads window sums
    tap_weights: np.ndarray | None = None


def prepare_conv(ctx: OpContext) -> ConvParams:
    """ConvPrepare + CalculateOpDataConv: filter (out, fh, fw, in), quantized along dimension 0."""
    input_, filter_ = _image_and_filter(ctx)
    out_channels, filter_h, filter_w, filter_in = filter_.shape
    if input_.shape[3] != filter_in:
        raise ctx.unsupported(f"input has {input_.shape[3]} channels and the filter {filter_in}"
                              f"; grouped convolution is not supported")
    # columns in the filter's (fy, fx, in) order, one row per output channel
    weights = filter_.data.reshape(out_channels, -1)
    params = _prepare(ctx, 0, (filter_h, filter_w), weights, 0)
    # im2col copies contiguous runs: fw * in values per window row, or ow pixels per tap plane
    by_row = params.dilation[1] == 1 and filter_w * filter_in >= params.output_shape[1]
    return ConvParams(**{**vars(params), "patches_by_row": by_row})


def prepare_depthwise_conv(ctx: OpContext) -> ConvParams:
    """DepthwiseConvPrepare: filter (1, fh, fw, in * multiplier), quantized along dimension 3."""
    input_, filter_ = _image_and_filter(ctx)
    _, filter_h, filter_w, out_channels = filter_.shape
    multiplier = ctx.op.options["depth_multiplier"]
    ctx.ensure(filter_.shape[0] == 1 and multiplier >= 1
               and out_channels == input_.shape[3] * multiplier,
               f"filter shape {list(filter_.shape)} does not fit {input_.shape[3]} input "
               f"channels with depth multiplier {multiplier}")
    weights = filter_.data.reshape(filter_h * filter_w, out_channels).T
    params = _prepare(ctx, 3, (filter_h, filter_w), weights, multiplier)
    tied = bool(np.all(weights == weights[:, :1]))
    return ConvParams(**{**vars(params), "tap_weights": weights[:, 0].copy() if tied else None})


def _image_and_filter(ctx: OpContext):
    """The 4-D input and the constant 4-D filter both convolutions read."""
    input_, filter_ = ctx.input(0), ctx.input(1)
    ctx.ensure(filter_.is_constant, "filter must be a constant tensor")
    ctx.expect_rank(filter_, 4, "filter")
    ctx.expect_rank(input_, 4, "input")
    return input_, filter_


def _prepare(ctx: OpContext, quantized_dimension: int, filter_hw: tuple[int, int],
             weights: np.ndarray, depth_multiplier: int) -> ConvParams:
    input_, filter_, bias, output = ctx.input(0), ctx.input(1), ctx.optional_input(2), ctx.output()
    ctx.expect_arity((2, 3))
    for tensor, role in ((input_, "input"), (filter_, "filter"), (output, "output")):
        ctx.expect_dtype(tensor, "int8", role)
    out_channels = weights.shape[0]
    geometry = windowed_geometry(ctx, ctx.op.options, input_.shape[1:3], filter_hw)
    ctx.expect_shape(output, (input_.shape[0], *geometry["output_hw"], out_channels), "output")
    ctx.expect_scratch(geometry["span"][0] * geometry["span"][1]
                       * max(input_.shape[3], out_channels), "the padded input")
    ctx.expect_scratch(output.size * weights.shape[1], "im2col")
    multiplier, shift = accumulate.per_channel_multipliers(
        ctx, input_, filter_, output, out_channels, quantized_dimension)
    activation_range = activation_range_quantized(
        ctx, ctx.op.options["fused_activation_function"], output)
    input_offset = -input_.quant.zero_point
    bounds = accumulate.accumulation_bounds(weights, input_offset)
    stage = accumulate.output_stage(bounds, accumulate.bias_values(ctx, bias, out_channels),
                                    multiplier, shift, output.quant.zero_point, activation_range)
    return ConvParams(
        input_offset=input_offset, stride=geometry["stride"], dilation=geometry["dilation"],
        padding=geometry["padding"], span=geometry["span"], filter_hw=filter_hw,
        output_shape=output.shape[1:],
        weights=weights.astype(accumulate.accumulation_dtype(bounds)), output_stage=stage,
        depth_multiplier=depth_multiplier)


def conv_per_channel(params: ConvParams, input_data: np.ndarray) -> np.ndarray:
    """ConvPerChannel over a batch (n, h, w, in) of int8 images."""
    if params.patches_by_row:
        acc = params.weights @ _patches_by_row(params, _padded(params, input_data)).T
    else:
        acc = params.weights @ _patches_by_tap(params, _planes(input_data))
    output = accumulate.requantize(params.output_stage, acc)
    return output.reshape(-1, len(input_data), *params.output_shape[:2]).transpose(1, 2, 3, 0)


def depthwise_conv_per_channel(params: ConvParams, input_data: np.ndarray) -> np.ndarray:
    """DepthwiseConvPerChannel: output channel c reads input channel c // depth_multiplier."""
    planes = _planes(input_data)
    if params.depth_multiplier > 1:
        planes = np.repeat(planes, params.depth_multiplier, axis=0)
    padded = _padded(params, planes.reshape(-1, *planes.shape[2:]))
    fh, fw = params.filter_hw
    acc = np.zeros((*planes.shape[:2], *params.output_shape[:2]), dtype=params.weights.dtype)
    by_window_sum = params.tap_weights is not None and params.output_stage.table is not None
    for fy in range(fh):
        for fx in range(fw):
            window = _tap_window(params, padded, fy, fx).reshape(acc.shape)
            if by_window_sum:
                acc += window
            else:
                acc += window * params.weights[:, fy * fw + fx, None, None, None]
    output = accumulate.requantize(params.output_stage, acc.reshape(len(acc), -1))
    return output.reshape(acc.shape).transpose(1, 2, 3, 0)


def _planes(input_data: np.ndarray) -> np.ndarray:
    """(n, h, w, c) -> (c, n, h, w): one image plane per channel and image."""
    return input_data.transpose(3, 0, 1, 2)


def _padded(params: ConvParams, images: np.ndarray) -> np.ndarray:
    """images + input_offset as floats, zero-padded along axes 1 and 2 (height, width)."""
    (pad_h, pad_w), (height, width) = params.padding, images.shape[1:3]
    padded = np.zeros((len(images), *params.span, *images.shape[3:]), params.weights.dtype)
    interior = padded[:, pad_h:pad_h + height, pad_w:pad_w + width]
    np.add(images, params.input_offset, out=interior, dtype=padded.dtype)
    return padded


def _tap_window(params: ConvParams, padded: np.ndarray, fy: int, fx: int) -> np.ndarray:
    """The pixels filter tap (fy, fx) meets, one per output pixel: a strided view of axes 1, 2."""
    (oh, ow), (stride_h, stride_w) = params.output_shape[:2], params.stride
    top, left = fy * params.dilation[0], fx * params.dilation[1]
    return padded[:, top:top + (oh - 1) * stride_h + 1:stride_h,
                  left:left + (ow - 1) * stride_w + 1:stride_w]


def _patches_by_tap(params: ConvParams, planes: np.ndarray) -> np.ndarray:
    """im2col, transposed: (fh * fw * in, n * oh * ow) from (in, n, h, w) planes.

    Each tap copies whole output-sized planes, the long contiguous runs a 1-channel input needs.
    """
    fh, fw = params.filter_hw
    padded = _padded(params, planes.reshape(-1, *planes.shape[2:]))
    patches = np.empty((fh, fw, len(padded), *params.output_shape[:2]), padded.dtype)
    for fy in range(fh):
        for fx in range(fw):
            patches[fy, fx] = _tap_window(params, padded, fy, fx)
    return patches.reshape(fh * fw * len(planes), -1)


def _patches_by_row(params: ConvParams, padded: np.ndarray) -> np.ndarray:
    """im2col: (n * oh * ow, fh * fw * in) from (n, h, w, in) input, undilated along x.

    Along a filter row the window is fw * in contiguous values of the padded image row.
    """
    n, _, _, channels = padded.shape
    (oh, ow), (stride_h, stride_w) = params.output_shape[:2], params.stride
    fh, fw = params.filter_hw
    patches = np.empty((n, oh, ow, fh, fw * channels), padded.dtype)
    for fy in range(fh):
        top = fy * params.dilation[0]
        rows = padded[:, top:top + (oh - 1) * stride_h + 1:stride_h].reshape(n, oh, -1)
        windows = sliding_window_view(rows, fw * channels, axis=2)
        patches[:, :, :, fy] = windows[:, :, :ow * stride_w * channels:stride_w * channels]
    return patches.reshape(n * oh * ow, -1)
