"""The model's interface travels in the .tflite: convert writes it (metadata
"lenet_edge.interface"), the reader validates and reads it once, and simulate, read, the board's
normalization and the pipeline's int8 evaluation prepare digits with it; a foreign file gets it
inferred in one place, or a one-line error naming --convention."""
import lenet_edge  # noqa: F401  (first: selects Keras 2 before TensorFlow loads)

import dataclasses
import json

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter as LiteRT

import firmware_sim
from convert.flatbuffer import with_metadata
from firmware_sim.emulator.arrays import model_input
from firmware_sim.emulator.conventions import CONVENTIONS, Convention
from firmware_sim.emulator.interface import (METADATA_NAME, ModelInterface, read_interface,
                                             scores_tensor)
from firmware_sim.emulator.integer_normalize import input_table
from firmware_sim.errors import InputError, ModelFileError
from lenet_edge.board.simulate import simulate_dataset
from lenet_edge.data.transforms import load_dataset
from lenet_edge.models import registry
from lenet_edge.models.interface import model_interface
from lenet_edge.pipeline.int8_eval import _outputs
from lenet_edge.errors import UsageError
from lenet_edge.read.reader import load_classifier, tflite_classifier
from tests.cli_support import assert_one_error_line, invoke
from tests.test_emulator_support import tflm_run
from tests.test_planner import zoo_int8_tflite

# LeNet-5's convention with the polarity turned over: dark ink on a bright background
DARK = Convention("lenet5_32_dark", "mnist", 32, 1.175, -0.1)


@pytest.fixture(scope="module")
def foreign():
    """lenet5 converted to int8 without lenet-edge's metadata, as another tool writes it."""
    return zoo_int8_tflite("lenet5")


@pytest.fixture(scope="module")
def converted(foreign):
    """The same file as `lenet-edge convert` writes it: with the zoo model's interface."""
    return with_metadata(foreign, METADATA_NAME, model_interface(registry.spec("lenet5")).to_json())


def with_document(tflite: bytes, document) -> bytes:
    return with_metadata(tflite, METADATA_NAME, json.dumps(document).encode())


def dark_model(foreign: bytes, path) -> bytes:
    data = with_metadata(foreign, METADATA_NAME, ModelInterface(DARK, "probabilities",
                                                                tuple("0123456789")).to_json())
    path.write_bytes(data)
    return data


def test_a_converted_model_carries_its_interface(converted):
    graph = firmware_sim.load_model(converted)
    expected = model_interface(registry.spec("lenet5"))
    assert graph.interface == expected and graph.interface.source == "metadata"
    assert read_interface(graph) is graph.interface
    assert graph.interface.as_dict() == {
        "version": 1,
        "input": {"convention": "lenet5_32", "dataset": "mnist", "height": 32, "width": 32,
                  "padding": 2, "background": -0.1, "ink": 1.175, "polarity": "ink_bright"},
        "output": {"kind": "probabilities", "labels": list("0123456789")}}
    lenet1989 = model_interface(registry.spec("lenet1989"))
    assert (lenet1989.convention.name, lenet1989.output) == ("usps_20", "codes")


def test_litert_and_tflm_run_the_file_with_its_metadata(foreign, converted):
    x = np.random.default_rng(0).integers(-128, 128, (4, 32, 32, 1), dtype=np.int8)

    def litert(data):
        interpreter = LiteRT(model_content=data)
        interpreter.allocate_tensors()
        rows = []
        for image in x:
            interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image[None])
            interpreter.invoke()
            rows.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0])
        return np.array(rows)

    assert np.array_equal(litert(converted), litert(foreign))
    tflm = tflm_run(converted, x)
    assert np.array_equal(tflm, tflm_run(foreign, x))
    assert np.array_equal(tflm.reshape(len(x), -1), firmware_sim.run(firmware_sim.load_model(converted), x))


def test_a_foreign_model_gets_the_same_interface_inferred(foreign, converted):
    graph = firmware_sim.load_model(foreign)
    assert graph.interface is None
    inferred = read_interface(graph)
    assert inferred == firmware_sim.load_model(converted).interface and inferred.source == "inferred"
    last = graph.ops[-1]
    assert last.opcode == "SOFTMAX" and scores_tensor(graph, inferred) == last.inputs[0]
    as_logits = dataclasses.replace(inferred, output="logits")
    assert scores_tensor(graph, as_logits) == graph.outputs[0]


def test_unknown_input_size_without_metadata_names_what_to_pass(foreign):
    graph = firmware_sim.load_model(foreign)
    tensors = list(graph.tensors)
    tensors[graph.inputs[0]] = dataclasses.replace(tensors[graph.inputs[0]], shape=(1, 24, 24, 1))
    odd = dataclasses.replace(graph, tensors=tuple(tensors))
    with pytest.raises(InputError) as error:
        read_interface(odd)
    message = str(error.value)
    assert "[1, 24, 24, 1]" in message and "--convention NAME" in message
    assert "lenet5_32, mnist_28, usps_20" in message and "\n" not in message
    with pytest.raises(InputError, match="makes 32x32 inputs"):
        read_interface(odd, "lenet5_32")


def test_convention_overrides_and_is_checked(foreign, converted):
    graph = firmware_sim.load_model(foreign)
    chosen = read_interface(graph, "lenet5_32")
    assert chosen == read_interface(graph) and chosen.source == "--convention"
    with pytest.raises(InputError, match="unknown convention 'lenet6'.*lenet5_32, mnist_28"):
        read_interface(graph, "lenet6")
    with pytest.raises(InputError, match=r"convention mnist_28 makes 28x28 inputs.*\[1, 32, 32, 1\]"):
        read_interface(firmware_sim.load_model(converted), "mnist_28")


@pytest.mark.parametrize("change, fragment", [
    (lambda d: "not json {", "not a valid model interface"),
    (lambda d: {**d, "version": 2}, '"version": 1'),
    (lambda d: {**d, "input": {**d["input"], "height": 28, "width": 28}}, "input shape is [1, 32, 32, 1]"),
    (lambda d: {**d, "input": {**d["input"], "polarity": "ink_dark"}}, "polarity 'ink_dark' contradicts"),
    (lambda d: {**d, "input": {**d["input"], "padding": 0}}, "padding 0"),
    (lambda d: {**d, "input": {**d["input"], "ink": -0.1}}, "distinct"),
    (lambda d: {**d, "input": {**d["input"], "dataset": "emnist"}}, "dataset 'emnist'"),
    (lambda d: {**d, "output": {**d["output"], "kind": "votes"}}, "output kind 'votes'"),
    (lambda d: {**d, "output": {**d["output"], "labels": ["0", "1"]}}, "2 labels for 10 outputs"),
    (lambda d: {k: v for k, v in d.items() if k != "output"}, "'output'"),
])
def test_a_malformed_interface_is_one_line(foreign, tmp_path, change, fragment):
    document = model_interface(registry.spec("lenet5")).as_dict()
    changed = change(document)
    data = (with_metadata(foreign, METADATA_NAME, changed.encode()) if isinstance(changed, str)
            else with_document(foreign, changed))
    with pytest.raises(ModelFileError) as error:
        firmware_sim.load_model(data)
    message = str(error.value)
    assert message.startswith("metadata 'lenet_edge.interface' is not a valid model interface")
    assert fragment in message and "\n" not in message
    path = tmp_path / "bad.tflite"
    path.write_bytes(data)
    assert_one_error_line(invoke("simulate", path, "--limit", 10), "not a valid model interface")


def test_confidences_by_output_kind(converted):
    interface = firmware_sim.load_model(converted).interface
    scores = np.array([[0.25, 0.75], [0.5, 0.5]], np.float32)
    assert interface.confidences(scores) is scores
    for kind in ("logits", "codes"):
        confidences = dataclasses.replace(interface, output=kind).confidences(scores)
        assert np.allclose(confidences.sum(axis=1), 1.0)
        assert confidences[0, 1] > confidences[0, 0] and confidences[1, 0] == confidences[1, 1]


def test_the_metadata_convention_prepares_the_digits_not_the_size_guess(foreign, tmp_path):
    """A 32x32 model whose metadata says dark ink on bright: every consumer prepares it so."""
    path = tmp_path / "dark.tflite"
    dark_model(foreign, path)
    graph = firmware_sim.load_model(path)
    assert graph.interface.convention == DARK and not DARK.ink_bright
    images, labels = load_dataset("mnist", "test")
    images, labels = images[:64], labels[:64]
    expected = firmware_sim.run(graph, model_input(graph, DARK(images)))
    assert not np.array_equal(expected, firmware_sim.run(graph, model_input(graph, CONVENTIONS["lenet5_32"](images))))

    result = simulate_dataset(path, "mnist", limit=64)
    assert result.convention == "lenet5_32_dark"
    assert result.errors == int(np.count_nonzero(expected.argmax(axis=1) != labels))

    output = graph.tensors[graph.outputs[0]].quant
    scores = output.scale * (expected.astype(np.float32) - output.zero_point)
    assert np.array_equal(tflite_classifier(path)(images), scores)

    probabilities, _, got_labels = _outputs(path, "mnist", 64, None)
    assert np.array_equal(probabilities, scores.reshape(len(scores), -1))
    assert np.array_equal(got_labels, labels)

    # the board's input table maps field value 0 (background) to the model's background level
    quantized = model_input(graph, np.array([[[[1.175]]], [[[-0.1]]]], np.float32)).ravel()
    assert (input_table(graph)[0], input_table(firmware_sim.load_model(foreign))[0]) == tuple(quantized)


def test_simulate_takes_convention(foreign, tmp_path):
    path = tmp_path / "foreign.tflite"
    path.write_bytes(foreign)
    inferred = simulate_dataset(path, "mnist", limit=32)
    assert simulate_dataset(path, "mnist", limit=32, convention="lenet5_32").errors == inferred.errors
    assert_one_error_line(invoke("simulate", path, "--convention", "usps_20"),
                          "convention usps_20 makes 20x20 inputs")
    assert_one_error_line(invoke("simulate", path, "--convention", "nope"), "unknown convention 'nope'")
    np.save(tmp_path / "x.npy", np.zeros((1, 32, 32, 1), np.int8))
    assert_one_error_line(invoke("simulate", path, "--inputs", tmp_path / "x.npy", "--outputs",
                                 tmp_path / "y.npy", "--convention", "lenet5_32"),
                          "--convention prepares test digits")


def test_read_and_flash_take_convention(foreign, tmp_path):
    path = tmp_path / "foreign.tflite"
    path.write_bytes(foreign)
    images, _ = load_dataset("mnist", "test")
    assert np.array_equal(tflite_classifier(path, "lenet5_32")(images[:16]),
                          tflite_classifier(path)(images[:16]))
    with pytest.raises(UsageError, match="--convention is for a .tflite"):
        load_classifier(tmp_path, "mnist_28")
    assert_one_error_line(invoke("flash", path, "--normalize", "--convention", "lenet5_32"),
                          "--convention prepares test digits")
