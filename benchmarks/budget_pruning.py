"""Pruning to a rate on a device: test error against the instructions per digit QEMU measures, for
OBD by saliency per cost, OBD by saliency (the paper's ranking) and tfmot's magnitude pruning, on
the same retraining budget (issue 14).

    python benchmarks/budget_pruning.py --run runs/bench/lenet1 [--device nrf52840]
        [--speedups 2,3,4] [--rounds 3] [--retrain-epochs 1] [--lr 1e-3] [--estimator gn]
        [--out runs/bench/budget]

For each asked speed-up k the rate asked is k times the dense model's rate as the cost model
gives it; `lenet_edge.compress.prune` prunes round by round until the cost model says the rate
is met and then measures the firmware on QEMU (the device's core's board). A finished prune run
in --out is reused (delete it to prune again). The dense model's firmware is measured on QEMU
too, so each speed-up is measured against measured (lenet_edge.compress.rate_methods, which
`pipeline --digits-per-second` shares). Test error: the pruned float model on the run's test set
(all 10,000 MNIST test digits for a full run) after its last retraining. Prints Markdown; writes
--out/summary.json.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import lenet_edge  # noqa: F401  (first: selects Keras 2 before TensorFlow loads)
from firmware_sim.emulator.files import atomic_write
from lenet_edge import markdown
from lenet_edge.compress import budget
from lenet_edge.compress.prune import PruneSettings
from lenet_edge.compress.rate_methods import METHODS, dense_measurement, point, prune_to


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--device", default="nrf52840")
    parser.add_argument("--speedups", default="2,3,4")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--retrain-epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=None, help="retraining rate (default: the run's last)")
    parser.add_argument("--estimator", default=None, help="OBD's Hessian diagonal: paper or gn (default: prune's, gn)")
    parser.add_argument("--out", type=Path, default=Path("runs/bench/budget"))
    args = parser.parse_args()
    out = args.out / args.run.name
    out.mkdir(parents=True, exist_ok=True)
    dense = dense_measurement(args.run, args.device, out)
    rows, summary = [], {"dense": dense, "runs": []}
    settings = PruneSettings(rounds=args.rounds, retrain_epochs=args.retrain_epochs, learning_rate=args.lr,
                             estimator=args.estimator)
    for speedup in [float(k) for k in args.speedups.split(",")]:
        for name, (method, rank) in METHODS.items():
            folder = out / f"{method}-{rank}-{speedup:g}x"
            target = budget.Budget(args.device, speedup * dense["predicted_digits_per_second"])
            table = prune_to(args.run, folder, name, settings, target)
            row = point(name, table, dense)
            summary["runs"].append({**row, "asked_speedup": speedup, "folder": str(folder), **table["budget"]})
            rows.append((f"{speedup:g}x", name, row["rounds"], f"{100 * row['sparsity']:.1f}%",
                         f"{row['measured_instructions']:,.0f}", f"{row['measured_speedup']:.2f}x",
                         "yes" if row["met"] else "no", f"{100 * row['test_error']:.2f}%"))
    print(f"dense {args.run}: {dense['measured_instructions']:,.0f} instructions per digit on QEMU, "
          f"test error {100 * dense['test_error']:.2f}%\n")
    print("\n".join(markdown.table(("asked", "method", "rounds", "sparsity", "instructions (QEMU)",
                                    "speed-up (QEMU)", "rate met", "test error"), rows)))
    atomic_write(out / "summary.json", lambda tmp: tmp.write_text(json.dumps(summary, indent=2)))


if __name__ == "__main__":
    main()
