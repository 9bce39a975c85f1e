"""CONV_2D and DEPTHWISE_CONV_2D, int8 per-channel (a per-tensor scale is broadcast per channel).

TFLM: micro/kernels/conv_common.cc and depthwise_conv_common.cc prepare (OpDataConv, which both
ops share); the arithmetic is reference/integer_ops/conv.h ConvPerChannel and depthwise_conv.h
DepthwiseConvPerChannel:
    acc = sum(filter * (input + input_offset)) + bias      (int32; taps in the padding skipped)
then the output stage of accumulate.py. The filter zero point is never read: int8 filters are
symmetric in TFLite's quantization spec.

The kernels here are the reference: int64 sums of int8 products, one filter tap at a time.
Padding holds zeros after the input offset is added, so padded taps add nothing, as TFLM's
skipped taps do. The fast forms (float im2col products, window sums, tables) are in speed.py.
"""
from dataclasses import dataclass

import numpy as np

from firmware_sim.emulator.kernels import accumulate
from firmware_sim.emulator.kernels.common import (OpContext, activation_range_quantized,
                                                  windowed_geometry)


@dataclass(frozen=True)
class ConvOpData:
    """TFLM's OpDataConv with the filter and bias it reads: integers only."""

    filter: np.ndarray  # int8 as in the .tflite: (out, fh, fw, in); depthwise (1, fh, fw, out)
    bias: np.ndarray  # int32 (out,), zeros when the op has none
    input_offset: int  # -input_zero_point, so that r = s * (q + input_offset)
    output_offset: int  # +output_zero_point
    output_multiplier: np.ndarray  # int32 (out,): Q0.31 significands
    output_shift: np.ndarray  # int32 (out,): > 0 shifts left, < 0 rounds right
    quantized_activation_min: int
    quantized_activation_max: int
    stride: tuple[int, int]
    dilation: tuple[int, int]
    padding: tuple[int, int]  # rows/columns of padding before the image
    span: tuple[int, int]  # rows/columns of the padded image that windows read
    filter_hw: tuple[int, int]
    output_shape: tuple[int, int, int]  # per image: height, width, channels
    depth_multiplier: int = 0  # DEPTHWISE_CONV_2D only


ConvParams = ConvOpData  # the name firmware/ imports


def prepare_conv(ctx: OpContext) -> ConvOpData:
    """ConvPrepare + CalculateOpDataConv: filter (out, fh, fw, in), quantized along dimension 0."""
    input_, filter_ = _image_and_filter(ctx)
    out_channels, filter_h, filter_w, filter_in = filter_.shape
    if input_.shape[3] != filter_in:
        raise ctx.unsupported(f"input has {input_.shape[3]} channels and the filter {filter_in}"
                              f"; grouped convolution is not supported")
    return _prepare(ctx, 0, (filter_h, filter_w), out_channels, filter_h * filter_w * filter_in,
                    0)


def prepare_depthwise_conv(ctx: OpContext) -> ConvOpData:
    """DepthwiseConvPrepare: filter (1, fh, fw, in * multiplier), quantized along dimension 3."""
    input_, filter_ = _image_and_filter(ctx)
    _, filter_h, filter_w, out_channels = filter_.shape
    multiplier = ctx.op.options["depth_multiplier"]
    ctx.ensure(filter_.shape[0] == 1 and multiplier >= 1
               and out_channels == input_.shape[3] * multiplier,
               f"filter shape {list(filter_.shape)} does not fit {input_.shape[3]} input "
               f"channels with depth multiplier {multiplier}")
    return _prepare(ctx, 3, (filter_h, filter_w), out_channels, filter_h * filter_w, multiplier)


def _image_and_filter(ctx: OpContext):
    """The 4-D input and the constant 4-D filter both convolutions read."""
    input_, filter_ = ctx.input(0), ctx.input(1)
    ctx.ensure(filter_.is_constant, "filter must be a constant tensor")
    ctx.expect_rank(filter_, 4, "filter")
    ctx.expect_rank(input_, 4, "input")
    return input_, filter_


def _prepare(ctx: OpContext, quantized_dimension: int, filter_hw: tuple[int, int],
             out_channels: int, taps: int, depth_multiplier: int) -> ConvOpData:
    input_, filter_, bias, output = ctx.input(0), ctx.input(1), ctx.optional_input(2), ctx.output()
    ctx.expect_arity((2, 3))
    for tensor, role in ((input_, "input"), (filter_, "filter"), (output, "output")):
        ctx.expect_dtype(tensor, "int8", role)
    geometry = windowed_geometry(ctx, ctx.op.options, input_.shape[1:3], filter_hw)
    ctx.expect_shape(output, (input_.shape[0], *geometry["output_hw"], out_channels), "output")
    ctx.expect_scratch(geometry["span"][0] * geometry["span"][1]
                       * max(input_.shape[3], out_channels), "the padded input")
    ctx.expect_scratch(output.size * taps, "im2col")
    output_multiplier, output_shift = accumulate.per_channel_multipliers(
        ctx, input_, filter_, output, out_channels, quantized_dimension)
    activation_min, activation_max = activation_range_quantized(
        ctx, ctx.op.options["fused_activation_function"], output)
    return ConvOpData(
        filter=filter_.data.astype(np.int8),
        bias=accumulate.bias_values(ctx, bias, out_channels),
        input_offset=-input_.quant.zero_point,  # sign flip: TFLM adds -zero_point to inputs
        output_offset=output.quant.zero_point,
        output_multiplier=output_multiplier, output_shift=output_shift,
        quantized_activation_min=activation_min, quantized_activation_max=activation_max,
        stride=geometry["stride"], dilation=geometry["dilation"], padding=geometry["padding"],
        span=geometry["span"], filter_hw=filter_hw, output_shape=output.shape[1:],
        depth_multiplier=depth_multiplier)


def conv_per_channel(op_data: ConvOpData, input_data: np.ndarray) -> np.ndarray:
    """ConvPerChannel over a batch (n, h, w, in) of int8 images -> (n, oh, ow, out)."""
    padded = offset_padded(op_data, input_data, np.int64)
    filter_ = op_data.filter.astype(np.int64)
    fh, fw = op_data.filter_hw
    acc = np.zeros((len(input_data), *op_data.output_shape), dtype=np.int64)
    for filter_y in range(fh):
        for filter_x in range(fw):
            window = tap_window(op_data, padded, filter_y, filter_x)  # (n, oh, ow, in)
            acc += window @ filter_[:, filter_y, filter_x, :].T
    return accumulate.output_stage(op_data, acc)


def depthwise_conv_per_channel(op_data: ConvOpData, input_data: np.ndarray) -> np.ndarray:
    """DepthwiseConvPerChannel: output channel c reads input channel c // depth_multiplier."""
    padded = offset_padded(op_data, input_data, np.int64)
    if op_data.depth_multiplier > 1:
        padded = np.repeat(padded, op_data.depth_multiplier, axis=3)
    filter_ = op_data.filter[0].astype(np.int64)  # (fh, fw, out)
    fh, fw = op_data.filter_hw
    acc = np.zeros((len(input_data), *op_data.output_shape), dtype=np.int64)
    for filter_y in range(fh):
        for filter_x in range(fw):
            acc += tap_window(op_data, padded, filter_y, filter_x) * filter_[filter_y, filter_x]
    return accumulate.output_stage(op_data, acc)


def offset_padded(op_data: ConvOpData, images: np.ndarray, dtype) -> np.ndarray:
    """images + input_offset in `dtype`, zero-padded along axes 1 and 2 (height, width)."""
    (pad_h, pad_w), (height, width) = op_data.padding, images.shape[1:3]
    padded = np.zeros((len(images), *op_data.span, *images.shape[3:]), dtype)
    interior = padded[:, pad_h:pad_h + height, pad_w:pad_w + width]
    np.add(images, op_data.input_offset, out=interior, dtype=dtype)
    return padded


def tap_window(op_data: ConvOpData, padded: np.ndarray, filter_y: int,
               filter_x: int) -> np.ndarray:
    """The pixels filter tap (fy, fx) meets, one per output pixel: a strided view of axes 1, 2."""
    (oh, ow), (stride_h, stride_w) = op_data.output_shape[:2], op_data.stride
    top, left = filter_y * op_data.dilation[0], filter_x * op_data.dilation[1]
    return padded[:, top:top + (oh - 1) * stride_h + 1:stride_h,
                  left:left + (ow - 1) * stride_w + 1:stride_w]
