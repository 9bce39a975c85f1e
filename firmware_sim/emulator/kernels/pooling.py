"""AVERAGE_POOL_2D and MAX_POOL_2D on int8, as reference/integer_ops/pooling.h.

Neither op rescales: TFLM's PoolingPrepare insists that input and output share scale and zero
point. Windows are clipped to the image, so an average divides by the number of pixels actually
inside (fewer along SAME-padded borders), rounding half away from zero.

Kernels work on channel planes (channels, n, h, w), which a preceding convolution leaves
contiguous, and return a (n, h, w, channels) view of planes.
"""
from dataclasses import dataclass

import numpy as np

from firmware_sim.emulator.kernels.common import (INT8_MIN, OpContext, activation_range_quantized,
                                                  windowed_geometry)


@dataclass(frozen=True)
class PoolParams:
    stride: tuple[int, int]
    padding: tuple[int, int]
    span: tuple[int, int]  # rows/columns of the padded image that windows read
    filter_hw: tuple[int, int]
    output_hw: tuple[int, int]
    quantized_activation_min: int
    quantized_activation_max: int
    # AveragePool's division: output = average_table[window sum + average_offset[y, x]]
    average_offset: np.ndarray  # (oh, ow) int32
    average_table: np.ndarray  # int8


def prepare_pool(ctx: OpContext) -> PoolParams:
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
    count = _filter_count(input_.shape[1:3], filter_hw, geometry)
    ctx.ensure(count.min() > 0, "a pooling window lies entirely in the padding")
    ctx.expect_scratch(256 * int(count.max()) * len(np.unique(count)), "the averaging table")
    offset, table = _average_table(count, activation_range)
    return PoolParams(stride=geometry["stride"], padding=geometry["padding"],
                      span=geometry["span"], filter_hw=filter_hw,
                      output_hw=geometry["output_hw"],
                      quantized_activation_min=activation_range[0],
                      quantized_activation_max=activation_range[1],
                      average_offset=offset, average_table=table)


def _filter_count(image_hw, filter_hw, geometry) -> np.ndarray:
    """Per output pixel, the window clipped to the image: filter_x_end - filter_x_start, etc."""
    extents = []
    for axis in range(2):
        origin = np.arange(geometry["output_hw"][axis]) * geometry["stride"][axis] \
            - geometry["padding"][axis]
        start = np.maximum(0, -origin)
        end = np.minimum(filter_hw[axis], image_hw[axis] - origin)
        extents.append(np.maximum(end - start, 0))
    return extents[0][:, None] * extents[1][None, :]


def _average_table(count: np.ndarray, activation_range) -> tuple[np.ndarray, np.ndarray]:
    """One row per distinct window size: the clamped, rounded quotient of every possible sum.

    TFLM divides with C's truncation after adding +-count/2: rounding half away from zero.
    """
    sizes, row_of_pixel = np.unique(count, return_inverse=True)
    width = 256 * int(sizes.max())
    acc = np.arange(width) - 128 * int(sizes.max())  # every sum of int8 values in a window
    rows = []
    for size in sizes:
        half = size // 2
        numerator = np.where(acc > 0, acc + half, acc - half)
        rows.append(np.sign(numerator) * (np.abs(numerator) // size))
    table = np.clip(np.array(rows), *activation_range).astype(np.int8).reshape(-1)
    offset = row_of_pixel.reshape(count.shape) * width + 128 * int(sizes.max())
    return offset.astype(np.int32), table


def average_pool(params: PoolParams, input_data: np.ndarray) -> np.ndarray:
    """AveragePool: int32 window sums, then the rounded division by table lookup."""
    windows = _windows(params, _planes(params, input_data, 0))
    acc = np.add(next(windows), params.average_offset, dtype=np.int32)
    for window in windows:
        acc += window
    return params.average_table.take(acc).transpose(1, 2, 3, 0)


def max_pool(params: PoolParams, input_data: np.ndarray) -> np.ndarray:
    """MaxPool: padding holds int8's lowest value, which TFLM's running max starts from."""
    windows = _windows(params, _planes(params, input_data, INT8_MIN))
    result = next(windows).copy()
    for window in windows:
        np.maximum(result, window, out=result)
    np.clip(result, params.quantized_activation_min, params.quantized_activation_max,
            out=result)
    return result.transpose(1, 2, 3, 0)


def _planes(params: PoolParams, input_data: np.ndarray, fill: int) -> np.ndarray:
    """(channels, n, h, w) planes, padded with `fill` where windows reach past the image."""
    planes = input_data.transpose(3, 0, 1, 2)
    (pad_h, pad_w), (height, width) = params.padding, planes.shape[2:]
    if (pad_h, pad_w) == (0, 0) and params.span == (height, width):
        return planes
    padded = np.full((*planes.shape[:2], *params.span), fill, dtype=np.int8)
    padded[:, :, pad_h:pad_h + height, pad_w:pad_w + width] = planes
    return padded


def _windows(params: PoolParams, planes: np.ndarray):
    """One strided view per filter tap (fy, fx), each with one pixel per output position."""
    (oh, ow), (stride_h, stride_w) = params.output_hw, params.stride
    for fy in range(params.filter_hw[0]):
        for fx in range(params.filter_hw[1]):
            yield planes[:, :, fy:fy + (oh - 1) * stride_h + 1:stride_h,
                         fx:fx + (ow - 1) * stride_w + 1:stride_w]
