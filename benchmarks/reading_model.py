"""Fine-tune a trained LeNet-5 on training digits resampled the way digits of a string are, then
convert it to int8 for benchmarks/reading.py.

    python benchmarks/reading_model.py [--run runs/bench/lenet5+distort] [--epochs 3]
        [--out runs/bench/reading/lenet5-resampled-int8.tflite]

Why: a digit read from a string was scaled (0.8-1.25) and sheared by the writer, resampled, then
normalized back to MNIST's 20x20 box; LeNet-5 trained on MNIST's own pixels makes twice as many
errors on such digits as on the same digits unaltered. Each epoch sees the 60,000 training digits
as they are and once more resampled with a fresh scale and slant (the string generator's
ranges) and normalized as `read` normalizes; the test digits stay unseen. The architecture is
LeNet-5's, unchanged. Writes the .tflite and a JSON card beside it.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import lenet_edge  # noqa: F401  (first: selects Keras 2 before TensorFlow loads)

import numpy as np

from convert.tflite import to_int8_tflite
from lenet_edge import run as runs
from lenet_edge.data.mnist import load_mnist
from lenet_edge.data.transforms import CONVENTIONS
from lenet_edge.read.normalize import normalize
from lenet_edge.read.reader import tflite_classifier
from lenet_edge.read.strings import StringStyle, resample
from lenet_edge.train.loop import compile_model


def resampled(images: np.ndarray, rng: np.random.Generator, style: StringStyle = StringStyle()) -> np.ndarray:
    """uint8 (N, 28, 28) digits scaled, sheared and normalized back, as a read string's digits."""
    return np.stack([normalize(resample(image.astype(np.float32) / 255.0, rng.uniform(*style.scale),
                                        rng.uniform(-style.slant, style.slant)))
                     for image in images])


def fine_tune(run: Path, epochs: int, learning_rate: float, seed: int = 0):
    images, labels = load_mnist("train")
    config = dataclasses.replace(runs.read_config(run), learning_rate=learning_rate, weight_decay=0.0)
    model = runs.load_model(run)
    compile_model(model, config)
    convention, rng = CONVENTIONS["lenet5_32"], np.random.default_rng(seed)
    for epoch in range(epochs):
        x = np.concatenate([images, resampled(images, rng)])
        y = np.concatenate([labels, labels])
        model.fit(convention(x), y, batch_size=config.batch_size, epochs=1, shuffle=True, verbose=2)
    return model, convention(images[:500])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=Path("runs/bench/lenet5+distort"))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--out", type=Path, default=Path("runs/bench/reading/lenet5-resampled-int8.tflite"))
    args = parser.parse_args()
    model, calibration = fine_tune(args.run, args.epochs, args.lr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(to_int8_tflite(model, calibration))
    test_images, test_labels = load_mnist("test")
    classify = tflite_classifier(args.out)
    guesses = np.concatenate([classify(test_images[i:i + 1000]).argmax(axis=1) for i in range(0, 10000, 1000)])
    card = {"run": str(args.run), "epochs": args.epochs, "learning_rate": args.lr,
            "int8_test_error": float(np.mean(guesses != test_labels))}
    args.out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"wrote {args.out}: int8 error {100 * card['int8_test_error']:.2f}% on the 10,000 MNIST test digits")


if __name__ == "__main__":
    main()
