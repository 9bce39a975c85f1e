"""The boards firmware is built for: compiler flags, the QEMU machine, and memory sizes.

All three are ARM MPS2 FPGA images that QEMU emulates with the same memory map (4 MB of code
SSRAM at 0x0 standing in for flash, 4 MB of SSRAM at 0x20000000; see harness/link.ld). The DSP
instructions the conv kernels use (SXTB16, SMLAD) exist on the M4 and M7; the M3 takes the
portable C path of nn_arith.h.
"""
from dataclasses import dataclass

from firmware_sim.errors import InputError

_COMMON_FLAGS = ("-mthumb", "-O2", "-std=c99", "-ffunction-sections", "-fdata-sections",
                 "-Wall", "-Wextra", "-Wno-unused-parameter")


@dataclass(frozen=True)
class Board:
    name: str
    core: str  # QEMU's -cpu and GCC's -mcpu
    float_flags: tuple[str, ...]
    flash_bytes: int
    ram_bytes: int
    description: str

    @property
    def cflags(self) -> tuple[str, ...]:
        return (f"-mcpu={self.core}", *self.float_flags, *_COMMON_FLAGS)


_MB = 1 << 20
BOARDS = {board.name: board for board in (
    Board("mps2-an385", "cortex-m3", ("-mfloat-abi=soft",), 4 * _MB, 4 * _MB,
          "ARM MPS2 AN385: Cortex-M3, no FPU, no DSP instructions"),
    Board("mps2-an386", "cortex-m4", ("-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"), 4 * _MB, 4 * _MB,
          "ARM MPS2 AN386: Cortex-M4F with the DSP extension"),
    Board("mps2-an500", "cortex-m7", ("-mfloat-abi=hard", "-mfpu=fpv5-d16"), 4 * _MB, 4 * _MB,
          "ARM MPS2 AN500: Cortex-M7 with double-precision FPU"),
)}
DEFAULT_BOARD = "mps2-an386"
# the harness's stack reserve (harness/link.ld STACK_SIZE)
STACK_RESERVE = 8 * 1024


def board(name: str) -> Board:
    if name not in BOARDS:
        raise InputError(f"unknown board {name!r}; choose one of {', '.join(BOARDS)}")
    return BOARDS[name]
