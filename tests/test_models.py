"""The model zoo against the papers: counts, tables, paper layers, QAT and int8 conversion."""
import lenet_edge  # noqa: F401  (first: selects Keras 2 before TensorFlow loads)

import json

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_model_optimization as tfmot
import tf_keras as keras
from ai_edge_litert.interpreter import Interpreter

from convert import tflite
from lenet_edge.compress import qat
from lenet_edge.errors import ModelError
from lenet_edge.models import facts, layers, lenet1, lenet1989, lenet4, lenet5, registry

# The paper's squashing function, written out here rather than taken from the library.
PAPER_AMPLITUDE, PAPER_SLOPE = 1.7159, 2.0 / 3.0

# Each model with a connection table, and the layer that has it.
TABLE_LAYERS = {"lenet1989": "H2", "lenet1": "H3", "lenet1-4x": "H3", "lenet5": "C3"}

EXPECTED_OPS = {
    "lenet1989": ["CONV_2D", "ADD", "TANH", "CONV_2D", "ADD", "TANH", "RESHAPE",
                  "FULLY_CONNECTED", "TANH", "FULLY_CONNECTED", "TANH"],
    "lenet1": ["CONV_2D", "TANH", "DEPTHWISE_CONV_2D", "TANH", "CONV_2D", "TANH",
               "DEPTHWISE_CONV_2D", "TANH", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"],
    "lenet1-4x": ["CONV_2D", "TANH", "DEPTHWISE_CONV_2D", "TANH", "CONV_2D", "TANH",
                  "DEPTHWISE_CONV_2D", "TANH", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"],
    "lenet4": ["CONV_2D", "TANH", "DEPTHWISE_CONV_2D", "TANH", "CONV_2D", "TANH",
               "DEPTHWISE_CONV_2D", "TANH", "RESHAPE", "FULLY_CONNECTED", "TANH",
               "FULLY_CONNECTED", "SOFTMAX"],
    "lenet5": ["CONV_2D", "TANH", "DEPTHWISE_CONV_2D", "TANH", "CONV_2D", "TANH",
               "DEPTHWISE_CONV_2D", "TANH", "CONV_2D", "TANH", "RESHAPE", "FULLY_CONNECTED",
               "TANH", "FULLY_CONNECTED", "SOFTMAX"],
    "lenet5-reader": ["CONV_2D", "TANH", "DEPTHWISE_CONV_2D", "TANH", "CONV_2D", "TANH",
                      "DEPTHWISE_CONV_2D", "TANH", "CONV_2D", "TANH", "RESHAPE", "FULLY_CONNECTED",
                      "TANH", "FULLY_CONNECTED", "SOFTMAX"],
    "lenet5-modern": ["CONV_2D", "TANH", "AVERAGE_POOL_2D", "CONV_2D", "TANH",
                      "AVERAGE_POOL_2D", "CONV_2D", "TANH", "RESHAPE", "FULLY_CONNECTED", "TANH",
                      "FULLY_CONNECTED", "SOFTMAX"],
}


def _inputs(model, n, seed=0):
    shape = (n, *model.input_shape[1:])
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


def _targets(name, n, seed=0):
    labels = np.random.default_rng(seed).integers(0, 10, n)
    if registry.MODELS[name].loss == "mse":
        return 2.0 * np.eye(10, dtype=np.float32)[labels] - 1.0  # +-1 targets
    return labels


def _compile(model, name, learning_rate):
    loss = "mse" if registry.MODELS[name].loss == "mse" else "sparse_categorical_crossentropy"
    model.compile(keras.optimizers.SGD(learning_rate), loss)


def _with_nonzero_biases(model):
    # Unshared biases start at 0, and the converter folds away an ADD of zeros.
    rng = np.random.default_rng(1)
    for layer in model.layers:
        if isinstance(layer, layers.UnsharedBias):
            layer.bias.assign(rng.uniform(-0.5, 0.5, layer.bias.shape))
    return model


def _table_mask(model, layer_name):
    kernel = model.get_layer(layer_name).kernel
    return kernel.constraint.mask(tuple(kernel.shape))


# ---------------------------------------------------------------------------------------------
# Counts


@pytest.mark.parametrize("name, parameters, connections", [
    ("lenet1989", 9_760, 64_660),
    ("lenet1", 2_578, 98_442),
    ("lenet1-4x", 10_714, 487_306),
    ("lenet5", 60_000, 340_908),
    ("lenet5-reader", 60_000, 340_908 + 84),  # the 11th RBF unit: 84 distances, no parameter
])
def test_paper_counts_exact(name, parameters, connections):
    model = registry.build(name)
    assert registry.count_parameters(model) == parameters
    assert registry.count_connections(model) == connections


def test_modern_lenet5_has_61706_parameters():
    model = registry.build("lenet5-modern")
    assert registry.count_parameters(model) == 61_706 == model.count_params()


@pytest.mark.parametrize("name", list(registry.MODELS))
def test_counts_match_facts(name):
    figures = facts.FIGURES[name]
    model = registry.build(name)
    counted = {"parameters": registry.count_parameters(model),
               "connections": registry.count_connections(model)}
    for kind, paper in (("parameters", figures.parameters), ("connections", figures.connections)):
        if paper is None:
            continue
        if figures.approximate:
            assert abs(counted[kind] / paper - 1) <= 0.10, (kind, counted[kind], paper)
        else:
            assert counted[kind] == paper, kind


def test_lenet4_sizes_are_the_best_of_the_search_and_within_10_percent():
    assert lenet4.size_search()[0] == lenet4.SIZES
    model = registry.build("lenet4")
    parameters, connections = registry.count_parameters(model), registry.count_connections(model)
    assert (parameters, connections) == lenet4.SIZES.counts() == (15_674, 245_138)
    assert abs(parameters / 17_000 - 1) <= 0.10
    assert abs(connections / 260_000 - 1) <= 0.10


def test_describe():
    info = registry.describe("lenet5")
    assert (info.name, info.params, info.connections) == ("lenet5", 60_000, 340_908)
    assert (info.input_shape, info.dataset) == ((32, 32, 1), "mnist")
    assert json.loads(json.dumps(info.as_dict()))["input_shape"] == [32, 32, 1]
    assert [i.name for i in registry.describe_all()] == list(registry.MODELS)


def test_registry_specs_match_the_built_models():
    assert list(registry.MODELS) == ["lenet1989", "lenet1", "lenet1-4x", "lenet4", "lenet5", "lenet5-reader",
                                     "lenet5-modern"]
    for name, spec in registry.MODELS.items():
        assert registry.build(name).input_shape[1:] == spec.input_shape
        assert spec.dataset in ("mnist", "usps")
        assert spec.input_convention in ("lenet5_32", "mnist_28", "usps_20")
        assert spec.loss in ("crossentropy", "mse")


def test_unknown_model_name_lists_the_valid_ones():
    valid = "lenet1989, lenet1, lenet1-4x, lenet4, lenet5, lenet5-reader, lenet5-modern"
    with pytest.raises(ModelError, match=f"'lenet6'.*{valid}"):
        registry.build("lenet6")


# ---------------------------------------------------------------------------------------------
# Connection tables


def test_lenet5_c3_table_is_the_papers_table_i():
    table = lenet5.C3_TABLE
    for out in range(6):  # three neighbouring S2 maps
        assert set(table[out]) == {(out + k) % 6 for k in range(3)}
    for out in range(6, 12):  # four neighbours
        assert set(table[out]) == {(out - 6 + k) % 6 for k in range(4)}
    assert [set(table[out]) for out in (12, 13, 14)] == [{0, 1, 3, 4}, {1, 2, 4, 5}, {0, 2, 3, 5}]
    assert set(table[15]) == set(range(6))
    assert sum(len(ins) for ins in table.values()) == 60


def test_lenet1_h3_table_is_the_papers_listing():
    feeds = {1: {1, 2, 3, 5, 6}, 2: {2, 3, 4, 5, 6}, 3: {7, 8, 9, 11, 12}, 4: {8, 9, 10, 11, 12}}
    reads = {h3 - 1: tuple(sorted(h2 - 1 for h2, outs in feeds.items() if h3 in outs))
             for h3 in range(1, 13)}
    assert lenet1.H3_TABLE == reads
    assert sum(len(ins) for ins in lenet1.H3_TABLE.values()) == 20


def test_lenet1_4x_table_is_lenet1s_with_each_map_made_three():
    table = lenet1.H3_TABLE_4X
    assert sorted(table) == list(range(36))
    for h3, reads in table.items():
        assert {h2 // 3 for h2 in reads} == set(lenet1.H3_TABLE[h3 // 3])
        assert len(reads) == 3 * len(lenet1.H3_TABLE[h3 // 3])
    assert sum(len(ins) for ins in table.values()) == 9 * 20


def test_lenet1989_h2_reads_8_of_12_maps_in_lecun1989_repro_blocks():
    table = lenet1989.H2_TABLE
    assert sorted(table) == list(range(12))
    for out, ins in table.items():
        block = [range(0, 8), range(4, 12), [*range(0, 4), *range(8, 12)]][out // 4]
        assert ins == tuple(block) and len(ins) == 8


@pytest.mark.parametrize("name", list(TABLE_LAYERS))
def test_masked_weights_stay_exactly_zero_through_training(name):
    model = registry.build(name)
    layer = TABLE_LAYERS[name]
    mask = _table_mask(model, layer)
    before = model.get_layer(layer).kernel.numpy()
    assert np.all(before[mask == 0] == 0), "masked weights are zero from initialisation"
    _compile(model, name, learning_rate=10.0)
    model.fit(_inputs(model, 24), _targets(name, 24), batch_size=8, verbose=0)
    after = model.get_layer(layer).kernel.numpy()
    assert np.all(after[mask == 0] == 0)
    assert np.any(after[mask == 1] != before[mask == 1]), "the connected weights did train"
    subsamplings = [s for s in model.layers if isinstance(s, keras.layers.DepthwiseConv2D)]
    for subsampling in subsamplings:
        window = subsampling.depthwise_kernel.numpy()
        assert np.all(window == window[:1, :1]), f"{subsampling.name} keeps one coefficient a map"


def test_connection_table_mask_config_survives_json():
    mask = layers.ConnectionTableMask({0: (1, 0), 1: (2,)})
    restored = layers.ConnectionTableMask.from_config(json.loads(json.dumps(mask.get_config())))
    assert restored.table == mask.table == {0: (0, 1), 1: (2,)}


def test_connection_table_that_does_not_fit_the_kernel_is_rejected():
    with pytest.raises(ModelError, match="does not fit"):
        layers.ConnectionTableMask({0: (0, 5)}).mask((5, 5, 3, 1))


# ---------------------------------------------------------------------------------------------
# Scaled tanh and RBF output


def test_digit_codes_are_ten_distinct_7x12_bitmaps():
    codes = layers.digit_codes()
    assert codes.shape == (10, 84)
    assert set(np.unique(codes)) == {-1.0, 1.0}
    assert len({c.tobytes() for c in codes}) == 10


def test_the_reader_net_is_lenet5_with_a_blank_code_for_not_a_digit():
    from lenet_edge.models.interface import model_interface

    reader, lenet5 = registry.build("lenet5-reader"), registry.build("lenet5")
    assert reader.output_shape == (None, 11) and lenet5.output_shape == (None, 10)
    assert [layer.name for layer in reader.layers] == [layer.name for layer in lenet5.layers]
    codes = layers.digit_codes(11)
    assert np.array_equal(codes[:10], layers.digit_codes()) and (codes[10] == -1).all()
    assert model_interface(registry.spec("lenet5-reader")).labels == (*"0123456789", "not a digit")
    assert registry.spec("lenet5-reader").recipe.candidate_strings > 0


def test_rbf_output_is_fixed_and_picks_the_nearest_code():
    rbf = layers.RBFOutput()
    u = np.random.default_rng(0).uniform(-1, 1, (1000, 84)).astype(np.float32)
    scores = rbf(u).numpy()
    assert rbf.trainable_weights == [] and not rbf.trainable
    h = PAPER_AMPLITUDE * u  # what F6 outputs in the paper's units
    distances = ((h[:, None, :] - layers.digit_codes()[None]) ** 2).sum(axis=-1)
    assert np.array_equal(scores.argmax(axis=1), distances.argmin(axis=1))
    np.testing.assert_allclose(scores, (h**2).sum(1, keepdims=True) / 2 - distances / 2,
                               rtol=1e-5, atol=1e-3)


def test_folded_tanh_network_computes_the_papers_function():
    folded = registry.build("lenet5", seed=3)
    x = np.random.default_rng(3).uniform(-0.1, 1.175, (16, 32, 32, 1)).astype(np.float32)
    # The paper's net: the same layers up to F6, squashed by f(a) = 1.7159 tanh(2a/3), with the
    # folded weights unfolded: kernel / (S A) (kernel / S for C1, which reads the image), bias / S.
    h = tf.constant(x)
    for layer in folded.layers[1:folded.layers.index(folded.get_layer("F6")) + 1]:
        if not layer.weights:
            h = layer(h)
            continue
        kernel, bias = layer.get_weights()
        gain = PAPER_SLOPE if layer.name == "C1" else PAPER_SLOPE * PAPER_AMPLITUDE
        config = {**layer.get_config(), "activation": "linear", "name": f"paper_{layer.name}"}
        paper = type(layer).from_config(config)
        paper.build(layer.input_shape)
        paper.set_weights([kernel / gain, bias / PAPER_SLOPE])
        h = PAPER_AMPLITUDE * tf.tanh(PAPER_SLOPE * paper(h))
    distances = ((h.numpy()[:, None, :] - layers.digit_codes()[None]) ** 2).sum(axis=-1)
    # The classic model ends in a softmax over its scores, which equals softmax(-y / 2) of the
    # paper's RBF outputs y (the |h|^2 / 2 term is the same for every class).
    expected = tf.nn.softmax(-distances / 2).numpy()
    np.testing.assert_allclose(folded.predict(x, verbose=0), expected, atol=1e-5)
    assert np.array_equal(folded.predict(x, verbose=0).argmax(1), distances.argmin(1))


# ---------------------------------------------------------------------------------------------
# Saving


@pytest.mark.parametrize("name", ["lenet1989", "lenet5"])
def test_saved_model_reloads_with_custom_objects(name, tmp_path):
    model = registry.build(name)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    reloaded = keras.models.load_model(path, custom_objects=layers.custom_objects())
    x = _inputs(model, 4)
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert registry.count_parameters(reloaded) == registry.count_parameters(model)


# ---------------------------------------------------------------------------------------------
# QAT and int8 conversion


def _interpreter(tflite_bytes):
    interpreter = Interpreter(model_content=tflite_bytes)
    interpreter.allocate_tensors()
    return interpreter


def _assert_full_int8(tflite_bytes, name):
    assert tflite.op_names(tflite_bytes) == EXPECTED_OPS[name]
    interpreter = _interpreter(tflite_bytes)
    assert interpreter.get_input_details()[0]["dtype"] == np.int8
    assert interpreter.get_output_details()[0]["dtype"] == np.int8


@pytest.mark.parametrize("name", list(registry.MODELS))
def test_post_training_int8_conversion_uses_builtin_ops_only(name):
    model = _with_nonzero_biases(registry.build(name))
    tflite_bytes = tflite.to_int8_tflite(model, _inputs(model, 8), num_calibration=4)
    _assert_full_int8(tflite_bytes, name)


@pytest.mark.parametrize("name", list(registry.MODELS))
def test_quantize_aware_model_converts_to_the_same_ops(name):
    model = _with_nonzero_biases(registry.build(name))
    quantized = qat.quantize_aware(model)
    wrapped = {wrapper.layer.name for wrapper in quantized.layers
               if isinstance(wrapper, tfmot.quantization.keras.QuantizeWrapperV2)}
    assert wrapped >= {layer.name for layer in model.layers if layer.weights}
    x = _inputs(model, 8)
    assert quantized.predict(x, verbose=0).shape == model.predict(x, verbose=0).shape
    _assert_full_int8(tflite.to_int8_tflite(quantized, x, num_calibration=4), name)


@pytest.mark.parametrize("name", list(TABLE_LAYERS))
def test_prune_preserving_qat_keeps_table_zeros_as_int8_zeros(name):
    model = registry.build(name)
    layer = TABLE_LAYERS[name]
    mask = _table_mask(model, layer)
    quantized = qat.quantize_aware(model, prune_preserve=True)
    _compile(quantized, name, learning_rate=1.0)
    x = _inputs(model, 16)
    quantized.fit(x, _targets(name, 16), batch_size=8, verbose=0)
    interpreter = _interpreter(tflite.to_int8_tflite(quantized, x, num_calibration=4))
    ohwi = mask.transpose(3, 0, 1, 2)  # TFLite stores a conv filter (out, h, w, in)
    [filter_detail] = [d for d in interpreter.get_tensor_details()
                       if f"quant_{layer}/" in d["name"] and tuple(d["shape"]) == ohwi.shape]
    filter_values = interpreter.get_tensor(filter_detail["index"])
    assert filter_values.dtype == np.int8
    assert np.all(filter_values[ohwi == 0] == 0)
    assert np.count_nonzero(filter_values[ohwi == 1]) > 0


def test_representative_inputs_of_the_wrong_shape_are_rejected():
    model = registry.build("lenet1")
    with pytest.raises(ModelError, match=r"\(N, 28, 28, 1\).*\(4, 32, 32, 1\)"):
        tflite.to_int8_tflite(model, np.zeros((4, 32, 32, 1), np.float32))


def test_the_catalog_is_what_building_the_models_gives():
    # `lenet-edge models` prints catalog.MODELS without building anything; this keeps it true.
    from lenet_edge.models import catalog

    assert [registry.describe(name) for name in registry.MODELS] == list(catalog.MODELS.values())


def test_qat_output_ranges_start_at_the_float_outputs():
    """LeNet-5's RBF scores lie far below tfmot's initial [-6, 6]: uncalibrated, the first QAT
    batches see one clipped, constant output (loss ln 10)."""
    model = registry.build("lenet5")
    x = _inputs(model, 16)
    scores = keras.Model(model.input, model.get_layer("OUTPUT").output).predict(x, verbose=0)
    quantized = qat.quantize_aware(model)
    qat.calibrate_output_ranges(quantized, model, x)
    ranges = {v.name.split("/")[-1]: float(v.numpy()) for v in quantized.get_layer("quant_OUTPUT").weights
              if "post_activation" in v.name}
    assert ranges == {"post_activation_min:0": pytest.approx(min(scores.min(), 0.0)),
                      "post_activation_max:0": pytest.approx(max(scores.max(), 0.0))}
    assert scores.min() < -6  # the case the calibration exists for
