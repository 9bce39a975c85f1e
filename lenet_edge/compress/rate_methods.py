"""Pruning one run to one rate by the three methods, each measured on QEMU: what
benchmarks/budget_pruning.py and `pipeline --digits-per-second` share.

    dense = dense_measurement(run, "nrf52840", out / "dense")
    table = prune_to(run, out / "obd-per-cost", "OBD, saliency per cost", settings, Budget("nrf52840", 200))
    point(METHOD_NAMES[0], table, dense)   # its test error and measured instructions per digit

The methods run on the same retraining budget (the PruneSettings given, its method and rank
replaced, magnitude pruning by weights whatever the granularity); the dense model's firmware is measured the way prune confirms a budget
(budget.measure), so each speed-up is measured against measured.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from firmware_sim.emulator.files import atomic_write
from lenet_edge import run as runs
from lenet_edge.compress import budget as budgets
from lenet_edge.compress.prune import PRUNING, PruneSettings, prune
from lenet_edge.train.batches import load_run_data
from lenet_edge.train.loop import error_rate

METHODS = {  # name: (method, rank)
    "OBD, saliency per cost": ("obd", "per-cost"),
    "OBD, saliency": ("obd", "saliency"),
    "magnitude (tfmot)": ("magnitude", "per-cost"),
}
METHOD_NAMES = tuple(METHODS)
DENSE_FILE = "dense.json"


def dense_measurement(source: Path, device: str, out: Path, data_dir: Path | None = None) -> dict:
    """The dense model's cost-model rate, its QEMU count and its test error on the run's test
    set (cached in out/dense.json)."""
    cache = Path(out) / DENSE_FILE
    if cache.exists():
        return json.loads(cache.read_text())
    config, model = runs.read_config(source), runs.load_model(source)
    data = load_run_data(config, data_dir)
    predicted = budgets.standing(model, data.x_train, budgets.Budget(device, 1.0))
    Path(out).mkdir(parents=True, exist_ok=True)
    report = budgets.measure(model, data.x_train, data.x_test, data.y_test, device, Path(out) / "dense-int8.tflite")
    measured = predicted.scaled(report.instructions_per_inference / predicted.instructions)
    row = {"predicted_digits_per_second": predicted.digits_per_second,
           "predicted_instructions": predicted.instructions, "board": report.board,
           "measured_instructions": measured.instructions,
           "measured_digits_per_second": measured.digits_per_second,
           "test_error": error_rate(model, data.x_test, data.y_test)}
    atomic_write(cache, lambda tmp: tmp.write_text(json.dumps(row, indent=2)))
    return row


def prune_to(source: Path, out: Path, name: str, settings: PruneSettings, target: budgets.Budget,
             data_dir: Path | None = None, progress: bool = False) -> dict:
    """The pruning table (pruning.json) of `source` pruned by method `name` until `target` is
    met; a finished run in `out` is reused."""
    if not (Path(out) / PRUNING).exists():
        method, rank = METHODS[name]
        granularity = settings.granularity if method == "obd" else "weight"  # tfmot's deletes weights
        prune(source, out, dataclasses.replace(settings, method=method, rank=rank, budget=target,
                                               granularity=granularity), data_dir, progress)
    return json.loads((Path(out) / PRUNING).read_text())


def final(table: dict) -> tuple[float, float]:
    """(sparsity, test error) after a pruning table's last round: the source's when none ran."""
    rounds = table["rounds"]
    if not rounds:
        return table["source_sparsity"], table["source_error"]
    return rounds[-1]["sparsity"], rounds[-1]["test_error"]


def point(name: str, table: dict, dense: dict) -> dict:
    """One method's result: test error after its last retraining against its measured cost."""
    outcome, (sparsity, error) = table["budget"], final(table)
    return {"method": name, "rounds": len(table["rounds"]), "sparsity": sparsity, "test_error": error,
            "measured_instructions": outcome["measured_instructions"],
            "measured_digits_per_second": outcome["measured_digits_per_second"],
            "measured_speedup": dense["measured_instructions"] / outcome["measured_instructions"],
            "met": outcome["met"]}
