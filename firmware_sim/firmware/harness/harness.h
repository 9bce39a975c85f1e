/* What both test harnesses (main.c, main_normalize.c) need of the board: instruction timing
 * with SysTick, the stack measured by painting it, and a failure exit.
 *
 * Under QEMU -icount shift=6 an instruction takes 64 ns of virtual time and SysTick ticks every
 * 40 ns (25 MHz), so instructions = ticks * 40 / 64. The 24-bit counter wraps every ~10 million
 * instructions; its interrupt counts the wraps. Include from one C file of a firmware only.
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <stdint.h>

#include "semihost.h"

#define SYST_CSR (*(volatile uint32_t *)0xE000E010)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018)
#define STACK_PAINT 0x5AC4C0DEu
#define PAINT_MARGIN 16 /* words below the caller's stack pointer left unpainted */

extern uint32_t _sstack; /* lowest address of the stack (linker script) */
static volatile uint32_t systick_wraps;

void SysTick_Handler(void) { systick_wraps++; }

static uint64_t ticks(void) {
  uint32_t wraps, value;
  do {
    wraps = systick_wraps;
    value = SYST_CVR;
  } while (wraps != systick_wraps);
  return ((uint64_t)wraps << 24) + (0xFFFFFFu - value);
}

static inline __attribute__((always_inline)) uint32_t *stack_pointer(void) {
  uint32_t *sp;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  return sp;
}

/* Paint the free stack below the caller's frame; returns the top of the painted words. Inlined,
 * so that "the caller's frame" is the measuring function's own. */
static inline __attribute__((always_inline)) uint32_t *paint_stack(void) {
  uint32_t *top = stack_pointer() - PAINT_MARGIN;
  for (uint32_t *p = &_sstack; p < top; p++) *p = STACK_PAINT;
  return top;
}

/* Bytes of stack below the caller's frame touched since paint_stack returned `top`. */
static inline __attribute__((always_inline)) uint32_t stack_touched(const uint32_t *top) {
  const uint32_t *deepest = &_sstack;
  while (deepest < top && *deepest == STACK_PAINT) deepest++;
  return (uint32_t)((char *)stack_pointer() - (char *)deepest);
}

static void fail(const char *message) {
  sh_puts(message);
  sh_exit(2);
}

#endif
