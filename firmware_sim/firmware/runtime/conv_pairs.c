/* CONV_2D and FULLY_CONNECTED with paired weights: per output channel only its nonzero taps,
 * two taps one input byte apart sharing one SMLAD. The input is first copied into a buffer of
 * int16 pairs, word i = (x[i], x[i+1]), so a pair of taps at window offsets o and o+1 is one
 * word load per pixel against the weight pair (w[o], w[o+1]); a tap without such a partner
 * pairs with a zero weight. 1 pixel, or the 4 pixels of a 2x2 group (fused subsampling) whose
 * sums stay in registers; every window inside the image. About 1.5 instructions per nonzero
 * multiply-add on a group (LDRH, LDR, 4 LDR + 4 SMLAD per pair) against the sparse variant's 3+.
 * Variants as in conv_dense.c; the scratch is the pair buffer (in_size words).
 */
#include "nn_conv.h"

/* word i = the int16 pair (x[i], x[i+1]); the last one's partner is 0 (its weight is 0) */
NN_INLINE void nn_pair_input(const int8_t *x, uint32_t n, nn_word_t *pairs) {
  int32_t previous = x[0];
  for (uint32_t i = 1; i < n; i++) {
    int32_t next = x[i];
    pairs[i - 1] = nn_pack(previous, next);
    previous = next;
  }
  pairs[n - 1] = nn_pack(previous, 0);
}

/* The sums of one channel's n pairs for the pixels at p, p + d1, p + d2, p + d1 + d2. */
NN_INLINE void nn_pair_sums4(const nn_word_t *p, int32_t d1, int32_t d2, const uint32_t *w,
                             const uint16_t *offset, uint32_t n, int32_t *acc) {
  const int32_t d3 = d1 + d2;
  const uint16_t *end = offset + n;
  int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  while (offset != end) {
    const nn_word_t *x = p + *offset++;
    const uint32_t pair = *w++;
    a0 = nn_smlad(pair, x[0], a0);
    a1 = nn_smlad(pair, x[d1], a1);
    a2 = nn_smlad(pair, x[d2], a2);
    a3 = nn_smlad(pair, x[d3], a3);
  }
  acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}

NN_INLINE int32_t nn_pair_sums1(const nn_word_t *p, const uint32_t *w, const uint16_t *offset,
                                uint32_t n, int32_t acc) {
  for (const uint16_t *end = offset + n; offset != end;) acc = nn_smlad(*w++, p[*offset++], acc);
  return acc;
}

/* kind 0: one pixel, its output stored; else a 2x2 group subsampled by `kind` (nn_conv.h). */
NN_INLINE void nn_pairs_conv(const nn_conv_pairs_t *k, const void *sub, const int8_t *input,
                             int8_t *output, nn_word_t *pairs, int kind, int lut) {
  const nn_window_t *g = &k->window;
  const nn_output_t *o = &k->output;
  const int step = kind ? 2 : 1;
  const uint32_t out_h = g->out_h / step, out_w = g->out_w / step, out_c = k->out_c;
  const int32_t d1 = g->stride_w * g->x_step, d2 = g->stride_h * g->y_step;
  const int8_t *table = nn_table_origin(o->table);
  const int8_t *sub_table = kind ? nn_sub_table(sub, kind) : 0;
  nn_pair_input(input, k->in_size, pairs);
  for (uint32_t py = 0; py < out_h; py++) {
    for (uint32_t px = 0; px < out_w; px++) {
      const nn_word_t *base = pairs + nn_window_origin(g, step * py, step * px);
      int8_t *out = output + (py * out_w + px) * g->out_pixel_step;
      const uint32_t *w = k->weights;
      const uint16_t *offset = k->offsets;
      for (uint32_t c = 0; c < out_c; c++, out += g->out_channel_step) {
        const uint32_t n = k->pairs[c];
        const int32_t bias = o->bias[c];
        if (!kind) {
          *out = (int8_t)nn_output(o, table, c, nn_pair_sums1(base, w, offset, n, bias), lut);
        } else {
          int32_t acc[4] = {bias, bias, bias, bias};
          /* stride 1 over a byte per column (LeNet's): the second pixel is the next word */
          if (d1 == 1) nn_pair_sums4(base, 1, d2, w, offset, n, acc);
          else nn_pair_sums4(base, d1, d2, w, offset, n, acc);
          *out = (int8_t)nn_group_output(o, o->output_offset, table, sub, sub_table, c, acc, kind, lut);
        }
        w += n, offset += n;
      }
    }
  }
}

void nn_conv_pairs(const nn_conv_pairs_t *p, const int8_t *input, int8_t *output,
                   int16_t *scratch) {
  nn_pairs_conv(p, 0, input, output, (nn_word_t *)scratch, 0, 0);
}

void nn_conv_pairs_lut(const nn_conv_pairs_t *p, const int8_t *input, int8_t *output,
                       int16_t *scratch) {
  nn_pairs_conv(p, 0, input, output, (nn_word_t *)scratch, 0, 1);
}

void nn_conv_pairs_dw(const nn_conv_pairs_t *p, const nn_sub_depthwise_t *sub,
                      const int8_t *input, int8_t *output, int16_t *scratch) {
  nn_pairs_conv(p, sub, input, output, (nn_word_t *)scratch, NN_SUB_DEPTHWISE, 0);
}

void nn_conv_pairs_dw_lut(const nn_conv_pairs_t *p, const nn_sub_depthwise_t *sub,
                          const int8_t *input, int8_t *output, int16_t *scratch) {
  nn_pairs_conv(p, sub, input, output, (nn_word_t *)scratch, NN_SUB_DEPTHWISE, 1);
}

void nn_conv_pairs_avg(const nn_conv_pairs_t *p, const nn_sub_pool_t *sub, const int8_t *input,
                       int8_t *output, int16_t *scratch) {
  nn_pairs_conv(p, sub, input, output, (nn_word_t *)scratch, NN_SUB_AVERAGE, 0);
}

void nn_conv_pairs_avg_lut(const nn_conv_pairs_t *p, const nn_sub_pool_t *sub,
                           const int8_t *input, int8_t *output, int16_t *scratch) {
  nn_pairs_conv(p, sub, input, output, (nn_word_t *)scratch, NN_SUB_AVERAGE, 1);
}

void nn_conv_pairs_max(const nn_conv_pairs_t *p, const nn_sub_pool_t *sub, const int8_t *input,
                       int8_t *output, int16_t *scratch) {
  nn_pairs_conv(p, sub, input, output, (nn_word_t *)scratch, NN_SUB_MAX, 0);
}

void nn_conv_pairs_max_lut(const nn_conv_pairs_t *p, const nn_sub_pool_t *sub,
                           const int8_t *input, int8_t *output, int16_t *scratch) {
  nn_pairs_conv(p, sub, input, output, (nn_word_t *)scratch, NN_SUB_MAX, 1);
}
