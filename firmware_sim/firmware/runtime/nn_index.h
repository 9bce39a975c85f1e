/* The loop of the sparse and bitmap conv variants (conv_sparse.c, conv_bitmap.c): only the
 * nonzero weights, each multiplying the raw input byte its step or its bit points at, for 1
 * pixel or the 4 pixels of a 2x2 group (every window inside the image). Static inline only;
 * `bitmap`, `kind` and `lut` are constants in every caller.
 */
#ifndef NN_INDEX_H
#define NN_INDEX_H

#include "nn_conv.h"

/* One nonzero weight wv times the tap x of each of the 1 or 4 pixels. */
NN_INLINE void nn_tap_mla(int32_t *a, int32_t wv, const int8_t *x, int32_t d1, int32_t d2,
                          int32_t d3, int groups) {
  a[0] = nn_mla(a[0], wv, x[0]);
  if (groups == 4) {
    a[1] = nn_mla(a[1], wv, x[d1]);
    a[2] = nn_mla(a[2], wv, x[d2]);
    a[3] = nn_mla(a[3], wv, x[d3]);
  }
}

/* The sums of one channel from sparse weights, walked over the raw input of 1 or 4 pixels. */
NN_INLINE void nn_sparse_sums(const int8_t *x, const int8_t **weights, const uint8_t **skips,
                              uint32_t n, int32_t d1, int32_t d2, int32_t d3, int groups,
                              int32_t *acc) {
  const int8_t *w = *weights;
  const uint8_t *skip = *skips;
  int32_t a[4] = {acc[0], acc[1], acc[2], acc[3]};
  for (; n; n--) {
    x += *skip++;
    nn_tap_mla(a, *w++, x, d1, d2, d3, groups);
  }
  acc[0] = a[0], acc[1] = a[1], acc[2] = a[2], acc[3] = a[3];
  *weights = w, *skips = skip;
}

/* The sums of one channel from bitmap weights: each set bit is the window byte of the next
 * nonzero weight (CTZ finds it). */
NN_INLINE void nn_bitmap_sums(const int8_t *x, const int8_t **weights, const uint32_t **bitmap,
                              uint32_t words, int32_t d1, int32_t d2, int32_t d3, int groups,
                              int32_t *acc) {
  const int8_t *w = *weights;
  const uint32_t *map = *bitmap;
  int32_t a[4] = {acc[0], acc[1], acc[2], acc[3]};
  for (; words; words--, x += 32) {
    for (uint32_t bits = *map++; bits; bits &= bits - 1)
      nn_tap_mla(a, *w++, x + __builtin_ctz(bits), d1, d2, d3, groups);
  }
  acc[0] = a[0], acc[1] = a[1], acc[2] = a[2], acc[3] = a[3];
  *weights = w, *bitmap = map;
}

/* What the index loop reads of a sparse struct (bitmap 0) or a bitmap struct (nnz, skip 0). */
typedef struct {
  const nn_window_t *window;
  uint32_t out_c;
  const int8_t *weights;
  const uint16_t *nnz;
  const uint8_t *skip;
  const uint32_t *bitmap;
  uint32_t bitmap_words;
  const nn_output_t *output;
} nn_index_conv_t;

/* kind 0: one pixel, its output stored; else a 2x2 group subsampled by `kind` (nn_conv.h). */
NN_INLINE void nn_index_conv(const nn_index_conv_t *k, const void *sub, const int8_t *input,
                             int8_t *output, int bitmap, int kind, int lut) {
  const nn_window_t *g = k->window;
  const nn_output_t *o = k->output;
  const int groups = kind ? 4 : 1, step = kind ? 2 : 1;
  const uint32_t out_h = g->out_h / step, out_w = g->out_w / step, out_c = k->out_c;
  const int32_t d1 = g->stride_w * g->x_step, d2 = g->stride_h * g->y_step, d3 = d1 + d2;
  const int8_t *table = nn_table_origin(o->table);
  const int8_t *sub_table = kind ? nn_sub_table(sub, kind) : 0;
  const int32_t *bias = o->bias;
  for (uint32_t py = 0; py < out_h; py++) {
    for (uint32_t px = 0; px < out_w; px++) {
      const int8_t *base = input + nn_window_origin(g, step * py, step * px);
      int8_t *out = output + (py * out_w + px) * g->out_pixel_step;
      const int8_t *w = k->weights;
      const uint8_t *skip = k->skip;
      const uint32_t *map = k->bitmap;
      for (uint32_t c = 0; c < out_c; c++, out += g->out_channel_step) {
        int32_t acc[4] = {bias[c], bias[c], bias[c], bias[c]};
        if (bitmap) nn_bitmap_sums(base, &w, &map, k->bitmap_words, d1, d2, d3, groups, acc);
        else nn_sparse_sums(base, &w, &skip, k->nnz[c], d1, d2, d3, groups, acc);
        for (int j = 0; j < groups; j++) acc[j] = nn_output(o, table, c, acc[j], lut);
        *out = (int8_t)(kind ? nn_subsample(sub, sub_table, c, acc, kind, lut) : acc[0]);
      }
    }
  }
}

#endif
