"""`lenet-edge calibrate --board B`: the calibration models, then firmware_sim's calibrate_core.

The models are the zoo's LeNets (lenet1989, lenet1, lenet4, lenet5, lenet5-modern: their shapes
are the ones the firmware runs, lenet1989's padded stride-2 windows the border gathers; seed 1)
freshly initialised with the smallest 30%, 70% and 95% of each conv and dense kernel zeroed, so
that every weight encoding (dense, blocked, sparse, bitmap) and fused variant appears, converted
to int8 on 50 digits of the model's dataset, dense too; small random models of the
other kernels (OP_MODELS), of convolutions with a fused 2x2 max or average pool
(FUSED_MODELS) and of conv and FC shapes beyond LeNet's (SHAPE_MODELS). They are cached in `models` (a folder)
and reused. The check tables (benchmarks/check_vs_flash.py) measure other sparsities (0, 50,
90%), so the prediction is not judged on the models it was fitted on.
"""
from pathlib import Path

import numpy as np

from firmware_sim.firmware import boards
from firmware_sim.firmware.calibrate import calibrate_core

CALIBRATION_ZOO = ("lenet1989", "lenet1", "lenet4", "lenet5", "lenet5-modern")
CALIBRATION_PRUNE = (0.0, 0.3, 0.7, 0.95)


def zero_smallest(model, fraction: float):
    """Zero the smallest `fraction` of each conv and dense kernel of a Keras model, in place
    (depthwise subsamplings are left whole); returns the model."""
    for layer in model.layers if fraction else []:
        if type(layer).__name__ != "DepthwiseConv2D" and layer.get_weights():
            kernel, *rest = layer.get_weights()
            kernel[np.abs(kernel) < np.quantile(np.abs(kernel), fraction)] = 0
            layer.set_weights([kernel, *rest])
    return model


def pruned_zoo_tflite(name: str, prune: float = 0.0, seed: int = 0) -> bytes:
    """A zoo model, freshly initialised, the smallest `prune` fraction of each conv and dense
    kernel zeroed, as a full-int8 .tflite calibrated on 50 training digits of its dataset (MNIST;
    USPS for lenet1989)."""
    from convert.tflite import to_int8_tflite
    from lenet_edge.data.transforms import CONVENTIONS, load_dataset
    from lenet_edge.models import registry

    model = zero_smallest(registry.build(name, seed=seed), prune)
    spec = registry.spec(name)
    images, _ = load_dataset(spec.dataset, "train")
    convention = CONVENTIONS[spec.input_convention]
    return to_int8_tflite(model, convention(images[:200]), num_calibration=50)


# the other kernels, in small random models: (side, channels, filters, pool, units)
OP_MODELS = ((10, 1, 3, 3, 4), (14, 2, 4, 2, 7), (8, 3, 2, 3, 5), (12, 1, 5, 2, 3))


def op_model_tflite(side: int, channels: int, filters: int, pool: int, units: int,
                    seed: int = 0) -> bytes:
    """conv + relu, a max and an average pool that do not fuse (stride 1), a depthwise conv, a
    standalone tanh and sigmoid, an added constant, a gated product, dense, softmax: every
    kernel besides the fused conv variants, at a size set by the arguments."""
    import tensorflow as tf
    import tf_keras as keras

    from convert.tflite import to_int8_tflite

    layers = keras.layers
    keras.utils.set_random_seed(seed)
    inputs = x = layers.Input((side, side, channels))
    x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(pool, strides=1)(x)
    x = layers.DepthwiseConv2D(3, padding="same")(x)
    x = layers.Activation("tanh")(x)
    x = layers.AveragePooling2D(pool, strides=1, padding="same")(x)
    offsets = np.linspace(-1.0, 1.0, filters).astype(np.float32)
    x = layers.Lambda(lambda t, c=offsets: t + tf.constant(c))(x)
    x = layers.Multiply()([x, layers.Activation("sigmoid")(x)])
    x = layers.Softmax()(layers.Dense(units)(layers.Flatten()(x)))
    model = keras.Model(inputs, x)
    images = np.random.default_rng(seed).uniform(-1, 2, (64, side, side, channels))
    return to_int8_tflite(model, images.astype(np.float32), num_calibration=64)


# convolutions with a fused 2x2 pool: (side, channels, filters, pool, activation, padding)
FUSED_MODELS = ((9, 2, 3, "max", "relu", "same"), (12, 1, 4, "average", "tanh", "valid"),
                (10, 3, 5, "max", None, "same"), (14, 2, 6, "average", "relu", "same"))


def fused_model_tflite(side: int, channels: int, filters: int, pool: str, activation,
                       padding: str, seed: int = 0) -> bytes:
    """conv (+ activation) + a 2x2 stride-2 max or average pool, fused into one kernel call,
    then dense and softmax."""
    import tf_keras as keras

    from convert.tflite import to_int8_tflite

    layers = keras.layers
    keras.utils.set_random_seed(seed)
    inputs = x = layers.Input((side, side, channels))
    x = layers.Conv2D(filters, 3, padding=padding, activation=activation)(x)
    x = (layers.MaxPooling2D if pool == "max" else layers.AveragePooling2D)(2)(x)
    x = layers.Softmax()(layers.Dense(5)(layers.Flatten()(x)))
    images = np.random.default_rng(seed).uniform(-1, 2, (64, side, side, channels))
    return to_int8_tflite(keras.Model(inputs, x), images.astype(np.float32), num_calibration=64)


# shapes beyond LeNet's (benchmarks/shapes.py's grid priced them 17-77% off without these): a
# conv (relu) then a wide FC (relu) and a dense head; (side, channels, filters, kernel, stride,
# padding, units)
SHAPE_MODELS = ((16, 8, 8, 1, 1, "valid", 100), (16, 3, 8, 3, 1, "same", 64),
                (20, 1, 16, 5, 2, "same", 32))


def shape_model_tflite(side: int, channels: int, filters: int, kernel: int, stride: int,
                       padding: str, units: int, seed: int = 0) -> bytes:
    import tf_keras as keras

    from convert.tflite import to_int8_tflite

    layers = keras.layers
    keras.utils.set_random_seed(seed)
    inputs = x = layers.Input((side, side, channels))
    x = layers.Conv2D(filters, kernel, strides=stride, padding=padding, activation="relu")(x)
    x = layers.Dense(units, activation="relu")(layers.Flatten()(x))
    x = layers.Softmax()(layers.Dense(10)(x))
    images = np.random.default_rng(seed).uniform(-1, 2, (64, side, side, channels))
    return to_int8_tflite(keras.Model(inputs, x), images.astype(np.float32), num_calibration=64)


def calibration_models(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for prefix, shapes, build in (("fused", FUSED_MODELS, fused_model_tflite), ("ops", OP_MODELS, op_model_tflite),
                                  ("shape", SHAPE_MODELS, shape_model_tflite)):
        for i, shape in enumerate(shapes):
            path = folder / f"{prefix}-{'x'.join(map(str, shape))}.tflite"
            if not path.is_file():
                path.write_bytes(build(*shape, seed=i))
            paths.append(path)
    for name in CALIBRATION_ZOO:
        for prune in CALIBRATION_PRUNE:
            path = folder / f"{name}-{round(100 * prune)}.tflite"
            if not path.is_file():
                path.write_bytes(pruned_zoo_tflite(name, prune, seed=1))
            paths.append(path)
    return paths


def calibrate(board: str, models: Path, out: Path | None = None, images: int = 5,
              progress=None) -> dict:
    """Calibrate `board`'s core on the calibration models (cached in `models`)."""
    boards.board(board)  # an unknown board fails before any model is made
    return calibrate_core(calibration_models(models), board, out, images, progress,
                          cache=models / f"measurements-{board}.json")
