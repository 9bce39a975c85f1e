"""Build a firmware folder with arm-none-eabi-gcc and run it on a QEMU-emulated board.

    build = qemu.build(folder, "mps2-an386")      # ELF, map file, flash/RAM by object
    run = qemu.run(folder, "mps2-an386", images_bytes, input_bytes, output_bytes)
    run.outputs, run.instructions_per_inference, run.stack_bytes

Every source is compiled to its own object so that the linker map attributes each section to
the file it came from: the inference part (model, model data, runtime kernels) is told apart
from the harness (main, startup, semihosting, the C library). Instructions are counted with
SysTick under `-icount shift=6` (see harness/main.c): 64 ns of virtual time per instruction,
and a tick every 1e9 / board.systick_hz ns (40 ns on the MPS2 boards' 25 MHz).
"""
import re
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

from firmware_sim.firmware import boards, project
from firmware_sim.firmware.errors import FirmwareError, FirmwareTimeoutError, ToolchainMissingError

APT_COMMAND = "sudo apt-get install -y gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"
TOOLS = ("arm-none-eabi-gcc", "arm-none-eabi-size", "qemu-system-arm")
ICOUNT_SHIFT = 6


def instructions_per_tick(board: str) -> float:
    """Instructions per SysTick tick under -icount: tick length over 2**ICOUNT_SHIFT ns."""
    return 1e9 / boards.board(board).systick_hz / 2 ** ICOUNT_SHIFT


_STATS = struct.Struct("<4s8I")
# output sections in flash, and in RAM (.data is both: its initial values are copied from flash)
_FLASH_SECTIONS = (".isr_vector", ".text", ".ARM.exidx", ".data")
_RAM_SECTIONS = (".data", ".bss", ".stack")
INFERENCE_OBJECTS = tuple(Path(name).stem for name in
                          (*project.MODEL_SOURCES, *project.RUNTIME_SOURCES,
                           *project.NORMALIZE_SOURCES))


def tool(name: str) -> str:
    """The path of a toolchain program; ToolchainMissingError with the install command if absent."""
    path = shutil.which(name)
    if path is None:
        raise ToolchainMissingError(f"{name} is not installed; install the ARM toolchain and "
                                    f"QEMU with: {APT_COMMAND}")
    return path


def check_toolchain() -> None:
    for name in TOOLS:
        tool(name)


@dataclass(frozen=True)
class MemoryUse:
    """Bytes by part, from the linker map; RAM excludes the stack (measured at run time)."""

    flash_inference: int  # model data, model code, runtime kernels
    flash_harness: int  # vector table, main, startup, semihosting, C library
    ram_inference: int  # the arena (and any static data of the kernels)
    ram_harness: int  # harness data and bss
    stack_reserve: int  # the harness's stack region (the inference uses a part of it)
    flash_total: int  # text + data, as arm-none-eabi-size reports
    ram_total: int  # data + bss + stack region
    by_object: dict  # object name -> {"flash": bytes, "ram": bytes}


@dataclass(frozen=True)
class Build:
    elf: Path
    map_file: Path
    memory: MemoryUse


@dataclass(frozen=True)
class RunResult:
    outputs: bytes
    images: int
    instructions_per_inference: float  # mean
    min_instructions: float
    max_instructions: float
    stack_bytes: int  # stack one inference touches, measured by painting


def build(folder, board: str = boards.DEFAULT_BOARD, timeout: float = 300,
          sources=None) -> Build:
    """Compile every source of `folder` (project.sources() unless given: Firmware.sources) to
    its object, link firmware.elf and read the map."""
    folder, target = Path(folder), boards.board(board)
    sources = project.sources() if sources is None else sources
    gcc = tool("arm-none-eabi-gcc")
    objects = folder / "obj"
    objects.mkdir(exist_ok=True)
    for source in sources:
        _call([gcc, *target.cflags, "-c", source, "-o", f"obj/{Path(source).stem}.o"], folder,
              timeout, f"compiling {source}")
    linked = [f"obj/{Path(source).stem}.o" for source in sources]
    _call([gcc, *target.cflags, *project.LINK_FLAGS, "-T", "link.ld",
           "-Wl,-Map=firmware.map", "-o", "firmware.elf", *linked, *project.LIBRARIES], folder,
          timeout, "linking firmware.elf")
    elf, map_file = folder / "firmware.elf", folder / "firmware.map"
    return Build(elf, map_file, memory_use(elf, map_file))


def run(folder, board: str, inputs: bytes, input_bytes: int, output_bytes: int,
        timeout: float) -> RunResult:
    """Run firmware.elf on `inputs` (input_bytes per image); a hang ends in FirmwareTimeoutError."""
    folder = Path(folder)
    (folder / "images.bin").write_bytes(inputs)
    emulate(folder, board, timeout, ("outputs.bin", "stats.bin"),
            f"{len(inputs) // input_bytes} images")
    return _results(folder, len(inputs) // input_bytes, output_bytes,
                    instructions_per_tick(board))


def emulate(folder: Path, board: str, timeout: float, writes: tuple[str, ...], what: str) -> None:
    """Run firmware.elf in `folder` under QEMU with -icount; `writes` (files the firmware
    writes) are removed first; `what` names the work in a timeout's message."""
    target = boards.board(board)
    qemu = tool("qemu-system-arm")
    for name in writes:
        (folder / name).unlink(missing_ok=True)
    command = [qemu, "-M", target.machine, "-cpu", target.cpu, "-nographic",
               "-icount", f"shift={ICOUNT_SHIFT}", "-semihosting-config",
               "enable=on,target=native", "-kernel", "firmware.elf"]
    try:
        result = subprocess.run(command, cwd=folder, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise FirmwareTimeoutError(f"the firmware on {target.name} did not finish within "
                                   f"{timeout:g} s ({what}); stopped QEMU") from None
    if result.returncode != 0:
        raise FirmwareError(f"the firmware on {target.name} failed (QEMU exit code "
                            f"{result.returncode}): {_tail(result.stdout + result.stderr)}")


def _results(folder: Path, images: int, output_bytes: int, per_tick: float) -> RunResult:
    outputs = (folder / "outputs.bin").read_bytes()
    stats = (folder / "stats.bin").read_bytes()
    if len(outputs) != images * output_bytes or len(stats) != _STATS.size:
        raise FirmwareError(f"the firmware wrote {len(outputs)} output bytes for {images} images "
                            f"of {output_bytes} and {len(stats)} bytes of stats")
    magic, count, _arena, stack, low, high, _empty, total_low, total_high = _STATS.unpack(stats)
    if magic != b"LEFW" or count != images:
        raise FirmwareError(f"stats.bin is not the harness's (magic {magic!r}, {count} images)")
    total = (total_high << 32 | total_low) * per_tick
    return RunResult(outputs, images, total / max(images, 1), low * per_tick, high * per_tick,
                     stack)


def _call(command: list[str], folder: Path, timeout: float, what: str) -> None:
    try:
        result = subprocess.run(command, cwd=folder, capture_output=True, text=True,
                                timeout=timeout)
    except subprocess.TimeoutExpired:
        raise FirmwareTimeoutError(f"{what} took longer than {timeout:g} s") from None
    if result.returncode != 0:
        raise FirmwareError(f"{what} failed: {_tail(result.stderr + result.stdout)}")


def _tail(output, limit: int = 300) -> str:
    text = output.decode(errors="replace") if isinstance(output, bytes) else output
    text = " ".join(text.split())
    return (text[-limit:] if text else "no output") or "no output"


# ---- memory from the map file ----------------------------------------------------------------

_INPUT_SECTION = re.compile(r"^ (\.\S+|COMMON)(?:\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*))?$")
_CONTINUATION = re.compile(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")
_OUTPUT_SECTION = re.compile(r"^(\.\S+)")


def memory_use(elf: Path, map_file: Path) -> MemoryUse:
    sizes = section_sizes(map_file)
    by_object = {}
    for (section, obj), size in sizes.items():
        entry = by_object.setdefault(obj, {"flash": 0, "ram": 0})
        if section in _FLASH_SECTIONS:
            entry["flash"] += size
        if section in _RAM_SECTIONS and section != ".stack":
            entry["ram"] += size
    inference = [o for o in by_object if _object_name(o) in INFERENCE_OBJECTS]
    harness = [o for o in by_object if o not in inference]
    stack = sum(size for (section, _), size in sizes.items() if section == ".stack")
    text, data, bss = _size(elf)
    return MemoryUse(
        flash_inference=sum(by_object[o]["flash"] for o in inference),
        flash_harness=sum(by_object[o]["flash"] for o in harness),
        ram_inference=sum(by_object[o]["ram"] for o in inference),
        ram_harness=sum(by_object[o]["ram"] for o in harness),
        stack_reserve=stack, flash_total=text + data, ram_total=data + bss,
        by_object={_object_name(o): v for o, v in sorted(by_object.items())})


def section_sizes(map_file: Path) -> dict:
    """(output section, input file) -> bytes, from the memory map part of a GNU ld map file."""
    lines = map_file.read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Linker script and memory")),
                 None)
    if start is None:
        raise FirmwareError(f"{map_file} has no memory map")
    sizes, output, pending = {}, None, False
    for line in lines[start:]:
        if (match := _OUTPUT_SECTION.match(line)) is not None:
            output, pending = match.group(1), False
            continue
        if pending and (match := _CONTINUATION.match(line)) is not None:
            _add(sizes, output, match.group(2), match.group(3))
            pending = False
        elif (match := _INPUT_SECTION.match(line)) is not None:
            pending = match.group(2) is None
            if not pending:
                _add(sizes, output, match.group(3), match.group(4))
        elif line.startswith(" *fill*") and output is not None:
            parts = line.split()
            if len(parts) >= 3:
                _add(sizes, output, parts[2], "*fill*")
    return sizes


def _add(sizes: dict, output: str | None, size_hex: str, source: str) -> None:
    if output is not None:
        key = (output, source.strip())
        sizes[key] = sizes.get(key, 0) + int(size_hex, 16)


def _object_name(source: str) -> str:
    """obj/conv.o -> conv; /usr/.../libc_nano.a(lib_a-memcpy.o) -> libc_nano.a(memcpy)."""
    name = Path(source.split("(")[0]).name
    if "(" in source:
        member = source.split("(", 1)[1].rstrip(")").replace("lib_a-", "")
        return f"{name}({Path(member).stem})"
    return Path(name).stem


def _size(elf: Path) -> tuple[int, int, int]:
    result = subprocess.run([tool("arm-none-eabi-size"), str(elf)], capture_output=True,
                            text=True, timeout=60)
    if result.returncode != 0:
        raise FirmwareError(f"arm-none-eabi-size failed: {_tail(result.stderr)}")
    text, data, bss = (int(v) for v in result.stdout.splitlines()[1].split()[:3])
    return text, data, bss
