/* CONV_2D and FULLY_CONNECTED with bitmap weights: per output channel a bit per window byte,
 * set for the nonzero weights, and the nonzero values (nn_index.h); smaller than sparse weights
 * at moderate sparsity. Variants as in conv_dense.c.
 */
#include "nn_index.h"

/* What the loop of nn_index.h reads. */
NN_INLINE nn_index_conv_t view(const nn_conv_bitmap_t *p) {
  nn_index_conv_t k = {&p->window, p->out_c, p->weights, 0, 0, p->bitmap, p->bitmap_words,
                       &p->output};
  return k;
}

void nn_conv_bitmap(const nn_conv_bitmap_t *p, const int8_t *input, int8_t *output) {
  nn_index_conv_t k = view(p);
  nn_index_conv(&k, 0, input, output, 1, 0, 0);
}

void nn_conv_bitmap_lut(const nn_conv_bitmap_t *p, const int8_t *input, int8_t *output) {
  nn_index_conv_t k = view(p);
  nn_index_conv(&k, 0, input, output, 1, 0, 1);
}

void nn_conv_bitmap_dw(const nn_conv_bitmap_t *p, const nn_sub_depthwise_t *sub,
                       const int8_t *input, int8_t *output) {
  nn_index_conv_t k = view(p);
  nn_index_conv(&k, sub, input, output, 1, NN_SUB_DEPTHWISE, 0);
}

void nn_conv_bitmap_dw_lut(const nn_conv_bitmap_t *p, const nn_sub_depthwise_t *sub,
                           const int8_t *input, int8_t *output) {
  nn_index_conv_t k = view(p);
  nn_index_conv(&k, sub, input, output, 1, NN_SUB_DEPTHWISE, 1);
}

void nn_conv_bitmap_avg(const nn_conv_bitmap_t *p, const nn_sub_pool_t *sub, const int8_t *input,
                        int8_t *output) {
  nn_index_conv_t k = view(p);
  nn_index_conv(&k, sub, input, output, 1, NN_SUB_AVERAGE, 0);
}

void nn_conv_bitmap_avg_lut(const nn_conv_bitmap_t *p, const nn_sub_pool_t *sub,
                            const int8_t *input, int8_t *output) {
  nn_index_conv_t k = view(p);
  nn_index_conv(&k, sub, input, output, 1, NN_SUB_AVERAGE, 1);
}

void nn_conv_bitmap_max(const nn_conv_bitmap_t *p, const nn_sub_pool_t *sub, const int8_t *input,
                        int8_t *output) {
  nn_index_conv_t k = view(p);
  nn_index_conv(&k, sub, input, output, 1, NN_SUB_MAX, 0);
}

void nn_conv_bitmap_max_lut(const nn_conv_bitmap_t *p, const nn_sub_pool_t *sub,
                            const int8_t *input, int8_t *output) {
  nn_index_conv_t k = view(p);
  nn_index_conv(&k, sub, input, output, 1, NN_SUB_MAX, 1);
}
