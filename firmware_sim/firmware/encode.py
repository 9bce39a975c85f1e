"""Weight encodings for the conv variants (runtime/conv_*.c): dense, blocked by input channel,
sparse or bitmap; fit/conv_layout.choose picks one per layer (the fastest, or the smallest).

A window's taps are listed in "patch order" (see nn_ops.h): `segments` runs of `seg_len` taps,
grouped in quads of 4 because SMLAD takes the weights four at a time, zero weights padding the
last quad. Quads of 4 consecutive input bytes come first (`seg_contiguous` of them): the kernel
loads each with one word and SXTB16 splits it into the int16 pairs (x0, x2) and (x1, x3); the
other taps are gathered one by one into the same pair order. The weights are stored in patch
order, so the same SXTB16 split pairs them up.
- dense: one segment, every tap of the window; for one pixel per patch, the weights of 4
  channels are interleaved quad by quad (the kernel runs 4 channels at once), the out_c % 4 last
  channels follow one after another;
- blocked: one segment per input channel; an output channel stores and multiplies only runs of
  the input channels it is connected to (LeNet-5's C3 table leaves 60 of 96 pairs);
- sparse: per output channel only the nonzero weights, each with the input offset step from the
  previous one (a byte; a longer step is split with zero-weight entries): 2 bytes a weight;
- bitmap: per output channel a bit per input byte the window spans, set for the nonzero weights,
  and the nonzero values: 1 byte a weight plus the bitmap, smaller for moderate sparsity;
- pairs: per output channel its nonzero taps two at a time (taps one input byte apart), each
  pair a stream entry of two words, the int16 weight pair and the byte offset of its input word
  in the kernel's pair buffer: 8 bytes a pair; with a fused depthwise subsampling in the _lut
  form the weights are stored doubled where the sums allow (sums_double, doubled_pairs: the
  DSP cores' row block of runtime/conv_pairs.c then takes a shorter requantization).
Pruned layers thus store and multiply only their nonzero weights when that is smaller. The two
index encodings spend about 3 times the instructions per weight of the patch encodings (no
SMLAD, a load per tap): `--optimize speed` takes them where the cost model prices them below
the patch encodings, `--optimize size` only when they save more than a fifth of the bytes. The choice, the geometry and the patch order are fit/conv_layout.py's (check needs them too).
"""
from dataclasses import dataclass, replace

import numpy as np

from firmware_sim.errors import UnsupportedOpError
from firmware_sim.fit import conv_layout
from firmware_sim.fit.conv_layout import Geometry, patch_order

_MAX_SKIP = 255


@dataclass(frozen=True)
class Encoding:
    kind: str  # "dense", "blocked" or "sparse"
    arrays: dict  # field name -> (values, dtype)
    segments: int = 1
    seg_len: int = 0
    seg_step: int = 0
    seg_contiguous: int = 0
    slots: int = 0  # multiply-adds executed per output pixel, zero padding included
    bitmap_words: int = 0
    scratch: int = 0  # pairs: the pair buffer's bytes

    @property
    def nbytes(self) -> int:
        return sum(np.asarray(v).size * np.dtype(t).itemsize for v, t in self.arrays.values())


def pack(kind: str, weights: np.ndarray, geometry: Geometry) -> Encoding:
    """Int weights (out, fh, fw, in) packed in the encoding `kind` (conv_layout.choose's)."""
    return {"dense": dense, "blocked": blocked, "sparse": sparse, "bitmap": bitmap,
            "pairs": pairs}[kind](weights, geometry)


def choose(weights: np.ndarray, geometry: Geometry, price=None) -> Encoding:
    """The encoding fit/conv_layout.py chooses for int weights (out, fh, fw, in), packed."""
    return pack(conv_layout.choose(weights, geometry, price).kind, weights, geometry)


def _segment(taps: list[tuple[int, int, int]], geometry: Geometry) -> tuple[list, int, dict]:
    """Patch order of one segment's taps (fy, fx, ci), and its tap arrays."""
    offsets = [geometry.offset(*tap) for tap in taps]
    order, contiguous = patch_order(offsets)
    slot_taps = [taps[i] if i is not None else (0, 0, 0) for i in order]
    slot_offsets = np.array([offsets[i] if i is not None else 0 for i in order])
    if slot_offsets.max(initial=0) > 0xFFFF:
        raise UnsupportedOpError(f"a convolution window spans {int(slot_offsets.max()) + 1} "
                                 f"input bytes; the firmware's tap tables hold 16-bit offsets")
    arrays = {}
    if not np.array_equal(slot_offsets, np.arange(len(order))):
        arrays["tap_offset"] = (slot_offsets, "uint16")
    if not geometry.all_inside:
        (dh, dw) = geometry.dilation
        arrays["tap_y"] = (np.array([t[0] * dh for t in slot_taps]), "uint8")
        arrays["tap_x"] = (np.array([t[1] * dw for t in slot_taps]), "uint8")
    return order, contiguous, arrays


def _in_order(values: np.ndarray, order: list) -> np.ndarray:
    """values (..., taps) rearranged into patch order, zeros at the pads."""
    padded = np.concatenate([values, np.zeros((*values.shape[:-1], 1), values.dtype)], axis=-1)
    return padded[..., [i if i is not None else -1 for i in order]]


def dense(weights: np.ndarray, geometry: Geometry) -> Encoding:
    out_c, fh, fw, in_c = weights.shape
    taps = [(fy, fx, ci) for fy in range(fh) for fx in range(fw) for ci in range(in_c)]
    order, contiguous, arrays = _segment(taps, geometry)
    rows = _in_order(weights.reshape(out_c, -1), order)
    arrays["weights"] = (_interleaved(rows) if geometry.groups == 1 else rows, "int8")
    return Encoding("dense", arrays, 1, len(order), 0, contiguous, out_c * len(order))


def _interleaved(rows: np.ndarray) -> np.ndarray:
    """Rows of 4 consecutive channels interleaved quad by quad; the remaining rows as they are."""
    whole = len(rows) // 4 * 4
    quads = rows.shape[1] // 4
    head = rows[:whole].reshape(-1, 4, quads, 4).transpose(0, 2, 1, 3).reshape(-1)
    return np.concatenate([head, rows[whole:].reshape(-1)])


def blocked(weights: np.ndarray, geometry: Geometry) -> Encoding:
    out_c, fh, fw, in_c = weights.shape
    order, contiguous, arrays = _segment([(fy, fx, 0) for fy in range(fh) for fx in range(fw)],
                                         geometry)
    connected = conv_layout.kept_blocks(weights)
    blocks, counts, runs = [], [], []
    for c in range(out_c):
        channel_runs = _runs(np.flatnonzero(connected[c]))
        counts.append(len(channel_runs))
        for start, length in channel_runs:
            runs += [start, length]
            blocks += [_in_order(weights[c, :, :, ci].reshape(-1), order)
                       for ci in range(start, start + length)]
    arrays["weights"] = (np.array(blocks, dtype=np.int64).reshape(-1), "int8")
    arrays["seg_count"] = (np.array(counts), "uint8")
    arrays["seg_index"] = (np.array(runs), "uint8")
    step = geometry.offset(0, 0, 1)
    return Encoding("blocked", arrays, in_c, len(order), step, contiguous,
                    len(blocks) * len(order))


def _runs(channels: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive input channels as (start, length) runs: one MAC loop each."""
    runs = []
    for ci in channels.tolist():
        if runs and runs[-1][0] + runs[-1][1] == ci:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((ci, 1))
    return runs


def _offsets(weights: np.ndarray, geometry: Geometry) -> np.ndarray:
    _, fh, fw, in_c = weights.shape
    return np.array([geometry.offset(fy, fx, ci) for fy in range(fh) for fx in range(fw)
                     for ci in range(in_c)])


def bitmap(weights: np.ndarray, geometry: Geometry) -> Encoding:
    out_c = len(weights)
    offsets = _offsets(weights, geometry)
    words = -(-(int(offsets.max()) + 1) // 32)
    flat = weights.reshape(out_c, -1)
    bits = np.zeros((out_c, words * 32), dtype=bool)
    values = []
    for c in range(out_c):
        nonzero = np.flatnonzero(flat[c])
        order = nonzero[np.argsort(offsets[nonzero], kind="stable")]
        bits[c, offsets[order]] = True
        values += flat[c][order].tolist()
    # bit i of word k stands for the input byte 32k + i of the window
    packed = np.packbits(bits.reshape(out_c, words, 4, 8)[..., ::-1], axis=-1).reshape(
        out_c, words, 4).astype(np.uint32)
    masks = (packed * (1 << (8 * np.arange(4, dtype=np.uint32)))).sum(axis=-1)
    arrays = {"weights": (np.array(values, dtype=np.int64), "int8"),
              "bitmap": (masks.reshape(-1), "uint32")}
    return Encoding("bitmap", arrays, slots=len(values), bitmap_words=words)


def sparse(weights: np.ndarray, geometry: Geometry) -> Encoding:
    out_c = len(weights)
    offsets = _offsets(weights, geometry)
    flat = weights.reshape(out_c, -1)
    values, skips, counts = [], [], []
    for c in range(out_c):
        nonzero = np.flatnonzero(flat[c])
        order = nonzero[np.argsort(offsets[nonzero], kind="stable")]
        entries = _sparse_entries(offsets[order], flat[c][order])
        values += [w for _, w in entries]
        skips += [s for s, _ in entries]
        counts.append(len(entries))
    if max(counts, default=0) > 0xFFFF:
        raise UnsupportedOpError("a sparse output channel needs more than 65535 entries")
    arrays = {"weights": (np.array(values, dtype=np.int64), "int8"),
              "skip": (np.array(skips, dtype=np.int64), "uint8"),
              "nnz": (np.array(counts), "uint16")}
    return Encoding("sparse", arrays, slots=len(values))


def pairs(weights: np.ndarray, geometry: Geometry) -> Encoding:
    """Per channel its nonzero taps in conv_layout.tap_pairs' pairs, each a stream entry of two
    words: the int16 weight pair (w at o, w at o + 1; 0 for a tap without partner) and the byte
    offset of o's word in the pair buffer (o x conv_layout.pair_stride)."""
    out_c = len(weights)
    offsets = _offsets(weights, geometry)
    stride = conv_layout.pair_stride(geometry)
    flat = weights.reshape(out_c, -1)
    stream, counts = [], []
    for c in range(out_c):
        nonzero = np.flatnonzero(flat[c])
        values = flat[c][nonzero]
        channel = conv_layout.tap_pairs(offsets[nonzero])
        for first, partner in channel:
            high = int(values[partner]) if partner is not None else 0
            stream += [(int(values[first]) & 0xFFFF) | ((high & 0xFFFF) << 16),
                       stride * int(offsets[nonzero[first]])]
        counts.append(len(channel))
    arrays = {"weights": (np.array(stream, dtype=np.int64), "uint32"),
              "pairs": (np.array(counts), "uint16")}
    return Encoding("pairs", arrays, slots=2 * sum(counts),
                    scratch=conv_layout.pair_buffer_bytes(geometry))


def doubled_pairs(encoding: Encoding) -> Encoding:
    """A pairs encoding with every weight doubled (nn_conv_pairs_t.doubled): int8 weights, so
    each int16 half still holds its value."""
    stream, dtype = encoding.arrays["weights"]
    stream = np.array(stream, dtype=np.int64)
    low, high = stream[0::2] & 0xFFFF, stream[0::2] >> 16
    double = lambda half: ((half.astype(np.int16) * 2).astype(np.int64) & 0xFFFF)  # noqa: E731
    stream[0::2] = double(low) | (double(high) << 16)
    return replace(encoding, arrays={**encoding.arrays, "weights": (stream, dtype)})


def sums_double(weights: np.ndarray, bias: np.ndarray, sub_weights: np.ndarray,
                sub_bias: np.ndarray, shifts) -> bool:
    """Whether a pairs step with a fused depthwise subsampling may run on doubled weights: in
    every live map (a dead one, no nonzero weight, takes its bias through the plain stage),
    every conv sum (bias + int8 inputs x weights) and subsampling sum below 2**30 in magnitude
    whatever the inputs, so twice it is exact in int32, and every shift (conv's, then the
    subsampling's) in [-22, -2], where the DSP cores' row block folds the output offset into
    its rounding word (runtime/conv_pairs.c)."""
    def bound(w, b):
        return np.abs(np.asarray(b, np.int64)).reshape(-1) + \
            128 * np.abs(np.asarray(w, np.int64)).reshape(len(w), -1).sum(axis=1)
    live = np.abs(weights).reshape(len(weights), -1).sum(axis=1) > 0
    sums = np.concatenate([bound(weights, bias)[live], bound(sub_weights, sub_bias)[live]])
    shifts = np.concatenate([np.asarray(s).reshape(-1)[live] for s in shifts])
    return bool(sums.max(initial=0) < 1 << 30 and np.all((shifts >= -22) & (shifts <= -2)))


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
