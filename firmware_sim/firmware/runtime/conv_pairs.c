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
 * a block that takes all but one), laid out for its loads: LDM takes each stage's four words
 * into r0-r3. */
typedef struct {
  int32_t conv[4];             /* the conv's stage: multiplier, high, right_minus_1, offset */
  const int8_t *table;
  int32_t sub[4];              /* the depthwise subsampling's stage, the same four */
  const int8_t *sub_table;
  uint32_t sub_even, sub_odd;  /* its 4 weights as SXTB16 splits them: (w0, w2), (w1, w3) */
  int32_t sub_bias;
  int32_t bias;
  uint32_t n;                  /* pairs */
  const uint32_t *w;           /* the channel's stream */
  int8_t *out;                 /* the next output, advanced by the block */
  int32_t pixel_step;
  uint32_t count;              /* groups left in the row, counted down by the block */
} nn_pair_row_t;

/* nn_rqf_lookup of %[a] with the constants in r0-r3 (multiplier, high, right_minus_1,
 * output_offset) and the table at %[tab]: 8 instructions. */
#define PAIR_RQF(a, tab)                        \
  "and %[pair], %[" a "], #0x80000000\n\t"     \
  "orr %[pair], %[pair], #0x40000000\n\t"      \
  "add %[t], r1, %[" a "], asr #31\n\t"        \
  "smlal %[pair], %[t], %[" a "], r0\n\t"      \
  "asr %[t], %[t], r2\n\t"                     \
  "add %[t], %[t], r3\n\t"                     \
  "ssat %[t], #8, %[t]\n\t"                    \
  "ldrsb %[" a "], [%[" tab "], %[t]]\n\t"

/* A row of 2x2 groups of the _lut depthwise form with d1 == 1 (LeNet-5's C1 and C3) in one
 * block, p at the row's first group: per group the sums (as nn_pair_sums4_next), then
 * nn_group_dw_lut's output, the same operations in the same order, stored at q->out. q's
 * register counts pairs while q is saved in a C local (`saved`: in the frame GCC reports to
 * -fstack-usage, where a PUSH in the block would be hidden from it). Against a block per
 * group with C between, GCC's loop and register moves are gone and the stages' constants
 * take two LDM. */
NN_INLINE void nn_pair_row_dw_lut(const nn_word_t *p, nn_pair_row_t *q) {
  int32_t a0, a1, a2, a3;
  uint32_t t, pair;
  const uint32_t *w;
  nn_pair_row_t *saved;
  __asm__ volatile(
      "0:\n\t"
      "ldrd %[a0], %[t], [%[q], %[bias]]\n\t"  /* bias, n */
      "ldr %[w], [%[q], %[stream]]\n\t"
      "mov %[a1], %[a0]\n\t"
      "mov %[a2], %[a0]\n\t"
      "mov %[a3], %[a0]\n\t"
      "str %[q], %[saved]\n\t"
      /* n % 2 pairs, then 2 if n % 4 > 1, then four at a time; the steps leave the flags of
       * the LSRS before them */
      "lsrs %[q], %[t], #1\n\t"
      "bcc 2f\n\t"
      PAIR_STEP
      "2:\n\t"
      "lsrs %[q], %[q], #1\n\t"
      "bcc 4f\n\t"
      PAIR_STEP PAIR_STEP
      "4:\n\t"
      "beq 3f\n\t"
      "1:\n\t"
      PAIR_STEP PAIR_STEP PAIR_STEP PAIR_STEP
      "subs %[q], %[q], #1\n\t"
      "bne 1b\n\t"
      "3:\n\t"
      "ldr %[q], %[saved]\n\t"
      "ldm %[q], {r0, r1, r2, r3}\n\t"
      "ldr %[w], [%[q], %[table]]\n\t"
      PAIR_RQF("a0", "w") PAIR_RQF("a1", "w") PAIR_RQF("a2", "w") PAIR_RQF("a3", "w")
      "pkhbt %[a0], %[a0], %[a2], lsl #16\n\t"  /* (v0, v2) */
      "pkhbt %[a1], %[a1], %[a3], lsl #16\n\t"  /* (v1, v3) */
      "ldrd r0, r1, [%[q], %[sub_w]]\n\t"       /* (w0, w2), (w1, w3) */
      "ldr r2, [%[q], %[sub_b]]\n\t"
      "smlad %[a0], r0, %[a0], r2\n\t"
      "smlad %[a0], r1, %[a1], %[a0]\n\t"
      "add %[t], %[q], %[sub]\n\t"
      "ldm %[t], {r0, r1, r2, r3}\n\t"
      "ldr %[w], [%[q], %[sub_table]]\n\t"
      PAIR_RQF("a0", "w")
      "ldrd %[t], %[pair], [%[q], %[out]]\n\t"  /* out, pixel_step */
      "strb %[a0], [%[t]]\n\t"
      "add %[t], %[t], %[pair]\n\t"
      "str %[t], [%[q], %[out]]\n\t"
      "add %[p], %[p], #16\n\t"                 /* the next group: 2 columns, 4 words */
      "ldr %[t], [%[q], %[count]]\n\t"
      "subs %[t], %[t], #1\n\t"
      "str %[t], [%[q], %[count]]\n\t"
      "bne 0b"
      : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [w] "=&r"(w),
        [p] "+r"(p), [q] "+r"(q), [t] "=&r"(t), [pair] "=&r"(pair), [saved] "=m"(saved)
      : [bias] "i"(offsetof(nn_pair_row_t, bias)), [stream] "i"(offsetof(nn_pair_row_t, w)),
        [table] "i"(offsetof(nn_pair_row_t, table)),
        [sub_table] "i"(offsetof(nn_pair_row_t, sub_table)),
        [sub] "i"(offsetof(nn_pair_row_t, sub)),
        [sub_w] "i"(offsetof(nn_pair_row_t, sub_even)),
        [sub_b] "i"(offsetof(nn_pair_row_t, sub_bias)),
        [out] "i"(offsetof(nn_pair_row_t, out)), [count] "i"(offsetof(nn_pair_row_t, count))
      : "r0", "r1", "r2", "r3", "cc", "memory");
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
  if (kind == NN_SUB_DEPTHWISE && lut && d1 == 1) {  /* LeNet-5's C1 and C3 */
    nn_pair_row_t q = {{s.conv.multiplier, s.conv.high, s.conv.right_minus_1, s.conv_offset},
                       table,
                       {s.sub.multiplier, s.sub.high, s.sub.right_minus_1, s.sub_offset},
                       sub_table, nn_sxtb16(s.sub_weights), nn_sxtb16_ror8(s.sub_weights),
                       s.sub_bias, bias, n, w, out, pixel_step, 0};
    for (uint32_t py = 0; py < out_h && out_w; py++, row += 4 * d2) {
      q.count = out_w;
      nn_pair_row_dw_lut(row, &q);
    }
    return;
  }
#endif
  for (uint32_t py = 0; py < out_h; py++, row += width * step * d2) {
    const nn_word_t *base = row;
    for (uint32_t px = 0; px < out_w; px++, base += width * step * d1, out += pixel_step) {
      int32_t acc[4] = {bias, bias, bias, bias};
      if (!kind) acc[0] = nn_pair_sums1(base, w, n, bias);
      else if (d1 == 1) nn_pair_sums4_next(base, w, n, acc);  /* LeNet's */
      else nn_pair_sums4(base, d1, w, n, acc);
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
