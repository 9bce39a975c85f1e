"""Read generated 5-digit strings of each test set with an int8 LeNet-5: the share read entirely
right, the share to reject for 1% string error, strings per second; and LeNet-5's error vs rejection.

    python benchmarks/reading.py [--strings 300] [--sets mnist usps ...]
                                 [--model runs/bench/reading/lenet5+distort-int8.tflite] [--run runs/bench/lenet5]

The model is the distortion-trained LeNet-5 of the accuracy benchmark, converted to int8:

    lenet-edge convert runs/bench/lenet5+distort --int8 --out runs/bench/reading/lenet5+distort-int8.tflite

The sets (lenet_edge/read/string_sets.py): strings of MNIST test digits, of USPS test digits, and
the MNIST strings with one variation each (stroke, height, slant, blur, noise, light, polarity).
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
from lenet_edge.read.string_sets import LENGTH, STRING_SETS, StringSet, string_set
from lenet_edge.train.evaluate import evaluate

STRING_ERROR = 0.01  # the rejection column: how many strings go to a person for 1% wrong among the rest


def _ranks(keys: list[tuple]) -> np.ndarray:
    """Each key's rank in sorted order: a confidence that orders by the first item, then the next."""
    ranks = np.empty(len(keys))
    ranks[sorted(range(len(keys)), key=keys.__getitem__)] = np.arange(len(keys))
    return ranks


def read_strings(classify: Classifier, string_set: StringSet, digits_of: dict, count: int,
                 digits: int | None) -> dict:
    right = count_wrong = digits_seen = digits_wrong = 0
    wrong, confidence, seconds, cpu = [], [], 0.0, 0.0
    for seed in range(count):
        gray, text = string_set.string(*digits_of[string_set.source], seed)
        start, start_cpu = time.perf_counter(), time.process_time()
        try:
            reading = read_gray(gray, classify, reject_threshold=0.0, digits=digits)
            # an int8 softmax saturates (most margins are 0.992): the path's score breaks ties
            got, weakest = reading.text, (reading.weakest_margin, reading.score)
        except ReadError:  # no digit found, or no path with `digits` candidates: rejected
            got, weakest = "", (-np.inf, -np.inf)
        # reading only, not generating; CPU time too, since the machine's cores are shared
        seconds, cpu = seconds + time.perf_counter() - start, cpu + time.process_time() - start_cpu
        right += got == text
        wrong.append(got != text), confidence.append(weakest)
        if len(got) != LENGTH:
            count_wrong += 1
            continue
        digits_seen += LENGTH  # digit error is only defined when the count came out right
        digits_wrong += sum(a != b for a, b in zip(got, text))
    return {"set": string_set.name, "digits_given": digits, "strings": count, "strings_right": right / count,
            "count_wrong": count_wrong / count, "digit_wrong": (count - right - count_wrong) / count,
            "digit_error": digits_wrong / max(digits_seen, 1),
            "rejected_at_1%": rejection_needed(np.array(wrong), _ranks(confidence), STRING_ERROR),
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
    print("\n".join(markdown.table(
        ("set", "digit count", "strings", "read entirely right", "count wrong", "a digit wrong",
         "digit error", "rejected for 1% string error", "strings/s", "per CPU s"),
        [(row["set"], "chosen" if row["digits_given"] is None else f"given ({row['digits_given']})",
          row["strings"], f"{100 * row['strings_right']:.1f}%", f"{100 * row['count_wrong']:.1f}%",
          f"{100 * row['digit_wrong']:.1f}%", f"{100 * row['digit_error']:.2f}%",
          f"{100 * row['rejected_at_1%']:.1f}%", f"{row['strings_per_second']:.1f}",
          f"{row['strings_per_cpu_second']:.1f}")
         for row in report["reading"]])))
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
    parser.add_argument("--strings", type=int, default=300)
    parser.add_argument("--sets", nargs="+", default=[s.name for s in STRING_SETS],
                        choices=[s.name for s in STRING_SETS])
    parser.add_argument("--model", type=Path, default=Path("runs/bench/reading/lenet5+distort-int8.tflite"))
    parser.add_argument("--run", type=Path, default=Path("runs/bench/lenet5"))
    parser.add_argument("--out", type=Path, default=Path("runs/bench/reading.json"))
    args = parser.parse_args()
    mnist = load_mnist("test")
    usps_images, usps_labels = load_usps("test")
    digits_of = {"mnist": mnist, "usps": (mnist_like(usps_images), usps_labels)}
    classify = tflite_classifier(args.model)
    report = {"model": str(args.model), "model_error": model_error(classify, *mnist),
              "reading": [read_strings(classify, string_set(name), digits_of, args.strings, digits)
                          for name in args.sets for digits in (None, LENGTH)],
              "rejection": rejection(args.run)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(args.out, lambda tmp: tmp.write_text(json.dumps(report, indent=2) + "\n"))
    print_tables(report)


if __name__ == "__main__":
    main()
