"""Convert every finished benchmark run to .tflite in each mode and compare it with Keras on the
full test set (10,000 MNIST digits; 2,007 USPS digits for lenet1989).

    python benchmarks/conversion.py [--runs runs/bench] [--out runs/bench/conversion] [--calibration 500]

A run counts when its folder holds config.json and a final model (model.keras, or model.h5 for a
QAT run); int8 is post-training quantization for float and pruned runs, QAT's own ranges for QAT
runs. Prints a Markdown table (quoted in BENCHMARKS.md) and writes <out>/conversion.json; the
.tflite files and their model cards stay in <out>/<run>/.
"""
from __future__ import annotations

import lenet_edge  # noqa: F401  (first: selects Keras 2 before TensorFlow loads)

import argparse
from pathlib import Path

from convert.from_run import convert_run
from convert.tflite import MODES
from lenet_edge import markdown
from lenet_edge import run as runs


def finished_runs(root: Path) -> list[Path]:
    return sorted(folder for folder in root.iterdir()
                  if (folder / runs.CONFIG).is_file()
                  and ((folder / runs.MODEL).is_file() or (folder / runs.QAT_MODEL).is_file()))


def measure(folder: Path, out: Path, calibration: int) -> dict:
    reports = {mode: convert_run(folder, out / folder.name / f"{mode}.tflite", mode, calibration)
               for mode in MODES}
    first = reports["int8"]
    return {"run": folder.name, "model": first.model, "stage": first.card["run_stage"],
            "digits": first.verification.digits, "keras_error": first.verification.keras_error,
            "modes": {mode: {"bytes": report.size, "tflite_error": report.verification.tflite_error,
                             "agreement": report.verification.agreement}
                      for mode, report in reports.items()}}


def table(rows: list[dict]) -> str:
    header = ("run", "stage", "test digits", "Keras error", "int8 error", "int8 - Keras", "agreement",
              *(f"{mode} bytes" for mode in MODES))
    return "\n".join(markdown.table(header, map(_cells, rows)))


def _cells(row: dict) -> tuple:
    int8 = row["modes"]["int8"]
    return (row["run"], row["stage"], f"{row['digits']:,}", f"{100 * row['keras_error']:.2f}%",
            f"{100 * int8['tflite_error']:.2f}%",
            f"{100 * (int8['tflite_error'] - row['keras_error']):+.2f} pp",
            f"{100 * int8['agreement']:.2f}%", *(f"{row['modes'][m]['bytes']:,}" for m in MODES))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs/bench"))
    parser.add_argument("--out", type=Path, default=Path("runs/bench/conversion"))
    parser.add_argument("--calibration", type=int, default=500)
    args = parser.parse_args()
    rows = [measure(folder, args.out, args.calibration) for folder in finished_runs(args.runs)]
    args.out.mkdir(parents=True, exist_ok=True)
    runs.write_json(args.out / "conversion.json", rows)
    print(table(rows))


if __name__ == "__main__":
    main()
