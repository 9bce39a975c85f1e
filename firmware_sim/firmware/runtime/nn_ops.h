/* The lenet-edge runtime: int8 kernels mirroring firmware_sim/emulator/kernels/ (Python) one to one.
 *
 * A generated model_data.c fills these parameter structs (const, in flash) with what the
 * emulator's prepare step computed; a generated model.c calls one kernel per step of the graph
 * with pointers into one static arena. Activations are NHWC int8, as in TFLM.
 */
#ifndef NN_OPS_H
#define NN_OPS_H

#include <stdint.h>

/* ---- convolution and fully connected (conv.c) -------------------------------------------------
 * One kernel runs CONV_2D and FULLY_CONNECTED (a 1x1 convolution over the rows of its input),
 * optionally fused with the int8 activation that follows it (a 256-entry table) and with a 2x2,
 * stride-2 subsampling (LeNet's trainable DEPTHWISE_CONV_2D, AVERAGE_POOL_2D or MAX_POOL_2D) and
 * its own activation table. The conv output is then never stored: each 2x2 group of pixels is
 * computed in registers and subsampled at once.
 *
 * The window of an output pixel is listed as taps in "patch order": `segments` runs of `seg_len`
 * taps (seg_len a multiple of 4; extra taps have zero weights); tap t of segment s reads the input
 * byte at window origin + s * seg_step + tap_offset[t]. The first seg_contiguous quads of a
 * segment are 4 consecutive bytes each (one word load). Dense weights use one segment with every
 * tap; blocked weights use one segment per input channel so that an output channel can skip the
 * input channels it is not connected to (LeNet-5's C3 table). Patches and weights both come in
 * SXTB16's pair order: a quad x0 x1 x2 x3 is the int16 pairs (x0, x2), (x1, x3).
 *
 * Activations between two convolutions may be stored planar (channel after channel), which
 * makes a channel's window rows contiguous: x_step, y_step and the output steps say which. */
enum { NN_DENSE = 0, NN_BLOCKED = 1, NN_SPARSE = 2, NN_BITMAP = 3 };
enum { NN_SUB_NONE = 0, NN_SUB_DEPTHWISE = 1, NN_SUB_AVERAGE = 2, NN_SUB_MAX = 3 };

typedef struct {
  uint8_t kind;                /* NN_SUB_* */
  const int8_t *weights;       /* depthwise: [channel][4], taps (0,0) (0,1) (1,0) (1,1) */
  const int32_t *bias;         /* depthwise: bias + input_offset * sum(weights) */
  const int32_t *multiplier;   /* depthwise: per channel */
  const int8_t *shift;
  int8_t output_offset;
  int8_t act_min, act_max;     /* quantized_activation_min/max */
  const int8_t *table;         /* activation after the subsampling, or 0 */
} nn_subsample_t;

typedef struct {
  uint16_t in_h, in_w, in_c;
  uint16_t out_h, out_w, out_c;      /* the convolution's output, before subsampling */
  uint32_t x_step, y_step;           /* input bytes between columns, between rows */
  uint32_t out_pixel_step, out_channel_step;  /* output bytes between pixels, channels */
  uint8_t stride_h, stride_w;
  uint8_t pad_h, pad_w;              /* padding rows/columns before the image */
  uint16_t win_h, win_w;             /* rows/columns a window spans, dilation included */
  uint8_t all_inside;                /* every window lies inside the image: no border checks */
  int8_t input_zero_point;           /* value of a tap in the padding: it then adds nothing */
  /* taps of a window, in patch order */
  uint16_t segments, seg_len, seg_contiguous;
  uint32_t seg_step;
  const uint16_t *tap_offset;        /* seg_len entries; 0 when tap t is byte t */
  const uint8_t *tap_y, *tap_x;      /* window row/column of each tap, for border windows */
  /* weights */
  uint8_t encoding;                  /* NN_DENSE, NN_BLOCKED, NN_SPARSE, NN_BITMAP */
  const int8_t *weights;             /* dense/blocked: [channel][its segments][seg_len] in patch
                                        order; sparse/bitmap: the nonzero values */
  const uint8_t *seg_count;          /* blocked: runs of segments each channel reads */
  const uint8_t *seg_index;          /* blocked: (first segment, count) of each run */
  const uint16_t *nnz;               /* sparse: entries per channel */
  const uint8_t *skip;               /* sparse: input offset step before each entry */
  const uint32_t *bitmap;            /* bitmap: [channel][bitmap_words], bit i of word k set
                                        when window byte 32k + i has a nonzero weight */
  uint16_t bitmap_words;
  /* output stage (accumulate.OutputStage) */
  const int32_t *bias;               /* bias + input_offset * sum(weights): raw inputs suffice */
  const int32_t *multiplier;
  const int8_t *shift;
  int8_t output_offset;
  int8_t act_min, act_max;
  const int8_t *table;               /* activation after the convolution, or 0 */
  const nn_subsample_t *subsample;   /* 0, or a fused 2x2 stride-2 subsampling */
  uint8_t fast;                      /* every shift (subsampling's too) is <= -2 */
} nn_conv_t;

/* int16 patch elements the kernel needs as scratch (4-byte aligned). */
#define NN_CONV_SCRATCH(groups, segments, seg_len) ((groups) * (segments) * (seg_len))
void nn_conv(const nn_conv_t *p, const int8_t *input, int8_t *output, int16_t *scratch);

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
