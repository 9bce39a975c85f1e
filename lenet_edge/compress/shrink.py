"""Dead maps out of the graph: after pruning by maps, a smaller model that computes the same.

A feature map whose filter OBD deleted whole (all its kernel weights zero) is a constant: its
activation of its bias, the same at every position. Through the per-map layers after it
(subsampling, pooling) it stays a constant, and the next convolution or fully connected layer
adds that constant times its weights from the map, which is a term of its bias. So the map is
removed from the layer that makes it, from the per-map layers after it, and from the next
layer's inputs, whose biases take the folded constant: the model is smaller (fewer maps: less
arithmetic in every output stage, smaller activations) and computes the same function, up to
float rounding. Zeroed weights cost nothing in the sparse kernels; a zeroed map still cost its
output stage and its activation memory until it was removed.

Only what is exact is removed: a map is removed when the layers between it and the next
convolution (valid padding) or fully connected layer act map by map with valid padding, so its
constant is one number. The model's output units, and units read by a layer that cannot take a
constant into a bias (LeNet-5's RBF output), stay.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import tf_keras as keras

from lenet_edge.compress import masks
from lenet_edge.errors import ModelError
from lenet_edge.models import layers as zoo_layers

PER_MAP = (keras.layers.DepthwiseConv2D, keras.layers.AveragePooling2D, keras.layers.MaxPooling2D,
           keras.layers.Activation, keras.layers.Dropout)


@dataclasses.dataclass
class Maps:
    """The maps of one tensor: which of the original ones the smaller graph keeps, and the value
    everywhere of each removed one (0 for a kept map)."""
    keep: np.ndarray  # original indices, ascending
    constant: np.ndarray  # one value per original map

    @classmethod
    def all(cls, count: int) -> "Maps":
        return cls(np.arange(count), np.zeros(count, np.float32))

    @property
    def removed(self) -> np.ndarray:
        return np.setdiff1d(np.arange(len(self.constant)), self.keep)


def _absorbs(layer) -> bool:
    """A layer that can take a constant input map into its bias."""
    if type(layer) is keras.layers.Dense:  # not a subclass: the RBF output has no bias
        return layer.use_bias
    return type(layer) is keras.layers.Conv2D and layer.use_bias and layer.padding == "valid" \
        and layer.groups == 1


def _passes(layer) -> bool:
    """A layer a constant map crosses as one constant map (or, Flatten, as constant units)."""
    if isinstance(layer, keras.layers.Flatten):
        return True
    return isinstance(layer, PER_MAP) and getattr(layer, "padding", "valid") == "valid"


def _chain(model) -> list:
    """The model's layers after its input, when each reads the one before it (ModelError otherwise)."""
    chain = model.layers[1:]
    previous = model.layers[0]
    for layer in chain:
        inbound = layer.inbound_nodes[0].inbound_layers
        if isinstance(inbound, list) or inbound is not previous:
            raise ModelError(f"{model.name} is not a chain of layers at {layer.name}: maps cannot be removed")
        previous = layer
    return chain


def removable(chain: list) -> set:
    """Names of the layers whose dead maps may go: the next layer that mixes maps absorbs them."""
    names = set()
    for index, layer in enumerate(chain[:-1]):
        if not masks.is_prunable(layer):
            continue
        following = next((later for later in chain[index + 1:] if not _passes(later)), None)
        if following is not None and _absorbs(following):
            names.add(layer.name)
    return names


def shrink(model) -> keras.Model:
    """The model with every dead map removed (see the module docstring); the model itself when
    none is. Not compiled."""
    chain = _chain(model)
    can_go = removable(chain)
    maps = Maps.all(model.input_shape[-1])
    rebuilt, removed_any = [], False
    for layer in chain:
        new_layer, weights, maps_out = _shrink_layer(layer, maps, layer.name in can_go)
        removed_any |= len(maps_out.keep) < len(maps_out.constant)
        rebuilt.append((new_layer, weights))
        maps = maps_out
    if not removed_any:
        return model
    x = inputs = keras.Input(model.input_shape[1:], name=model.layers[0].name)
    for new_layer, _ in rebuilt:
        x = new_layer(x)
    smaller = keras.Model(inputs, x, name=model.name)
    for new_layer, weights in rebuilt:
        new_layer.set_weights(weights)
    return zoo_layers.apply_constraints(smaller)


def _shrink_layer(layer, maps: Maps, may_remove: bool):
    if _absorbs(layer) or masks.is_prunable(layer):
        return _shrink_mixing(layer, maps, may_remove)
    if isinstance(layer, keras.layers.Flatten):
        return _clone(layer, {}), [], _flattened(layer, maps)
    if len(maps.removed) == 0:
        return _clone(layer, {}), layer.get_weights(), Maps.all(layer.output_shape[-1])
    if not _passes(layer):
        raise ModelError(f"layer {layer.name} cannot pass a removed map")  # removable() keeps this away
    return _shrink_per_map(layer, maps)


def _shrink_mixing(layer, maps: Maps, may_remove: bool):
    """A Conv2D or Dense: removed input maps folded into the bias, dead output maps removed."""
    kernel, bias = layer.get_weights() if layer.use_bias else (layer.get_weights()[0], None)
    removed = maps.removed
    if len(removed):
        spatial = tuple(range(kernel.ndim - 2))
        bias = bias + np.einsum("i,io->o", maps.constant[removed], kernel[..., removed, :].sum(axis=spatial))
        kernel = kernel[..., maps.keep, :]
    outputs = kernel.shape[-1]
    dead = np.all(kernel.reshape(-1, outputs) == 0, axis=0) if may_remove else np.zeros(outputs, bool)
    keep_out = np.flatnonzero(~dead) if (~dead).any() else np.arange(1)  # a layer keeps one map at least
    constant = np.zeros(outputs, np.float32)
    if bias is not None and dead.any():
        constant[dead] = _activated(layer, bias[dead])
        constant[keep_out] = 0.0
    options = {"filters" if isinstance(layer, keras.layers.Conv2D) else "units": len(keep_out),
               "kernel_constraint": _sliced_constraint(layer, maps.keep, keep_out)}
    weights = [kernel[..., keep_out]] + ([] if bias is None else [bias[keep_out]])
    return _clone(layer, options), weights, Maps(keep_out, constant)


def _activated(layer, values: np.ndarray) -> np.ndarray:
    return np.asarray(keras.activations.get(layer.activation)(values.astype(np.float32)))


def _sliced_constraint(layer, keep_in: np.ndarray, keep_out: np.ndarray):
    """The layer's kernel constraint on the kept maps: its pruning mask and connection table sliced."""
    constraint = layer.kernel_constraint
    if isinstance(constraint, masks.PruningMask):
        return masks.PruningMask(constraint.keep[..., keep_in, :][..., keep_out],
                                 _sliced_table(constraint.inner, keep_in, keep_out))
    return _sliced_table(constraint, keep_in, keep_out)


def _sliced_table(constraint, keep_in: np.ndarray, keep_out: np.ndarray):
    if not isinstance(constraint, zoo_layers.ConnectionTableMask):
        return constraint
    renumber = {int(old): new for new, old in enumerate(keep_in)}
    return zoo_layers.ConnectionTableMask({
        new: tuple(renumber[i] for i in constraint.table[int(old)] if i in renumber)
        for new, old in enumerate(keep_out)})


def _shrink_per_map(layer, maps: Maps):
    """Subsampling, pooling, an activation: each map on its own, so a removed map's constant
    comes out as the layer's output for a constant input, the same at every position."""
    multiplier = getattr(layer, "depth_multiplier", 1)
    keep_out = (maps.keep[:, None] * multiplier + np.arange(multiplier)).ravel()
    probe = np.broadcast_to(maps.constant, (1, *layer.input_shape[1:])).astype(np.float32)
    constant = np.asarray(layer(probe))[0, 0, 0].copy()
    constant[keep_out] = 0.0
    weights = layer.get_weights()
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        weights = [weights[0][:, :, maps.keep, :]] + ([weights[1][keep_out]] if layer.use_bias else [])
    return _clone(layer, {}), weights, Maps(keep_out, constant)


def _flattened(layer, maps: Maps) -> Maps:
    """Flatten orders (row, column, map): unit p * maps + m is map m at position p."""
    positions, count = int(np.prod(layer.input_shape[1:-1])), len(maps.constant)
    keep = (np.arange(positions)[:, None] * count + maps.keep).ravel()
    return Maps(keep, np.tile(maps.constant, positions))


def _clone(layer, options: dict):
    return layer.__class__.from_config({**layer.get_config(), **options})
