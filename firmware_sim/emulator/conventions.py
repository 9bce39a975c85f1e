"""Each model's input convention: a dataset's raw images -> the float32 network input.

    CONVENTIONS["lenet5_32"](mnist_uint8)   # (N, 28, 28) uint8 -> (N, 32, 32, 1) float32
    convention_for(graph, "mnist")          # the convention a model's input shape implies

The numbers (28x28 vs 32x32 padding, -0.1/1.175 scaling, USPS 16x16 in [-1, 1] padded to 20x20)
are defined here once; the toolkit's training data (lenet-edge's data.transforms) re-exports them.
"""
from typing import Callable

import numpy as np

from firmware_sim.emulator.ir import Graph
from firmware_sim.errors import InputError

# LeCun et al. 1998 (LeNet-5): "the values of the input pixels are normalized so that the
# background level (white) corresponds to a value of -0.1 and the foreground (black) corresponds
# to 1.175. This makes the mean input roughly 0, and the variance roughly 1."
MNIST_BACKGROUND = -0.1
MNIST_INK = 1.175
USPS_BACKGROUND = -1.0


def _check_batch(images: np.ndarray, side: int, dtype) -> None:
    if images.ndim != 3 or images.shape[1:] != (side, side) or images.dtype != dtype:
        raise ValueError(f"expected {np.dtype(dtype)} images of shape (N, {side}, {side}), "
                         f"got {images.dtype} {images.shape}")


def _mnist_scale(images: np.ndarray) -> np.ndarray:
    """Map uint8 0..255 (background 0, ink 255) linearly onto -0.1..1.175."""
    _check_batch(images, 28, np.uint8)
    scale = np.float32((MNIST_INK - MNIST_BACKGROUND) / 255.0)
    return images.astype(np.float32) * scale + np.float32(MNIST_BACKGROUND)


def mnist_28(images: np.ndarray) -> np.ndarray:
    """MNIST uint8 (N, 28, 28) -> float32 (N, 28, 28, 1) in [-0.1, 1.175], for LeNet-1 and LeNet-4."""
    return _mnist_scale(images)[..., np.newaxis]


def lenet5_32(images: np.ndarray) -> np.ndarray:
    """MNIST uint8 (N, 28, 28) -> float32 (N, 32, 32, 1): LeNet-5's 32x32 input, digit centred.

    LeCun 1998 pads the 28x28 digit to 32x32 so that stroke end-points and corners can reach
    the centre of the receptive fields of the highest-level feature detectors.
    """
    padded = np.pad(_mnist_scale(images), ((0, 0), (2, 2), (2, 2)), constant_values=MNIST_BACKGROUND)
    return padded[..., np.newaxis]


def usps_20(images: np.ndarray) -> np.ndarray:
    """USPS float32 (N, 16, 16) in [-1, 1] -> float32 (N, 20, 20, 1), padded with background -1.

    The 1989 net's first layer applies 5x5 kernels at stride 2 to the 16x16 digit and gets 8x8
    maps, treating input beyond the border as background. Padding two background pixels each
    side gives that with a plain 'valid' convolution: (20 - 5) // 2 + 1 = 8.
    """
    _check_batch(images, 16, np.float32)
    return np.pad(images, ((0, 0), (2, 2), (2, 2)), constant_values=USPS_BACKGROUND)[..., np.newaxis]


CONVENTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "lenet5_32": lenet5_32,
    "mnist_28": mnist_28,
    "usps_20": usps_20,
}


# input height and width -> (convention, the dataset it prepares)
_CONVENTION_BY_SIDE = {32: ("lenet5_32", "mnist"), 28: ("mnist_28", "mnist"),
                       20: ("usps_20", "usps")}


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
