/* Semihosting: file I/O on the host and exit, through a debugger or QEMU (ARM's "bkpt 0xAB").
 * Part of the test harness, not of the inference. */
#ifndef SEMIHOST_H
#define SEMIHOST_H

#include <stdint.h>

enum { SH_READ_BINARY = 1, SH_WRITE_BINARY = 5 };  /* fopen modes "rb" and "wb" */

int32_t sh_open(const char *name, int32_t mode);
int32_t sh_close(int32_t handle);
int32_t sh_length(int32_t handle);
/* 0 when all n bytes were transferred */
int32_t sh_read(int32_t handle, void *buffer, uint32_t n);
int32_t sh_write(int32_t handle, const void *buffer, uint32_t n);
void sh_puts(const char *text);
void sh_exit(int32_t status) __attribute__((noreturn));

#endif
