"""RESHAPE: the same bytes under the output tensor's shape (TFLM copies, or aliases, the data)."""
from dataclasses import dataclass

import numpy as np

from firmware_sim.emulator.kernels.common import OpContext


@dataclass(frozen=True)
class ReshapeParams:
    output_shape: tuple[int, ...]  # per image, batch dimension dropped


def prepare_reshape(ctx: OpContext) -> ReshapeParams:
    """The optional second input (the new shape) is already folded into the output tensor."""
    ctx.expect_arity((1, 2))
    input_, output = ctx.input(0), ctx.output()
    ctx.ensure(input_.dtype == output.dtype, f"reshapes {input_.dtype} into {output.dtype}")
    ctx.ensure(input_.size == output.size,
               f"cannot reshape {list(input_.shape)} into {list(output.shape)}")
    return ReshapeParams(output.shape[1:])


def reshape(params: ReshapeParams, input_data: np.ndarray) -> np.ndarray:
    return input_data.reshape(len(input_data), *params.output_shape)
