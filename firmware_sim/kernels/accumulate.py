"""The int8 multiply-accumulate ops' shared steps: multipliers, bias, exact sums, requantization.

CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED all end the same way in TFLM's reference kernels:
an int32 accumulator plus bias, MultiplyByQuantizedMultiplier, output offset, activation clamp.
"""
import numpy as np

from firmware_sim.ir import Tensor
from firmware_sim.kernels.common import OpContext
from firmware_sim.kernels.requantize import (INT32_MAX, multiply_by_quantized_multiplier,
                                             quantize_multiplier, wrap_int32)

# float32 adds integers exactly below 2**24, float64 below 2**53
_FLOAT32_EXACT = 1 << 24


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
    multiplier, shift = zip(*pairs)
    return np.array(multiplier, dtype=np.int64), np.array(shift, dtype=np.int64)


def bias_values(ctx: OpContext, bias: Tensor | None, out_channels: int) -> np.ndarray:
    """The int32 bias as int64, zeros when the op has none."""
    if bias is None:
        return np.zeros(out_channels, dtype=np.int64)
    ctx.ensure(bias.is_constant, "bias must be a constant tensor")
    ctx.expect_dtype(bias, "int32", "bias")
    ctx.ensure(bias.size == out_channels,
               f"bias has {bias.size} values for {out_channels} output channels")
    return bias.data.reshape(-1).astype(np.int64)


def accumulation_dtype(weights: np.ndarray, input_offset: int, bias: np.ndarray):
    """The float dtype that sums weights (k, channels) * (input + input_offset) exactly.

    Returns (dtype, wraps): wraps is set when the int32 accumulator of TFLM could overflow, in
    which case requantize wraps the exact sum to int32 just as the C++ adds do.
    """
    max_input = max(abs(-128 + input_offset), abs(127 + input_offset))
    sums = np.abs(weights.astype(np.int64)).sum(axis=0)
    bound = int(sums.max(initial=0)) * max_input
    dtype = np.float32 if bound < _FLOAT32_EXACT else np.float64
    return dtype, bound + int(np.abs(bias).max(initial=0)) > INT32_MAX


def requantize(params, acc: np.ndarray) -> np.ndarray:
    """Bias, MultiplyByQuantizedMultiplier, output offset and clamp of (pixels, channels) sums."""
    acc = acc.astype(np.int64) + params.bias
    if params.accumulator_wraps:
        acc = wrap_int32(acc)
    acc = multiply_by_quantized_multiplier(acc, params.output_multiplier, params.output_shift)
    acc += params.output_offset
    np.clip(acc, params.quantized_activation_min, params.quantized_activation_max, out=acc)
    return acc.astype(np.int8)
