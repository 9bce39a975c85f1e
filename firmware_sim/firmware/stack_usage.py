"""The worst-case stack of a function, statically, from the compiler: `flash` reports it as the
stack of one inference and calibrate writes it per kernel, so prediction and measurement agree.

    frames = compiled_frames(folder / "obj")         # GCC's -fstack-usage / -fcallgraph-info=su
    depth = stack_depth("model_invoke", frames, library_frames(elf))

Every C file is compiled with `-fstack-usage -fcallgraph-info=su` (boards.py): each object's .su
gives each function's frame (static, or dynamic and bounded) and its .ci (VCG) the calls (those
the linked code makes: GCC lists libcalls it optimized away).
Functions GCC did not compile here (libgcc and newlib: memcpy, floor, __aeabi_*) are read from the
ELF's disassembly: their frame is what their pushes (4 bytes a register, 8 a d register) and
`sub sp, #n` take, their calls and branches into other functions are followed the same way. The
depth of a function is its frame plus its deepest callee's depth. Recursion, a dynamic frame
without a bound, an indirect call and a call to a function found nowhere are refused
(FirmwareError naming the function). Interrupt handlers are not in the bound: the harness stops
SysTick while an inference's stack is painted, and on a real board the interrupt's frame (8
words, plus the handler's own) comes on top.
"""
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from firmware_sim.firmware import qemu
from firmware_sim.firmware.errors import FirmwareError

_INDIRECT = "__indirect_call"


@dataclass(frozen=True)
class Frame:
    bytes: int
    calls: frozenset[str]


def parse_su(text: str) -> dict[str, int]:
    """Frame bytes of each function of a .su file (`file:line:col:name<TAB>bytes<TAB>kind`)."""
    frames = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        location, size, kind = line.split("\t")
        name = location.rsplit(":", 1)[1]
        if kind not in ("static", "dynamic,bounded"):
            raise FirmwareError(f"stack: {name} has a {kind} frame (a variable-length array or "
                                f"alloca) whose size the compiler cannot bound")
        frames[name] = int(size)
    return frames


_EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')


def parse_ci(text: str) -> dict[str, set[str]]:
    """The calls of each function of a .ci file (GCC's VCG call graph; a static function's
    title is prefixed with its file, as `main.c:inference_stack`)."""
    calls = {}
    for caller, callee in _EDGE.findall(text):
        calls.setdefault(caller.rsplit(":", 1)[-1], set()).add(callee.rsplit(":", 1)[-1])
    return calls


def compiled_frames(objects: Path) -> dict[str, Frame]:
    """Frames and calls of every function compiled into `objects` (a folder of .su and .ci)."""
    frames, calls = {}, {}
    for su in sorted(Path(objects).glob("*.su")):
        frames.update(parse_su(su.read_text()))
        for caller, callees in parse_ci(su.with_suffix(".ci").read_text()).items():
            calls.setdefault(caller, set()).update(callees)
    return {name: Frame(size, frozenset(calls.get(name, ()))) for name, size in frames.items()}


_FUNCTION = re.compile(r"^([0-9a-f]+) <([^>]+)>:$")
_REGISTERS = re.compile(r"\{([^}]*)\}")
_SUB_SP = re.compile(r"^sub(?:w|\.w)?\s+sp,\s*(?:sp,\s*)?#(\d+)")
_BRANCH = re.compile(r"^(bl|b|b\.n|b\.w|b[a-z]{2}(?:\.n|\.w)?|cbn?z)\s+(?:r\d+,\s*)?"
                     r"[0-9a-f]+ <([^>+]+)(?:\+0x[0-9a-f]+)?>")
# a store that moves sp down (`str.w lr, [sp, #-8]!`, libgcc's prologue of a leaf call)
_STORE_DOWN = re.compile(r"^str[a-z]*(?:\.w)?\s+[^\[]*\[sp,\s*#-(\d+)\]!")
# a call or branch to a register other than lr, or a load into pc from anything but the stack
# (a return pops pc); `mov pc, rN` and `add pc, rN` are a switch's jump table inside the
# function (GCC's Thumb-1 switches, in libgcc's soft float), not calls
_INDIRECT_BRANCH = re.compile(r"^(blx|bx)\s+(r\d+|ip|sl|fp)\b|^ldr(?:\.w)?\s+pc,\s*\[(?!sp)")


def library_frames(elf: Path) -> dict[str, Frame]:
    """Frames and calls of every function of `elf`, from its disassembly (objdump -d) and its
    symbols (nm)."""
    return parse_disassembly(_tool_output("arm-none-eabi-objdump", "-d", "--no-show-raw-insn", elf),
                             _tool_output("arm-none-eabi-nm", elf))


def parse_disassembly(disassembly: str, symbols: str) -> dict[str, Frame]:
    """Frames and calls of each function of `objdump -d` text, under each of its names in `nm`
    text (libgcc's functions have aliases: __aeabi_uidiv is __udivsi3)."""
    by_address, name, address, lines = {}, None, None, []
    for line in disassembly.splitlines() + [""]:
        match = _FUNCTION.match(line)
        if match or not line:
            if name is not None:
                by_address[address] = _disassembled_frame(name, lines)
            name, address, lines = (match.group(2), int(match.group(1), 16), []) if match \
                else (None, None, [])
        elif name is not None and "\t" in line:
            lines.append(line.split("\t", 1)[1].split("@")[0].strip())
    frames = {}
    for line in symbols.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TtWw" and int(parts[0], 16) & ~1 in by_address:
            frames[parts[2]] = by_address[int(parts[0], 16) & ~1]
    return frames


def _disassembled_frame(name: str, instructions: list[str]) -> Frame:
    size, calls = 0, set()
    for instruction in instructions:
        mnemonic = instruction.split(None, 1)[0] if instruction else ""
        if mnemonic in ("push", "push.w", "stmdb") and (mnemonic != "stmdb" or
                                                        instruction.split()[1] == "sp!,"):
            size += 4 * _register_count(instruction)
        elif mnemonic == "vpush":
            size += _register_count(instruction) * (8 if "d" in instruction.split()[1] else 4)
        elif (match := _SUB_SP.match(instruction) or _STORE_DOWN.match(instruction)) is not None:
            size += int(match.group(1))
        elif re.match(r"^sub(?:\.w)?\s+sp,", instruction):
            raise FirmwareError(f"stack: {name} moves the stack pointer by a register "
                                f"({instruction}); its frame has no static bound")
        elif _INDIRECT_BRANCH.match(instruction):
            calls.add(f"{_INDIRECT} ({instruction})")
        elif (match := _BRANCH.match(instruction)) is not None and match.group(2) != name:
            calls.add(match.group(2))
    return Frame(size, frozenset(calls))


def _register_count(instruction: str) -> int:
    count = 0
    for register in _REGISTERS.search(instruction).group(1).split(","):
        first, _, last = register.strip().partition("-")
        count += 1 if not last else int(last[1:]) - int(first[1:]) + 1
    return count


def stack_depth(entry: str, frames: dict[str, Frame], library: dict[str, Frame]) -> int:
    """Bytes of stack `entry` and its deepest chain of calls take (the compiled frames first,
    the library's for functions not compiled here)."""
    known: dict[str, int] = {}

    def depth(function: str, path: tuple[str, ...]) -> int:
        if function in path:
            raise FirmwareError(f"stack: {function} is recursive ({' -> '.join(path)} -> "
                                f"{function}); its stack has no static bound")
        if function not in known:
            frame = frames.get(function) or library.get(function)
            if frame is None:
                raise FirmwareError(f"stack: {function} (called by {path[-1]}) is neither "
                                    f"compiled here nor in the firmware")
            indirect = sorted(call for call in frame.calls if call.startswith(_INDIRECT))
            if indirect:
                raise FirmwareError(f"stack: {function} makes an indirect call "
                                    f"{indirect[0][len(_INDIRECT):].strip()} (a function "
                                    f"pointer) whose target cannot be resolved")
            known[function] = frame.bytes + max(
                (depth(callee, (*path, function)) for callee in _calls(function, frames, library)),
                default=0)
        return known[function]

    return depth(entry, ())


def _calls(function: str, frames: dict[str, Frame], library: dict[str, Frame]) -> set[str]:
    """The calls of `function`: a compiled one's from its .ci, less those its linked code does
    not make (GCC lists a libcall it later optimized away, as __aeabi_idiv for a division it
    turned into a multiplication); a library one's from its disassembly."""
    compiled, linked = frames.get(function), library.get(function)
    if compiled is None or linked is None:
        return set((compiled or linked).calls)
    made = [library[target] for target in linked.calls if target in library]
    return {callee for callee in compiled.calls if callee.startswith(_INDIRECT) or
            any(library.get(callee) is frame for frame in made)}


def firmware_stack(folder: Path, entry: str = "model_invoke") -> int:
    """The worst-case stack of `entry` in a built firmware folder (obj/ and firmware.elf)."""
    folder = Path(folder)
    return stack_depth(entry, compiled_frames(folder / "obj"),
                       library_frames(folder / "firmware.elf"))


def _tool_output(name: str, *arguments) -> str:
    result = subprocess.run([qemu.tool(name), *map(str, arguments)], capture_output=True,
                            text=True, timeout=120)
    if result.returncode != 0:
        raise FirmwareError(f"{name} failed: {' '.join(result.stderr.split())[-300:]}")
    return result.stdout
