#!/bin/sh
# Make sure the Debian packages a make target drives are installed:
#   sh scripts/ensure_toolchain.sh            the firmware toolchain (the ARM cross compiler, its C
#                                             library, QEMU), all `make demo` uses
#   sh scripts/ensure_toolchain.sh --browser  also chromium: only the test that renders the
#                                             pipeline's report.html needs it (`make test`)
# As root with apt-get it installs what is missing, first printing the packages and their size.
# Otherwise, or with LENET_EDGE_NO_APT=1 (to decline), it prints the apt-get command and exits 0:
# what needs the packages is then skipped with that command as the reason (the pipeline's
# firmware stage, the tests that drive the toolchain).
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
if [ "${1:-}" = "--browser" ] && ! command -v chromium >/dev/null 2>&1; then
    PACKAGES="$PACKAGES chromium"
fi
if [ -z "$PACKAGES" ]; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ -z "${LENET_EDGE_NO_APT:-}" ]; then
    echo "installing Debian packages: $PACKAGES (set LENET_EDGE_NO_APT=1 to decline)" | tr -s ' '
    apt-get update -q
    # --assume-no only prints what the install would do: how many packages, how many MB
    apt-get install --assume-no $PACKAGES 2>/dev/null | grep -E 'newly installed|^Need to get|^After this operation' || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $PACKAGES
else
    echo "missing Debian packages; install them with:"
    echo "  sudo apt-get update && sudo apt-get install -y $PACKAGES" | tr -s ' '
fi
