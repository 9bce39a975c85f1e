/* CONV_2D with blocked weights: an output channel stores and multiplies only the runs of input
 * channels it is connected to (LeNet-5's C3 table), through the patch of nn_patch.h; otherwise
 * as conv_dense.c.
 */
#include "nn_patch.h"

/* What the patch loops of nn_patch.h read. */
NN_INLINE nn_patch_conv_t view(const nn_conv_blocked_t *p) {
  nn_patch_conv_t k = {&p->window, &p->taps, p->out_c, (const nn_word_t *)p->weights, &p->output,
                       p->seg_count, p->seg_index};
  return k;
}

void nn_conv_blocked(const nn_conv_blocked_t *p, const int8_t *input, int8_t *output, int16_t *scratch) {
  nn_patch_conv_t k = view(p);
  nn_patch_pixels(&k, input, output, scratch, 1, 0);
}

void nn_conv_blocked_lut(const nn_conv_blocked_t *p, const int8_t *input, int8_t *output, int16_t *scratch) {
  nn_patch_conv_t k = view(p);
  nn_patch_pixels(&k, input, output, scratch, 1, 1);
}

void nn_conv_blocked_dw(const nn_conv_blocked_t *p, const nn_sub_depthwise_t *sub, const int8_t *input, int8_t *output, int16_t *scratch) {
  nn_patch_conv_t k = view(p);
  nn_patch_blocks(&k, sub, input, output, scratch, 1, NN_SUB_DEPTHWISE, 0);
}

void nn_conv_blocked_dw_lut(const nn_conv_blocked_t *p, const nn_sub_depthwise_t *sub, const int8_t *input, int8_t *output, int16_t *scratch) {
  nn_patch_conv_t k = view(p);
  nn_patch_blocks(&k, sub, input, output, scratch, 1, NN_SUB_DEPTHWISE, 1);
}

void nn_conv_blocked_avg(const nn_conv_blocked_t *p, const nn_sub_pool_t *sub, const int8_t *input, int8_t *output, int16_t *scratch) {
  nn_patch_conv_t k = view(p);
  nn_patch_blocks(&k, sub, input, output, scratch, 1, NN_SUB_AVERAGE, 0);
}

void nn_conv_blocked_avg_lut(const nn_conv_blocked_t *p, const nn_sub_pool_t *sub, const int8_t *input, int8_t *output, int16_t *scratch) {
  nn_patch_conv_t k = view(p);
  nn_patch_blocks(&k, sub, input, output, scratch, 1, NN_SUB_AVERAGE, 1);
}

void nn_conv_blocked_max(const nn_conv_blocked_t *p, const nn_sub_pool_t *sub, const int8_t *input, int8_t *output, int16_t *scratch) {
  nn_patch_conv_t k = view(p);
  nn_patch_blocks(&k, sub, input, output, scratch, 1, NN_SUB_MAX, 0);
}

void nn_conv_blocked_max_lut(const nn_conv_blocked_t *p, const nn_sub_pool_t *sub, const int8_t *input, int8_t *output, int16_t *scratch) {
  nn_patch_conv_t k = view(p);
  nn_patch_blocks(&k, sub, input, output, scratch, 1, NN_SUB_MAX, 1);
}
