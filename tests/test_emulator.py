"""firmware_sim against TensorFlow Lite Micro, byte for byte, and its arithmetic against C.

The oracle is the PyPI tflite-micro interpreter (reference kernels). Its requantization is
checked to be double rounding by showing that a single-rounding emulator disagrees with it.
"""
import json
import subprocess
import sys

import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import firmware_sim
from firmware_sim import InputError, ModelFileError, UnsupportedOpError
from firmware_sim.emulator import parallel, speed
from firmware_sim.emulator.kernels import accumulate, requantize
from firmware_sim.errors import FirmwareSimError
from tests.test_emulator_support import (both_paths, convert_float, convert_int8,
                                         keras_and_tf, lenet_tflite, multi_op_tflite,
                                         output_stage_data, pack_model, randomize_weights,
                                         structured_int8_images, tflm_run, unpack_model)

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


# -- TFLM's C++ arithmetic, transcribed literally on Python ints -------------------------------

def c_divide(a: int, b: int) -> int:
    """C's integer division, truncating toward zero."""
    quotient = abs(a) // abs(b)
    return quotient if (a >= 0) == (b >= 0) else -quotient


def c_wrap32(x: int) -> int:
    return (x - INT32_MIN) % (1 << 32) + INT32_MIN


def c_saturating_rounding_doubling_high_mul(a: int, b: int) -> int:
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return c_divide(ab + nudge, 1 << 31)


def c_rounding_divide_by_pot(x: int, exponent: int) -> int:
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def c_multiply_by_quantized_multiplier(x: int, multiplier: int, shift: int) -> int:
    left_shift, right_shift = max(shift, 0), max(-shift, 0)
    return c_rounding_divide_by_pot(
        c_saturating_rounding_doubling_high_mul(c_wrap32(x * (1 << left_shift)), multiplier),
        right_shift)


def test_multiply_by_quantized_multiplier_matches_the_c_code():
    rng = np.random.default_rng(1)
    xs = np.concatenate([rng.integers(INT32_MIN, INT32_MAX, 400, endpoint=True),
                         rng.integers(-5000, 5000, 400), [INT32_MIN, INT32_MAX, 0, -1, 1]])
    for _ in range(60):
        multiplier = int(rng.choice([1 << 30, INT32_MAX, int(rng.integers(1 << 30, 1 << 31))]))
        shift = int(rng.integers(-31, 8))
        got = requantize.multiply_by_quantized_multiplier(xs, multiplier, shift)
        want = [c_multiply_by_quantized_multiplier(int(x), multiplier, shift) for x in xs]
        assert got.tolist() == want


def test_rounding_divide_by_pot_ties_go_away_from_zero():
    x = np.array([-6, -5, -3, -2, 2, 3, 5, 6])
    assert requantize.rounding_divide_by_pot(x, 1).tolist() == [-3, -3, -2, -1, 1, 2, 3, 3]
    assert [c_rounding_divide_by_pot(int(v), 2) for v in x] == \
        requantize.rounding_divide_by_pot(x, 2).tolist()


def test_quantize_multiplier_edge_cases():
    assert requantize.quantize_multiplier(0.0) == (0, 0)
    assert requantize.quantize_multiplier(0.5) == (1 << 30, 0)
    assert requantize.quantize_multiplier(1.0) == (1 << 30, 1)
    assert requantize.quantize_multiplier(1e-12) == (0, 0)  # shift < -31 flushes to zero
    # a significand that rounds up to 2**31 is halved and the shift incremented
    assert requantize.quantize_multiplier((2**31 - 0.25) / 2**31) == (1 << 30, 1)


def test_float_output_stage_equals_the_integer_path():
    rng = np.random.default_rng(2)
    for _ in range(40):
        channels = int(rng.integers(1, 9))
        real = 10.0 ** rng.uniform(-4, -0.01, channels)  # right shifts of 1 to 14
        multiplier, shift = accumulate.multipliers_and_shifts(
            [requantize.quantize_multiplier(r) for r in real])
        bias = rng.integers(-30000, 30000, channels).astype(np.int32)
        bounds = np.full(channels, 1 << 21)
        zero_point = int(rng.integers(-128, 128))
        op_data = output_stage_data(bias, multiplier, shift, zero_point, (-128, 127))
        stage = speed.float_stage(op_data, bounds)
        assert stage is not None
        fast = speed.MacParams(op_data, np.zeros((channels, 1)), bounds, stage)
        acc = rng.integers(-(1 << 21), 1 << 21, (channels, 3000)).astype(np.float64)
        # accumulators sitting on the ties of both roundings
        ties = np.round((np.arange(-130, 130)[None, :] - 0.5 - zero_point) / real[:, None])
        acc = np.concatenate([acc, ties - bias[:, None], ties - bias[:, None] + 1], axis=1)
        assert np.array_equal(speed.requantize(fast, acc),
                              accumulate.output_stage(op_data, acc.astype(np.int64).T).T)


# -- whole models against TFLM ----------------------------------------------------------------

@pytest.mark.parametrize("per_channel", [True, False])
def test_lenet5_like_model_matches_tflm_byte_for_byte(per_channel):
    model = lenet_tflite(per_channel)
    graph = firmware_sim.load_model(model)
    assert [op.opcode for op in graph.ops].count("TANH") == 4
    x = structured_int8_images((32, 32, 1), n_random=300)
    assert np.array_equal(both_paths(graph, x), tflm_run(model, x))


def test_tflm_rounds_twice(monkeypatch):
    """A single-rounding MultiplyByQuantizedMultiplier (TFLITE_SINGLE_ROUNDING) disagrees."""
    model = lenet_tflite(True)
    x = structured_int8_images((32, 32, 1), n_random=300)
    expected = tflm_run(model, x)

    def single_rounding(x, output_multiplier, output_shift):
        total_shift = 31 - np.asarray(output_shift, dtype=np.int64)
        return (x * np.asarray(output_multiplier, dtype=np.int64)
                + (np.int64(1) << (total_shift - 1))) >> total_shift

    graph = firmware_sim.load_model(model)
    assert np.array_equal(firmware_sim.run(graph, x, reference=True), expected)
    monkeypatch.setattr(accumulate, "multiply_by_quantized_multiplier", single_rounding)
    single = firmware_sim.run(graph, x, reference=True)
    assert not np.array_equal(single, expected)


@pytest.mark.parametrize("per_channel", [True, False])
def test_multi_op_model_matches_tflm_byte_for_byte(per_channel):
    model = multi_op_tflite(per_channel)
    graph = firmware_sim.load_model(model)
    opcodes = {op.opcode for op in graph.ops}
    assert {"ADD", "MUL", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "LOGISTIC", "SOFTMAX",
            "RELU"} <= opcodes
    activations = {op.options.get("fused_activation_function") for op in graph.ops}
    assert {1, 2, 3} <= activations  # RELU, RELU_N1_TO_1, RELU6 fused into convolutions
    x = structured_int8_images((12, 12, 2), n_random=300)
    assert np.array_equal(both_paths(graph, x), tflm_run(model, x))


def test_padding_and_strides_match_tflm():
    keras, _ = keras_and_tf()
    layers = keras.layers
    keras.utils.set_random_seed(11)
    model = keras.Sequential([
        layers.Input((11, 9, 3)),
        layers.Conv2D(5, 3, strides=(2, 1), padding="same", activation="relu"),
        layers.Conv2D(4, (3, 2), padding="same"),
        layers.DepthwiseConv2D(3, strides=2, padding="same", activation="relu6"),
        layers.AveragePooling2D(3, strides=1, padding="same"),
        layers.MaxPooling2D(2, strides=1, padding="same"),
        layers.Conv2D(3, 2, padding="valid", activation="tanh"),
    ])
    randomize_weights(model, seed=11)
    tflite = convert_int8(model, -2.0, 3.0)
    x = structured_int8_images((11, 9, 3), n_random=200)
    assert np.array_equal(both_paths(firmware_sim.load_model(tflite), x), tflm_run(tflite, x))


@pytest.mark.parametrize("layer", ["Conv2D", "DepthwiseConv2D"])
@pytest.mark.parametrize("padding,strides", [("same", 1), ("valid", 1), ("valid", 2)])
def test_dilated_convolutions_match_tflm(layer, padding, strides):
    """The converter rewrites dilations into SPACE_TO_BATCH_ND, so the file is edited instead."""
    keras, _ = keras_and_tf()
    keras.utils.set_random_seed(12)
    arguments = dict(kernel_size=3, padding=padding, strides=strides)
    if layer == "Conv2D":
        arguments["filters"] = 3
    model = keras.Sequential([keras.layers.Input((13, 12, 2)),
                              getattr(keras.layers, layer)(**arguments)])
    randomize_weights(model, seed=12)
    edited = unpack_model(convert_int8(model, -1.0, 1.0))
    (operator,) = edited.subgraphs[0].operators
    operator.builtinOptions.dilationHFactor = 2
    operator.builtinOptions.dilationWFactor = 3
    if padding == "valid":  # the effective filter is 5 x 7
        output = edited.subgraphs[0].tensors[operator.outputs[0]]
        output.shape = np.array([1, (13 - 5) // strides + 1, (12 - 7) // strides + 1,
                                 output.shape[3]], dtype=np.int32)
    tflite = pack_model(edited)
    x = structured_int8_images((13, 12, 2), n_random=100)
    assert np.array_equal(both_paths(firmware_sim.load_model(tflite), x), tflm_run(tflite, x))


def _activation_model(name: str, width: int):
    keras, _ = keras_and_tf()
    layers = keras.layers
    activation = layers.ReLU(max_value=6.0) if name == "relu6" else layers.Activation(name)
    return keras.Sequential([layers.Input((width,)), activation])


@pytest.mark.parametrize("name,opcode", [("tanh", "TANH"), ("sigmoid", "LOGISTIC"),
                                         ("relu", "RELU"), ("relu6", "RELU6")])
@pytest.mark.parametrize("low,high", [(-0.05, 0.05), (-1.0, 1.0), (-0.5, 3.0), (-8.0, 8.0),
                                      (-100.0, 20.0)])
def test_activations_match_tflm_on_every_int8_input(name, opcode, low, high):
    tflite = convert_int8(_activation_model(name, 256), low, high)
    graph = firmware_sim.load_model(tflite)
    assert [op.opcode for op in graph.ops] == [opcode]
    x = np.arange(-128, 128, dtype=np.int8)[None]
    assert np.array_equal(both_paths(graph, x), tflm_run(tflite, x))


@pytest.mark.parametrize("low,high", [(-1.0, 1.0), (-10.0, 4.0), (-60.0, 60.0)])
def test_softmax_matches_tflm(low, high):
    tflite = convert_int8(_activation_model("softmax", 10), low, high)
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.integers(-128, 128, (300, 10)), np.full((1, 10), 127),
                        np.eye(10) * 255 - 128]).astype(np.int8)
    assert np.array_equal(both_paths(firmware_sim.load_model(tflite), x), tflm_run(tflite, x))


def test_float_io_model_quantizes_and_dequantizes_like_tflm():
    keras, _ = keras_and_tf()
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.layers.Input((6, 6, 1)), keras.layers.Conv2D(2, 3),
                              keras.layers.Flatten(), keras.layers.Dense(3)])
    tflite = convert_int8(model, -1.0, 1.0, float_io=True)
    graph = firmware_sim.load_model(tflite)
    assert graph.ops[0].opcode == "QUANTIZE" and graph.ops[-1].opcode == "DEQUANTIZE"
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.uniform(-1.5, 1.5, (200, 6, 6, 1)),
                        np.full((1, 6, 6, 1), 1e9), np.full((1, 6, 6, 1), -1e9)])
    x = x.astype(np.float32)
    got = both_paths(graph, x)
    assert got.dtype == np.float32
    assert np.array_equal(got, tflm_run(tflite, x))


@pytest.mark.parametrize("scale,zero_point", [(0.037, 5), (0.001, -128), (0.9, 127)])
def test_int8_requantizing_quantize_matches_tflm(scale, zero_point):
    """The converter emits int8 -> int8 QUANTIZE rarely, so the float input is retyped."""
    keras, _ = keras_and_tf()
    keras.utils.set_random_seed(8)
    model = keras.Sequential([keras.layers.Input((16,)), keras.layers.Dense(3)])
    edited = unpack_model(convert_int8(model, -1.0, 1.0, float_io=True))
    subgraph = edited.subgraphs[0]
    assert edited.operatorCodes[subgraph.operators[0].opcodeIndex].builtinCode == \
        schema.BuiltinOperator.QUANTIZE
    graph_input = subgraph.tensors[subgraph.inputs[0]]
    graph_input.type = schema.TensorType.INT8
    graph_input.quantization = schema.QuantizationParametersT()
    graph_input.quantization.scale = np.array([scale], dtype=np.float32)
    graph_input.quantization.zeroPoint = np.array([zero_point], dtype=np.int64)
    tflite = pack_model(edited)
    x = np.arange(-128, 128, dtype=np.int8).reshape(16, 16)
    assert np.array_equal(both_paths(firmware_sim.load_model(tflite), x), tflm_run(tflite, x))


@pytest.mark.parametrize("filter_zero_point", [0, 3, -7])
def test_per_tensor_fully_connected_applies_the_filter_zero_point_like_tflm(filter_zero_point):
    """TFLM's per-tensor FullyConnected adds filter_offset = -filter_zero_point to each weight."""
    keras, _ = keras_and_tf()
    keras.utils.set_random_seed(9)
    model = keras.Sequential([keras.layers.Input((24,)), keras.layers.Dense(7)])
    randomize_weights(model, seed=9)
    edited = unpack_model(convert_int8(model, -1.0, 1.0, per_channel=False))
    subgraph = edited.subgraphs[0]
    (operator,) = [op for op in subgraph.operators if edited.operatorCodes[op.opcodeIndex]
                   .builtinCode == schema.BuiltinOperator.FULLY_CONNECTED]
    subgraph.tensors[operator.inputs[1]].quantization.zeroPoint = np.array(
        [filter_zero_point], dtype=np.int64)
    tflite = pack_model(edited)
    graph = firmware_sim.load_model(tflite)
    rng = np.random.default_rng(9)
    x = np.concatenate([rng.integers(-128, 128, (200, 24)), np.full((1, 24), -128),
                        np.full((1, 24), 127)]).astype(np.int8)
    assert np.array_equal(both_paths(graph, x), tflm_run(tflite, x))


# -- random models ----------------------------------------------------------------------------

BLOCKS = ("conv", "depthwise", "max_pool", "average_pool", "tanh", "sigmoid", "relu",
          "add_constant", "gated")


@st.composite
def model_specs(draw):
    size = draw(st.integers(5, 12))
    channels = draw(st.integers(1, 3))
    blocks = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(BLOCKS))
        blocks.append((kind, draw(st.integers(1, 3)), draw(st.integers(1, 2)),
                       draw(st.sampled_from(["same", "valid"])),
                       draw(st.sampled_from([None, "relu", "relu6"])),
                       draw(st.integers(1, 4))))
    return (size, channels, tuple(blocks), draw(st.integers(1, 8)), draw(st.booleans()),
            draw(st.booleans()), draw(st.integers(0, 1000)))


def _build_random_model(spec):
    size, channels, blocks, units, softmax, _, seed = spec
    keras, tf = keras_and_tf()
    layers = keras.layers
    keras.utils.set_random_seed(seed)
    inputs = x = layers.Input((size, size, channels))
    for kind, kernel, stride, padding, activation, filters in blocks:
        spatial = x.shape[1]
        if padding == "valid" and kernel > spatial:
            padding = "same"
        if kind == "conv":
            x = layers.Conv2D(filters, kernel, strides=stride, padding=padding,
                              activation=activation)(x)
        elif kind == "depthwise":
            x = layers.DepthwiseConv2D(kernel, strides=stride, padding=padding,
                                       depth_multiplier=1 + filters % 2,
                                       activation=activation)(x)
        elif kind in ("max_pool", "average_pool"):
            pool = layers.MaxPooling2D if kind == "max_pool" else layers.AveragePooling2D
            x = pool(kernel, strides=stride, padding=padding)(x)
        elif kind in ("tanh", "sigmoid", "relu"):
            x = layers.Activation(kind)(x)
        elif kind == "add_constant":
            offsets = np.linspace(-1.0, 1.0, x.shape[-1]).astype(np.float32)
            x = layers.Lambda(lambda t, c=offsets: t + tf.constant(c))(x)
        else:  # gated: x * sigmoid(x)
            x = layers.Multiply()([x, layers.Activation("sigmoid")(x)])
    x = layers.Dense(units)(layers.Flatten()(x))
    if softmax:
        x = layers.Softmax()(x)
    model = keras.Model(inputs, x)
    randomize_weights(model, seed)
    return model


_CONVERTED = {}


def _random_tflite(spec) -> bytes:
    if spec not in _CONVERTED:  # hypothesis replays examples while shrinking
        _CONVERTED[spec] = convert_int8(_build_random_model(spec), -1.0, 2.0,
                                        per_channel=spec[5], seed=spec[6])
    return _CONVERTED[spec]


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(model_specs())
def test_random_models_match_tflm(spec):
    tflite = _random_tflite(spec)
    graph = firmware_sim.load_model(tflite)
    x = structured_int8_images(graph.tensors[graph.inputs[0]].shape[1:], n_random=40,
                               seed=spec[6])
    assert np.array_equal(firmware_sim.run(graph, x), tflm_run(tflite, x))


@settings(max_examples=20, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(model_specs(), st.integers(0, 2**16))
def test_fast_path_equals_the_reference_kernels_on_random_models(spec, seed):
    """The speed forms (float sums, closed-form stage, tables, fusion, window sums) against the
    literal integer kernels, on random models and random images, wide-range ones included."""
    graph = firmware_sim.load_model(_random_tflite(spec))
    try:
        reference_interpreter = firmware_sim.Interpreter(graph, reference=True)
    except ModelFileError:  # a model TFLM's prepare refuses too (an ADD rescale above 1)
        assume(False)
    shape = graph.tensors[graph.inputs[0]].shape[1:]
    rng = np.random.default_rng(seed)
    x = np.concatenate([structured_int8_images(shape, n_random=30, seed=seed),
                        rng.choice(np.array([-128, 127], dtype=np.int8), (10, *shape))])
    fast = firmware_sim.Interpreter(graph).run(x)
    reference = reference_interpreter.run(x)
    assert fast.dtype == reference.dtype and np.array_equal(fast, reference)


@pytest.mark.parametrize("name", ["lenet1989", "lenet1", "lenet4", "lenet5", "lenet5-reader", "lenet5-modern"])
def test_reference_kernels_match_tflm_on_zoo_models(name):
    from tests.test_planner import zoo_int8_tflite
    tflite = zoo_int8_tflite(name)
    graph = firmware_sim.load_model(tflite)
    x = structured_int8_images(graph.tensors[graph.inputs[0]].shape[1:], n_random=60)
    assert np.array_equal(firmware_sim.run(graph, x, reference=True), tflm_run(tflite, x))
    assert np.array_equal(firmware_sim.run(graph, x), tflm_run(tflite, x))


# -- the public API ---------------------------------------------------------------------------

def test_load_model_reads_paths_and_bytes(tmp_path):
    path = tmp_path / "lenet.tflite"
    path.write_bytes(lenet_tflite(True))
    from_path = firmware_sim.load_model(path)
    from_bytes = firmware_sim.load_model(path.read_bytes())
    assert [op.opcode for op in from_path.ops] == [op.opcode for op in from_bytes.ops]
    with pytest.raises(ModelFileError, match="cannot read model file"):
        firmware_sim.load_model(tmp_path / "missing.tflite")


def test_run_refuses_inputs_of_the_wrong_type_or_shape():
    graph = firmware_sim.load_model(lenet_tflite(True))
    with pytest.raises(InputError, match=r"int8 arrays of shape \[N, 32, 32, 1\]"):
        firmware_sim.run(graph, np.zeros((2, 32, 32, 1), dtype=np.float32))
    with pytest.raises(InputError):
        firmware_sim.run(graph, np.zeros((2, 28, 28, 1), dtype=np.int8))
    assert issubclass(InputError, FirmwareSimError)


def test_batches_of_any_size_give_the_same_bytes_as_single_images():
    graph = firmware_sim.load_model(lenet_tflite(True))
    interpreter = firmware_sim.Interpreter(graph)
    x = structured_int8_images((32, 32, 1), n_random=300)
    whole = interpreter.run(x)
    assert np.array_equal(np.concatenate([interpreter.run(image[None]) for image in x[:20]]),
                          whole[:20])


def test_a_batch_of_one_chunk_runs_on_one_blas_thread_and_restores_the_callers():
    set_threads = parallel._SET_LOCAL_THREADS
    assert set_threads is not None  # the venv's numpy bundles OpenBLAS 0.3.27 or later

    def threads_seen(chunk):
        current = set_threads(1)  # returns the setting it replaces
        set_threads(current)
        return current

    mine = set_threads(3)
    try:
        assert parallel.map_chunks(threads_seen, ["one chunk"]) == [1]
        assert set_threads(3) == 3
    finally:
        set_threads(mine)


def test_quantize_input_feeds_the_int8_model_like_the_quantize_op():
    keras, _ = keras_and_tf()
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.layers.Input((4, 4, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(3)])
    int8_graph = firmware_sim.load_model(convert_int8(model, -1.0, 1.0))
    float_graph = firmware_sim.load_model(convert_int8(model, -1.0, 1.0, float_io=True))
    x = np.random.default_rng(6).uniform(-1.2, 1.2, (100, 4, 4, 1)).astype(np.float32)
    output = int8_graph.tensors[int8_graph.outputs[0]].quant
    int8_out = firmware_sim.run(int8_graph, firmware_sim.quantize_input(int8_graph, x))
    dequantized = (np.float64(output.scale) * (int8_out.astype(np.int64) - output.zero_point))
    assert np.array_equal(dequantized.astype(np.float32), firmware_sim.run(float_graph, x))


def test_layer_costs_of_lenet5():
    costs = firmware_sim.layer_costs(firmware_sim.load_model(lenet_tflite(True)))
    macs = {cost.index: cost.macs for cost in costs if cost.macs}
    assert list(macs.values()) == [28 * 28 * 6 * 25, 10 * 10 * 16 * 150, 400 * 120, 120 * 84,
                                   84 * 10]
    conv1 = costs[0]
    assert conv1.opcode == "CONV_2D" and conv1.output_shape == (1, 28, 28, 6)
    assert conv1.param_bytes == 6 * 25 + 6 * 4 and conv1.activation_bytes == 32 * 32 + 4704
    assert all(0 < cost.effective_macs <= cost.macs for cost in costs if cost.macs)


def test_unsupported_op_is_named():
    keras, _ = keras_and_tf()
    inputs = keras.layers.Input((4, 4, 1))
    both = keras.layers.Concatenate()([inputs, keras.layers.Conv2D(2, 1)(inputs)])
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(both)))
    graph = firmware_sim.load_model(convert_int8(model, -1.0, 1.0))
    with pytest.raises(UnsupportedOpError,
                       match=r"unsupported op CONCATENATION \(node \d+\); firmware_sim supports:"):
        firmware_sim.Interpreter(graph)


def test_float_model_is_refused_in_one_line():
    keras, _ = keras_and_tf()
    model = keras.Sequential([keras.layers.Input((4,)), keras.layers.Dense(2)])
    graph = firmware_sim.load_model(convert_float(model))
    with pytest.raises(UnsupportedOpError) as error:
        firmware_sim.run(graph, np.zeros((1, 4), dtype=np.float32))
    assert "float32" in str(error.value) and "\n" not in str(error.value)


def test_importing_firmware_sim_pulls_in_neither_tensorflow_nor_tflite_micro(tmp_path):
    path = tmp_path / "lenet.tflite"
    path.write_bytes(lenet_tflite(True))
    script = (
        "import json, sys\nimport numpy as np\nimport firmware_sim\n"
        f"graph = firmware_sim.load_model({str(path)!r})\n"
        "firmware_sim.run(graph, np.zeros((2, 32, 32, 1), dtype=np.int8))\n"
        "print(json.dumps(sorted(sys.modules)))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True)
    modules = json.loads(result.stdout)
    assert not [m for m in modules if m.split(".")[0] in ("tensorflow", "tflite_micro", "keras",
                                                           "tf_keras")]
