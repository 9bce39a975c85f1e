/* CONV_2D and FULLY_CONNECTED with paired weights: per output channel only its nonzero taps,
 * two taps one input byte apart sharing one SMLAD. The input is first copied into a buffer of
 * int16 pairs P[i] = (x[i], x[i+1]), so a pair of taps at window offsets o and o+1 is one word
 * against the weight pair (w[o], w[o+1]); a tap without such a partner pairs with a zero weight.
 * Each pair is one stream entry of two words: the weight pair and the byte offset of its input
 * word in the buffer (the emitter's, firmware/encode.py), so the loop neither shifts nor loads
 * an offset apart.
 *   1 pixel: the buffer is P, word i at byte 4i.
 *   the 4 pixels of a 2x2 group (fused subsampling), sums in registers: the buffer interleaves
 *   the group's two rows, Q[2i] = P[i], Q[2i+1] = P[i + d2] (d2 the input bytes between them),
 *   word 2i at byte 8i, for i < in_size - d2 (no group reads further). With stride 1 over a
 *   byte per column (LeNet's) a pair's four input words are then consecutive: one LDM; on the
 *   DSP cores that loop is assembly, 7 instructions a pair (8 multiply-adds) and a SUBS/BNE
 *   every two pairs (every four in the row block of the _lut depthwise form, LeNet-5's).
 * A dead map (a channel without a nonzero weight) is its bias through the output stage, once,
 * written to all its pixels. Every window inside the image. Variants as in conv_dense.c; the
 * scratch is the pair buffer.
 */
#include "nn_conv.h"

/* Entries of the pair buffer (words, or 2-word groups of the interleaved one). */
NN_INLINE uint32_t nn_pair_entries(const nn_conv_pairs_t *k, int kind) {
  return kind ? k->in_size - k->window.stride_h * k->window.y_step : k->in_size;
}

/* P[i] = (x[i], x[i+1]); P[n-1]'s partner is 0 (its weight is 0). */
NN_INLINE uint32_t nn_pair_at(const int8_t *x, uint32_t i, uint32_t n) {
  return nn_pack(x[i], i + 1 < n ? x[i + 1] : 0);
}

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <string.h>
/* P[i..i+3] from x[i..i+4]: one word load split by SXTB16 into (x0, x2) and (x1, x3), then
 * repacked (PKHBT/PKHTB), about 2 instructions a pair where byte by byte takes 5. */
NN_INLINE void nn_pairs4(const int8_t *x, nn_word_t *p, int step) {
  uint32_t a, p0, p1, p2, p3;
  memcpy(&a, x, 4);  /* one LDR: the M3 and later load unaligned words */
  const uint32_t even = nn_sxtb16(a), odd = nn_sxtb16_ror8(a), next = (uint32_t)x[4];
  __asm__("pkhbt %[p0], %[even], %[odd], lsl #16\n\t"       /* (x0, x1) */
          "pkhbt %[p1], %[odd], %[even]\n\t"                 /* (x1, x2) */
          "pkhtb %[p2], %[odd], %[even], asr #16\n\t"       /* (x2, x3) */
          "ror %[p3], %[odd], #16\n\t"
          "pkhbt %[p3], %[p3], %[next], lsl #16"             /* (x3, x4) */
          : [p0] "=&r"(p0), [p1] "=&r"(p1), [p2] "=&r"(p2), [p3] "=&r"(p3)
          : [even] "r"(even), [odd] "r"(odd), [next] "r"(next));
  p[0] = p0, p[step] = p1, p[2 * step] = p2, p[3 * step] = p3;
}
#define NN_PAIRS4 1
#else
#define NN_PAIRS4 0
#endif

NN_INLINE void nn_pair_input(const int8_t *x, uint32_t n, nn_word_t *pairs) {
  uint32_t i = 0;
#if NN_PAIRS4
  for (; i + 4 < n; i += 4) nn_pairs4(x + i, pairs + i, 1);
#endif
  int32_t previous = x[i];
  for (i++; i < n; i++) {
    int32_t next = x[i];
    pairs[i - 1] = nn_pack(previous, next);
    previous = next;
  }
  pairs[n - 1] = nn_pack(previous, 0);
}

/* P[i] for lo <= i < hi into the interleaved buffer: at Q[2i] (`top`, i < m) and at
 * Q[2(i - d2) + 1] (`bottom`, i >= d2), each pair computed once. */
NN_INLINE void nn_pair_range(const int8_t *x, uint32_t n, uint32_t lo, uint32_t hi, int32_t d2,
                             nn_word_t *q, int top, int bottom) {
  uint32_t i = lo;
#if NN_PAIRS4
  for (; i + 4 <= hi && i + 4 < n; i += 4) {
    nn_word_t p[4];
    nn_pairs4(x + i, p, 1);
    if (top) {
      nn_word_t *t = q + 2 * i;
      t[0] = p[0], t[2] = p[1], t[4] = p[2], t[6] = p[3];
    }
    if (bottom) {
      nn_word_t *b = q + 2 * (i - d2) + 1;
      b[0] = p[0], b[2] = p[1], b[4] = p[2], b[6] = p[3];
    }
  }
#endif
  for (; i < hi; i++) {
    const uint32_t v = nn_pair_at(x, i, n);
    if (top) q[2 * i] = v;
    if (bottom) q[2 * (i - d2) + 1] = v;
  }
}

/* The interleaved buffer Q of the first m = n - d2 entries (m > 0): Q[2i] = P[i] and
 * Q[2i + 1] = P[i + d2]. */
NN_INLINE void nn_pair_input_rows(const int8_t *x, uint32_t n, uint32_t d2, nn_word_t *q) {
  const uint32_t m = n - d2, low = d2 < m ? d2 : m, high = d2 < m ? m : d2;
  nn_pair_range(x, n, 0, low, d2, q, 1, 0);
  nn_pair_range(x, n, d2, m, d2, q, 1, 1);  /* empty unless d2 < m */
  nn_pair_range(x, n, high, n, d2, q, 0, 1);
}
#undef NN_PAIRS4

/* 2x, wrapping; and both int16 halves of a pair doubled (int8 values: no half overflows). */
NN_INLINE int32_t nn_double(int32_t x) { return (int32_t)((uint32_t)x << 1); }
NN_INLINE uint32_t nn_double16(uint32_t pair) { return (pair << 1) & 0xFFFEFFFFu; }

/* PAIR_RQF's constant 2**(e-1) + o 2**e from nn_lut_rq_t's high = 2**(e-2). */
NN_INLINE int32_t nn_rqf2_high(int32_t high, int32_t offset, int32_t e) {
  return (int32_t)(((uint32_t)high << 1) + ((uint32_t)offset << e));
}

/* A stream entry: the weight pair, and the byte offset of its input word in the buffer. */
NN_INLINE const nn_word_t *nn_pair_word(const nn_word_t *p, uint32_t offset) {
  return (const nn_word_t *)((const uint8_t *)p + offset);
}

/* The sums of one channel's n pairs for the 2x2 group whose pixel (0,0) reads at p in the
 * interleaved buffer: Q words (x, row 0), (x, row 1), then those of the next column, d1 P
 * words on (2 d1 Q words). */
NN_INLINE void nn_pair_sums4(const nn_word_t *p, int32_t d1, const uint32_t *w, uint32_t n,
                             int32_t *acc) {
  const int32_t right = 2 * d1;
  int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  for (const uint32_t *end = w + 2 * n; w != end; w += 2) {
    const nn_word_t *x = nn_pair_word(p, w[1]);
    const uint32_t pair = w[0];
    a0 = nn_smlad(pair, x[0], a0);
    a1 = nn_smlad(pair, x[right], a1);
    a2 = nn_smlad(pair, x[1], a2);
    a3 = nn_smlad(pair, x[right + 1], a3);
  }
  acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
/* nn_pair_sums4 for d1 == 1 in assembly: the four words are consecutive, one LDM into r0-r3
 * (fixed: an LDM's registers load in their number's order). A pair is LDRD, ADD, LDM and
 * 4 SMLAD, two pairs a SUBS/BNE. */
#define PAIR_STEP                               \
  "ldrd %[pair], %[t], [%[w]], #8\n\t"          \
  "add %[t], %[p], %[t]\n\t"                    \
  "ldm %[t], {r0, r1, r2, r3}\n\t"              \
  "smlad %[a0], %[pair], r0, %[a0]\n\t"         \
  "smlad %[a2], %[pair], r1, %[a2]\n\t"         \
  "smlad %[a1], %[pair], r2, %[a1]\n\t"         \
  "smlad %[a3], %[pair], r3, %[a3]\n\t"

NN_INLINE void nn_pair_sums4_next(const nn_word_t *p, const uint32_t *w, uint32_t n,
                                  int32_t *acc) {
  int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  uint32_t t, pair;
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
        [n] "+l"(n), [t] "=&r"(t), [pair] "=&r"(pair)
      : [p] "r"(p)
      : "r0", "r1", "r2", "r3", "cc", "memory");
  acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}
#else
NN_INLINE void nn_pair_sums4_next(const nn_word_t *p, const uint32_t *w, uint32_t n,
                                  int32_t *acc) {
  nn_pair_sums4(p, 1, w, n, acc);
}
#endif

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <stddef.h>
/* What the row block below reads and writes in memory (GCC cannot keep it in registers around
 * a block that takes all of them), laid out for its loads: LDM takes each stage's four words
 * into r0-r3. The block takes doubled sums (nn_conv_pairs_t.doubled): a stage is then
 * SMMLAR's rounded high word (PAIR_RQF), its output offset inside that word's constant. */
typedef struct {
  int32_t conv[3];             /* the conv's stage: multiplier, high2, e (PAIR_RQF) */
  const int8_t *table;
  uint32_t sub_even, sub_odd;  /* the depthwise subsampling's 4 weights as SXTB16 splits
                                  them, doubled */
  int32_t sub_bias;            /* doubled */
  int32_t sub[3];              /* its stage, as the conv's */
  const int8_t *sub_table;
  int32_t bias;                /* doubled */
  const uint32_t *w;           /* the channel's stream */
  uint32_t count;              /* passes of the 4-pair loop over the pairs after the first */
  uint32_t entry;              /* the TBB index: pairs skipped in the first pass, 4 for none */
  int32_t out;                 /* the next output's offset from `end` (< 0), advanced by
                                  the block */
  int32_t pixel_step;
  int8_t *end;                 /* the output past the row */
} nn_pair_row_t;

/* The stage of a doubled sum s = 2x (|x| < 2**30): nn_rqf_lookup's floor((x*M + 2**30 +
 * 2**(30+e) - [x<0] 2**31) / 2**(31+e)) is floor((s*M + 2**31 + (2**(e-1) - [s<0]) 2**32) /
 * 2**(32+e)): SMMLAR's high word with 2**(e-1) - [s<0] as its accumulator, shifted right by e.
 * The output offset o joins that constant as o 2**e (high2 = 2**(e-1) + o 2**e; exact while
 * e <= 22: the word stays below 2**31), then SSAT and the table: 5 instructions, with the
 * constants in r0-r2 and the table in r3. */
#define PAIR_RQF(a)                             \
  "add %[t], r1, %[" a "], asr #31\n\t"        \
  "smmlar %[t], %[" a "], r0, %[t]\n\t"        \
  "asr %[t], %[t], r2\n\t"                     \
  "ssat %[t], #8, %[t]\n\t"                    \
  "ldrsb %[" a "], [r3, %[t]]\n\t"

/* A row of 2x2 groups of the _lut depthwise form with d1 == 1 (LeNet-5's C1 and C3) in one
 * block, p at the row's first group: per group the sums (as nn_pair_sums4_next: the first pair
 * from the bias, then four pairs a pass of the loop counted in LR, the first pass entered by
 * TBB past `entry` pairs), then nn_group_dw_lut's output, the same operations in the same
 * order on doubled sums, stored at q->end + q->out. Against a block per group with C between,
 * GCC's loop and register moves are gone and each stage's constants take one LDM. */
NN_INLINE void nn_pair_row_dw_lut(const nn_word_t *p, nn_pair_row_t *q) {
  int32_t a0, a1, a2, a3;
  uint32_t t, pair;
  const uint32_t *w;
  __asm__ volatile(
      "0:\n\t"
      "ldrd %[a0], %[w], [%[q], %[bias]]\n\t"  /* bias, w */
      "ldrd %[pair], %[t], [%[w]], #8\n\t"     /* the first pair, PAIR_STEP from the bias */
      "add %[t], %[p], %[t]\n\t"
      "ldm %[t], {r0, r1, r2, r3}\n\t"
      "smlad %[a2], %[pair], r1, %[a0]\n\t"
      "smlad %[a1], %[pair], r2, %[a0]\n\t"
      "smlad %[a3], %[pair], r3, %[a0]\n\t"
      "smlad %[a0], %[pair], r0, %[a0]\n\t"
      "ldrd lr, %[t], [%[q], %[count]]\n\t"   /* count, entry */
      "tbb [pc, %[t]]\n\t"
      "5:\n\t"
      ".byte (1f - 5b) / 2, (6f - 5b) / 2, (7f - 5b) / 2, (8f - 5b) / 2, (9f - 5b) / 2\n\t"
      ".align 1\n\t"
      "1:\n\t"
      PAIR_STEP
      "6:\n\t"
      PAIR_STEP
      "7:\n\t"
      PAIR_STEP
      "8:\n\t"
      PAIR_STEP
      "subs lr, lr, #1\n\t"
      "bne 1b\n\t"
      "9:\n\t"
      "ldm %[q], {r0, r1, r2, r3}\n\t"
      PAIR_RQF("a0") PAIR_RQF("a1") PAIR_RQF("a2") PAIR_RQF("a3")
      "pkhbt %[a0], %[a0], %[a2], lsl #16\n\t"  /* (v0, v2) */
      "pkhbt %[a1], %[a1], %[a3], lsl #16\n\t"  /* (v1, v3) */
      "add %[t], %[q], %[sub_w]\n\t"
      "ldm %[t]!, {r0, r1, r2}\n\t"             /* (w0, w2), (w1, w3), bias */
      "smlad %[a0], r0, %[a0], r2\n\t"
      "smlad %[a0], r1, %[a1], %[a0]\n\t"
      "ldm %[t], {r0, r1, r2, r3}\n\t"          /* its stage */
      PAIR_RQF("a0")
      "ldrd %[t], %[pair], [%[q], %[out]]\n\t"  /* out - end, pixel_step */
      "ldr %[a1], [%[q], %[end]]\n\t"
      "strb %[a0], [%[a1], %[t]]\n\t"
      "add %[p], %[p], #16\n\t"                 /* the next group: 2 columns, 4 words */
      "adds %[t], %[t], %[pair]\n\t"            /* 0 past the row's last group */
      "str %[t], [%[q], %[out]]\n\t"
      "bne 0b"
      : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [w] "=&r"(w),
        [p] "+r"(p), [t] "=&r"(t), [pair] "=&r"(pair)
      : [q] "r"(q), [bias] "i"(offsetof(nn_pair_row_t, bias)),
        [count] "i"(offsetof(nn_pair_row_t, count)),
        [sub_w] "i"(offsetof(nn_pair_row_t, sub_even)),
        [out] "i"(offsetof(nn_pair_row_t, out)), [end] "i"(offsetof(nn_pair_row_t, end))
      : "r0", "r1", "r2", "r3", "lr", "cc", "memory");
}
#undef PAIR_RQF
#undef PAIR_STEP
#define NN_PAIR_GROUP 1
#else
#define NN_PAIR_GROUP 0
#endif

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
/* One pixel's sum in assembly (LDRD, LDR, SMLAD a pair, two pairs a SUBS/BNE; GCC's loop takes
 * 6): FULLY_CONNECTED's case. */
#define PAIR_STEP1                              \
  "ldrd %[pair], %[t], [%[w]], #8\n\t"          \
  "ldr %[t], [%[p], %[t]]\n\t"                  \
  "smlad %[acc], %[pair], %[t], %[acc]\n\t"

NN_INLINE int32_t nn_pair_sums1(const nn_word_t *p, const uint32_t *w, uint32_t n, int32_t acc) {
  uint32_t t, pair;
  __asm__ volatile(
      "lsrs %[n], %[n], #1\n\t"
      "bcc 2f\n\t"
      PAIR_STEP1
      "2:\n\t"
      "cbz %[n], 3f\n\t"
      "1:\n\t"
      PAIR_STEP1 PAIR_STEP1
      "subs %[n], %[n], #1\n\t"
      "bne 1b\n\t"
      "3:"
      : [acc] "+r"(acc), [w] "+r"(w), [n] "+l"(n), [t] "=&r"(t), [pair] "=&r"(pair)
      : [p] "r"(p)
      : "cc", "memory");
  return acc;
}
#undef PAIR_STEP1
#else
NN_INLINE int32_t nn_pair_sums1(const nn_word_t *p, const uint32_t *w, uint32_t n, int32_t acc) {
  for (const uint32_t *end = w + 2 * n; w != end; w += 2)
    acc = nn_smlad(w[0], *nn_pair_word(p, w[1]), acc);
  return acc;
}
#endif

/* One output of channel c: pixel sums (kind 0, acc[0]) or a group's four, through the stage. */
NN_INLINE int32_t nn_pairs_out(const nn_conv_pairs_t *k, const nn_group_stage_t *s,
                               const void *sub, const int8_t *table, const int8_t *sub_table,
                               uint32_t c, const int32_t *acc, int kind, int lut) {
  const nn_output_t *o = &k->output;
  if (!kind)
    return lut ? nn_output_lut(&s->conv, s->conv_offset, table, acc[0])
               : nn_output_any(o, table, c, acc[0]);
  return nn_group_apply(s, o, table, sub, sub_table, c, acc, kind, lut);
}

/* One channel c over every pixel (kind 0) or 2x2 group (else, subsampled by `kind`, nn_conv.h):
 * its pairs, bias and output constants stay in registers or on the stack across the pixels. */
NN_INLINE void nn_pairs_channel(const nn_conv_pairs_t *k, const void *sub, const int8_t *table,
                                const int8_t *sub_table, const nn_word_t *pairs, int8_t *out,
                                uint32_t c, const uint32_t *w, int kind, int lut) {
  const nn_window_t *g = &k->window;
  const int step = kind ? 2 : 1;
  const uint32_t out_h = g->out_h / step, out_w = g->out_w / step, n = k->pairs[c];
  /* P words between columns and rows of pixels; Q words are twice as many */
  const int32_t d1 = g->stride_w * g->x_step, d2 = g->stride_h * g->y_step, width = kind ? 2 : 1;
  const int32_t pixel_step = g->out_pixel_step, bias = k->output.bias[c];
  const nn_group_stage_t s = nn_group_stage(&k->output, sub, c, kind, lut);
  if (n == 0) {  /* a dead map: every output is the bias's */
    const int32_t acc[4] = {bias, bias, bias, bias};
    const int8_t v = (int8_t)nn_pairs_out(k, &s, sub, table, sub_table, c, acc, kind, lut);
    for (uint32_t i = 0; i < out_h * out_w; i++, out += pixel_step) *out = v;
    return;
  }
  const nn_word_t *row = pairs + width * nn_window_origin(g, 0, 0);
#if NN_PAIR_GROUP
  if (kind == NN_SUB_DEPTHWISE && lut && d1 == 1 && k->doubled) {  /* LeNet-5's C1 and C3 */
    const int32_t e = s.conv.right_minus_1 + 1, sub_e = s.sub.right_minus_1 + 1;
    const uint32_t rest = n - 1;  /* the pairs after the first */
    nn_pair_row_t q = {{s.conv.multiplier, nn_rqf2_high(s.conv.high, s.conv_offset, e), e},
                       table, nn_double16(nn_sxtb16(s.sub_weights)),
                       nn_double16(nn_sxtb16_ror8(s.sub_weights)), nn_double(s.sub_bias),
                       {s.sub.multiplier, nn_rqf2_high(s.sub.high, s.sub_offset, sub_e), sub_e},
                       sub_table, nn_double(bias), w, (rest + 3) / 4,
                       rest ? (4 - rest % 4) % 4 : 4, 0, pixel_step, out};
    const int32_t span = (int32_t)out_w * pixel_step;
    for (uint32_t py = 0; py < out_h && out_w; py++, row += 4 * d2) {
      q.end += span, q.out = -span;
      nn_pair_row_dw_lut(row, &q);
    }
    return;
  }
#endif
  /* doubled sums (the stream's weights are: only with this variant) are halved before the
   * stage, exactly, as they fit */
  const int doubled = kind == NN_SUB_DEPTHWISE && lut && k->doubled;
  const int32_t start = doubled ? nn_double(bias) : bias;
  for (uint32_t py = 0; py < out_h; py++, row += width * step * d2) {
    const nn_word_t *base = row;
    for (uint32_t px = 0; px < out_w; px++, base += width * step * d1, out += pixel_step) {
      int32_t acc[4] = {start, start, start, start};
      if (!kind) acc[0] = nn_pair_sums1(base, w, n, start);
      else if (d1 == 1) nn_pair_sums4_next(base, w, n, acc);  /* LeNet's */
      else nn_pair_sums4(base, d1, w, n, acc);
      if (doubled)
        for (int j = 0; j < 4; j++) acc[j] >>= 1;
      *out = (int8_t)nn_pairs_out(k, &s, sub, table, sub_table, c, acc, kind, lut);
    }
  }
}

#undef NN_PAIR_GROUP

/* One pixel (FULLY_CONNECTED's case): channel after channel, without the per-channel setup
 * of a pixel loop, which outweighs a pixel's few pairs. */
NN_INLINE void nn_pairs_pixel(const nn_conv_pairs_t *k, const int8_t *table,
                              const nn_word_t *pairs, int8_t *output, int lut) {
  const nn_output_t *o = &k->output;
  const nn_word_t *base = pairs + nn_window_origin(&k->window, 0, 0);
  const uint32_t *w = k->weights;
  const uint32_t step = k->window.out_channel_step;
  for (uint32_t c = 0; c < k->out_c; c++, output += step) {
    const uint32_t n = k->pairs[c];
    *output = (int8_t)nn_output(o, table, c, nn_pair_sums1(base, w, n, o->bias[c]), lut);
    w += 2 * n;
  }
}

/* Channel by channel (the weights' order), each over all pixels. */
NN_INLINE void nn_pairs_conv(const nn_conv_pairs_t *k, const void *sub, const int8_t *input,
                             int8_t *output, nn_word_t *pairs, int kind, int lut) {
  const int8_t *table = nn_table_origin(k->output.table);
  const int8_t *sub_table = kind ? nn_sub_table(sub, kind) : 0;
  const uint32_t *w = k->weights;
  if (kind) nn_pair_input_rows(input, k->in_size, k->in_size - nn_pair_entries(k, kind), pairs);
  else nn_pair_input(input, k->in_size, pairs);
  if (!kind && k->window.out_h * k->window.out_w == 1) {
    nn_pairs_pixel(k, table, pairs, output, lut);
    return;
  }
  for (uint32_t c = 0; c < k->out_c; c++) {
    nn_pairs_channel(k, sub, table, sub_table, pairs, output + c * k->window.out_channel_step, c,
                     w, kind, lut);
    w += 2 * k->pairs[c];
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
