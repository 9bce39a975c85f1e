"""The final int8 model on the test set, run by the emulator (bit-exact with TFLM, so these are
the board's answers): its error, confusion matrix and error against rejection."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from lenet_edge.read.rejection import ERROR_TARGETS, REJECTION_RATES, rejection_curve, rejection_for_error
from lenet_edge.train.evaluate import confusion_matrix

PLOT_RATES = tuple(np.round(np.linspace(0.0, 0.2, 41), 3))  # every 0.5 point up to 20%


@dataclasses.dataclass(frozen=True)
class Int8Evaluation:
    digits: int
    errors: int
    error: float
    confusion: list[list[int]]  # rows: true digit, columns: predicted digit
    rejection: list[dict]  # REJECTION_RATES: rejection, accepted, error among accepted
    rejection_curve: list[dict]  # PLOT_RATES, for the plot
    rejection_for_error: dict[str, float]  # error target -> least rejection reaching it
    # digits sharing the highest int8 confidence: rejection cannot rank them, so it removes them
    # in test-set order once it reaches them
    tied_at_top: int


def evaluate_int8(tflite: Path, dataset: str, limit: int | None, data_dir: Path | None) -> Int8Evaluation:
    probabilities, labels = _probabilities(tflite, dataset, limit, data_dir)
    predicted = probabilities.argmax(axis=1)
    matrix = confusion_matrix(labels, predicted)
    errors = int(len(labels) - np.trace(matrix))
    return Int8Evaluation(
        len(labels), errors, errors / len(labels), matrix.tolist(),
        [vars(p) for p in rejection_curve(probabilities, labels, REJECTION_RATES)],
        [vars(p) for p in rejection_curve(probabilities, labels, PLOT_RATES)],
        {str(t): rejection_for_error(probabilities, labels, t) for t in ERROR_TARGETS},
        int(np.count_nonzero(probabilities.max(axis=1) == probabilities.max())))


def _probabilities(tflite: Path, dataset: str, limit: int | None, data_dir: Path | None):
    """Dequantized int8 softmax outputs of the emulator, and the labels."""
    from firmware_sim.interpreter import Interpreter
    from firmware_sim.reader import load_model
    from firmware_sim.simulate import convention_for, model_input
    from lenet_edge.data.transforms import CONVENTIONS, load_dataset

    graph = load_model(tflite)
    convention = convention_for(graph, dataset)
    images, labels = load_dataset(dataset, "test", data_dir)
    images, labels = images[:limit], labels[:limit]
    q = Interpreter(graph).run(model_input(graph, CONVENTIONS[convention](images)))
    quant = graph.tensors[graph.outputs[0]].quant
    scores = quant.scale * (q.reshape(len(q), -1).astype(np.float32) - quant.zero_point)
    return scores, np.asarray(labels)
