"""Make a sample image for `lenet-edge read`: a string of MNIST test digits (lenet_edge.read.strings).

    python scripts/digit_string.py zip.png [--length 5] [--seed 0] [--data-dir DIR]

Writes the PNG and prints the string it shows. The same seed always makes the same image.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from lenet_edge.data.mnist import load_mnist
from lenet_edge.errors import LenetEdgeError
from lenet_edge.read.strings import generate, save_png


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the PNG to write")
    parser.add_argument("--length", type=int, default=5, help="digits in the string")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", type=Path, help="folder with mnist/ (default: as lenet-edge looks it up)")
    args = parser.parse_args()
    if args.length < 1:
        parser.error("--length must be at least 1")
    try:
        images, labels = load_mnist("test", args.data_dir)
    except LenetEdgeError as exc:
        raise SystemExit(f"error: {exc}")
    gray, text = generate(images, labels, args.length, args.seed)
    save_png(gray, args.out)
    print(f"{text} -> {args.out}")


if __name__ == "__main__":
    main()
