/* The byte patch of the dense and blocked conv variants, for Helium (Cortex-M55), ARMv6-M
 * (Cortex-M0/M0+) and ARMv7-M without DSP (Cortex-M3); included by nn_patch.h, which picks it,
 * in place of its int16 patch.
 *
 * Pixel j's window is the K = segments * seg_len bytes at patch + j * K, tap after tap in patch
 * order: exactly the order of the weights of one channel (nn_ops.h), so a channel's sum is a
 * straight dot product of two byte runs. (Without subsampling the dense weights come four
 * channels interleaved quad by quad: nn_mac1x4 reads them so.) The patch takes half the int16
 * scratch the emitter reserves. Sums wrap modulo 2**32, as TFLM's int32 accumulator.
 *
 * Helium: VMLADAVA.S8 multiplies 16 int8 pairs and adds them to a 32-bit sum in one
 * instruction; the last vector of a run is predicated (a tail-predicated loop), so runs need
 * not be multiples of 16. ARMv6-M: an LDRSB/MULS loop in assembly. Cortex-M3: plain C, an
 * LDRSB and an MLA a product.
 */
#ifndef NN_BYTEPATCH_H
#define NN_BYTEPATCH_H

#include <string.h>

#include "nn_conv.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#define NN_MVE 1
#else
#define NN_MVE 0
#endif

/* Four window bytes of a contiguous quad: one unaligned word on the M55, bytes on the M0
 * (ARMv6-M faults on unaligned words; memcpy there would be a call). */
NN_INLINE void nn_copy4(int8_t *d, const int8_t *x) {
#if defined(__ARM_FEATURE_UNALIGNED)
  uint32_t v;
  memcpy(&v, x, 4);
  memcpy(d, &v, 4);
#else
  d[0] = x[0], d[1] = x[1], d[2] = x[2], d[3] = x[3];
#endif
}

/* One pixel, window inside the image: its K bytes at d. */
NN_INLINE void nn_gather_bytes(const nn_taps_t *p, const int8_t *x0, int8_t *d) {
  const uint16_t *tap = p->tap_offset;
  const uint32_t quads = p->seg_len >> 2;
  for (uint32_t s = 0; s < p->segments; s++, x0 += p->seg_step) {
    uint32_t q = 0;
    for (; q < p->seg_contiguous; q++, d += 4) nn_copy4(d, x0 + nn_tap_at(tap, 4 * q));
    for (; q < quads; q++, d += 4) {
      const uint16_t *t = tap + 4 * q;
      d[0] = x0[t[0]], d[1] = x0[t[1]], d[2] = x0[t[2]], d[3] = x0[t[3]];
    }
  }
}

NN_INLINE void nn_gather1(const nn_taps_t *p, const int8_t *x0, nn_word_t *patch) {
  nn_gather_bytes(p, x0, (int8_t *)patch);
}

/* The 4 pixels of a 2x2 block, windows inside the image, one after another. */
NN_INLINE void nn_gather4(const nn_taps_t *p, const int8_t *x0, int32_t d1, int32_t d2,
                          int32_t d3, nn_word_t *patch) {
  const uint32_t k = (uint32_t)p->segments * p->seg_len;
  int8_t *d = (int8_t *)patch;
  nn_gather_bytes(p, x0, d);
  nn_gather_bytes(p, x0 + d1, d + k);
  nn_gather_bytes(p, x0 + d2, d + 2 * k);
  nn_gather_bytes(p, x0 + d3, d + 3 * k);
}

/* One pixel of a window that crosses the border: taps outside the image read the zero point.
 * `groups` is unused: the pixel's bytes start where nn_pixel_patch says. */
static inline void nn_gather_border(const nn_window_t *g, const nn_taps_t *p,
                                    const int8_t *input, int32_t oy, int32_t ox, int groups,
                                    int16_t *patch) {
  int32_t y0 = oy * g->stride_h - g->pad_h, x0 = ox * g->stride_w - g->pad_w;
  int32_t origin = nn_window_origin(g, oy, ox);
  int8_t *d = (int8_t *)patch;
  for (uint32_t s = 0; s < p->segments; s++) {
    for (uint32_t t = 0; t < p->seg_len; t++) {
      int32_t y = y0 + p->tap_y[t], x = x0 + p->tap_x[t];
      int inside = y >= 0 && x >= 0 && y < g->in_h && x < g->in_w;
      uint32_t offset = s * p->seg_step + nn_tap_at(p->tap_offset, t);
      *d++ = inside ? input[origin + (int32_t)offset] : p->input_zero_point;
    }
  }
}

NN_INLINE int16_t *nn_pixel_patch(const nn_taps_t *p, int16_t *patch, int j) {
  return (int16_t *)((int8_t *)patch + j * (uint32_t)p->segments * p->seg_len);
}

/* ---- dot products: n bytes (a multiple of 4) of weights w against 1 or 4 pixels' bytes. */
#if NN_MVE
/* A tail-predicated low-overhead loop (DLSTP/LETP): 16 bytes a turn, the last turn only the
 * bytes left; per turn 5 VLDRB with post-increment and 4 VMLADAVA.S8, 10 instructions for 64
 * multiply-adds. (GCC 12 does not form such loops from the intrinsics: with VCTP and VPST per
 * load its loop was 38 instructions.) VMLADAVA's accumulator must be an even register. */
NN_INLINE void nn_dot4(const int8_t *w, const int8_t *x, uint32_t stride, uint32_t n,
                       int32_t *acc) {
  if (!n) return;
  register int32_t a0 __asm__("r4") = acc[0], a1 __asm__("r6") = acc[1];
  register int32_t a2 __asm__("r8") = acc[2], a3 __asm__("r10") = acc[3];
  const int8_t *x1 = x + stride, *x2 = x1 + stride, *x3 = x2 + stride;
  __asm__ volatile(
      "dlstp.8 lr, %[n]\n"
      "1:\n\t"
      "vldrb.8 q0, [%[w]], #16\n\t"
      "vldrb.8 q1, [%[x0]], #16\n\t"
      "vmladava.s8 %[a0], q0, q1\n\t"
      "vldrb.8 q1, [%[x1]], #16\n\t"
      "vmladava.s8 %[a1], q0, q1\n\t"
      "vldrb.8 q1, [%[x2]], #16\n\t"
      "vmladava.s8 %[a2], q0, q1\n\t"
      "vldrb.8 q1, [%[x3]], #16\n\t"
      "vmladava.s8 %[a3], q0, q1\n\t"
      "letp lr, 1b"
      : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [w] "+r"(w), [x0] "+r"(x),
        [x1] "+r"(x1), [x2] "+r"(x2), [x3] "+r"(x3)
      : [n] "r"(n)
      : "lr", "d0", "d1", "d2", "d3", "memory");
  acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}

NN_INLINE void nn_dot1(const int8_t *w, const int8_t *x, uint32_t n, int32_t *acc) {
  if (!n) return;
  register int32_t a __asm__("r4") = *acc;
  __asm__ volatile(
      "dlstp.8 lr, %[n]\n"
      "1:\n\t"
      "vldrb.8 q0, [%[w]], #16\n\t"
      "vldrb.8 q1, [%[x]], #16\n\t"
      "vmladava.s8 %[a], q0, q1\n\t"
      "letp lr, 1b"
      : [a] "+r"(a), [w] "+r"(w), [x] "+r"(x)
      : [n] "r"(n)
      : "lr", "d0", "d1", "d2", "d3", "memory");
  *acc = a;
}

/* 1 pixel, 4 channels whose weights are interleaved quad by quad: per 4 quads, one load of the
 * pixel's 16 bytes and, per channel, a gather of its 4 weight words (16 bytes apart). */
NN_INLINE void nn_mac1x4(const nn_word_t *w, const nn_word_t *x, uint32_t quads, int32_t *acc) {
  const uint32x4_t offsets = {0, 16, 32, 48};
  const int8_t *xb = (const int8_t *)x;
  const uint32_t *wb = (const uint32_t *)w;
  int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  for (uint32_t q = 0; q < quads; q += 4, xb += 16, wb += 16) {
    mve_pred16_t words = vctp32q(quads - q), bytes = vctp8q(4 * (quads - q));
    int8x16_t xv = vldrbq_z_s8(xb, bytes);
    a0 = vmladavaq_s8(a0, vreinterpretq_s8_u32(vldrwq_gather_offset_z_u32(wb, offsets, words)), xv);
    a1 = vmladavaq_s8(a1, vreinterpretq_s8_u32(vldrwq_gather_offset_z_u32(wb + 1, offsets, words)), xv);
    a2 = vmladavaq_s8(a2, vreinterpretq_s8_u32(vldrwq_gather_offset_z_u32(wb + 2, offsets, words)), xv);
    a3 = vmladavaq_s8(a3, vreinterpretq_s8_u32(vldrwq_gather_offset_z_u32(wb + 3, offsets, words)), xv);
  }
  acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}
#elif defined(__ARM_ARCH_6M__)
/* ARMv6-M: LDRSB takes a register offset only, and the eight low registers hold the index,
 * the weight and 4 pixel pointers, the weight and the product, so the four sums live in high
 * registers (ADD reaches them). The index runs from -n up to 0 against pointers to the ends:
 * its ADDS sets the flags for BNE. 4 taps a turn: 57 instructions for 16 multiply-adds (GCC's
 * loop of the same C: 22 for 4). */
#define NN_DOT4_TAP                \
  "ldrsb %[wv], [%[w], %[i]]\n\t"   \
  "ldrsb %[t], [%[x0], %[i]]\n\t"   \
  "muls %[t], %[wv]\n\t"            \
  "add %[a0], %[t]\n\t"             \
  "ldrsb %[t], [%[x1], %[i]]\n\t"   \
  "muls %[t], %[wv]\n\t"            \
  "add %[a1], %[t]\n\t"             \
  "ldrsb %[t], [%[x2], %[i]]\n\t"   \
  "muls %[t], %[wv]\n\t"            \
  "add %[a2], %[t]\n\t"             \
  "ldrsb %[t], [%[x3], %[i]]\n\t"   \
  "muls %[t], %[wv]\n\t"            \
  "add %[a3], %[t]\n\t"             \
  "adds %[i], #1\n\t"

NN_INLINE void nn_dot4(const int8_t *w, const int8_t *x, uint32_t stride, uint32_t n,
                       int32_t *acc) {
  if (!n) return;
  const int8_t *we = w + n, *x0 = x + n, *x1 = x0 + stride, *x2 = x1 + stride,
               *x3 = x2 + stride;
  int32_t i = -(int32_t)n, wv, t;
  int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  __asm__ volatile(
      ".syntax unified\n\t"
      "1:\n\t"
      NN_DOT4_TAP NN_DOT4_TAP NN_DOT4_TAP NN_DOT4_TAP
      "bne 1b"
      : [a0] "+h"(a0), [a1] "+h"(a1), [a2] "+h"(a2), [a3] "+h"(a3), [i] "+l"(i),
        [wv] "=&l"(wv), [t] "=&l"(t)
      : [w] "l"(we), [x0] "l"(x0), [x1] "l"(x1), [x2] "l"(x2), [x3] "l"(x3)
      : "cc", "memory");
  acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}
#undef NN_DOT4_TAP

#else /* ARMv7-M (Cortex-M3): GCC's loop, LDRSB with an immediate offset and MLA */
NN_INLINE void nn_dot4(const int8_t *w, const int8_t *x, uint32_t stride, uint32_t n,
                       int32_t *acc) {
  const int8_t *x1 = x + stride, *x2 = x1 + stride, *x3 = x2 + stride;
  uint32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  for (uint32_t i = 0; i < n; i++) {
    const int32_t wv = w[i];
    a0 += (uint32_t)(wv * x[i]);
    a1 += (uint32_t)(wv * x1[i]);
    a2 += (uint32_t)(wv * x2[i]);
    a3 += (uint32_t)(wv * x3[i]);
  }
  acc[0] = (int32_t)a0, acc[1] = (int32_t)a1, acc[2] = (int32_t)a2, acc[3] = (int32_t)a3;
}
#endif
#if !NN_MVE
NN_INLINE void nn_dot1(const int8_t *w, const int8_t *x, uint32_t n, int32_t *acc) {
  uint32_t a = *acc;
  for (uint32_t i = 0; i < n; i++) a += (uint32_t)(w[i] * x[i]);
  *acc = (int32_t)a;
}

/* 1 pixel, 4 channels whose weights are interleaved quad by quad. */
NN_INLINE void nn_mac1x4(const nn_word_t *w, const nn_word_t *x, uint32_t quads, int32_t *acc) {
  const int8_t *wb = (const int8_t *)w, *xb = (const int8_t *)x;
  uint32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  for (; quads; quads--, wb += 16, xb += 4) {
    for (int k = 0; k < 4; k++) {
      const int32_t xv = xb[k];
      a0 += (uint32_t)(wb[k] * xv);
      a1 += (uint32_t)(wb[4 + k] * xv);
      a2 += (uint32_t)(wb[8 + k] * xv);
      a3 += (uint32_t)(wb[12 + k] * xv);
    }
  }
  acc[0] = (int32_t)a0, acc[1] = (int32_t)a1, acc[2] = (int32_t)a2, acc[3] = (int32_t)a3;
}
#endif

/* Sums of channel c for `groups` (1 or 4) pixels from the byte patch; returns the weights of
 * the next channel. A blocked channel (b not 0) reads b->seg_count[c] runs of segments from
 * b->seg_index, (first, count) each. */
NN_INLINE const nn_word_t *nn_patch_sums(const nn_patch_conv_t *p, const nn_conv_blocked_t *b,
                                         uint32_t c, const nn_word_t *w, const uint8_t **runs,
                                         const nn_word_t *patch, int groups, int32_t *acc) {
  const uint32_t len = p->taps.seg_len, k = len * p->taps.segments;
  const int8_t *wb = (const int8_t *)w, *x = (const int8_t *)patch;
  if (!b) {
    if (groups == 4) nn_dot4(wb, x, k, k, acc); else nn_dot1(wb, x, k, acc);
    return (const nn_word_t *)(wb + k);
  }
  for (uint32_t r = b->seg_count[c]; r; r--) {
    const uint32_t first = (*runs)[0] * len, n = (*runs)[1] * len;
    *runs += 2;
    if (groups == 4) nn_dot4(wb, x + first, k, n, acc); else nn_dot1(wb, x + first, n, acc);
    wb += n;
  }
  return (const nn_word_t *)wb;
}

#endif
