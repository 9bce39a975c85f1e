"""gemmlowp's fixed-point transcendental functions (fixedpoint.h), as TFLM's int8 kernels use them.

A value is the raw int32 of a Q(integer_bits).(31 - integer_bits) number, held in an int64 numpy
array. `+` and `-` of gemmlowp FixedPoint wrap in int32, multiplication is
SaturatingRoundingDoublingHighMul, and Rescale is a saturating left shift or a rounding right
shift. The functions run over whole arrays; the int8 kernels call them once per possible input
byte (256 values) in prepare and keep the results as lookup tables.
"""
import numpy as np

from firmware_sim.emulator.kernels.requantize import (INT32_MAX, INT32_MIN, rounding_divide_by_pot,
                                             saturating_rounding_doubling_high_mul, wrap_int32)

_mul = saturating_rounding_doubling_high_mul


def _add(a, b):
    return wrap_int32(np.asarray(a, dtype=np.int64) + b)


def _sub(a, b):
    return wrap_int32(np.asarray(a, dtype=np.int64) - b)


def _neg(a):
    return wrap_int32(-np.asarray(a, dtype=np.int64))


def saturating_rounding_multiply_by_pot(x: np.ndarray, exponent: int) -> np.ndarray:
    """x * 2**exponent: saturating for exponent > 0, rounding to nearest for exponent < 0."""
    if exponent < 0:
        return rounding_divide_by_pot(x, -exponent)
    if exponent == 0:
        return x
    threshold = (1 << (31 - exponent)) - 1
    shifted = np.asarray(x, dtype=np.int64) << exponent
    return np.where(x > threshold, INT32_MAX, np.where(x < -threshold, INT32_MIN, shifted))


def rescale(x: np.ndarray, integer_bits_src: int, integer_bits_dst: int) -> np.ndarray:
    return saturating_rounding_multiply_by_pot(x, integer_bits_src - integer_bits_dst)


def rounding_half_sum(a: np.ndarray, b) -> np.ndarray:
    """(a + b) / 2 rounded away from zero: C's truncating (sum + sign) / 2 in 64 bits."""
    total = np.asarray(a, dtype=np.int64) + b
    total = total + np.where(total >= 0, 1, -1)
    return np.where(total >= 0, total >> 1, -((-total) >> 1))


def exp_on_interval_between_negative_one_quarter_and_0_excl(a: np.ndarray) -> np.ndarray:
    """exp(a) for a in [-1/4, 0), Q0.31: Taylor expansion around -1/8."""
    constant_term = 1895147668  # exp(-1/8)
    constant_1_over_3 = 715827883
    x = _add(a, 1 << 28)  # a + 1/8
    x2 = _mul(x, x)
    x3 = _mul(x2, x)
    x4 = _mul(x2, x2)
    x4_over_4 = saturating_rounding_multiply_by_pot(x4, -2)
    x4_over_24_plus_x3_over_6_plus_x2_over_2 = saturating_rounding_multiply_by_pot(
        _add(_mul(_add(x4_over_4, x3), constant_1_over_3), x2), -1)
    return _add(constant_term,
                _mul(constant_term, _add(x, x4_over_24_plus_x3_over_6_plus_x2_over_2)))


# exp(-2**k) in Q0.31 for the barrel shifter, k = -2 .. 4
_EXP_OF_MINUS_POWER_OF_TWO = ((-2, 1672461947), (-1, 1302514674), (0, 790015084),
                              (1, 290630308), (2, 39332535), (3, 720401), (4, 242))


def exp_on_negative_values(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """exp(a) for a <= 0 given in Q(integer_bits); the result is Q0.31."""
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    a = np.asarray(a, dtype=np.int64)
    a_mod_quarter_minus_one_quarter = _sub(a & (one_quarter - 1), one_quarter)
    result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        rescale(a_mod_quarter_minus_one_quarter, integer_bits, 0))
    remainder = _sub(a_mod_quarter_minus_one_quarter, a)
    # Multiply in exp(-2**k) for every bit of the whole-quarters part of -a.
    for exponent, multiplier in _EXP_OF_MINUS_POWER_OF_TWO:
        if integer_bits > exponent:
            bit = 1 << (fractional_bits + exponent)
            result = np.where(remainder & bit, _mul(result, multiplier), result)
    if integer_bits > 5:  # below -32 the result rounds to zero
        result = np.where(a < -(1 << (36 - integer_bits)), 0, result)
    return np.where(a == 0, INT32_MAX, result)


def _newton_raphson_reciprocal(half_denominator: np.ndarray) -> np.ndarray:
    """1 / half_denominator in Q2.29 for half_denominator in [1/2, 1): three Newton steps."""
    constant_48_over_17 = 1515870810
    constant_neg_32_over_17 = -1010580540
    one_q2 = 1 << 29
    x = _add(constant_48_over_17, _mul(half_denominator, constant_neg_32_over_17))
    for _ in range(3):
        half_denominator_times_x = _mul(half_denominator, x)
        one_minus_half_denominator_times_x = _sub(one_q2, half_denominator_times_x)
        x = _add(x, rescale(_mul(x, one_minus_half_denominator_times_x), 4, 2))
    return x


def one_over_one_plus_x_for_x_in_0_1(a: np.ndarray) -> np.ndarray:
    """1 / (1 + a) for a in Q0.31 within [0, 1); the result is Q0.31."""
    x = _newton_raphson_reciprocal(rounding_half_sum(a, INT32_MAX))
    return rescale(x, 1, 0)  # ExactMulByPot<-1> turns Q2 into Q1 without touching the raw bits


def one_minus_x_over_one_plus_x_for_x_in_0_1(a: np.ndarray) -> np.ndarray:
    """(1 - a) / (1 + a) for a in Q0.31 within [0, 1); the result is Q0.31."""
    x = _newton_raphson_reciprocal(rounding_half_sum(a, INT32_MAX))
    return rescale(_sub(x, 1 << 29), 2, 0)


def tanh(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """tanh of a Q(integer_bits) value as Q0.31, via -tanh(x) = (1 - e^(2x)) / (1 + e^(2x))."""
    a = np.asarray(a, dtype=np.int64)
    negative_input = np.where(a < 0, a, _neg(a))
    # Doubling the argument is free: the same raw bits read with one more integer bit.
    neg_tanh = one_minus_x_over_one_plus_x_for_x_in_0_1(
        exp_on_negative_values(negative_input, integer_bits + 1))
    return np.where(a == 0, 0, np.where(a < 0, _neg(neg_tanh), neg_tanh))


def logistic(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """1 / (1 + e^-a) of a Q(integer_bits) value as Q0.31."""
    a = np.asarray(a, dtype=np.int64)
    abs_input = np.where(a > 0, a, _neg(a))
    result_if_positive = one_over_one_plus_x_for_x_in_0_1(
        exp_on_negative_values(_neg(abs_input), integer_bits))
    result_if_negative = _sub(INT32_MAX, result_if_positive)
    return np.where(a == 0, 1 << 30,
                    np.where(a > 0, result_if_positive, result_if_negative))
