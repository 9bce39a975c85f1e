"""Read generated 5-digit strings of each test set with an int8 LeNet-5: the share read entirely
right, the share to reject for 1% string error, strings per second; and LeNet-5's error vs rejection.

    python benchmarks/reading.py [--strings 300] [--sets mnist usps ...]
                                 [--model runs/bench/reading/lenet5+distort-int8.tflite] [--run runs/bench/lenet5]
                                 [--peer another-int8.tflite]

The model is the distortion-trained LeNet-5 of the accuracy benchmark, converted to int8:

    lenet-edge convert runs/bench/lenet5+distort --int8 --out runs/bench/reading/lenet5+distort-int8.tflite

The sets (lenet_edge/read/string_sets.py): strings of MNIST test digits, of USPS test digits, of
digits rendered in the system's typefaces, and the MNIST and the rendered strings with one
variation each (stroke, height, slant, blur, noise, light, polarity).
Each string is read twice: choosing the digit count, and told it (`read --digits 5`). A string
is wrong by its count (segmentation) or, count right, by a digit; strings are rejected weakest
first by the margin of their weakest digit (`read --reject-string`), ties broken by the path's
score. The model's own error on the 10,000 MNIST test digits bounds string accuracy: (1 - error)^5 with perfect segmentation.
Prints Markdown tables and writes runs/bench/reading.json. Goals: 97% of MNIST strings entirely
right, 95% of USPS strings and of each variation's.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from firmware_sim.emulator.files import atomic_write
from lenet_edge.data.mnist import load_mnist
from lenet_edge.data.usps import load_usps, mnist_like
from lenet_edge.read.image import ReadError
from lenet_edge.read.reader import Classifier, read_gray, tflite_classifier
from lenet_edge import markdown
from lenet_edge.read.rejection import ERROR_TARGETS, rejection_curve, rejection_for_error, rejection_needed
from lenet_edge.read.string_sets import LENGTH, RENDERED, STRING_SETS, StringSet, rendered_digits, string_set
from lenet_edge.train.evaluate import evaluate

STRING_ERROR = 0.01  # the rejection column: how many strings go to a person for 1% wrong among the rest


def _ranks(keys: list[tuple]) -> np.ndarray:
    """Each key's rank in sorted order: a confidence that orders by the first item, then the next."""
    ranks = np.empty(len(keys))
    ranks[sorted(range(len(keys)), key=keys.__getitem__)] = np.arange(len(keys))
    return ranks


def _reading(classify: Classifier, gray: np.ndarray, digits: int | None) -> tuple[str, tuple, float, float]:
    """(text read, its confidence key, wall seconds, CPU seconds) of one string."""
    start, start_cpu = time.perf_counter(), time.process_time()
    try:
        reading = read_gray(gray, classify, reject_threshold=0.0, digits=digits)
        # an int8 softmax saturates (most margins are 0.992): the path's score breaks ties
        got, weakest = reading.text, (reading.weakest_margin, reading.score)
    except ReadError:  # no digit found, or no path with `digits` candidates: rejected
        got, weakest = "", (-np.inf, -np.inf)
    # reading only, not generating; CPU time too, since the machine's cores are shared
    return got, weakest, time.perf_counter() - start, time.process_time() - start_cpu


def read_strings(classifiers: list[Classifier], string_set: StringSet, digits_of: dict, count: int,
                 digits: int | None) -> list[dict]:
    """One row per classifier; each string is read by every classifier in turn, so that their
    speeds are measured under the same load."""
    readings = [[] for _ in classifiers]
    for seed in range(count):
        gray, text = string_set.string(*digits_of[string_set.source], seed)
        for found, classify in zip(readings, classifiers):
            found.append((text, *_reading(classify, gray, digits)))
    return [_row(found, string_set, digits) for found in readings]


def _row(found: list[tuple], string_set: StringSet, digits: int | None) -> dict:
    count = len(found)
    right = sum(got == text for text, got, *_ in found)
    counted = [(text, got) for text, got, *_ in found if len(got) == LENGTH]
    digits_wrong = sum(a != b for text, got in counted for a, b in zip(got, text))
    wrong = np.array([got != text for text, got, *_ in found])
    seconds, cpu = sum(f[3] for f in found), sum(f[4] for f in found)
    return {"set": string_set.name, "digits_given": digits, "strings": count, "strings_right": right / count,
            "count_wrong": (count - len(counted)) / count, "digit_wrong": (len(counted) - right) / count,
            "digit_error": digits_wrong / max(LENGTH * len(counted), 1),  # defined when the count is right
            "rejected_at_1%": rejection_needed(wrong, _ranks([f[2] for f in found]), STRING_ERROR),
            "strings_per_second": count / seconds, "strings_per_cpu_second": count / cpu}


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
    _print_reading(report["reading"])
    if "peer" in report:
        print(f"\npeer, the same strings read in turn: {report['peer']['model']}: "
              f"{100 * report['peer']['model_error']:.2f}% error on MNIST test\n")
        _print_reading(report["peer"]["reading"])
        print("\n".join(["", *markdown.table(
            ("set", "digit count", "strings/s, model / peer", "per CPU s, model / peer"),
            [(row["set"], "chosen" if row["digits_given"] is None else f"given ({row['digits_given']})",
              f"{row['strings_per_second'] / peer['strings_per_second']:.2f}",
              f"{row['strings_per_cpu_second'] / peer['strings_per_cpu_second']:.2f}")
             for row, peer in zip(report["reading"], report["peer"]["reading"])])]))
    _print_rejection(report["rejection"])


def _print_reading(rows: list[dict]) -> None:
    print("\n".join(markdown.table(
        ("set", "digit count", "strings", "read entirely right", "count wrong", "a digit wrong",
         "digit error", "rejected for 1% string error", "strings/s", "per CPU s"),
        [(row["set"], "chosen" if row["digits_given"] is None else f"given ({row['digits_given']})",
          row["strings"], f"{100 * row['strings_right']:.1f}%", f"{100 * row['count_wrong']:.1f}%",
          f"{100 * row['digit_wrong']:.1f}%", f"{100 * row['digit_error']:.2f}%",
          f"{100 * row['rejected_at_1%']:.1f}%", f"{row['strings_per_second']:.1f}",
          f"{row['strings_per_cpu_second']:.1f}")
         for row in rows])))


def _print_rejection(curve: dict) -> None:
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
    parser.add_argument("--strings", type=int, default=300)
    parser.add_argument("--sets", nargs="+", default=[s.name for s in STRING_SETS],
                        choices=[s.name for s in STRING_SETS])
    parser.add_argument("--model", type=Path, default=Path("runs/bench/reading/lenet5+distort-int8.tflite"))
    parser.add_argument("--run", type=Path, default=Path("runs/bench/lenet5"))
    parser.add_argument("--peer", type=Path, help="another .tflite reading the same strings in turn: "
                                                    "its accuracy, and the speed ratio measured in the same run")
    parser.add_argument("--out", type=Path, default=Path("runs/bench/reading.json"))
    args = parser.parse_args()
    mnist = load_mnist("test")
    usps_images, usps_labels = load_usps("test")
    digits_of = {"mnist": mnist, "usps": (mnist_like(usps_images), usps_labels), RENDERED: rendered_digits()}
    models = [args.model] + ([args.peer] if args.peer else [])
    classifiers = [tflite_classifier(m) for m in models]
    rows = [read_strings(classifiers, string_set(name), digits_of, args.strings, digits)
            for name in args.sets for digits in (None, LENGTH)]
    reports = [{"model": str(m), "model_error": model_error(c, *mnist), "reading": [r[k] for r in rows]}
               for k, (m, c) in enumerate(zip(models, classifiers))]
    report = {**reports[0], "rejection": rejection(args.run)}
    if args.peer:
        report["peer"] = reports[1]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(args.out, lambda tmp: tmp.write_text(json.dumps(report, indent=2) + "\n"))
    print_tables(report)


if __name__ == "__main__":
    main()
