/* The lenet-edge runtime: int8 kernels mirroring firmware_sim/emulator/kernels/ (Python) one to one.
 *
 * A generated model_data.c fills these parameter structs (const, in flash) with what the
 * emulator's prepare step computed; a generated model.c calls one kernel per step of the graph
 * with pointers into one static arena. Activations are NHWC int8, as in TFLM.
 */
#ifndef NN_OPS_H
#define NN_OPS_H

#include <stdint.h>

/* ---- convolution and fully connected (conv_dense.c, conv_blocked.c, conv_sparse.c,
 * conv_bitmap.c, conv_pairs.c; shared code in nn_conv.h, nn_patch.h, nn_index.h) ---------------
 * CONV_2D and FULLY_CONNECTED (a 1x1 convolution over the rows of its input) run as one of a
 * few variants, each its own function with its own parameter struct; the emitter
 * (firmware_sim/firmware/emit_conv.py) picks it when it generates the code:
 *   nn_conv_<weights>[_<subsampling>][_lut]
 * <weights>, the encoding of the weights (firmware_sim/firmware/encode.py):
 *   dense    every tap of the window, through an int16 patch and SMLAD;
 *   blocked  per output channel only the runs of input channels it is connected to (LeNet-5's
 *            C3 table), through the same patch;
 *   sparse   the nonzero weights, each with the input step from the one before (a byte);
 *   bitmap   the nonzero weights and a bit per window byte, set where a weight is nonzero;
 *   pairs    the nonzero weights in pairs of taps one input byte apart, an SMLAD each, over
 *            the input copied as int16 pairs (x[i], x[i+1]) (with a 2x2 subsampling, the
 *            group's two rows interleaved); a dead map's output computed once.
 * <subsampling>, a 2x2 stride-2 op fused after the conv (LeNet's trainable DEPTHWISE_CONV_2D, an
 * AVERAGE_POOL_2D or a MAX_POOL_2D) with its own activation table: dw, avg, max; the conv output
 * is then never stored, each 2x2 group of pixels is computed in registers and subsampled at once.
 * _lut: a table follows the conv (and the depthwise subsampling) and every output_shift is
 * <= -2, so each output is a short requantization and a table lookup (nn_rqf_lookup).
 * The activation fused after the conv (and the subsampling) is a 256-entry table, see nn_arith.h.
 *
 * Dense and blocked windows are listed as taps in "patch order": `segments` runs of `seg_len`
 * taps (seg_len a multiple of 4; extra taps have zero weights); tap t of segment s reads the input
 * byte at window origin + s * seg_step + tap_offset[t]. The first seg_contiguous quads of a
 * segment are 4 consecutive bytes each (one word load). Dense weights use one segment with every
 * tap; blocked weights one segment per input channel. Patches and weights both come in SXTB16's
 * pair order: a quad x0 x1 x2 x3 is the int16 pairs (x0, x2), (x1, x3).
 *
 * Activations between two convolutions may be stored planar (channel after channel), which
 * makes a channel's window rows contiguous: x_step, y_step and the output steps say which. */

/* Where the windows are and where the outputs go. */
typedef struct {
  uint16_t in_h, in_w;
  uint16_t out_h, out_w;             /* the convolution's output, before subsampling */
  uint32_t x_step, y_step;           /* input bytes between columns, between rows */
  uint32_t out_pixel_step, out_channel_step;  /* output bytes between pixels, channels */
  uint8_t stride_h, stride_w;
  uint8_t pad_h, pad_w;              /* padding rows/columns before the image */
  uint16_t win_h, win_w;             /* rows/columns a window spans, dilation included */
  uint8_t all_inside;                /* every window lies inside the image: no border checks */
} nn_window_t;

/* The taps of a window in patch order (dense and blocked weights). */
typedef struct {
  uint16_t segments, seg_len, seg_contiguous;
  uint32_t seg_step;
  const uint16_t *tap_offset;        /* seg_len entries; 0 when tap t is byte t */
  const uint8_t *tap_y, *tap_x;      /* window row/column of each tap, for border windows */
  int8_t input_zero_point;           /* value of a tap in the padding: it then adds nothing */
} nn_taps_t;

/* Output stage per channel (accumulate.OutputStage), TFLM's names. */
typedef struct {
  const int32_t *bias;               /* bias + input_offset * sum(weights): raw inputs suffice */
  const int32_t *output_multiplier;
  const int8_t *output_shift;
  int8_t output_offset;
  int8_t quantized_activation_min, quantized_activation_max;
  const int8_t *table;               /* activation after the stage, or 0 */
} nn_output_t;

/* A conv through an int16 patch: dense weights, and the base of blocked ones. */
typedef struct {
  nn_window_t window;
  nn_taps_t taps;
  uint16_t out_c;
  const int8_t *weights;             /* dense: [channel][seg_len] in patch order, without
                                        subsampling 4 channels interleaved quad by quad (the
                                        out_c % 4 last ones after each other); blocked:
                                        [channel][its segments][seg_len] */
  nn_output_t output;
} nn_patch_conv_t;

typedef nn_patch_conv_t nn_conv_dense_t;

typedef struct {
  nn_patch_conv_t conv;              /* one segment per input channel */
  const uint8_t *seg_count;          /* runs of segments each channel reads */
  const uint8_t *seg_index;          /* (first segment, count) of each run */
} nn_conv_blocked_t;

typedef struct {                     /* every window inside the image */
  nn_window_t window;
  uint16_t out_c;
  const int8_t *weights;             /* the nonzero values, channel after channel */
  const uint16_t *nnz;               /* entries per channel */
  const uint8_t *skip;               /* input offset step before each entry */
  nn_output_t output;
} nn_conv_sparse_t;

typedef struct {                     /* every window inside the image */
  nn_window_t window;
  uint16_t out_c;
  const int8_t *weights;             /* the nonzero values, channel after channel */
  const uint32_t *bitmap;            /* [channel][bitmap_words], bit i of word k set when window
                                        byte 32k + i has a nonzero weight */
  uint16_t bitmap_words;
  nn_output_t output;
} nn_conv_bitmap_t;

typedef struct {                     /* every window inside the image */
  nn_window_t window;
  uint16_t out_c;
  uint32_t in_size;                  /* input bytes */
  const uint32_t *weights;           /* per pair two words, channel after channel: the int16
                                        pair (w at window byte o, w at o + 1), and the byte
                                        offset of o's word in the pair buffer */
  const uint16_t *pairs;             /* pairs per channel */
  uint8_t doubled;                   /* 1: the weights are doubled, so every sum is twice
                                        TFLM's (and below 2**31 in magnitude), and every live
                                        map's shifts are in [-22, -2]; only with a fused
                                        depthwise subsampling and the _lut form
                                        (encode.sums_double) */
  nn_output_t output;
} nn_conv_pairs_t;

/* The fused 2x2 subsamplings. */
typedef struct {
  const int8_t *weights;             /* [channel][4], taps (0,0) (0,1) (1,0) (1,1) */
  nn_output_t output;                /* its bias has input_offset * sum(weights) folded in */
} nn_sub_depthwise_t;

typedef struct {
  int8_t quantized_activation_min, quantized_activation_max;
  const int8_t *table;               /* activation after the pooling, or 0 */
} nn_sub_pool_t;

/* int16 patch elements the patch variants need as scratch (4-byte aligned). */
#define NN_CONV_SCRATCH(groups, segments, seg_len) ((groups) * (segments) * (seg_len))

/* dense weights (conv_dense.c); scratch: NN_CONV_SCRATCH int16 */
void nn_conv_dense(const nn_conv_dense_t *p, const int8_t *input, int8_t *output, int16_t *scratch);
void nn_conv_dense_lut(const nn_conv_dense_t *p, const int8_t *input, int8_t *output,
                       int16_t *scratch);
void nn_conv_dense_dw(const nn_conv_dense_t *p, const nn_sub_depthwise_t *sub, const int8_t *input,
                      int8_t *output, int16_t *scratch);
void nn_conv_dense_dw_lut(const nn_conv_dense_t *p, const nn_sub_depthwise_t *sub,
                          const int8_t *input, int8_t *output, int16_t *scratch);
void nn_conv_dense_avg(const nn_conv_dense_t *p, const nn_sub_pool_t *sub, const int8_t *input,
                       int8_t *output, int16_t *scratch);
void nn_conv_dense_avg_lut(const nn_conv_dense_t *p, const nn_sub_pool_t *sub, const int8_t *input,
                           int8_t *output, int16_t *scratch);
void nn_conv_dense_max(const nn_conv_dense_t *p, const nn_sub_pool_t *sub, const int8_t *input,
                       int8_t *output, int16_t *scratch);
void nn_conv_dense_max_lut(const nn_conv_dense_t *p, const nn_sub_pool_t *sub, const int8_t *input,
                           int8_t *output, int16_t *scratch);

/* blocked weights (conv_blocked.c); scratch: NN_CONV_SCRATCH int16 */
void nn_conv_blocked(const nn_conv_blocked_t *p, const int8_t *input, int8_t *output,
                     int16_t *scratch);
void nn_conv_blocked_lut(const nn_conv_blocked_t *p, const int8_t *input, int8_t *output,
                         int16_t *scratch);
void nn_conv_blocked_dw(const nn_conv_blocked_t *p, const nn_sub_depthwise_t *sub,
                        const int8_t *input, int8_t *output, int16_t *scratch);
void nn_conv_blocked_dw_lut(const nn_conv_blocked_t *p, const nn_sub_depthwise_t *sub,
                            const int8_t *input, int8_t *output, int16_t *scratch);
void nn_conv_blocked_avg(const nn_conv_blocked_t *p, const nn_sub_pool_t *sub, const int8_t *input,
                         int8_t *output, int16_t *scratch);
void nn_conv_blocked_avg_lut(const nn_conv_blocked_t *p, const nn_sub_pool_t *sub,
                             const int8_t *input, int8_t *output, int16_t *scratch);
void nn_conv_blocked_max(const nn_conv_blocked_t *p, const nn_sub_pool_t *sub, const int8_t *input,
                         int8_t *output, int16_t *scratch);
void nn_conv_blocked_max_lut(const nn_conv_blocked_t *p, const nn_sub_pool_t *sub,
                             const int8_t *input, int8_t *output, int16_t *scratch);

/* sparse weights (conv_sparse.c) */
void nn_conv_sparse(const nn_conv_sparse_t *p, const int8_t *input, int8_t *output);
void nn_conv_sparse_lut(const nn_conv_sparse_t *p, const int8_t *input, int8_t *output);
void nn_conv_sparse_dw(const nn_conv_sparse_t *p, const nn_sub_depthwise_t *sub,
                       const int8_t *input, int8_t *output);
void nn_conv_sparse_dw_lut(const nn_conv_sparse_t *p, const nn_sub_depthwise_t *sub,
                           const int8_t *input, int8_t *output);
void nn_conv_sparse_avg(const nn_conv_sparse_t *p, const nn_sub_pool_t *sub, const int8_t *input,
                        int8_t *output);
void nn_conv_sparse_avg_lut(const nn_conv_sparse_t *p, const nn_sub_pool_t *sub,
                            const int8_t *input, int8_t *output);
void nn_conv_sparse_max(const nn_conv_sparse_t *p, const nn_sub_pool_t *sub, const int8_t *input,
                        int8_t *output);
void nn_conv_sparse_max_lut(const nn_conv_sparse_t *p, const nn_sub_pool_t *sub,
                            const int8_t *input, int8_t *output);

/* bitmap weights (conv_bitmap.c) */
void nn_conv_bitmap(const nn_conv_bitmap_t *p, const int8_t *input, int8_t *output);
void nn_conv_bitmap_lut(const nn_conv_bitmap_t *p, const int8_t *input, int8_t *output);
void nn_conv_bitmap_dw(const nn_conv_bitmap_t *p, const nn_sub_depthwise_t *sub,
                       const int8_t *input, int8_t *output);
void nn_conv_bitmap_dw_lut(const nn_conv_bitmap_t *p, const nn_sub_depthwise_t *sub,
                           const int8_t *input, int8_t *output);
void nn_conv_bitmap_avg(const nn_conv_bitmap_t *p, const nn_sub_pool_t *sub, const int8_t *input,
                        int8_t *output);
void nn_conv_bitmap_avg_lut(const nn_conv_bitmap_t *p, const nn_sub_pool_t *sub,
                            const int8_t *input, int8_t *output);
void nn_conv_bitmap_max(const nn_conv_bitmap_t *p, const nn_sub_pool_t *sub, const int8_t *input,
                        int8_t *output);
void nn_conv_bitmap_max_lut(const nn_conv_bitmap_t *p, const nn_sub_pool_t *sub,
                            const int8_t *input, int8_t *output);

/* paired weights (conv_pairs.c); scratch: the pair buffer (conv_pairs.c) */
void nn_conv_pairs(const nn_conv_pairs_t *p, const int8_t *input,
    int8_t *output, int16_t *scratch);
void nn_conv_pairs_lut(const nn_conv_pairs_t *p, const int8_t *input,
    int8_t *output, int16_t *scratch);
void nn_conv_pairs_dw(const nn_conv_pairs_t *p, const nn_sub_depthwise_t *sub, const int8_t *input,
    int8_t *output, int16_t *scratch);
void nn_conv_pairs_dw_lut(const nn_conv_pairs_t *p, const nn_sub_depthwise_t *sub, const int8_t *input,
    int8_t *output, int16_t *scratch);
void nn_conv_pairs_avg(const nn_conv_pairs_t *p, const nn_sub_pool_t *sub, const int8_t *input,
    int8_t *output, int16_t *scratch);
void nn_conv_pairs_avg_lut(const nn_conv_pairs_t *p, const nn_sub_pool_t *sub, const int8_t *input,
    int8_t *output, int16_t *scratch);
void nn_conv_pairs_max(const nn_conv_pairs_t *p, const nn_sub_pool_t *sub, const int8_t *input,
    int8_t *output, int16_t *scratch);
void nn_conv_pairs_max_lut(const nn_conv_pairs_t *p, const nn_sub_pool_t *sub, const int8_t *input,
    int8_t *output, int16_t *scratch);

/* ---- DEPTHWISE_CONV_2D in general (depthwise.c) ---------------------------------------- */
typedef struct {
  uint16_t in_h, in_w, in_c, out_h, out_w, out_c, depth_multiplier;
  uint8_t filter_h, filter_w, stride_h, stride_w, dil_h, dil_w, pad_h, pad_w;
  int32_t input_offset;              /* -input_zero_point */
  const int8_t *weights;             /* [fy][fx][out_c] as in the .tflite */
  const int32_t *bias;
  const int32_t *multiplier;
  const int8_t *shift;
  int8_t output_offset, act_min, act_max;
  const int8_t *table;               /* fused activation that follows, or 0 */
} nn_depthwise_t;
void nn_depthwise(const nn_depthwise_t *p, const int8_t *input, int8_t *output);

/* ---- AVERAGE_POOL_2D and MAX_POOL_2D in general (pool.c) ------------------------------------- */
typedef struct {
  uint8_t is_max;
  uint16_t in_h, in_w, channels, out_h, out_w;
  uint8_t filter_h, filter_w, stride_h, stride_w, pad_h, pad_w;
  int8_t act_min, act_max;
  const int8_t *table;
} nn_pool_t;
void nn_pool(const nn_pool_t *p, const int8_t *input, int8_t *output);

/* ---- element-wise (lut.c, quantize.c, elementwise.c, softmax.c) ------------------------------ */
/* TANH, LOGISTIC, RELU, RELU6 and int8 QUANTIZE: table[input byte] */
void nn_lookup(const int8_t *table, const int8_t *input, int8_t *output, uint32_t size);
/* DEQUANTIZE: float table[input byte] */
void nn_dequantize(const float *table, const int8_t *input, float *output, uint32_t size);
/* QUANTIZE float -> int8 (AffineQuantize) */
void nn_quantize(float scale, int32_t zero_point, const float *input, int8_t *output,
                 uint32_t size);

typedef struct {
  uint32_t rows, depth;
  uint16_t table_size;               /* distances max - x from it on give exp = 0 */
  const int32_t *exp_table;          /* Q0.31 exp(-beta * scale * d) */
} nn_softmax_t;
void nn_softmax(const nn_softmax_t *p, const int8_t *input, int8_t *output);

/* ADD and MUL with broadcasting over up to 4 dimensions (strides 0 where an input repeats). */
typedef struct {
  uint8_t is_mul;
  uint16_t shape[4];
  uint32_t stride1[4], stride2[4];
  int32_t input1_offset, input2_offset, output_offset;
  int32_t input1_multiplier, input1_shift, input2_multiplier, input2_shift;  /* ADD only */
  int32_t output_multiplier, output_shift;
  int8_t act_min, act_max;
  const int8_t *table;
} nn_binary_t;
void nn_binary(const nn_binary_t *p, const int8_t *input1, const int8_t *input2, int8_t *output);

#endif
