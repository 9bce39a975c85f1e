"""TFLite Micro's requantization arithmetic, vectorised over numpy int64 arrays.

TFLM scales an int32 accumulator by a real multiplier m = M * 2**(shift - 31), with M a Q0.31
significand in [2**30, 2**31). The PyPI tflite-micro build leaves TFLITE_SINGLE_ROUNDING off, so
MultiplyByQuantizedMultiplier rounds twice, as gemmlowp does:
    RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x * 2**left_shift, M), right_shift)
The first rounding is half up (the "nudge" of the high multiply), the second half away from zero;
LiteRT's single-rounding path can therefore differ from TFLM in the last bit.

Values are carried in int64 so products never overflow numpy; each function states where TFLM
itself would wrap an int32 and wraps the same way.
"""
import math

import numpy as np

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def round_half_away(x: float) -> int:
    """std::round (TfLiteRound) on a double, exactly: halves go away from zero."""
    if x < 0:
        return -round_half_away(-x)
    floor = math.floor(x)
    return int(floor) + (1 if x - floor >= 0.5 else 0)


def quantize_multiplier(real_multiplier: float) -> tuple[int, int]:
    """QuantizeMultiplier: (M, shift) with real_multiplier ~= M * 2**(shift - 31).

    As in TFLM: a significand that rounds up to 2**31 is halved and the shift incremented, and a
    multiplier below about 2**-31 (shift < -31) is flushed to zero.
    """
    if real_multiplier == 0.0:
        return 0, 0
    significand, shift = math.frexp(real_multiplier)
    q_fixed = round_half_away(significand * (1 << 31))
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q_fixed, shift


def wrap_int32(x: np.ndarray) -> np.ndarray:
    """Two's-complement wrap of int64 values to the int32 range, as the C++ arithmetic does."""
    return ((x - INT32_MIN) & 0xFFFFFFFF) + INT32_MIN


def saturating_rounding_doubling_high_mul(a: np.ndarray, b) -> np.ndarray:
    """gemmlowp SaturatingRoundingDoublingHighMul on int32 values held in int64.

    (a*b + nudge) / 2**31 with C's truncating division and nudge = +-2**30 equals
    floor((a*b + 2**30) / 2**31): ties round up. The only overflow, INT32_MIN * INT32_MIN,
    saturates to INT32_MAX.
    """
    a = np.asarray(a, dtype=np.int64)
    result = (a * b + (1 << 30)) >> 31
    return np.where((a == INT32_MIN) & (np.asarray(b) == INT32_MIN), INT32_MAX, result)


def rounding_divide_by_pot(x: np.ndarray, exponent) -> np.ndarray:
    """gemmlowp RoundingDivideByPOT: x / 2**exponent rounded to nearest, ties away from zero."""
    exponent = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def multiply_by_quantized_multiplier(x: np.ndarray, quantized_multiplier, shift) -> np.ndarray:
    """MultiplyByQuantizedMultiplier (double rounding) on int32 values held in int64.

    quantized_multiplier and shift are scalars or arrays broadcasting against x (per channel on
    the last axis). A positive shift multiplies x by 2**shift first, wrapping in int32 as TFLM's
    `x * (1 << left_shift)` does; a negative one becomes the rounding right shift.
    """
    shift = np.asarray(shift, dtype=np.int64)
    left_shift = np.maximum(shift, 0)
    right_shift = np.maximum(-shift, 0)
    x = np.asarray(x, dtype=np.int64)
    if np.any(left_shift):
        x = wrap_int32(x << left_shift)
    high = saturating_rounding_doubling_high_mul(x, quantized_multiplier)
    return rounding_divide_by_pot(high, right_shift)


def multiply_by_quantized_multiplier_smaller_than_one_exp(x, quantized_multiplier, left_shift):
    """MultiplyByQuantizedMultiplierSmallerThanOneExp: left_shift <= 0, no pre-shift."""
    high = saturating_rounding_doubling_high_mul(x, quantized_multiplier)
    return rounding_divide_by_pot(high, -np.asarray(left_shift, dtype=np.int64))


def multiply_by_quantized_multiplier_greater_than_one(x, quantized_multiplier, left_shift):
    """MultiplyByQuantizedMultiplierGreaterThanOne: x * 2**left_shift wraps, then high mul."""
    shifted = wrap_int32(np.asarray(x, dtype=np.int64) << np.int64(left_shift))
    return saturating_rounding_doubling_high_mul(shifted, quantized_multiplier)
