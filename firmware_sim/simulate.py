"""Run an int8 model through the emulator: on a test set (error and throughput), or on raw arrays.

    simulate_dataset("lenet5.tflite", "mnist")            # SimulationResult: error, images/s
    simulate_arrays("lenet5.tflite", "x.npy", "y.npy")    # writes the int8 outputs

The test images are prepared with the convention the model's input shape implies (32x32: LeNet-5's
padded MNIST, 28x28: MNIST, 20x20: the 1989 net's padded USPS) and quantized with the model's
input scale and zero point, as a firmware would after reading a camera or a touch pad.
"""
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from firmware_sim.errors import InputError
from firmware_sim.interpreter import Interpreter, quantize_input
from firmware_sim.ir import Graph
from firmware_sim.reader import load_model
from lenet_edge.data.transforms import CONVENTIONS, load_dataset
from lenet_edge.errors import UsageError
from lenet_edge.run import atomic_write

DATASETS = ("mnist", "usps")
# input height and width -> (convention, the dataset it prepares)
_CONVENTION_BY_SIDE = {32: ("lenet5_32", "mnist"), 28: ("mnist_28", "mnist"),
                       20: ("usps_20", "usps")}


@dataclass(frozen=True)
class SimulationResult:
    model: str
    dataset: str
    convention: str
    images: int
    errors: int
    error: float
    seconds: float  # quantizing the inputs and running the emulator, not loading data
    images_per_second: float

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ArraysResult:
    model: str
    images: int
    output_path: str
    output_shape: tuple[int, ...]
    output_dtype: str
    seconds: float

    def as_dict(self) -> dict:
        return {**asdict(self), "output_shape": list(self.output_shape)}


def simulate_dataset(model_path: str | Path, dataset: str = "mnist", limit: int | None = None,
                     data_dir: str | Path | None = None) -> SimulationResult:
    """int8 test error and emulator throughput of a model on a dataset's test split."""
    if dataset not in DATASETS:
        raise UsageError(f"unknown dataset {dataset!r}: expected one of {', '.join(DATASETS)}")
    if limit is not None and limit < 1:
        raise UsageError(f"limit must be at least 1, got {limit}")
    graph = load_model(model_path)
    convention = convention_for(graph, dataset)
    images, labels = load_dataset(dataset, "test", data_dir)
    images, labels = images[:limit], labels[:limit]
    interpreter = Interpreter(graph)
    start = time.perf_counter()
    outputs = interpreter.run(model_input(graph, CONVENTIONS[convention](images)))
    seconds = time.perf_counter() - start
    errors = int(np.count_nonzero(outputs.reshape(len(outputs), -1).argmax(axis=1) != labels))
    return SimulationResult(str(model_path), dataset, convention, len(labels), errors,
                            errors / len(labels), seconds, len(labels) / seconds)


def convention_for(graph: Graph, dataset: str) -> str:
    """The input convention implied by the model's input shape; it must prepare `dataset`."""
    shape = graph.tensors[graph.inputs[0]].shape
    side = shape[1] if len(shape) == 4 and shape[1] == shape[2] and shape[3] == 1 else None
    if side not in _CONVENTION_BY_SIDE:
        known = ", ".join(f"{s}x{s}" for s in _CONVENTION_BY_SIDE)
        raise InputError(f"model input shape {list(shape)} is not a digit image "
                         f"(expected [1, S, S, 1] with S one of {known})")
    convention, prepares = _CONVENTION_BY_SIDE[side]
    if dataset != prepares:
        raise InputError(f"a {side}x{side} model reads {prepares} digits ({convention}), "
                         f"not dataset {dataset!r}")
    return convention


def model_input(graph: Graph, x: np.ndarray) -> np.ndarray:
    """Arrays as the model's input takes them: int8 as is, floats quantized for an int8 input."""
    dtype, floating = graph.tensors[graph.inputs[0]].dtype, np.issubdtype(x.dtype, np.floating)
    if dtype == "int8" and x.dtype == np.int8:
        return x
    if dtype == "int8" and floating:
        return quantize_input(graph, x)
    if dtype == "float32" and floating:
        return x.astype(np.float32, copy=False)
    raise InputError(f"the model's input is {dtype}; got {x.dtype} arrays")


def simulate_arrays(model_path: str | Path, inputs_npy: str | Path,
                    outputs_npy: str | Path) -> ArraysResult:
    """Run the arrays in `inputs_npy`; write the model's outputs to `outputs_npy` atomically."""
    graph = load_model(model_path)
    x = load_npy(inputs_npy)
    if len(graph.outputs) != 1:
        raise UsageError(f"the model has {len(graph.outputs)} outputs; simulate writes one array")
    start = time.perf_counter()
    y = Interpreter(graph).run(model_input(graph, x))
    seconds = time.perf_counter() - start
    save_npy(outputs_npy, y)
    return ArraysResult(str(model_path), len(y), str(outputs_npy), y.shape, str(y.dtype), seconds)


def load_npy(path: str | Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        detail = getattr(error, "strerror", None) or " ".join(str(error).split())[:120]
        raise InputError(f"cannot read {str(path)!r} as a .npy array ({detail})") from None


def save_npy(path: str | Path, array: np.ndarray) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as file:  # a file object: np.save would append .npy to a name
            np.save(file, array)
    try:
        atomic_write(Path(path), write)
    except OSError as error:
        raise InputError(f"cannot write {str(path)!r} ({error.strerror or error})") from None
