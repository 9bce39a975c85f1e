/* Digit normalization on the board: a raw segmented digit -> the model's int8 input.
 *
 * Mirrors firmware_sim/emulator/integer_normalize.py (the numpy twin) bit for bit; the steps and their rounding
 * are written down there. Integer arithmetic only; static scratch of about 2 KB.
 */
#ifndef NORMALIZE_H
#define NORMALIZE_H

#include <stdint.h>

#define NN_NORM_MAX_SIDE 64u  /* the largest bitmap side */
#define NN_NORM_BOX 20u       /* the longer side of the digit in the field */
#define NN_NORM_FIELD 28u     /* MNIST's field */
#define NN_NORM_CENTRE 14     /* where the centre of mass goes (row and column) */

enum { NN_NORM_OK = 0, NN_NORM_BAD_SIZE = 1, NN_NORM_EMPTY = 2 };

typedef struct {
  uint16_t side;        /* the model's input side: the field is padded to it (28 or 32) */
  const int8_t *table;  /* 256 entries: field value (0 first) -> int8 model input (convention +
                           quantization); indexed by the value, see nn_arith.h */
} nn_normalize_t;

/* A normalize-and-classify firmware's normalize_data.c defines it for its model. */
extern const nn_normalize_t model_normalize;

/* Normalize the height x width bitmap (row-major; ink bright on 0, or dark on 255 when ink_dark)
 * into output[side * side]. Returns NN_NORM_OK, NN_NORM_BAD_SIZE (a side is 0 or above
 * NN_NORM_MAX_SIDE) or NN_NORM_EMPTY (no ink); output is untouched on an error. */
int32_t nn_normalize(const nn_normalize_t *params, const uint8_t *bitmap, uint32_t height,
                     uint32_t width, uint32_t ink_dark, int8_t *output);

#endif
