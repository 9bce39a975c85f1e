/* The patch path of the dense and blocked conv variants (conv_dense.c, conv_blocked.c): gather
 * the window of 1 pixel, or of the 4 pixels of a 2x2 group, into an int16 patch interleaved per
 * 4 taps, then multiply it with SMLAD against the weights of each output channel. Static inline
 * only; `blocked`, `kind` and `lut` are constants in every caller, so each variant compiles to
 * straight code.
 */
#ifndef NN_PATCH_H
#define NN_PATCH_H

#include <string.h>

#include "nn_conv.h"

NN_INLINE uint32_t nn_tap_at(const uint16_t *tap, uint32_t t) { return tap ? tap[t] : t; }

/* Two layouts of the patch. The int16 one below serves SXTB16/SMLAD (Cortex-M4, M7, M33) and
 * a host build. The byte patch of nn_bytepatch.h (each pixel's window bytes in tap order)
 * serves Helium's 16-lane int8 multiply-adds (Cortex-M55), ARMv6-M (Cortex-M0, M0+: no DSP,
 * few registers, sign-extending loads with a register offset only) and the Cortex-M3 (no DSP:
 * a byte and an MLA a product, 16% fewer instructions than its int16 patch, measured). */
#if (defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)) || defined(__ARM_ARCH_6M__) || defined(__ARM_ARCH_7M__)
#define NN_BYTE_PATCH 1
#include "nn_bytepatch.h"
#else
#define NN_BYTE_PATCH 0

NN_INLINE uint32_t nn_read32(const int8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);  /* one LDR: ARMv7-M loads unaligned words */
  return v;
}

/* ---- patches: element (segment s, tap t, pixel j) sits in quad (s*seg_len + t)/4, slot j, at
 * halfword LANE[t%4] (pair order (x0, x2), (x1, x3)), so that one quad of weights meets the same
 * quad of every pixel in consecutive words. */
static const uint8_t NN_LANE[4] = {0, 2, 1, 3};

/* The 4 pixels of a 2x2 block, windows inside the image: x0 is the first window's origin, d1..d3
 * the offsets of the others. */
NN_INLINE void nn_gather4(const nn_taps_t *p, const int8_t *x0, int32_t d1, int32_t d2,
                          int32_t d3, nn_word_t *patch) {
  const uint16_t *tap = p->tap_offset;
  const uint32_t quads = p->seg_len >> 2;
  for (uint32_t s = 0; s < p->segments; s++, x0 += p->seg_step) {
    uint32_t q = 0;
    for (; q < p->seg_contiguous; q++, patch += 8) {
      const int8_t *x = x0 + nn_tap_at(tap, 4 * q);
      uint32_t v0 = nn_read32(x), v1 = nn_read32(x + d1), v2 = nn_read32(x + d2);
      uint32_t v3 = nn_read32(x + d3);
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
NN_INLINE void nn_gather1(const nn_taps_t *p, const int8_t *x0, nn_word_t *patch) {
  const uint16_t *tap = p->tap_offset;
  const uint32_t quads = p->seg_len >> 2;
  for (uint32_t s = 0; s < p->segments; s++, x0 += p->seg_step) {
    uint32_t q = 0;
    for (; q < p->seg_contiguous; q++, patch += 2) {
      uint32_t v = nn_read32(x0 + nn_tap_at(tap, 4 * q));
      patch[0] = nn_sxtb16(v), patch[1] = nn_sxtb16_ror8(v);
    }
    int16_t *h = (int16_t *)patch;
    for (; q < quads; q++, h += 4) {
      for (int k = 0; k < 4; k++) h[NN_LANE[k]] = x0[tap[4 * q + k]];
    }
    patch = (nn_word_t *)h;
  }
}

/* One pixel of a window that crosses the border: taps outside the image read the zero point. */
static inline void nn_gather_border(const nn_window_t *g, const nn_taps_t *p,
                                    const int8_t *input, int32_t oy, int32_t ox, int groups,
                                    int16_t *patch) {
  int32_t y0 = oy * g->stride_h - g->pad_h, x0 = ox * g->stride_w - g->pad_w;
  int32_t origin = nn_window_origin(g, oy, ox);
  for (uint32_t s = 0; s < p->segments; s++) {
    for (uint32_t t = 0; t < p->seg_len; t++) {
      int32_t y = y0 + p->tap_y[t], x = x0 + p->tap_x[t];
      int inside = y >= 0 && x >= 0 && y < g->in_h && x < g->in_w;
      uint32_t offset = s * p->seg_step + nn_tap_at(p->tap_offset, t);
      int16_t *d = patch + ((s * p->seg_len + t) >> 2) * 4 * groups + NN_LANE[t & 3];
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

NN_INLINE void nn_mac4(const nn_word_t *w, const nn_word_t *x, uint32_t quads, int32_t *acc) {
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
NN_INLINE void nn_mac1x4(const nn_word_t *w, const nn_word_t *x, uint32_t quads, int32_t *acc) {
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

NN_INLINE void nn_mac1(const nn_word_t *w, const nn_word_t *x, uint32_t quads, int32_t *acc) {
  int32_t a = *acc;
  for (; quads; quads--, x += 2) {
    uint32_t wq = *w++;
    a = nn_smlad(nn_sxtb16(wq), x[0], a);
    a = nn_smlad(nn_sxtb16_ror8(wq), x[1], a);
  }
  *acc = a;
}
#else
/* Without SXTB16 and SMLAD (a host build; the boards without them take the byte patch): the
 * same sums from byte and halfword loads, one MLA a product; this leaves the accumulators in
 * registers. Patch quad of a pixel: halfwords
 * (x0, x2, x1, x3); weight quad: bytes (w0, w1, w2, w3). Unsigned sums wrap as TFLM's int32. */
#define NN_QUAD(a, w, h)                                                \
  (a) += (uint32_t)((w)[0] * (h)[0] + (w)[2] * (h)[1]) +                \
         (uint32_t)((w)[1] * (h)[2] + (w)[3] * (h)[3])

/* 4 pixels, 1 channel: per quad 4 weights against the 4 pixels' quads. */
NN_INLINE void nn_mac4(const nn_word_t *w, const nn_word_t *x, uint32_t quads, int32_t *acc) {
  const int8_t *wb = (const int8_t *)w;
  const int16_t *h = (const int16_t *)x;
  uint32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  for (; quads; quads--, wb += 4, h += 16) {
    const int32_t q[4] = {wb[0], wb[1], wb[2], wb[3]};
    NN_QUAD(a0, q, h);
    NN_QUAD(a1, q, h + 4);
    NN_QUAD(a2, q, h + 8);
    NN_QUAD(a3, q, h + 12);
  }
  acc[0] = (int32_t)a0, acc[1] = (int32_t)a1, acc[2] = (int32_t)a2, acc[3] = (int32_t)a3;
}

/* 1 pixel, 4 channels whose weights are interleaved quad by quad: each patch quad serves 4. */
NN_INLINE void nn_mac1x4(const nn_word_t *w, const nn_word_t *x, uint32_t quads, int32_t *acc) {
  const int8_t *wb = (const int8_t *)w;
  const int16_t *h = (const int16_t *)x;
  uint32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  for (; quads; quads--, wb += 16, h += 4) {
    const int32_t q[4] = {h[0], h[1], h[2], h[3]};
    NN_QUAD(a0, wb, q);
    NN_QUAD(a1, wb + 4, q);
    NN_QUAD(a2, wb + 8, q);
    NN_QUAD(a3, wb + 12, q);
  }
  acc[0] = (int32_t)a0, acc[1] = (int32_t)a1, acc[2] = (int32_t)a2, acc[3] = (int32_t)a3;
}

/* 1 pixel, 1 channel. */
NN_INLINE void nn_mac1(const nn_word_t *w, const nn_word_t *x, uint32_t quads, int32_t *acc) {
  const int8_t *wb = (const int8_t *)w;
  const int16_t *h = (const int16_t *)x;
  uint32_t a = *acc;
  for (; quads; quads--, wb += 4, h += 4) NN_QUAD(a, wb, h);
  *acc = (int32_t)a;
}
#undef NN_QUAD
#endif

/* Sums of channel c for `groups` (1 or 4) pixels from a patch; returns the weights of the next
 * channel. A blocked channel (b not 0) reads b->seg_count[c] runs of segments from b->seg_index,
 * (first, count) each. */
NN_INLINE const nn_word_t *nn_patch_sums(const nn_patch_conv_t *p, const nn_conv_blocked_t *b,
                                         uint32_t c, const nn_word_t *w, const uint8_t **runs,
                                         const nn_word_t *patch, int groups, int32_t *acc) {
  const uint32_t quads = p->taps.seg_len >> 2;
  if (!b) {
    const uint32_t all = quads * p->taps.segments;
    if (groups == 4) nn_mac4(w, patch, all, acc); else nn_mac1(w, patch, all, acc);
    return w + all;
  }
  for (uint32_t k = b->seg_count[c]; k; k--) {
    const uint32_t first = (*runs)[0], run = (*runs)[1] * quads;
    const nn_word_t *x = patch + first * quads * 2 * groups;
    *runs += 2;
    if (groups == 4) nn_mac4(w, x, run, acc); else nn_mac1(w, x, run, acc);
    w += run;
  }
  return w;
}

/* Where pixel j of a 2x2 group starts, for nn_gather_border. */
NN_INLINE int16_t *nn_pixel_patch(const nn_taps_t *p, int16_t *patch, int j) {
  return patch + 4 * j;
}
#endif /* NN_BYTE_PATCH */

/* ---- one pixel per patch: dense weights four channels at a time (mac1x4), the out_c % 4 last
 * channels (and blocked ones, b not 0) one after another. */
NN_INLINE void nn_pixel_channels(const nn_patch_conv_t *p, const nn_conv_blocked_t *b,
                                 const nn_word_t *x, int8_t *output, int lut) {
  const int8_t *table = nn_table_origin(p->output.table);
  const uint32_t quads = p->taps.segments * p->taps.seg_len / 4;
  const uint32_t step = p->window.out_channel_step;
  const nn_word_t *w = (const nn_word_t *)p->weights;
  const uint8_t *runs = b ? b->seg_index : 0;
  uint32_t c = 0;
  if (!b) {
    for (; c + 3 < p->out_c; c += 4, w += 4 * quads) {
      const int32_t *bias = p->output.bias;
      int32_t acc[4] = {bias[c], bias[c + 1], bias[c + 2], bias[c + 3]};
      nn_mac1x4(w, x, quads, acc);
      for (int j = 0; j < 4; j++, output += step)
        *output = (int8_t)nn_output(&p->output, table, c + j, acc[j], lut);
    }
  }
  for (; c < p->out_c; c++, output += step) {
    int32_t acc = p->output.bias[c];
    w = nn_patch_sums(p, b, c, w, &runs, x, 1, &acc);
    *output = (int8_t)nn_output(&p->output, table, c, acc, lut);
  }
}

NN_INLINE void nn_patch_pixels(const nn_patch_conv_t *p, const nn_conv_blocked_t *b,
                               const int8_t *input, int8_t *output, int16_t *patch, int lut) {
  const nn_window_t *g = &p->window;
  nn_word_t *words = (nn_word_t *)patch;
  for (uint32_t oy = 0; oy < g->out_h; oy++) {
    for (uint32_t ox = 0; ox < g->out_w; ox++) {
      int8_t *out = output + (oy * g->out_w + ox) * g->out_pixel_step;
      if (nn_window_inside(g, oy, ox))
        nn_gather1(&p->taps, input + nn_window_origin(g, oy, ox), words);
      else
        nn_gather_border(g, &p->taps, input, oy, ox, 1, patch);
      nn_pixel_channels(p, b, words, out, lut);
    }
  }
}

/* ---- 2x2 groups of conv outputs per patch, each subsampled at once (`kind`, nn_conv.h). */
NN_INLINE void nn_block_channels(const nn_patch_conv_t *p, const nn_conv_blocked_t *b,
                                 const void *sub, const nn_word_t *patch, int8_t *output,
                                 int kind, int lut) {
  const nn_output_t *o = &p->output;
  const int8_t *table = nn_table_origin(o->table), *sub_table = nn_sub_table(sub, kind);
  const nn_word_t *w = (const nn_word_t *)p->weights;
  const uint8_t *runs = b ? b->seg_index : 0;
  /* taken once for blocked weights, per channel for dense ones: GCC then spills least
   * around the MAC loops on the M4 and the M7 (measured) */
  const int32_t blocked_offset = o->output_offset;
  for (uint32_t c = 0; c < p->out_c; c++, output += p->window.out_channel_step) {
    int32_t acc[4] = {o->bias[c], o->bias[c], o->bias[c], o->bias[c]};
    w = nn_patch_sums(p, b, c, w, &runs, patch, 4, acc);
    *output = (int8_t)nn_group_output(o, b ? blocked_offset : o->output_offset, table, sub,
                                      sub_table, c, acc, kind, lut);
  }
}

NN_INLINE void nn_patch_blocks(const nn_patch_conv_t *p, const nn_conv_blocked_t *b,
                               const void *sub, const int8_t *input, int8_t *output,
                               int16_t *patch, int kind, int lut) {
  const nn_window_t *g = &p->window;
  const uint32_t out_h = g->out_h / 2, out_w = g->out_w / 2;
  const int32_t d1 = g->stride_w * g->x_step, d2 = g->stride_h * g->y_step;
  nn_word_t *words = (nn_word_t *)patch;
  for (uint32_t py = 0; py < out_h; py++) {
    for (uint32_t px = 0; px < out_w; px++) {
      int32_t oy = 2 * py, ox = 2 * px;
      int8_t *out = output + (py * out_w + px) * g->out_pixel_step;
      if (nn_window_inside(g, oy, ox) && nn_window_inside(g, oy + 1, ox + 1)) {
        nn_gather4(&p->taps, input + nn_window_origin(g, oy, ox), d1, d2, d1 + d2, words);
      } else {
        for (int j = 0; j < 4; j++)
          nn_gather_border(g, &p->taps, input, oy + (j >> 1), ox + (j & 1), 4,
                           nn_pixel_patch(&p->taps, patch, j));
      }
      nn_block_channels(p, b, sub, words, out, kind, lut);
    }
  }
}

#endif
