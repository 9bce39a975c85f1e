"""The ink of a grayscale image: polarity, the paper's lighting taken out, Otsu threshold,
connected components, merging of broken-off fragments, a fine pen's strokes grown; the digits
among them are found by `lattice`."""
from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage

from lenet_edge.read.image import ReadError

MIN_CONTRAST = 0.15  # below this, gray range is noise on a blank page
FRAGMENT_AREA = 0.15  # a component under this fraction of the largest is a broken-off piece
NOISE_AREA = 0.02  # and under this fraction a speck to drop when nothing lies above or below
MAX_HEIGHT = 48  # digits higher than this are read shrunk to READ_HEIGHT: the cuts' and the
READ_HEIGHT = 32  # lattice's cost grows with the pixels, and normalization shrinks them to 20 anyway
# Strings of MNIST training digits (200, the benchmark's generator): their stroke x the digits'
# height at the 1st percentile and the median; a string finer than the first is grown.
THIN, STROKE = 0.135, 0.168


@dataclasses.dataclass(frozen=True)
class Box:
    top: int
    left: int
    bottom: int  # exclusive
    right: int  # exclusive

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    def scaled(self, factor: float) -> Box:
        return Box(*(round(factor * side) for side in dataclasses.astuple(self)))

    def union(self, other: Box) -> Box:
        return Box(min(self.top, other.top), min(self.left, other.left),
                   max(self.bottom, other.bottom), max(self.right, other.right))


@dataclasses.dataclass
class Component:
    box: Box
    mask: np.ndarray  # bool, the box's shape: which pixels of the box belong to this digit

    @property
    def area(self) -> int:
        return int(self.mask.sum())


def otsu_threshold(gray: np.ndarray) -> float:
    """The threshold maximising the between-class variance of a 256-bin histogram."""
    counts, edges = np.histogram(gray, bins=256, range=(0.0, 1.0))
    p = counts / counts.sum()
    omega = np.cumsum(p)
    mu = np.cumsum(p * np.arange(256))
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mu[-1] * omega - mu) ** 2 / (omega * (1.0 - omega))
    return float(edges[int(np.nanargmax(between)) + 1])


def dark_ink(gray: np.ndarray) -> bool:
    """Whether the ink is darker than the paper: the border is paper, and the ink lies on the
    side of it the image reaches farther (percentiles, so noise does not decide)."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    paper = float(np.median(border))
    low, high = np.percentile(gray, (1, 99))
    return paper - low >= high - paper


def flatten(gray: np.ndarray) -> np.ndarray:
    """Dark ink on paper of any lighting -> ink in [0, 1] on 0. The paper under the ink is the
    grey closing of the image (a window wider than any stroke, half the image's height, takes
    the ink away), and the ink is how much darker than that paper a pixel is."""
    size = max(3, gray.shape[0] // 2)
    # Padded by point reflection, which continues a slope of the lighting past the border:
    # a closing would lift the paper in a corner the light falls toward, as in a hollow.
    padded = np.pad(gray, size, mode="reflect", reflect_type="odd")
    paper = ndimage.grey_closing(padded, size=(size, size))[size:-size, size:-size]
    return np.clip(1.0 - gray / np.maximum(paper, 1e-3), 0.0, 1.0)


def ink_image(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ink intensity in [0, 1] with background 0, ink mask), for dark ink on light paper and
    light ink on a dark screen, evenly lit or not."""
    if gray.max() - gray.min() < MIN_CONTRAST:
        raise ReadError("no digit found: the image is blank")
    ink = flatten(gray if dark_ink(gray) else 1.0 - gray)
    if ink.max() < MIN_CONTRAST:
        raise ReadError("no digit found: the image is blank")
    ink /= float(ink.max())
    # A 3x3 median before the threshold, on noisy scans only, read fewer noisy strings right
    # (81 of 100 against 89, told the count); specks are left to merge_fragments.
    return ink.astype(np.float32), ink > otsu_threshold(ink)


def label(mask: np.ndarray) -> list[Component]:
    """8-connected components, in the order their first pixel comes in a raster scan."""
    labels, _ = ndimage.label(mask, structure=np.ones((3, 3), bool))
    return [Component(Box(rows.start, cols.start, rows.stop, cols.stop), labels[rows, cols] == k)
            for k, (rows, cols) in enumerate(ndimage.find_objects(labels), 1)]


def component_of(pixels: np.ndarray) -> Component:
    """The component of (y, x) pixels, in its bounding box."""
    (top, left), (bottom, right) = pixels.min(axis=0), pixels.max(axis=0) + 1
    mask = np.zeros((bottom - top, right - left), dtype=bool)
    mask[pixels[:, 0] - top, pixels[:, 1] - left] = True
    return Component(Box(int(top), int(left), int(bottom), int(right)), mask)


def merge(a: Component, b: Component) -> Component:
    box = a.box.union(b.box)
    mask = np.zeros((box.height, box.width), dtype=bool)
    for part in (a, b):
        mask[part.box.top - box.top:part.box.bottom - box.top,
             part.box.left - box.left:part.box.right - box.left] |= part.mask
    return Component(box, mask)


def _column_overlap(a: Box, b: Box) -> int:
    return min(a.right, b.right) - max(a.left, b.left)


def merge_fragments(components: list[Component]) -> list[Component]:
    """Join small pieces lying over or under a digit (a 5's detached bar, a broken stroke) to
    it and drop specks; a small piece beside the others stays, for the lattice to judge (a thin
    '1' is as small as a fragment)."""
    largest = max(c.area for c in components)
    big = [c for c in components if c.area >= FRAGMENT_AREA * largest]
    for piece in (c for c in components if c.area < FRAGMENT_AREA * largest):
        overlaps = [_column_overlap(piece.box, c.box) for c in big]
        nearest = int(np.argmax(overlaps))
        if overlaps[nearest] > piece.box.width / 2:
            big[nearest] = merge(big[nearest], piece)
        elif piece.area >= NOISE_AREA * largest:
            big.append(piece)
    return sorted(big, key=lambda c: c.box.left + c.box.width / 2)


def _pieces(ink: np.ndarray, mask: np.ndarray) -> tuple[list[Component], float]:
    found = label(mask)
    if not found:
        raise ReadError("no digit found")
    merged = merge_fragments(found)
    # The digits' height, not pulled down by a flat piece such as a 5's detached bar.
    heights = np.array([c.box.height for c in merged])
    return merged, float(np.median(heights[heights >= heights.max() / 2]))


def stroke(mask: np.ndarray) -> float:
    """The mean stroke width in pixels: twice the ink's area over the length of its border."""
    border = mask & ~ndimage.binary_erosion(mask)
    return 2.0 * float(mask.sum()) / max(int(border.sum()), 1)


def grown_stroke(ink: np.ndarray, mask: np.ndarray, height: float) -> np.ndarray:
    """The ink with a stroke much finer than MNIST's, for the digits' height, grown toward it
    (the network has never seen a fine pen's line), else unchanged. Thinning bold strokes the
    same way read fewer strings right (27 of 40 against 30, blurred ones 27 against 28)."""
    width = stroke(mask) / height
    steps = round((STROKE - width) * height)  # a (k+1)-square grey dilation widens by k pixels
    return ndimage.grey_dilation(ink, size=(steps + 1, steps + 1)) if width < THIN and steps else ink


def components(gray: np.ndarray) -> tuple[np.ndarray, list[Component], float]:
    """(ink image, connected components left to right with fragments merged, the string's
    digit height); ReadError when there is no ink."""
    ink, mask = ink_image(gray)
    merged, height = _pieces(ink, mask)
    even = grown_stroke(ink, mask, height)
    if even is ink:
        return ink, merged, height
    mask = even > otsu_threshold(even)
    return (even, *_pieces(even, mask))


def reading_scale(height: float) -> float:
    """The factor to resample a string whose digits are `height` pixels high by, before reading."""
    return READ_HEIGHT / height if height > MAX_HEIGHT else 1.0


def digit_ink(ink: np.ndarray, component: Component, line: np.ndarray) -> np.ndarray:
    """The ink of one digit alone: its box, with the pixels of the other digits (`line` is the
    mask of all of them) cleared. The mask is grown by one pixel into the background to keep
    the anti-aliased rim the threshold cut off, but not into a touching neighbour."""
    box = component.box
    mask = np.pad(component.mask, 1)
    grown = ndimage.binary_dilation(mask, structure=np.ones((3, 3), bool))
    top, left = max(box.top - 1, 0), max(box.left - 1, 0)
    bottom, right = min(box.bottom + 1, ink.shape[0]), min(box.right + 1, ink.shape[1])
    inside = (slice(top - box.top + 1, bottom - box.top + 1), slice(left - box.left + 1, right - box.left + 1))
    keep = mask[inside] | (grown[inside] & ~line[top:bottom, left:right])
    return ink[top:bottom, left:right] * keep
