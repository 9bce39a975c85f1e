"""QUANTIZE (float32 -> int8, int8 -> int8) and DEQUANTIZE (int8 -> float32).

TFLM: micro/kernels/quantize_common.cc and dequantize_common.cc prepare; the arithmetic is
reference/quantize.h AffineQuantize, reference/requantize.h Requantize and reference/dequantize.h
Dequantize. An int8 input takes one of 256 values, so requantize and dequantize are tables.
"""
from dataclasses import dataclass

import numpy as np

from firmware_sim.emulator.kernels.accumulate import checked_multiplier
from firmware_sim.emulator.kernels.activations import INT8_BY_BYTE, LookupParams, lookup
from firmware_sim.emulator.kernels.common import INT8_MAX, INT8_MIN, OpContext
from firmware_sim.emulator.kernels.requantize import (INT32_MIN, multiply_by_quantized_multiplier,
                                                      wrap_int32)


@dataclass(frozen=True)
class AffineQuantizeParams:
    scale: np.float32
    zero_point: int


def prepare_quantize(ctx: OpContext) -> AffineQuantizeParams | LookupParams:
    """PrepareQuantizeReference for a per-tensor int8 output."""
    ctx.expect_arity((1,))
    input_, output = ctx.input(0), ctx.output()
    ctx.expect_dtype(output, "int8", "output")
    ctx.expect_shape(output, input_.shape, "output")
    ctx.ensure(not output.quant.per_channel, "output must be quantized per tensor")
    if input_.dtype == "float32":
        return AffineQuantizeParams(np.float32(output.quant.scale), output.quant.zero_point)
    ctx.expect_dtype(input_, "int8", "input")
    # Requantize: MultiplyByQuantizedMultiplier(input - input_zero_point) + output_zero_point
    requantize_multiplier, requantize_shift = checked_multiplier(
        ctx, input_.quant.scale / output.quant.scale)
    rescaled = multiply_by_quantized_multiplier(
        INT8_BY_BYTE - input_.quant.zero_point, requantize_multiplier, requantize_shift)
    table = np.clip(rescaled + output.quant.zero_point, INT8_MIN, INT8_MAX)
    return LookupParams(table.astype(np.int8))


def quantize(params: AffineQuantizeParams | LookupParams, input_data: np.ndarray) -> np.ndarray:
    """QUANTIZE: AffineQuantize of floats, or Requantize of int8 through its table."""
    if isinstance(params, LookupParams):
        return lookup(params, input_data)
    return affine_quantize(params, input_data)


def affine_quantize(params: AffineQuantizeParams, input_data: np.ndarray) -> np.ndarray:
    """AffineQuantize: round(x / scale) in float32, rounding half away from zero, plus zero point.

    float -> int32 of a value out of range gives INT32_MIN, as x86's conversion does; the zero
    point is then added with int32 wraparound, as in C++.
    """
    quotient = (input_data.astype(np.float32) / params.scale).astype(np.float64)
    rounded = np.sign(quotient) * np.floor(np.abs(quotient) + 0.5)
    in_range = np.isfinite(rounded) & (np.abs(rounded) < 2.0**31)
    unclamped = np.where(in_range, np.nan_to_num(rounded), INT32_MIN).astype(np.int64)
    unclamped = wrap_int32(unclamped + params.zero_point)
    return np.clip(unclamped, INT8_MIN, INT8_MAX).astype(np.int8)


def prepare_dequantize(ctx: OpContext) -> LookupParams:
    """Dequantize: float(double(scale) * (q - zero_point)), tabulated per input byte."""
    ctx.expect_arity((1,))
    input_, output = ctx.input(0), ctx.output()
    ctx.expect_dtype(input_, "int8", "input")
    ctx.expect_dtype(output, "float32", "output")
    ctx.expect_shape(output, input_.shape, "output")
    table = (input_.quant.scale * (INT8_BY_BYTE - input_.quant.zero_point)).astype(np.float32)
    return LookupParams(table)
