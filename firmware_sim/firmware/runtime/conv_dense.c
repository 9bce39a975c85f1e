/* CONV_2D and FULLY_CONNECTED with dense weights: every tap of the window, through an int16 patch
 * and SMLAD (nn_patch.h). firmware_sim/kernels/conv.py, fully_connected.py and accumulate.py;
 * the _dw/_avg/_max variants fuse the 2x2 subsampling that follows (pooling.py, conv.py
 * depthwise), the _lut ones the short requantization before a table (nn_ops.h).
 */
#include "nn_patch.h"

void nn_conv_dense(const nn_conv_dense_t *p, const int8_t *input, int8_t *output,
                   int16_t *scratch) {
  nn_patch_pixels(p, 0, input, output, scratch, 0);
}

void nn_conv_dense_lut(const nn_conv_dense_t *p, const int8_t *input, int8_t *output,
                       int16_t *scratch) {
  nn_patch_pixels(p, 0, input, output, scratch, 1);
}

void nn_conv_dense_dw(const nn_conv_dense_t *p, const nn_sub_depthwise_t *sub, const int8_t *input,
                      int8_t *output, int16_t *scratch) {
  nn_patch_blocks(p, 0, sub, input, output, scratch, NN_SUB_DEPTHWISE, 0);
}

void nn_conv_dense_dw_lut(const nn_conv_dense_t *p, const nn_sub_depthwise_t *sub,
                          const int8_t *input, int8_t *output, int16_t *scratch) {
  nn_patch_blocks(p, 0, sub, input, output, scratch, NN_SUB_DEPTHWISE, 1);
}

void nn_conv_dense_avg(const nn_conv_dense_t *p, const nn_sub_pool_t *sub, const int8_t *input,
                       int8_t *output, int16_t *scratch) {
  nn_patch_blocks(p, 0, sub, input, output, scratch, NN_SUB_AVERAGE, 0);
}

void nn_conv_dense_avg_lut(const nn_conv_dense_t *p, const nn_sub_pool_t *sub, const int8_t *input,
                           int8_t *output, int16_t *scratch) {
  nn_patch_blocks(p, 0, sub, input, output, scratch, NN_SUB_AVERAGE, 1);
}

void nn_conv_dense_max(const nn_conv_dense_t *p, const nn_sub_pool_t *sub, const int8_t *input,
                       int8_t *output, int16_t *scratch) {
  nn_patch_blocks(p, 0, sub, input, output, scratch, NN_SUB_MAX, 0);
}

void nn_conv_dense_max_lut(const nn_conv_dense_t *p, const nn_sub_pool_t *sub, const int8_t *input,
                           int8_t *output, int16_t *scratch) {
  nn_patch_blocks(p, 0, sub, input, output, scratch, NN_SUB_MAX, 1);
}
