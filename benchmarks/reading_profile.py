"""Where the reader's time goes: cProfile over reading generated strings with an int8 recognizer.

    python benchmarks/reading_profile.py --model runs/reading/lenet5-reader-int8.tflite [--strings 100] [--set mnist] [--top 25]

Reads the strings twice, plainly and then under cProfile; prints strings/s on the wall clock and
per CPU second for each (the machine's cores are shared, so both, with the load average), then the
functions by cumulative time. The strings are generated first; the recognizer is prepared and
run once on the first string before the timing.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time
from pathlib import Path

from lenet_edge.data.mnist import load_mnist
from lenet_edge.data.usps import load_usps, mnist_like
from lenet_edge.read.image import ReadError
from lenet_edge.read.reader import read_gray, tflite_classifier
from lenet_edge.read.string_sets import STRING_SETS, string_set


def read_all(grays: list, classify) -> None:
    for gray in grays:
        try:
            read_gray(gray, classify, reject_threshold=0.0)
        except ReadError:  # refused strings cost their reading all the same
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--strings", type=int, default=100)
    parser.add_argument("--set", default="mnist", choices=[s.name for s in STRING_SETS])
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    chosen = string_set(args.set)
    images, labels = load_mnist("test") if chosen.source == "mnist" else load_usps("test")
    digits = (images, labels) if chosen.source == "mnist" else (mnist_like(images), labels)
    grays = [chosen.string(*digits, seed)[0] for seed in range(args.strings)]
    classify = tflite_classifier(args.model)
    read_all(grays[:1], classify)
    profile = cProfile.Profile()
    for name, run in (("plain", read_all), ("under cProfile", lambda *a: profile.runcall(read_all, *a))):
        wall, cpu = time.perf_counter(), time.process_time()
        run(grays, classify)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"{args.strings} {args.set} strings, {name}: {wall:.2f} s wall, {cpu:.2f} CPU s; "
              f"{args.strings / wall:.1f} strings/s, {args.strings / cpu:.1f} per CPU s; "
              f"load average {os.getloadavg()[0]:.1f}")
    pstats.Stats(profile).sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
