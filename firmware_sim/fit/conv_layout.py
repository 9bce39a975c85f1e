"""A conv step's weights as the firmware's conv kernel reads them: geometry, patch order, which
encoding (dense, blocked, sparse, bitmap; firmware/encode.py packs the bytes): the fastest by
the cost model's price or the smallest (choose), its sizes, and the patch scratch the kernel
needs in the arena.

`check` (through fit/arena.py) and the code generator both take the encoding and the scratch
from here, so the arena `check` reports is the one the generated firmware allocates. The sizes
are those of the packed arrays (encode.py's Encoding.nbytes), computed without packing them.
"""
from dataclasses import dataclass

import numpy as np

from firmware_sim.emulator.ir import Graph
from firmware_sim.emulator.kernels import accumulate
from firmware_sim.emulator.kernels.conv import ConvParams
from firmware_sim.errors import UnsupportedOpError

_MAX_SKIP = 255  # a sparse entry's input step is one byte
# an index encoding must be this much smaller than the best patch encoding to be chosen
_INDEX_SAVING = 1.25
PATCH_KINDS = ("dense", "blocked")  # the encodings whose kernel copies windows into a patch


@dataclass(frozen=True)
class Geometry:
    """What the tap offsets depend on: input layout, filter size, dilation."""

    in_h: int
    in_w: int
    in_c: int
    filter_hw: tuple[int, int]
    dilation: tuple[int, int]
    all_inside: bool  # no window crosses the image border
    planar: bool = False  # input stored channel after channel (CHW) instead of NHWC
    groups: int = 1  # pixels per patch: 4 with a fused 2x2 subsampling, else 1
    group_row: int = 0  # input bytes between the two rows of a 2x2 group (groups 4)

    @property
    def steps(self) -> tuple[int, int, int]:
        """Input byte steps of one row, one column and one channel."""
        if self.planar:
            return self.in_w, 1, self.in_h * self.in_w
        return self.in_w * self.in_c, self.in_c, 1

    def offset(self, fy: int, fx: int, ci: int) -> int:
        row, column, channel = self.steps
        return fy * self.dilation[0] * row + fx * self.dilation[1] * column + ci * channel


@dataclass(frozen=True)
class EncodingSize:
    """An encoding of a conv step's weights, by its sizes only."""

    kind: str  # dense, blocked, sparse, bitmap or pairs
    nbytes: int  # flash of its arrays (weights, taps, indices)
    segments: int = 1
    seg_len: int = 0
    slots: int = 0  # pairs: the (tap, tap + 1) pairs of every channel
    scratch: int = 0  # pairs: the pair buffer's bytes (pair_buffer_bytes)


def int8_weights(op_data, what: str) -> np.ndarray:
    """The op data's filter as int64 rows (accumulate.filter_rows: a per-tensor FC's
    filter_offset added, the firmware's own fold), refusing values beyond int8: the firmware
    kernels take int8 weights."""
    values = accumulate.filter_rows(op_data)
    if values.size and (values.min() < -128 or values.max() > 127):
        raise UnsupportedOpError(f"{what}: weights with a filter zero point leave int8; the "
                                 f"firmware kernels take int8 weights")
    return values


def step_geometry(graph: Graph, step) -> dict:
    """Input/output sizes, strides, padding and filter of a conv step, FC read as a 1x1 conv."""
    params = step.params
    if isinstance(params, ConvParams):
        _, in_h, in_w, in_c = graph.tensors[step.inputs[0]].shape
        out_h, out_w, out_c = params.output_shape
        return dict(in_h=in_h, in_w=in_w, in_c=in_c, out_h=out_h, out_w=out_w, out_c=out_c,
                    stride=params.stride, padding=params.padding, dilation=params.dilation,
                    filter_hw=params.filter_hw)
    out_c = params.output_shape[-1]
    rows = int(np.prod(params.output_shape)) // out_c
    return dict(in_h=1, in_w=rows, in_c=params.accum_depth, out_h=1, out_w=rows, out_c=out_c,
                stride=(1, 1), padding=(0, 0), dilation=(1, 1), filter_hw=(1, 1))


def window(g: dict) -> tuple[tuple[int, int], bool]:
    """The window's span (dilation included) and whether every window lies inside the input."""
    span = tuple((f - 1) * d + 1 for f, d in zip(g["filter_hw"], g["dilation"]))
    inside = g["padding"] == (0, 0) and all(
        (o - 1) * s + w <= size for o, s, w, size in
        zip((g["out_h"], g["out_w"]), g["stride"], span, (g["in_h"], g["in_w"])))
    return span, inside


def border_units(g: dict, groups: int) -> int:
    """Pixels (groups 1) or 2x2 groups (4) of a patch kernel whose windows cross the input's
    border: runtime/nn_patch.h gathers those tap by tap (nn_gather_border), the rest at once.
    A window crosses where its rows or its columns do; a group where any of its own do."""
    span, inside = window(g)
    if inside:
        return 0

    def inside_along(axis: int, outputs: int) -> np.ndarray:
        start = np.arange(outputs) * g["stride"][axis] - g["padding"][axis]
        return (start >= 0) & (start + span[axis] <= (g["in_h"], g["in_w"])[axis])
    rows, columns = inside_along(0, g["out_h"]), inside_along(1, g["out_w"])
    if groups == 4:  # a group's rows 2p and 2p + 1, its columns likewise
        rows = rows[:g["out_h"] // 2 * 2].reshape(-1, 2).all(axis=1)
        columns = columns[:g["out_w"] // 2 * 2].reshape(-1, 2).all(axis=1)
    return len(rows) * len(columns) - int(rows.sum()) * int(columns.sum())


def conv_weights(graph: Graph, step, planar_input: bool = False) -> tuple[np.ndarray, Geometry]:
    """A conv step's int weights (out, fh, fw, in) and the geometry its encoding depends on."""
    g = step_geometry(graph, step)
    _, inside = window(g)
    what = f"{graph.ops[step.ops[0]].opcode} (node {step.ops[0]})"
    weights = int8_weights(step.params, what).reshape(g["out_c"], *g["filter_hw"],
                                                              g["in_c"])
    groups = 4 if step.subsample else 1
    row = g["in_w"] * (1 if planar_input else g["in_c"])
    return weights, Geometry(g["in_h"], g["in_w"], g["in_c"], g["filter_hw"], g["dilation"],
                             inside, planar_input, groups,
                             g["stride"][0] * row if step.subsample else 0)


def patch_order(offsets: list[int]) -> tuple[list, int]:
    """Taps (indices into offsets) in quads, contiguous quads first; None pads the last quad."""
    order = sorted(range(len(offsets)), key=lambda i: offsets[i])
    runs, run = [], []
    for i in order:
        if run and offsets[i] != offsets[run[-1]] + 1:
            runs.append(run)
            run = []
        run.append(i)
    runs += [run] if run else []
    contiguous = [r[k:k + 4] for r in runs for k in range(0, len(r) - 3, 4)]
    rest = [i for r in runs for i in r[len(r) // 4 * 4:]]
    rest += [None] * (-len(rest) % 4)
    scattered = [rest[k:k + 4] for k in range(0, len(rest), 4)]
    return [tap for quad in contiguous + scattered for tap in quad], len(contiguous)


OPTIMIZE = ("speed", "size")  # what the per-layer choice of encoding minimises


def choose(weights: np.ndarray, geometry: Geometry, price=None) -> EncodingSize:
    """The encoding of int weights (out, fh, fw, in) to use. With `price` (an EncodingSize ->
    predicted instructions; cost_model.step_costs passes the core's, for `--optimize speed`):
    the cheapest of every encoding that applies, the smaller on a tie. Without (`--optimize
    size`): the smallest patch encoding, unless an index encoding (windows inside the image
    only) is clearly smaller."""
    options = sizes(weights, geometry)
    patch = [options[kind] for kind in PATCH_KINDS if kind in options]
    index = [options["sparse"], options["bitmap"]] if geometry.all_inside else []
    if price is not None:
        # blocked weights keeping every (output, input) block are dense ones with a MAC call
        # per run and no four-channel loop: never faster (a 5x5 stride-2 conv on 16 channels:
        # 5.31 instructions a MAC blocked, 3.45 dense), though their per-channel padding can
        # make them the smaller
        if kept_blocks(weights).all():
            patch = [options["dense"]]
        paired = [options["pairs"]] if geometry.all_inside else []
        return min(patch + index + paired, key=lambda e: (price(e), e.nbytes))
    best = min(patch, key=lambda e: e.nbytes)
    if index:
        smallest = min(index, key=lambda e: e.nbytes)
        if smallest.nbytes * _INDEX_SAVING < best.nbytes:
            return smallest
    return best


def scratch_bytes(choice, groups: int) -> int:
    """The scratch a conv kernel fills: the int16 patch of a patch encoding (two bytes a slot
    per group), the pair buffer of pairs, none for the index encodings. `choice`: an
    EncodingSize or the packed encode.Encoding."""
    if choice.kind in PATCH_KINDS:
        return 2 * groups * choice.segments * choice.seg_len
    return choice.scratch


def kept_blocks(weights: np.ndarray) -> np.ndarray:
    """(output, input) channel blocks holding a nonzero weight: what blocked weights store."""
    return np.abs(weights).sum(axis=(1, 2)) > 0


def block_runs(kept: np.ndarray) -> int:
    """Runs of consecutive kept input channels, summed over the output channels (each a
    (first, count) entry of the blocked encoding, and a MAC call per pixel)."""
    return int((kept & ~np.pad(kept, ((0, 0), (1, 0)))[:, :-1]).sum())


def patch_holds_input(step, choice) -> bool:
    """Whether the step's patch may hold the step's own input in its upper half (fit/arena.py):
    a one-row FULLY_CONNECTED with dense weights gathers its whole input, once, front to back,
    into one segment of int16 slots (or bytes, nn_bytepatch.h), each write below the input
    bytes still unread; its pad slots read any byte against a zero weight."""
    params = step.params
    return (not isinstance(params, ConvParams) and choice.kind == "dense"
            and choice.segments == 1 and int(np.prod(params.output_shape)) ==
            params.output_shape[-1])


def sizes(weights: np.ndarray, geometry: Geometry) -> dict[str, EncodingSize]:
    """Every encoding that applies, by kind: blocked only for 2 to 255 input channels."""
    out_c, fh, fw, in_c = weights.shape
    all_taps = [(fy, fx, ci) for fy in range(fh) for fx in range(fw) for ci in range(in_c)]
    dense_len, dense_taps = _segment_size(all_taps, geometry)
    result = {"dense": EncodingSize("dense", out_c * dense_len + dense_taps, 1, dense_len)}
    if 1 < in_c <= 255:
        seg_len, seg_taps = _segment_size([(fy, fx, 0) for fy in range(fh) for fx in range(fw)],
                                          geometry)
        connected = kept_blocks(weights)
        nbytes = int(connected.sum()) * seg_len + out_c + 2 * block_runs(connected) + seg_taps
        result["blocked"] = EncodingSize("blocked", nbytes, in_c, seg_len)
    offsets = np.array([geometry.offset(*tap) for tap in all_taps])
    flat = weights.reshape(out_c, -1)
    nonzero = int(np.count_nonzero(flat))
    entries = nonzero
    for c in range(out_c):
        steps = np.diff(np.sort(offsets[np.flatnonzero(flat[c])]), prepend=0)
        entries += int(np.maximum(0, (steps - 1) // _MAX_SKIP).sum())
    result["sparse"] = EncodingSize("sparse", 2 * entries + 2 * out_c, 1, 0)
    words = -(-(int(offsets.max()) + 1) // 32)
    result["bitmap"] = EncodingSize("bitmap", nonzero + 4 * out_c * words, 1, 0)
    pairs = sum(len(tap_pairs(offsets[np.flatnonzero(row)])) for row in flat)
    result["pairs"] = EncodingSize("pairs", 8 * pairs + 2 * out_c, 1, 0, pairs,
                                   pair_buffer_bytes(geometry))
    return result


def pair_buffer_bytes(geometry: Geometry) -> int:
    """The pairs kernel's buffer (runtime/conv_pairs.c): a word (x[i], x[i+1]) per input byte;
    with a 2x2 group, two words per input byte i < in_size - group_row, the group's second row
    interleaved, as no group reads further."""
    in_size = geometry.in_h * geometry.in_w * geometry.in_c
    if geometry.groups == 1:
        return 4 * in_size
    return 8 * max(in_size - geometry.group_row, 1)


def pair_stride(geometry: Geometry) -> int:
    """Bytes of the pair buffer per input byte: a stream entry's offset is o times this."""
    return 4 if geometry.groups == 1 else 8


def tap_pairs(offsets: np.ndarray) -> list[tuple[int, int | None]]:
    """A channel's nonzero taps (their window offsets) as pairs (index of o, index of o + 1 or
    None), o rising: each tap pairs with the tap one input byte after it when that one is nonzero
    and not yet taken. Indices are into `offsets`."""
    position = {int(o): i for i, o in enumerate(offsets)}
    pairs, taken = [], set()
    for o in sorted(position):
        if o in taken:
            continue
        partner = position.get(o + 1)
        pairs.append((position[o], partner))
        taken.update((o, o + 1) if partner is not None else (o,))
    return pairs


def _segment_size(taps: list[tuple[int, int, int]], geometry: Geometry) -> tuple[int, int]:
    """Slots of one segment in patch order, and the bytes of its tap arrays."""
    offsets = [geometry.offset(*tap) for tap in taps]
    order, _ = patch_order(offsets)
    slot_offsets = np.array([offsets[i] if i is not None else 0 for i in order])
    tap_bytes = 0 if np.array_equal(slot_offsets, np.arange(len(order))) else 2 * len(order)
    if not geometry.all_inside:
        tap_bytes += 2 * len(order)  # tap_y and tap_x, a byte each
    return len(order), tap_bytes


def lut_variant(step) -> bool:
    """The _lut kernel variants (runtime/nn_ops.h): a table after the conv (and after a depthwise
    subsampling) and every shift <= -2, so each output is a short requantization and a lookup.
    The code generator picks them by this rule and the cost model prices them by it."""
    if step.table is None or not short_requantization(step):
        return False
    return not (step.subsample and step.subsample[0] == "DEPTHWISE_CONV_2D") or \
        step.subsample_table is not None


def short_requantization(step) -> bool:
    """Every shift of the step is <= -2: the kernels' short requantization applies."""
    shifts = [np.asarray(step.params.output_shift).reshape(-1)]
    if step.subsample and step.subsample[0] == "DEPTHWISE_CONV_2D":
        shifts.append(np.asarray(step.subsample[1].output_shift).reshape(-1))
    return all(int(s.max(initial=-2)) <= -2 for s in shifts)

