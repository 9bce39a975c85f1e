"""The int8 multiply-accumulate ops' shared steps: multipliers, exact sums, the output stage.

CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED end alike in TFLM's reference kernels:
    acc += bias
    acc = MultiplyByQuantizedMultiplier(acc, output_multiplier[c], output_shift[c])
    acc += output_offset
    acc = clamp(acc, quantized_activation_min, quantized_activation_max)
Kernels here hold sums channel-major, (channels, pixels), so per-channel constants broadcast along
contiguous rows.

Two exact shortcuts keep this fast:
- Sums of int8 products are taken by a float matrix product. Every partial sum is an integer of
  magnitude at most `bound` (sum of |weights| times the largest |input + input_offset|), so
  float32 is exact when bound < 2**24 and float64 when bound < 2**53.
- For a right shift e = -shift, the two roundings of MultiplyByQuantizedMultiplier collapse to
      floor(acc * M / 2**(31 + e) + 1/2 + s * 2**-(e + 1)),  s = +1 if acc >= 0 else -1
  (acc here includes the bias; the first rounding's ties go up, the second's away from zero).
  Every term, offset and clamp range included, is a multiple of 2**-(31 + e); while such
  multiples below (|acc| * M + 256 * 2**(31 + e)) / 2**(31 + e) fit float64's 53 bits, float64
  computes the expression exactly. Prepare checks this per channel (it holds for right shifts up
  to about 13, which covers LeNet-sized layers) and otherwise keeps the int64 path.
The interpreter may replace both by a table of the stage (output_table.py, tables.py).
"""
from dataclasses import dataclass

import numpy as np

from firmware_sim.emulator.ir import Tensor
from firmware_sim.emulator.kernels import output_table
from firmware_sim.emulator.kernels.common import OpContext
from firmware_sim.emulator.kernels.requantize import (INT32_MAX, multiply_by_quantized_multiplier,
                                                      quantize_multiplier, wrap_int32)

_FLOAT32_EXACT = 1 << 24
_FLOAT64_EXACT = 1 << 53


@dataclass(frozen=True)
class OutputStage:
    """Bias, requantization and clamp of channel-major int32 sums; arrays are (channels, 1)."""

    bias: np.ndarray  # int64
    output_multiplier: np.ndarray  # Q0.31 significands
    output_shift: np.ndarray  # > 0 shifts left, < 0 rounds right
    output_offset: int  # +output_zero_point
    quantized_activation_min: int
    quantized_activation_max: int
    accumulator_wraps: bool  # TFLM's int32 accumulator can overflow (and wraps)
    # float64 form of the same arithmetic, None when it would not be exact
    real_multiplier: np.ndarray | None = None  # m = M * 2**(shift - 31)
    rounding: np.ndarray | None = None  # 1/2 + 2**-(e+1) + output_offset
    biased_rounding: np.ndarray | None = None  # bias * m + rounding
    negative_rounding: np.ndarray | None = None  # 2**-e, taken back where acc + bias < 0
    # the same stage, possibly followed by an activation, as a table (see output_table.py)
    table: output_table.OutputTable | None = None


def checked_multiplier(ctx: OpContext, real_multiplier: float) -> tuple[int, int]:
    """QuantizeMultiplier, refusing shifts TFLM's `1 << left_shift` cannot represent."""
    multiplier, shift = quantize_multiplier(real_multiplier)
    ctx.ensure(shift <= 30, f"requantization multiplier {real_multiplier:g} is out of range")
    return multiplier, shift


def per_channel_multipliers(ctx: OpContext, input_: Tensor, filter_: Tensor, output: Tensor,
                            out_channels: int, quantized_dimension: int):
    """PopulateConvolutionQuantizationParams: input_scale * filter_scale[c] / output_scale.

    The float32 scales are widened to double before multiplying, as TFLM does; a per-tensor
    filter scale is broadcast to every channel.
    """
    scales = filter_.quant.scales
    ctx.ensure(len(scales) in (1, out_channels),
               f"filter has {len(scales)} scales for {out_channels} output channels")
    ctx.ensure(len(scales) == 1 or filter_.quant.quantized_dimension == quantized_dimension,
               f"filter is quantized along dimension {filter_.quant.quantized_dimension}, "
               f"expected {quantized_dimension}")
    input_scale, output_scale = input_.quant.scale, output.quant.scale
    pairs = [checked_multiplier(ctx, input_scale * float(scales[c % len(scales)]) / output_scale)
             for c in range(out_channels)]
    return [m for m, _ in pairs], [s for _, s in pairs]


def bias_values(ctx: OpContext, bias: Tensor | None, out_channels: int) -> np.ndarray:
    """The int32 bias as int64, zeros when the op has none."""
    if bias is None:
        return np.zeros(out_channels, dtype=np.int64)
    ctx.ensure(bias.is_constant, "bias must be a constant tensor")
    ctx.expect_dtype(bias, "int32", "bias")
    ctx.ensure(bias.size == out_channels,
               f"bias has {bias.size} values for {out_channels} output channels")
    return bias.data.reshape(-1).astype(np.int64)


def accumulation_bounds(weights: np.ndarray, input_offset: int) -> np.ndarray:
    """Per output channel (rows of weights), the largest |sum of weights * (input + offset)|."""
    max_input = max(abs(-128 + input_offset), abs(127 + input_offset))
    return np.abs(weights.astype(np.int64)).sum(axis=1) * max_input


def accumulation_dtype(bounds: np.ndarray):
    return np.float32 if int(bounds.max(initial=0)) < _FLOAT32_EXACT else np.float64


def output_stage(bounds: np.ndarray, bias: np.ndarray, multiplier: list[int], shift: list[int],
                 output_offset: int, activation_range: tuple[int, int]) -> OutputStage:
    """The OutputStage of channels whose sums stay within bounds, with the float64 form if exact."""
    totals = [int(b) + abs(int(c)) for b, c in zip(bounds, bias)]
    stage = dict(bias=_column(bias), output_multiplier=_column(multiplier),
                 output_shift=_column(shift), output_offset=output_offset,
                 quantized_activation_min=activation_range[0],
                 quantized_activation_max=activation_range[1],
                 accumulator_wraps=max(totals) > INT32_MAX)
    exact = not stage["accumulator_wraps"] and all(
        s <= 0 and total * m + (256 << (31 - s)) < _FLOAT64_EXACT
        for total, m, s in zip(totals, multiplier, shift))
    if exact:
        right_shift = -np.asarray(shift, dtype=np.float64).reshape(-1, 1)
        half_step = np.where(right_shift > 0, 2.0 ** -(right_shift + 1), 0.0)
        real_multiplier = _column(multiplier) * 2.0 ** (-31 - right_shift)
        rounding = 0.5 + half_step + output_offset
        stage.update(real_multiplier=real_multiplier, rounding=rounding,
                     biased_rounding=stage["bias"] * real_multiplier + rounding,
                     negative_rounding=2 * half_step)
    return OutputStage(**stage)


def _column(values) -> np.ndarray:
    return np.asarray(values, dtype=np.int64).reshape(-1, 1)


def requantize(stage: OutputStage, acc: np.ndarray) -> np.ndarray:
    """int8 outputs of channel-major sums (channels, pixels), exact either way."""
    if stage.table is not None:
        return output_table.apply(stage.table, acc)
    if stage.real_multiplier is not None:
        # (acc + bias) * m + rounding, each product exact; acc + bias < 0 iff scaled < rounding
        scaled = acc * stage.real_multiplier
        scaled += stage.biased_rounding
        scaled -= (scaled < stage.rounding) * stage.negative_rounding
        np.floor(scaled, out=scaled)
    else:
        acc = acc.astype(np.int64) + stage.bias
        if stage.accumulator_wraps:
            acc = wrap_int32(acc)
        scaled = multiply_by_quantized_multiplier(acc, stage.output_multiplier,
                                                  stage.output_shift)
        scaled += stage.output_offset
    np.clip(scaled, stage.quantized_activation_min, stage.quantized_activation_max, out=scaled)
    return scaled.astype(np.int8)
