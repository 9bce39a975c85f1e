"""USPS zip-code digits in the text format of "The Elements of Statistical Learning".

`zip.train.gz` (7,291 digits) and `zip.test.gz` (2,007): one digit a line, the label then
256 grey values in [-1, 1], row by row. Parsed strictly (a bad line is a DataError naming
the file and the line) and checked against the canonical SHA-256. There is no reliable
public mirror, so missing files are an error explaining how to supply them.

Polarity: zip.info.txt does not say which end of [-1, 1] is ink. The data show it: over
half of all values are exactly -1 (the background) and strokes run up to +1. That already
is the LeNet 1989 convention (background -1, ink +1), so the values are used unchanged.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from scipy import ndimage

from lenet_edge.data.mnist import (candidate_dirs, file_stamp, find_dir, not_found_message, read_gzip,
                                   supply_hint, verify_sha256)
from lenet_edge.errors import DataError

USPS_FILES = {"train": "zip.train.gz", "test": "zip.test.gz"}

USPS_SHA256 = {
    "zip.train.gz": "66ebf231ab51f2cf6ac1a892d0f98ccffee1079d7a5db638c1f11f366046ca16",
    "zip.test.gz": "8dacc3c6e136af6c3488de9e5113a7daf140c8c2f1f0b61c54ee02f03f1a962f",
}

SIDE = 16
VALUES_PER_LINE = 1 + SIDE * SIDE  # the label, then the pixels


def _parse_line(path: Path, number: int, line: str) -> list[float]:
    fields = line.split()
    if len(fields) != VALUES_PER_LINE:
        raise DataError(f"{path} line {number}: {len(fields)} values, expected {VALUES_PER_LINE} "
                        f"(a label and {SIDE * SIDE} pixels)")
    try:
        return [float(field) for field in fields]
    except ValueError as e:
        raise DataError(f"{path} line {number}: {e}") from e


def _first_bad_row(ok: np.ndarray) -> int | None:
    bad = np.flatnonzero(~ok)
    return int(bad[0]) if bad.size else None


def _check_values(path: Path, rows: np.ndarray) -> None:
    """Labels must be whole numbers 0-9 and pixels within [-1, 1] (NaN fails both)."""
    labels = rows[:, 0]
    row = _first_bad_row((labels == np.round(labels)) & (labels >= 0) & (labels <= 9))
    if row is not None:
        raise DataError(f"{path} line {row + 1}: label {labels[row]:g} is not a digit 0-9")
    pixels = rows[:, 1:]
    row = _first_bad_row(((pixels >= -1) & (pixels <= 1)).all(axis=1))
    if row is not None:
        worst = pixels[row][~((pixels[row] >= -1) & (pixels[row] <= 1))][0]
        raise DataError(f"{path} line {row + 1}: grey value {worst:g} outside [-1, 1]")


def read_esl_digits(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """float32 images (N, 16, 16) in [-1, 1] and uint8 labels (N,) from one ESL zip.*.gz file."""
    path = Path(path)
    try:
        text = read_gzip(path).decode("ascii")
    except UnicodeDecodeError as e:
        raise DataError(f"{path} is not an ESL text file: {e}") from e
    # Every line counts, blank ones included, so that reported line numbers match an editor's.
    rows = np.array([_parse_line(path, n, line) for n, line in enumerate(text.splitlines(), 1)],
                    dtype=np.float64).reshape(-1, VALUES_PER_LINE)
    _check_values(path, rows)
    images = rows[:, 1:].astype(np.float32).reshape(-1, SIDE, SIDE)
    return images, rows[:, 0].astype(np.uint8)


@functools.lru_cache(maxsize=4)
def _parse_file(stamp: tuple) -> tuple[np.ndarray, np.ndarray]:
    path = stamp[0]
    images, labels = read_esl_digits(path)
    verify_sha256(path, USPS_SHA256[path.name])
    return images, labels


def usps_path(split: str, data_dir: str | Path | None = None) -> Path:
    """The file of a split, from --data-dir, $LENET_EDGE_DATA or the cache."""
    if split not in USPS_FILES:
        raise DataError(f"unknown USPS split {split!r}: expected 'train' or 'test'")
    name = USPS_FILES[split]
    dirs = candidate_dirs("usps", data_dir)
    folder = find_dir([name], dirs)
    if folder is None:
        hint = supply_hint("usps", "zip.train.gz and zip.test.gz (the ESL data sets)")
        raise DataError(f"{not_found_message('USPS', [name], dirs)}; USPS has no reliable download mirror: {hint}")
    return folder / name


def load_usps(split: str, data_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """float32 images (N, 16, 16) in [-1, 1], background -1 and ink +1, and uint8 labels (N,).

    Parsed arrays are cached per file version; each call returns fresh copies.
    """
    images, labels = _parse_file(file_stamp(usps_path(split, data_dir)))
    return images.copy(), labels.copy()


def mnist_like(images: np.ndarray) -> np.ndarray:
    """USPS digits (N, 16, 16) in [-1, 1], ink +1, which fill their box, as MNIST-like uint8
    (N, 28, 28): ink in a 20x20 box, so the string generator gives them MNIST's height on the
    page, and an MNIST model trains on them beside MNIST's own (`train --data mnist+usps`)."""
    ink = ndimage.zoom((images + 1.0) / 2.0, (1, 20 / 16, 20 / 16), order=1)
    out = np.zeros((len(images), 28, 28), dtype=np.float32)
    out[:, 4:24, 4:24] = np.clip(ink, 0.0, 1.0)
    return np.round(255 * out).astype(np.uint8)
