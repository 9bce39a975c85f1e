"""SOFTMAX on int8, as reference/softmax.h for int8 input and int8 output.

TFLM's int8 path is gemmlowp fixed point, not a lookup table (its LUTs serve int16 only): each
input's distance below the row maximum is rescaled by beta * input_scale into Q5.26, exp() is
gemmlowp's exp_on_negative_values, the exps are summed in Q12.19, and the reciprocal of the sum
comes from one_over_one_plus_x_for_x_in_0_1. The reference kernel computes exp() of every
element; the distance is one of 256 values, so the fast path (speed.py) gathers it from
SoftmaxParams.exp_table instead.
"""
import math
from dataclasses import dataclass

import numpy as np

from firmware_sim.emulator.kernels import fixedpoint
from firmware_sim.emulator.kernels.common import INT8_MAX, INT8_MIN, OpContext
from firmware_sim.emulator.kernels.requantize import (
    multiply_by_quantized_multiplier_greater_than_one, quantize_multiplier,
    rounding_divide_by_pot, saturating_rounding_doubling_high_mul)

_SCALED_DIFF_INTEGER_BITS = 5
_ACCUMULATION_INTEGER_BITS = 12
# each exp adds at most 2**19 to the Q12.19 sum, which must stay below 2**31
MAX_DEPTH = 4095


@dataclass(frozen=True)
class SoftmaxParams:
    """TFLM's SoftmaxParams for int8: beta * input_scale in Q5.26 and the cut-off distance."""

    input_multiplier: int
    input_left_shift: int
    diff_min: int  # <= 0: inputs further below the row maximum contribute nothing

    def exps(self, input_diff: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(exp of input_diff <= 0 in Q0.31, 0 where input_diff < diff_min; the in-range mask)."""
        in_range = input_diff >= self.diff_min
        input_diff_rescaled = multiply_by_quantized_multiplier_greater_than_one(
            np.where(in_range, input_diff, 0), self.input_multiplier, self.input_left_shift)
        exp_in_0 = np.where(in_range, fixedpoint.exp_on_negative_values(
            input_diff_rescaled, _SCALED_DIFF_INTEGER_BITS), 0)
        return exp_in_0, in_range

    @property
    def exp_table(self) -> np.ndarray:
        """exps of the 256 distances d = max - input (index d), as the firmware reads them."""
        return self.exps(-np.arange(256, dtype=np.int64))[0]

    @property
    def in_range(self) -> np.ndarray:
        return self.exps(-np.arange(256, dtype=np.int64))[1]


def prepare_softmax(ctx: OpContext) -> SoftmaxParams:
    """CalculateSoftmaxParams for int8 -> int8, with PreprocessSoftmaxScaling."""
    ctx.expect_arity((1,))
    input_, output = ctx.input(0), ctx.output()
    ctx.expect_dtype(input_, "int8", "input")
    ctx.expect_dtype(output, "int8", "output")
    ctx.expect_shape(output, input_.shape, "output")
    ctx.ensure(len(input_.shape) >= 1 and input_.shape[-1] <= MAX_DEPTH,
               f"softmax runs over 1 to {MAX_DEPTH} values")
    ctx.ensure(output.quant.zero_point == INT8_MIN and output.quant.scale == np.float32(1 / 256),
               "output scale must be 1/256 and zero point -128")
    input_beta_multiplier, input_beta_left_shift = _preprocess_softmax_scaling(
        ctx, float(np.float32(ctx.op.options["beta"])), input_.quant.scale)
    # CalculateInputRadius(5, left_shift): larger differences contribute nothing
    diff_min = -math.floor(((1 << _SCALED_DIFF_INTEGER_BITS) - 1)
                           * (1 << (31 - _SCALED_DIFF_INTEGER_BITS))
                           / (1 << input_beta_left_shift))
    return SoftmaxParams(input_beta_multiplier, input_beta_left_shift, diff_min)


def _preprocess_softmax_scaling(ctx: OpContext, beta: float, input_scale: float):
    """PreprocessSoftmaxScaling: beta * input_scale in Q5.26, as (multiplier, left shift) > 1."""
    max_real_multiplier = (1 << 31) - 1.0
    input_beta_real_multiplier = min(
        beta * input_scale * (1 << (31 - _SCALED_DIFF_INTEGER_BITS)), max_real_multiplier)
    ctx.ensure(input_beta_real_multiplier > 1.0, "beta * input scale is too small")
    return quantize_multiplier(input_beta_real_multiplier)


def softmax(op_data: SoftmaxParams, input_data: np.ndarray) -> np.ndarray:
    """Softmax over the last axis of a batch, exp() computed on every element."""
    rows = input_data.reshape(-1, input_data.shape[-1]).astype(np.int64)
    input_diff = rows - rows.max(axis=1, keepdims=True)
    exp_in_0, in_range = op_data.exps(input_diff)
    return normalise(exp_in_0, accumulation_exps(exp_in_0), in_range).reshape(input_data.shape)


def accumulation_exps(exp_in_0: np.ndarray) -> np.ndarray:
    """exps from Q0.31 to the Q12.19 they are summed in."""
    return fixedpoint.rescale(exp_in_0, 0, _ACCUMULATION_INTEGER_BITS)


def normalise(exp_in_0: np.ndarray, exp_in_q12: np.ndarray, in_range: np.ndarray) -> np.ndarray:
    """Rows of exps (Q0.31) and the same in Q12.19 -> int8 outputs: exp / sum of exps."""
    sum_of_exps = exp_in_q12.sum(axis=1, keepdims=True)
    shifted_scale, num_bits_over_unit = get_reciprocal(sum_of_exps, _ACCUMULATION_INTEGER_BITS)
    exponent = num_bits_over_unit + 31 - 8
    unsat_output = rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(shifted_scale, exp_in_0), exponent)
    output = np.clip(unsat_output + INT8_MIN, INT8_MIN, INT8_MAX)
    return np.where(in_range, output, INT8_MIN).astype(np.int8)


def get_reciprocal(x: np.ndarray, x_integer_digits: int):
    """GetReciprocal: (1 / x as Q0.31 shifted into [1/2, 1), number of bits x is above 1.0)."""
    headroom_plus_one = 32 - np.frexp(x.astype(np.float64))[1]  # leading zeros of uint32 x
    num_bits_over_unit = x_integer_digits - headroom_plus_one
    shifted_sum_minus_one = (x << headroom_plus_one) - (1 << 31)
    return fixedpoint.one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one), num_bits_over_unit
