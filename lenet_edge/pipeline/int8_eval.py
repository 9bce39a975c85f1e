"""The final int8 model on the test set, run by the emulator (bit-exact with TFLM, so these are
the board's answers): its error, confusion matrix and error against rejection.

The int8 softmax gives most digits its top probability, 255/256, so rejection ranks digits by
the margin between their two largest logits, the softmax's int8 input, which the board has too.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from lenet_edge.read.rejection import (ERROR_TARGETS, REJECTION_RATES, margin, rejection_curve,
                                       rejection_for_error)
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
    # digits sharing the highest logit margin: rejection cannot rank them, so it removes them in
    # test-set order once it reaches them
    tied_at_top: int
    softmax_tied_at_top: int  # digits sharing the top softmax probability


def evaluate_int8(tflite: Path, dataset: str, limit: int | None, data_dir: Path | None) -> Int8Evaluation:
    probabilities, logits, labels = _outputs(tflite, dataset, limit, data_dir)
    predicted = probabilities.argmax(axis=1)
    matrix = confusion_matrix(labels, predicted)
    errors = int(len(labels) - np.trace(matrix))
    confidence = margin(logits)
    return Int8Evaluation(
        len(labels), errors, errors / len(labels), matrix.tolist(),
        [vars(p) for p in rejection_curve(probabilities, labels, REJECTION_RATES, confidence)],
        [vars(p) for p in rejection_curve(probabilities, labels, PLOT_RATES, confidence)],
        {str(t): rejection_for_error(probabilities, labels, t, confidence)
         for t in ERROR_TARGETS},
        _tied_at_top(confidence), _tied_at_top(probabilities.max(axis=1)))


def _tied_at_top(confidence: np.ndarray) -> int:
    return int(np.count_nonzero(confidence == confidence.max()))


def _outputs(tflite: Path, dataset: str, limit: int | None, data_dir: Path | None):
    """The emulator's dequantized outputs and logits (the softmax's input for a model whose
    interface says probabilities and that ends in SOFTMAX; the outputs themselves otherwise),
    and the labels. The model's interface prepares the test digits."""
    from firmware_sim.emulator.arrays import model_input
    from firmware_sim.emulator.interface import read_interface, scores_tensor
    from firmware_sim.emulator.interpreter import Interpreter
    from firmware_sim.emulator.model_file import load_model
    from lenet_edge.data.transforms import load_dataset

    graph = load_model(tflite)
    interface = read_interface(graph)
    interface.check_dataset(dataset)
    images, labels = load_dataset(dataset, "test", data_dir)
    images, labels = images[:limit], labels[:limit]
    both = dataclasses.replace(graph, outputs=(graph.outputs[0], scores_tensor(graph, interface)))
    outputs = Interpreter(both).run(model_input(graph, interface.prepare(images)))
    return (*(_dequantized(graph, t, q) for t, q in zip(both.outputs, outputs)),
            np.asarray(labels))


def _dequantized(graph, tensor: int, q: np.ndarray) -> np.ndarray:
    quant = graph.tensors[tensor].quant
    return quant.scale * (q.reshape(len(q), -1).astype(np.float32) - quant.zero_point)
