"""Each model's input convention, the LeCun 1998 training distortions, and dataset dispatch.

A convention turns a dataset's raw images into the float32 network input, with a trailing
channel axis. `CONVENTIONS` maps the names the model registry uses to these functions; they are
defined in firmware_sim.emulator.conventions (the emulator prepares test digits with them) and
re-exported here.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from firmware_sim.emulator.conventions import (  # noqa: F401 (re-exported)
    CONVENTIONS, MNIST_BACKGROUND, MNIST_INK,
    USPS_BACKGROUND, lenet5_32, mnist_28, usps_20)
from lenet_edge.data.mnist import load_mnist
from lenet_edge.data.usps import load_usps
from lenet_edge.errors import DataError

# Distortion ranges. LeCun 1998 combines translation, scaling, squeezing and horizontal shear;
# the small rotation is this toolkit's addition.
SCALE_RANGE = (0.9, 1.1)  # drawn independently for x and y: a scale plus a squeeze
SHEAR_RANGE = 0.3  # horizontal shear factor, +-
ROTATION_DEGREES = 8.0  # +-
SHIFT_PIXELS = 2.0  # +- in x and in y
_DISTORT_CHUNK = 8192  # images resampled at once; bounds the temporary arrays to ~100 MB


# ---- distortions ---------------------------------------------------------------------------

def _inverse_maps(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per image, the 2x2 inverse of rotation @ shear @ scale, and the (x, y) shift.

    All draws happen here, up front and in a fixed order, so the result depends only on
    the generator's state and not on how the batch is later split into chunks.
    """
    sx, sy = rng.uniform(*SCALE_RANGE, size=(2, n))
    shear = rng.uniform(-SHEAR_RANGE, SHEAR_RANGE, size=n)
    angle = np.deg2rad(rng.uniform(-ROTATION_DEGREES, ROTATION_DEGREES, size=n))
    shift = rng.uniform(-SHIFT_PIXELS, SHIFT_PIXELS, size=(n, 2))
    cos, sin, zero, one = np.cos(angle), np.sin(angle), np.zeros(n), np.ones(n)
    rotate = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)
    shear_x = np.stack([np.stack([one, shear], -1), np.stack([zero, one], -1)], -2)
    scale = np.stack([np.stack([sx, zero], -1), np.stack([zero, sy], -1)], -2)
    return np.linalg.inv(rotate @ shear_x @ scale).astype(np.float32), shift.astype(np.float32)


def _bilinear(padded: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Sample (n, h+2, w+2) zero-bordered images at float (n, k) coordinates of the padded grid.

    Clipping into the zero border makes every point outside the image read background.
    """
    n, hp, wp = padded.shape
    x, y = np.clip(x, 0, wp - 1), np.clip(y, 0, hp - 1)
    # Floors kept as float32 so the arithmetic below stays in float32 (int32 would promote it).
    x0, y0 = np.minimum(np.floor(x), wp - 2), np.minimum(np.floor(y), hp - 2)
    fx, fy = x - x0, y - y0
    index = (y0 * wp + x0).astype(np.int32) + (np.arange(n, dtype=np.int32) * (hp * wp))[:, None]
    flat = padded.reshape(-1)
    top = flat[index] * (1 - fx) + flat[index + 1] * fx
    bottom = flat[index + wp] * (1 - fx) + flat[index + wp + 1] * fx
    return top * (1 - fy) + bottom * fy


def _warp(images: np.ndarray, inverse: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Resample each image through its own affine map about the image centre."""
    n, h, w = images.shape
    centre = np.float32([(w - 1) / 2, (h - 1) / 2])
    grid_y, grid_x = np.mgrid[0:h, 0:w].astype(np.float32).reshape(2, 1, -1)
    # Output pixel p came from source point centre + inverse @ (p - centre - shift).
    dx = grid_x - centre[0] - shift[:, :1]
    dy = grid_y - centre[1] - shift[:, 1:]
    src_x = inverse[:, 0, :1] * dx + inverse[:, 0, 1:] * dy + centre[0]
    src_y = inverse[:, 1, :1] * dx + inverse[:, 1, 1:] * dy + centre[1]
    padded = np.pad(images.astype(np.float32), ((0, 0), (1, 1), (1, 1)))
    # +1: coordinates move into the padded grid.
    return _bilinear(padded, src_x + 1, src_y + 1).reshape(n, h, w)


def distort(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random affine distortions of uint8 digits (N, H, W), as used to train LeNet-5 in 1998.

    Per image: independent x and y scale factors in 0.9-1.1 (scaling and squeezing), a
    horizontal shear of up to +-0.3, a rotation of up to +-8 degrees and a shift of up to
    +-2 pixels, about the image centre, with bilinear resampling. Background is 0, as in MNIST.
    Deterministic for a given generator state.
    """
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"expected uint8 images of shape (N, H, W), got {images.dtype} {images.shape}")
    inverse, shift = _inverse_maps(len(images), rng)
    out = np.empty_like(images)
    for start in range(0, len(images), _DISTORT_CHUNK):
        part = slice(start, start + _DISTORT_CHUNK)
        warped = _warp(images[part], inverse[part], shift[part])
        out[part] = np.clip(np.rint(warped), 0, 255)
    return out


# ---- datasets ------------------------------------------------------------------------------

def load_dataset(name: str, split: str, data_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A dataset's raw images and uint8 labels: MNIST uint8 (N, 28, 28), USPS float32 (N, 16, 16)."""
    if name == "mnist":
        return load_mnist(split, data_dir)
    if name == "usps":
        return load_usps(split, data_dir)
    raise DataError(f"unknown dataset {name!r}: expected 'mnist' or 'usps'")
