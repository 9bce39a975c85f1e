"""Test error and confusion matrix of a finished run."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from lenet_edge import run as runs
from lenet_edge.train.batches import load_split


@dataclasses.dataclass
class Evaluation:
    model: str
    digits: int
    errors: int
    confusion: list[list[int]]  # rows: true digit, columns: predicted class (an 11th: not a digit)
    # Kept for error-vs-rejection curves: softmax probabilities (tanh scores for MSE nets,
    # which rank confidence the same way) and the true labels.
    outputs: np.ndarray = dataclasses.field(repr=False, default=None)
    labels: np.ndarray = dataclasses.field(repr=False, default=None)

    @property
    def error(self) -> float:
        return self.errors / self.digits


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, classes: int = 10) -> np.ndarray:
    matrix = np.zeros((10, classes), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def evaluate(folder: Path, limit: int | None = None, data_dir: Path | None = None) -> Evaluation:
    config = runs.read_config(folder)
    model = runs.load_model(folder)
    _, x, labels = load_split(config.model, "test", limit, data_dir)
    outputs = model.predict(x, batch_size=1024, verbose=0)
    matrix = confusion_matrix(labels, np.argmax(outputs, axis=-1), outputs.shape[-1])
    return Evaluation(config.model, len(labels), int(len(labels) - np.trace(matrix)), matrix.tolist(),
                      outputs, labels)
