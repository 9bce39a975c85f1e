#!/bin/sh
# Make sure the Debian packages the tests drive are installed: the firmware toolchain (the ARM
# cross compiler, its C library and QEMU: gcc-arm-none-eabi, libnewlib-arm-none-eabi,
# qemu-system-arm) and the headless browser that renders the pipeline's report.html (chromium).
# Installs what is missing with apt-get when running as root; otherwise prints the exact command
# and exits 0, so that the tests that need them are skipped with the same command as the reason.
set -eu

missing_toolchain() {
    command -v arm-none-eabi-gcc >/dev/null 2>&1 || return 0
    command -v qemu-system-arm >/dev/null 2>&1 || return 0
    # newlib: the C library the firmware links against
    arm-none-eabi-gcc -print-file-name=libc_nano.a | grep -q / || return 0
    return 1
}

PACKAGES=""
if missing_toolchain; then
    PACKAGES="gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"
fi
if ! command -v chromium >/dev/null 2>&1; then
    PACKAGES="$PACKAGES chromium"
fi
if [ -z "$PACKAGES" ]; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing:$PACKAGES" | tr -s ' '
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $PACKAGES
else
    echo "missing Debian packages; install them with:"
    echo "  sudo apt-get update && sudo apt-get install -y$PACKAGES" | tr -s ' '
fi
