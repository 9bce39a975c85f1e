"""Optimal Brain Damage (LeCun, Denker, Solla 1989): Hessian diagonal, saliency, deletion.

h_kk is the diagonal of the Hessian of the training criterion the zoo trains with (cross-entropy
on the softmax output, or mean squared error of the tanh outputs), averaged over a sample of the
training set, for every trainable Conv2D, DepthwiseConv2D and Dense kernel weight. A kernel weight
is shared over positions: its h_kk collects every connection it makes.

Two estimators, both of the Gauss-Newton (Levenberg-Marquardt) kind, so h_kk >= 0:

  paper  The paper's backward pass of second derivatives. For a unit with input sum a_i and
         output x_i = f(a_i), dropping the f'' terms and the cross terms between units:
             d2E/da_i^2  = f'(a_i)^2 sum_l w_li^2 d2E/da_l^2     (l: the units i feeds)
             d2E/dw_ij^2 = d2E/da_i^2 x_j^2, summed over the connections that share w_ij
         It starts at the criterion: 2/K for each of K outputs of mean squared error, p_i (1 - p_i)
         (the diagonal of its Hessian) for each logit of softmax + cross-entropy. Both sums are
         vector-Jacobian products of the layer's linear map with squared weights or squared
         inputs, so the pass costs about two gradient passes.
  gn     The exact diagonal of the Gauss-Newton matrix mean_n J_n^T H_n J_n: J_n the Jacobian of
         the criterion's input (the logits, or the MSE outputs) with respect to the weights, H_n
         the criterion's Hessian there (diag(p) - p p^T, or 2/K I). It keeps the cross terms the
         paper drops (between units, and between the positions of a shared weight). Cost: a
         gradient pass over K copies of each example (one per column of a factor of H_n), plus
         every copy's own kernel gradients, from its deltas and input patches.
On a network of one Dense layer no cross term exists, and the two coincide.

Saliency s_k = h_kk u_k^2 / 2 is the loss increase that deleting weight u_k alone is predicted
to cause (the gradient vanishing at a trained minimum, and the Hessian taken as diagonal).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf
import tf_keras as keras

from lenet_edge.errors import ModelError, UsageError
from lenet_edge.models import layers as zoo_layers

ESTIMATORS = ("paper", "gn")
LOSSES = ("crossentropy", "mse")
KERNEL_LAYERS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense)

# f'(a)^2 for each activation a chain may use (softmax only at the end, where it is the criterion's).
_F_PRIME_SQUARED = {
    "linear": tf.ones_like,
    "tanh": lambda a: tf.square(1.0 - tf.square(tf.tanh(a))),
    "relu": lambda a: tf.cast(a > 0, a.dtype),
}
_ACTIVATIONS = {"linear": tf.identity, "tanh": tf.tanh, "relu": tf.nn.relu}


def kernel_of(layer):
    return layer.depthwise_kernel if isinstance(layer, keras.layers.DepthwiseConv2D) else layer.kernel


def kernel_layers(model) -> list:
    """The layers whose kernel OBD estimates: trainable Conv2D, DepthwiseConv2D and Dense."""
    return [layer for layer in model.layers if isinstance(layer, KERNEL_LAYERS) and layer.trainable]


# ---------------------------------------------------------------------------------------------
# The forward pass both estimators share


@dataclasses.dataclass
class _Step:
    """One layer of the forward pass: what the backward pass of second derivatives reads."""
    layer: keras.layers.Layer
    inputs: tf.Tensor
    pre: tf.Tensor  # the input sums a (the layer's output when it has no activation)
    activation: str  # f, applied to pre


def _chain(model, loss: str) -> list:
    """The model's layers in order, without the final Softmax layer of a cross-entropy model."""
    chain = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    previous = model.input
    for layer in chain:
        if layer.input is not previous:
            raise ModelError(f"OBD needs a chain of layers; {layer.name!r} does not read the layer before it")
        previous = layer.output
    if loss == "crossentropy" and isinstance(chain[-1], keras.layers.Softmax):
        return chain[:-1]
    if loss == "crossentropy" and _activation(chain[-1]) != "softmax":
        raise ModelError(f"a cross-entropy model must end in a softmax; {model.name!r} ends in {chain[-1].name!r}")
    return chain


def _activation(layer) -> str:
    activation = getattr(layer, "activation", None)
    return "linear" if activation is None else keras.activations.serialize(activation)


def _forward(model, x, loss: str):
    """The steps of the chain and the criterion's input z (logits for cross-entropy)."""
    steps = []
    for layer in _chain(model, loss):
        activation = _activation(layer)
        if activation == "softmax" and loss == "crossentropy":
            activation = "linear"  # the criterion takes the logits; softmax is part of it
        if activation not in _ACTIVATIONS:
            raise ModelError(f"OBD does not handle activation {activation!r} of layer {layer.name!r}")
        pre = _pre_activation(layer, x)
        steps.append(_Step(layer, x, pre, activation))
        x = _ACTIVATIONS[activation](pre)
    return steps, x


def _pre_activation(layer, x):
    if isinstance(layer, KERNEL_LAYERS):
        pre = _linear(layer, x, kernel_of(layer))
        return pre + layer.bias if layer.use_bias else pre
    if isinstance(layer, keras.layers.Activation):
        return x
    if isinstance(layer, (keras.layers.Flatten, keras.layers.AveragePooling2D, zoo_layers.UnsharedBias)):
        return layer(x)
    raise ModelError(f"OBD does not handle layer {layer.name!r} ({type(layer).__name__})")


def _linear(layer, x, kernel):
    """The layer's weighted sums without bias: linear in x and in kernel."""
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return keras.backend.depthwise_conv2d(x, kernel, strides=layer.strides, padding=layer.padding,
                                              data_format=layer.data_format, dilation_rate=layer.dilation_rate)
    if isinstance(layer, keras.layers.Conv2D):
        return layer.convolution_op(x, kernel)
    return tf.matmul(x, kernel)


def _vjp(function, at, cotangent):
    at = tf.convert_to_tensor(at)
    with tf.GradientTape() as tape:
        tape.watch(at)
        value = function(at)
    return tape.gradient(value, at, output_gradients=cotangent)


# ---------------------------------------------------------------------------------------------
# The estimators


def hessian_diagonal(model, x, loss: str, estimator: str = "paper", batch_size: int | None = None) -> dict:
    """h_kk of every kernel of kernel_layers(model), as {layer name: array of the kernel's shape}.

    x: a sample of the training inputs; loss: "crossentropy" (model ends in softmax) or "mse".
    Labels are not needed: both estimators drop the terms that multiply the residual.
    batch_size: examples per pass; default 256 for paper, 32 for gn (which holds K copies of each).
    """
    batch_size = batch_size or (256 if estimator == "paper" else 32)
    if estimator not in ESTIMATORS:
        raise UsageError(f"unknown Hessian estimator {estimator!r}; choose one of {', '.join(ESTIMATORS)}")
    if loss not in LOSSES:
        raise UsageError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
    targets = kernel_layers(model)
    pass_ = _paper_batch if estimator == "paper" else _gn_batch
    batch = tf.function(lambda inputs: pass_(model, inputs, loss, targets), reduce_retracing=True)
    totals = [np.zeros(kernel_of(layer).shape, np.float64) for layer in targets]
    for start in range(0, len(x), batch_size):
        sums = batch(tf.constant(x[start:start + batch_size]))
        for total, value in zip(totals, sums):
            total += value.numpy()
    return {layer.name: total / len(x) for layer, total in zip(targets, totals)}


def _criterion_second_derivatives(z, loss):
    """d2E/dz^2 without cross terms: 2/K per output for MSE, p (1 - p) per logit for cross-entropy."""
    if loss == "mse":
        return tf.fill(tf.shape(z), tf.cast(2.0 / z.shape[-1], z.dtype))
    p = tf.nn.softmax(z)
    return p * (1.0 - p)


def _paper_batch(model, x, loss, targets):
    steps, z = _forward(model, x, loss)
    second = _criterion_second_derivatives(z, loss)  # d2E/d(output)^2 of the current step
    sums = {}
    for step in reversed(steps):
        second = _F_PRIME_SQUARED[step.activation](step.pre) * second  # now d2E/da^2
        second, sums[step.layer.name] = _backward(step, second)
    return [sums[layer.name] for layer in targets]


def _backward(step, second):
    """(d2E/dx^2 of the step's inputs, the step's kernel sums or None), from d2E/da^2."""
    layer, inputs = step.layer, step.inputs
    if isinstance(layer, KERNEL_LAYERS):
        kernel = kernel_of(layer)
        kernel_sums = _vjp(lambda k: _linear(layer, tf.square(inputs), k), kernel, second)
        return _vjp(lambda v: _linear(layer, v, tf.square(kernel)), inputs, second), kernel_sums
    if isinstance(layer, keras.layers.AveragePooling2D):
        # weights 1/n (valid padding: n = window size), so squared weights are the VJP over n
        return _vjp(layer, inputs, second) / float(np.prod(layer.pool_size)), None
    return tf.reshape(second, tf.shape(inputs)), None  # Flatten, UnsharedBias, Activation: weight 1


def _criterion_factor(z, loss):
    """F with H = F F^T, H the criterion's Hessian in z, shape (batch, K, K)."""
    count = z.shape[-1]
    if loss == "mse":
        return tf.eye(count, batch_shape=[tf.shape(z)[0]], dtype=z.dtype) * tf.sqrt(tf.cast(2.0 / count, z.dtype))
    # diag(p) - p p^T = F F^T for F[k, c] = sqrt(p_c) (delta_kc - p_k), using sum(p) = 1
    p = tf.nn.softmax(z)
    return (tf.eye(count, dtype=z.dtype) - p[:, :, None]) * tf.sqrt(p)[:, None, :]


def _gn_batch(model, x, loss, targets):
    # Row (n, c) of the batch is example n paired with column c of F_n. Backpropagating
    # s_nc = z_n . F_n[:, c] gives, at every layer, the rows' own deltas; a weight's per-row
    # gradient g_nc (summed over the positions sharing it) then gives sum_nc g_nc^2 = (J^T H J)_ww.
    count = model.output_shape[-1]
    rows = tf.repeat(x, count, axis=0)
    column = tf.one_hot(tf.range(tf.shape(rows)[0]) % count, count, dtype=rows.dtype)
    with tf.GradientTape() as tape:
        steps, z = _forward(model, rows, loss)
        directions = tf.einsum("rkc,rc->rk", tf.stop_gradient(_criterion_factor(z, loss)), column)
        s = tf.reduce_sum(z * directions)
    steps = {step.layer.name: step for step in steps}
    deltas = tape.gradient(s, [steps[layer.name].pre for layer in targets])
    return [_squared_row_gradients(layer, steps[layer.name].inputs, delta) for layer, delta in zip(targets, deltas)]


def _squared_row_gradients(layer, inputs, delta):
    """sum over rows of (the row's gradient with respect to the kernel)^2, in the kernel's shape."""
    if isinstance(layer, keras.layers.Dense):
        return tf.einsum("ri,ro->io", tf.square(inputs), tf.square(delta))
    kernel_shape = kernel_of(layer).shape
    (kh, kw), rows = layer.kernel_size, tf.shape(inputs)[0]
    # every output position's receptive field as a row, flattened in the kernel's (kh, kw, in) order
    patches = tf.image.extract_patches(inputs, [1, kh, kw, 1], [1, *layer.strides, 1],
                                       [1, *layer.dilation_rate, 1], layer.padding.upper())
    if isinstance(layer, keras.layers.DepthwiseConv2D):  # output channel = input channel * multiplier + m
        maps, multiplier = kernel_shape[2], kernel_shape[3]
        patches = tf.reshape(patches, [rows, -1, kh * kw, maps])
        gradients = tf.einsum("rpkc,rpcm->rkcm", patches, tf.reshape(delta, [rows, -1, maps, multiplier]))
    else:
        patches = tf.reshape(patches, [rows, -1, kh * kw * kernel_shape[2]])
        gradients = tf.einsum("rpk,rpo->rko", patches, tf.reshape(delta, [rows, -1, kernel_shape[3]]))
    return tf.reshape(tf.reduce_sum(tf.square(gradients), axis=0), kernel_shape)


# ---------------------------------------------------------------------------------------------
# Saliency and deletion


def saliency(model, hessian: dict) -> dict:
    """s_k = h_kk u_k^2 / 2 for every kernel in `hessian`."""
    return {name: 0.5 * h * np.square(kernel_of(model.get_layer(name)).numpy()) for name, h in hessian.items()}


@dataclasses.dataclass
class Deletion:
    keep: dict  # layer name -> bool array: the weights left alive after the deletion
    predicted_increase: float  # the sum of the deleted weights' saliencies


def delete_lowest(saliencies: dict, alive: dict, count: int) -> Deletion:
    """Deletes the `count` alive weights of lowest saliency, ranked over all layers together.

    alive: layer name -> bool array of the weights that may still be deleted (prunable, not yet
    deleted); the ranking sees only those. Ties go to the earlier layer and position.
    """
    names = list(alive)
    scores = np.concatenate([saliencies[name][alive[name]] for name in names])
    if not 0 <= count <= len(scores):
        raise UsageError(f"cannot delete {count} of {len(scores)} remaining weights")
    lowest = np.argsort(scores, kind="stable")[:count]
    survives = np.ones(len(scores), bool)
    survives[lowest] = False
    keep, offset = {}, 0
    for name in names:
        mask, size = alive[name].copy(), int(alive[name].sum())
        mask[alive[name]] = survives[offset:offset + size]
        keep[name], offset = mask, offset + size
    return Deletion(keep, float(scores[lowest].sum()))


def mean_loss(model, x, targets, loss: str) -> float:
    """The training criterion on (x, targets): what h_kk is the Hessian of."""
    criterion = keras.losses.MeanSquaredError() if loss == "mse" else keras.losses.SparseCategoricalCrossentropy()
    return float(criterion(targets, model.predict(x, batch_size=1024, verbose=0)))


def delete_for_cost(saliencies: dict, alive: dict, costs: dict, amount: float, per_cost: bool = True,
                    groups: dict | None = None) -> Deletion:
    """Deletes alive weights until their cost adds up to `amount`: the groups of lowest saliency
    per unit of cost first (per_cost), or of lowest saliency (OBD as the paper ranks it).

    costs: layer name -> what each weight costs the device (multiply-adds per digit, or bytes),
    in the kernel's shape. groups: layer name -> an int array of the kernel's shape naming each
    weight's group (a feature map's filter): a group's saliency and cost are the sums over its
    alive weights, and it goes whole. Without groups every weight is its own.
    """
    names = list(alive)
    labels, offset = [], 0
    for name in names:  # one id per group over all layers, for the alive weights only
        ids = np.arange(alive[name].size).reshape(alive[name].shape) if groups is None or name not in groups \
            else np.asarray(groups[name])
        labels.append(ids[alive[name]] + offset)
        offset += int(ids.max(initial=-1)) + 1
    label = np.concatenate(labels)
    score = np.bincount(label, np.concatenate([saliencies[n][alive[n]] for n in names]), offset)
    cost = np.bincount(label, np.concatenate([costs[n][alive[n]] for n in names]), offset)
    present = np.flatnonzero(np.bincount(label, minlength=offset) > 0)
    if not 0 <= amount <= cost[present].sum():
        raise UsageError(f"cannot delete a cost of {amount:,.0f} of the {cost[present].sum():,.0f} remaining")
    rank = score[present] / np.maximum(cost[present], 1e-12) if per_cost else score[present]
    order = present[np.argsort(rank, kind="stable")]
    count = int(np.searchsorted(np.cumsum(cost[order]), amount)) + 1 if amount > 0 else 0
    deleted = np.zeros(offset, bool)
    deleted[order[:count]] = True
    keep = {}
    for name, ids in zip(names, labels):
        mask = alive[name].copy()
        mask[alive[name]] = ~deleted[ids]
        keep[name] = mask
    return Deletion(keep, float(score[order[:count]].sum()))

