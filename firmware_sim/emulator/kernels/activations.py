"""TANH, LOGISTIC, RELU and RELU6 on int8.

Prepare follows tanh.cc, logistic_common.cc and activations_common.cc and keeps TFLM's op data;
the kernels are the reference arithmetic on every element: reference/integer_ops/tanh.h and
logistic.h (gemmlowp fixed point on a Q4.27 input) and micro/kernels/activations.h
(ReluQuantized, Relu6Quantized). An int8 op of one int8 input is a function of 256 values:
every op data here is a LookupParams, whose `table` is its kernel on each input byte, which the
fast path (speed.py) and the firmware look up instead.
"""
import math
from dataclasses import dataclass

import numpy as np

from firmware_sim.emulator.kernels import fixedpoint
from firmware_sim.emulator.kernels.accumulate import checked_multiplier
from firmware_sim.emulator.kernels.common import INT8_MAX, INT8_MIN, OpContext
from firmware_sim.emulator.kernels.requantize import (INT32_MIN, multiply_by_quantized_multiplier,
                                                      round_half_away, rounding_divide_by_pot)

# Every int8 value, in the order of its byte: 0 .. 127, -128 .. -1.
INT8_BY_BYTE = np.arange(256, dtype=np.uint8).view(np.int8).astype(np.int64)
# tanh and logistic read their input as Q4.27 fixed point
_INPUT_INTEGER_BITS = 4


class LookupParams:
    """The op data of an int8 op of one int8 input (or DEQUANTIZE): subclasses name a reference
    kernel, and `table` holds its 256 outputs (int8; float32 for DEQUANTIZE) by input byte."""

    def kernel(self, input_data: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @property
    def table(self) -> np.ndarray:
        return self.kernel(INT8_BY_BYTE.astype(np.int8))


def evaluate(op_data: LookupParams, input_data: np.ndarray) -> np.ndarray:
    """The reference kernel of any LookupParams: its own arithmetic on every element."""
    return op_data.kernel(input_data)


@dataclass(frozen=True)
class Q4InputOpData(LookupParams):
    """What int8 tanh and logistic keep (OpDataTanh, OpDataLogistic): the input's rescale."""

    input_zero_point: int
    input_range_radius: int
    input_multiplier: int  # Q0.31
    input_left_shift: int  # >= 0


@dataclass(frozen=True)
class TanhOpData(Q4InputOpData):
    """Tanh for int8: the output is Q0.7 (scale 1/128, zero point 0)."""

    def kernel(self, input_data):
        input_in_q4, saturation = _input_in_q4(self, input_data)
        output_in_q0 = fixedpoint.tanh(input_in_q4, _INPUT_INTEGER_BITS)
        output_in_q7 = np.clip(rounding_divide_by_pot(output_in_q0, 31 - 7), INT8_MIN, INT8_MAX)
        return np.where(saturation != 0, saturation, output_in_q7).astype(np.int8)


@dataclass(frozen=True)
class LogisticOpData(Q4InputOpData):
    """Logistic for int8: the output has scale 1/256, zero point -128."""

    def kernel(self, input_data):
        input_in_q4, saturation = _input_in_q4(self, input_data)
        output_in_q0 = fixedpoint.logistic(input_in_q4, _INPUT_INTEGER_BITS)
        output_in_q8 = rounding_divide_by_pot(output_in_q0, 31 - 8)
        output = np.clip(output_in_q8 + INT8_MIN, INT8_MIN, INT8_MAX)
        return np.where(saturation != 0, saturation, output).astype(np.int8)


@dataclass(frozen=True)
class ReluOpData(LookupParams):
    """ReluOpData: the rescale from input to output scale and the clamp at real zero."""

    input_offset: int  # -input_zero_point
    output_offset: int  # +output_zero_point
    output_multiplier: int
    output_shift: int  # > 0 shifts left
    quantized_activation_min: int
    quantized_activation_max: int

    def kernel(self, input_data):
        rescaled = multiply_by_quantized_multiplier(
            input_data.astype(np.int64) + self.input_offset, self.output_multiplier,
            self.output_shift)
        return np.clip(self.output_offset + rescaled, self.quantized_activation_min,
                       self.quantized_activation_max).astype(np.int8)


@dataclass(frozen=True)
class Relu6OpData(LookupParams):
    """Relu6OpData: zero and six on the input's own scale."""

    zero: int
    six: int

    def kernel(self, input_data):
        return np.minimum(np.maximum(input_data, self.zero), self.six).astype(np.int8)


def _unary_int8(ctx: OpContext):
    ctx.expect_arity((1,))
    input_, output = ctx.input(0), ctx.output()
    ctx.expect_dtype(input_, "int8", "input")
    ctx.expect_dtype(output, "int8", "output")
    ctx.expect_shape(output, input_.shape, "output")
    return input_, output


def _tanh_op_data(ctx: OpContext, input_, cls):
    """CalculateArithmeticOpData for int8 tanh and logistic.

    TFLM splits input_scale * 2**27 by frexp into a Q0.31 input_multiplier and an
    input_left_shift; inputs at least input_range_radius away from the zero point saturate the
    output and are never rescaled (they could overflow int32).
    """
    significand, input_left_shift = math.frexp(input_.quant.scale
                                               * (1 << (31 - _INPUT_INTEGER_BITS)))
    ctx.ensure(0 <= input_left_shift <= 30, f"input scale {input_.quant.scale:g} is out of range")
    input_multiplier = round_half_away(significand * (1 << 31))
    # CalculateInputRadius: the largest input whose rescaled value stays below 2**4
    input_range_radius = math.floor(((1 << _INPUT_INTEGER_BITS) - 1)
                                    * (1 << (31 - _INPUT_INTEGER_BITS)) / (1 << input_left_shift))
    return cls(input_zero_point=input_.quant.zero_point, input_range_radius=input_range_radius,
               input_multiplier=input_multiplier, input_left_shift=input_left_shift)


def _input_in_q4(op_data: Q4InputOpData, input_data: np.ndarray):
    """Per element: the input rescaled to Q4.27 where it does not saturate, and the saturated
    output (INT8_MIN, INT8_MAX, or 0 where the input is rescaled)."""
    input_minus_zero_point = input_data.astype(np.int64) - op_data.input_zero_point
    radius = op_data.input_range_radius
    inside = np.clip(input_minus_zero_point, 1 - radius, radius - 1)
    input_in_q4 = multiply_by_quantized_multiplier(inside, op_data.input_multiplier,
                                                   op_data.input_left_shift)
    saturation = np.where(input_minus_zero_point <= -radius, INT8_MIN,
                          np.where(input_minus_zero_point >= radius, INT8_MAX, 0))
    return input_in_q4, saturation


def prepare_tanh(ctx: OpContext) -> TanhOpData:
    """Tanh: output scale 1/128, zero point 0 (TFLM assumes them and never reads them)."""
    input_, _ = _unary_int8(ctx)
    return _tanh_op_data(ctx, input_, TanhOpData)


def prepare_logistic(ctx: OpContext) -> LogisticOpData:
    """Logistic: output scale 1/256, zero point -128 (checked, as TFLM's prepare does)."""
    input_, output = _unary_int8(ctx)
    ctx.ensure(output.quant.zero_point == INT8_MIN, "output zero point must be -128")
    return _tanh_op_data(ctx, input_, LogisticOpData)


def prepare_relu(ctx: OpContext) -> ReluOpData:
    """ReluQuantized: a rescale from input to output scale, then a clamp at real zero.

    The multiplier is the float32 quotient of the scales; the clamp is the output zero point.
    """
    input_, output = _unary_int8(ctx)
    real_multiplier = float(np.float32(input_.quant.scale) / np.float32(output.quant.scale))
    output_multiplier, output_shift = checked_multiplier(ctx, real_multiplier)
    return ReluOpData(input_offset=-input_.quant.zero_point,  # sign flip: offset = -zero point
                      output_offset=output.quant.zero_point,
                      output_multiplier=output_multiplier, output_shift=output_shift,
                      quantized_activation_min=max(INT8_MIN, output.quant.zero_point),
                      quantized_activation_max=INT8_MAX)


def prepare_relu6(ctx: OpContext) -> Relu6OpData:
    """Relu6Quantized: a clamp to [zero, six] on the input's own scale, with no rescale."""
    input_, _ = _unary_int8(ctx)
    zero = input_.quant.zero_point
    return Relu6OpData(zero=zero, six=_float_to_quantized(6.0, input_.quant.scale, zero))


def _float_to_quantized(value: float, scale: float, zero_point: int) -> int:
    """micro_utils FloatToQuantizedType<int8_t>: round(value / scale) + zero_point in float32.

    A quotient beyond int32 converts, as on x86, to INT32_MIN before the clamp.
    """
    quotient = np.float32(value) / np.float32(scale)
    total = np.float32(round_half_away(float(quotient)) if np.isfinite(quotient) else quotient)
    total = total + np.float32(zero_point)
    result = int(total) if np.isfinite(total) and abs(total) < 2**31 else INT32_MIN
    return min(max(result, INT8_MIN), INT8_MAX)
