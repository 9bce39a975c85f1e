/* ARM semihosting calls (operation numbers from ARM's semihosting specification). */
#include "semihost.h"

enum {
  SYS_OPEN = 0x01, SYS_CLOSE = 0x02, SYS_WRITE0 = 0x04, SYS_WRITE = 0x05, SYS_READ = 0x06,
  SYS_FLEN = 0x0C, SYS_EXIT = 0x18
};
/* SYS_EXIT reasons: QEMU exits 0 for an application exit and 1 for anything else */
enum { ADP_STOPPED_APPLICATION_EXIT = 0x20026, ADP_STOPPED_RUNTIME_ERROR = 0x20023 };

static int32_t semihost(int32_t operation, const void *argument) {
  register int32_t r0 __asm__("r0") = operation;
  register const void *r1 __asm__("r1") = argument;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

static uint32_t length(const char *text) {
  uint32_t n = 0;
  while (text[n]) n++;
  return n;
}

int32_t sh_open(const char *name, int32_t mode) {
  uint32_t block[3] = {(uint32_t)name, (uint32_t)mode, length(name)};
  return semihost(SYS_OPEN, block);
}

int32_t sh_close(int32_t handle) { return semihost(SYS_CLOSE, &handle); }

int32_t sh_length(int32_t handle) { return semihost(SYS_FLEN, &handle); }

int32_t sh_read(int32_t handle, void *buffer, uint32_t n) {
  uint32_t block[3] = {(uint32_t)handle, (uint32_t)buffer, n};
  return semihost(SYS_READ, block);
}

int32_t sh_write(int32_t handle, const void *buffer, uint32_t n) {
  uint32_t block[3] = {(uint32_t)handle, (uint32_t)buffer, n};
  return semihost(SYS_WRITE, block);
}

void sh_puts(const char *text) { semihost(SYS_WRITE0, text); }

void sh_exit(int32_t status) {
  semihost(SYS_EXIT, (const void *)(status == 0 ? ADP_STOPPED_APPLICATION_EXIT
                                                : ADP_STOPPED_RUNTIME_ERROR));
  for (;;) {
  }
}
