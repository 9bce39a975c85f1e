"""`check`'s firmware prediction against `flash`'s measurement on QEMU, model by model, board by
board: instructions per inference, flash (the inference part) and RAM (arena + stack).

    python benchmarks/check_vs_flash.py [--models runs/bench/check-models]
        [--boards mps2-an385,mps2-an386,mps2-an500] [--zoo lenet1989,lenet1,lenet4,lenet5,lenet5-modern]
        [--images 20] [--out runs/bench/check_vs_flash.json]

Models: each zoo model freshly initialised (seed 0), dense and with the smallest 50% and 90% of
each conv and dense kernel zeroed, converted to int8 (lenet_edge.board.calibrate's recipe; the
calibration models are other weights, seed 1, at 30/70/95%). Measured: flash_arrays on
`--images` random int8 inputs (the kernels' counts barely depend on the input). Predicted:
firmware_sim.fit.cost_model.predict with the board's core's shipped coefficients, nothing built.
The measurements are kept in --out and reused (delete it to measure again). Prints Markdown.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

import firmware_sim
from firmware_sim.firmware import boards
from firmware_sim.firmware.flash_arrays import flash_arrays
from firmware_sim.fit.cost_model import predict

PRUNE = (0.0, 0.5, 0.9)
GOALS = {"instructions": 0.10, "flash": 0.03, "ram": 0.0}


def model_paths(folder: Path, zoo) -> dict:
    from lenet_edge.board.calibrate import pruned_zoo_tflite

    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in zoo:
        for prune in PRUNE:
            path = folder / f"{name}-{round(100 * prune)}.tflite"
            if not path.is_file():
                path.write_bytes(pruned_zoo_tflite(name, prune, seed=0))
            paths[path.stem] = path
    return paths


def measure(path: Path, board: str, images: int) -> dict:
    graph = firmware_sim.load_model(path)
    shape = graph.tensors[graph.inputs[0]].shape
    x = np.random.default_rng(0).integers(-128, 128, (images, *shape[1:]), dtype=np.int8)
    report = flash_arrays(path, x, board=board)
    return dict(instructions=report.instructions_per_inference,
                flash_inference=report.flash_inference, ram_inference=report.ram_inference,
                identical=report.identical)


def compare(path: Path, board: str, measured: dict) -> dict:
    p = predict(firmware_sim.load_model(path), boards.board(board).core)
    return dict(measured=measured, predicted=dict(
        instructions=p.instructions_per_inference, flash_inference=p.flash_inference,
        ram_inference=p.ram_inference),
        errors=dict(instructions=p.instructions_per_inference / measured["instructions"] - 1,
                    flash=p.flash_inference / measured["flash_inference"] - 1,
                    ram=p.ram_inference - measured["ram_inference"]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=Path("runs/bench/check-models"))
    parser.add_argument("--boards", default="mps2-an385,mps2-an386,mps2-an500")
    parser.add_argument("--zoo", default="lenet1989,lenet1,lenet4,lenet5,lenet5-modern")
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("runs/bench/check_vs_flash.json"))
    args = parser.parse_args(argv)
    paths = model_paths(args.models, args.zoo.split(","))
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    rows = []
    for board in args.boards.split(","):
        for name, path in paths.items():
            key = f"{board}/{name}"
            if key not in results:
                results[key] = measure(path, board, args.images)
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(json.dumps(results, indent=1))
            row = compare(path, board, results[key])
            rows.append((board, name, row))
    print("| board | model | instructions measured | predicted | error | flash measured | "
          "predicted | error | RAM measured | predicted |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for board, name, row in rows:
        m, p, e = row["measured"], row["predicted"], row["errors"]
        print(f"| {board} | {name} | {m['instructions']:,.0f} | {p['instructions']:,.0f} | "
              f"{100 * e['instructions']:+.1f}% | {m['flash_inference']:,} | "
              f"{p['flash_inference']:,} | {100 * e['flash']:+.1f}% | {m['ram_inference']:,} | "
              f"{p['ram_inference']:,} |")
    worst = {k: max(abs(r["errors"][k]) for *_, r in rows) for k in GOALS}
    print(f"\nworst: instructions {100 * worst['instructions']:.1f}% (goal 10%), flash "
          f"{100 * worst['flash']:.1f}% (goal 3%), RAM {worst['ram']:.0f} bytes (goal 0)")
    return 0 if all(worst[k] <= GOALS[k] for k in GOALS) else 1


if __name__ == "__main__":
    sys.exit(main())
