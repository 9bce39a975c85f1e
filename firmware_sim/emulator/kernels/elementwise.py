"""ADD and MUL on int8, with numpy broadcasting (TFLM broadcasts the same way, up to 6-D).

TFLM: micro/kernels/add_common.cc and mul_common.cc prepare; reference/integer_ops/add.h AddFunc
and mul.h MulElementwise compute. ADD brings both inputs to a common scale with 20 bits of
headroom before summing; MUL multiplies the offset inputs and rescales once.
"""
from dataclasses import dataclass

import numpy as np

from firmware_sim.emulator.kernels.accumulate import checked_multiplier
from firmware_sim.emulator.kernels.common import OpContext, activation_range_quantized
from firmware_sim.emulator.kernels.requantize import (multiply_by_quantized_multiplier,
                                             multiply_by_quantized_multiplier_smaller_than_one_exp,
                                                      quantize_multiplier)

_ADD_LEFT_SHIFT = 20  # int8 inputs are scaled up by 2**20 before rescaling


@dataclass(frozen=True)
class AddParams:
    input1_offset: int  # -input1_zero_point
    input2_offset: int
    output_offset: int  # +output_zero_point
    input1_multiplier: int
    input1_shift: int  # <= 0
    input2_multiplier: int
    input2_shift: int
    output_multiplier: int
    output_shift: int
    quantized_activation_min: int
    quantized_activation_max: int


@dataclass(frozen=True)
class MulParams:
    input1_offset: int
    input2_offset: int
    output_offset: int
    output_multiplier: int
    output_shift: int  # > 0 shifts left
    quantized_activation_min: int
    quantized_activation_max: int


def _binary_int8(ctx: OpContext):
    """Both inputs and the output int8, the output shaped as the inputs broadcast."""
    ctx.expect_arity((2,))
    input1, input2, output = ctx.input(0), ctx.input(1), ctx.output()
    for tensor, role in ((input1, "input 1"), (input2, "input 2"), (output, "output")):
        ctx.expect_dtype(tensor, "int8", role)
    ctx.ensure(not (input1.is_constant and input2.is_constant), "both inputs are constant")
    try:
        broadcast = np.broadcast_shapes(input1.shape, input2.shape)
    except ValueError:
        raise ctx.fail(f"input shapes {list(input1.shape)} and {list(input2.shape)} do not "
                       f"broadcast") from None
    ctx.expect_shape(output, broadcast, "output")
    # the batch axis leads the output only if each live input spans all of the output's axes
    for tensor in (input1, input2):
        ctx.ensure(tensor.is_constant or len(tensor.shape) == len(output.shape),
                   f"input {tensor.name!r} is broadcast across the batch dimension")
    return input1, input2, output


def _smaller_than_one(ctx: OpContext, real_multiplier: float) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp, whose range TFLM checks fatally."""
    ctx.ensure(0.0 < real_multiplier < 1.0,
               f"rescaling multiplier {real_multiplier:g} is outside (0, 1)")
    multiplier, shift = quantize_multiplier(real_multiplier)
    ctx.ensure(shift <= 0, f"rescaling multiplier {real_multiplier:g} rounds up to 1")
    return multiplier, shift


def prepare_add(ctx: OpContext) -> AddParams:
    """CalculateOpDataAdd for int8."""
    input1, input2, output = _binary_int8(ctx)
    scale1, scale2 = input1.quant.scale, input2.quant.scale
    twice_max_input_scale = 2 * max(scale1, scale2)
    input1_multiplier, input1_shift = _smaller_than_one(ctx, scale1 / twice_max_input_scale)
    input2_multiplier, input2_shift = _smaller_than_one(ctx, scale2 / twice_max_input_scale)
    output_multiplier, output_shift = _smaller_than_one(
        ctx, twice_max_input_scale / ((1 << _ADD_LEFT_SHIFT) * output.quant.scale))
    activation_min, activation_max = activation_range_quantized(
        ctx, ctx.op.options["fused_activation_function"], output)
    return AddParams(
        input1_offset=-input1.quant.zero_point, input2_offset=-input2.quant.zero_point,
        output_offset=output.quant.zero_point,
        input1_multiplier=input1_multiplier, input1_shift=input1_shift,
        input2_multiplier=input2_multiplier, input2_shift=input2_shift,
        output_multiplier=output_multiplier, output_shift=output_shift,
        quantized_activation_min=activation_min, quantized_activation_max=activation_max)


def add(params: AddParams, input1_data: np.ndarray, input2_data: np.ndarray) -> np.ndarray:
    """AddFunc, elementwise over the broadcast inputs."""
    input1_val = input1_data.astype(np.int64) + params.input1_offset
    input2_val = input2_data.astype(np.int64) + params.input2_offset
    shifted_input1_val = input1_val << _ADD_LEFT_SHIFT
    shifted_input2_val = input2_val << _ADD_LEFT_SHIFT
    scaled_input1_val = multiply_by_quantized_multiplier_smaller_than_one_exp(
        shifted_input1_val, params.input1_multiplier, params.input1_shift)
    scaled_input2_val = multiply_by_quantized_multiplier_smaller_than_one_exp(
        shifted_input2_val, params.input2_multiplier, params.input2_shift)
    raw_sum = scaled_input1_val + scaled_input2_val
    raw_output = multiply_by_quantized_multiplier_smaller_than_one_exp(
        raw_sum, params.output_multiplier, params.output_shift) + params.output_offset
    return np.clip(raw_output, params.quantized_activation_min,
                   params.quantized_activation_max).astype(np.int8)


def prepare_mul(ctx: OpContext) -> MulParams:
    """CalculateOpDataMul for int8: one multiplier, input1_scale * input2_scale / output_scale."""
    input1, input2, output = _binary_int8(ctx)
    activation_min, activation_max = activation_range_quantized(
        ctx, ctx.op.options["fused_activation_function"], output)
    output_multiplier, output_shift = checked_multiplier(
        ctx, input1.quant.scale * input2.quant.scale / output.quant.scale)
    return MulParams(
        input1_offset=-input1.quant.zero_point, input2_offset=-input2.quant.zero_point,
        output_offset=output.quant.zero_point,
        output_multiplier=output_multiplier, output_shift=output_shift,
        quantized_activation_min=activation_min, quantized_activation_max=activation_max)


def mul(params: MulParams, input1_data: np.ndarray, input2_data: np.ndarray) -> np.ndarray:
    """MulElementwise / BroadcastMul6DSlow."""
    input1_val = input1_data.astype(np.int64) + params.input1_offset
    input2_val = input2_data.astype(np.int64) + params.input2_offset
    unclamped_result = params.output_offset + multiply_by_quantized_multiplier(
        input1_val * input2_val, params.output_multiplier, params.output_shift)
    return np.clip(unclamped_result, params.quantized_activation_min,
                   params.quantized_activation_max).astype(np.int8)
