/* CONV_2D and FULLY_CONNECTED, int8 per channel, optionally fused with the activation after them
 * and with a 2x2 stride-2 subsampling: firmware_sim/emulator/kernels/conv.py, fully_connected.py,
 * accumulate.py and (fused) pooling.py / conv.py depthwise, in one pass over the output.
 *
 * TFLM sums filter * (input + input_offset) and adds the bias. The emitter folds
 * input_offset * sum(filter) into the bias, so the loops multiply raw int8 inputs; a tap in the
 * padding then holds the input zero point, whose term cancels the folded one exactly as TFLM's
 * skipped tap adds nothing. All sums wrap modulo 2**32 like TFLM's int32 accumulator.
 *
 * Dense and blocked weights go through an int16 patch (the window of 1 pixel, or of the 4 pixels
 * of a subsampled group, interleaved per 4 taps) and SMLAD; sparse and bitmap weights read the
 * raw input, one nonzero weight at a time.
 */
#include <string.h>

#include "nn_arith.h"
#include "nn_ops.h"

NN_INLINE uint32_t read32(const int8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);  /* one LDR: ARMv7-M loads unaligned words */
  return v;
}

/* Index of the input byte at the window origin of conv output pixel (oy, ox); negative or past
 * the image only for border windows, which are then read tap by tap. */
static int32_t window_origin(const nn_conv_t *p, int32_t oy, int32_t ox) {
  int32_t y = oy * p->stride_h - p->pad_h, x = ox * p->stride_w - p->pad_w;
  return y * (int32_t)p->y_step + x * (int32_t)p->x_step;
}

NN_INLINE int window_inside(const nn_conv_t *p, int32_t oy, int32_t ox) {
  int32_t y = oy * p->stride_h - p->pad_h, x = ox * p->stride_w - p->pad_w;
  return p->all_inside || (y >= 0 && x >= 0 && y + p->win_h <= p->in_h && x + p->win_w <= p->in_w);
}

/* ---- patches: element (segment s, tap t, pixel j) sits in quad (s*seg_len + t)/4, slot j, at
 * halfword LANE[t%4] (pair order (x0, x2), (x1, x3)), so that one quad of weights meets the same
 * quad of every pixel in consecutive words. */
static const uint8_t LANE[4] = {0, 2, 1, 3};

NN_INLINE uint32_t tap_at(const uint16_t *tap, uint32_t t) { return tap ? tap[t] : t; }

/* The 4 pixels of a 2x2 block, windows inside the image: x0 is the first window's origin, d1..d3
 * the offsets of the others. */
static void gather4(const nn_conv_t *p, const int8_t *x0, int32_t d1, int32_t d2, int32_t d3,
                    nn_word_t *patch) {
  const uint16_t *tap = p->tap_offset;
  const uint32_t quads = p->seg_len >> 2;
  for (uint32_t s = 0; s < p->segments; s++, x0 += p->seg_step) {
    uint32_t q = 0;
    for (; q < p->seg_contiguous; q++, patch += 8) {
      const int8_t *x = x0 + tap_at(tap, 4 * q);
      uint32_t v0 = read32(x), v1 = read32(x + d1), v2 = read32(x + d2), v3 = read32(x + d3);
      patch[0] = nn_sxtb16(v0), patch[1] = nn_sxtb16_ror8(v0);
      patch[2] = nn_sxtb16(v1), patch[3] = nn_sxtb16_ror8(v1);
      patch[4] = nn_sxtb16(v2), patch[5] = nn_sxtb16_ror8(v2);
      patch[6] = nn_sxtb16(v3), patch[7] = nn_sxtb16_ror8(v3);
    }
    int16_t *h = (int16_t *)patch;
#define GATHER_LANE(k, lane)                                                                 \
  {                                                                                          \
    const int8_t *x = x0 + tap[4 * q + k];                                                   \
    h[lane] = x[0], h[4 + lane] = x[d1], h[8 + lane] = x[d2], h[12 + lane] = x[d3];          \
  }
    for (; q < quads; q++, h += 16) {
      GATHER_LANE(0, 0) GATHER_LANE(1, 2) GATHER_LANE(2, 1) GATHER_LANE(3, 3)
    }
#undef GATHER_LANE
    patch = (nn_word_t *)h;
  }
}

/* One pixel, window inside the image. */
static void gather1(const nn_conv_t *p, const int8_t *x0, nn_word_t *patch) {
  const uint16_t *tap = p->tap_offset;
  const uint32_t quads = p->seg_len >> 2;
  for (uint32_t s = 0; s < p->segments; s++, x0 += p->seg_step) {
    uint32_t q = 0;
    for (; q < p->seg_contiguous; q++, patch += 2) {
      uint32_t v = read32(x0 + tap_at(tap, 4 * q));
      patch[0] = nn_sxtb16(v), patch[1] = nn_sxtb16_ror8(v);
    }
    int16_t *h = (int16_t *)patch;
    for (; q < quads; q++, h += 4) {
      for (int k = 0; k < 4; k++) h[LANE[k]] = x0[tap[4 * q + k]];
    }
    patch = (nn_word_t *)h;
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
      uint32_t offset = s * p->seg_step + tap_at(p->tap_offset, t);
      int16_t *d = patch + ((s * p->seg_len + t) >> 2) * 4 * groups + LANE[t & 3];
      *d = inside ? input[origin + (int32_t)offset] : p->input_zero_point;
    }
  }
}

/* ---- multiply-accumulate over a patch */

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
/* The hot loops in assembly: GCC splits the patch loads into single words and reloads pointers.
 * A quad of mac4 is LDR + 2 LDM + 2 SXTB16 + 8 SMLAD (LDM wants its registers named, r8-r11),
 * with SUBS/BNE once per two quads: 14 instructions for 16 multiply-adds. A quad of mac1x4 is
 * 3 LDRD + 8 SXTB16 + 8 SMLAD + SUBS/BNE: 21 for 16. */
#define MAC4_QUAD                          \
  "ldr %[wa], [%[w]], #4\n\t"              \
  "ldmia %[x]!, {r8-r11}\n\t"              \
  "sxtb16 %[wb], %[wa], ror #8\n\t"        \
  "sxtb16 %[wa], %[wa]\n\t"                \
  "smlad %[a0], %[wa], r8, %[a0]\n\t"      \
  "smlad %[a0], %[wb], r9, %[a0]\n\t"      \
  "smlad %[a1], %[wa], r10, %[a1]\n\t"     \
  "smlad %[a1], %[wb], r11, %[a1]\n\t"     \
  "ldmia %[x]!, {r8-r11}\n\t"              \
  "smlad %[a2], %[wa], r8, %[a2]\n\t"      \
  "smlad %[a2], %[wb], r9, %[a2]\n\t"      \
  "smlad %[a3], %[wa], r10, %[a3]\n\t"     \
  "smlad %[a3], %[wb], r11, %[a3]\n\t"

NN_INLINE void mac4(const nn_word_t *w, const nn_word_t *x, uint32_t quads, int32_t *acc) {
  int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  register uint32_t x0 __asm__("r8"), x1 __asm__("r9"), x2 __asm__("r10"), x3 __asm__("r11");
  uint32_t wa, wb;
  __asm__ volatile(
      "lsrs %[n], %[n], #1\n\t"  /* an odd quad first, then pairs */
      "bcc 2f\n\t"
      MAC4_QUAD
      "2:\n\t"
      "cbz %[n], 3f\n\t"
      "1:\n\t"
      MAC4_QUAD MAC4_QUAD
      "subs %[n], %[n], #1\n\t"
      "bne 1b\n\t"
      "3:"
      : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [w] "+r"(w), [x] "+r"(x),
        [n] "+l"(quads), [wa] "=&r"(wa), [wb] "=&r"(wb), "=r"(x0), "=r"(x1), "=r"(x2), "=r"(x3)
      :
      : "cc", "memory");
  acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}
#undef MAC4_QUAD

#define MAC1X4_PAIR(a, b)                      \
  "ldrd %[wa], %[wb], [%[w]], #8\n\t"          \
  "sxtb16 %[t], %[wa]\n\t"                     \
  "sxtb16 %[wa], %[wa], ror #8\n\t"            \
  "smlad %[" a "], %[t], %[x0], %[" a "]\n\t"  \
  "smlad %[" a "], %[wa], %[x1], %[" a "]\n\t" \
  "sxtb16 %[t], %[wb]\n\t"                     \
  "sxtb16 %[wb], %[wb], ror #8\n\t"            \
  "smlad %[" b "], %[t], %[x0], %[" b "]\n\t"  \
  "smlad %[" b "], %[wb], %[x1], %[" b "]\n\t"

/* 1 pixel, 4 channels whose weights are interleaved quad by quad. */
NN_INLINE void mac1x4(const nn_word_t *w, const nn_word_t *x, uint32_t quads, int32_t *acc) {
  int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  uint32_t wa, wb, x0, x1, t;
  if (quads)
    __asm__ volatile(
        "1:\n\t"
        "ldrd %[x0], %[x1], [%[x]], #8\n\t"
        MAC1X4_PAIR("a0", "a1") MAC1X4_PAIR("a2", "a3")
        "subs %[n], %[n], #1\n\t"
        "bne 1b"
        : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [w] "+r"(w), [x] "+r"(x),
          [n] "+r"(quads), [wa] "=&r"(wa), [wb] "=&r"(wb), [x0] "=&r"(x0), [x1] "=&r"(x1),
          [t] "=&r"(t)
        :
        : "cc", "memory");
  acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}
#undef MAC1X4_PAIR
#else
/* 4 pixels, 1 channel: per quad one weight word against 8 patch words. */
NN_INLINE void mac4(const nn_word_t *w, const nn_word_t *x, uint32_t quads, int32_t *acc) {
  int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  for (; quads; quads--, x += 8) {
    uint32_t wq = *w++;
    uint32_t w01 = nn_sxtb16(wq), w23 = nn_sxtb16_ror8(wq);
    a0 = nn_smlad(w01, x[0], a0);
    a0 = nn_smlad(w23, x[1], a0);
    a1 = nn_smlad(w01, x[2], a1);
    a1 = nn_smlad(w23, x[3], a1);
    a2 = nn_smlad(w01, x[4], a2);
    a2 = nn_smlad(w23, x[5], a2);
    a3 = nn_smlad(w01, x[6], a3);
    a3 = nn_smlad(w23, x[7], a3);
  }
  acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}

/* 1 pixel, 4 channels whose weights are interleaved quad by quad: each patch word serves 4. */
NN_INLINE void mac1x4(const nn_word_t *w, const nn_word_t *x, uint32_t quads, int32_t *acc) {
  int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  for (; quads; quads--, x += 2, w += 4) {
    a0 = nn_smlad(nn_sxtb16_ror8(w[0]), x[1], nn_smlad(nn_sxtb16(w[0]), x[0], a0));
    a1 = nn_smlad(nn_sxtb16_ror8(w[1]), x[1], nn_smlad(nn_sxtb16(w[1]), x[0], a1));
    a2 = nn_smlad(nn_sxtb16_ror8(w[2]), x[1], nn_smlad(nn_sxtb16(w[2]), x[0], a2));
    a3 = nn_smlad(nn_sxtb16_ror8(w[3]), x[1], nn_smlad(nn_sxtb16(w[3]), x[0], a3));
  }
  acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}
#endif

NN_INLINE void mac1(const nn_word_t *w, const nn_word_t *x, uint32_t quads, int32_t *acc) {
  int32_t a = *acc;
  for (; quads; quads--, x += 2) {
    uint32_t wq = *w++;
    a = nn_smlad(nn_sxtb16(wq), x[0], a);
    a = nn_smlad(nn_sxtb16_ror8(wq), x[1], a);
  }
  *acc = a;
}

/* Sums of channel c for `groups` (1 or 4) pixels from a patch, dense or blocked weights;
 * returns the weights of the next channel. A blocked channel reads runs of segments. */
NN_INLINE const nn_word_t *patch_sums(const nn_conv_t *p, uint32_t c, const nn_word_t *w,
                                      const uint8_t **runs, const nn_word_t *patch,
                                      int groups, int32_t *acc, int dense) {
  const uint32_t quads = p->seg_len >> 2;
  if (dense) {
    const uint32_t all = quads * p->segments;
    if (groups == 4) mac4(w, patch, all, acc); else mac1(w, patch, all, acc);
    return w + all;
  }
  for (uint32_t k = p->seg_count[c]; k; k--) {
    const uint32_t first = (*runs)[0], run = (*runs)[1] * quads;
    const nn_word_t *x = patch + first * quads * 2 * groups;
    *runs += 2;
    if (groups == 4) mac4(w, x, run, acc); else mac1(w, x, run, acc);
    w += run;
  }
  return w;
}

/* ---- output stage and subsampling -------------------------------------------------------------
 * When an activation table follows, the emitter has folded the activation clamp into it, so
 * saturating to int8 is all the clamping left. Flags of the inline functions below:
 *   fast: every shift of the step is <= -2 (nn_rqf_apply), set by the emitter;
 *   with_table / sub_table: a table follows the conv / the subsampling.
 * The hot paths pass constants, so they compile to straight code; others pass variables. */

typedef struct {
  int32_t offset, lo, hi;
  const int8_t *table;
} stage_t;

NN_INLINE int32_t finish(const stage_t *s, int32_t v, int with_table) {
  v = nn_sat8(v + s->offset);
  return with_table ? s->table[v] : nn_clamp(v, s->lo, s->hi);
}

/* nn_rqf_apply, the output offset, saturation and the table, for the LeNet case: 10 or so
 * instructions. The rounding constant's words come from the sign without a branch. */
NN_INLINE int32_t requantize_lookup(int32_t x, int32_t multiplier, int32_t high,
                                    int32_t right_minus_1, int32_t offset, const int8_t *table) {
  int32_t sign = x >> 31;
  int64_t t = nn_words(high + sign, 0x40000000u | ((uint32_t)sign & 0x80000000u));
  t += (int64_t)x * multiplier;
  return table[nn_sat8(((int32_t)(t >> 32) >> right_minus_1) + offset)];
}

NN_INLINE int32_t requantize(int32_t acc, int32_t multiplier, int32_t shift, int fast) {
  if (fast) {
    nn_rqf_t r = nn_rqf(multiplier, shift);
    return nn_rqf_apply(&r, acc);
  }
  nn_rq_t r = nn_rq(multiplier, shift);
  return nn_rq_apply(&r, acc);
}

NN_INLINE int32_t subsample(const nn_subsample_t *s, const stage_t *stage, uint32_t c,
                            const int32_t *v, int sub_table) {
  int32_t r;
  if (s->kind == NN_SUB_DEPTHWISE) {
    /* taps (0,0) (0,1) (1,0) (1,1): SXTB16 pairs w0 with w2 and w1 with w3 */
    uint32_t w = ((const nn_word_t *)s->weights)[c];
    int32_t acc = nn_smlad(nn_sxtb16(w), nn_pack(v[0], v[2]), s->bias[c]);
    acc = nn_smlad(nn_sxtb16_ror8(w), nn_pack(v[1], v[3]), acc);
    r = nn_requantize(acc, s->multiplier[c], s->shift[c]);
  } else if (s->kind == NN_SUB_AVERAGE) {
    int32_t sum = v[0] + v[1] + v[2] + v[3];
    r = (sum > 0 ? sum + 2 : sum - 2) / 4;  /* TFLM: rounding half away from zero */
  } else {
    int32_t m01 = v[0] > v[1] ? v[0] : v[1], m23 = v[2] > v[3] ? v[2] : v[3];
    r = m01 > m23 ? m01 : m23;
  }
  return finish(stage, r, sub_table);
}

/* Tables after a conv or a subsampling are stored by value, -128 first: index v + 128. */
static stage_t conv_stage(const nn_conv_t *p) {
  stage_t s = {p->output_offset, p->act_min, p->act_max, p->table ? p->table + 128 : 0};
  return s;
}

static stage_t subsample_stage(const nn_subsample_t *s) {
  stage_t t = {s->output_offset, s->act_min, s->act_max, s->table ? s->table + 128 : 0};
  return t;
}

/* ---- the three paths -------------------------------------------------------------------------
 * Kept apart: inlined together into nn_conv, GCC's register allocation of the hot LeNet loops
 * gets worse by a few percent. */
#define NN_PATH __attribute__((noinline)) static

/* All channels of one 2x2 block, from its patch; channel c goes to output[c * step]. */
NN_INLINE void block_channels(const nn_conv_t *p, const nn_word_t *patch, int8_t *output,
                              int with_table, int sub_table) {
  const stage_t stage = conv_stage(p), sub_stage = subsample_stage(p->subsample);
  const nn_word_t *w = (const nn_word_t *)p->weights;
  const uint8_t *runs = p->seg_index;
  for (uint32_t c = 0; c < p->out_c; c++, output += p->out_channel_step) {
    int32_t acc[4] = {p->bias[c], p->bias[c], p->bias[c], p->bias[c]};
    w = patch_sums(p, c, w, &runs, patch, 4, acc, p->encoding == NN_DENSE);
    const int32_t multiplier = p->multiplier[c], shift = p->shift[c];
    for (int j = 0; j < 4; j++)
      acc[j] = finish(&stage, requantize(acc[j], multiplier, shift, 0), with_table);
    *output = (int8_t)subsample(p->subsample, &sub_stage, c, acc, sub_table);
  }
}

/* block_channels when a table follows the conv and every shift is <= -2 (LeNet's convolutions):
 * straight-line requantization and lookup of the 4 sums, then the subsampling; `depthwise`
 * (with its table) has its own straight line too. */
NN_INLINE void block_channels_fast(const nn_conv_t *p, const nn_word_t *patch, int8_t *output,
                                   int dense, int depthwise) {
  const nn_subsample_t *s = p->subsample;
  const stage_t sub_stage = subsample_stage(s);
  const int8_t *table = p->table + 128;
  const int32_t offset = p->output_offset;
  const nn_word_t *w = (const nn_word_t *)p->weights, *sub_w = (const nn_word_t *)s->weights;
  const uint8_t *runs = p->seg_index;
  for (uint32_t c = 0; c < p->out_c; c++, output += p->out_channel_step) {
    int32_t acc[4] = {p->bias[c], p->bias[c], p->bias[c], p->bias[c]};
    w = patch_sums(p, c, w, &runs, patch, 4, acc, dense);
    int32_t multiplier = p->multiplier[c], right_minus_1 = -p->shift[c] - 1;
    int32_t high = 1 << (right_minus_1 - 1);
    int32_t v0 = requantize_lookup(acc[0], multiplier, high, right_minus_1, offset, table);
    int32_t v1 = requantize_lookup(acc[1], multiplier, high, right_minus_1, offset, table);
    int32_t v2 = requantize_lookup(acc[2], multiplier, high, right_minus_1, offset, table);
    int32_t v3 = requantize_lookup(acc[3], multiplier, high, right_minus_1, offset, table);
    int32_t r;
    if (depthwise) {
      uint32_t sw = sub_w[c];  /* taps (0,0) (0,1) (1,0) (1,1); SXTB16 pairs 0 with 2, 1 with 3 */
      int32_t sum = nn_smlad(nn_sxtb16(sw), nn_pack(v0, v2), s->bias[c]);
      sum = nn_smlad(nn_sxtb16_ror8(sw), nn_pack(v1, v3), sum);
      right_minus_1 = -s->shift[c] - 1;
      r = requantize_lookup(sum, s->multiplier[c], 1 << (right_minus_1 - 1), right_minus_1,
                            sub_stage.offset, sub_stage.table);
    } else {
      const int32_t v[4] = {v0, v1, v2, v3};
      r = subsample(s, &sub_stage, c, v, s->table != 0);
    }
    *output = (int8_t)r;
  }
}

/* 2x2 groups of conv outputs, each subsampled at once; dense or blocked weights. */
NN_PATH void conv_subsampled(const nn_conv_t *p, const int8_t *input, int8_t *output,
                             int16_t *patch) {
  const uint32_t out_h = p->out_h / 2, out_w = p->out_w / 2;
  const int32_t d1 = p->stride_w * p->x_step, d2 = p->stride_h * p->y_step;
  /* a table after the conv and shifts <= -2 (a depthwise subsampling then needs its table):
   * LeNet-5's case, specialized for dense and blocked weights */
  const int depthwise = p->subsample->kind == NN_SUB_DEPTHWISE;
  const int fast = p->fast && p->table && (!depthwise || p->subsample->table);
  nn_word_t *words = (nn_word_t *)patch;
  for (uint32_t py = 0; py < out_h; py++) {
    for (uint32_t px = 0; px < out_w; px++) {
      int32_t oy = 2 * py, ox = 2 * px;
      int8_t *out = output + (py * out_w + px) * p->out_pixel_step;
      if (window_inside(p, oy, ox) && window_inside(p, oy + 1, ox + 1)) {
        gather4(p, input + window_origin(p, oy, ox), d1, d2, d1 + d2, words);
      } else {
        for (int j = 0; j < 4; j++)
          gather_border(p, input, oy + (j >> 1), ox + (j & 1), 4, patch + 4 * j);
      }
      if (fast && depthwise && p->encoding == NN_DENSE) block_channels_fast(p, words, out, 1, 1);
      else if (fast && depthwise) block_channels_fast(p, words, out, 0, 1);
      else if (fast) block_channels_fast(p, words, out, p->encoding == NN_DENSE, 0);
      else block_channels(p, words, out, p->table != 0, p->subsample->table != 0);
    }
  }
}

/* All channels of one pixel; dense weights four channels at a time (stored interleaved quad by
 * quad; the out_c % 4 last channels one after another). */
NN_INLINE void pixel_channels(const nn_conv_t *p, const nn_word_t *x, int8_t *output,
                              int fast, int with_table) {
  const stage_t stage = conv_stage(p);
  const uint32_t quads = p->segments * p->seg_len / 4, step = p->out_channel_step;
  const nn_word_t *w = (const nn_word_t *)p->weights;
  const uint8_t *runs = p->seg_index;
  uint32_t c = 0;
  if (p->encoding == NN_DENSE) {
    for (; c + 3 < p->out_c; c += 4, w += 4 * quads) {
      int32_t acc[4] = {p->bias[c], p->bias[c + 1], p->bias[c + 2], p->bias[c + 3]};
      mac1x4(w, x, quads, acc);
      for (int j = 0; j < 4; j++, output += step)
        *output = (int8_t)finish(
            &stage, requantize(acc[j], p->multiplier[c + j], p->shift[c + j], fast), with_table);
    }
  }
  for (; c < p->out_c; c++, output += step) {
    int32_t acc = p->bias[c];
    w = patch_sums(p, c, w, &runs, x, 1, &acc, p->encoding == NN_DENSE);
    acc = requantize(acc, p->multiplier[c], p->shift[c], fast);
    *output = (int8_t)finish(&stage, acc, with_table);
  }
}

/* One pixel at a time. */
NN_PATH void conv_plain(const nn_conv_t *p, const int8_t *input, int8_t *output, int16_t *patch) {
  nn_word_t *words = (nn_word_t *)patch;
  for (uint32_t oy = 0; oy < p->out_h; oy++) {
    for (uint32_t ox = 0; ox < p->out_w; ox++) {
      int8_t *out = output + (oy * p->out_w + ox) * p->out_pixel_step;
      if (window_inside(p, oy, ox)) gather1(p, input + window_origin(p, oy, ox), words);
      else gather_border(p, input, oy, ox, 1, patch);
      if (p->fast && p->table) pixel_channels(p, words, out, 1, 1);
      else pixel_channels(p, words, out, 0, p->table != 0);
    }
  }
}

/* The sums of one channel from sparse weights, walked over the raw input of 1 or 4 pixels. */
NN_INLINE void sparse_sums(const int8_t *x, const int8_t **weights, const uint8_t **skips,
                           uint32_t n, int32_t d1, int32_t d2, int32_t d3, int groups,
                           int32_t *acc) {
  const int8_t *w = *weights;
  const uint8_t *skip = *skips;
  int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  for (; n; n--) {
    x += *skip++;
    int32_t wv = *w++;
    a0 = nn_mla(a0, wv, x[0]);
    if (groups == 4) {
      a1 = nn_mla(a1, wv, x[d1]);
      a2 = nn_mla(a2, wv, x[d2]);
      a3 = nn_mla(a3, wv, x[d3]);
    }
  }
  acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
  *weights = w, *skips = skip;
}

/* The sums of one channel from bitmap weights: each set bit is the window byte of the next
 * nonzero weight (CTZ finds it). */
NN_INLINE void bitmap_sums(const int8_t *x, const int8_t **weights, const uint32_t **bitmap,
                           uint32_t words, int32_t d1, int32_t d2, int32_t d3, int groups,
                           int32_t *acc) {
  const int8_t *w = *weights;
  const uint32_t *map = *bitmap;
  int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  for (; words; words--, x += 32) {
    for (uint32_t bits = *map++; bits; bits &= bits - 1) {
      const int8_t *tap = x + __builtin_ctz(bits);
      int32_t wv = *w++;
      a0 = nn_mla(a0, wv, tap[0]);
      if (groups == 4) {
        a1 = nn_mla(a1, wv, tap[d1]);
        a2 = nn_mla(a2, wv, tap[d2]);
        a3 = nn_mla(a3, wv, tap[d3]);
      }
    }
  }
  acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
  *weights = w, *bitmap = map;
}

/* Sparse or bitmap weights (every window inside the image): only the nonzero weights, each
 * multiplying the input byte its step or its bit points at. */
NN_PATH void conv_sparse(const nn_conv_t *p, const int8_t *input, int8_t *output) {
  const int groups = p->subsample ? 4 : 1, step = groups == 4 ? 2 : 1;
  const uint32_t out_h = p->out_h / step, out_w = p->out_w / step;
  const int32_t d1 = p->stride_w * p->x_step, d2 = p->stride_h * p->y_step, d3 = d1 + d2;
  const stage_t stage = conv_stage(p);
  const stage_t sub_stage = p->subsample ? subsample_stage(p->subsample) : stage;
  for (uint32_t py = 0; py < out_h; py++) {
    for (uint32_t px = 0; px < out_w; px++) {
      const int8_t *base = input + window_origin(p, step * py, step * px);
      int8_t *out = output + (py * out_w + px) * p->out_pixel_step;
      const int8_t *w = p->weights;
      const uint8_t *skip = p->skip;
      const uint32_t *map = p->bitmap;
      for (uint32_t c = 0; c < p->out_c; c++, out += p->out_channel_step) {
        int32_t acc[4] = {p->bias[c], p->bias[c], p->bias[c], p->bias[c]};
        if (p->encoding == NN_BITMAP && groups == 4)
          bitmap_sums(base, &w, &map, p->bitmap_words, d1, d2, d3, 4, acc);
        else if (p->encoding == NN_BITMAP)
          bitmap_sums(base, &w, &map, p->bitmap_words, d1, d2, d3, 1, acc);
        else if (groups == 4)
          sparse_sums(base, &w, &skip, p->nnz[c], d1, d2, d3, 4, acc);
        else
          sparse_sums(base, &w, &skip, p->nnz[c], d1, d2, d3, 1, acc);
        for (int j = 0; j < groups; j++)
          acc[j] = finish(&stage, requantize(acc[j], p->multiplier[c], p->shift[c], 0),
                          stage.table != 0);
        *out = (int8_t)(groups == 4 ? subsample(p->subsample, &sub_stage, c, acc,
                                                sub_stage.table != 0)
                                    : acc[0]);
      }
    }
  }
}

void nn_conv(const nn_conv_t *p, const int8_t *input, int8_t *output, int16_t *scratch) {
  if (p->encoding == NN_SPARSE || p->encoding == NN_BITMAP) conv_sparse(p, input, output);
  else if (p->subsample) conv_subsampled(p, input, output, scratch);
  else conv_plain(p, input, output, scratch);
}
