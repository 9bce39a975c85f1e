"""The recognizer's training set from the reader's own cuts, as LeCun, Bottou, Bengio and Haffner
(1998) trained the recognizer of their heuristic over-segmentation: strings of MNIST *training*
digits are segmented exactly as `read` segments them, and every candidate of the lattice is
normalized as `read` normalizes it. A candidate that is one whole digit gets that digit's label;
fragments, pairs and a digit joined with a piece of its neighbour get NOT_A_DIGIT, so the
network learns to say what the lattice must not trust. A piece holding at least half of one
digit's ink and nothing of another's (a thin 1's stroke, a 7 cut below its bar) is left out:
labelled "not a digit", such pieces taught the net to refuse thin and partial real digits.

Every training digit is also drawn as the string generator draws it and cut out and normalized
as the reader hands it to the recognizer (`as_read`), so the net sees digits as `read` shows them;
with `scans`, half the digits and half the cut strings are seen through a blur, a fine or bold
pen, or noise (strings only), so that the net knows digits and non-digits under a scan too.

    images, labels = build(mnist_train_images, mnist_train_labels, strings=3000, seed=0)
    drawn = as_read(mnist_train_images, seed=0)
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from scipy import ndimage

from lenet_edge.read import lattice
from lenet_edge.read.image import ReadError
from lenet_edge.read.normalize import normalize
from lenet_edge.read.reader import components_at_reading_scale, cut_candidates
from lenet_edge.read.segment import Box, components, digit_ink, merge
from lenet_edge.read.strings import DrawnString, StringStyle, draw, resample
from lenet_edge.run import atomic_write

NOT_A_DIGIT = 10
LENGTH = 5  # digits per generated string, as the reading benchmark reads them
# A candidate is a digit when at least MATCH of its ink lies in that digit's box and it holds at
# least MATCH of the box's ink; below UNSURE for every digit it is not a digit. In between (a
# digit with a stroke's tip cut off, or a touching neighbour's tip added) neither label is
# true, so those candidates are left out.
MATCH = 0.9
UNSURE = 0.75
PART = 0.5  # a piece with this much of one digit's ink and none of another's is left out
SKIPPED = -1


def overlap_labels(ys: np.ndarray, xs: np.ndarray, chosen: np.ndarray, boxes: list[Box],
                   text: str) -> np.ndarray:
    """One label per candidate: `chosen` (candidates, P) marks each one's pixels among the
    string's ink pixels (ys, xs); its digit, NOT_A_DIGIT, or SKIPPED."""
    inside = np.stack([(ys >= b.top) & (ys < b.bottom) & (xs >= b.left) & (xs < b.right) for b in boxes])
    shared = chosen.astype(np.int64) @ inside.T.astype(np.int64)  # (candidates, digits)
    precision = shared / np.maximum(chosen.sum(axis=1, keepdims=True), 1)
    recall = shared / np.maximum(inside.sum(axis=1), 1)
    fit = np.minimum(precision, recall)
    best = fit.argmax(axis=1)
    labels = np.array([int(text[k]) for k in best])
    labels[fit.max(axis=1) < MATCH] = SKIPPED
    labels[fit.max(axis=1) < UNSURE] = NOT_A_DIGIT
    touched = (shared > 0).sum(axis=1)
    part = ((recall >= PART) & (shared > 0)).any(axis=1) & (touched == 1)
    labels[(labels == NOT_A_DIGIT) & part] = SKIPPED
    return labels


def string_candidates(drawn: DrawnString) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 (N, 28, 28) normalized candidates, their labels) of one drawn string, the
    ambiguous ones left out."""
    ink, found, height = components(drawn.gray)
    graph = lattice.build(found, height)
    _, inks = cut_candidates(ink, graph)
    chosen = graph.all_pixels()
    labels = overlap_labels(graph.ys, graph.xs, chosen, drawn.boxes, drawn.text)
    keep = np.nonzero(labels != SKIPPED)[0]
    images = np.stack([normalize(inks[i]) for i in keep]) if len(keep) else np.zeros((0, 28, 28), np.uint8)
    return images, labels[keep].astype(np.uint8)


# With `scans`, half the training digits and strings are seen through one scan, drawn at random
# from ranges about the reading benchmark's single settings (string_sets.py): a pen from fine
# (thin: drawn 2.5-4x larger with the strokes eroded, digits only) to bold, blur, sensor noise.
def _blur(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return ndimage.gaussian_filter(gray, rng.uniform(0.5, 1.5))


def _bold(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    side = int(rng.integers(2, 4))
    return 1.0 - ndimage.grey_dilation(1.0 - gray, size=(side, side))


def _noise(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.clip(gray + rng.normal(0.0, rng.uniform(0.04, 0.15), gray.shape), 0.0, 1.0)


def _thin(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    factor = rng.uniform(2.5, 4.0)
    side = 2 * round(factor) + 1
    large = np.clip(ndimage.zoom(1.0 - gray, factor, order=1), 0.0, 1.0)
    return 1.0 - ndimage.grey_erosion(large, size=(side, side))


STRING_SCANS = (_blur, _bold, _noise)  # no change of size: the drawn boxes still label the cuts
DIGIT_SCANS = (_blur, _bold, _thin)  # noise's specks would join a lone digit's candidate


def scanned(gray: np.ndarray, rng: np.random.Generator, scans) -> np.ndarray:
    """`gray` (1 = white) as it is half the time, else through one of `scans`."""
    if rng.random() < 0.5:
        return gray
    return scans[int(rng.integers(len(scans)))](gray, rng).astype(np.float32)


def drawn_digit(image: np.ndarray, rng: np.random.Generator, style: StringStyle = StringStyle(),
                scans: bool = False) -> np.ndarray:
    """One uint8 MNIST digit as `read` hands it to the recognizer when it stands in a string:
    scaled and sheared as draw() draws it, on paper (with `scans`, maybe through a scan), its
    ink found by the reader's segmentation (threshold, components, fragments merged, read at the
    reader's scale), cut out with its rim and normalized."""
    digit = resample(image.astype(np.float32) / 255.0, rng.uniform(*style.scale),
                     rng.uniform(-style.slant, style.slant))
    gray = 1.0 - np.pad(digit, style.margin)
    if scans:
        try:
            return _as_read(scanned(gray, rng, DIGIT_SCANS))
        except ReadError:  # a fine pen eroded a faint digit away: the digit as drawn instead
            pass
    return _as_read(gray)


def _as_read(gray: np.ndarray) -> np.ndarray:
    """The one digit of `gray` (1 = white) found, cut out and normalized as `read` does."""
    ink, found, _, _ = components_at_reading_scale(gray)
    whole = found[0]
    for piece in found[1:]:
        whole = merge(whole, piece)
    line = np.zeros(ink.shape, dtype=bool)
    line[whole.box.top:whole.box.bottom, whole.box.left:whole.box.right] = whole.mask
    return normalize(digit_ink(ink, whole, line))


def as_read(images: np.ndarray, seed: int = 0, scans: bool = False) -> np.ndarray:
    """drawn_digit() of every image, uint8 (N, 28, 28): deterministic by seed."""
    rng = np.random.default_rng([seed, 15])
    return (np.stack([drawn_digit(image, rng, scans=scans) for image in images]) if len(images)
            else images.copy())


def build(images: np.ndarray, labels: np.ndarray, strings: int, seed: int = 0,
          scans: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The labelled candidates of `strings` strings drawn from (images, labels) with seeds
    seed * strings ... (seed + 1) * strings - 1 (with `scans`, half of them through a scan):
    deterministic by seed."""
    parts = [string_candidates(_scanned_string(draw(images, labels, LENGTH, s), s, scans))
             for s in range(seed * strings, (seed + 1) * strings)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _scanned_string(drawn: DrawnString, seed: int, scans: bool) -> DrawnString:
    if not scans:
        return drawn
    return dataclasses.replace(drawn, gray=scanned(drawn.gray, np.random.default_rng([seed, 15]), STRING_SCANS))


def cached(path: Path, images: np.ndarray, labels: np.ndarray, strings: int,
           seed: int = 0, scans: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """build()'s arrays, read from the .npz at `path` when it holds this seed, count and scans,
    else built and written there atomically (a training run keeps them beside its checkpoints)."""
    found = _npz_cached(path, {"strings": strings, "seed": seed, "scans": scans},
                        lambda: dict(zip(("images", "labels"), build(images, labels, strings, seed, scans))))
    return found["images"], found["labels"]


def cached_as_read(path: Path, images: np.ndarray, seed: int = 0, scans: bool = False) -> np.ndarray:
    """as_read()'s array, read from the .npz at `path` when it holds this seed, count and scans,
    else built and written there atomically."""
    return _npz_cached(path, {"count": len(images), "seed": seed, "scans": scans},
                       lambda: {"drawn": as_read(images, seed, scans)})["drawn"]


def _npz_cached(path: Path, key: dict, make) -> dict[str, np.ndarray]:
    """The arrays of the .npz at `path` when its scalars equal `key` (a file written before
    `scans` existed holds none), else make()'s, written there atomically with `key`."""
    path = Path(path)
    if path.exists():
        with np.load(path, allow_pickle=False) as data:
            if all(k in data and data[k].item() == v for k, v in key.items() if k != "scans") \
                    and bool(data.get("scans", False)) == key.get("scans", False):
                return {k: data[k] for k in data.files if k not in key}
    arrays = make()
    atomic_write(path, lambda tmp: np.savez(tmp, **arrays, **key))
    return arrays
