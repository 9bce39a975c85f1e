/* CONV_2D and FULLY_CONNECTED with sparse weights: per output channel only the nonzero weights,
 * each with the input step from the one before (nn_index.h). About 3 times the instructions per
 * weight of the patch variants (no SMLAD, a load per tap): the emitter picks it for pruned
 * layers only. Variants as in conv_dense.c.
 */
#include "nn_index.h"

/* What the loop of nn_index.h reads. */
NN_INLINE nn_index_conv_t view(const nn_conv_sparse_t *p) {
  nn_index_conv_t k = {&p->window, p->out_c, p->weights, p->nnz, p->skip, 0, 0, &p->output};
  return k;
}

void nn_conv_sparse(const nn_conv_sparse_t *p, const int8_t *input, int8_t *output) {
  nn_index_conv_t k = view(p);
  nn_index_conv(&k, 0, input, output, 0, 0, 0);
}

void nn_conv_sparse_lut(const nn_conv_sparse_t *p, const int8_t *input, int8_t *output) {
  nn_index_conv_t k = view(p);
  nn_index_conv(&k, 0, input, output, 0, 0, 1);
}

void nn_conv_sparse_dw(const nn_conv_sparse_t *p, const nn_sub_depthwise_t *sub,
                       const int8_t *input, int8_t *output) {
  nn_index_conv_t k = view(p);
  nn_index_conv(&k, sub, input, output, 0, NN_SUB_DEPTHWISE, 0);
}

void nn_conv_sparse_dw_lut(const nn_conv_sparse_t *p, const nn_sub_depthwise_t *sub,
                           const int8_t *input, int8_t *output) {
  nn_index_conv_t k = view(p);
  nn_index_conv(&k, sub, input, output, 0, NN_SUB_DEPTHWISE, 1);
}

void nn_conv_sparse_avg(const nn_conv_sparse_t *p, const nn_sub_pool_t *sub, const int8_t *input,
                        int8_t *output) {
  nn_index_conv_t k = view(p);
  nn_index_conv(&k, sub, input, output, 0, NN_SUB_AVERAGE, 0);
}

void nn_conv_sparse_avg_lut(const nn_conv_sparse_t *p, const nn_sub_pool_t *sub,
                            const int8_t *input, int8_t *output) {
  nn_index_conv_t k = view(p);
  nn_index_conv(&k, sub, input, output, 0, NN_SUB_AVERAGE, 1);
}

void nn_conv_sparse_max(const nn_conv_sparse_t *p, const nn_sub_pool_t *sub, const int8_t *input,
                        int8_t *output) {
  nn_index_conv_t k = view(p);
  nn_index_conv(&k, sub, input, output, 0, NN_SUB_MAX, 0);
}

void nn_conv_sparse_max_lut(const nn_conv_sparse_t *p, const nn_sub_pool_t *sub,
                            const int8_t *input, int8_t *output) {
  nn_index_conv_t k = view(p);
  nn_index_conv(&k, sub, input, output, 0, NN_SUB_MAX, 1);
}
