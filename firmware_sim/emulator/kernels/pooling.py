"""AVERAGE_POOL_2D and MAX_POOL_2D on int8, as reference/integer_ops/pooling.h.

Neither op rescales: TFLM's PoolingPrepare insists that input and output share scale and zero
point. Windows are clipped to the image, so an average divides by the number of pixels actually
inside (fewer along SAME-padded borders), rounding half away from zero.

Kernels work on channel planes (channels, n, h, w), which a preceding convolution leaves
contiguous, and return a (n, h, w, channels) view of planes. These are the reference kernels;
speed.py divides average pools by table lookup instead.
"""
from dataclasses import dataclass

import numpy as np

from firmware_sim.emulator.kernels.common import (INT8_MIN, OpContext, activation_range_quantized,
                                                  windowed_geometry)


@dataclass(frozen=True)
class PoolOpData:
    """TFLM's OpDataPooling (padding and activation range) with the builtin options it reads."""

    stride: tuple[int, int]
    padding: tuple[int, int]
    span: tuple[int, int]  # rows/columns of the padded image that windows read
    filter_hw: tuple[int, int]
    output_hw: tuple[int, int]
    quantized_activation_min: int
    quantized_activation_max: int
    image_hw: tuple[int, int]  # the input's height and width


PoolParams = PoolOpData  # the name firmware/ imports


def prepare_pool(ctx: OpContext) -> PoolOpData:
    """PoolingPrepare + CalculateOpDataPooling."""
    ctx.expect_arity((1,))
    input_, output = ctx.input(0), ctx.output()
    ctx.expect_dtype(input_, "int8", "input")
    ctx.expect_dtype(output, "int8", "output")
    ctx.expect_rank(input_, 4, "input")
    options = ctx.op.options
    filter_hw = (options["filter_height"], options["filter_width"])
    geometry = windowed_geometry(ctx, options, input_.shape[1:3], filter_hw)
    ctx.expect_shape(output, (input_.shape[0], *geometry["output_hw"], input_.shape[3]),
                     "output")
    # TFLM compares the float32 scales by their float32 difference
    scale_diff = float(abs(np.float32(input_.quant.scale) - np.float32(output.quant.scale)))
    ctx.ensure(scale_diff <= 1.0e-6 and input_.quant.zero_point == output.quant.zero_point,
               "input and output must share scale and zero point")
    activation_range = activation_range_quantized(
        ctx, options["fused_activation_function"], output)
    op_data = PoolOpData(stride=geometry["stride"], padding=geometry["padding"],
                         span=geometry["span"], filter_hw=filter_hw,
                         output_hw=geometry["output_hw"],
                         quantized_activation_min=activation_range[0],
                         quantized_activation_max=activation_range[1],
                         image_hw=tuple(input_.shape[1:3]))
    count = filter_count(op_data)
    ctx.ensure(count.min() > 0, "a pooling window lies entirely in the padding")
    ctx.expect_scratch(256 * int(count.max()) * len(np.unique(count)), "the averaging table")
    return op_data


def filter_count(op_data: PoolOpData) -> np.ndarray:
    """Per output pixel (oh, ow), the window clipped to the image: TFLM's filter_count, the
    product of filter_y_end - filter_y_start and filter_x_end - filter_x_start."""
    extents = []
    for axis in range(2):
        origin = np.arange(op_data.output_hw[axis]) * op_data.stride[axis] \
            - op_data.padding[axis]
        start = np.maximum(0, -origin)
        end = np.minimum(op_data.filter_hw[axis], op_data.image_hw[axis] - origin)
        extents.append(np.maximum(end - start, 0))
    return extents[0][:, None] * extents[1][None, :]


def average_pool(op_data: PoolOpData, input_data: np.ndarray) -> np.ndarray:
    """AveragePool: int32 sums over the window inside the image, then TFLM's rounded division,
    (acc + count / 2) / count for acc > 0, else (acc - count / 2) / count, truncating as C does."""
    windows = tap_windows(op_data, padded_planes(op_data, input_data, 0))
    acc = next(windows).astype(np.int64)
    for window in windows:
        acc += window
    count = filter_count(op_data)
    half = count // 2
    numerator = np.where(acc > 0, acc + half, acc - half)
    average = np.sign(numerator) * (np.abs(numerator) // count)  # C's truncating division
    average = np.clip(average, op_data.quantized_activation_min,
                      op_data.quantized_activation_max)
    return average.astype(np.int8).transpose(1, 2, 3, 0)


def max_pool(op_data: PoolOpData, input_data: np.ndarray) -> np.ndarray:
    """MaxPool: padding holds int8's lowest value, which TFLM's running max starts from."""
    windows = tap_windows(op_data, padded_planes(op_data, input_data, INT8_MIN))
    result = next(windows).copy()
    for window in windows:
        np.maximum(result, window, out=result)
    np.clip(result, op_data.quantized_activation_min, op_data.quantized_activation_max,
            out=result)
    return result.transpose(1, 2, 3, 0)


def padded_planes(op_data: PoolOpData, input_data: np.ndarray, fill: int) -> np.ndarray:
    """(channels, n, h, w) planes, padded with `fill` where windows reach past the image."""
    planes = input_data.transpose(3, 0, 1, 2)
    (pad_h, pad_w), (height, width) = op_data.padding, planes.shape[2:]
    if (pad_h, pad_w) == (0, 0) and op_data.span == (height, width):
        return planes
    padded = np.full((*planes.shape[:2], *op_data.span), fill, dtype=np.int8)
    padded[:, :, pad_h:pad_h + height, pad_w:pad_w + width] = planes
    return padded


def tap_windows(op_data: PoolOpData, planes: np.ndarray):
    """One strided view per filter tap (fy, fx), each with one pixel per output position."""
    (oh, ow), (stride_h, stride_w) = op_data.output_hw, op_data.stride
    for fy in range(op_data.filter_hw[0]):
        for fx in range(op_data.filter_hw[1]):
            yield planes[:, :, fy:fy + (oh - 1) * stride_h + 1:stride_h,
                         fx:fx + (ow - 1) * stride_w + 1:stride_w]
