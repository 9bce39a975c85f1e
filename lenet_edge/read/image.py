"""Load a PNG, JPEG or PGM as a grayscale float image, refusing files that cannot be a digit scan."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from lenet_edge.errors import LenetEdgeError

MIN_SIDE = 8  # smaller than this cannot hold a legible digit
MAX_SIDE = 8000  # larger is a photo to crop first, and would take minutes to label


class ReadError(LenetEdgeError):
    """An image that cannot be read, or in which no digit can be found."""


def check_size(height: int, width: int, name: str) -> None:
    if min(height, width) < MIN_SIDE or max(height, width) > MAX_SIDE:
        raise ReadError(f"{name}: image is {width}x{height} pixels; "
                        f"a side must be between {MIN_SIDE} and {MAX_SIDE}")


def load_gray(path: Path) -> np.ndarray:
    """float32 (H, W) in [0, 1], 0 black; ReadError naming the file otherwise."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            # Check the header's size before decoding, so a huge image is refused cheaply.
            check_size(image.height, image.width, str(path))
            gray = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        reason = "not a PNG, JPEG or PGM image" if isinstance(exc, UnidentifiedImageError) else exc
        raise ReadError(f"{path}: cannot read image: {reason}") from None
    return gray


def resize(gray: np.ndarray, factor: float) -> np.ndarray:
    """A grayscale image scaled by `factor`, anti-aliased (Lanczos, as normalization's)."""
    size = (max(MIN_SIDE, round(gray.shape[1] * factor)), max(MIN_SIDE, round(gray.shape[0] * factor)))
    return np.asarray(Image.fromarray(gray.astype(np.float32)).resize(size, Image.Resampling.LANCZOS))
