/* DEPTHWISE_CONV_2D in general, int8 per channel: firmware_sim/emulator/kernels/conv.py
 * depthwise_conv_per_channel, i.e. TFLM's DepthwiseConvPerChannel. Output channel c reads input
 * channel c / depth_multiplier; taps in the padding are skipped, so the input offset is added
 * tap by tap here rather than folded into the bias. (The 2x2 stride-2 depthwise that follows a
 * convolution in LeNet runs fused inside the conv_*.c variants instead.)
 */
#include "nn_arith.h"
#include "nn_ops.h"

static int32_t depthwise_sum(const nn_depthwise_t *p, const int8_t *input, int32_t y0,
                             int32_t x0, uint32_t c) {
  const uint32_t ci = c / p->depth_multiplier;
  int32_t acc = p->bias[c];
  for (uint32_t fy = 0; fy < p->filter_h; fy++) {
    int32_t y = y0 + (int32_t)(fy * p->dil_h);
    if (y < 0 || y >= p->in_h) continue;
    for (uint32_t fx = 0; fx < p->filter_w; fx++) {
      int32_t x = x0 + (int32_t)(fx * p->dil_w);
      if (x < 0 || x >= p->in_w) continue;
      int32_t value = input[((uint32_t)y * p->in_w + (uint32_t)x) * p->in_c + ci];
      int32_t weight = p->weights[(fy * p->filter_w + fx) * p->out_c + c];
      acc = nn_mla(acc, weight, value + p->input_offset);
    }
  }
  return acc;
}

void nn_depthwise(const nn_depthwise_t *p, const int8_t *input, int8_t *output) {
  const int8_t *table = nn_table_origin(p->table);
  for (uint32_t oy = 0; oy < p->out_h; oy++) {
    for (uint32_t ox = 0; ox < p->out_w; ox++) {
      int32_t y0 = (int32_t)(oy * p->stride_h) - p->pad_h;
      int32_t x0 = (int32_t)(ox * p->stride_w) - p->pad_w;
      for (uint32_t c = 0; c < p->out_c; c++) {
        int32_t acc = depthwise_sum(p, input, y0, x0, c);
        int32_t v = nn_requantize(acc, p->multiplier[c], p->shift[c]) + p->output_offset;
        v = nn_clamp(v, p->act_min, p->act_max);
        *output++ = (int8_t)(table ? table[v] : v);
      }
    }
  }
}
