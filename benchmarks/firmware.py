"""Firmware on emulated Cortex-M boards against TFLM: flash, RAM, instructions per multiply-add.

    python benchmarks/firmware.py [--run runs/bench/lenet5]
        [--sparse runs/bench/compression/lenet5-obd90-qat-int8.tflite]
        [--images 10000] [--out runs/bench/firmware.json]

Models: int8 LeNet-5 converted from RUN/model.keras (calibrated on 500 training digits, as
benchmarks/emulator_speed.py does) and the 90%-sparse OBD + QAT LeNet-5 of the compression
benchmark (when that file is missing, the dense Keras model with the smallest 90% of each conv
and dense kernel zeroed, converted the same way). Each is generated, built
(arm-none-eabi-gcc -O2) and run under QEMU on the MNIST test digits: outputs are compared with
firmware_sim and with TFLM's Python interpreter (one invoke per image); instructions are counted
with SysTick under -icount. TFLM's arena is measured in the same run (tflite_micro's recording
allocator, x86-64 struct sizes) and estimated for Cortex-M (firmware_sim.fit.planner: the same
greedy head, a tail of 32-bit structs). The firmware's RAM is its arena plus the stack one
inference touches; its flash is the inference part of the linker map (weights, tables, kernels,
model code), not the harness. Prints Markdown tables and the goals; writes JSON.
"""
import argparse
import platform
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

import firmware_sim
from firmware_sim.fit.planner import tflm_arena
from lenet_edge import markdown
from lenet_edge.board.flash import flash
from lenet_edge.data.transforms import lenet5_32, load_dataset
from lenet_edge.run import atomic_write, write_json

CALIBRATION = 500
PRUNE = 0.9
GOALS = {"ram_vs_tflm_arena": 1 / 3, "dense_flash_vs_tflite": 1.1,
         "sparse_flash_vs_dense_tflite": 0.35, "instructions_per_effective_mac": 2.0}


def dense_model(run: Path, prune: float = 0.0) -> bytes:
    """The run's LeNet-5 (or a fresh one), optionally magnitude-pruned, as an int8 .tflite."""
    from convert.tflite import to_int8_tflite
    from lenet_edge.models import registry
    from lenet_edge.run import load_model

    from lenet_edge.board.calibrate import zero_smallest

    model = load_model(run) if (run / "model.keras").is_file() else registry.build("lenet5")
    zero_smallest(model, prune)
    images, _ = load_dataset("mnist", "train")
    return to_int8_tflite(model, lenet5_32(images[:CALIBRATION]), CALIBRATION)


def tflm_outputs(model: Path, x: np.ndarray) -> np.ndarray:
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(model.read_bytes())
    outputs = []
    for image in x:
        interpreter.set_input(image[np.newaxis], 0)
        interpreter.invoke()
        outputs.append(interpreter.get_output(0).copy())
    return np.concatenate(outputs)


def tflm_arena_measured(model: Path) -> dict:
    """tflite_micro's recording allocator, in a child process (it prints from C++)."""
    code = ("import sys; from tflite_micro.python.tflite_micro import runtime; "
            "runtime.Interpreter.from_bytes(open(sys.argv[1], 'rb').read()).print_allocations()")
    result = subprocess.run([sys.executable, "-c", code, str(model)], capture_output=True,
                            text=True, check=True)
    text = result.stdout + result.stderr
    return {key: int(re.search(rf"Arena allocation {key} (\d+) bytes", text).group(1))
            for key in ("total", "head", "tail")}


def measure(name: str, model: Path, board: str, images: int, x: np.ndarray,
            folder: Path) -> dict:
    slug = name.lower().replace("%", "").replace(" ", "-")
    outputs = folder / f"{slug}-{board}.npy"
    report = flash(model, board=board, images=images, outputs=outputs)
    tflm = tflm_outputs(model, x[:images])
    graph = firmware_sim.load_model(model)
    arena = tflm_arena(graph)
    return {**report.as_dict(), "model": name, "model_path": str(model),
            "bytes_differing_from_tflm": int(np.count_nonzero(np.load(outputs) != tflm)),
            "tflm_arena_cortex_m": {"head": arena.head, "tail": arena.tail,
                                    "total": arena.total},
            "tflm_arena_measured_x86_64": tflm_arena_measured(model)}


def table(rows: list[dict], dense_tflite: int) -> str:
    header = ("model", "board", "flash (inference)", "vs its .tflite", "vs dense .tflite",
              "RAM (arena + stack)", "vs TFLM arena (Cortex-M / measured)",
              "instructions per inference", "per MAC", "per nonzero MAC", "test error",
              "bit-exact (emulator, TFLM)")
    return "\n".join(markdown.table(header, [_cells(r, dense_tflite) for r in rows]))


def _cells(r: dict, dense_tflite: int) -> tuple:
    cortex, measured = r["tflm_arena_cortex_m"]["total"], r["tflm_arena_measured_x86_64"]["total"]
    return (r["model"], r["board"], f"{r['flash_inference']:,} B",
            f"{r['flash_inference'] / r['tflite_bytes']:.2f}x",
            f"{r['flash_inference'] / dense_tflite:.2f}x",
            f"{r['ram_inference']:,} B ({r['ram_arena']:,} + {r['ram_stack']})",
            f"1/{cortex / r['ram_inference']:.1f} of {cortex:,} / "
            f"1/{measured / r['ram_inference']:.1f} of {measured:,}",
            f"{r['instructions_per_inference']:,.0f}", f"{r['instructions_per_mac']:.2f}",
            f"{r['instructions_per_effective_mac']:.2f}", f"{100 * (1 - r['accuracy']):.2f}%",
            f"{'yes' if r['identical'] else 'NO'}, "
            f"{'yes' if r['bytes_differing_from_tflm'] == 0 else 'NO'}")


def goals(dense: dict, sparse: dict) -> list[str]:
    ram = dense["ram_inference"] / dense["tflm_arena_cortex_m"]["total"]
    flash_dense = dense["flash_inference"] / dense["tflite_bytes"]
    flash_sparse = sparse["flash_inference"] / dense["tflite_bytes"]
    speed = dense["instructions_per_effective_mac"]
    checks = [("RAM <= 1/3 of TFLM's arena (dense)", ram, GOALS["ram_vs_tflm_arena"]),
              ("dense flash <= 1.1x its .tflite", flash_dense, GOALS["dense_flash_vs_tflite"]),
              ("90%-sparse flash <= 0.35x the dense .tflite", flash_sparse,
               GOALS["sparse_flash_vs_dense_tflite"]),
              ("<= 2 instructions per effective MAC (dense, Cortex-M4)", speed,
               GOALS["instructions_per_effective_mac"])]
    return [f"- {what}: {value:.3f} (goal {goal:.3f}) {'met' if value <= goal else 'MISSED'}"
            for what, value, goal in checks]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=Path("runs/bench/lenet5"))
    parser.add_argument("--sparse", type=Path,
                        default=Path("runs/bench/compression/lenet5-obd90-qat-int8.tflite"))
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=Path("runs/bench/firmware.json"))
    args = parser.parse_args()
    folder = args.out.with_suffix("")
    folder.mkdir(parents=True, exist_ok=True)
    dense = folder / "lenet5-int8.tflite"
    atomic_write(dense, lambda tmp: tmp.write_bytes(dense_model(args.run)))
    sparse, sparse_source = args.sparse, str(args.sparse)
    if not sparse.is_file():
        sparse, sparse_source = folder / "lenet5-magnitude90-int8.tflite", "magnitude 90% + PTQ"
        atomic_write(sparse, lambda tmp: tmp.write_bytes(dense_model(args.run, PRUNE)))
    images, _ = load_dataset("mnist", "test")
    x = firmware_sim.quantize_input(firmware_sim.load_model(dense), lenet5_32(images[:args.images]))
    rows = [measure("LeNet-5 dense", dense, "mps2-an386", args.images, x, folder),
            measure("LeNet-5 90% sparse", sparse, "mps2-an386", args.images, x, folder),
            measure("LeNet-5 dense", dense, "mps2-an385", args.images, x, folder),
            measure("LeNet-5 dense", dense, "mps2-an500", args.images, x, folder)]
    print(f"int8 LeNet-5 from {args.run}/model.keras ({dense.stat().st_size:,} B .tflite) and "
          f"{sparse_source} ({sparse.stat().st_size:,} B); {args.images:,} MNIST test digits\n")
    print(table(rows, dense.stat().st_size))
    print("\nGoals (dense and sparse on mps2-an386):")
    print("\n".join(goals(rows[0], rows[1])))
    write_json(args.out, {"dense_model": str(dense), "sparse_model": sparse_source, "rows": rows,
                          "goals": GOALS, "machine": platform.processor() or platform.machine()})


if __name__ == "__main__":
    main()
