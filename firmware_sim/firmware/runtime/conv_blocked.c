/* CONV_2D with blocked weights: an output channel stores and multiplies only the runs of input
 * channels it is connected to (LeNet-5's C3 table), through the patch of nn_patch.h; otherwise
 * as conv_dense.c.
 */
#include "nn_patch.h"

void nn_conv_blocked(const nn_conv_blocked_t *p, const int8_t *input, int8_t *output,
                     int16_t *scratch) {
  nn_patch_pixels(&p->conv, p, input, output, scratch, 0);
}

void nn_conv_blocked_lut(const nn_conv_blocked_t *p, const int8_t *input, int8_t *output,
                         int16_t *scratch) {
  nn_patch_pixels(&p->conv, p, input, output, scratch, 1);
}

void nn_conv_blocked_dw(const nn_conv_blocked_t *p, const nn_sub_depthwise_t *sub,
                        const int8_t *input, int8_t *output, int16_t *scratch) {
  nn_patch_blocks(&p->conv, p, sub, input, output, scratch, NN_SUB_DEPTHWISE, 0);
}

void nn_conv_blocked_dw_lut(const nn_conv_blocked_t *p, const nn_sub_depthwise_t *sub,
                            const int8_t *input, int8_t *output, int16_t *scratch) {
  nn_patch_blocks(&p->conv, p, sub, input, output, scratch, NN_SUB_DEPTHWISE, 1);
}

void nn_conv_blocked_avg(const nn_conv_blocked_t *p, const nn_sub_pool_t *sub, const int8_t *input,
                         int8_t *output, int16_t *scratch) {
  nn_patch_blocks(&p->conv, p, sub, input, output, scratch, NN_SUB_AVERAGE, 0);
}

void nn_conv_blocked_avg_lut(const nn_conv_blocked_t *p, const nn_sub_pool_t *sub,
                             const int8_t *input, int8_t *output, int16_t *scratch) {
  nn_patch_blocks(&p->conv, p, sub, input, output, scratch, NN_SUB_AVERAGE, 1);
}

void nn_conv_blocked_max(const nn_conv_blocked_t *p, const nn_sub_pool_t *sub, const int8_t *input,
                         int8_t *output, int16_t *scratch) {
  nn_patch_blocks(&p->conv, p, sub, input, output, scratch, NN_SUB_MAX, 0);
}

void nn_conv_blocked_max_lut(const nn_conv_blocked_t *p, const nn_sub_pool_t *sub,
                             const int8_t *input, int8_t *output, int16_t *scratch) {
  nn_patch_blocks(&p->conv, p, sub, input, output, scratch, NN_SUB_MAX, 1);
}
