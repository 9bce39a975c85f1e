"""Weight encodings for conv.c: dense, blocked by input channel, or sparse; the smallest wins.

A window's taps are listed in "patch order" (see nn_ops.h): `segments` runs of `seg_len` taps.
- dense: one segment, TFLM's (fy, fx, channel) order, padded with zero weights to a multiple
  of 4 so that SMLAD takes the weights four at a time;
- blocked: one segment per input channel; an output channel stores and multiplies only the
  input channels it is connected to (LeNet-5's C3 table leaves 60 of 96);
- sparse: per output channel only the nonzero weights, each with the input offset step from the
  previous one (a byte; a longer step is split with zero-weight entries): 2 bytes a weight.
Pruned layers thus store and multiply only their nonzero weights when that is smaller.
Each group of four dense/blocked weights is stored w0 w2 w1 w3, the order SXTB16 unpacks.
"""
from dataclasses import dataclass, field

import numpy as np

from firmware_sim.errors import UnsupportedOpError

_MAX_SKIP = 255


@dataclass(frozen=True)
class Geometry:
    """What the tap offsets depend on: input width and channels, filter size, dilation."""

    in_w: int
    in_c: int
    filter_hw: tuple[int, int]
    dilation: tuple[int, int]
    all_inside: bool  # no window crosses the image border


@dataclass(frozen=True)
class Encoding:
    kind: str  # "dense", "blocked" or "sparse"
    arrays: dict  # field name -> (values, dtype)
    segments: int = 1
    seg_len: int = 0
    seg_step: int = 0
    slots: int = 0  # multiply-adds executed per output pixel, zero padding included
    extra: dict = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return sum(np.asarray(v).size * np.dtype(t).itemsize for v, t in self.arrays.values())


def choose(weights: np.ndarray, geometry: Geometry) -> Encoding:
    """The smallest encoding of int weights (out, fh, fw, in) that this geometry allows."""
    candidates = [dense(weights, geometry)]
    if geometry.in_c > 1 and geometry.in_c <= 255:
        candidates.append(blocked(weights, geometry))
    if geometry.all_inside:
        candidates.append(sparse(weights, geometry))
    return min(candidates, key=lambda e: e.nbytes)


def _pad4(n: int) -> int:
    return -(-n // 4) * 4


def _quad_order(rows: np.ndarray) -> np.ndarray:
    """Rows of 4k weights with each group of four stored w0 w2 w1 w3."""
    return rows.reshape(len(rows), -1, 4)[:, :, [0, 2, 1, 3]].reshape(len(rows), -1)


def _taps(geometry: Geometry, channels: range) -> np.ndarray:
    """(offset, y, x) of each tap (fy, fx, channel) of a window, in TFLM's order."""
    (fh, fw), (dh, dw) = geometry.filter_hw, geometry.dilation
    rows = [((fy * dh * geometry.in_w + fx * dw) * geometry.in_c + ci, fy * dh, fx * dw)
            for fy in range(fh) for fx in range(fw) for ci in channels]
    return np.array(rows, dtype=np.int64).reshape(-1, 3)


def _tap_arrays(taps: np.ndarray, length: int, geometry: Geometry) -> dict:
    """tap_offset (omitted when taps are consecutive bytes) and, for border windows, tap_y/x."""
    padded = np.zeros((length, 3), dtype=np.int64)
    padded[:len(taps)] = taps
    if padded[:, 0].max(initial=0) > 0xFFFF or padded[:, 1:].max(initial=0) > 0xFF:
        raise UnsupportedOpError(f"a convolution window spans {int(padded[:, 0].max()) + 1} "
                                 f"input bytes; the firmware's tap tables hold 16-bit offsets")
    arrays = {}
    if not np.array_equal(padded[:, 0], np.arange(length)) or len(taps) != length:
        arrays["tap_offset"] = (padded[:, 0], "uint16")
    if not geometry.all_inside:
        arrays["tap_y"] = (padded[:, 1], "uint8")
        arrays["tap_x"] = (padded[:, 2], "uint8")
    return arrays


def dense(weights: np.ndarray, geometry: Geometry) -> Encoding:
    out_c = len(weights)
    flat = weights.reshape(out_c, -1)
    length = _pad4(flat.shape[1])
    rows = np.zeros((out_c, length), dtype=np.int64)
    rows[:, :flat.shape[1]] = flat
    arrays = {"weights": (_quad_order(rows), "int8"),
              **_tap_arrays(_taps(geometry, range(geometry.in_c)), length, geometry)}
    return Encoding("dense", arrays, 1, length, 0, out_c * length)


def blocked(weights: np.ndarray, geometry: Geometry) -> Encoding:
    out_c, fh, fw, in_c = weights.shape
    length = _pad4(fh * fw)
    connected = np.abs(weights).sum(axis=(1, 2)) > 0  # (out, in)
    blocks, counts, index = [], [], []
    for c in range(out_c):
        for ci in np.flatnonzero(connected[c]):
            block = np.zeros(length, dtype=np.int64)
            block[:fh * fw] = weights[c, :, :, ci].reshape(-1)
            blocks.append(block)
            index.append(ci)
        counts.append(int(connected[c].sum()))
    rows = np.array(blocks, dtype=np.int64).reshape(-1, length)
    arrays = {"weights": (_quad_order(rows) if len(rows) else rows, "int8"),
              "seg_count": (np.array(counts), "uint8"), "seg_index": (np.array(index), "uint8"),
              **_tap_arrays(_taps(geometry, range(1)), length, geometry)}
    return Encoding("blocked", arrays, in_c, length, 1, len(index) * length)


def sparse(weights: np.ndarray, geometry: Geometry) -> Encoding:
    out_c = len(weights)
    offsets = _taps(geometry, range(geometry.in_c))[:, 0]
    flat = weights.reshape(out_c, -1)
    values, skips, counts = [], [], []
    for c in range(out_c):
        order = np.argsort(offsets[flat[c] != 0], kind="stable")
        chosen_offsets = offsets[flat[c] != 0][order]
        chosen = flat[c][flat[c] != 0][order]
        entries = _sparse_entries(chosen_offsets, chosen)
        values += [w for _, w in entries]
        skips += [s for s, _ in entries]
        counts.append(len(entries))
    if max(counts, default=0) > 0xFFFF:
        raise UnsupportedOpError("a sparse output channel needs more than 65535 entries")
    arrays = {"weights": (np.array(values, dtype=np.int64), "int8"),
              "skip": (np.array(skips, dtype=np.int64), "uint8"),
              "nnz": (np.array(counts), "uint16")}
    return Encoding("sparse", arrays, slots=len(values))


def _sparse_entries(offsets: np.ndarray, weights: np.ndarray) -> list[tuple[int, int]]:
    """(step, weight) pairs; a step beyond a byte is split off as zero-weight entries."""
    entries, position = [], 0
    for offset, weight in zip(offsets.tolist(), weights.tolist()):
        step = offset - position
        while step > _MAX_SKIP:
            entries.append((_MAX_SKIP, 0))
            step -= _MAX_SKIP
        entries.append((step, weight))
        position = offset
    return entries
