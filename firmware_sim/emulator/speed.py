"""The fast path: forms of the reference arithmetic that numpy runs quickly, each derived from an
op's integer op data (kernels/*.py) by a function here, and each exact.

- Exact float sums. Sums of int8 products are taken by a float matrix product (BLAS). Every
  partial sum is an integer of magnitude at most `bound` (sum of |filter| times the largest
  |input + input_offset|), so float32 is exact when bound < 2**24 and float64 when
  bound < 2**53. Kernels hold sums channel-major, (channels, pixels), so per-channel constants
  broadcast along contiguous rows.
- A float64 closed form of the output stage. For a right shift e = -output_shift, the two
  roundings of MultiplyByQuantizedMultiplier collapse to
      floor(acc * M / 2**(31 + e) + 1/2 + s * 2**-(e + 1)),  s = +1 if acc >= 0 else -1
  (acc here includes the bias; the first rounding's ties go up, the second's away from zero).
  Every term, offset and clamp range included, is a multiple of 2**-(31 + e); while such
  multiples below (|acc| * M + 256 * 2**(31 + e)) / 2**(31 + e) fit float64's 53 bits, float64
  computes the expression exactly. `float_stage` checks this per channel (it holds for right
  shifts up to about 13, which covers LeNet-sized layers) and otherwise returns None: the
  reference integer stage then runs on the float sums.
- Output tables (output_table.py), which tables.py installs, activations folded in.
- Depthwise window sums: a depthwise filter whose taps share one weight per channel (LeNet's
  subsampling) sums each window first, when a table indexed by window sums is installed.
- AVERAGE_POOL_2D divides by table lookup: one row per window size of every possible sum.
- Ops of one int8 input (TANH, LOGISTIC, RELU, RELU6, int8 QUANTIZE, DEQUANTIZE) look their
  output up in the table of their reference kernel on the 256 input bytes.

`fast_op` maps a reference PreparedOp to its fast twin; the interpreter's default path runs
those, `Interpreter(graph, reference=True)` the reference kernels alone.
"""
import dataclasses
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from firmware_sim.emulator import output_table
from firmware_sim.emulator.kernels import (accumulate, activations, conv, fully_connected,
                                           pooling, quantize, softmax)
from firmware_sim.emulator.kernels.common import in_memory_order
from firmware_sim.emulator.kernels.requantize import INT32_MAX
from firmware_sim.emulator.ops import PreparedOp

_FLOAT32_EXACT = 1 << 24
_FLOAT64_EXACT = 1 << 53


# -- exact float sums and the float64 output stage --------------------------------------------

def accumulation_bounds(weights: np.ndarray, input_offset: int) -> np.ndarray:
    """Per output channel (rows of weights), the largest |sum of weights * (input + offset)|."""
    max_input = max(abs(-128 + input_offset), abs(127 + input_offset))
    return np.abs(weights.astype(np.int64)).sum(axis=1) * max_input


def accumulation_dtype(bounds: np.ndarray):
    return np.float32 if int(bounds.max(initial=0)) < _FLOAT32_EXACT else np.float64


@dataclass(frozen=True)
class FloatStage:
    """The output stage in float64 closed form; arrays are (channels, 1)."""

    real_multiplier: np.ndarray  # m = M * 2**(shift - 31)
    rounding: np.ndarray  # 1/2 + 2**-(e+1) + output_offset
    biased_rounding: np.ndarray  # bias * m + rounding
    negative_rounding: np.ndarray  # 2**-e, taken back where acc + bias < 0


def float_stage(op_data, bounds: np.ndarray) -> FloatStage | None:
    """The float64 form of op_data's output stage for sums within bounds, None if not exact."""
    bias = np.asarray(op_data.bias, dtype=np.int64).reshape(-1)
    multiplier = [int(m) for m in op_data.output_multiplier]
    shift = [int(s) for s in op_data.output_shift]
    totals = [int(b) + abs(int(c)) for b, c in zip(bounds, bias)]
    exact = max(totals, default=0) <= INT32_MAX and all(  # no int32 wrap of the accumulator
        s <= 0 and total * m + (256 << (31 - s)) < _FLOAT64_EXACT
        for total, m, s in zip(totals, multiplier, shift))
    if not exact:
        return None
    right_shift = -np.asarray(shift, dtype=np.float64).reshape(-1, 1)  # sign flip: e = -shift
    half_step = np.where(right_shift > 0, 2.0 ** -(right_shift + 1), 0.0)
    real_multiplier = _column(multiplier) * 2.0 ** (-31 - right_shift)
    rounding = 0.5 + half_step + op_data.output_offset
    return FloatStage(real_multiplier=real_multiplier, rounding=rounding,
                      biased_rounding=_column(bias) * real_multiplier + rounding,
                      negative_rounding=2 * half_step)


def _column(values) -> np.ndarray:
    return np.asarray(values, dtype=np.int64).reshape(-1, 1)


@dataclass(frozen=True)
class MacParams:
    """A multiply-accumulate op's fast form, derived from its op data by `mac_params`."""

    op_data: conv.ConvOpData | fully_connected.FullyConnectedOpData
    weights: np.ndarray  # exact float (out, taps): (filter + filter_offset) as rows
    bounds: np.ndarray  # per channel, the largest |sum| (accumulation_bounds)
    float_stage: FloatStage | None
    patches_by_row: bool = False  # CONV_2D's im2col copies (fx, in) runs, not tap planes
    # DEPTHWISE_CONV_2D whose taps share one weight per channel: that weight, by channel
    tap_weights: np.ndarray | None = None
    table: output_table.OutputTable | None = None  # installed by tables.py


def mac_params(op_data) -> MacParams:
    """The fast form of a ConvOpData or FullyConnectedOpData."""
    weights = accumulate.filter_rows(op_data)  # (out, taps), filter_offset added
    bounds = accumulation_bounds(weights, op_data.input_offset)
    fields = dict(op_data=op_data, weights=weights.astype(accumulation_dtype(bounds)),
                  bounds=bounds, float_stage=float_stage(op_data, bounds))
    if isinstance(op_data, conv.ConvOpData) and op_data.depth_multiplier:
        tied = bool(np.all(weights == weights[:, :1]))
        fields["tap_weights"] = weights[:, 0].copy() if tied else None
    elif isinstance(op_data, conv.ConvOpData):
        fw, filter_in = op_data.filter.shape[2:]
        fields["patches_by_row"] = (op_data.dilation[1] == 1
                                    and fw * filter_in >= op_data.output_shape[1])
    return MacParams(**fields)


def mac_output_table(params: MacParams, activation: np.ndarray | None):
    """The table of a MAC op's output stage, then `activation`; over window sums for tied
    depthwise taps. None where a table would be too large or inexact."""
    if params.tap_weights is None:
        return output_table.build(params.op_data, params.bounds, params.weights.dtype,
                                  activation)
    window = np.ones((len(params.tap_weights), params.weights.shape[1]), dtype=np.int64)
    bounds = accumulation_bounds(window, params.op_data.input_offset)
    return output_table.build(params.op_data, bounds, params.weights.dtype, activation,
                              step=params.tap_weights)


def with_table(params: MacParams, table: output_table.OutputTable) -> MacParams:
    return dataclasses.replace(params, table=table)


def requantize(params: MacParams, acc: np.ndarray) -> np.ndarray:
    """int8 outputs of channel-major float sums (channels, pixels), exact every way."""
    if params.table is not None:
        return output_table.apply(params.table, acc)
    stage = params.float_stage
    if stage is None:  # the reference stage, on (pixels, channels)
        return accumulate.output_stage(params.op_data, acc.astype(np.int64).T).T
    # (acc + bias) * m + rounding, each product exact; acc + bias < 0 iff scaled < rounding
    scaled = acc * stage.real_multiplier
    scaled += stage.biased_rounding
    scaled -= (scaled < stage.rounding) * stage.negative_rounding
    np.floor(scaled, out=scaled)
    np.clip(scaled, params.op_data.quantized_activation_min,
            params.op_data.quantized_activation_max, out=scaled)
    return scaled.astype(np.int8)


# -- the fast kernels -------------------------------------------------------------------------

def conv_2d(params: MacParams, input_data: np.ndarray) -> np.ndarray:
    """CONV_2D as one im2col product of exact float sums."""
    op_data, dtype = params.op_data, params.weights.dtype
    if params.patches_by_row:
        padded = conv.offset_padded(op_data, input_data, dtype)
        acc = params.weights @ _patches_by_row(op_data, padded).T
    else:
        acc = params.weights @ _patches_by_tap(op_data, _planes(input_data), dtype)
    output = requantize(params, acc)
    return output.reshape(-1, len(input_data), *op_data.output_shape[:2]).transpose(1, 2, 3, 0)


def depthwise_conv_2d(params: MacParams, input_data: np.ndarray) -> np.ndarray:
    """DEPTHWISE_CONV_2D on channel planes; window sums where a window-sum table is installed."""
    op_data, dtype = params.op_data, params.weights.dtype
    planes = _planes(input_data)
    if op_data.depth_multiplier > 1:
        planes = np.repeat(planes, op_data.depth_multiplier, axis=0)
    padded = conv.offset_padded(op_data, planes.reshape(-1, *planes.shape[2:]), dtype)
    fh, fw = op_data.filter_hw
    acc = np.zeros((*planes.shape[:2], *op_data.output_shape[:2]), dtype=dtype)
    by_window_sum = params.tap_weights is not None and params.table is not None
    for fy in range(fh):
        for fx in range(fw):
            window = conv.tap_window(op_data, padded, fy, fx).reshape(acc.shape)
            if by_window_sum:
                acc += window
            else:
                acc += window * params.weights[:, fy * fw + fx, None, None, None]
    output = requantize(params, acc.reshape(len(acc), -1))
    return output.reshape(acc.shape).transpose(1, 2, 3, 0)


def fully_connected_(params: MacParams, input_data: np.ndarray) -> np.ndarray:
    """FULLY_CONNECTED as a float product, channel-major as the output stage wants."""
    op_data = params.op_data
    rows = input_data.reshape(-1, op_data.accum_depth)
    shifted = np.add(rows, op_data.input_offset, dtype=params.weights.dtype)
    output = requantize(params, params.weights @ shifted.T)
    return output.T.reshape(len(input_data), *op_data.output_shape)


def _planes(input_data: np.ndarray) -> np.ndarray:
    """(n, h, w, c) -> (c, n, h, w): one image plane per channel and image."""
    return input_data.transpose(3, 0, 1, 2)


def _patches_by_tap(op_data, planes: np.ndarray, dtype) -> np.ndarray:
    """im2col, transposed: (fh * fw * in, n * oh * ow) from (in, n, h, w) planes.

    Each tap copies whole output-sized planes, the long contiguous runs a 1-channel input needs.
    """
    fh, fw = op_data.filter_hw
    padded = conv.offset_padded(op_data, planes.reshape(-1, *planes.shape[2:]), dtype)
    patches = np.empty((fh, fw, len(padded), *op_data.output_shape[:2]), padded.dtype)
    for fy in range(fh):
        for fx in range(fw):
            patches[fy, fx] = conv.tap_window(op_data, padded, fy, fx)
    return patches.reshape(fh * fw * len(planes), -1)


def _patches_by_row(op_data, padded: np.ndarray) -> np.ndarray:
    """im2col: (n * oh * ow, fh * fw * in) from (n, h, w, in) input, undilated along x.

    Along a filter row the window is fw * in contiguous values of the padded image row.
    """
    n, _, _, channels = padded.shape
    (oh, ow), (stride_h, stride_w) = op_data.output_shape[:2], op_data.stride
    fh, fw = op_data.filter_hw
    patches = np.empty((n, oh, ow, fh, fw * channels), padded.dtype)
    for fy in range(fh):
        top = fy * op_data.dilation[0]
        rows = padded[:, top:top + (oh - 1) * stride_h + 1:stride_h].reshape(n, oh, -1)
        windows = sliding_window_view(rows, fw * channels, axis=2)
        patches[:, :, :, fy] = windows[:, :, :ow * stride_w * channels:stride_w * channels]
    return patches.reshape(n * oh * ow, -1)


# -- AVERAGE_POOL_2D by table ------------------------------------------------------------------

@dataclass(frozen=True)
class AveragePoolParams:
    """output = average_table[window sum + average_offset[y, x]], derived by `average_params`."""

    op_data: pooling.PoolOpData
    average_offset: np.ndarray  # (oh, ow) int32
    average_table: np.ndarray  # int8


def average_params(op_data: pooling.PoolOpData) -> AveragePoolParams:
    """One row per distinct window size: TFLM's clamped, rounded quotient of every possible sum
    (the reference division of pooling.average_pool, tabulated)."""
    count = pooling.filter_count(op_data)
    sizes, row_of_pixel = np.unique(count, return_inverse=True)
    width = 256 * int(sizes.max())
    acc = np.arange(width) - 128 * int(sizes.max())  # every sum of int8 values in a window
    rows = []
    for size in sizes:
        half = size // 2
        numerator = np.where(acc > 0, acc + half, acc - half)
        rows.append(np.sign(numerator) * (np.abs(numerator) // size))
    table = np.clip(np.array(rows), op_data.quantized_activation_min,
                    op_data.quantized_activation_max).astype(np.int8).reshape(-1)
    offset = row_of_pixel.reshape(count.shape) * width + 128 * int(sizes.max())
    return AveragePoolParams(op_data, offset.astype(np.int32), table)


def average_pool(params: AveragePoolParams, input_data: np.ndarray) -> np.ndarray:
    """AveragePool: int32 window sums, then the rounded division by table lookup."""
    op_data = params.op_data
    windows = pooling.tap_windows(op_data, pooling.padded_planes(op_data, input_data, 0))
    acc = np.add(next(windows), params.average_offset, dtype=np.int32)
    for window in windows:
        acc += window
    return params.average_table.take(acc).transpose(1, 2, 3, 0)


# -- ops of one int8 input by table ----------------------------------------------------------

@dataclass(frozen=True)
class ByteTable:
    table: np.ndarray  # 256 outputs (int8; float32 for DEQUANTIZE), indexed by the input byte


def lookup(params: ByteTable, input_data: np.ndarray) -> np.ndarray:
    """table[input byte], gathered in memory order so the input's layout carries over."""
    data, undo = in_memory_order(input_data)
    return params.table.take(data.view(np.uint8)).transpose(undo)


def quantize_lookup(params: ByteTable, input_data: np.ndarray) -> np.ndarray:
    """int8 QUANTIZE by table: `lookup`, under its own name, which tables.py does not fold."""
    return lookup(params, input_data)


def _byte_table(op_data: activations.LookupParams) -> ByteTable:
    return ByteTable(op_data.table)


# -- SOFTMAX by exp tables ---------------------------------------------------------------------

@dataclass(frozen=True)
class SoftmaxTables:
    """The reference exps of the 256 distances below a row's maximum, derived by
    `softmax_tables`: Q0.31, Q12.19 (for the sum) and whether in range."""

    exp_table: np.ndarray
    accumulation_table: np.ndarray
    in_range: np.ndarray


def softmax_tables(op_data: softmax.SoftmaxParams) -> SoftmaxTables:
    exp_table, in_range = op_data.exps(-np.arange(256, dtype=np.int64))
    return SoftmaxTables(exp_table, softmax.accumulation_exps(exp_table), in_range)


def softmax_(params: SoftmaxTables, input_data: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, its exps gathered from the tables by distance."""
    rows = input_data.reshape(-1, input_data.shape[-1])
    input_diff_index = rows.max(axis=1, keepdims=True).astype(np.int64) - rows
    return softmax.normalise(params.exp_table[input_diff_index],
                             params.accumulation_table[input_diff_index],
                             params.in_range[input_diff_index]).reshape(input_data.shape)


# -- reference op -> fast op -------------------------------------------------------------------

_FAST = {conv.conv_per_channel: (mac_params, conv_2d),
         conv.depthwise_conv_per_channel: (mac_params, depthwise_conv_2d),
         fully_connected.fully_connected: (mac_params, fully_connected_),
         pooling.average_pool: (average_params, average_pool),
         activations.evaluate: (_byte_table, lookup),
         softmax.softmax: (softmax_tables, softmax_)}


def fast_op(op: PreparedOp) -> PreparedOp:
    """The op with its fast kernel and the fast form derived from its op data, if it has one."""
    if op.kernel is quantize.quantize and isinstance(op.params, activations.LookupParams):
        return dataclasses.replace(op, params=_byte_table(op.params), kernel=quantize_lookup)
    if op.kernel not in _FAST:
        return op
    derive, kernel = _FAST[op.kernel]
    return dataclasses.replace(op, params=derive(op.params), kernel=kernel)



def has_output_stage(op: PreparedOp) -> bool:
    """Whether a reference op is a multiply-accumulate op, whose fast form can take a table."""
    return _FAST.get(op.kernel, (None,))[0] is mac_params
