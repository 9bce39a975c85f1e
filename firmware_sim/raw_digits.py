"""Raw digits for normalization on the board: MNIST test digits as a segmenter hands them over.

    digits = raw_test_digits(images)     # RawDigit list, deterministic

The board's normalization (firmware_sim.normalize) is measured on these: it must undo the
cropping, scaling and polarity below, and lenet_edge/read/normalize.py (float) does the same.
"""
import numpy as np
from PIL import Image

from firmware_sim.normalize import MAX_SIDE, RawDigit

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
