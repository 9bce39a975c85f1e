/* Digit normalization: firmware_sim/normalize.py (the numpy twin) in C, bit for bit.
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

/* rows[k][x]: output row k over the box's column x; at most 255 * 64, so 16 bits */
static uint16_t rows[NN_NORM_BOX * NN_NORM_MAX_SIDE];
/* area sums of the fitted digit, then its 0..255 values */
static uint32_t sums[NN_NORM_BOX * NN_NORM_BOX];

static uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }
static uint32_t max_u32(uint32_t a, uint32_t b) { return a > b ? a : b; }

static int32_t find_box(const uint8_t *bitmap, uint32_t height, uint32_t width, uint8_t flip,
                        box_t *box) {
  uint32_t top = height, bottom = 0, left = width, right = 0;
  for (uint32_t y = 0; y < height; y++) {
    const uint8_t *row = bitmap + y * width;
    uint32_t first = 0, last = width;
    while (first < width && (uint8_t)(row[first] ^ flip) == 0) first++;
    if (first == width) continue;
    while ((uint8_t)(row[last - 1] ^ flip) == 0) last--;
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

/* Overlap of output pixel [lo, lo + n) with source pixel p, [p m, (p + 1) m). */
static uint32_t weight(uint32_t lo, uint32_t n, uint32_t p, uint32_t m) {
  return min_u32(lo + n, (p + 1) * m) - max_u32(lo, p * m);
}

/* rows[k][x] = sum over the source rows p under output row k of weight * ink[p][x] */
static void resample_rows(const uint8_t *bitmap, uint32_t stride, const box_t *box, uint32_t m,
                          uint8_t flip) {
  uint32_t n = box->height;
  for (uint32_t k = 0; k < m; k++) {
    uint16_t *out = rows + k * box->width;
    for (uint32_t x = 0; x < box->width; x++) out[x] = 0;
    for (uint32_t p = k * n / m; p * m < (k + 1) * n; p++) {
      uint32_t w = weight(k * n, n, p, m);
      const uint8_t *source = bitmap + (box->top + p) * stride + box->left;
      for (uint32_t x = 0; x < box->width; x++)
        out[x] += (uint16_t)(w * (uint8_t)(source[x] ^ flip));
    }
  }
}

/* sums[k][l] over the columns; returns the largest sum */
static uint32_t resample_columns(uint32_t oh, uint32_t n, uint32_t m) {
  uint32_t peak = 0;
  for (uint32_t k = 0; k < oh; k++) {
    const uint16_t *row = rows + k * n;
    for (uint32_t l = 0; l < m; l++) {
      uint32_t sum = 0;
      for (uint32_t q = l * n / m; q * m < (l + 1) * n; q++) sum += weight(l * n, n, q, m) * row[q];
      sums[k * m + l] = sum;
      peak = max_u32(peak, sum);
    }
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
  resample_rows(bitmap, width, &box, oh, flip);
  uint32_t peak = resample_columns(oh, box.width, ow);
  int32_t cy, cx;
  stretch_and_centre(oh, ow, peak, &cy, &cx);
  place(params, oh, ow, NN_NORM_CENTRE - cy, NN_NORM_CENTRE - cx, output);
  return NN_NORM_OK;
}
