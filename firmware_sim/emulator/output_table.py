"""The output stage of a multiply-accumulate op as a table: int8 output = table[accumulator].

Bias, MultiplyByQuantizedMultiplier, output offset and clamp map each channel's int32 sum to an
int8 through a non-decreasing step function (the multiplier is positive). Outside an interval of
about 256 / multiplier sums it is constant at the clamp, so the whole stage is a table over that
interval, filled once by the reference arithmetic (kernels/accumulate.py) from the op data. An activation that alone
reads the op's output (TANH, LOGISTIC, RELU: itself a table over int8) composes into the same
table, and its constant ends are trimmed. The kernel then needs four passes over the sums (clip,
offset, integer conversion, gather) where the closed-form requantization needs eight, and the
activation's pass disappears.

A sum is an exact integer in the accumulation dtype (see speed.py); clipping it to the
channel's interval and adding the channel's offset into the flat table is exact, as both stay
integers below 2**24.
"""
import math
from dataclasses import dataclass

import numpy as np

from firmware_sim.emulator.kernels import accumulate
from firmware_sim.emulator.kernels.requantize import INT32_MAX

# A table bigger than this (one byte an entry) is not worth its filling time or cache misses;
# such stages keep the closed-form requantization.
MAX_ENTRIES = 1 << 22


@dataclass(frozen=True)
class OutputTable:
    """Channel tables laid end to end; arrays of bounds are (channels, 1) in the sums' dtype."""

    low: np.ndarray  # first sum with an entry; smaller sums give the same output
    high: np.ndarray  # last sum with an entry; larger sums give the same output
    offset: np.ndarray  # index of `low`'s entry minus `low`
    values: np.ndarray  # int8


def build(op_data, sum_bounds: np.ndarray, dtype, activation: np.ndarray | None = None,
          step: np.ndarray | None = None) -> OutputTable | None:
    """The table of the output stage of `op_data` (bias, output_multiplier, output_shift,
    output_offset, activation range: ConvOpData, FullyConnectedOpData) followed by `activation`
    (256 int8 by input byte), for sums within +-sum_bounds per channel; None when it would be
    too large or the stage is not monotonic.

    With `step`, the table is indexed by s where the sum is step[c] * s, s within +-sum_bounds
    (a depthwise filter whose taps share one weight sums its window first).
    """
    sum_bounds = np.asarray(sum_bounds, dtype=np.int64).reshape(-1)
    steps = np.ones_like(sum_bounds) if step is None else np.asarray(step, np.int64).reshape(-1)
    if not _monotonic(op_data, sum_bounds * np.abs(steps)):
        return None
    intervals = (_intervals(op_data, sum_bounds) if step is None
                 else [(-int(b), int(b)) for b in sum_bounds])
    if sum(high - low + 1 for low, high in intervals) > MAX_ENTRIES:
        return None
    lows, highs, offsets, values, start = [], [], [], [], 0
    for channel, (low, high) in enumerate(intervals):
        sums = np.arange(low, high + 1, dtype=np.int64)
        outputs = _requantized(op_data, channel, sums * steps[channel])
        if activation is not None:
            outputs = activation[outputs.astype(np.int8).view(np.uint8)]
        first, last = _varying_span(outputs)
        lows.append(low + first)
        highs.append(low + last)
        offsets.append(start - (low + first))
        values.append(outputs[first:last + 1].astype(np.int8))
        start += last - first + 1
    column = lambda v: np.asarray(v, dtype=dtype).reshape(-1, 1)  # noqa: E731
    return OutputTable(column(lows), column(highs), column(offsets), np.concatenate(values))


def apply(table: OutputTable, acc: np.ndarray) -> np.ndarray:
    """int8 outputs of channel-major sums (channels, pixels); `acc` is overwritten."""
    np.clip(acc, table.low, table.high, out=acc)
    acc += table.offset
    return table.values.take(acc.astype(np.intp))


def _monotonic(op_data, sum_bounds: np.ndarray) -> bool:
    """Whether the output stage is non-decreasing in the sum: no int32 wrap on the way, neither
    of the sum plus bias (TFLM's accumulator) nor of its left shift."""
    bias = np.abs(np.asarray(op_data.bias, dtype=np.int64).reshape(-1))
    left_shift = np.maximum(np.asarray(op_data.output_shift, dtype=np.int64).reshape(-1), 0)
    if np.any(sum_bounds + bias > INT32_MAX):
        return False
    return bool(np.all((sum_bounds + bias) << left_shift <= INT32_MAX))


def _intervals(op_data, sum_bounds: np.ndarray) -> list[tuple[int, int]]:
    """Per channel, sums [low, high] outside which the requantized output is clamped.

    From the real multiplier with two sums of margin each side (rounding moves a boundary by
    less than one sum), kept within the sums the channel can reach. A multiplier flushed to zero
    gives one output for every sum.
    """
    shift = np.asarray(op_data.output_shift, dtype=np.int64).reshape(-1)
    multiplier = np.asarray(op_data.output_multiplier, dtype=np.int64).reshape(-1) \
        * 2.0 ** (shift - 31)
    bias = np.asarray(op_data.bias, dtype=np.int64).reshape(-1)
    below = op_data.quantized_activation_min - op_data.output_offset - 1
    above = op_data.quantized_activation_max - op_data.output_offset + 1
    intervals = []
    for m, b, bound in zip(multiplier, bias, sum_bounds):
        if m <= 0:
            intervals.append((0, 0))
            continue
        low = min(max(math.floor(below / m) - int(b) - 2, -bound), bound)
        high = min(max(math.ceil(above / m) - int(b) + 2, low), bound)
        intervals.append((int(low), int(high)))
    return intervals


def _requantized(op_data, channel: int, sums: np.ndarray) -> np.ndarray:
    """TFLM's output stage (the reference's) on the int sums of one channel."""
    return accumulate.requantize(
        sums, op_data.bias[channel], op_data.output_multiplier[channel],
        op_data.output_shift[channel], op_data.output_offset,
        op_data.quantized_activation_min, op_data.quantized_activation_max)


def _varying_span(outputs: np.ndarray) -> tuple[int, int]:
    """First and last index such that outputs are constant before the first and after the last."""
    changes = np.flatnonzero(outputs[1:] != outputs[:-1])
    if len(changes) == 0:
        return 0, 0
    return int(changes[0]), int(changes[-1]) + 1
