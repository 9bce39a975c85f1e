/* Integer arithmetic shared by the lenet-edge kernels: requantization, clamps, packed MACs.
 *
 * Part of the hand-written runtime of firmware_sim.codegen; each kernel mirrors one of
 * firmware_sim/kernels/*.py and uses the parameters that the emulator's prepare step computed.
 */
#ifndef NN_ARITH_H
#define NN_ARITH_H

#include <stdint.h>

#define NN_INLINE static inline __attribute__((always_inline))

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

/* ---- requantization ---------------------------------------------------------------------------
 * TFLM's MultiplyByQuantizedMultiplier rounds twice: SaturatingRoundingDoublingHighMul (ties up),
 * then RoundingDivideByPOT by e = -shift (ties away from zero). The two floors nest into one:
 *     floor((x*M + 2**30 + 2**(30+e) - [x < 0] * 2**31) / 2**(31+e))          (e >= 1)
 *     floor((x*M + 2**30) / 2**31)                                             (e == 0)
 * (the doubling high multiply never saturates: M is positive). With a left shift (shift > 0)
 * x is first multiplied by 2**shift, wrapping in int32 as TFLM's `x * (1 << left_shift)` does.
 * One 64-bit multiply-add and a shift per value; tests/test_firmware.py checks it against
 * firmware_sim.kernels.requantize on edge cases. */
typedef struct {
  int32_t multiplier;
  int32_t left, right;
  int64_t round;  /* for x >= 0 */
} nn_rq_t;

NN_INLINE nn_rq_t nn_rq(int32_t multiplier, int32_t shift) {
  nn_rq_t r;
  r.multiplier = multiplier;
  r.left = shift > 0 ? shift : 0;
  r.right = shift > 0 ? 0 : -shift;
  r.round = ((int64_t)1 << 30) + (r.right ? ((int64_t)1 << (30 + r.right)) : 0);
  return r;
}

NN_INLINE int32_t nn_rq_apply(const nn_rq_t *r, int32_t x) {
  x = (int32_t)((uint32_t)x << r->left);
  int64_t t = r->round + (int64_t)x * r->multiplier;
  if (r->right == 0) return (int32_t)(t >> 31);
  if (x < 0) t -= (int64_t)1 << 31;
  return (int32_t)(t >> 32) >> (r->right - 1);
}

NN_INLINE int32_t nn_requantize(int32_t x, int32_t multiplier, int32_t shift) {
  nn_rq_t r = nn_rq(multiplier, shift);
  return nn_rq_apply(&r, x);
}

NN_INLINE int32_t nn_clamp(int32_t x, int32_t lo, int32_t hi) {
  return x < lo ? lo : (x > hi ? hi : x);
}

/* An int8 value as a table index: its byte, 0..255 (tables are indexed like the emulator's). */
NN_INLINE uint32_t nn_byte(int32_t v) { return (uint32_t)v & 0xFFu; }

#endif
