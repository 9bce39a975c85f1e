"""`lenet-edge convert`: full-int8 and float .tflite from runs, verified with LiteRT; the model
card, the C array, all-or-nothing writes and one-line errors for bad input."""
import lenet_edge  # noqa: F401  (first: selects Keras 2 before TensorFlow loads)

import dataclasses
import hashlib
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
from ai_edge_litert.interpreter import Interpreter

import firmware_sim
from convert import flatbuffer, from_run, tflite
from lenet_edge import run as runs
from lenet_edge.compress.qat_run import fine_tune_qat
from lenet_edge.errors import ModelError
from lenet_edge.models import registry
from lenet_edge.models.interface import model_interface
from lenet_edge.outputs import MARKER
from lenet_edge.train.loop import train
from tests.cli_support import assert_one_error_line, invoke, one_error_line

TEST_SLICE = 2000  # digits: 0.5 percentage points is 10 of them
CALIBRATION = 200
# One epoch on 6,000 digits: the nets read most digits, so int8 rounding moves few predictions.
RECIPE = dict(epochs=1, batch_size=32, train_limit=6000, test_limit=256)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished run folder per zoo model, trained once for the module."""
    root = tmp_path_factory.mktemp("runs")
    for name in registry.MODELS:
        # the 1989 net's MSE criterion learns slower per step; its USPS epochs are cheap
        epochs = 4 if name == "lenet1989" else RECIPE["epochs"]
        train(root / name, runs.RunConfig(name, **{**RECIPE, "epochs": epochs}), progress=False)
    return root


@pytest.fixture(scope="module")
def int8_reports(trained, tmp_path_factory):
    out = tmp_path_factory.mktemp("int8")
    return {name: from_run.convert_run(trained / name, out / f"{name}.tflite", "int8", CALIBRATION,
                                       limit=TEST_SLICE)
            for name in registry.MODELS}






def assert_full_int8(tflite_bytes):
    tflite.check_full_integer(tflite_bytes)  # raises on a custom op or a float tensor
    graph = flatbuffer.read(tflite_bytes)
    assert not any(op.custom for op in graph.ops)
    assert graph.tensors[graph.inputs[0]].dtype == graph.tensors[graph.outputs[0]].dtype == "int8"


# ---------------------------------------------------------------------------------------------
# int8: post-training and quantization-aware


@pytest.mark.parametrize("name", list(registry.MODELS))
def test_every_zoo_model_converts_to_full_int8_close_to_keras(name, int8_reports):
    report = int8_reports[name]
    tflite_bytes = report.path.read_bytes()
    assert_full_int8(tflite_bytes)
    assert report.quantization == "post-training"
    check = report.verification
    assert check.digits == TEST_SLICE and check.batch > 1
    assert abs(check.tflite_errors - check.keras_errors) <= TEST_SLICE // 200, check  # 0.5 points
    assert check.agreement >= 0.98, check
    # the file carries the zoo model's interface, as the card says
    interface = firmware_sim.load_model(tflite_bytes).interface
    assert interface == model_interface(registry.spec(name)) and interface.source == "metadata"
    assert report.card["interface"] == interface.as_dict()


@pytest.fixture(scope="module")
def pruned(trained, tmp_path_factory):
    """(run folder, masks): lenet4 with half of C1's filter and of the output matrix zeroed,
    saved as a prune run; masks are in TFLite's layouts, layer name -> True where zeroed."""
    folder = tmp_path_factory.mktemp("pruned")
    model = runs.load_model(trained / "lenet4")
    rng = np.random.default_rng(0)
    masks = {}
    for layer, to_tflite_layout in (("C1", (3, 0, 1, 2)), ("OUTPUT", (1, 0))):
        kernel = model.get_layer(layer).kernel
        mask = rng.random(kernel.shape) < 0.5
        kernel.assign(np.where(mask, 0.0, kernel.numpy()))
        masks[layer] = mask.transpose(to_tflite_layout)  # CONV_2D filter OHWI, FULLY_CONNECTED (out, in)
    config = dataclasses.replace(runs.read_config(trained / "lenet4"), stage="prune",
                                 source=str(trained / "lenet4"))
    runs.write_json(folder / runs.CONFIG, config.__dict__)
    runs.save_model(model, folder / runs.MODEL)
    return folder, masks


def assert_zeros_survive(report, masks):
    graph = flatbuffer.read(report.path.read_bytes())
    for layer, zeroed in masks.items():
        [weight] = [t for t in graph.tensors
                    if t.data is not None and t.dtype == "int8" and t.shape == zeroed.shape
                    and f"{layer}/" in t.name]  # "lenet4/C1/...", QAT: "quant_C1/..."
        assert np.all(weight.data[zeroed] == 0), layer
        [card_layer] = [entry for entry in report.card["layers"]
                        if entry["weights"] and entry["inputs"][1]["name"] == weight.name]
        assert card_layer["zero_weights"] >= zeroed.sum()
    zeroed = sum(mask.sum() for mask in masks.values())
    assert report.card["zero_weight_fraction"] >= zeroed / report.card["weights"]


def test_pruned_zeros_survive_post_training_quantization(pruned, tmp_path):
    folder, masks = pruned
    report = from_run.convert_run(folder, tmp_path / "pruned.tflite", calibration=CALIBRATION, limit=256)
    assert report.card["run_stage"] == "prune"
    assert_zeros_survive(report, masks)


def test_a_qat_run_converts_to_full_int8_keeping_pruned_zeros(pruned, tmp_path):
    folder, masks = pruned
    fine_tune_qat(folder, tmp_path / "qat", epochs=1, progress=False)  # prune-preserving QAT
    report = from_run.convert_run(tmp_path / "qat", tmp_path / "qat.tflite", calibration=CALIBRATION,
                                  limit=TEST_SLICE)
    assert_full_int8(report.path.read_bytes())
    assert report.quantization == "quantization-aware training"
    assert report.card["run_stage"] == "qat"
    # The fake-quantized Keras model and the int8 file compute nearly the same numbers.
    assert report.verification.agreement >= 0.99, report.verification
    assert abs(report.verification.tflite_error - report.verification.keras_error) <= 0.005
    assert_zeros_survive(report, masks)


# ---------------------------------------------------------------------------------------------
# Float modes


def test_float_modes_convert_and_agree(trained, tmp_path):
    sizes = {"int8": None}
    for mode in ("float16", "dynamic", "float32"):
        report = from_run.convert_run(trained / "lenet1", tmp_path / f"{mode}.tflite", mode, limit=500)
        assert report.card["input"]["dtype"] == "float32" and report.card["input"]["scale"] is None
        assert report.verification.agreement >= (0.999 if mode != "dynamic" else 0.98)
        sizes[mode] = report.size
    sizes["int8"] = from_run.convert_run(trained / "lenet1", tmp_path / "int8.tflite", limit=16).size
    assert sizes["int8"] < sizes["float16"] < sizes["float32"]
    assert sizes["dynamic"] < sizes["float16"]
    float16_ops = flatbuffer.op_names((tmp_path / "float16.tflite").read_bytes())
    assert "DEQUANTIZE" in float16_ops  # float16 constants widened at load time


# ---------------------------------------------------------------------------------------------
# The model card


def test_model_card_describes_the_file(trained, int8_reports):
    report = int8_reports["lenet5"]
    data = report.path.read_bytes()
    card = json.loads(report.path.with_suffix(".json").read_text())
    assert card == report.card
    assert card["bytes"] == len(data) and card["sha256"] == hashlib.sha256(data).hexdigest()
    assert card["source_run"] == str((trained / "lenet5").resolve())
    assert (card["model"], card["mode"], card["calibration_digits"]) == ("lenet5", "int8", CALIBRATION)

    interpreter = Interpreter(model_content=data)
    for end, [detail] in (("input", interpreter.get_input_details()),
                          ("output", interpreter.get_output_details())):
        assert card[end]["shape"] == list(detail["shape"]) and card[end]["dtype"] == "int8"
        assert (card[end]["scale"], card[end]["zero_point"]) == pytest.approx(detail["quantization"])

    assert card["ops"] == tflite.op_names(data) == [layer["op"] for layer in card["layers"]]
    assert card["parameter_bytes"] == sum(layer["parameter_bytes"] for layer in card["layers"])
    c1 = card["layers"][0]
    assert [t["shape"] for t in c1["inputs"]] == [[1, 32, 32, 1], [6, 5, 5, 1], [6]]
    assert [t["dtype"] for t in c1["inputs"]] == ["int8", "int8", "int32"]
    assert c1["parameter_bytes"] == 150 + 6 * 4 and c1["weights"] == 150
    # C3's connection table leaves 6 x 5 x 5 x 16 - 1,500 = 900 weights at zero, LeNet-5's only table.
    assert card["weights"] > 0 and card["zero_weight_fraction"] * card["weights"] >= 900
    verification = card["verification"]
    assert verification["digits"] == TEST_SLICE
    assert verification["tflite_test_error"] == report.verification.tflite_error


# ---------------------------------------------------------------------------------------------
# The CLI and the C array


def test_cli_int8_with_c_array_compiles_to_the_same_bytes(trained, tmp_path):
    # Two models into one folder: the C files and arrays are named after each .tflite, so the
    # second conversion replaces nothing of the first and both link into one program.
    folder = tmp_path / "firmware"
    for name in ("lenet1", "lenet4"):
        result = invoke("convert", trained / name, "--int8", "--out", folder / f"{name}.tflite", "--c-array",
                        "--calibration", 100, "--limit", 256)
        assert result.exit_code == 0, result.output
    assert "lenet4 int8 (post-training)" in result.stdout and "agreement" in result.stdout
    assert sorted(p.name for p in folder.iterdir() if p.name != MARKER) == [
        "lenet1.json", "lenet1.tflite", "lenet1_data.cc", "lenet1_data.h",
        "lenet4.json", "lenet4.tflite", "lenet4_data.cc", "lenet4_data.h"]
    (tmp_path / "dump.cc").write_text(
        '#include <cstdint>\n#include <cstdio>\n#include "lenet1_data.h"\n#include "lenet4_data.h"\n'
        "int main(int argc, char**) {\n"
        "  const unsigned char* model = argc > 1 ? g_lenet4 : g_lenet1;\n"
        "  unsigned int len = argc > 1 ? g_lenet4_len : g_lenet1_len;\n"
        "  if (reinterpret_cast<std::uintptr_t>(model) % 16 != 0) return 2;\n"
        "  std::fwrite(model, 1, len, stdout);\n"
        "  return 0;\n}\n")
    binary = tmp_path / "dump"
    subprocess.run(["g++", "-std=c++17", "-Wall", "-Werror", "-I", folder, tmp_path / "dump.cc",
                    folder / "lenet1_data.cc", folder / "lenet4_data.cc", "-o", binary], check=True)
    assert subprocess.run([binary], check=True, capture_output=True).stdout == (folder / "lenet1.tflite").read_bytes()
    assert subprocess.run([binary, "4"], check=True, capture_output=True).stdout == \
        (folder / "lenet4.tflite").read_bytes()


def test_cli_converts_again_over_its_own_files_but_not_over_a_users(trained, tmp_path):
    out = tmp_path / "model.tflite"
    for _ in range(2):  # the second run replaces what the first wrote
        result = invoke("convert", trained / "lenet1", "--out", out, "--limit", 64)
        assert result.exit_code == 0, result.output
    users = tmp_path / "model_data.cc"
    users.write_text("// mine\n")
    line = one_error_line(invoke("convert", trained / "lenet1", "--out", out, "--c-array", "--limit", 64))
    assert str(users) in line and users.read_text() == "// mine\n"


def test_cli_json_prints_the_card(trained, tmp_path):
    result = invoke("convert", trained / "lenet1989", "--float16", "--out", tmp_path / "m.tflite",
                    "--limit", 64, "--json")
    assert result.exit_code == 0, result.output
    card = json.loads(result.stdout)
    assert card["mode"] == "float16" and card["model"] == "lenet1989"
    assert card["files"] == [str(tmp_path / "m.tflite"), str(tmp_path / "m.json")]


# ---------------------------------------------------------------------------------------------
# Nothing partial is written


def test_a_failure_after_conversion_writes_nothing(trained, tmp_path, monkeypatch):
    def failing_verify(*args):
        raise RuntimeError("simulated failure after conversion")
    monkeypatch.setattr(from_run, "verify", failing_verify)
    with pytest.raises(RuntimeError, match="simulated"):
        from_run.convert_run(trained / "lenet1", tmp_path / "model.tflite", c_array=True, limit=64)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_no_file(trained, tmp_path, monkeypatch):
    write_bytes, calls = pathlib.Path.write_bytes, []

    def write_then_fail(path, content):
        calls.append(path)
        if len(calls) == 3:  # the .tflite, its card and the header are on disk by now
            raise OSError("disk full")
        return write_bytes(path, content)
    monkeypatch.setattr(pathlib.Path, "write_bytes", write_then_fail)
    with pytest.raises(OSError, match="disk full"):
        from_run.convert_run(trained / "lenet1", tmp_path / "model.tflite", c_array=True, limit=64)
    assert len(calls) == 3 and list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# Bad input: one line


def test_a_folder_that_is_not_a_run(tmp_path):
    result = invoke("convert", tmp_path, "--int8", "--out", tmp_path / "model.tflite")
    assert_one_error_line(result, "is not a lenet-edge run")


def test_a_corrupt_model_file(trained, tmp_path):
    folder = tmp_path / "corrupt"
    folder.mkdir()
    (folder / runs.CONFIG).write_text((trained / "lenet1" / runs.CONFIG).read_text())
    (folder / runs.MODEL).write_bytes(b"PK\x03\x04 not really a zip archive")
    result = invoke("convert", folder, "--int8", "--out", tmp_path / "model.tflite")
    assert_one_error_line(result, "model.keras", "cannot be loaded")
    assert not (tmp_path / "model.tflite").exists()


@keras.saving.register_keras_serializable(package="test_convert")
class CumulativeProduct(keras.layers.Layer):
    """A layer with no builtin TFLite op: TensorFlow's Cumprod."""

    def call(self, inputs):
        return tf.math.cumprod(inputs, axis=-1)


def test_a_layer_int8_cannot_express(trained, tmp_path):
    base = runs.load_model(trained / "lenet1")
    model = keras.Model(base.input, CumulativeProduct()(base.output))
    folder = tmp_path / "cumprod"
    folder.mkdir()
    (folder / runs.CONFIG).write_text((trained / "lenet1" / runs.CONFIG).read_text())
    runs.save_model(model, folder / runs.MODEL)
    result = invoke("convert", folder, "--int8", "--out", tmp_path / "model.tflite", "--limit", 16)
    assert_one_error_line(result, "int8 conversion", "Cumprod")
    assert not (tmp_path / "model.tflite").exists()


def test_a_result_that_is_not_full_integer_is_refused(trained):
    base = runs.load_model(trained / "lenet1")
    float_bytes = tflite.to_tflite(base, "float32")
    with pytest.raises(ModelError, match=r"left CONV_2D \(node 0\) with a float32 tensor"):
        tflite.check_full_integer(float_bytes, "lenet1")
    # What the converter writes when custom ops are allowed: Cumprod as a custom op.
    converter = tf.lite.TFLiteConverter.from_keras_model(
        keras.Model(base.input, CumulativeProduct()(base.output)))
    converter.allow_custom_ops = True
    with pytest.raises(ModelError, match="left a custom op 'Cumprod'"):
        tflite.check_full_integer(bytes(converter.convert()), "lenet1")


@pytest.mark.parametrize("args, fragment", [
    (["--int8", "--float16"], "at most one of"),
    (["--calibration", "0", "--int8"], "--calibration must be at least 1"),
    (["--limit", "0"], "--limit must be at least 1"),
])
def test_bad_flags(trained, tmp_path, args, fragment):
    result = invoke("convert", trained / "lenet1", *args, "--out", tmp_path / "model.tflite")
    assert_one_error_line(result, fragment)


def test_out_must_be_a_tflite_file(trained, tmp_path):
    result = invoke("convert", trained / "lenet1", "--out", tmp_path / "model.json")
    assert_one_error_line(result, "--out must name a .tflite file")


def test_the_converter_and_litert_keep_their_native_log_lines_off_the_terminal():
    # a subprocess: the lines are written to file descriptor 2 by C++, past sys.stderr
    script = ("import numpy as np, lenet_edge; from convert import tflite, verify; "
              "from lenet_edge.models import registry; m = registry.build('lenet1'); "
              "x = np.random.default_rng(0).random((8, 28, 28, 1), dtype=np.float32); "
              "verify.run_tflite(tflite.to_tflite(m, 'int8', x, 8), x); print('converted')")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "converted", done.stderr
    assert "fully_quantize" not in done.stderr and "XNNPACK" not in done.stderr, done.stderr
