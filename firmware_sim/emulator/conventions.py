"""Each model's input convention: a dataset's raw images -> the float32 network input.

    CONVENTIONS["lenet5_32"](mnist_uint8)   # (N, 28, 28) uint8 -> (N, 32, 32, 1) float32
    convention_for(graph, "mnist")          # the name of the model's convention (its interface)

The numbers (28x28 vs 32x32 padding, -0.1/1.175 scaling, USPS 16x16 in [-1, 1] padded to 20x20)
are defined here once; the toolkit's training data (lenet-edge's data.transforms) re-exports them.
"""
from dataclasses import dataclass

import numpy as np

from firmware_sim.emulator.ir import Graph

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


# the digits each dataset hands over: side, dtype, and the grey levels of background and ink
SOURCES = {"mnist": (28, np.uint8, 0.0, 255.0), "usps": (16, np.float32, -1.0, 1.0)}


@dataclass(frozen=True)
class Convention:
    """A dataset's digits -> the float32 network input (N, side, side, 1): the digit's grey
    levels mapped linearly so that background becomes `background` and full ink `ink`, then
    padded with background to `side`. Ink is bright when ink > background (the polarity).

    LeNet-5 (32x32): LeCun 1998 pads the 28x28 digit to 32x32 so that stroke end-points and
    corners can reach the centre of the receptive fields of the highest-level feature detectors.
    The 1989 net (20x20) applies 5x5 kernels at stride 2 to the 16x16 digit and gets 8x8 maps,
    treating input beyond the border as background: two background pixels each side give that
    with a plain 'valid' convolution, (20 - 5) // 2 + 1 = 8.
    """

    name: str
    dataset: str  # the digits it prepares: a key of SOURCES
    side: int
    background: float
    ink: float

    @property
    def padding(self) -> int:
        return (self.side - SOURCES[self.dataset][0]) // 2

    @property
    def ink_bright(self) -> bool:
        return self.ink > self.background

    def check(self) -> None:
        """ValueError unless the numbers describe a convention this module can apply."""
        if self.dataset not in SOURCES:
            raise ValueError(f"dataset {self.dataset!r} is not one of {', '.join(SOURCES)}")
        source = SOURCES[self.dataset][0]
        if self.side < source or (self.side - source) % 2:
            raise ValueError(f"a {self.side}x{self.side} input cannot hold {self.dataset}'s "
                             f"{source}x{source} digits padded evenly")
        if not (np.isfinite(self.background) and np.isfinite(self.ink)) or self.ink == self.background:
            raise ValueError(f"background {self.background} and ink {self.ink} must be distinct "
                             f"finite grey levels")

    def __call__(self, images: np.ndarray) -> np.ndarray:
        side, dtype, low, high = SOURCES[self.dataset]
        _check_batch(images, side, dtype)
        if (low, high) == (self.background, self.ink):
            x = images  # USPS's own levels: the values are used unchanged
        else:
            scale = np.float32((self.ink - self.background) / (high - low))
            x = (images.astype(np.float32) - np.float32(low)) * scale + np.float32(self.background)
        pad = self.padding
        return np.pad(x, ((0, 0), (pad, pad), (pad, pad)), constant_values=self.background)[..., np.newaxis]


# LeCun et al. 1998 (LeNet-5) for MNIST; USPS's 16x16 digits in [-1, 1] for the 1989 net
CONVENTIONS: dict[str, Convention] = {
    "lenet5_32": Convention("lenet5_32", "mnist", 32, MNIST_BACKGROUND, MNIST_INK),
    "mnist_28": Convention("mnist_28", "mnist", 28, MNIST_BACKGROUND, MNIST_INK),
    "usps_20": Convention("usps_20", "usps", 20, USPS_BACKGROUND, 1.0),
}
lenet5_32 = CONVENTIONS["lenet5_32"]  # MNIST uint8 (N, 28, 28) -> (N, 32, 32, 1), digit centred
mnist_28 = CONVENTIONS["mnist_28"]  # MNIST uint8 (N, 28, 28) -> (N, 28, 28, 1), LeNet-1 and -4
usps_20 = CONVENTIONS["usps_20"]  # USPS float32 (N, 16, 16) -> (N, 20, 20, 1), padded with -1

# input height and width -> the convention a model without an interface is taken to have
BY_SIDE = {c.side: name for name, c in CONVENTIONS.items()}


def convention_for(graph: Graph, dataset: str) -> str:
    """The name of the model's input convention (its interface); it must prepare `dataset`."""
    from firmware_sim.emulator.interface import read_interface  # interface imports this module

    interface = read_interface(graph)
    interface.check_dataset(dataset)
    return interface.convention.name
