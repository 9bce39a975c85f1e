"""Run an int8 model through the emulator on arrays (`lenet-edge simulate` runs test sets).

    simulate_arrays("lenet5.tflite", "x.npy", "y.npy")    # writes the int8 outputs
    model_input(graph, x)                                 # floats quantized for an int8 input
"""
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from firmware_sim.emulator.files import load_npy, save_npy
from firmware_sim.emulator.interpreter import Interpreter, quantize_input
from firmware_sim.emulator.ir import Graph
from firmware_sim.emulator.model_file import load_model
from firmware_sim.errors import ArgumentError, InputError


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
        raise ArgumentError(f"the model has {len(graph.outputs)} outputs; simulate writes one "
                            f"array")
    start = time.perf_counter()
    y = Interpreter(graph).run(model_input(graph, x))
    seconds = time.perf_counter() - start
    save_npy(outputs_npy, y)
    return ArraysResult(str(model_path), len(y), str(outputs_npy), y.shape, str(y.dtype), seconds)
