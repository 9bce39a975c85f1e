"""TANH, LOGISTIC, RELU and RELU6 on int8.

An int8 op of one int8 input is a function of 256 values, so prepare runs TFLM's arithmetic on
every possible input byte once and the kernel is a table lookup. The arithmetic follows
reference/integer_ops/tanh.h and logistic.h (gemmlowp fixed point on a Q4.27 input) and
micro/kernels/activations.h (ReluQuantized, Relu6Quantized); prepare follows tanh.cc,
logistic_common.cc and activations_common.cc.
"""
import math
from dataclasses import dataclass

import numpy as np

from firmware_sim.emulator.kernels import fixedpoint
from firmware_sim.emulator.kernels.accumulate import checked_multiplier
from firmware_sim.emulator.kernels.common import INT8_MAX, INT8_MIN, OpContext, in_memory_order
from firmware_sim.emulator.kernels.requantize import (INT32_MIN, multiply_by_quantized_multiplier,
                                                      round_half_away, rounding_divide_by_pot)

# Every int8 value, in the order of its byte: 0 .. 127, -128 .. -1.
INT8_BY_BYTE = np.arange(256, dtype=np.uint8).view(np.int8).astype(np.int64)
# tanh and logistic read their input as Q4.27 fixed point
_INPUT_INTEGER_BITS = 4


@dataclass(frozen=True)
class LookupParams:
    table: np.ndarray  # 256 outputs (int8; float32 for DEQUANTIZE), indexed by the input byte


def lookup(params: LookupParams, input_data: np.ndarray) -> np.ndarray:
    """table[input byte], gathered in memory order so the input's layout carries over."""
    data, undo = in_memory_order(input_data)
    return params.table.take(data.view(np.uint8)).transpose(undo)


def _unary_int8(ctx: OpContext):
    ctx.expect_arity((1,))
    input_, output = ctx.input(0), ctx.output()
    ctx.expect_dtype(input_, "int8", "input")
    ctx.expect_dtype(output, "int8", "output")
    ctx.expect_shape(output, input_.shape, "output")
    return input_, output


def _input_in_q4(ctx: OpContext, input_) -> tuple[np.ndarray, np.ndarray]:
    """Per input byte: (input - zero point, the same rescaled to Q4.27 where it does not saturate).

    TFLM's int8 tanh and logistic prepare split input_scale * 2**27 by frexp into a Q0.31
    input_multiplier and an input_left_shift; inputs at least input_range_radius away from the
    zero point saturate the output and are never rescaled (they could overflow int32).
    """
    significand, input_left_shift = math.frexp(input_.quant.scale
                                               * (1 << (31 - _INPUT_INTEGER_BITS)))
    ctx.ensure(0 <= input_left_shift <= 30, f"input scale {input_.quant.scale:g} is out of range")
    input_multiplier = round_half_away(significand * (1 << 31))
    # CalculateInputRadius: the largest input whose rescaled value stays below 2**4
    input_range_radius = math.floor(((1 << _INPUT_INTEGER_BITS) - 1)
                                    * (1 << (31 - _INPUT_INTEGER_BITS)) / (1 << input_left_shift))
    input_minus_zero_point = INT8_BY_BYTE - input_.quant.zero_point
    inside = np.clip(input_minus_zero_point, 1 - input_range_radius, input_range_radius - 1)
    input_in_q4 = multiply_by_quantized_multiplier(inside, input_multiplier, input_left_shift)
    saturation = np.where(input_minus_zero_point <= -input_range_radius, INT8_MIN,
                          np.where(input_minus_zero_point >= input_range_radius, INT8_MAX, 0))
    return input_in_q4, saturation


def prepare_tanh(ctx: OpContext) -> LookupParams:
    """Tanh: output scale 1/128, zero point 0 (TFLM assumes them and never reads them)."""
    input_, _ = _unary_int8(ctx)
    input_in_q4, saturation = _input_in_q4(ctx, input_)
    output_in_q0 = fixedpoint.tanh(input_in_q4, _INPUT_INTEGER_BITS)
    output_in_q7 = np.clip(rounding_divide_by_pot(output_in_q0, 31 - 7), INT8_MIN, INT8_MAX)
    return LookupParams(np.where(saturation != 0, saturation, output_in_q7).astype(np.int8))


def prepare_logistic(ctx: OpContext) -> LookupParams:
    """Logistic: output scale 1/256, zero point -128 (checked, as TFLM's prepare does)."""
    input_, output = _unary_int8(ctx)
    ctx.ensure(output.quant.zero_point == INT8_MIN, "output zero point must be -128")
    input_in_q4, saturation = _input_in_q4(ctx, input_)
    output_in_q0 = fixedpoint.logistic(input_in_q4, _INPUT_INTEGER_BITS)
    output_in_q8 = rounding_divide_by_pot(output_in_q0, 31 - 8)
    output = np.clip(output_in_q8 + INT8_MIN, INT8_MIN, INT8_MAX)
    return LookupParams(np.where(saturation != 0, saturation, output).astype(np.int8))


def prepare_relu(ctx: OpContext) -> LookupParams:
    """ReluQuantized: a rescale from input to output scale, then a clamp at real zero.

    The multiplier is the float32 quotient of the scales; the clamp is the output zero point.
    """
    input_, output = _unary_int8(ctx)
    real_multiplier = float(np.float32(input_.quant.scale) / np.float32(output.quant.scale))
    output_multiplier, output_shift = checked_multiplier(ctx, real_multiplier)
    rescaled = multiply_by_quantized_multiplier(
        INT8_BY_BYTE - input_.quant.zero_point, output_multiplier, output_shift)
    quantized_activation_min = max(INT8_MIN, output.quant.zero_point)
    table = np.clip(output.quant.zero_point + rescaled, quantized_activation_min, INT8_MAX)
    return LookupParams(table.astype(np.int8))


def prepare_relu6(ctx: OpContext) -> LookupParams:
    """Relu6Quantized: a clamp to [zero, six] on the input's own scale, with no rescale."""
    input_, _ = _unary_int8(ctx)
    zero = input_.quant.zero_point
    six = _float_to_quantized(6.0, input_.quant.scale, zero)
    table = np.minimum(np.maximum(INT8_BY_BYTE, zero), six)
    return LookupParams(table.astype(np.int8))


def _float_to_quantized(value: float, scale: float, zero_point: int) -> int:
    """micro_utils FloatToQuantizedType<int8_t>: round(value / scale) + zero_point in float32.

    A quotient beyond int32 converts, as on x86, to INT32_MIN before the clamp.
    """
    quotient = np.float32(value) / np.float32(scale)
    total = np.float32(round_half_away(float(quotient)) if np.isfinite(quotient) else quotient)
    total = total + np.float32(zero_point)
    result = int(total) if np.isfinite(total) and abs(total) < 2**31 else INT32_MIN
    return min(max(result, INT8_MIN), INT8_MAX)
