/* ADD and MUL on int8 with broadcasting: firmware_sim/emulator/kernels/elementwise.py, i.e. TFLM's
 * reference/integer_ops/add.h AddFunc and mul.h MulElementwise. ADD brings both inputs to a
 * common scale with 20 bits of headroom, adds, and rescales once more; MUL multiplies the offset
 * inputs and rescales once. Shapes are padded to 4 dimensions; a broadcast input has stride 0.
 */
#include "nn_arith.h"
#include "nn_ops.h"

#define ADD_LEFT_SHIFT 20

static int32_t binary_value(const nn_binary_t *p, const int8_t *table, int32_t a, int32_t b) {
  int32_t input1_val = a + p->input1_offset, input2_val = b + p->input2_offset;
  int32_t raw;
  if (p->is_mul) {
    raw = nn_requantize(input1_val * input2_val, p->output_multiplier, p->output_shift);
  } else {
    int32_t scaled1 = nn_requantize(input1_val * (1 << ADD_LEFT_SHIFT), p->input1_multiplier,
                                    p->input1_shift);
    int32_t scaled2 = nn_requantize(input2_val * (1 << ADD_LEFT_SHIFT), p->input2_multiplier,
                                    p->input2_shift);
    raw = nn_requantize(scaled1 + scaled2, p->output_multiplier, p->output_shift);
  }
  int32_t v = nn_clamp(raw + p->output_offset, p->act_min, p->act_max);
  return table ? table[v] : v;
}

void nn_binary(const nn_binary_t *p, const int8_t *input1, const int8_t *input2, int8_t *output) {
  const int8_t *table = nn_table_origin(p->table);
  for (uint32_t i0 = 0; i0 < p->shape[0]; i0++)
    for (uint32_t i1 = 0; i1 < p->shape[1]; i1++)
      for (uint32_t i2 = 0; i2 < p->shape[2]; i2++)
        for (uint32_t i3 = 0; i3 < p->shape[3]; i3++) {
          uint32_t a = i0 * p->stride1[0] + i1 * p->stride1[1] + i2 * p->stride1[2] +
                       i3 * p->stride1[3];
          uint32_t b = i0 * p->stride2[0] + i1 * p->stride2[1] + i2 * p->stride2[2] +
                       i3 * p->stride2[3];
          *output++ = (int8_t)binary_value(p, table, input1[a], input2[b]);
        }
}
