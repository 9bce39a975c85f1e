"""QUANTIZE (float32 -> int8, int8 -> int8) and DEQUANTIZE (int8 -> float32).

TFLM: micro/kernels/quantize_common.cc and dequantize_common.cc prepare; the arithmetic is
reference/quantize.h AffineQuantize, reference/requantize.h Requantize and reference/dequantize.h
Dequantize, on every element; an int8 input takes one of 256 values, so the fast path looks
requantize and dequantize up in their tables (LookupParams.table).
"""
from dataclasses import dataclass

import numpy as np

from firmware_sim.emulator.kernels.accumulate import checked_multiplier
from firmware_sim.emulator.kernels.activations import LookupParams
from firmware_sim.emulator.kernels.common import INT8_MAX, INT8_MIN, OpContext
from firmware_sim.emulator.kernels.requantize import (INT32_MIN, multiply_by_quantized_multiplier,
                                                      wrap_int32)


@dataclass(frozen=True)
class AffineQuantizeParams:
    scale: np.float32
    zero_point: int


@dataclass(frozen=True)
class RequantizeOpData(LookupParams):
    """int8 -> int8 QUANTIZE: OpDataQuantizeReference's requantize multiplier and offsets."""

    input_zero_point: int
    output_zero_point: int
    requantize_output_multiplier: int
    requantize_output_shift: int  # > 0 shifts left

    def kernel(self, input_data):
        """Requantize: MultiplyByQuantizedMultiplier(input - input_zero_point) + output_zero_point,
        clamped to int8."""
        rescaled = multiply_by_quantized_multiplier(
            input_data.astype(np.int64) - self.input_zero_point,
            self.requantize_output_multiplier, self.requantize_output_shift)
        return np.clip(rescaled + self.output_zero_point, INT8_MIN, INT8_MAX).astype(np.int8)


@dataclass(frozen=True)
class DequantizeOpData(LookupParams):
    scale: float  # the float32 scale widened to double, as TFLM's DequantizationParams
    zero_point: int

    def kernel(self, input_data):
        """Dequantize: float(scale * (q - zero_point)), the product in double."""
        return (self.scale * (input_data.astype(np.int64) - self.zero_point)).astype(np.float32)


def prepare_quantize(ctx: OpContext) -> AffineQuantizeParams | RequantizeOpData:
    """PrepareQuantizeReference for a per-tensor int8 output."""
    ctx.expect_arity((1,))
    input_, output = ctx.input(0), ctx.output()
    ctx.expect_dtype(output, "int8", "output")
    ctx.expect_shape(output, input_.shape, "output")
    ctx.ensure(not output.quant.per_channel, "output must be quantized per tensor")
    if input_.dtype == "float32":
        return AffineQuantizeParams(np.float32(output.quant.scale), output.quant.zero_point)
    ctx.expect_dtype(input_, "int8", "input")
    requantize_multiplier, requantize_shift = checked_multiplier(
        ctx, input_.quant.scale / output.quant.scale)
    return RequantizeOpData(input_zero_point=input_.quant.zero_point,
                            output_zero_point=output.quant.zero_point,
                            requantize_output_multiplier=requantize_multiplier,
                            requantize_output_shift=requantize_shift)


def quantize(op_data: AffineQuantizeParams | RequantizeOpData,
             input_data: np.ndarray) -> np.ndarray:
    """QUANTIZE: AffineQuantize of floats, or Requantize of int8."""
    if isinstance(op_data, RequantizeOpData):
        return op_data.kernel(input_data)
    return affine_quantize(op_data, input_data)


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


def prepare_dequantize(ctx: OpContext) -> DequantizeOpData:
    """Dequantize: float(double(scale) * (q - zero_point))."""
    ctx.expect_arity((1,))
    input_, output = ctx.input(0), ctx.output()
    ctx.expect_dtype(input_, "int8", "input")
    ctx.expect_dtype(output, "float32", "output")
    ctx.expect_shape(output, input_.shape, "output")
    return DequantizeOpData(scale=input_.quant.scale, zero_point=input_.quant.zero_point)
