"""The model's interface: what its input takes and what its output means, read once.

    interface = read_interface(graph)              # from the .tflite's metadata, or inferred
    x = interface.prepare(mnist_uint8)             # float32 input, by the model's own convention
    interface.confidences(scores)                  # dequantized outputs -> per-class confidences

`lenet-edge convert` writes the interface into the .tflite: a metadata entry named
METADATA_NAME whose buffer holds UTF-8 JSON (FORMAT_VERSION 1):

    {"version": 1,
     "input": {"convention": "lenet5_32", "dataset": "mnist", "height": 32, "width": 32,
               "padding": 2, "background": -0.1, "ink": 1.175, "polarity": "ink_bright"},
     "output": {"kind": "probabilities", "labels": ["0", "1", ..., "9"]}}

The reader validates it against the graph when it loads the file (a malformed one is one
ModelFileError) and sets Graph.interface. A foreign .tflite without it gets its interface
inferred here and only here: the input convention from the input's side (32: LeNet-5's padded
MNIST, 28: MNIST, 20: the 1989 net's padded USPS), the output kind from a final SOFTMAX op
(probabilities) or its absence (logits). `--convention NAME` overrides the input convention.
"""
import json
from dataclasses import dataclass, field, replace

import numpy as np

from firmware_sim.emulator.conventions import BY_SIDE, CONVENTIONS, SOURCES, Convention
from firmware_sim.emulator.ir import Graph
from firmware_sim.errors import InputError, ModelFileError

METADATA_NAME = "lenet_edge.interface"
FORMAT_VERSION = 1
# probabilities: a softmax's output; logits: scores a softmax would turn into probabilities;
# codes: LeNet-5's RBF distances or the MSE nets' tanh scores, compared by a softmax too
OUTPUT_KINDS = ("probabilities", "logits", "codes")
DIGIT_LABELS = tuple("0123456789")
NOT_A_DIGIT = "not a digit"  # the 11th label of a recognizer trained on the reader's cuts
POLARITIES = {True: "ink_bright", False: "ink_dark"}


@dataclass(frozen=True)
class ModelInterface:
    convention: Convention
    output: str  # one of OUTPUT_KINDS
    labels: tuple[str, ...]
    # "metadata", "inferred" (a foreign file) or "--convention"; not part of equality
    source: str = field(default="metadata", compare=False)

    def prepare(self, images: np.ndarray) -> np.ndarray:
        """The dataset's digits -> the model's float32 input (quantize with arrays.model_input)."""
        return self.convention(images)

    def check_dataset(self, dataset: str) -> None:
        """InputError unless the model reads `dataset`'s digits."""
        c = self.convention
        if dataset != c.dataset:
            raise InputError(f"a {c.side}x{c.side} model reads {c.dataset} digits ({c.name}), "
                             f"not dataset {dataset!r}")

    def confidences(self, scores: np.ndarray) -> np.ndarray:
        """(N, classes) dequantized outputs -> confidences summing to 1: probabilities as they
        are, logits and codes through a softmax."""
        if self.output == "probabilities":
            return scores
        exp = np.exp(scores - scores.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)

    def as_dict(self) -> dict:
        c = self.convention
        return {"version": FORMAT_VERSION,
                "input": {"convention": c.name, "dataset": c.dataset, "height": c.side,
                          "width": c.side, "padding": c.padding, "background": c.background,
                          "ink": c.ink, "polarity": POLARITIES[c.ink_bright]},
                "output": {"kind": self.output, "labels": list(self.labels)}}

    def to_json(self) -> bytes:
        """The metadata buffer's contents."""
        return json.dumps(self.as_dict(), sort_keys=True).encode()


def zoo_interface(convention: str, output: str, classes: int = 10) -> ModelInterface:
    """The interface of a model trained with a named convention, for `convert` to write."""
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown convention {convention!r}")
    if output not in OUTPUT_KINDS:
        raise ValueError(f"unknown output kind {output!r}")
    return ModelInterface(CONVENTIONS[convention], output, _labels(classes))


def read_interface(graph: Graph, convention: str | None = None) -> ModelInterface:
    """The model's interface: its metadata's, else inferred; `convention` (a name of
    CONVENTIONS) replaces the input convention, and must fit the model's input."""
    interface = graph.interface if graph.interface is not None else infer_interface(graph, convention)
    if convention is None or interface.source == "--convention":
        return interface
    return replace(interface, convention=_named(graph, convention), source="--convention")


def infer_interface(graph: Graph, convention: str | None = None) -> ModelInterface:
    """A foreign model's interface, from its input side and its last op."""
    shape = _input_shape(graph)
    side = shape[1] if len(shape) == 4 and shape[1] == shape[2] and shape[3] == 1 else None
    if convention is not None:
        chosen, source = _named(graph, convention), "--convention"
    elif side in BY_SIDE:
        chosen, source = CONVENTIONS[BY_SIDE[side]], "inferred"
    else:
        known = ", ".join(f"{s}x{s}" for s in BY_SIDE)
        raise InputError(f"model input shape {list(shape)} is not a digit image (expected "
                         f"[1, S, S, 1] with S one of {known}) and the model carries no "
                         f"{METADATA_NAME} metadata; pass --convention NAME with NAME one of "
                         f"{', '.join(CONVENTIONS)}")
    last = graph.ops[-1] if graph.ops else None
    ends_in_softmax = (last is not None and last.opcode == "SOFTMAX"
                       and last.outputs[0] == graph.outputs[0])
    return ModelInterface(chosen, "probabilities" if ends_in_softmax else "logits",
                          _labels(_classes(graph)), source)


def scores_tensor(graph: Graph, interface: ModelInterface) -> int:
    """The tensor whose margins rank confidence: a final softmax's input (its int8 top
    probabilities tie), else the output itself."""
    last = graph.ops[-1] if graph.ops else None
    if (interface.output == "probabilities" and last is not None and last.opcode == "SOFTMAX"
            and last.outputs[0] == graph.outputs[0]):
        return last.inputs[0]
    return graph.outputs[0]


def parse_metadata(data: bytes, graph: Graph) -> ModelInterface:
    """The METADATA_NAME buffer -> a ModelInterface that fits `graph`; ModelFileError otherwise."""
    try:
        return _parse(data, graph)
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        detail = " ".join(str(error).split())[:160]
        raise ModelFileError(f"metadata {METADATA_NAME!r} is not a valid model interface: "
                             f"{detail}") from error


def _parse(data: bytes, graph: Graph) -> ModelInterface:
    document = json.loads(bytes(data).decode("utf-8"))
    if not isinstance(document, dict) or document.get("version") != FORMAT_VERSION:
        raise ValueError(f"expected a JSON object with \"version\": {FORMAT_VERSION}")
    fields, output = document["input"], document["output"]
    if fields["height"] != fields["width"]:
        raise ValueError(f"input {fields['height']}x{fields['width']} is not square")
    convention = Convention(_string(fields["convention"], "convention"),
                            _string(fields["dataset"], "dataset"), _integer(fields["height"]),
                            _number(fields["background"]), _number(fields["ink"]))
    convention.check()
    shape = _input_shape(graph)
    if tuple(shape) != (1, convention.side, convention.side, 1):
        raise ValueError(f"input {convention.side}x{convention.side} but the model's input "
                         f"shape is {list(shape)}")
    if fields["padding"] != convention.padding:
        raise ValueError(f"padding {fields['padding']!r}: a {convention.side}x{convention.side} "
                         f"{convention.dataset} input has {convention.padding}")
    if fields["polarity"] != POLARITIES[convention.ink_bright]:
        raise ValueError(f"polarity {fields['polarity']!r} contradicts background "
                         f"{convention.background} and ink {convention.ink}")
    if output["kind"] not in OUTPUT_KINDS:
        raise ValueError(f"output kind {output['kind']!r} is not one of {', '.join(OUTPUT_KINDS)}")
    labels = output["labels"]
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise ValueError("labels must be a list of strings")
    if len(labels) != _classes(graph):
        raise ValueError(f"{len(labels)} labels for {_classes(graph)} outputs")
    return ModelInterface(convention, output["kind"], tuple(labels))


def _named(graph: Graph, name: str) -> Convention:
    if name not in CONVENTIONS:
        raise InputError(f"unknown convention {name!r}: expected one of {', '.join(CONVENTIONS)}")
    convention, shape = CONVENTIONS[name], _input_shape(graph)
    if tuple(shape) != (1, convention.side, convention.side, 1):
        raise InputError(f"convention {name} makes {convention.side}x{convention.side} inputs "
                         f"({convention.dataset}); the model's input shape is {list(shape)}")
    return convention


def _input_shape(graph: Graph) -> tuple[int, ...]:
    return graph.tensors[graph.inputs[0]].shape


def _classes(graph: Graph) -> int:
    return int(np.prod(graph.tensors[graph.outputs[0]].shape[1:], dtype=np.int64))


def _labels(classes: int) -> tuple[str, ...]:
    if classes in (10, 11):
        return DIGIT_LABELS + (NOT_A_DIGIT,) * (classes - 10)
    return tuple(map(str, range(classes)))


def _string(value, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    return value


def _integer(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"height must be an integer, got {value!r}")
    return value


def _number(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"grey levels must be numbers, got {value!r}")
    return float(value)

