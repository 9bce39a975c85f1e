"""Read the digit string of an image with a Keras run or an int8 .tflite."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np

from lenet_edge.errors import UsageError
from lenet_edge.read import lattice
from lenet_edge.read.image import load_gray
from lenet_edge.read.normalize import normalize
from lenet_edge.read.score import Prior, digit_probabilities, scores
from lenet_edge.read.segment import Box, Component, components, digit_ink

REJECTED = "?"

# uint8 (N, 28, 28) MNIST-like digits -> (N, 10) class probabilities, or (N, 11) with "not a digit"
Classifier = Callable[[np.ndarray], np.ndarray]


@dataclasses.dataclass
class DigitReading:
    digit: int
    confidence: float
    box: Box
    rejected: bool


@dataclasses.dataclass
class Reading:
    text: str
    digits: list[DigitReading]
    # each read digit's ink (float, background 0), as the segmentation cut it out
    inks: list[np.ndarray] = dataclasses.field(default_factory=list, repr=False)

    def as_dict(self) -> dict:
        return {"text": self.text, "digits": [dataclasses.asdict(d) for d in self.digits]}


def keras_classifier(folder: Path) -> Classifier:
    from lenet_edge import run as runs
    from lenet_edge.models import registry
    from lenet_edge.models.interface import model_interface

    spec = registry.spec(runs.read_config(folder).model)
    if spec.dataset != "mnist":
        raise UsageError(f"{folder}: reading needs an MNIST model; {spec.name} takes {spec.dataset} digits")
    model, interface = runs.load_model(folder), model_interface(spec)

    def classify(digits: np.ndarray) -> np.ndarray:
        scores = model.predict(interface.prepare(digits), batch_size=1024, verbose=0)
        # The MSE nets return tanh scores; a softmax turns them into comparable confidences.
        return interface.confidences(scores)
    return classify


def tflite_classifier(path: Path, convention: str | None = None) -> Classifier:
    import firmware_sim
    from firmware_sim.emulator.interface import read_interface

    graph = firmware_sim.load_model(path)
    interface = read_interface(graph, convention)  # InputError naming --convention if unknown
    if interface.convention.dataset != "mnist":
        side = interface.convention.side
        raise UsageError(f"{path}: reading needs an MNIST model (28x28 or 32x32 input), not "
                         f"{side}x{side}")
    output = graph.tensors[graph.outputs[0]].quant
    interpreter = firmware_sim.Interpreter(graph)  # prepared once for every call

    def classify(digits: np.ndarray) -> np.ndarray:
        y = interpreter.run(firmware_sim.quantize_input(graph, interface.prepare(digits)))
        scores = output.scale * (y.astype(np.float32) - output.zero_point)
        return interface.confidences(scores)  # probabilities as they are, else a softmax
    return classify


def load_classifier(model: Path, convention: str | None = None) -> Classifier:
    """A run folder (Keras) or an int8 .tflite file (`convention` overrides its input convention)."""
    model = Path(model)
    if model.is_dir():
        if convention is not None:
            raise UsageError("--convention is for a .tflite; a run folder's model has its own")
        return keras_classifier(model)
    if model.suffix == ".tflite":
        return tflite_classifier(model, convention)
    raise UsageError(f"{model}: --model takes an existing run folder or a .tflite file")


def cut_candidates(ink: np.ndarray, found: lattice.Lattice) -> tuple[list[Component], list[np.ndarray]]:
    """Every candidate digit of the lattice (one per edge) with its ink alone."""
    line = np.zeros(ink.shape, dtype=bool)
    line[found.ys, found.xs] = True
    candidates = [found.candidate(edge) for edge in found.edges]
    return candidates, [digit_ink(ink, c, line) for c in candidates]


def _classify_candidates(ink: np.ndarray, found: lattice.Lattice, classify: Classifier,
                         deskew: bool) -> tuple[list[Component], list[np.ndarray], np.ndarray]:
    """Every candidate digit of the lattice with its ink, classified in one batch."""
    candidates, inks = cut_candidates(ink, found)
    return candidates, inks, classify(np.stack([normalize(i, deskew) for i in inks]))


def read_gray(gray: np.ndarray, classify: Classifier, reject_threshold: float = 0.5,
              deskew: bool = False, digits: int | None = None, prior: Prior = Prior()) -> Reading:
    """Read a float grayscale image (0 black, 1 white, either polarity); `digits` fixes how
    many digits the string has."""
    if not 0.0 <= reject_threshold <= 1.0:
        raise UsageError(f"--reject must be between 0 and 1, got {reject_threshold}")
    if digits is not None and digits < 1:
        raise UsageError(f"--digits must be at least 1, got {digits}")
    ink, found, height = components(gray)
    graph = lattice.build(found, height)
    candidates, inks, probabilities = _classify_candidates(ink, graph, classify, deskew)
    path = lattice.best_path(scores(probabilities, candidates, graph, height, prior), graph.edges,
                             len(graph.left), digits)
    readings = [DigitReading(int(p.argmax()), float(p.max()), candidates[e].box, bool(p.max() < reject_threshold))
                for e, p in zip(path, digit_probabilities(probabilities[path]))]
    text = "".join(REJECTED if r.rejected else str(r.digit) for r in readings)
    return Reading(text, readings, [inks[e] for e in path])


def read_image(path: Path, model: Path | Classifier, reject_threshold: float = 0.5,
               deskew: bool = False, digits: int | None = None,
               convention: str | None = None) -> Reading:
    """Read the digits of an image file with a run folder, a .tflite, or a loaded classifier."""
    gray = load_gray(path)
    classify = model if callable(model) else load_classifier(model, convention)
    return read_gray(gray, classify, reject_threshold, deskew, digits)
