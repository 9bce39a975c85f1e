/* Test harness: run the model on every input of images.bin (host file, semihosting), write the
 * outputs to outputs.bin and the measurements to stats.bin.
 *
 * Instructions are counted with SysTick (harness.h). The stack an inference uses is measured once, after the first image, by painting it.
 */
#include <stdint.h>

#include "model.h"
#include "harness.h"
#include "semihost.h"

/* Bytes of stack below the caller's frame that one inference touches. */
static uint32_t __attribute__((noinline)) inference_stack(void) {
  uint32_t *top = paint_stack();
  model_invoke();
  return stack_touched(top);
}

typedef struct {
  char magic[4];
  uint32_t images, arena_bytes, stack_bytes;
  uint32_t min_ticks, max_ticks, empty_ticks;
  uint32_t total_ticks_low, total_ticks_high;
} stats_t;

int main(void) {
  int32_t images = sh_open("images.bin", SH_READ_BINARY);
  int32_t outputs = sh_open("outputs.bin", SH_WRITE_BINARY);
  if (images < 0 || outputs < 0) fail("cannot open images.bin or outputs.bin\n");
  stats_t stats = {{'L', 'E', 'F', 'W'}, (uint32_t)sh_length(images) / MODEL_INPUT_BYTES,
                   MODEL_ARENA_BYTES, 0, 0xFFFFFFFFu, 0, 0, 0, 0};
  SYST_RVR = 0xFFFFFFu;
  SYST_CVR = 0;
  SYST_CSR = 7; /* processor clock, wrap interrupt, enabled */
  uint64_t t0 = ticks(), total = 0;
  stats.empty_ticks = (uint32_t)(ticks() - t0);
  for (uint32_t i = 0; i < stats.images; i++) {
    if (sh_read(images, model_input(), MODEL_INPUT_BYTES)) fail("short read of images.bin\n");
    t0 = ticks();
    model_invoke();
    uint32_t elapsed = (uint32_t)(ticks() - t0) - stats.empty_ticks;
    total += elapsed;
    stats.min_ticks = elapsed < stats.min_ticks ? elapsed : stats.min_ticks;
    stats.max_ticks = elapsed > stats.max_ticks ? elapsed : stats.max_ticks;
    if (sh_write(outputs, model_output(), MODEL_OUTPUT_BYTES)) fail("short write of outputs.bin\n");
    if (i == 0) {
      /* once more, untimed (the arena has reused the input: the output is not kept) */
      SYST_CSR = 0; /* no exception frame on the stack while it is measured */
      stats.stack_bytes = inference_stack();
      SYST_CSR = 7;
    }
  }
  stats.total_ticks_low = (uint32_t)total;
  stats.total_ticks_high = (uint32_t)(total >> 32);
  int32_t file = sh_open("stats.bin", SH_WRITE_BINARY);
  if (file < 0 || sh_write(file, &stats, sizeof stats)) fail("cannot write stats.bin\n");
  sh_close(file);
  sh_close(outputs);
  sh_close(images);
  return 0;
}
