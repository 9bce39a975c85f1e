"""Pruning masks: deleted kernel weights stay exactly zero through retraining, QAT and reloads.

PruningMask is a kernel constraint that wraps the zoo's own (a ConnectionTableMask, or none):
    kernel <- inner(kernel) * keep
Keras applies it after every optimizer step, so a deleted weight is back at zero after each
update, and the connection table still applies underneath, so a table zero never comes back
whatever `keep` says. The mask travels in the layer config (bits packed, zlib, base64), so
model.keras, .h5 and tfmot's re-cloning in quantize_apply all carry it.

Sparsity is counted over the prunable weights: the kernel entries of the trainable Conv2D and
Dense layers that their connection table connects. Not prunable: the tables' fixed zeros, the RBF
output's fixed codes (not trainable), biases, and the subsampling coefficients (a DepthwiseConv2D
window tied to one value: deleting it removes a whole map, not a connection).
"""
from __future__ import annotations

import base64
import zlib

import numpy as np
import tensorflow as tf
import tf_keras as keras

from lenet_edge.models import layers

_register = keras.saving.register_keras_serializable(package="lenet_edge")


@_register
class PruningMask(keras.constraints.Constraint):
    """kernel <- inner(kernel) * keep, keep a 0/1 array of the kernel's shape."""

    def __init__(self, keep, inner=None):
        self.keep = np.asarray(keep, bool)
        self.inner = inner

    def __call__(self, w):
        w = self.inner(w) if self.inner is not None else w
        return w * tf.constant(self.keep, dtype=w.dtype)

    def mask(self, shape):
        """The 0/1 mask of the kernel entries both masks leave in (ConnectionTableMask.mask's form)."""
        return (self.keep & _connected(self.inner, shape)).astype(np.float32)

    def free_parameters(self, shape):
        """What registry.count_parameters counts: the weights both masks leave in."""
        return int(np.count_nonzero(self.mask(shape)))

    def get_config(self):
        packed = zlib.compress(np.packbits(self.keep).tobytes())
        inner = None if self.inner is None else keras.constraints.serialize(self.inner)
        return {"shape": list(self.keep.shape), "keep": base64.b64encode(packed).decode("ascii"), "inner": inner}

    @classmethod
    def from_config(cls, config):
        shape = tuple(config["shape"])
        bits = np.unpackbits(np.frombuffer(zlib.decompress(base64.b64decode(config["keep"])), np.uint8))
        inner = None if config["inner"] is None else keras.constraints.get(config["inner"])
        return cls(bits[: int(np.prod(shape))].reshape(shape).astype(bool), inner)


def is_prunable(layer) -> bool:
    """A trainable Conv2D or Dense layer (a DepthwiseConv2D is neither)."""
    return isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)) and layer.trainable


def prunable_layers(model) -> list:
    """The prunable layers, in model order."""
    return [layer for layer in model.layers if is_prunable(layer)]


def connected(layer) -> np.ndarray:
    """The kernel entries the layer's connection table connects (all of them without a table)."""
    return _connected(_table_constraint(layer), tuple(layer.kernel.shape))


def _table_constraint(layer):
    constraint = layer.kernel_constraint
    return constraint.inner if isinstance(constraint, PruningMask) else constraint


def _connected(constraint, shape) -> np.ndarray:
    if isinstance(constraint, layers.ConnectionTableMask):
        return constraint.mask(shape) > 0
    return np.ones(shape, bool)


def alive(model) -> dict:
    """Layer name -> the prunable weights not yet deleted (connected and not exactly zero)."""
    return {layer.name: connected(layer) & (layer.kernel.numpy() != 0) for layer in prunable_layers(model)}


def prunable_count(model) -> int:
    return sum(int(connected(layer).sum()) for layer in prunable_layers(model))


def sparsity(model) -> float:
    """The deleted fraction of the prunable weights."""
    return 1.0 - sum(int(mask.sum()) for mask in alive(model).values()) / prunable_count(model)


def with_masks(model, keep: dict):
    """A copy of `model` whose layers in `keep` (name -> bool array) hold a PruningMask.

    The copy has the model's weights with the masks applied; it is not compiled.
    """
    def clone(layer):
        config = layer.get_config()
        if layer.name in keep:
            config["kernel_constraint"] = PruningMask(keep[layer.name], _table_constraint(layer))
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return layers.apply_constraints(copy)
