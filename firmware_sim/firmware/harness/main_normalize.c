/* Test harness of a normalize-and-classify firmware: each raw digit of digits.bin (host file,
 * semihosting) is normalized on the board (nn_normalize) into the model's input, then classified
 * (model_invoke); both are timed apart with SysTick.
 *
 * digits.bin: uint32 count, then per digit a 4-byte header (height, width, ink_dark, 0) and
 * height * width bytes, row-major. Writes outputs.bin (the model's outputs), inputs.bin (the
 * normalized inputs), digits_stats.bin (per digit: status, normalization ticks, classification
 * ticks) and stats.bin (magic LENM, digits, arena bytes, stack bytes, ticks of an empty timing).
 * A refused digit (status != 0) leaves zero bytes in both outputs.
 *
 * Instructions = ticks * 40 / 64 under QEMU -icount shift=6 (see harness.h).
 */
#include <stdint.h>

#include "model.h"
#include "normalize.h"
#include "harness.h"
#include "semihost.h"

static uint8_t bitmap[NN_NORM_MAX_SIDE * NN_NORM_MAX_SIDE];
/* written for a refused digit, in place of its input and its output */
static const int8_t zeros[MODEL_INPUT_BYTES > MODEL_OUTPUT_BYTES ? MODEL_INPUT_BYTES
                                                                 : MODEL_OUTPUT_BYTES];

typedef struct {
  uint8_t height, width, ink_dark, reserved;
} header_t;

static int32_t normalize(const header_t *h) {
  return nn_normalize(&model_normalize, bitmap, h->height, h->width, h->ink_dark,
                      (int8_t *)model_input());
}

/* Bytes of stack below the caller's frame that one normalization and inference touch. */
static uint32_t __attribute__((noinline)) digit_stack(const header_t *h) {
  uint32_t *top = paint_stack();
  normalize(h);
  model_invoke();
  return stack_touched(top);
}

/* Read a digit's pixels; those of a digit too large for the buffer are read and dropped (its
 * size is then refused by nn_normalize before it reads any pixel). */
static void read_pixels(int32_t file, uint32_t n) {
  for (uint32_t chunk; n > 0; n -= chunk) {
    chunk = n < sizeof bitmap ? n : sizeof bitmap;
    if (sh_read(file, bitmap, chunk)) fail("short read of digits.bin\n");
  }
}

static void put(int32_t file, const void *data, uint32_t n) {
  if (sh_write(file, data, n)) fail("short write of an output file\n");
}

typedef struct {
  char magic[4];
  uint32_t digits, arena_bytes, stack_bytes, empty_ticks;
} stats_t;

int main(void) {
  int32_t digits = sh_open("digits.bin", SH_READ_BINARY);
  int32_t outputs = sh_open("outputs.bin", SH_WRITE_BINARY);
  int32_t inputs = sh_open("inputs.bin", SH_WRITE_BINARY);
  int32_t per_digit = sh_open("digits_stats.bin", SH_WRITE_BINARY);
  if (digits < 0 || outputs < 0 || inputs < 0 || per_digit < 0) fail("cannot open the files\n");
  stats_t stats = {{'L', 'E', 'N', 'M'}, 0, MODEL_ARENA_BYTES, 0, 0};
  if (sh_read(digits, &stats.digits, 4)) fail("short read of digits.bin\n");
  SYST_RVR = 0xFFFFFFu;
  SYST_CVR = 0;
  SYST_CSR = 7; /* processor clock, wrap interrupt, enabled */
  uint64_t t0 = ticks();
  stats.empty_ticks = (uint32_t)(ticks() - t0);
  for (uint32_t i = 0; i < stats.digits; i++) {
    header_t h;
    if (sh_read(digits, &h, sizeof h)) fail("short read of digits.bin\n");
    read_pixels(digits, (uint32_t)h.height * h.width);
    uint32_t record[3] = {0, 0, 0}; /* status, normalization ticks, classification ticks */
    t0 = ticks();
    record[0] = (uint32_t)normalize(&h);
    record[1] = (uint32_t)(ticks() - t0) - stats.empty_ticks;
    if (record[0] != NN_NORM_OK) {
      put(inputs, zeros, MODEL_INPUT_BYTES);
      put(outputs, zeros, MODEL_OUTPUT_BYTES);
      put(per_digit, record, sizeof record);
      continue;
    }
    put(inputs, model_input(), MODEL_INPUT_BYTES); /* before the arena reuses it */
    t0 = ticks();
    model_invoke();
    record[2] = (uint32_t)(ticks() - t0) - stats.empty_ticks;
    put(outputs, model_output(), MODEL_OUTPUT_BYTES);
    put(per_digit, record, sizeof record);
    if (stats.stack_bytes == 0) {
      SYST_CSR = 0; /* no exception frame on the stack while it is measured */
      stats.stack_bytes = digit_stack(&h);
      SYST_CSR = 7;
    }
  }
  int32_t file = sh_open("stats.bin", SH_WRITE_BINARY);
  if (file < 0) fail("cannot write stats.bin\n");
  put(file, &stats, sizeof stats);
  sh_close(file);
  sh_close(per_digit);
  sh_close(inputs);
  sh_close(outputs);
  sh_close(digits);
  return 0;
}
