"""AVERAGE_POOL_2D and MAX_POOL_2D on int8, as reference/integer_ops/pooling.h.

Neither op rescales: TFLM's PoolingPrepare insists that input and output share scale and zero
point. Windows are clipped to the image, so an average divides by the number of pixels actually
inside (smaller along SAME-padded borders), rounding half away from zero.
"""
from dataclasses import dataclass

import numpy as np

from firmware_sim.kernels.common import OpContext, activation_range_quantized, windowed_geometry


@dataclass(frozen=True)
class PoolParams:
    stride: tuple[int, int]
    padding: tuple[int, int]
    filter_hw: tuple[int, int]
    output_hw: tuple[int, int]
    quantized_activation_min: int
    quantized_activation_max: int
    filter_count: np.ndarray  # (oh, ow, 1): pixels of each window inside the image


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
    activation_min, activation_max = activation_range_quantized(
        ctx, options["fused_activation_function"], output)
    count = _filter_count(input_.shape[1:3], filter_hw, geometry)
    ctx.ensure(count.min() > 0, "a pooling window lies entirely in the padding")
    return PoolParams(stride=geometry["stride"], padding=geometry["padding"],
                      filter_hw=filter_hw, output_hw=geometry["output_hw"],
                      quantized_activation_min=activation_min,
                      quantized_activation_max=activation_max, filter_count=count)


def _filter_count(image_hw, filter_hw, geometry) -> np.ndarray:
    """Per output pixel, the window extent clipped to the image: filter_x_start .. filter_x_end."""
    extents = []
    for axis in range(2):
        origin = np.arange(geometry["output_hw"][axis]) * geometry["stride"][axis] \
            - geometry["padding"][axis]
        start = np.maximum(0, -origin)
        end = np.minimum(filter_hw[axis], image_hw[axis] - origin)
        extents.append(np.maximum(end - start, 0))
    return (extents[0][:, None] * extents[1][None, :])[:, :, None].astype(np.int32)


def average_pool(params: PoolParams, input_data: np.ndarray) -> np.ndarray:
    """AveragePool: int32 window sums, divided by the window's pixel count with rounding."""
    padded = _padded(params, input_data, 0, np.int32)
    acc = np.zeros((len(input_data), *params.output_hw, input_data.shape[3]), dtype=np.int32)
    for window in _windows(params, padded):
        acc += window
    count = params.filter_count
    # C's truncating division of acc +- count / 2: round half away from zero
    half = count // 2
    numerator = np.where(acc > 0, acc + half, acc - half)
    acc = np.sign(numerator) * (np.abs(numerator) // count)
    np.clip(acc, params.quantized_activation_min, params.quantized_activation_max, out=acc)
    return acc.astype(np.int8)


def max_pool(params: PoolParams, input_data: np.ndarray) -> np.ndarray:
    """MaxPool: padding holds int8's lowest value, which TFLM's running max starts from."""
    padded = _padded(params, input_data, -128, np.int8)
    result = None
    for window in _windows(params, padded):
        result = window.copy() if result is None else np.maximum(result, window, out=result)
    np.clip(result, params.quantized_activation_min, params.quantized_activation_max,
            out=result)
    return result


def _padded(params: PoolParams, input_data: np.ndarray, fill: int, dtype) -> np.ndarray:
    n, height, width, channels = input_data.shape
    (pad_h, pad_w), (oh, ow) = params.padding, params.output_hw
    span_h = (oh - 1) * params.stride[0] + params.filter_hw[0]
    span_w = (ow - 1) * params.stride[1] + params.filter_hw[1]
    padded = np.full((n, max(span_h, pad_h + height), max(span_w, pad_w + width), channels),
                     fill, dtype=dtype)
    padded[:, pad_h:pad_h + height, pad_w:pad_w + width] = input_data
    return padded


def _windows(params: PoolParams, padded: np.ndarray):
    """One strided view per filter tap (fy, fx), each with one pixel per output position."""
    (oh, ow), (stride_h, stride_w) = params.output_hw, params.stride
    for fy in range(params.filter_hw[0]):
        for fx in range(params.filter_hw[1]):
            yield padded[:, fy:fy + (oh - 1) * stride_h + 1:stride_h,
                         fx:fx + (ow - 1) * stride_w + 1:stride_w]
