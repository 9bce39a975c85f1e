"""The int8 multiply-accumulate ops' shared steps: multipliers, bias and the output stage.

CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED end alike in TFLM's reference kernels:
    acc += bias
    acc = MultiplyByQuantizedMultiplier(acc, output_multiplier[c], output_shift[c])
    acc += output_offset
    acc = max(acc, quantized_activation_min); acc = min(acc, quantized_activation_max)
This module is the reference form: integers only, sums in int64 wrapped where TFLM's int32 would
wrap. The speed forms of the same stage (exact float sums, a float64 closed form, tables) are
derived from the op data in emulator/speed.py.
"""
import numpy as np

from firmware_sim.emulator.ir import Tensor
from firmware_sim.emulator.kernels.common import OpContext
from firmware_sim.emulator.kernels.requantize import (multiply_by_quantized_multiplier,
                                                      quantize_multiplier, wrap_int32)


def checked_multiplier(ctx: OpContext, real_multiplier: float) -> tuple[int, int]:
    """QuantizeMultiplier, refusing shifts TFLM's `1 << left_shift` cannot represent."""
    multiplier, shift = quantize_multiplier(real_multiplier)
    ctx.ensure(shift <= 30, f"requantization multiplier {real_multiplier:g} is out of range")
    return multiplier, shift


def per_channel_multipliers(ctx: OpContext, input_: Tensor, filter_: Tensor, output: Tensor,
                            out_channels: int, quantized_dimension: int):
    """PopulateConvolutionQuantizationParams: input_scale * filter_scale[c] / output_scale.

    The float32 scales are widened to double before multiplying, as TFLM does; a per-tensor
    filter scale is broadcast to every channel. Returns (output_multiplier, output_shift) as
    int32 arrays; a positive shift multiplies, a negative one rounds right (TFLM's sign).
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
    return multipliers_and_shifts(pairs)


def multipliers_and_shifts(pairs) -> tuple[np.ndarray, np.ndarray]:
    """[(M, shift), ...] as TFLM's per_channel_output_multiplier and _shift int32 arrays."""
    return (np.array([m for m, _ in pairs], dtype=np.int32).reshape(-1),
            np.array([s for _, s in pairs], dtype=np.int32).reshape(-1))


def bias_values(ctx: OpContext, bias: Tensor | None, out_channels: int) -> np.ndarray:
    """The int32 bias, zeros when the op has none (TFLM then adds nothing)."""
    if bias is None:
        return np.zeros(out_channels, dtype=np.int32)
    ctx.ensure(bias.is_constant, "bias must be a constant tensor")
    ctx.expect_dtype(bias, "int32", "bias")
    ctx.ensure(bias.size == out_channels,
               f"bias has {bias.size} values for {out_channels} output channels")
    return bias.data.reshape(-1).astype(np.int32)


def requantize(acc: np.ndarray, bias, output_multiplier, output_shift, output_offset: int,
               quantized_activation_min: int, quantized_activation_max: int) -> np.ndarray:
    """TFLM's output stage on int64 sums; per-channel arrays broadcast against acc's last axis.

    TFLM accumulates in int32, which wraps (two's complement) on overflow; summing in int64 and
    wrapping once after the bias gives the same residue, hence the same int32.
    """
    acc = wrap_int32(np.asarray(acc, dtype=np.int64) + np.asarray(bias, dtype=np.int64))
    acc = multiply_by_quantized_multiplier(acc, output_multiplier, output_shift)
    acc += output_offset
    return np.clip(acc, quantized_activation_min, quantized_activation_max).astype(np.int8)


def output_stage(op_data, acc: np.ndarray) -> np.ndarray:
    """`requantize` with an op data's bias, multipliers, shifts, offset and activation range;
    acc is (..., channels)."""
    return requantize(acc, op_data.bias, op_data.output_multiplier, op_data.output_shift,
                      op_data.output_offset, op_data.quantized_activation_min,
                      op_data.quantized_activation_max)


def filter_rows(op_data) -> np.ndarray:
    """The factors the sums multiply (input + input_offset) by, as int64 rows (one per output
    channel): a CONV_2D filter's (fy, fx, in) taps, a depthwise filter's (fy, fx) taps, a
    FULLY_CONNECTED filter with its filter_offset added. Derived, never stored: the speed
    forms and the firmware emitters start from it."""
    if getattr(op_data, "depth_multiplier", 0):  # DEPTHWISE_CONV_2D: (1, fh, fw, out)
        return op_data.filter.reshape(-1, op_data.filter.shape[3]).T.astype(np.int64)
    rows = op_data.filter.reshape(len(op_data.filter), -1).astype(np.int64)
    return rows + getattr(op_data, "filter_offset", 0)
