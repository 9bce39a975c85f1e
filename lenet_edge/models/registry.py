"""The model zoo by name, and the papers' way of counting a model's size.

>>> build("lenet5").name
'lenet5'
>>> count_parameters(build("lenet5")), count_connections(build("lenet5"))
(60000, 340908)
"""
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tf_keras as keras

from lenet_edge.errors import ModelError
from lenet_edge.models import catalog, layers, lenet1, lenet1989, lenet4, lenet5
from lenet_edge.models.catalog import ModelInfo


@dataclass(frozen=True)
class Recipe:
    """The training recipe benchmarked for a model (benchmarks/accuracy.py, BENCHMARKS.md): what
    `lenet-edge train` uses for every option not given."""
    epochs: int = 20
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    lr_decay: float = 0.85  # the learning rate of epoch e is learning_rate * lr_decay**e
    batch_size: int = 32
    weight_decay: float = 0.0
    # strings of MNIST training digits whose candidate cuts join the training digits
    # (lenet_edge/read/candidates.py); 0 for none
    candidate_strings: int = 0
    # each training digit also drawn as the reader hands it (read/candidates.as_read)
    drawn_digits: bool = False
    scans: bool = False  # half the drawn digits and cut strings through a scan (read/candidates.py)
    distort: bool = False  # LeCun 1998's affine distortions, afresh each epoch

    def describe(self) -> str:
        wd = f", weight decay {self.weight_decay:g}" if self.weight_decay else ""
        cuts = f", the cuts of {self.candidate_strings:,} strings" if self.candidate_strings else ""
        drawn = ", the digits also as read" if self.drawn_digits else ""
        drawn += " (half through a scan)" if self.scans else ""
        distort = ", distortions" if self.distort else ""
        return (f"{self.epochs} epochs, {self.optimizer} lr {self.learning_rate:g} decayed {self.lr_decay:g} "
                f"an epoch, batch {self.batch_size}{wd}{cuts}{drawn}{distort}")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    builder: Callable[[], keras.Model]
    input_shape: tuple[int, int, int]
    dataset: str  # "mnist" or "usps"
    input_convention: str  # how data prepares the digit: "lenet5_32", "mnist_28" or "usps_20"
    # "crossentropy": the model ends in a softmax and returns class probabilities;
    # "mse": the model returns tanh outputs, trained against +-1 targets.
    loss: str
    description: str
    recipe: Recipe = Recipe()
    classes: int = 10  # 11: the ten digits and "not a digit"


def _spec(name, builder, input_convention, loss, recipe=Recipe(), classes=10):
    """The dataset, input shape and description come from the catalog (the TF-free listing)."""
    info = catalog.MODELS[name]
    return ModelSpec(name, builder, info.input_shape, info.dataset, input_convention, loss,
                     info.description, recipe, classes)


MODELS = {
    spec.name: spec
    for spec in (
        _spec("lenet1989", lenet1989.build_lenet1989, "usps_20", "mse",
              Recipe(epochs=60, learning_rate=2e-3, lr_decay=0.94, weight_decay=0.02)),
        _spec("lenet1", lenet1.build_lenet1, "mnist_28", "crossentropy", Recipe(learning_rate=2e-3)),
        _spec("lenet1-4x", lenet1.build_lenet1_4x, "mnist_28", "crossentropy", Recipe(learning_rate=2e-3)),
        _spec("lenet4", lenet4.build_lenet4, "mnist_28", "crossentropy",
              Recipe(learning_rate=2e-3, weight_decay=0.05)),
        _spec("lenet5", lenet5.build_lenet5, "lenet5_32", "crossentropy", Recipe(weight_decay=0.05)),
        _spec("lenet5-reader", lenet5.build_lenet5_reader, "lenet5_32", "crossentropy",
              Recipe(epochs=12, weight_decay=0.05, candidate_strings=2000, drawn_digits=True, scans=True,
                     distort=True),
              classes=11),
        _spec("lenet5-modern", lenet5.build_lenet5_modern, "lenet5_32", "crossentropy"),
    )
}


def spec(name):
    """The ModelSpec of `name`; ModelError naming the valid names otherwise."""
    if name not in MODELS:
        raise ModelError(f"unknown model {name!r}; valid names: {', '.join(MODELS)}")
    return MODELS[name]


def build(name, seed=0):
    """A freshly initialised model. Seeds Python, NumPy and TensorFlow's global generators."""
    builder = spec(name).builder
    keras.utils.set_random_seed(seed)
    return builder()


def describe(name):
    """Name, counted parameters and connections, input shape, dataset and description."""
    model = build(name)
    model_spec = MODELS[name]
    return ModelInfo(name, count_parameters(model), count_connections(model),
                     tuple(model.input_shape[1:]), model_spec.dataset, model_spec.description)


def describe_all():
    """The `lenet-edge models` listing, in MODELS order: the catalog, no model built."""
    return [catalog.MODELS[name] for name in MODELS]


# ---------------------------------------------------------------------------------------------
# Counting as the papers count


def count_parameters(model):
    """Trainable parameters, the papers' "free parameters".

    A kernel weight a connection table leaves out is not a parameter, and the tied weights of a
    subsampling window are one; both constraints say how many free values their kernel has.
    """
    return sum(_free_parameters(weight) for weight in model.trainable_weights)


def _free_parameters(weight):
    free = getattr(weight.constraint, "free_parameters", None)
    return free(tuple(weight.shape)) if free else int(np.prod(weight.shape))


def count_connections(model):
    """Multiply-adds per digit, as the papers count connections.

    convolution (subsampling too): output positions x (connected weights + 1 bias) per unit;
    unshared bias: 1 per unit; average pooling: window per unit;
    dense: units x (inputs + 1); RBF output: units x inputs (a distance has no bias).
    A weight its kernel constraint masks out (a connection table's zero, a pruned weight) is no
    connection.
    """
    return sum(_connections(layer) for layer in model.layers)


def _connections(layer):
    if isinstance(layer, layers.RBFOutput):
        return layer.units * layer.kernel.shape[0]
    if isinstance(layer, keras.layers.Dense):
        return _connected_weights(layer.kernel) + layer.units * layer.use_bias
    if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)):
        _, height, width, maps = layer.output_shape
        kernel = layer.weights[0]
        return height * width * (_connected_weights(kernel) + layer.use_bias * maps)
    if isinstance(layer, layers.UnsharedBias):
        return _units(layer)
    if isinstance(layer, keras.layers.AveragePooling2D):
        return _units(layer) * int(np.prod(layer.pool_size))
    if layer.weights:
        raise ModelError(f"cannot count the connections of layer {layer.name!r} "
                         f"({type(layer).__name__})")
    return 0


def _units(layer):
    return int(np.prod(layer.output_shape[1:]))


def _connected_weights(kernel):
    """The kernel entries its constraint's mask leaves in (a connection table, a pruning mask or
    both: any constraint with a mask(shape) method); all of them without one."""
    mask = getattr(kernel.constraint, "mask", None)
    return int(np.count_nonzero(mask(tuple(kernel.shape)))) if mask else int(np.prod(kernel.shape))
