"""Read generated 5-digit strings with an int8 LeNet-5 and measure LeNet-5's error vs rejection.

    python benchmarks/reading.py [--strings 1000] [--model runs/bench/reading/lenet5+distort-int8.tflite]
                                 [--run runs/bench/lenet5]

The model is the distortion-trained LeNet-5 of the accuracy benchmark, converted to int8:

    lenet-edge convert runs/bench/lenet5+distort --int8 --out runs/bench/reading/lenet5+distort-int8.tflite

Each string is read twice: choosing the digit count, and told it (`read --digits 5`). A string
is wrong by its count (segmentation) or, count right, by a digit. The model's own error on the
10,000 MNIST test digits bounds string accuracy: (1 - error)^5 with perfect segmentation.
Prints Markdown tables and writes runs/bench/reading.json. Goal: at least 97% of strings read
entirely right.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from lenet_edge.data.mnist import load_mnist
from lenet_edge.read.image import ReadError
from lenet_edge.read.reader import Classifier, read_gray, tflite_classifier
from lenet_edge import markdown
from lenet_edge.read.rejection import ERROR_TARGETS, rejection_curve, rejection_for_error
from lenet_edge.read.strings import generate
from lenet_edge.train.evaluate import evaluate

LENGTH = 5


def read_strings(classify: Classifier, images: np.ndarray, labels: np.ndarray, count: int,
                 digits: int | None) -> dict:
    right = count_wrong = digits_seen = digits_wrong = 0
    start = time.perf_counter()
    for seed in range(count):
        gray, text = generate(images, labels, LENGTH, seed)
        try:
            got = read_gray(gray, classify, reject_threshold=0.0, digits=digits).text
        except ReadError:  # no path through the lattice has `digits` candidates
            got = ""
        right += got == text
        if len(got) != LENGTH:
            count_wrong += 1
            continue
        digits_seen += LENGTH  # digit error is only defined when the count came out right
        digits_wrong += sum(a != b for a, b in zip(got, text))
    seconds = time.perf_counter() - start
    return {"digits_given": digits, "strings": count, "strings_right": right / count,
            "count_wrong": count_wrong / count, "digit_wrong": (count - right - count_wrong) / count,
            "digit_error": digits_wrong / max(digits_seen, 1), "strings_per_second": count / seconds}


def model_error(classify: Classifier, images: np.ndarray, labels: np.ndarray, batch: int = 1000) -> float:
    guesses = np.concatenate([classify(images[i:i + batch]).argmax(axis=1) for i in range(0, len(images), batch)])
    return float(np.mean(guesses != labels))


def rejection(run: Path) -> dict:
    result = evaluate(run)
    return {"run": str(run), "error": result.error,
            "curve": [vars(p) for p in rejection_curve(result.outputs, result.labels)],
            "rejection_for_error": {str(t): rejection_for_error(result.outputs, result.labels, t)
                                    for t in ERROR_TARGETS}}


def print_tables(report: dict) -> None:
    error = report["model_error"]
    print(f"{report['model']}: {100 * error:.2f}% error on MNIST test; "
          f"bound on strings {100 * (1 - error) ** LENGTH:.1f}%\n")
    print("\n".join(markdown.table(
        ("digit count", "strings", "read entirely right", "count wrong", "a digit wrong",
         "digit error", "strings/s"),
        [("chosen" if row["digits_given"] is None else f"given ({row['digits_given']})",
          row["strings"], f"{100 * row['strings_right']:.1f}%", f"{100 * row['count_wrong']:.1f}%",
          f"{100 * row['digit_wrong']:.1f}%", f"{100 * row['digit_error']:.2f}%",
          f"{row['strings_per_second']:.1f}") for row in report["reading"]])))
    curve = report["rejection"]
    print(f"\n{curve['run']} on MNIST test: error {100 * curve['error']:.2f}%\n")
    print("\n".join(markdown.table(
        ("rejection", "accepted", "error among accepted"),
        [(f"{100 * p['rejection']:.0f}%", p["accepted"], f"{100 * p['error']:.2f}%")
         for p in curve["curve"]])))
    print()
    print("\n".join(markdown.table(
        ("error target", "rejection needed"),
        [(f"{100 * float(target):g}%", f"{100 * rate:.2f}%")
         for target, rate in curve["rejection_for_error"].items()])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strings", type=int, default=1000)
    parser.add_argument("--model", type=Path, default=Path("runs/bench/reading/lenet5+distort-int8.tflite"))
    parser.add_argument("--run", type=Path, default=Path("runs/bench/lenet5"))
    parser.add_argument("--out", type=Path, default=Path("runs/bench/reading.json"))
    args = parser.parse_args()
    images, labels = load_mnist("test")
    classify = tflite_classifier(args.model)
    report = {"model": str(args.model), "model_error": model_error(classify, images, labels),
              "reading": [read_strings(classify, images, labels, args.strings, digits) for digits in (None, LENGTH)],
              "rejection": rejection(args.run)}
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print_tables(report)


if __name__ == "__main__":
    main()
