/* What both test harnesses (main.c, main_normalize.c) need of the board: instruction timing
 * with SysTick and the stack pointer, for measuring the stack by painting it.
 *
 * Under QEMU -icount shift=6 an instruction takes 64 ns of virtual time and SysTick ticks every
 * 40 ns (25 MHz), so instructions = ticks * 40 / 64. The 24-bit counter wraps every ~10 million
 * instructions; its interrupt counts the wraps. Include from one C file of a firmware only.
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <stdint.h>

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

static uint32_t *stack_pointer(void) {
  uint32_t *sp;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  return sp;
}

#endif
