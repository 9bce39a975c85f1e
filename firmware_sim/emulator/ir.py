"""The graph IR firmware_sim runs: plain data read from a .tflite file, validated by the reader.

Shapes are the model's own, batch dimension included (usually 1); the interpreter replaces the
leading dimension of every activation by the number of images it runs at once.
"""
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class QuantParams:
    """Affine quantization, r = scale * (q - zero_point), per tensor or per channel."""

    scales: np.ndarray  # float32, one entry per tensor or per channel
    zero_points: np.ndarray  # int64, same length as scales
    quantized_dimension: int = 0

    @property
    def scale(self) -> float:
        """The per-tensor scale as TFLite Micro's TfLiteTensor.params keeps it (the first entry)."""
        return float(self.scales[0])

    @property
    def zero_point(self) -> int:
        return int(self.zero_points[0])

    @property
    def per_channel(self) -> bool:
        return len(self.scales) > 1


@dataclass(frozen=True)
class Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: str  # numpy dtype name: "int8", "int32", "float32", ...
    quant: QuantParams | None
    data: np.ndarray | None = None  # constant contents, already shaped; None for activations

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(self.dtype).itemsize


@dataclass(frozen=True)
class Op:
    opcode: str  # TFLite builtin name, e.g. "CONV_2D"
    inputs: tuple[int, ...]  # tensor indices; -1 marks an omitted optional input
    outputs: tuple[int, ...]
    options: dict = field(default_factory=dict)  # builtin options, snake_case keys


@dataclass(frozen=True)
class Graph:
    tensors: tuple[Tensor, ...]
    ops: tuple[Op, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    description: str = ""
    # the ModelInterface (emulator.interface) from the file's metadata; None when it has none
    interface: object = None
    file_bytes: int = 0  # the .tflite flatbuffer's size (what issue 13 holds flash against)
