/* CONV_2D and FULLY_CONNECTED with paired weights: per output channel only its nonzero taps,
 * two taps one input byte apart sharing one SMLAD. The input is first copied into a buffer of
 * int16 pairs, word i = (x[i], x[i+1]), so a pair of taps at window offsets o and o+1 is one
 * word load per pixel against the weight pair (w[o], w[o+1]); a tap without such a partner
 * pairs with a zero weight. 1 pixel, or the 4 pixels of a 2x2 group (fused subsampling) whose
 * sums stay in registers; every window inside the image. On a group 11 instructions a pair
 * with the DSP loop below (8 multiply-adds), 13 in C (LDRH, LDR, ADD, 4 LDR + 4 SMLAD, CMP, BNE).
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

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
/* nn_pair_sums4 for d1 == 1 (stride 1 over a byte per column, LeNet's) in assembly: GCC spills
 * an accumulator out of this loop (2 more instructions a pair, measured on the M4). The two
 * pixels of a group's row are consecutive words, one LDRD: a pair is LDRH, LDR, 2 ADD, 2 LDRD
 * and 4 SMLAD, with SUBS/BNE once per two pairs, 11 instructions for 8 multiply-adds. */
#define PAIR_STEP                               \
  "ldrh %[t], [%[offset]], #2\n\t"              \
  "ldr %[pair], [%[w]], #4\n\t"                 \
  "add %[t], %[p], %[t], lsl #2\n\t"            \
  "ldrd %[x0], %[x1], [%[t]]\n\t"               \
  "smlad %[a0], %[pair], %[x0], %[a0]\n\t"      \
  "smlad %[a1], %[pair], %[x1], %[a1]\n\t"      \
  "add %[t], %[t], %[row]\n\t"                  \
  "ldrd %[x0], %[x1], [%[t]]\n\t"               \
  "smlad %[a2], %[pair], %[x0], %[a2]\n\t"      \
  "smlad %[a3], %[pair], %[x1], %[a3]\n\t"

NN_INLINE void nn_pair_sums4_next(const nn_word_t *p, int32_t d2, const uint32_t *w,
                                  const uint16_t *offset, uint32_t n, int32_t *acc) {
  int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  const int32_t row = 4 * d2;  /* bytes */
  uint32_t t, pair, x0, x1;
  __asm__ volatile(
      "lsrs %[n], %[n], #1\n\t"  /* an odd pair first, then two at a time */
      "bcc 2f\n\t"
      PAIR_STEP
      "2:\n\t"
      "cbz %[n], 3f\n\t"
      "1:\n\t"
      PAIR_STEP PAIR_STEP
      "subs %[n], %[n], #1\n\t"
      "bne 1b\n\t"
      "3:"
      : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [w] "+r"(w),
        [offset] "+r"(offset), [n] "+l"(n), [t] "=&r"(t), [pair] "=&r"(pair), [x0] "=&r"(x0),
        [x1] "=&r"(x1)
      : [p] "r"(p), [row] "r"(row)
      : "cc", "memory");
  acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}
#undef PAIR_STEP
#else
NN_INLINE void nn_pair_sums4_next(const nn_word_t *p, int32_t d2, const uint32_t *w,
                                  const uint16_t *offset, uint32_t n, int32_t *acc) {
  nn_pair_sums4(p, 1, d2, w, offset, n, acc);
}
#endif

NN_INLINE int32_t nn_pair_sums1(const nn_word_t *p, const uint32_t *w, const uint16_t *offset,
                                uint32_t n, int32_t acc) {
  for (const uint16_t *end = offset + n; offset != end;) acc = nn_smlad(*w++, p[*offset++], acc);
  return acc;
}

/* One channel c over every pixel (kind 0) or 2x2 group (else, subsampled by `kind`, nn_conv.h):
 * its pairs, bias and output constants stay in registers or on the stack across the pixels. */
NN_INLINE void nn_pairs_channel(const nn_conv_pairs_t *k, const void *sub, const int8_t *table,
                                const int8_t *sub_table, const nn_word_t *pairs, int8_t *out,
                                uint32_t c, const uint32_t *w, const uint16_t *offset, int kind,
                                int lut) {
  const nn_window_t *g = &k->window;
  const nn_output_t *o = &k->output;
  const int step = kind ? 2 : 1;
  const uint32_t out_h = g->out_h / step, out_w = g->out_w / step, n = k->pairs[c];
  const int32_t d1 = g->stride_w * g->x_step, d2 = g->stride_h * g->y_step;
  const int32_t pixel_step = g->out_pixel_step, bias = o->bias[c];
  const nn_group_stage_t s = nn_group_stage(o, sub, c, kind, lut);
  const nn_word_t *row = pairs + nn_window_origin(g, 0, 0);
  for (uint32_t py = 0; py < out_h; py++, row += step * d2) {
    const nn_word_t *base = row;
    for (uint32_t px = 0; px < out_w; px++, base += step * d1, out += pixel_step) {
      if (!kind) {
        int32_t acc = nn_pair_sums1(base, w, offset, n, bias);
        *out = (int8_t)(lut ? nn_output_lut(&s.conv, s.conv_offset, table, acc)
                            : nn_output_any(o, table, c, acc));
        continue;
      }
      int32_t acc[4] = {bias, bias, bias, bias};
      /* stride 1 over a byte per column (LeNet's): the second pixel is the next word */
      if (d1 == 1) nn_pair_sums4_next(base, d2, w, offset, n, acc);
      else nn_pair_sums4(base, d1, d2, w, offset, n, acc);
      *out = (int8_t)nn_group_apply(&s, o, table, sub, sub_table, c, acc, kind, lut);
    }
  }
}

/* Channel by channel (the weights' order), each over all pixels. */
NN_INLINE void nn_pairs_conv(const nn_conv_pairs_t *k, const void *sub, const int8_t *input,
                             int8_t *output, nn_word_t *pairs, int kind, int lut) {
  const int8_t *table = nn_table_origin(k->output.table);
  const int8_t *sub_table = kind ? nn_sub_table(sub, kind) : 0;
  const uint32_t *w = k->weights;
  const uint16_t *offset = k->offsets;
  nn_pair_input(input, k->in_size, pairs);
  for (uint32_t c = 0; c < k->out_c; c++) {
    nn_pairs_channel(k, sub, table, sub_table, pairs, output + c * k->window.out_channel_step, c,
                     w, offset, kind, lut);
    w += k->pairs[c], offset += k->pairs[c];
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
