/* Digit normalization: firmware_sim/emulator/integer_normalize.py (the numpy twin) in C, bit for bit.
 *
 * Bounding box of the ink, area-weighted resampling into the 20x20 box keeping the aspect ratio
 * (exact integer sums: along an axis of n source and m output pixels, weights are overlaps in
 * 1/m of a source pixel), contrast to a peak of 255, centre of mass on (14, 14) of the 28x28
 * field, then padding to the model's side and the model's input table. Polarity: a dark-ink
 * pixel is XORed with 0xFF, i.e. 255 - pixel.
 */
#include "normalize.h"

typedef struct {
  uint32_t top, left, height, width;
} box_t;

/* The resampling of one axis: output pixel k reads `count[k]` source pixels from `first[k]`,
 * with the weights that follow those of pixel k - 1 in `weight`. Overlaps are at most
 * min(n, m) <= 64 and there are at most n + m - 1 of them. */
typedef struct {
  uint8_t first[NN_NORM_BOX], count[NN_NORM_BOX];
  uint8_t weight[NN_NORM_MAX_SIDE + NN_NORM_BOX];
} taps_t;

static taps_t row_taps, column_taps;
/* one resampled row over the box's columns: at most 255 * 64, so 16 bits */
static uint16_t row[NN_NORM_MAX_SIDE];
/* area sums of the fitted digit, then its 0..255 values */
static uint32_t sums[NN_NORM_BOX * NN_NORM_BOX];

static uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }
static uint32_t max_u32(uint32_t a, uint32_t b) { return a > b ? a : b; }

static int32_t find_box(const uint8_t *bitmap, uint32_t height, uint32_t width, uint8_t flip,
                        box_t *box) {
  uint32_t top = height, bottom = 0, left = width, right = 0;
  for (uint32_t y = 0; y < height; y++) {
    const uint8_t *line = bitmap + y * width;
    uint32_t first = 0, last = width;
    while (first < width && (uint8_t)(line[first] ^ flip) == 0) first++;
    if (first == width) continue;
    while ((uint8_t)(line[last - 1] ^ flip) == 0) last--;
    top = y < top ? y : top;
    bottom = y;
    left = min_u32(left, first);
    right = max_u32(right, last - 1);
  }
  if (top == height) return NN_NORM_EMPTY;
  *box = (box_t){top, left, bottom - top + 1, right - left + 1};
  return NN_NORM_OK;
}

/* round(BOX * side / longest), halves up, at least 1 */
static uint32_t fitted_size(uint32_t side, uint32_t longest) {
  uint32_t size = (2 * NN_NORM_BOX * side + longest) / (2 * longest);
  return size ? size : 1;
}

/* Output pixel k covers [k n, (k + 1) n) and source pixel p [p m, (p + 1) m), in 1/m of a
 * source pixel: their overlap is the weight (box filter, exact in integers). */
static void make_taps(uint32_t n, uint32_t m, taps_t *taps) {
  uint8_t *weight = taps->weight;
  for (uint32_t k = 0; k < m; k++) {
    uint32_t lo = k * n, hi = lo + n, p = lo / m;
    taps->first[k] = (uint8_t)p;
    for (; p * m < hi; p++) *weight++ = (uint8_t)(min_u32(hi, (p + 1) * m) - max_u32(lo, p * m));
    taps->count[k] = (uint8_t)(p - taps->first[k]);
  }
}

/* row[x] = sum over the source rows under output row k of weight * ink */
static const uint8_t *resample_row(const uint8_t *bitmap, uint32_t stride, const box_t *box,
                                   uint32_t k, const uint8_t *weight, uint8_t flip) {
  for (uint32_t x = 0; x < box->width; x++) row[x] = 0;
  const uint8_t *source = bitmap + (box->top + row_taps.first[k]) * stride + box->left;
  for (uint32_t j = 0; j < row_taps.count[k]; j++, source += stride) {
    uint32_t w = *weight++;
    for (uint32_t x = 0; x < box->width; x++)
      row[x] += (uint16_t)(w * (uint8_t)(source[x] ^ flip));
  }
  return weight;
}

/* sums[k][l] over the columns of row; returns the largest so far */
static uint32_t resample_columns(uint32_t k, uint32_t ow, uint32_t peak) {
  const uint8_t *weight = column_taps.weight;
  for (uint32_t l = 0; l < ow; l++) {
    const uint16_t *source = row + column_taps.first[l];
    uint32_t sum = 0;
    for (uint32_t j = 0; j < column_taps.count[l]; j++) sum += *weight++ * (uint32_t)source[j];
    sums[k * ow + l] = sum;
    peak = max_u32(peak, sum);
  }
  return peak;
}

/* The box resampled into oh x ow area sums; returns the largest. */
static uint32_t resample(const uint8_t *bitmap, uint32_t stride, const box_t *box, uint32_t oh,
                         uint32_t ow, uint8_t flip) {
  make_taps(box->height, oh, &row_taps);
  make_taps(box->width, ow, &column_taps);
  const uint8_t *weight = row_taps.weight;
  uint32_t peak = 0;
  for (uint32_t k = 0; k < oh; k++) {
    weight = resample_row(bitmap, stride, box, k, weight, flip);
    peak = resample_columns(k, ow, peak);
  }
  return peak;
}

/* Stretch sums to 0..255 in place; the centre of mass (row, column), each rounded halves up. */
static void stretch_and_centre(uint32_t oh, uint32_t ow, uint32_t peak, int32_t *cy,
                               int32_t *cx) {
  uint32_t mass = 0, my = 0, mx = 0;
  for (uint32_t k = 0; k < oh; k++) {
    for (uint32_t l = 0; l < ow; l++) {
      uint32_t value = (sums[k * ow + l] * 255u + peak / 2) / peak;
      sums[k * ow + l] = value;
      mass += value;
      my += k * value;
      mx += l * value;
    }
  }
  *cy = (int32_t)((2 * my + mass) / (2 * mass));
  *cx = (int32_t)((2 * mx + mass) / (2 * mass));
}

static void place(const nn_normalize_t *params, uint32_t oh, uint32_t ow, int32_t top,
                  int32_t left, int8_t *output) {
  uint32_t side = params->side, pad = (side - NN_NORM_FIELD) / 2;
  const int8_t *table = params->table;
  for (uint32_t i = 0; i < side * side; i++) output[i] = table[0];
  for (uint32_t k = 0; k < oh; k++) {
    int32_t y = top + (int32_t)k;
    if (y < 0 || y >= (int32_t)NN_NORM_FIELD) continue;
    int8_t *out = output + (pad + (uint32_t)y) * side + pad;
    for (uint32_t l = 0; l < ow; l++) {
      int32_t x = left + (int32_t)l;
      if (x >= 0 && x < (int32_t)NN_NORM_FIELD) out[x] = table[sums[k * ow + l]];
    }
  }
}

int32_t nn_normalize(const nn_normalize_t *params, const uint8_t *bitmap, uint32_t height,
                     uint32_t width, uint32_t ink_dark, int8_t *output) {
  if (height == 0 || width == 0 || height > NN_NORM_MAX_SIDE || width > NN_NORM_MAX_SIDE)
    return NN_NORM_BAD_SIZE;
  uint8_t flip = ink_dark ? 0xFF : 0;
  box_t box;
  if (find_box(bitmap, height, width, flip, &box) != NN_NORM_OK) return NN_NORM_EMPTY;
  uint32_t longest = max_u32(box.height, box.width);
  uint32_t oh = fitted_size(box.height, longest), ow = fitted_size(box.width, longest);
  uint32_t peak = resample(bitmap, width, &box, oh, ow, flip);
  int32_t cy, cx;
  stretch_and_centre(oh, ow, peak, &cy, &cx);
  place(params, oh, ow, NN_NORM_CENTRE - cy, NN_NORM_CENTRE - cx, output);
  return NN_NORM_OK;
}
