"""MNIST's normalization of one digit: fit into a 20x20 box keeping the aspect ratio
(anti-aliased), then put the centre of mass at the centre of a 28x28 field."""
from __future__ import annotations

import numpy as np
from PIL import Image

SIDE = 28
BOX = 20
CENTRE = 14  # MNIST's centres of mass sit on pixel (14, 14), a half pixel below-right of the middle


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """(y, x) in pixel indices."""
    total = float(image.sum())
    ys, xs = np.indices(image.shape)
    return float((ys * image).sum() / total), float((xs * image).sum() / total)


def deskew(ink: np.ndarray) -> np.ndarray:
    """Shear rows so the principal axis is vertical (second moments: x' = x - a (y - cy))."""
    cy, cx = centre_of_mass(ink)
    ys, xs = np.indices(ink.shape)
    mu02 = float((ink * (ys - cy) ** 2).sum())
    mu11 = float((ink * (ys - cy) * (xs - cx)).sum())
    if mu02 < 1e-6:
        return ink
    slant = mu11 / mu02
    margin = int(np.ceil(abs(slant) * ink.shape[0] / 2))
    padded = np.pad(ink, ((0, 0), (margin, margin)))
    # PIL's affine maps output (x, y) to input (a x + b y + c, ...): sample at x + slant (y - cy).
    coefficients = (1.0, slant, -slant * cy, 0.0, 1.0, 0.0)
    sheared = Image.fromarray(padded).transform(padded.shape[::-1], Image.Transform.AFFINE,
                                                coefficients, resample=Image.Resampling.BILINEAR)
    return _crop(np.asarray(sheared))


def _crop(ink: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(ink.any(axis=1))[0], np.nonzero(ink.any(axis=0))[0]
    return ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def fit_box(ink: np.ndarray) -> np.ndarray:
    """Scale the longer side to 20 pixels with an anti-aliasing filter."""
    height, width = ink.shape
    scale = BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray(ink.astype(np.float32)).resize(size, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized), 0.0, None)


def normalize(ink: np.ndarray, deskew_digit: bool = False) -> np.ndarray:
    """A digit's ink (float, background 0) -> uint8 (28, 28), ink 255 on 0 like MNIST."""
    ink = _crop(ink)
    if deskew_digit:
        ink = deskew(ink)
    digit = fit_box(ink)
    digit /= max(float(digit.max()), 1e-6)
    cy, cx = centre_of_mass(digit)
    top, left = round(CENTRE - cy), round(CENTRE - cx)
    # Paste on a canvas with a margin so a lopsided digit shifted off the field is clipped.
    canvas = np.zeros((3 * SIDE, 3 * SIDE), dtype=np.float32)
    canvas[SIDE + top:SIDE + top + digit.shape[0], SIDE + left:SIDE + left + digit.shape[1]] = digit
    return np.round(255.0 * canvas[SIDE:2 * SIDE, SIDE:2 * SIDE]).astype(np.uint8)
