/* Integer arithmetic shared by the lenet-edge kernels: requantization, clamps, packed MACs.
 *
 * Part of the hand-written runtime of firmware_sim.firmware; each kernel mirrors one of
 * firmware_sim/emulator/kernels/ (Python) and uses the parameters that the emulator's prepare step computed.
 */
#ifndef NN_ARITH_H
#define NN_ARITH_H

#include <stdint.h>

#define NN_INLINE static inline __attribute__((always_inline))

/* A word of int8 weights or of two int16 activations; may alias the int8/int16 arrays. */
typedef uint32_t __attribute__((may_alias)) nn_word_t;

/* ---- packed 16-bit multiply-accumulate ------------------------------------------------------
 * Weights stay int8 in flash; a word of four is split by SXTB16 into two pairs of int16, so the
 * emitter stores each group of four weights as w0 w2 w1 w3 and SXTB16 yields (w0, w1), and
 * SXTB16 of the word rotated by 8 yields (w2, w3). Activations sit in int16 patches in natural
 * order, so SMLAD adds w0*x0 + w1*x1 in one instruction. Cortex-M4/M7 have both instructions;
 * elsewhere (Cortex-M3, a host build) the same results come from plain C. */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
NN_INLINE uint32_t nn_sxtb16(uint32_t x) {
  uint32_t r;
  __asm__("sxtb16 %0, %1" : "=r"(r) : "r"(x));
  return r;
}
NN_INLINE uint32_t nn_sxtb16_ror8(uint32_t x) {
  uint32_t r;
  __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
  return r;
}
NN_INLINE int32_t nn_smlad(uint32_t a, uint32_t b, int32_t acc) {
  int32_t r;
  __asm__("smlad %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
  return r;
}
#else
NN_INLINE uint32_t nn_sxtb16(uint32_t x) {
  return ((uint32_t)(int32_t)(int8_t)x & 0xFFFFu) | ((uint32_t)(int32_t)(int8_t)(x >> 16) << 16);
}
NN_INLINE uint32_t nn_sxtb16_ror8(uint32_t x) { return nn_sxtb16((x >> 8) | (x << 24)); }
NN_INLINE int32_t nn_smlad(uint32_t a, uint32_t b, int32_t acc) {
  /* sums wrap modulo 2**32, as SMLAD's (and TFLM's int32 accumulator) do */
  int32_t lo = (int16_t)a * (int16_t)b, hi = (int16_t)(a >> 16) * (int16_t)(b >> 16);
  return (int32_t)((uint32_t)acc + (uint32_t)lo + (uint32_t)hi);
}
#endif

NN_INLINE int32_t nn_mla(int32_t acc, int32_t a, int32_t b) {
  return (int32_t)((uint32_t)acc + (uint32_t)(a * b));
}

/* ---- the signed 32x32 -> 64-bit product of the requantization. ARMv6-M has no SMULL: GCC
 * calls __muldi3 (a 64x64 multiply) for it; four 16x16 MULS and the sign corrections are about
 * half of that. */
NN_INLINE int64_t nn_smull(int32_t a, int32_t b) {
#if defined(__ARM_ARCH_6M__)
  const uint32_t ua = (uint32_t)a, ub = (uint32_t)b;
  const uint32_t al = ua & 0xFFFFu, ah = ua >> 16, bl = ub & 0xFFFFu, bh = ub >> 16;
  const uint32_t ll = al * bl, lh = al * bh, hl = ah * bl;
  const uint32_t mid = (ll >> 16) + (lh & 0xFFFFu) + (hl & 0xFFFFu);
  uint32_t hi = ah * bh + (lh >> 16) + (hl >> 16) + (mid >> 16);
  hi -= (a < 0 ? ub : 0u) + (b < 0 ? ua : 0u);  /* unsigned product to signed */
  return (int64_t)(((uint64_t)hi << 32) | ((ll & 0xFFFFu) | (mid << 16)));
#else
  return (int64_t)a * b;
#endif
}

/* ---- requantization ---------------------------------------------------------------------------
 * TFLM's MultiplyByQuantizedMultiplier rounds twice: SaturatingRoundingDoublingHighMul (ties up),
 * then RoundingDivideByPOT by e = -shift (ties away from zero). The two floors nest into one:
 *     floor((x*M + 2**30 + 2**(30+e) - [x < 0] * 2**31) / 2**(31+e))          (e >= 1)
 *     floor((x*M + 2**30) / 2**31)                                             (e == 0)
 * (the doubling high multiply never saturates: M is positive). With a left shift (shift > 0)
 * x is first multiplied by 2**shift, wrapping in int32 as TFLM's `x * (1 << left_shift)` does.
 * One 64-bit multiply-add and a shift per value; tests/test_firmware.py checks it against
 * firmware_sim.emulator.kernels.requantize on edge cases. */
typedef struct {
  int32_t multiplier;
  int32_t left, right;
  int64_t round_positive, round_negative;  /* the constant for x >= 0 and for x < 0 */
} nn_rq_t;

NN_INLINE int64_t nn_words(int32_t high, uint32_t low) {
  return (int64_t)(((uint64_t)(uint32_t)high << 32) | low);
}

/* The rounding constants of a multiplier, built from 32-bit halves (no 64-bit variable shift):
 * 2**30 + 2**(30+right), and that minus 2**31 for negative x. */
NN_INLINE nn_rq_t nn_rq(int32_t multiplier, int32_t shift) {
  nn_rq_t r;
  r.multiplier = multiplier;
  r.left = shift > 0 ? shift : 0;
  r.right = shift > 0 ? 0 : -shift;
  if (r.right == 0) {
    r.round_positive = r.round_negative = 1 << 30;
  } else if (r.right == 1) {
    r.round_positive = 0xC0000000u;
    r.round_negative = 0x40000000u;
  } else {
    int32_t high = 1 << (r.right - 2);
    r.round_positive = nn_words(high, 0x40000000u);
    r.round_negative = nn_words(high - 1, 0xC0000000u);
  }
  return r;
}

NN_INLINE int32_t nn_rq_apply(const nn_rq_t *r, int32_t x) {
  x = (int32_t)((uint32_t)x << r->left);
  int64_t t = (x < 0 ? r->round_negative : r->round_positive) + nn_smull(x, r->multiplier);
  /* a shift by 31 + right >= 32 is the high word shifted by right - 1 */
  return r->right ? (int32_t)(t >> 32) >> (r->right - 1) : (int32_t)(t >> 31);
}

/* The usual case, shift <= -2 (every LeNet layer): no left shift, and the rounding constant
 * 2**30 + 2**(30+right) is the words (1 << (right-2), 0x40000000); minus 2**31 for x < 0. */
typedef struct {
  int32_t multiplier, high, right_minus_1;
} nn_rqf_t;

NN_INLINE nn_rqf_t nn_rqf(int32_t multiplier, int32_t shift) {
  nn_rqf_t r = {multiplier, 1 << (-shift - 2), -shift - 1};
  return r;
}

NN_INLINE int32_t nn_rqf_apply(const nn_rqf_t *r, int32_t x) {
  int64_t t = x < 0 ? nn_words(r->high - 1, 0xC0000000u) : nn_words(r->high, 0x40000000u);
  t += nn_smull(x, r->multiplier);
  return (int32_t)(t >> 32) >> r->right_minus_1;
}

/* Two int8 values as an int16 pair (PKHBT) */
NN_INLINE uint32_t nn_pack(int32_t low, int32_t high) {
  return ((uint32_t)low & 0xFFFFu) | ((uint32_t)high << 16);
}

NN_INLINE int32_t nn_requantize(int32_t x, int32_t multiplier, int32_t shift) {
  nn_rq_t r = nn_rq(multiplier, shift);
  return nn_rq_apply(&r, x);
}

NN_INLINE int32_t nn_clamp(int32_t x, int32_t lo, int32_t hi) {
  return x < lo ? lo : (x > hi ? hi : x);
}

/* Saturate to int8 (one SSAT on ARMv7-M and ARMv8-M Mainline; ARMv6-M, the Cortex-M0, has
 * none and compares). */
NN_INLINE int32_t nn_sat8(int32_t x) {
#if defined(__ARM_FEATURE_SAT) && __ARM_FEATURE_SAT
  int32_t r;
  __asm__("ssat %0, #8, %1" : "=r"(r) : "r"(x));
  return r;
#else
  return nn_clamp(x, -128, 127);
#endif
}

/* ---- tables -----------------------------------------------------------------------------------
 * One convention for every table over an 8-bit input (activations, QUANTIZE/DEQUANTIZE, the
 * tables fused after a kernel): entries in increasing order of the input, lowest first. An int8
 * input's table thus starts at -128 and value v is entry v + 128; the kernels take the pointer
 * to entry 128 once (nn_table_origin) and index it with the signed value, which costs no masking
 * or offset per lookup. (normalize.c's table is over a uint8 field value: entry v, 0 first.)
 * The emitters reorder the emulator's tables, which are indexed by the input's raw byte. */
NN_INLINE const int8_t *nn_table_origin(const int8_t *table) { return table ? table + 128 : 0; }

/* nn_rqf_apply, the output offset, int8 saturation and a table (origin as above) in one: about
 * ten instructions. The rounding constant's words come from the sign without a branch. */
NN_INLINE int32_t nn_rqf_lookup(int32_t x, int32_t multiplier, int32_t high,
                                int32_t right_minus_1, int32_t output_offset,
                                const int8_t *table) {
  int32_t sign = x >> 31;
  int64_t t = nn_words(high + sign, 0x40000000u | ((uint32_t)sign & 0x80000000u));
  t += nn_smull(x, multiplier);
  return table[nn_sat8(((int32_t)(t >> 32) >> right_minus_1) + output_offset)];
}

#endif
