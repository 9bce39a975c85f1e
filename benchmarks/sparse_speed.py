"""Pruning pays on the board (issue 13 item 1): OBD-pruned LeNet-5s against their dense twin on
QEMU, each built with `--optimize speed` (the default) and `--optimize size`: measured
instructions per digit, speed-up over dense, instructions per nonzero multiply-add, the
encodings chosen, and `check`'s prediction error (fit/cost_model.predict, nothing built).

    python benchmarks/sparse_speed.py DENSE.tflite PRUNED.tflite... [--board mps2-an386]
        [--images 20]

Inputs: `--images` random int8 arrays (the kernels' counts barely depend on the input).
Prints Markdown.
"""
import argparse
from pathlib import Path

import numpy as np

import firmware_sim
from firmware_sim.firmware import boards
from firmware_sim.firmware.flash_arrays import flash_arrays
from firmware_sim.fit.cost_model import predict


def measure(path: Path, board: str, images: int, optimize: str) -> dict:
    graph = firmware_sim.load_model(path)
    shape = graph.tensors[graph.inputs[0]].shape
    x = np.random.default_rng(0).integers(-128, 128, (images, *shape[1:]), dtype=np.int8)
    report = flash_arrays(path, x, board=board, optimize=optimize)
    predicted = predict(graph, boards.board(board).core, optimize).instructions_per_inference
    return dict(instructions=report.instructions_per_inference, identical=report.identical,
                effective_macs=report.effective_macs, flash=report.flash_inference,
                ram=report.ram_inference, predicted=predicted,
                encodings=[s["encoding"] for s in report.steps if s["encoding"]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dense", type=Path)
    parser.add_argument("pruned", type=Path, nargs="+")
    parser.add_argument("--board", default="mps2-an386")
    parser.add_argument("--images", type=int, default=20)
    args = parser.parse_args()
    rows = [(path, optimize, measure(path, args.board, args.images, optimize))
            for path in (args.dense, *args.pruned) for optimize in ("speed", "size")]
    dense = rows[0][2]["instructions"]
    print(f"| model ({args.board}) | --optimize | instructions per digit | speed-up over dense "
          f"| nonzero MACs | instructions per nonzero MAC | check's error | flash B | RAM B "
          f"| encodings (conv, FC) | bit-exact |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for path, optimize, m in rows:
        print(f"| {path.stem} | {optimize} | {m['instructions']:,.0f} | "
              f"{dense / m['instructions']:.2f}x | {m['effective_macs']:,} | "
              f"{m['instructions'] / m['effective_macs']:.2f} | "
              f"{100 * (m['predicted'] / m['instructions'] - 1):+.1f}% | {m['flash']:,} | "
              f"{m['ram']:,} | {', '.join(m['encodings'])} | {m['identical']} |")


if __name__ == "__main__":
    main()
