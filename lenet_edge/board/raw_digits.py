"""Raw digits for normalization on the board: MNIST test digits as a segmenter hands them over,
and the digits `lenet-edge read` cut out of an image (the .npz format is
firmware_sim.emulator.digit_files).

    digits = raw_test_digits(images)     # RawDigit list, deterministic
    save_segmented("d.npz", reading.inks)  # the digits `lenet-edge read` cut out

The board's normalization (firmware_sim.emulator.integer_normalize) is measured on these: it must undo the
cropping, scaling and polarity below, and lenet_edge/read/normalize.py (float) does the same.
"""
from pathlib import Path

import numpy as np
from PIL import Image

from firmware_sim.emulator.digit_files import save_raw_digits
from firmware_sim.emulator.integer_normalize import MAX_SIDE, RawDigit
from firmware_sim.errors import InputError
from lenet_edge.run import atomic_write

RAW_SEED = 1989
SCALES = (0.4, 2.8)  # raw digit size / MNIST's 20-pixel box
ASPECT_JITTER = 0.1  # each axis within +-10% of the digit's scale
DARK_EVERY = 4  # every fourth raw digit is dark ink on white


def raw_test_digits(images: np.ndarray, seed: int = RAW_SEED) -> list[RawDigit]:
    """MNIST digits as a segmenter would hand them over, deterministically: each cropped to its
    ink, resized (bilinear) by a factor drawn from SCALES (MNIST's 20-pixel box becomes 8-56
    pixels) with each axis within ASPECT_JITTER of it, given a 0-2 pixel blank margin, and
    every DARK_EVERY-th dark on white."""
    rng = np.random.default_rng(seed)
    scales = rng.uniform(*SCALES, len(images))
    jitter = rng.uniform(1 - ASPECT_JITTER, 1 + ASPECT_JITTER, (len(images), 2))
    margins = rng.integers(0, 3, (len(images), 4))
    digits = []
    for i, image in enumerate(images):
        rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
        ink = image[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        sides = [min(MAX_SIDE - 4, max(1, round(side * scales[i] * j)))
                 for side, j in zip(ink.shape, jitter[i])]
        resized = np.asarray(Image.fromarray(ink).resize(sides[::-1], Image.Resampling.BILINEAR))
        bitmap = np.pad(resized, margins[i].reshape(2, 2))
        dark = i % DARK_EVERY == DARK_EVERY - 1
        digits.append(RawDigit(bitmap ^ np.uint8(255) if dark else bitmap, dark))
    return digits


def raw_digit_of(ink: np.ndarray) -> RawDigit:
    """A segmented digit's ink (float, background 0, ink up to 1) as the board receives it:
    in bytes, cropped to its ink, shrunk by a box filter to fit MAX_SIDE if it is larger."""
    pixels = np.round(255.0 * np.clip(ink, 0.0, 1.0)).astype(np.uint8)
    rows, cols = np.flatnonzero(pixels.any(axis=1)), np.flatnonzero(pixels.any(axis=0))
    if len(rows) == 0:
        raise InputError("a segmented digit has no ink")
    pixels = pixels[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    scale = MAX_SIDE / max(pixels.shape)
    if scale < 1:
        size = [max(1, min(MAX_SIDE, round(side * scale))) for side in pixels.shape[::-1]]
        pixels = np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BOX))
    return RawDigit(pixels)


def save_segmented(path: Path, inks: list[np.ndarray]) -> None:
    """The digits a segmenter cut out (float inks) as raw digits in an .npz, written atomically."""
    if Path(path).suffix != ".npz":
        raise InputError(f"raw digits are written to an .npz file, got {str(path)!r}")
    digits = [raw_digit_of(ink) for ink in inks]
    atomic_write(path, lambda tmp: save_raw_digits(tmp, digits))
