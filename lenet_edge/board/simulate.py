"""Run an int8 model through the emulator on a test set: its error and the emulator's throughput.

    simulate_dataset("lenet5.tflite", "mnist")            # SimulationResult: error, images/s

The test images are prepared with the model's input convention (its interface: the .tflite's
metadata, or for a foreign file the convention its input size implies, 32x32: LeNet-5's padded
MNIST, 28x28: MNIST, 20x20: the 1989 net's padded USPS; `convention` overrides it) and quantized
with the model's input scale and zero point, as a firmware would after reading a camera or a touch pad. Runs on
arrays are firmware_sim.emulator.arrays.simulate_arrays.
"""
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from firmware_sim.emulator.arrays import model_input
from firmware_sim.emulator.interface import read_interface
from firmware_sim.emulator.interpreter import Interpreter
from firmware_sim.emulator.model_file import load_model
from lenet_edge.data.transforms import load_dataset
from lenet_edge.errors import UsageError

DATASETS = ("mnist", "usps")


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


def simulate_dataset(model_path: str | Path, dataset: str = "mnist", limit: int | None = None,
                     data_dir: str | Path | None = None,
                     convention: str | None = None) -> SimulationResult:
    """int8 test error and emulator throughput of a model on a dataset's test split."""
    if dataset not in DATASETS:
        raise UsageError(f"unknown dataset {dataset!r}: expected one of {', '.join(DATASETS)}")
    if limit is not None and limit < 1:
        raise UsageError(f"limit must be at least 1, got {limit}")
    graph = load_model(model_path)
    interface = read_interface(graph, convention)
    interface.check_dataset(dataset)
    images, labels = load_dataset(dataset, "test", data_dir)
    images, labels = images[:limit], labels[:limit]
    interpreter = Interpreter(graph)
    start = time.perf_counter()
    outputs = interpreter.run(model_input(graph, interface.prepare(images)))
    seconds = time.perf_counter() - start
    errors = int(np.count_nonzero(outputs.reshape(len(outputs), -1).argmax(axis=1) != labels))
    return SimulationResult(str(model_path), dataset, interface.convention.name, len(labels), errors,
                            errors / len(labels), seconds, len(labels) / seconds)
