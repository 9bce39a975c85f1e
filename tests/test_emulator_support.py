"""Shared by the emulator tests: small Keras models, int8 conversion (cached) and the TFLM oracle.

TensorFlow and tflite_micro are imported lazily: they are oracles for the tests, never
dependencies of firmware_sim.
"""
import functools

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

import lenet_edge  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)


def keras_and_tf():
    import tensorflow as tf
    import tf_keras as keras
    return keras, tf


def convert_int8(model, input_low: float, input_high: float, per_channel: bool = True,
                 float_io: bool = False, seed: int = 0) -> bytes:
    """Full-integer conversion with a uniform representative dataset over the input range."""
    keras, tf = keras_and_tf()
    rng = np.random.default_rng(seed)
    shape = (1, *model.input_shape[1:])

    def representative_dataset():
        for _ in range(64):
            yield [rng.uniform(input_low, input_high, shape).astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if not float_io:
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    converter._experimental_disable_per_channel = not per_channel
    return bytes(converter.convert())


def convert_float(model) -> bytes:
    _, tf = keras_and_tf()
    return bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())


def tflm_run(model: bytes, x: np.ndarray) -> np.ndarray:
    """TFLite Micro's outputs, one invoke per image."""
    from tflite_micro.python.tflite_micro import runtime
    interpreter = runtime.Interpreter.from_bytes(model)
    outputs = []
    for image in x:
        interpreter.set_input(image[None], 0)
        interpreter.invoke()
        outputs.append(interpreter.get_output(0).copy())
    return np.concatenate(outputs)


def randomize_weights(model, seed: int) -> None:
    """Per-channel weight magnitudes over two decades and nonzero biases, so that per-channel
    multipliers, shifts and bias additions all vary."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if len(weights) != 2:
            continue
        kernel, bias = weights
        channel_scale = 10.0 ** rng.uniform(-1.0, 1.0, kernel.shape[-1])
        kernel = rng.standard_normal(kernel.shape) * channel_scale / np.sqrt(kernel[..., 0].size)
        bias = rng.standard_normal(bias.shape) * 0.3
        layer.set_weights([kernel.astype(np.float32), bias.astype(np.float32)])


# one layer of interest and what follows it, for layer_model: (kind, arguments...); conv:
# (filters, kernel, stride, padding), depthwise: (multiplier, kernel, stride, padding)
KWS_LAYERS = (("depthwise", 8, (10, 8), 2, "same"), ("dense", 12), ("softmax",))  # 49x40x1
MLP_LAYERS = (("dense", 128), ("dense", 64), ("dense", 10), ("softmax",))  # 784 inputs


def layer_model(input_shape: tuple, layers, seed: int = 0):
    """A small Keras model of `layers` (relu after each conv and hidden dense layer; a conv
    or depthwise layer alone gets a 4-unit dense head), weights by randomize_weights."""
    keras, _ = keras_and_tf()
    keras.utils.set_random_seed(seed)
    inputs = x = keras.layers.Input(input_shape)
    for i, (kind, *args) in enumerate(layers):
        hidden = any(k != "softmax" for k, *_ in layers[i + 1:])
        if kind == "conv":
            filters, kernel, stride, padding = args
            x = keras.layers.Conv2D(filters, kernel, strides=stride, padding=padding,
                                    activation="relu")(x)
        elif kind == "depthwise":
            multiplier, kernel, stride, padding = args
            x = keras.layers.DepthwiseConv2D(kernel, strides=stride, padding=padding,
                                             depth_multiplier=multiplier,
                                             activation="relu")(x)
        elif kind == "dense":
            x = keras.layers.Flatten()(x) if len(x.shape) > 2 else x
            x = keras.layers.Dense(args[0], activation="relu" if hidden else None)(x)
        else:
            x = keras.layers.Softmax()(x)
    if len(x.shape) > 2:
        x = keras.layers.Dense(4)(keras.layers.Flatten()(x))
    model = keras.Model(inputs, x)
    randomize_weights(model, seed)
    return model


def lenet5_like():
    """LeNet-5's layer pattern: conv tanh, average pool, conv tanh, average pool, dense."""
    keras, _ = keras_and_tf()
    layers = keras.layers
    return keras.Sequential([
        layers.Input((32, 32, 1)),
        layers.Conv2D(6, 5, activation="tanh"), layers.AveragePooling2D(),
        layers.Conv2D(16, 5, activation="tanh"), layers.AveragePooling2D(),
        layers.Flatten(), layers.Dense(120, activation="tanh"),
        layers.Dense(84, activation="tanh"), layers.Dense(10)])


def multi_op_model():
    """relu/relu6/relu_n1_to_1, max pool, depthwise, logistic, add, mul, softmax."""
    keras, tf = keras_and_tf()
    layers = keras.layers
    inputs = layers.Input((12, 12, 2))
    a = layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    b = layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(inputs)
    b = layers.Conv2D(4, 1, activation="relu6")(b)
    x = layers.MaxPooling2D(2)(layers.Add()([a, b]))
    x = layers.Multiply()([x, layers.Activation("sigmoid")(x)])
    x = layers.Lambda(lambda t: t + tf.constant([-0.5, 0.0, 0.25, 1.0]))(x)
    x = layers.Conv2D(4, 3, strides=2, dilation_rate=1)(x)
    x = layers.Lambda(lambda t: tf.clip_by_value(t, -1.0, 1.0))(x)
    x = layers.ReLU()(x)
    x = layers.Dense(10)(layers.Flatten()(x))
    return keras.Model(inputs, layers.Softmax()(x))


@functools.lru_cache(maxsize=None)
def lenet_tflite(per_channel: bool = True) -> bytes:
    keras, _ = keras_and_tf()
    keras.utils.set_random_seed(5)
    model = lenet5_like()
    randomize_weights(model, seed=5)
    return convert_int8(model, -0.1, 1.175, per_channel=per_channel)


@functools.lru_cache(maxsize=None)
def multi_op_tflite(per_channel: bool = True) -> bytes:
    keras, _ = keras_and_tf()
    keras.utils.set_random_seed(7)
    model = multi_op_model()
    randomize_weights(model, seed=7)
    return convert_int8(model, -1.0, 1.0, per_channel=per_channel)


def structured_int8_images(shape: tuple[int, ...], n_random: int, seed: int = 0) -> np.ndarray:
    """Constant images at the int8 extremes and zero, stripes, checkerboards, ramps, random."""
    rng = np.random.default_rng(seed)
    grid = np.indices(shape[:2]).sum(axis=0)
    patterns = [np.full(shape[:2], v) for v in (-128, -127, -1, 0, 1, 126, 127)]
    patterns += [np.where(grid % 2, 127, -128), np.where(grid % 3, -128, 127),
                 np.linspace(-128, 127, grid.size).reshape(shape[:2]),
                 (np.indices(shape[:2])[0] * 37 % 256) - 128]
    structured = [np.broadcast_to(p[..., None], shape) for p in patterns]
    random = rng.integers(-128, 128, (n_random, *shape))
    blobs = np.clip(rng.normal(-100, 120, (n_random // 4, *shape)), -128, 127)
    return np.concatenate([np.array(structured), random, blobs]).astype(np.int8)


def pack_model(model: "schema.ModelT") -> bytes:
    """Serialise a schema object-API model with the TFL3 file identifier."""
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def unpack_model(data: bytes) -> "schema.ModelT":
    return schema.ModelT.InitFromPackedBuf(bytearray(data), 0)


def both_paths(graph, *inputs) -> np.ndarray:
    """The interpreter's fast outputs, after checking them equal to the reference kernels'."""
    import firmware_sim
    fast = firmware_sim.Interpreter(graph).run(*inputs)
    reference = firmware_sim.Interpreter(graph, reference=True).run(*inputs)
    assert fast.dtype == reference.dtype and np.array_equal(fast, reference)
    return fast


def output_stage_data(bias, output_multiplier, output_shift, output_offset: int,
                      activation_range: tuple[int, int]):
    """A stand-in op data holding just an output stage (bias, multipliers, shifts, offset,
    clamp), for the output-stage tests."""
    from types import SimpleNamespace
    return SimpleNamespace(bias=np.asarray(bias, dtype=np.int32),
                           output_multiplier=np.asarray(output_multiplier, dtype=np.int32),
                           output_shift=np.asarray(output_shift, dtype=np.int32),
                           output_offset=output_offset,
                           quantized_activation_min=int(activation_range[0]),
                           quantized_activation_max=int(activation_range[1]))
