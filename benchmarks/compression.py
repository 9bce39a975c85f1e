"""OBD against magnitude pruning: sparsity vs test error, the saliency pass's cost, and the int8 QAT
LeNet-5 at 90% OBD sparsity against the dense float LeNet-5.

    python benchmarks/compression.py [--runs runs/bench] [--only lenet5,lenet1]

Starts from the trained runs runs/bench/lenet5 and runs/bench/lenet1 (benchmarks/accuracy.py).
For each model and method (OBD with the paper's estimator, OBD with Gauss-Newton, tfmot magnitude)
one pruning chain steps through 50, 60, 70, 80 and 90% sparsity (one run folder), then 95% (a
second run from the first); every step is followed by the same retraining, RETRAIN_EPOCHS epoch at
learning rate RETRAIN_LR. The 90% OBD LeNet-5 is then QAT fine-tuned and converted to int8.
Writes runs/bench/compression/compression.json and compression.png, prints Markdown tables.
Finished runs are reused, so a killed benchmark resumes where it stopped.
"""
from __future__ import annotations

import lenet_edge  # noqa: F401  (first: selects Keras 2 before TensorFlow loads)

import argparse
import json
import time
from pathlib import Path

from lenet_edge import run as runs
from lenet_edge.compress import obd
from lenet_edge.compress.prune import PRUNING, PruneSettings, prune
from lenet_edge.compress.qat_run import fine_tune_qat
from lenet_edge.models import registry
from lenet_edge.train.data import load_split

STEPS = (0.5, 0.6, 0.7, 0.8, 0.9)
LAST_STEP = 0.95
RETRAIN_EPOCHS, RETRAIN_LR = 1, 1e-4
HESSIAN_SAMPLE = 2000
METHODS = {"obd-paper": ("obd", "paper"), "obd-gn": ("obd", "gn"), "magnitude": ("magnitude", "paper")}


def chain(source: Path, root: Path, label: str) -> list[dict]:
    """The (sparsity, test error) rows of one method's chain 50..90% then 95%, running what is missing."""
    method, estimator = METHODS[label]
    rows = []
    for steps, folder in ((STEPS, root / f"{source.name}-{label}-90"), ((LAST_STEP,), root / f"{source.name}-{label}-95")):
        if not (folder / PRUNING).exists():
            settings = PruneSettings(method, steps[-1], retrain_epochs=RETRAIN_EPOCHS, estimator=estimator,
                                     sample=HESSIAN_SAMPLE, learning_rate=RETRAIN_LR, steps=steps)
            prune(source, folder, settings, progress=False)
        rows += json.loads((folder / PRUNING).read_text())["rounds"]
        source = folder
    return [{"sparsity": r["sparsity"], "test_error": r["test_error"], "predicted_increase": r["predicted_increase"],
             "measured_increase": r["measured_increase"]} for r in rows]


def saliency_seconds(source: Path) -> dict:
    """Wall time of one Hessian-diagonal pass over the full training set, per estimator."""
    model = runs.load_model(source)
    _, x, _ = load_split(model.name, "train")
    seconds = {}
    for estimator in obd.ESTIMATORS:
        start = time.perf_counter()
        obd.hessian_diagonal(model, x, registry.spec(model.name).loss, estimator)
        seconds[estimator] = round(time.perf_counter() - start, 1)
    return seconds


def qat_int8(root: Path) -> dict:
    """The 90% OBD LeNet-5 QAT fine-tuned one epoch, as int8 TFLite, tested on the full test set."""
    from convert.pipeline import convert_run  # the benchmark may use convert; the library may not

    pruned, folder = root / "lenet5-obd-paper-90", root / "lenet5-obd-paper-90-qat"
    if not (folder / runs.QAT_MODEL).exists():
        fine_tune_qat(pruned, folder, epochs=1, progress=False)
    report = convert_run(folder, root / "lenet5-obd90-qat-int8.tflite", "int8")
    return {"qat_keras_error": runs.read_metrics(folder)[-1]["test_error"], "int8_error": report.verification.tflite_error,
            "int8_bytes": report.size}


def markdown(results: dict) -> str:
    lines = []
    for model, result in results["models"].items():
        dense = result["dense_error"]
        lines += [f"\n{model} (dense float: {100 * dense:.2f}% test error; {RETRAIN_EPOCHS} retraining epoch "
                  f"per step at lr {RETRAIN_LR:g})\n", "| sparsity | " + " | ".join(METHODS) + " |",
                  "|---|" + "---|" * len(METHODS)]
        for i, row in enumerate(result["chains"]["obd-paper"]):
            errors = [f"{100 * result['chains'][label][i]['test_error']:.2f}%" for label in METHODS]
            lines.append(f"| {100 * row['sparsity']:.0f}% | " + " | ".join(errors) + " |")
        seconds = result["saliency_seconds"]
        lines.append(f"\nsaliency pass over the 60,000 training digits: paper {seconds['paper']} s, gn {seconds['gn']} s")
    if "qat" in results:
        qat = results["qat"]
        lines.append(f"\nlenet5, 90% OBD + 1 QAT epoch, int8 TFLite: {100 * qat['int8_error']:.2f}% test error "
                     f"({qat['int8_bytes']:,} bytes) vs dense float {100 * results['models']['lenet5']['dense_error']:.2f}%")
    return "\n".join(lines)


def plot(results: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = results["models"]
    figure, axes = plt.subplots(1, len(models), figsize=(5.5 * len(models), 4), squeeze=False)
    for axis, (model, result) in zip(axes[0], models.items()):
        for label, rows in result["chains"].items():
            axis.plot([100 * r["sparsity"] for r in rows], [100 * r["test_error"] for r in rows], "o-", label=label)
        axis.axhline(100 * result["dense_error"], color="grey", linestyle="--", label="dense float")
        axis.set(title=model, xlabel="sparsity of the prunable weights (%)", ylabel="test error (%)")
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs/bench"))
    parser.add_argument("--only", default="lenet5,lenet1")
    args = parser.parse_args()
    root = args.runs / "compression"
    root.mkdir(parents=True, exist_ok=True)
    results = {"steps": [*STEPS, LAST_STEP], "retrain_epochs": RETRAIN_EPOCHS, "retrain_lr": RETRAIN_LR,
               "hessian_sample": HESSIAN_SAMPLE, "models": {}}
    for model in args.only.split(","):
        source = args.runs / model
        chains = {label: chain(source, root, label) for label in METHODS}
        results["models"][model] = {"dense_error": runs.read_metrics(source)[-1]["test_error"], "chains": chains,
                                    "saliency_seconds": saliency_seconds(source)}
        print(f"{model}: done", flush=True)
    if "lenet5" in results["models"]:
        results["qat"] = qat_int8(root)
    (root / "compression.json").write_text(json.dumps(results, indent=2) + "\n")
    plot(results, root / "compression.png")
    print(markdown(results))


if __name__ == "__main__":
    main()
