/* What every CONV_2D / FULLY_CONNECTED variant shares (conv_*.c): window geometry, the output
 * stage per channel and the fused 2x2 subsamplings. Static inline only: each variant compiles
 * its own straight copy, with its choices (table or clamp, subsampling kind) as constants.
 *
 * TFLM sums filter * (input + input_offset) and adds the bias. The emitter folds
 * input_offset * sum(filter) into the bias, so the loops multiply raw int8 inputs; a tap in the
 * padding then holds the input zero point, whose term cancels the folded one exactly as TFLM's
 * skipped tap adds nothing. All sums wrap modulo 2**32 like TFLM's int32 accumulator.
 */
#ifndef NN_CONV_H
#define NN_CONV_H

#include "nn_arith.h"
#include "nn_ops.h"

/* ---- window geometry */

/* Index of the input byte at the window origin of conv output pixel (oy, ox); negative or past
 * the image only for border windows, which are then read tap by tap. */
NN_INLINE int32_t nn_window_origin(const nn_window_t *g, int32_t oy, int32_t ox) {
  int32_t y = oy * g->stride_h - g->pad_h, x = ox * g->stride_w - g->pad_w;
  return y * (int32_t)g->y_step + x * (int32_t)g->x_step;
}

NN_INLINE int nn_window_inside(const nn_window_t *g, int32_t oy, int32_t ox) {
  int32_t y = oy * g->stride_h - g->pad_h, x = ox * g->stride_w - g->pad_w;
  return g->all_inside || (y >= 0 && x >= 0 && y + g->win_h <= g->in_h && x + g->win_w <= g->in_w);
}

/* ---- output stage (accumulate.OutputStage): requantize, add output_offset, clamp, table.
 * When a table follows, the emitter has folded the activation clamp into it, so saturating to
 * int8 is all the clamping left. Two forms, chosen by the emitter through the variant's name:
 *   nn_output_any: any shift, table or not (TFLM's MultiplyByQuantizedMultiplier, nn_rq);
 *   the _lut variants: a table follows and every shift is <= -2 (nn_rqf_lookup), LeNet's case. */
NN_INLINE int32_t nn_output_any(const nn_output_t *o, const int8_t *table, uint32_t c,
                                int32_t acc) {
  nn_rq_t r = nn_rq(o->output_multiplier[c], o->output_shift[c]);
  int32_t v = nn_sat8(nn_rq_apply(&r, acc) + o->output_offset);
  v = nn_clamp(v, o->quantized_activation_min, o->quantized_activation_max);
  return table ? table[v] : v;
}

/* The constants nn_rqf_lookup needs for channel c (shift <= -2). */
typedef struct {
  int32_t multiplier, high, right_minus_1;
} nn_lut_rq_t;

NN_INLINE nn_lut_rq_t nn_lut_rq(const nn_output_t *o, uint32_t c) {
  int32_t right_minus_1 = -o->output_shift[c] - 1;
  nn_lut_rq_t r = {o->output_multiplier[c], 1 << (right_minus_1 - 1), right_minus_1};
  return r;
}

NN_INLINE int32_t nn_output_lut(const nn_lut_rq_t *r, int32_t output_offset,
                                const int8_t *table, int32_t acc) {
  return nn_rqf_lookup(acc, r->multiplier, r->high, r->right_minus_1, output_offset, table);
}

/* The output of channel c in the variant's form. */
NN_INLINE int32_t nn_output(const nn_output_t *o, const int8_t *table, uint32_t c, int32_t acc,
                            int lut) {
  if (lut) {
    nn_lut_rq_t r = nn_lut_rq(o, c);
    return nn_output_lut(&r, o->output_offset, table, acc);
  }
  return nn_output_any(o, table, c, acc);
}

/* ---- fused 2x2 stride-2 subsampling of the four conv outputs v[0..3] of channel c, in the
 * order (0,0) (0,1) (1,0) (1,1). `lut`: the depthwise's stage takes nn_rqf_lookup. */
enum { NN_SUB_DEPTHWISE = 1, NN_SUB_AVERAGE = 2, NN_SUB_MAX = 3 };

/* The depthwise subsampling's sum: w is channel c's word of 4 weights, bias its bias. */
NN_INLINE int32_t nn_sub_dw_sum(uint32_t w, const int32_t *v, int32_t bias) {
  /* SXTB16 pairs tap 0 with tap 2 and tap 1 with tap 3 */
  int32_t acc = nn_smlad(nn_sxtb16(w), nn_pack(v[0], v[2]), bias);
  return nn_smlad(nn_sxtb16_ror8(w), nn_pack(v[1], v[3]), acc);
}

NN_INLINE int32_t nn_sub_depthwise(const nn_sub_depthwise_t *s, const int8_t *table, uint32_t c,
                                   const int32_t *v, int lut) {
  int32_t acc = nn_sub_dw_sum(((const nn_word_t *)s->weights)[c], v, s->output.bias[c]);
  if (lut) {
    nn_lut_rq_t r = nn_lut_rq(&s->output, c);
    return nn_output_lut(&r, s->output.output_offset, table, acc);
  }
  return nn_output_any(&s->output, table, c, acc);
}

/* AVERAGE_POOL_2D / MAX_POOL_2D: input and output share their quantization, no rescale. */
NN_INLINE int32_t nn_sub_pool(const nn_sub_pool_t *s, const int8_t *table, const int32_t *v,
                              int kind) {
  int32_t r;
  if (kind == NN_SUB_AVERAGE) {
    int32_t sum = v[0] + v[1] + v[2] + v[3];
    r = (sum > 0 ? sum + 2 : sum - 2) / 4;  /* TFLM: rounding half away from zero */
  } else {
    int32_t m01 = v[0] > v[1] ? v[0] : v[1], m23 = v[2] > v[3] ? v[2] : v[3];
    r = m01 > m23 ? m01 : m23;
  }
  r = nn_clamp(r, s->quantized_activation_min, s->quantized_activation_max);
  return table ? table[r] : r;
}

/* The subsampling `kind` of channel c: sub is an nn_sub_depthwise_t or an nn_sub_pool_t. */
NN_INLINE int32_t nn_subsample(const void *sub, const int8_t *table, uint32_t c,
                               const int32_t *v, int kind, int lut) {
  if (kind == NN_SUB_DEPTHWISE)
    return nn_sub_depthwise((const nn_sub_depthwise_t *)sub, table, c, v, lut);
  return nn_sub_pool((const nn_sub_pool_t *)sub, table, v, kind);
}

/* The table after the subsampling (origin as in nn_arith.h), or 0. */
NN_INLINE const int8_t *nn_sub_table(const void *sub, int kind) {
  return nn_table_origin(kind == NN_SUB_DEPTHWISE ? ((const nn_sub_depthwise_t *)sub)->output.table
                                                  : ((const nn_sub_pool_t *)sub)->table);
}

/* The four conv sums acc[0..3] of a 2x2 group of channel c through the conv's output stage,
 * then subsampled: the group's output. The _lut stage's constants are taken once for the
 * four, each output a handful of instructions in registers; output_offset is the caller's
 * (o->output_offset, or a copy it took outside its channel loop). */
NN_INLINE int32_t nn_group_output(const nn_output_t *o, int32_t output_offset, const int8_t *table,
                                  const void *sub, const int8_t *sub_table, uint32_t c,
                                  const int32_t *acc, int kind, int lut) {
  int32_t v[4];
  if (lut) {
    nn_lut_rq_t r = nn_lut_rq(o, c);
    v[0] = nn_output_lut(&r, output_offset, table, acc[0]);
    v[1] = nn_output_lut(&r, output_offset, table, acc[1]);
    v[2] = nn_output_lut(&r, output_offset, table, acc[2]);
    v[3] = nn_output_lut(&r, output_offset, table, acc[3]);
  } else {
    for (int j = 0; j < 4; j++) v[j] = nn_output_any(o, table, c, acc[j]);
  }
  return nn_subsample(sub, sub_table, c, v, kind, lut);
}

/* ---- the group output of one channel with its constants taken once (nn_group_stage), for a
 * caller whose pixel loop sits inside its channel loop (conv_pairs.c): through the parameter
 * structs, GCC reloads and recomputes them after every output byte it stores (an int8 store
 * may alias them). Only the _lut forms, LeNet's, are held; the others read the structs. */
typedef struct {
  nn_lut_rq_t conv, sub;       /* the conv's stage, the depthwise subsampling's */
  int32_t conv_offset, sub_offset, sub_bias;
  uint32_t sub_weights;        /* the depthwise subsampling's word of 4 weights */
} nn_group_stage_t;

NN_INLINE nn_group_stage_t nn_group_stage(const nn_output_t *o, const void *sub, uint32_t c,
                                          int kind, int lut) {
  nn_group_stage_t s = {{0, 0, 0}, {0, 0, 0}, o->output_offset, 0, 0, 0};
  if (lut) s.conv = nn_lut_rq(o, c);
  if (lut && kind == NN_SUB_DEPTHWISE) {
    const nn_sub_depthwise_t *d = (const nn_sub_depthwise_t *)sub;
    s.sub = nn_lut_rq(&d->output, c);
    s.sub_offset = d->output.output_offset, s.sub_bias = d->output.bias[c];
    s.sub_weights = ((const nn_word_t *)d->weights)[c];
  }
  return s;
}

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <stddef.h>
/* nn_rqf_lookup of register %[a] with the constants at %[s] + base (an nn_lut_rq_t) and the
 * offset at %[s] + offset, table %[table]: 8 instructions once the constants are loaded. */
#define NN_RQF_LOOKUP(a, table)                   \
  "and %[lo], %[" a "], #0x80000000\n\t"         \
  "orr %[lo], %[lo], #0x40000000\n\t"           \
  "add %[hi], %[h], %[" a "], asr #31\n\t"       \
  "smlal %[lo], %[hi], %[" a "], %[m]\n\t"       \
  "asr %[hi], %[hi], %[r]\n\t"                  \
  "add %[hi], %[hi], %[o]\n\t"                  \
  "ssat %[hi], #8, %[hi]\n\t"                   \
  "ldrsb %[" a "], [%[" table "], %[hi]]\n\t"

/* nn_group_apply's _lut depthwise form (LeNet-5's C1 and C3) in assembly: GCC keeps the
 * stage's constants on the stack and reloads them around every output (about 85 instructions
 * a group on the M4, measured; this is about 55). Same operations, same order. */
NN_INLINE int32_t nn_group_dw_lut(const nn_group_stage_t *s, const int8_t *table,
                                  const int8_t *sub_table, const int32_t *acc) {
  int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  int32_t m, h, r, o, lo, hi;
  __asm__(
      "ldrd %[m], %[h], [%[s], %[conv]]\n\t"
      "ldr %[r], [%[s], %[conv_r]]\n\t"
      "ldr %[o], [%[s], %[conv_o]]\n\t"
      NN_RQF_LOOKUP("a0", "table") NN_RQF_LOOKUP("a1", "table")
      NN_RQF_LOOKUP("a2", "table") NN_RQF_LOOKUP("a3", "table")
      "pkhbt %[a0], %[a0], %[a2], lsl #16\n\t"  /* (v0, v2) */
      "pkhbt %[a1], %[a1], %[a3], lsl #16\n\t"  /* (v1, v3) */
      "ldrd %[m], %[h], [%[s], %[sub_b]]\n\t"   /* bias, the word of 4 weights */
      "sxtb16 %[r], %[h]\n\t"
      "smlad %[a0], %[r], %[a0], %[m]\n\t"
      "sxtb16 %[r], %[h], ror #8\n\t"
      "smlad %[a0], %[r], %[a1], %[a0]\n\t"
      "ldrd %[m], %[h], [%[s], %[sub]]\n\t"
      "ldr %[r], [%[s], %[sub_r]]\n\t"
      "ldr %[o], [%[s], %[sub_o]]\n\t"
      NN_RQF_LOOKUP("a0", "sub_table")
      : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [m] "=&r"(m), [h] "=&r"(h),
        [r] "=&r"(r), [o] "=&r"(o), [lo] "=&r"(lo), [hi] "=&r"(hi)
      : [s] "r"(s), [table] "r"(table), [sub_table] "r"(sub_table),
        [conv] "i"(offsetof(nn_group_stage_t, conv)),
        [conv_r] "i"(offsetof(nn_group_stage_t, conv.right_minus_1)),
        [conv_o] "i"(offsetof(nn_group_stage_t, conv_offset)),
        [sub] "i"(offsetof(nn_group_stage_t, sub)),
        [sub_r] "i"(offsetof(nn_group_stage_t, sub.right_minus_1)),
        [sub_o] "i"(offsetof(nn_group_stage_t, sub_offset)),
        [sub_b] "i"(offsetof(nn_group_stage_t, sub_bias))
      : "memory");
  return a0;
}
#undef NN_RQF_LOOKUP
#endif

/* nn_group_output from the constants of s (channel c's). */
NN_INLINE int32_t nn_group_apply(const nn_group_stage_t *s, const nn_output_t *o,
                                 const int8_t *table, const void *sub, const int8_t *sub_table,
                                 uint32_t c, const int32_t *acc, int kind, int lut) {
  if (!lut) return nn_group_output(o, s->conv_offset, table, sub, sub_table, c, acc, kind, lut);
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
  if (kind == NN_SUB_DEPTHWISE) return nn_group_dw_lut(s, table, sub_table, acc);
#endif
  const int32_t v[4] = {nn_output_lut(&s->conv, s->conv_offset, table, acc[0]),
                        nn_output_lut(&s->conv, s->conv_offset, table, acc[1]),
                        nn_output_lut(&s->conv, s->conv_offset, table, acc[2]),
                        nn_output_lut(&s->conv, s->conv_offset, table, acc[3])};
  if (kind != NN_SUB_DEPTHWISE) return nn_sub_pool((const nn_sub_pool_t *)sub, sub_table, v, kind);
  return nn_output_lut(&s->sub, s->sub_offset, sub_table,
                       nn_sub_dw_sum(s->sub_weights, v, s->sub_bias));
}

#endif
