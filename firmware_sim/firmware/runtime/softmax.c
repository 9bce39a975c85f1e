/* SOFTMAX int8 -> int8: firmware_sim/emulator/kernels/softmax.py, i.e. TFLM's reference/softmax.h.
 *
 * The emulator's prepare step tabulated exp() of every distance d = max - x (gemmlowp's
 * exp_on_negative_values of the rescaled difference, Q0.31); the emitter keeps the distances
 * whose exp is not 0 (farther ones output -128). The kernel sums the exps rescaled to Q12.19
 * (the emulator's accumulation_table), takes gemmlowp's reciprocal of the sum, and scales each
 * exp by it: integer operations only, as in TFLM.
 */
#include "nn_arith.h"
#include "nn_ops.h"

/* gemmlowp fixed point on raw int32 values: + and - wrap, * is the rounding doubling high mul */
static int32_t fx_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static int32_t fx_sub(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }

static int32_t fx_mul(int32_t a, int32_t b) {  /* SaturatingRoundingDoublingHighMul */
  if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
  int64_t ab = (int64_t)a * b;
  int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
  return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* exponents reach 34 for long rows, hence 64 bits */
static int32_t rounding_divide_by_pot(int32_t x, int exponent) {
  int64_t mask = ((int64_t)1 << exponent) - 1;
  int64_t remainder = x & mask, threshold = (mask >> 1) + (x < 0);
  return (int32_t)(((int64_t)x >> exponent) + (remainder > threshold));
}

static int32_t saturating_multiply_by_pot(int32_t x, int exponent) {  /* exponent > 0 */
  int32_t threshold = (int32_t)(((uint32_t)1 << (31 - exponent)) - 1u);
  if (x > threshold) return INT32_MAX;
  if (x < -threshold) return INT32_MIN;
  return (int32_t)((uint32_t)x << exponent);
}

/* 1 / half_denominator for half_denominator in [1/2, 1) (Q0.31), in Q2.29: Newton-Raphson. */
static int32_t reciprocal_q2(int32_t half_denominator) {
  const int32_t constant_48_over_17 = 1515870810, constant_neg_32_over_17 = -1010580540;
  const int32_t one_q2 = 1 << 29;
  int32_t x = fx_add(constant_48_over_17, fx_mul(half_denominator, constant_neg_32_over_17));
  for (int i = 0; i < 3; i++) {
    int32_t one_minus_half_denominator_times_x = fx_sub(one_q2, fx_mul(half_denominator, x));
    x = fx_add(x, saturating_multiply_by_pot(fx_mul(x, one_minus_half_denominator_times_x), 2));
  }
  return x;
}

/* one_over_one_plus_x_for_x_in_0_1, Q0.31 in and out */
static int32_t one_over_one_plus_x(int32_t a) {
  int64_t sum = (int64_t)a + INT32_MAX;  /* RoundingHalfSum(a, 1): away from zero */
  int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
  return saturating_multiply_by_pot(reciprocal_q2(half_denominator), 1);
}

static uint32_t leading_zeros(uint32_t x) {
  uint32_t n = 0;
  for (; !(x & 0x80000000u); x <<= 1) n++;
  return n;
}

static void softmax_row(const nn_softmax_t *p, const int8_t *input, int8_t *output) {
  int32_t max = -128;
  for (uint32_t i = 0; i < p->depth; i++) max = input[i] > max ? input[i] : max;
  int32_t sum_of_exps = 0;  /* Q12.19; at most 4095 terms below 2**19 each */
  for (uint32_t i = 0; i < p->depth; i++) {
    uint32_t d = (uint32_t)(max - input[i]);
    if (d < p->table_size) sum_of_exps += rounding_divide_by_pot(p->exp_table[d], 12);
  }
  /* GetReciprocal(sum, 12): the sum shifted into [1, 2) and its reciprocal */
  uint32_t headroom_plus_one = leading_zeros((uint32_t)sum_of_exps);
  int32_t num_bits_over_unit = 12 - (int32_t)headroom_plus_one;
  int32_t shifted_sum_minus_one =
      (int32_t)(((uint32_t)sum_of_exps << headroom_plus_one) - 0x80000000u);
  int32_t shifted_scale = one_over_one_plus_x(shifted_sum_minus_one);
  for (uint32_t i = 0; i < p->depth; i++) {
    uint32_t d = (uint32_t)(max - input[i]);
    int32_t v = -128;
    if (d < p->table_size) {
      int32_t scaled = fx_mul(shifted_scale, p->exp_table[d]);
      v = nn_clamp(rounding_divide_by_pot(scaled, num_bits_over_unit + 31 - 8) - 128, -128, 127);
    }
    output[i] = (int8_t)v;
  }
}

void nn_softmax(const nn_softmax_t *p, const int8_t *input, int8_t *output) {
  for (uint32_t r = 0; r < p->rows; r++, input += p->depth, output += p->depth)
    softmax_row(p, input, output);
}
