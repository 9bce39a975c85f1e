"""Read generated 5-digit strings with the int8 LeNet-5 and measure LeNet-5's error vs rejection.

    python benchmarks/reading.py [--strings 1000] [--model runs/bench/firmware/lenet5-int8.tflite]
                                 [--run runs/bench/lenet5]

Prints Markdown tables and writes runs/bench/reading.json. Goal: at least 97% of strings
read entirely right.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from lenet_edge.data.mnist import load_mnist
from lenet_edge.read.reader import read_gray, tflite_classifier
from lenet_edge.read.rejection import ERROR_TARGETS, rejection_curve, rejection_for_error
from lenet_edge.read.strings import generate
from lenet_edge.train.evaluate import evaluate

LENGTH = 5


def read_strings(model: Path, count: int) -> dict:
    images, labels = load_mnist("test")
    classify = tflite_classifier(model)
    strings = digits = segmented = 0
    start = time.perf_counter()
    for seed in range(count):
        gray, text = generate(images, labels, LENGTH, seed)
        got = read_gray(gray, classify, reject_threshold=0.0).text
        strings += got == text
        if len(got) == LENGTH:  # digit accuracy is only defined when the count came out right
            segmented += 1
            digits += sum(a == b for a, b in zip(got, text))
    seconds = time.perf_counter() - start
    return {"model": str(model), "strings": count, "strings_right": strings / count,
            "segmented_into_5": segmented / count, "digits_right": digits / (LENGTH * count),
            "digits_per_second": LENGTH * count / seconds}


def rejection(run: Path) -> dict:
    result = evaluate(run)
    return {"run": str(run), "error": result.error,
            "curve": [vars(p) for p in rejection_curve(result.outputs, result.labels)],
            "rejection_for_error": {str(t): rejection_for_error(result.outputs, result.labels, t)
                                    for t in ERROR_TARGETS}}


def print_tables(strings: dict, curve: dict) -> None:
    print(f"| model | strings | strings read entirely right | segmented into 5 | digits right | digits/s |")
    print("|---|---|---|---|---|---|")
    print(f"| {strings['model']} | {strings['strings']} | {100 * strings['strings_right']:.1f}% | "
          f"{100 * strings['segmented_into_5']:.1f}% | {100 * strings['digits_right']:.2f}% | "
          f"{strings['digits_per_second']:.0f} |")
    print(f"\n{curve['run']} on MNIST test: error {100 * curve['error']:.2f}%\n")
    print("| rejection | accepted | error among accepted |\n|---|---|---|")
    for point in curve["curve"]:
        print(f"| {100 * point['rejection']:.0f}% | {point['accepted']} | {100 * point['error']:.2f}% |")
    print("\n| error target | rejection needed |\n|---|---|")
    for target, rate in curve["rejection_for_error"].items():
        print(f"| {100 * float(target):g}% | {100 * rate:.2f}% |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strings", type=int, default=1000)
    parser.add_argument("--model", type=Path, default=Path("runs/bench/firmware/lenet5-int8.tflite"))
    parser.add_argument("--run", type=Path, default=Path("runs/bench/lenet5"))
    parser.add_argument("--out", type=Path, default=Path("runs/bench/reading.json"))
    args = parser.parse_args()
    report = {"strings": read_strings(args.model, args.strings), "rejection": rejection(args.run)}
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print_tables(report["strings"], report["rejection"])


if __name__ == "__main__":
    main()
