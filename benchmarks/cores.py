"""One int8 LeNet-5 on every Cortex-M core the firmware builds for: instructions, flash, RAM.

    python benchmarks/cores.py MODEL.tflite [--images 1000] [--boards microbit,mps2-an386,...]
        [--out runs/bench/cores.json]

Each board (default: all of firmware_sim.firmware.boards, plus `mps3-an547+nomve`, the M55
built with -mcpu=cortex-m55+nomve: the DSP path without Helium, for comparison) runs the model
on the first MNIST test digits through `lenet_edge.board.flash.flash`, which compares every
output byte with the emulator's. Instructions are counted with SysTick under QEMU's -icount
(instructions, not cycles); flash and RAM come from the linker map: flash is text + data of the
whole firmware and of its inference part (weights, tables, kernels, model code); RAM is data +
bss + the stack region, and the inference's arena + the stack one inference touches. Prints a
Markdown table; writes JSON.
"""
import argparse
import dataclasses
import platform
import time
from pathlib import Path

from firmware_sim.firmware import boards
from lenet_edge import markdown
from lenet_edge.board.flash import flash
from lenet_edge.run import write_json

NOMVE = "mps3-an547+nomve"


def register_nomve() -> None:
    """The AN547 with a build that leaves Helium out (QEMU's machine and CPU are the same)."""
    m55 = boards.board("mps3-an547")
    boards.BOARDS[NOMVE] = dataclasses.replace(
        m55, name=NOMVE, core="cortex-m55+nomve", qemu_machine=m55.name,
        description=m55.description + ", built without MVE")


def measure(model: Path, board: str, images: int) -> dict:
    start = time.perf_counter()
    report = flash(model, board=board, images=images)
    return {**report.as_dict(), "core_flags": list(boards.board(board).cflags[:3]),
            "seconds": round(time.perf_counter() - start, 1)}


def table(rows: list[dict]) -> str:
    header = ("board", "core (-mcpu)", "MAC path", "instructions per digit", "per MAC",
              "flash (total / inference)", "RAM (total / arena + stack)", "test error",
              "bit-exact")
    return "\n".join(markdown.table(header, [(
        r["board"], r["core"], mac_path(r["board"]), f"{r['instructions_per_inference']:,.0f}",
        f"{r['instructions_per_mac']:.2f}", f"{r['flash_total']:,} / {r['flash_inference']:,} B",
        f"{r['ram_total']:,} / {r['ram_arena'] + r['ram_stack']:,} B",
        f"{100 * (1 - r['accuracy']):.2f}%", "yes" if r["identical"] else "NO") for r in rows]))


def mac_path(board: str) -> str:
    core = boards.board(board).core
    if core == "cortex-m0":
        return "byte patch, LDRSB/MULS"
    if core == "cortex-m3":
        return "byte patch, C (LDRSB/MLA)"
    if core == "cortex-m55":
        return "byte patch, Helium VMLADAVA"
    return "int16 patch, SXTB16/SMLAD"


def main() -> None:
    register_nomve()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--boards", default="microbit,mps2-an385,mps2-an386,mps2-an500,"
                                            f"mps2-an505,mps3-an547,{NOMVE}")
    parser.add_argument("--out", type=Path, default=Path("runs/bench/cores.json"))
    args = parser.parse_args()
    rows = [measure(args.model, board, args.images) for board in args.boards.split(",")]
    print(f"{args.model} ({args.model.stat().st_size:,} B), {args.images:,} MNIST test digits "
          f"per board\n")
    print(table(rows))
    write_json(args.out, {"model": str(args.model), "images": args.images, "rows": rows,
                          "machine": platform.processor() or platform.machine()})


if __name__ == "__main__":
    main()
