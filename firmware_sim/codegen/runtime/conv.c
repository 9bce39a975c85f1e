/* CONV_2D and FULLY_CONNECTED, int8 per channel, optionally fused with the activation after them
 * and with a 2x2 stride-2 subsampling: firmware_sim/kernels/conv.py, fully_connected.py,
 * accumulate.py and (fused) pooling.py / conv.py depthwise, in one pass over the output.
 *
 * TFLM sums filter * (input + input_offset) and adds the bias. The emitter folds
 * input_offset * sum(filter) into the bias, so the loops multiply raw int8 inputs; a tap in the
 * padding then holds the input zero point, whose term cancels the folded one exactly as TFLM's
 * skipped tap adds nothing. All sums wrap modulo 2**32 like TFLM's int32 accumulator.
 *
 * Dense and blocked weights go through an int16 patch (the window of 1 pixel, or of the 4 pixels
 * of a subsampled group, interleaved per 4 taps) and SMLAD; sparse weights walk the input
 * directly, one nonzero weight at a time.
 */
#include <string.h>

#include "nn_arith.h"
#include "nn_ops.h"

NN_INLINE uint32_t read32(const void *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* Index of the input byte at the window origin of conv output pixel (oy, ox); negative or past
 * the image only for border windows, which are then read tap by tap. */
static int32_t window_origin(const nn_conv_t *p, int32_t oy, int32_t ox) {
  int32_t y = oy * p->stride_h - p->pad_h, x = ox * p->stride_w - p->pad_w;
  return (y * p->in_w + x) * p->in_c;
}

static int window_inside(const nn_conv_t *p, int32_t oy, int32_t ox) {
  int32_t y = oy * p->stride_h - p->pad_h, x = ox * p->stride_w - p->pad_w;
  return p->all_inside || (y >= 0 && x >= 0 && y + p->win_h <= p->in_h && x + p->win_w <= p->in_w);
}

NN_INLINE uint32_t tap_offset(const nn_conv_t *p, uint32_t t) {
  return p->tap_offset ? p->tap_offset[t] : t;
}

/* ---- patches: element (segment s, tap t, pixel j) sits at quad (s*seg_len + t)/4, slot j, lane
 * t%4, so that one quad of weights meets the same quad of every pixel in consecutive words. */

NN_INLINE void gather_inside(const nn_conv_t *p, const int8_t *input, const int32_t *origin,
                             int groups, int16_t *patch) {
  for (uint32_t s = 0; s < p->segments; s++) {
    const int8_t *base = input + s * p->seg_step;
    for (uint32_t t = 0; t < p->seg_len; t += 4, patch += 4 * groups) {
      for (int lane = 0; lane < 4; lane++) {
        const int8_t *src = base + tap_offset(p, t + lane);
        for (int j = 0; j < groups; j++) patch[4 * j + lane] = src[origin[j]];
      }
    }
  }
}

/* One pixel of a window that crosses the border: taps outside the image read the zero point. */
static void gather_border(const nn_conv_t *p, const int8_t *input, int32_t oy, int32_t ox,
                          int groups, int16_t *patch) {
  int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
  int32_t origin = window_origin(p, oy, ox);
  for (uint32_t s = 0; s < p->segments; s++) {
    for (uint32_t t = 0; t < p->seg_len; t++) {
      int32_t y = y0 + p->tap_y[t], x = x0 + p->tap_x[t];
      int inside = y >= 0 && x >= 0 && y < p->in_h && x < p->in_w;
      int16_t *d = patch + ((s * p->seg_len + t) >> 2) * 4 * groups + (t & 3);
      *d = inside ? input[origin + (int32_t)(s * p->seg_step + tap_offset(p, t))]
                  : p->input_zero_point;
    }
  }
}

/* ---- multiply-accumulate over a patch ---------------------------------------------------------- */

/* 4 pixels, 1 channel: per quad one weight word against 8 patch words. */
NN_INLINE void mac4(const int8_t *w, const int16_t *x, uint32_t quads, int32_t *acc) {
  int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  for (; quads; quads--, w += 4, x += 16) {
    uint32_t wq = read32(w);
    uint32_t w01 = nn_sxtb16(wq), w23 = nn_sxtb16_ror8(wq);
    a0 = nn_smlad(w01, read32(x + 0), a0);
    a0 = nn_smlad(w23, read32(x + 2), a0);
    a1 = nn_smlad(w01, read32(x + 4), a1);
    a1 = nn_smlad(w23, read32(x + 6), a1);
    a2 = nn_smlad(w01, read32(x + 8), a2);
    a2 = nn_smlad(w23, read32(x + 10), a2);
    a3 = nn_smlad(w01, read32(x + 12), a3);
    a3 = nn_smlad(w23, read32(x + 14), a3);
  }
  acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}

/* 1 pixel, 2 channels: each patch word serves both. */
NN_INLINE void mac1x2(const int8_t *w0, const int8_t *w1, const int16_t *x, uint32_t quads,
                      int32_t *acc0, int32_t *acc1) {
  int32_t a0 = *acc0, a1 = *acc1;
  for (; quads; quads--, w0 += 4, w1 += 4, x += 4) {
    uint32_t x01 = read32(x), x23 = read32(x + 2);
    uint32_t wa = read32(w0), wb = read32(w1);
    a0 = nn_smlad(nn_sxtb16(wa), x01, a0);
    a0 = nn_smlad(nn_sxtb16_ror8(wa), x23, a0);
    a1 = nn_smlad(nn_sxtb16(wb), x01, a1);
    a1 = nn_smlad(nn_sxtb16_ror8(wb), x23, a1);
  }
  *acc0 = a0, *acc1 = a1;
}

NN_INLINE void mac1(const int8_t *w, const int16_t *x, uint32_t quads, int32_t *acc) {
  int32_t a = *acc;
  for (; quads; quads--, w += 4, x += 4) {
    uint32_t wq = read32(w);
    a = nn_smlad(nn_sxtb16(wq), read32(x), a);
    a = nn_smlad(nn_sxtb16_ror8(wq), read32(x + 2), a);
  }
  *acc = a;
}

/* Sums of channel c for `groups` (1 or 4) pixels from a patch, dense or blocked weights;
 * returns the weights of the next channel. */
NN_INLINE const int8_t *patch_sums(const nn_conv_t *p, uint32_t c, const int8_t *w,
                                   const uint8_t **seg_index, const int16_t *patch, int groups,
                                   int32_t *acc) {
  uint32_t quads = p->seg_len >> 2;
  if (p->encoding == NN_DENSE) {
    quads *= p->segments;
    if (groups == 4) mac4(w, patch, quads, acc); else mac1(w, patch, quads, acc);
    return w + 4 * quads;
  }
  for (uint32_t k = p->seg_count[c]; k; k--, w += 4 * quads) {
    const int16_t *x = patch + (*(*seg_index)++) * quads * 4 * groups;
    if (groups == 4) mac4(w, x, quads, acc); else mac1(w, x, quads, acc);
  }
  return w;
}

/* ---- output stage and subsampling -------------------------------------------------------------- */

NN_INLINE int32_t output_stage(const nn_conv_t *p, const nn_rq_t *rq, int32_t acc) {
  int32_t v = nn_clamp(nn_rq_apply(rq, acc) + p->output_offset, p->act_min, p->act_max);
  return p->table ? p->table[nn_byte(v)] : v;
}

static int8_t subsample(const nn_subsample_t *s, uint32_t c, const int32_t *v) {
  int32_t r;
  if (s->kind == NN_SUB_DEPTHWISE) {
    const int8_t *w = s->weights + 4 * c;
    int32_t acc = s->bias[c];
    for (int j = 0; j < 4; j++) acc = nn_mla(acc, w[j], v[j]);
    r = nn_requantize(acc, s->multiplier[c], s->shift[c]) + s->output_offset;
  } else if (s->kind == NN_SUB_AVERAGE) {
    int32_t sum = v[0] + v[1] + v[2] + v[3];
    r = (sum > 0 ? sum + 2 : sum - 2) / 4;  /* TFLM: rounding half away from zero */
  } else {
    r = v[0];
    for (int j = 1; j < 4; j++) r = v[j] > r ? v[j] : r;
  }
  r = nn_clamp(r, s->act_min, s->act_max);
  return (int8_t)(s->table ? s->table[nn_byte(r)] : r);
}

/* ---- the three paths ----------------------------------------------------------------------------- */

/* 2x2 groups of conv outputs, each subsampled at once; dense or blocked weights. */
static void conv_subsampled(const nn_conv_t *p, const int8_t *input, int8_t *output,
                            int16_t *patch) {
  const uint32_t out_h = p->out_h / 2, out_w = p->out_w / 2;
  for (uint32_t py = 0; py < out_h; py++) {
    for (uint32_t px = 0; px < out_w; px++) {
      int32_t oy = 2 * py, ox = 2 * px;
      int32_t origin[4] = {window_origin(p, oy, ox), window_origin(p, oy, ox + 1),
                           window_origin(p, oy + 1, ox), window_origin(p, oy + 1, ox + 1)};
      if (window_inside(p, oy, ox) && window_inside(p, oy + 1, ox + 1)) {
        gather_inside(p, input, origin, 4, patch);
      } else {
        for (int j = 0; j < 4; j++)
          gather_border(p, input, oy + (j >> 1), ox + (j & 1), 4, patch + 4 * j);
      }
      const int8_t *w = p->weights;
      const uint8_t *seg_index = p->seg_index;
      for (uint32_t c = 0; c < p->out_c; c++) {
        int32_t acc[4] = {p->bias[c], p->bias[c], p->bias[c], p->bias[c]};
        w = patch_sums(p, c, w, &seg_index, patch, 4, acc);
        nn_rq_t rq = nn_rq(p->multiplier[c], p->shift[c]);
        for (int j = 0; j < 4; j++) acc[j] = output_stage(p, &rq, acc[j]);
        *output++ = subsample(p->subsample, c, acc);
      }
    }
  }
}

/* One pixel at a time; dense weights two channels at a time. */
static void conv_plain(const nn_conv_t *p, const int8_t *input, int8_t *output, int16_t *patch) {
  const uint32_t quads = p->segments * p->seg_len / 4;
  for (uint32_t oy = 0; oy < p->out_h; oy++) {
    for (uint32_t ox = 0; ox < p->out_w; ox++) {
      int32_t origin = window_origin(p, oy, ox);
      if (window_inside(p, oy, ox)) gather_inside(p, input, &origin, 1, patch);
      else gather_border(p, input, oy, ox, 1, patch);
      const int8_t *w = p->weights;
      const uint8_t *seg_index = p->seg_index;
      uint32_t c = 0;
      if (p->encoding == NN_DENSE) {
        for (; c + 1 < p->out_c; c += 2, w += 8 * quads) {
          int32_t a0 = p->bias[c], a1 = p->bias[c + 1];
          mac1x2(w, w + 4 * quads, patch, quads, &a0, &a1);
          nn_rq_t rq0 = nn_rq(p->multiplier[c], p->shift[c]);
          nn_rq_t rq1 = nn_rq(p->multiplier[c + 1], p->shift[c + 1]);
          *output++ = (int8_t)output_stage(p, &rq0, a0);
          *output++ = (int8_t)output_stage(p, &rq1, a1);
        }
      }
      for (; c < p->out_c; c++) {
        int32_t acc = p->bias[c];
        w = patch_sums(p, c, w, &seg_index, patch, 1, &acc);
        nn_rq_t rq = nn_rq(p->multiplier[c], p->shift[c]);
        *output++ = (int8_t)output_stage(p, &rq, acc);
      }
    }
  }
}

/* Sparse weights (every window inside the image): per channel, the nonzero weights with the
 * input offset step before each, walked over the raw input of 1 or 4 pixels. */
static void conv_sparse(const nn_conv_t *p, const int8_t *input, int8_t *output) {
  const int groups = p->subsample ? 4 : 1, step = groups == 4 ? 2 : 1;
  const uint32_t out_h = p->out_h / step, out_w = p->out_w / step;
  const int32_t d1 = p->stride_w * p->in_c, d2 = p->stride_h * p->in_w * p->in_c, d3 = d1 + d2;
  for (uint32_t py = 0; py < out_h; py++) {
    for (uint32_t px = 0; px < out_w; px++) {
      const int8_t *base = input + window_origin(p, step * py, step * px);
      const int8_t *w = p->weights;
      const uint8_t *skip = p->skip;
      for (uint32_t c = 0; c < p->out_c; c++) {
        int32_t acc[4] = {p->bias[c], p->bias[c], p->bias[c], p->bias[c]};
        const int8_t *x = base;
        uint32_t n = p->nnz[c];
        if (groups == 4) {
          int32_t a0 = acc[0], a1 = a0, a2 = a0, a3 = a0;
          for (; n; n--) {
            x += *skip++;
            int32_t wv = *w++;
            a0 = nn_mla(a0, wv, x[0]);
            a1 = nn_mla(a1, wv, x[d1]);
            a2 = nn_mla(a2, wv, x[d2]);
            a3 = nn_mla(a3, wv, x[d3]);
          }
          acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
        } else {
          int32_t a0 = acc[0];
          for (; n; n--) {
            x += *skip++;
            a0 = nn_mla(a0, *w++, *x);
          }
          acc[0] = a0;
        }
        nn_rq_t rq = nn_rq(p->multiplier[c], p->shift[c]);
        for (int j = 0; j < groups; j++) acc[j] = output_stage(p, &rq, acc[j]);
        *output++ = groups == 4 ? subsample(p->subsample, c, acc) : (int8_t)acc[0];
      }
    }
  }
}

void nn_conv(const nn_conv_t *p, const int8_t *input, int8_t *output, int16_t *scratch) {
  if (p->encoding == NN_SPARSE) conv_sparse(p, input, output);
  else if (p->subsample) conv_subsampled(p, input, output, scratch);
  else conv_plain(p, input, output, scratch);
}
