"""Read the digit string of an image with a Keras run or an int8 .tflite."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np

from lenet_edge.errors import UsageError
from lenet_edge.read import lattice
from lenet_edge.read.image import ReadError, load_gray, resize
from lenet_edge.read.normalize import normalize
from lenet_edge.read.rejection import margin
from lenet_edge.read.score import DIGITS, Prior, digit_probabilities, scores
from lenet_edge.read.segment import Box, Component, components, digit_ink, reading_scale

REJECTED = "?"
MAX_DIGITS = 20  # a zip code, an amount, an account number: a longer string is a page to crop
NOT_A_DIGIT = DIGITS  # the index of the 11th output of a recognizer trained on non-digit cuts

# uint8 (N, 28, 28) MNIST-like digits -> (N, 10) class probabilities, or (N, 11) with the
# probability that the candidate is not a digit at all last
Classifier = Callable[[np.ndarray], np.ndarray]


@dataclasses.dataclass
class DigitReading:
    digit: int
    confidence: float
    margin: float  # its probability minus the next class's: how far from a tie
    box: Box
    rejected: bool


@dataclasses.dataclass
class Reading:
    text: str
    digits: list[DigitReading]
    rejected: bool = False  # the whole string goes to a person: its weakest digit is doubtful
    score: float = 0.0  # the path's total in the lattice: log confidences plus the shape prior
    # each read digit's ink (float, background 0), as the segmentation cut it out
    inks: list[np.ndarray] = dataclasses.field(default_factory=list, repr=False)

    def as_dict(self) -> dict:
        return {"text": self.text, "rejected": self.rejected, "weakest_margin": self.weakest_margin, "score": self.score,
                "digits": [dataclasses.asdict(d) for d in self.digits]}

    @property
    def weakest_margin(self) -> float:
        return min(d.margin for d in self.digits)


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


def components_at_reading_scale(gray: np.ndarray) -> tuple[np.ndarray, list[Component], float, float]:
    """components() of `gray` resized to the reader's scale: (ink, components, height, factor)."""
    ink, found, height = components(gray)
    factor = reading_scale(height)
    if factor != 1.0:
        ink, found, height = components(resize(gray, factor))
    return ink, found, height, factor


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


def _check_flags(reject_threshold: float, digits: int | None, reject_string: float) -> None:
    for flag, value in (("--reject", reject_threshold), ("--reject-string", reject_string)):
        if not 0.0 <= value <= 1.0:
            raise UsageError(f"{flag} must be between 0 and 1, got {value}")
    if digits is not None and not 1 <= digits <= MAX_DIGITS:
        raise UsageError(f"--digits must be between 1 and {MAX_DIGITS}, got {digits}")


def _check_string(found: list[Component]) -> None:
    # Each digit is one component or two touching ones, or a 5 broken in two: more marks than
    # this are text or a page, refused before classifying thousands of candidates.
    if len(found) > 2 * MAX_DIGITS:
        raise ReadError(f"more than {MAX_DIGITS} digits: the image has {len(found)} separate marks; "
                        f"crop it to one string")


def _check_path(chosen: np.ndarray, boxes: list[Box]) -> None:
    if len(chosen) > MAX_DIGITS:
        raise ReadError(f"more than {MAX_DIGITS} digits: the image reads as {len(chosen)}; crop it to one string")
    if chosen.shape[1] > NOT_A_DIGIT:
        odd = [b for p, b in zip(chosen, boxes) if p.argmax() == NOT_A_DIGIT]
        if odd:
            raise ReadError(f"not a digit string: the recognizer says the mark at x={odd[0].left}, "
                            f"y={odd[0].top} ({len(odd)} of {len(chosen)}) is not a digit")


def read_gray(gray: np.ndarray, classify: Classifier, reject_threshold: float = 0.5,
              deskew: bool = False, digits: int | None = None, prior: Prior = Prior(),
              reject_string: float = 0.0) -> Reading:
    """Read a float grayscale image (0 black, 1 white, either polarity); `digits` fixes how
    many digits the string has; the string is rejected when a digit's margin is below
    `reject_string`."""
    _check_flags(reject_threshold, digits, reject_string)
    ink, found, height, factor = components_at_reading_scale(gray)
    _check_string(found)
    graph = lattice.build(found, height)
    candidates, inks, probabilities = _classify_candidates(ink, graph, classify, deskew)
    # An 11th "not a digit" output costs a candidate its path (score.py); one left on the chosen
    # path is a verdict on the whole string.
    edge_scores = scores(probabilities, candidates, graph, height, prior)
    path = lattice.best_path(edge_scores, graph.edges, len(graph.left), digits)
    chosen, boxes = probabilities[path], [candidates[e].box.scaled(1.0 / factor) for e in path]
    _check_path(chosen, boxes)
    digit = digit_probabilities(chosen)
    readings = [DigitReading(int(p.argmax()), float(p.max()), float(m), box, bool(p.max() < reject_threshold))
                for p, m, box in zip(digit, margin(digit), boxes)]
    text = "".join(REJECTED if r.rejected else str(r.digit) for r in readings)
    doubtful = min(r.margin for r in readings) < reject_string
    return Reading(text, readings, doubtful, float(edge_scores[path].sum()), [inks[e] for e in path])


def read_image(path: Path, model: Path | Classifier, reject_threshold: float = 0.5,
               deskew: bool = False, digits: int | None = None,
               convention: str | None = None, reject_string: float = 0.0) -> Reading:
    """Read the digits of an image file with a run folder, a .tflite, or a loaded classifier."""
    gray = load_gray(path)
    classify = model if callable(model) else load_classifier(model, convention)
    return read_gray(gray, classify, reject_threshold, deskew, digits, reject_string=reject_string)
