#!/bin/sh
# Make sure the firmware toolchain is installed: the ARM cross compiler, its C library and QEMU
# (Debian packages gcc-arm-none-eabi, libnewlib-arm-none-eabi, qemu-system-arm). Installs them
# with apt-get when running as root; otherwise prints the exact command and exits 0, so that the
# tests that need them are skipped with the same command as the reason.
set -eu

PACKAGES="gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"
COMMAND="sudo apt-get update && sudo apt-get install -y $PACKAGES"

missing() {
    command -v arm-none-eabi-gcc >/dev/null 2>&1 || return 0
    command -v qemu-system-arm >/dev/null 2>&1 || return 0
    # newlib: the C library the firmware links against
    arm-none-eabi-gcc -print-file-name=libc_nano.a | grep -q / || return 0
    return 1
}

if ! missing; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing the firmware toolchain: $PACKAGES"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $PACKAGES
else
    echo "the firmware toolchain is missing; install it with:"
    echo "  $COMMAND"
fi
