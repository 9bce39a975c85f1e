/* AVERAGE_POOL_2D and MAX_POOL_2D in general: firmware_sim/emulator/kernels/pooling.py, i.e. TFLM's
 * reference/integer_ops/pooling.h. Windows are clipped to the image; an average divides the
 * int32 sum by the pixels inside, rounding half away from zero; a max starts from int8's lowest
 * value. Input and output share scale and zero point (the emulator's prepare checks it), so
 * there is no rescale. (2x2 stride-2 pooling after a convolution runs fused inside the conv_*.c
 * variants.)
 */
#include "nn_arith.h"
#include "nn_ops.h"

static int32_t pool_window(const nn_pool_t *p, const int8_t *input, int32_t y0, int32_t x0,
                           uint32_t c) {
  int32_t y_start = y0 < 0 ? -y0 : 0, x_start = x0 < 0 ? -x0 : 0;
  int32_t y_end = p->in_h - y0 < p->filter_h ? p->in_h - y0 : p->filter_h;
  int32_t x_end = p->in_w - x0 < p->filter_w ? p->in_w - x0 : p->filter_w;
  int32_t acc = p->is_max ? -128 : 0, count = 0;
  for (int32_t fy = y_start; fy < y_end; fy++) {
    for (int32_t fx = x_start; fx < x_end; fx++) {
      int32_t v = input[((uint32_t)(y0 + fy) * p->in_w + (uint32_t)(x0 + fx)) * p->channels + c];
      acc = p->is_max ? (v > acc ? v : acc) : acc + v;
      count++;
    }
  }
  if (p->is_max) return acc;
  return (acc > 0 ? acc + count / 2 : acc - count / 2) / count;
}

void nn_pool(const nn_pool_t *p, const int8_t *input, int8_t *output) {
  const int8_t *table = nn_table_origin(p->table);
  for (uint32_t oy = 0; oy < p->out_h; oy++) {
    for (uint32_t ox = 0; ox < p->out_w; ox++) {
      int32_t y0 = (int32_t)(oy * p->stride_h) - p->pad_h;
      int32_t x0 = (int32_t)(ox * p->stride_w) - p->pad_w;
      for (uint32_t c = 0; c < p->channels; c++) {
        int32_t v = nn_clamp(pool_window(p, input, y0, x0, c), p->act_min, p->act_max);
        *output++ = (int8_t)(table ? table[v] : v);
      }
    }
  }
}
