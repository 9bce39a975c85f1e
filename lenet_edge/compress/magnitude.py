"""The baseline OBD has to beat: tfmot's prune_low_magnitude, one round at a time.

A round wraps every prunable layer (masks.prunable_layers) in tfmot's PruneLowMagnitude with a
ConstantSparsity that prunes once, at the first training step, and then holds its mask while the
round retrains. As tfmot does, each layer is pruned to the same sparsity, by |w|; OBD instead
ranks all layers together by saliency.

tfmot counts a layer's sparsity over its whole kernel, where a connection table's zeros already
count as pruned (zero is the smallest magnitude). So a layer with c connected of n entries gets
kernel sparsity 1 - (1 - s) c / n: it keeps the same (1 - s) c weights as sparsity s over the
prunable weights would.
"""
from __future__ import annotations

from collections.abc import Callable

import tensorflow_model_optimization as tfmot
import tf_keras as keras

from lenet_edge.compress import masks
from lenet_edge.models import layers

_sparsity = tfmot.sparsity.keras


def kernel_sparsity(target: float, layer) -> float:
    """The whole-kernel sparsity that leaves (1 - target) of the layer's connected weights."""
    connected = masks.connected(layer)
    return 1.0 - (1.0 - target) * connected.sum() / connected.size


def prune_round(model, target: float, fit: Callable) -> keras.Model:
    """Prunes each prunable layer to `target` by magnitude and retrains with `fit`.

    fit(wrapped_model, callbacks) compiles and trains; it must pass the callbacks to fit.
    Returns the unwrapped model, each pruned layer holding a masks.PruningMask of its zeros, so
    the deletions survive later retraining and QAT as OBD's do.
    """
    schedules = {
        layer.name: _sparsity.ConstantSparsity(kernel_sparsity(target, layer), begin_step=1, end_step=1)
        for layer in masks.prunable_layers(model)
    }

    def wrap(layer):
        # wraps the layer itself, so the pruned weights are the model's own
        if layer.name not in schedules:
            return layer
        return _sparsity.prune_low_magnitude(layer, pruning_schedule=schedules[layer.name])

    with layers.quantize_scope():
        wrapped = keras.models.clone_model(model, clone_function=wrap)
    fit(wrapped, [_sparsity.UpdatePruningStep()])
    stripped = _sparsity.strip_pruning(wrapped)
    return masks.with_masks(stripped, masks.alive(stripped))
