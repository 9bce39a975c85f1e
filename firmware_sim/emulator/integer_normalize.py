"""The board's digit normalization in integer arithmetic: the numpy twin of runtime/normalize.c.

    field = normalize_digit(bitmap, ink_dark=False)   # uint8 (28, 28), bit-exact with the C
    x = normalized_inputs(graph, digits)              # int8 model inputs, as the board makes them

A raw segmented digit is a uint8 gray bitmap of at most MAX_SIDE x MAX_SIDE, ink bright on a
background of exactly 0 (or, with ink_dark, dark on 255: the value is then 255 - pixel). It
becomes MNIST's 28x28 field as the host's float normalization (`lenet-edge read`) makes it, but
with integers only, each rounding written down:

1. the bounding box of the nonzero pixels;
2. area-weighted (box filter) resampling of the box to oh x ow: the longer side BOX, the other
   round(BOX * short / long) (halves up), at least 1. Along an axis of n source and m output
   pixels, output pixel k covers source [k n / m, (k + 1) n / m); measured in 1/m of a source
   pixel every overlap is an integer, so each output is an exact sum of pixel x row weight x
   column weight (at most 255 * 64 * 64);
3. contrast, as MNIST divides by the maximum: value = (sum * 255 + max / 2) // max, so the
   brightest pixel is 255 (floor division of non-negative integers: halves round up);
4. the centre of mass (integer moments) rounded halves up to a pixel, placed on (CENTRE, CENTRE):
   the box's top-left corner goes to CENTRE - round(cy), CENTRE - round(cx); what falls outside
   the field is clipped;
5. the model's input: the field padded with background to the model's side (32 for LeNet-5), each
   value through a 256-entry int8 table = the model's input convention (its interface) and the
   model's input quantization, computed once here. So a board-normalized field gives exactly the
   int8 input the emulator's dataset path gives the same uint8 field.
"""
from dataclasses import dataclass

import numpy as np

from firmware_sim.emulator.arrays import model_input
from firmware_sim.emulator.interface import read_interface
from firmware_sim.emulator.ir import Graph
from firmware_sim.errors import InputError

MAX_SIDE = 64  # the C harness's bitmap buffer is MAX_SIDE * MAX_SIDE bytes
BOX = 20
FIELD = 28
CENTRE = 14  # MNIST's centre of mass, as in the host's float normalization


@dataclass(frozen=True)
class RawDigit:
    """A segmented digit as the board receives it."""

    bitmap: np.ndarray  # uint8 (height, width)
    ink_dark: bool = False


def check_digit(digit: RawDigit, index: int = 0) -> None:
    """InputError naming the digit unless it is a non-empty uint8 bitmap of at most MAX_SIDE."""
    bitmap = digit.bitmap
    if not isinstance(bitmap, np.ndarray) or bitmap.dtype != np.uint8 or bitmap.ndim != 2:
        shape = getattr(bitmap, "shape", None)
        raise InputError(f"digit {index}: expected a 2-D uint8 bitmap, got "
                         f"{getattr(bitmap, 'dtype', type(bitmap).__name__)} {shape}")
    height, width = bitmap.shape
    if not (1 <= height <= MAX_SIDE and 1 <= width <= MAX_SIDE):
        raise InputError(f"digit {index}: bitmap {height}x{width} is empty or larger than "
                         f"{MAX_SIDE}x{MAX_SIDE}")
    if not ink_of(digit).any():
        raise InputError(f"digit {index}: the {height}x{width} bitmap has no ink (every pixel is "
                         f"{'255' if digit.ink_dark else '0'})")


def normalize_digit(digit: RawDigit) -> np.ndarray:
    """uint8 (FIELD, FIELD), ink 255 on 0: steps 1-4 of the module docstring."""
    check_digit(digit)
    ink = _crop(ink_of(digit))
    fitted = _stretch(_resample(ink))
    top, left = (CENTRE - c for c in _centre(fitted))
    field = np.zeros((FIELD, FIELD), np.uint8)
    rows, cols = _clip(top, fitted.shape[0]), _clip(left, fitted.shape[1])
    field[rows[0]:rows[1], cols[0]:cols[1]] = fitted[rows[0] - top:rows[1] - top,
                                                     cols[0] - left:cols[1] - left]
    return field


def ink_of(digit: RawDigit) -> np.ndarray:
    """The bitmap with ink bright on 0, whatever its polarity."""
    return digit.bitmap ^ np.uint8(255) if digit.ink_dark else digit.bitmap


def _crop(ink: np.ndarray) -> np.ndarray:
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def fitted_size(height: int, width: int) -> tuple[int, int]:
    """The box's size in the BOX x BOX square: round(BOX * side / longest), halves up, >= 1."""
    longest = max(height, width)
    return tuple(max(1, (2 * BOX * side + longest) // (2 * longest)) for side in (height, width))


def box_weights(n: int, m: int) -> np.ndarray:
    """(m, n) int64: the overlap of output pixel k, [k n, (k + 1) n), with source pixel p,
    [p m, (p + 1) m), both in 1/m of a source pixel. Each row sums to n, each column to m."""
    k, p = np.arange(m)[:, None], np.arange(n)[None, :]
    return np.clip(np.minimum((k + 1) * n, (p + 1) * m) - np.maximum(k * n, p * m), 0, None)


def _resample(ink: np.ndarray) -> np.ndarray:
    """Exact integer area sums (oh, ow), each weighted by n_y * n_x."""
    (height, width), (oh, ow) = ink.shape, fitted_size(*ink.shape)
    rows = box_weights(height, oh) @ ink.astype(np.int64)  # int64 matmul: exact, no BLAS
    return rows @ box_weights(width, ow).T


def _stretch(sums: np.ndarray) -> np.ndarray:
    peak = int(sums.max())
    return ((sums * 255 + peak // 2) // peak).astype(np.uint8)


def _centre(fitted: np.ndarray) -> tuple[int, int]:
    """The centre of mass (row, column), each rounded halves up."""
    values = fitted.astype(np.int64)
    mass = int(values.sum())
    ys, xs = np.indices(fitted.shape)
    return tuple((2 * int((axis * values).sum()) + mass) // (2 * mass) for axis in (ys, xs))


def _clip(start: int, length: int) -> tuple[int, int]:
    """The rows (or columns) of the field that a run of `length` starting at `start` covers."""
    return max(start, 0), min(start + length, FIELD)


def input_table(graph: Graph) -> np.ndarray:
    """int8 (256,): field value -> the model's input, by the model's own input convention (its
    interface: an MNIST model, 28x28, or 32x32 padded with background) and input quantization."""
    if graph.tensors[graph.inputs[0]].dtype != "int8":
        raise InputError("normalization on the board needs a model with an int8 input; this one "
                         f"takes {graph.tensors[graph.inputs[0]].dtype}")
    interface = read_interface(graph)
    interface.check_dataset("mnist")
    fields = np.repeat(np.arange(256, dtype=np.uint8), FIELD * FIELD).reshape(256, FIELD, FIELD)
    x = model_input(graph, interface.prepare(fields))
    return np.ascontiguousarray(x[:, x.shape[1] // 2, x.shape[2] // 2, 0])


def model_side(graph: Graph) -> int:
    return graph.tensors[graph.inputs[0]].shape[1]


def field_inputs(graph: Graph, fields: np.ndarray) -> np.ndarray:
    """uint8 fields (N, 28, 28) -> int8 model inputs (N, S, S, 1): the board's step 5."""
    pad = (model_side(graph) - FIELD) // 2
    padded = np.pad(fields, ((0, 0), (pad, pad), (pad, pad)))  # 0 is background
    return input_table(graph)[padded][..., np.newaxis]


def normalized_inputs(graph: Graph, digits) -> np.ndarray:
    """The board's model inputs for raw digits: normalize_digit, then field_inputs."""
    for index, digit in enumerate(digits):
        check_digit(digit, index)
    return field_inputs(graph, np.stack([normalize_digit(d) for d in digits]))
