"""OBD's Hessian diagonal against brute force, a plain loop of the paper's recursion, and the exact
Hessian; saliency and deletion."""
import lenet_edge  # noqa: F401  (first: selects Keras 2 before TensorFlow loads)

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from lenet_edge.compress import obd
from lenet_edge.errors import ModelError, UsageError
from lenet_edge.models import registry

CLASSES = 3


def _tiny(loss, seed=0):
    """Two layers: a shared 3x3 convolution (2 maps) on 5x5, then a dense output of 3 units."""
    keras.utils.set_random_seed(seed)
    image = keras.Input((5, 5, 1))
    x = keras.layers.Conv2D(2, 3, activation="tanh", name="conv")(image)
    x = keras.layers.Flatten()(x)
    out = keras.layers.Dense(CLASSES, activation="softmax" if loss == "crossentropy" else "tanh", name="dense")(x)
    return keras.Model(image, out)


def _one_layer(loss, seed=0):
    keras.utils.set_random_seed(seed)
    image = keras.Input((6,))
    out = keras.layers.Dense(CLASSES, activation="softmax" if loss == "crossentropy" else "tanh", name="dense")(image)
    return keras.Model(image, out)


def _data(shape, n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, *shape)).astype(np.float32)
    labels = (x.reshape(n, -1)[:, :CLASSES] * [1.0, 0.5, -1.0]).argmax(1)  # a learnable rule
    return x, labels


def _targets(labels, loss):
    return labels if loss == "crossentropy" else 2.0 * np.eye(CLASSES, dtype=np.float32)[labels] - 1.0


def _criterion_input(model, x, loss):
    """Logits (cross-entropy) or outputs (MSE), computed from the Keras layers directly."""
    if loss == "mse":
        return model(x)
    dense = model.get_layer("dense")
    features = keras.Model(model.input, dense.input)
    return tf.matmul(features(x), dense.kernel) + dense.bias


def _kernels(model):
    return [layer.kernel for layer in model.layers if hasattr(layer, "kernel")]


# ---------------------------------------------------------------------------------------------
# gn: brute-force J^T H J from full per-example Jacobians


def _brute_force_gauss_newton(model, x, loss):
    kernels = _kernels(model)
    size = sum(int(np.prod(k.shape)) for k in kernels)
    total = np.zeros((size, size))
    for example in x:
        with tf.GradientTape() as tape:
            z = _criterion_input(model, example[None], loss)[0]
        jacobian = np.concatenate([j.numpy().reshape(CLASSES, -1) for j in tape.jacobian(z, kernels)], axis=1)
        if loss == "mse":
            hessian = 2.0 / CLASSES * np.eye(CLASSES)
        else:
            p = tf.nn.softmax(z).numpy().astype(np.float64)
            hessian = np.diag(p) - np.outer(p, p)
        total += jacobian.T @ hessian @ jacobian
    return np.diag(total) / len(x)


def _flat(hessian, model):
    return np.concatenate([hessian[layer.name].ravel() for layer in model.layers if hasattr(layer, "kernel")])


@pytest.mark.parametrize("loss", obd.LOSSES)
def test_gn_equals_brute_force_gauss_newton(loss):
    model = _tiny(loss)
    x, _ = _data((5, 5, 1), n=12)
    expected = _brute_force_gauss_newton(model, x, loss)
    got = _flat(obd.hessian_diagonal(model, x, loss, "gn", batch_size=5), model)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * expected.max())


# ---------------------------------------------------------------------------------------------
# paper: a plain loop over units and connections


def _paper_loop(model, x, loss):
    w1, b1 = (v.numpy().astype(np.float64) for v in model.get_layer("conv").weights)
    w2, b2 = (v.numpy().astype(np.float64) for v in model.get_layer("dense").weights)
    h1, h2 = np.zeros_like(w1), np.zeros_like(w2)
    for image in x.astype(np.float64)[..., 0]:
        a1 = np.zeros((3, 3, 2))
        for p in range(3):
            for q in range(3):
                for f in range(2):
                    a1[p, q, f] = b1[f] + sum(w1[i, j, 0, f] * image[p + i, q + j] for i in range(3) for j in range(3))
        y1 = np.tanh(a1).ravel()  # Flatten: row-major over (row, column, map)
        a2 = y1 @ w2 + b2
        if loss == "mse":
            d2a2 = 2.0 / CLASSES * (1 - np.tanh(a2) ** 2) ** 2
        else:
            prob = np.exp(a2 - a2.max()) / np.exp(a2 - a2.max()).sum()
            d2a2 = prob * (1 - prob)
        for m in range(len(y1)):
            for k in range(CLASSES):
                h2[m, k] += d2a2[k] * y1[m] ** 2
        d2y1 = np.array([sum(w2[m, k] ** 2 * d2a2[k] for k in range(CLASSES)) for m in range(len(y1))])
        d2a1 = (1 - np.tanh(a1) ** 2) ** 2 * d2y1.reshape(3, 3, 2)
        for i in range(3):
            for j in range(3):
                for f in range(2):  # a shared weight: sum over every position that uses it
                    h1[i, j, 0, f] += sum(d2a1[p, q, f] * image[p + i, q + j] ** 2 for p in range(3) for q in range(3))
    return np.concatenate([h1.ravel(), h2.ravel()]) / len(x)


@pytest.mark.parametrize("loss", obd.LOSSES)
def test_paper_equals_a_loop_of_the_papers_recursion(loss):
    model = _tiny(loss, seed=1)
    x, _ = _data((5, 5, 1), n=12)
    expected = _paper_loop(model, x, loss)
    got = _flat(obd.hessian_diagonal(model, x, loss, "paper", batch_size=5), model)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * expected.max())


@pytest.mark.parametrize("loss", obd.LOSSES)
def test_on_one_layer_paper_and_gn_coincide(loss):
    model = _one_layer(loss)
    x, _ = _data((6,))
    paper = obd.hessian_diagonal(model, x, loss, "paper")["dense"]
    gn = obd.hessian_diagonal(model, x, loss, "gn")["dense"]
    np.testing.assert_allclose(paper, gn, rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# Both against the exact Hessian diagonal of a trained net


def _exact_hessian_diagonal(model, x, targets, loss):
    criterion = keras.losses.MeanSquaredError() if loss == "mse" else keras.losses.SparseCategoricalCrossentropy()
    kernels = _kernels(model)
    with tf.GradientTape(persistent=True) as outer:
        with tf.GradientTape() as inner:
            value = criterion(targets, model(x))
        gradients = inner.gradient(value, kernels)
    diagonals = []
    for kernel, gradient in zip(kernels, gradients):
        size = int(np.prod(kernel.shape))
        block = outer.jacobian(gradient, kernel).numpy().reshape(size, size)
        diagonals.append(np.diag(block))
    return np.concatenate(diagonals)


def _spearman(a, b):
    ranks = [np.argsort(np.argsort(v)) for v in (a, b)]
    return float(np.corrcoef(*ranks)[0, 1])


@pytest.mark.parametrize("loss", obd.LOSSES)
def test_both_estimators_rank_like_the_exact_hessian_diagonal(loss):
    model = _tiny(loss, seed=2)
    x, labels = _data((5, 5, 1), n=200, seed=2)
    targets = _targets(labels, loss)
    model.compile(keras.optimizers.Adam(0.02), "mse" if loss == "mse" else "sparse_categorical_crossentropy")
    model.fit(x, targets, epochs=30, batch_size=50, verbose=0)
    exact = _exact_hessian_diagonal(model, x, targets, loss)
    for estimator in obd.ESTIMATORS:
        estimate = _flat(obd.hessian_diagonal(model, x, loss, estimator), model)
        # measured: 0.98 to 0.999 (a trained net has small residuals, so Gauss-Newton ~ Hessian)
        assert _spearman(estimate, exact) > 0.9, estimator


# ---------------------------------------------------------------------------------------------
# The zoo, saliency, deletion


@pytest.mark.parametrize("name", list(registry.MODELS))
def test_both_estimators_cover_every_zoo_kernel(name):
    model = registry.build(name)
    x = np.random.default_rng(0).uniform(-1, 1, (6, *model.input_shape[1:])).astype(np.float32)
    expected = {layer.name: tuple(obd.kernel_of(layer).shape) for layer in obd.kernel_layers(model)}
    for estimator in obd.ESTIMATORS:
        hessian = obd.hessian_diagonal(model, x, registry.spec(name).loss, estimator, batch_size=4)
        assert {k: v.shape for k, v in hessian.items()} == expected
        assert all(np.all(h >= 0) and np.all(np.isfinite(h)) for h in hessian.values())


def test_saliency_is_half_h_times_weight_squared():
    model = _one_layer("mse")
    hessian = {"dense": np.full((6, CLASSES), 3.0)}
    kernel = model.get_layer("dense").kernel.numpy()
    np.testing.assert_allclose(obd.saliency(model, hessian)["dense"], 1.5 * kernel**2)


def test_deletion_ranks_all_layers_together_and_skips_dead_weights():
    saliencies = {"a": np.array([5.0, 0.1, 3.0]), "b": np.array([[0.2, 9.0], [0.0, 4.0]])}
    alive = {"a": np.array([True, True, True]), "b": np.array([[True, True], [False, True]])}
    deletion = obd.delete_lowest(saliencies, alive, 3)
    np.testing.assert_array_equal(deletion.keep["a"], [True, False, False])
    np.testing.assert_array_equal(deletion.keep["b"], [[False, True], [False, True]])
    assert deletion.predicted_increase == pytest.approx(0.1 + 0.2 + 3.0)
    with pytest.raises(UsageError, match="7 of 6"):
        obd.delete_lowest(saliencies, alive, 7)


def test_bad_estimator_and_non_chain_models_are_rejected():
    model = _one_layer("crossentropy")
    with pytest.raises(UsageError, match="paper, gn"):
        obd.hessian_diagonal(model, np.zeros((2, 6), np.float32), "crossentropy", "exact")
    with pytest.raises(ModelError, match="must end in a softmax"):
        obd.hessian_diagonal(_one_layer("mse"), np.zeros((2, 6), np.float32), "crossentropy")
    image = keras.Input((6,))
    branch = keras.layers.Dense(4, name="left")(image)
    merged = keras.layers.Dense(CLASSES, activation="softmax")(keras.layers.Concatenate()([branch, image]))
    with pytest.raises(ModelError, match="chain"):
        obd.hessian_diagonal(keras.Model(image, merged), np.zeros((2, 6), np.float32), "crossentropy")
