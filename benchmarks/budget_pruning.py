"""Pruning to a rate on a device: test error against the instructions per digit QEMU measures, for
OBD by saliency per cost, OBD by saliency (the paper's ranking) and tfmot's magnitude pruning, on
the same retraining budget (issue 14).

    python benchmarks/budget_pruning.py --run runs/bench/lenet1 [--device nrf52840]
        [--speedups 2,3,4] [--rounds 3] [--retrain-epochs 1] [--lr 1e-3] [--out runs/bench/budget]

For each asked speed-up k the rate asked is k times the dense model's rate as the cost model
gives it; `lenet_edge.compress.prune` prunes round by round until the cost model says the rate
is met and then measures the firmware on QEMU (the device's core's board). A finished prune run
in --out is reused (delete it to prune again). The dense model's firmware is measured on QEMU
too, so each speed-up is measured against measured. Test error: the pruned float model on all
10,000 MNIST test digits after its last retraining. Prints Markdown; writes --out/summary.json.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import lenet_edge  # noqa: F401  (first: selects Keras 2 before TensorFlow loads)
from firmware_sim.emulator.files import atomic_write
from firmware_sim.firmware.boards import BOARD_OF_CORE
from firmware_sim.firmware.flash_arrays import flash_arrays
from firmware_sim.fit.devices.profile import load_profile
from lenet_edge import markdown
from lenet_edge import run as runs
from lenet_edge.compress import budget
from lenet_edge.compress.prune import PRUNING, PruneSettings, prune
from lenet_edge.train.batches import load_split
from lenet_edge.train.loop import error_rate

METHODS = {  # name: (method, rank)
    "OBD, saliency per cost": ("obd", "per-cost"),
    "OBD, saliency": ("obd", "saliency"),
    "magnitude (tfmot)": ("magnitude", "per-cost"),
}


def dense_measurement(source: Path, device: str, out: Path) -> dict:
    """The dense model's cost-model rate and its QEMU count (cached in out/dense.json)."""
    cache = out / "dense.json"
    if cache.exists():
        return json.loads(cache.read_text())
    config, model = runs.read_config(source), runs.load_model(source)
    _, x, y = load_split(config.model, "train", budget.CALIBRATION)
    _, x_test, y_test = load_split(config.model, "test")
    predicted = budget.standing(model, x, budget.Budget(device, 1.0))
    path = out / "dense-int8.tflite"
    tflite_bytes = budget.int8_bytes(model, x)
    atomic_write(path, lambda tmp: tmp.write_bytes(tflite_bytes))
    report = flash_arrays(path, x_test[:3], BOARD_OF_CORE[load_profile(device).core], y_test[:3])
    row = {"predicted_digits_per_second": predicted.digits_per_second,
           "predicted_instructions": predicted.instructions,
           "measured_instructions": report.instructions_per_inference,
           "test_error": error_rate(model, x_test, y_test)}
    atomic_write(cache, lambda tmp: tmp.write_text(json.dumps(row, indent=2)))
    return row


def prune_to(source: Path, out: Path, method: str, rank: str, rate: float, args) -> dict:
    if not (out / PRUNING).exists():
        settings = PruneSettings(method, rounds=args.rounds, retrain_epochs=args.retrain_epochs, rank=rank,
                                 learning_rate=args.lr, budget=budget.Budget(args.device, rate))
        prune(source, out, settings, progress=False)
    return json.loads((out / PRUNING).read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--device", default="nrf52840")
    parser.add_argument("--speedups", default="2,3,4")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--retrain-epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=None, help="retraining rate (default: the run's last)")
    parser.add_argument("--out", type=Path, default=Path("runs/bench/budget"))
    args = parser.parse_args()
    out = args.out / args.run.name
    out.mkdir(parents=True, exist_ok=True)
    dense = dense_measurement(args.run, args.device, out)
    rows, summary = [], {"dense": dense, "runs": []}
    for speedup in [float(k) for k in args.speedups.split(",")]:
        for name, (method, rank) in METHODS.items():
            folder = out / f"{method}-{rank}-{speedup:g}x"
            table = prune_to(args.run, folder, method, rank, speedup * dense["predicted_digits_per_second"], args)
            outcome = table["budget"]
            measured = dense["measured_instructions"] / outcome["measured_instructions"]
            error = table["rounds"][-1]["test_error"]
            summary["runs"].append({"method": name, "asked_speedup": speedup, "folder": str(folder),
                                    "measured_speedup": measured, "test_error": error, **outcome})
            rows.append((f"{speedup:g}x", name, len(table["rounds"]), f"{100 * table['rounds'][-1]['sparsity']:.1f}%",
                         f"{outcome['measured_instructions']:,.0f}", f"{measured:.2f}x",
                         "yes" if outcome["met"] else "no", f"{100 * error:.2f}%"))
    print(f"dense {args.run}: {dense['measured_instructions']:,.0f} instructions per digit on QEMU, "
          f"test error {100 * dense['test_error']:.2f}%\n")
    print("\n".join(markdown.table(("asked", "method", "rounds", "sparsity", "instructions (QEMU)",
                                    "speed-up (QEMU)", "rate met", "test error"), rows)))
    atomic_write(out / "summary.json", lambda tmp: tmp.write_text(json.dumps(summary, indent=2)))


if __name__ == "__main__":
    main()
