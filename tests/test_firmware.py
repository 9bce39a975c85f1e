"""Firmware on emulated boards equals the emulator byte for byte.

The generated C (firmware_sim.firmware), built with arm-none-eabi-gcc and run under
qemu-system-arm, must give firmware_sim.run's outputs -- which equal TFLM's reference kernels' --
for LeNet-1 and LeNet-5 (dense, and 90% pruned), for every op kind the emulator runs (on the M4,
the M0 and the M55), and on the MPS2 boards (the M0, M33 and M55 boards: tests/test_cores.py). Bad input fails in one line: a model too large for the board (before building), a
firmware that hangs (timeout), an op without a kernel (named), a missing toolchain (the apt
command). Weights need not be trained for exactness; the test digits are MNIST's.
"""
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import firmware_sim
from firmware_sim import firmware
from firmware_sim.emulator.kernels.requantize import multiply_by_quantized_multiplier
from firmware_sim.firmware import cgen, generate, qemu
from firmware_sim.firmware.errors import (BoardTooSmallError, FirmwareTimeoutError,
                                          ToolchainMissingError)
from lenet_edge.board.flash import flash
from tests.test_emulator_support import (convert_int8, keras_and_tf, lenet_tflite,
                                         multi_op_tflite, randomize_weights,
                                         structured_int8_images)

pytestmark = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in qemu.TOOLS),
    reason=f"the ARM toolchain and QEMU are missing: {qemu.APT_COMMAND}")

IMAGES = 200


def zoo_tflite(name: str, prune: float = 0.0) -> bytes:
    """A zoo model, freshly initialised, optionally with the smallest `prune` fraction of each
    convolution and dense kernel zeroed, as a full-int8 .tflite calibrated on MNIST digits."""
    from lenet_edge.board.calibrate import pruned_zoo_tflite

    return pruned_zoo_tflite(name, prune)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    paths = {}
    for key, (name, prune) in {"lenet1": ("lenet1", 0.0), "lenet5": ("lenet5", 0.0),
                               "lenet5-pruned": ("lenet5", 0.9)}.items():
        paths[key] = folder / f"{key}.tflite"
        paths[key].write_bytes(zoo_tflite(name, prune))
    return paths


def emulator_outputs(model_path, images: int):
    from firmware_sim.emulator.arrays import model_input
    from firmware_sim.emulator.conventions import convention_for
    from lenet_edge.data.transforms import CONVENTIONS, load_dataset

    graph = firmware_sim.load_model(model_path)
    raw, _ = load_dataset("mnist", "test")
    x = model_input(graph, CONVENTIONS[convention_for(graph, "mnist")](raw[:images]))
    return firmware_sim.run(graph, x)


@pytest.mark.parametrize("key", ["lenet1", "lenet5", "lenet5-pruned"])
def test_lenet_firmware_equals_the_emulator_on_mnist(models, key, tmp_path):
    report = flash(models[key], images=IMAGES, outputs=tmp_path / "y.npy")
    assert report.identical and report.mismatched_images == 0 and report.images == IMAGES
    assert np.array_equal(np.load(tmp_path / "y.npy"), emulator_outputs(models[key], IMAGES))
    assert 0.0 <= report.accuracy <= 1.0
    assert report.instructions_per_inference > report.effective_macs / 2  # SMLAD: 2 a cycle
    # the fused arena and one inference's stack, against TFLM's arena for the same model
    assert report.ram_inference == report.ram_arena + report.ram_stack
    # the stack's static bound holds on the board: the run's painted depth is not above it
    assert 0 < report.ram_stack_painted <= report.ram_stack
    # a third of TFLM's; where --optimize speed chose paired weights (conv_pairs.c: the M4's cost
    # model pairs LeNet-1's dense layers too), its pair buffer still stays within TFLM's arena
    paired = any(step["encoding"] == "pairs" for step in report.steps)
    assert report.ram_inference * (1 if paired else 3) <= report.tflm_arena_bytes


def test_encodings_follow_the_weights(models, tmp_path):
    dense = generate(firmware_sim.load_model(models["lenet5"]), tmp_path / "dense")
    pruned = generate(firmware_sim.load_model(models["lenet5-pruned"]), tmp_path / "pruned", optimize="size")
    # LeNet-5's C3 table leaves 60 of the 96 (map, map) pairs: blocked weights skip the rest
    assert [s.encoding for s in dense.steps][:3] == ["dense", "blocked", "dense"]
    assert {"sparse", "bitmap"} & {s.encoding for s in pruned.steps}
    assert pruned.data_bytes < dense.data_bytes / 3
    # --optimize speed (the default) takes the paired kernel where the core's price says so,
    # at more flash than size's encodings and still less than the dense twin's
    fast = generate(firmware_sim.load_model(models["lenet5-pruned"]), tmp_path / "fast")
    assert "pairs" in {s.encoding for s in fast.steps}
    assert pruned.data_bytes < fast.data_bytes < dense.data_bytes


@pytest.mark.parametrize("board", ["mps2-an385", "mps2-an500"])
def test_other_boards(models, board):
    report = flash(models["lenet5"], board=board, images=IMAGES)
    assert report.identical and report.board == board


def _random_ints(shape, n: int = 60) -> np.ndarray:
    return structured_int8_images(shape, n_random=n)


def _float_io_tflite() -> bytes:
    keras, _ = keras_and_tf()
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.layers.Input((6, 6, 1)), keras.layers.Conv2D(2, 3),
                              keras.layers.Flatten(), keras.layers.Dense(3)])
    return convert_int8(model, -1.0, 1.0, float_io=True)


def _padded_tflite() -> bytes:
    keras, _ = keras_and_tf()
    layers = keras.layers
    keras.utils.set_random_seed(11)
    model = keras.Sequential([
        layers.Input((11, 9, 3)),
        layers.Conv2D(5, 3, strides=(2, 1), padding="same", activation="relu"),
        layers.Conv2D(4, (3, 2), padding="same"),
        layers.DepthwiseConv2D(3, strides=2, padding="same", activation="relu6"),
        layers.MaxPooling2D(2, padding="same"), layers.Flatten(), layers.Dense(4)])
    return convert_int8(model, -1.0, 1.0)


def _per_tensor_fully_connected_tflite() -> bytes:
    """FULLY_CONNECTED quantized per tensor: one output_multiplier and shift for all outputs."""
    keras, _ = keras_and_tf()
    keras.utils.set_random_seed(13)
    model = keras.Sequential([keras.layers.Input((6, 6, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(16, activation="relu"), keras.layers.Dense(5)])
    randomize_weights(model, seed=13)
    tflite = convert_int8(model, -1.0, 1.0, per_channel=False)
    graph = firmware_sim.load_model(tflite)
    filters = [graph.tensors[op.inputs[1]] for op in graph.ops if op.opcode == "FULLY_CONNECTED"]
    assert len(filters) == 2 and not any(f.quant.per_channel for f in filters)
    return tflite


def _float_inputs() -> np.ndarray:
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.uniform(-1.5, 1.5, (100, 6, 6, 1)), np.full((1, 6, 6, 1), 1e9),
                        np.full((1, 6, 6, 1), -1e9)])
    return x.astype(np.float32)


@pytest.mark.parametrize("board", ["mps2-an386", "microbit", "mps3-an547"])
@pytest.mark.parametrize("case", ["multi_op", "per_tensor_lenet", "float_io", "padding",
                                  "per_tensor_fully_connected"])
def test_every_op_kind_equals_the_emulator(case, board, tmp_path):
    """ADD, MUL, depthwise (multiplier 2), max/average pools, LOGISTIC, RELU/RELU6, SOFTMAX,
    per-tensor quantization, float QUANTIZE/DEQUANTIZE, SAME padding with strides."""
    tflite, x = {"multi_op": lambda: (multi_op_tflite(True), _random_ints((12, 12, 2))),
                 "per_tensor_lenet": lambda: (lenet_tflite(False), _random_ints((32, 32, 1))),
                 "float_io": lambda: (_float_io_tflite(), _float_inputs()),
                 "padding": lambda: (_padded_tflite(), _random_ints((11, 9, 3))),
                 "per_tensor_fully_connected": lambda: (_per_tensor_fully_connected_tflite(),
                                                        _random_ints((6, 6, 1)))}[case]()
    model, inputs = tmp_path / "model.tflite", tmp_path / "x.npy"
    model.write_bytes(tflite)
    np.save(inputs, x)
    report = flash(model, board=board, inputs=inputs, outputs=tmp_path / "y.npy")
    expected = firmware_sim.run(firmware_sim.load_model(tflite), x)
    got = np.load(tmp_path / "y.npy")
    assert report.identical and got.dtype == expected.dtype
    assert np.array_equal(got.view(np.uint8), np.ascontiguousarray(expected).view(np.uint8))
    assert 0 < report.ram_stack_painted <= report.ram_stack  # every kernel, soft float too


def test_model_too_large_fails_before_building(tmp_path):
    keras, _ = keras_and_tf()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Input((32, 32, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(2100), keras.layers.Dense(1024)])
    path = tmp_path / "big.tflite"
    path.write_bytes(convert_int8(model, -0.1, 1.175))
    with pytest.raises(BoardTooSmallError) as error:
        flash(path, images=1, workdir=tmp_path / "fw")
    message = str(error.value)
    assert "does not fit mps2-an386" in message and "4,194,304 bytes of flash" in message
    assert "\n" not in message
    assert not (tmp_path / "fw").exists()


def test_a_hanging_firmware_times_out(models, tmp_path):
    folder = tmp_path / "fw"
    flash(models["lenet1"], images=2, workdir=folder)
    main = folder / "main.c"
    hang = "int main(void) {\n  for (;;) {\n  }"
    main.write_text(main.read_text().replace("int main(void) {", hang))
    qemu.build(folder)
    with pytest.raises(FirmwareTimeoutError, match="did not finish within 2 s"):
        qemu.run(folder, "mps2-an386", bytes(28 * 28), 28 * 28, 10, timeout=2)


def test_an_op_without_a_kernel_is_named(tmp_path):
    keras, _ = keras_and_tf()
    layers = keras.layers
    inputs = layers.Input((8, 8, 1))
    x = layers.Concatenate()([layers.Conv2D(2, 3)(inputs), layers.Conv2D(2, 3)(inputs)])
    path = tmp_path / "concat.tflite"
    path.write_bytes(convert_int8(keras.Model(inputs, layers.Flatten()(x)), -1.0, 1.0))
    np.save(tmp_path / "x.npy", np.zeros((2, 8, 8, 1), np.int8))
    with pytest.raises(firmware_sim.UnsupportedOpError, match="CONCATENATION"):
        flash(path, inputs=tmp_path / "x.npy", outputs=tmp_path / "y.npy")


def test_a_missing_toolchain_names_the_install_command(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ToolchainMissingError, match="apt-get install -y gcc-arm-none-eabi "
                                                    "libnewlib-arm-none-eabi qemu-system-arm"):
        qemu.check_toolchain()


def test_generated_identifiers_are_checked():
    assert cgen.identifier("step3_weights") == "step3_weights"
    for bad in ("int", "3x", "a-b", "__reserved", ""):
        with pytest.raises(ValueError):
            cgen.identifier(bad)


@pytest.mark.skipif(shutil.which("cc") is None, reason="no host C compiler")
@pytest.mark.parametrize("defines", [(), ("-D__ARM_ARCH_6M__",)], ids=["native", "armv6m"])
def test_c_requantization_equals_the_emulators(tmp_path, defines):
    """nn_arith.h's one-multiply form of TFLM's double rounding, on ties, signs and extremes;
    also with ARMv6-M's 32x32 -> 64 product from four 16x16 ones (nn_smull)."""
    runtime = Path(firmware.__file__).parent / "runtime"
    source = tmp_path / "rq.c"
    source.write_text('#include <stdio.h>\n#include "nn_arith.h"\nint main(void) {\n'
                      '  long x, m, s;\n  while (scanf("%ld %ld %ld", &x, &m, &s) == 3) {\n'
                      '    nn_rqf_t f = nn_rqf((int32_t)m, (int32_t)s);\n'
                      '    printf("%d %d\\n", nn_requantize((int32_t)x, (int32_t)m, (int32_t)s),\n'
                      '           s <= -2 ? nn_rqf_apply(&f, (int32_t)x) : 0);\n  }\n}\n')
    subprocess.run(["cc", "-O2", "-std=c99", *defines, f"-I{runtime}", str(source), "-o",
                    str(tmp_path / "rq")], check=True)
    rng = np.random.default_rng(0)
    shift = rng.integers(-31, 8, 4000)
    multiplier = np.where(rng.random(4000) < 0.2, 1 << 30, rng.integers(1 << 30, 1 << 31, 4000))
    x = np.concatenate([rng.integers(-(1 << 31), 1 << 31, 2000), rng.integers(-4000, 4000, 1990),
                        [-1, 0, 1, -(1 << 31), (1 << 31) - 1, -2, 2, 3, -3, 1000]])
    text = "\n".join(f"{a} {m} {s}" for a, m, s in zip(x, multiplier, shift))
    result = subprocess.run([str(tmp_path / "rq")], input=text, capture_output=True, text=True,
                            check=True)
    got = np.array([line.split() for line in result.stdout.splitlines()], dtype=np.int64)
    expected = multiply_by_quantized_multiplier(x, multiplier, shift)
    assert np.array_equal(got[:, 0], expected)
    assert np.array_equal(got[shift <= -2, 1], expected[shift <= -2])


def test_cli_flash_prints_json_and_writes_board_outputs(models, tmp_path):
    from typer.testing import CliRunner

    from lenet_edge.cli import app

    x = np.random.default_rng(1).integers(-128, 128, (20, 28, 28, 1)).astype(np.int8)
    np.save(tmp_path / "x.npy", x)
    result = CliRunner().invoke(app, ["flash", str(models["lenet1"]), "--inputs",
                                      str(tmp_path / "x.npy"), "--outputs",
                                      str(tmp_path / "y.npy"), "--out", str(tmp_path / "fw"),
                                      "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["identical"] and report["images"] == 20 and report["accuracy"] is None
    assert np.array_equal(np.load(tmp_path / "y.npy"),
                          firmware_sim.run(firmware_sim.load_model(models["lenet1"]), x))
    # the kept folder builds on its own with its Makefile
    assert subprocess.run(["make", "-s"], cwd=tmp_path / "fw", capture_output=True).returncode == 0
    assert (tmp_path / "fw" / "README.md").exists()
    result = CliRunner().invoke(app, ["flash", str(models["lenet1"]), "--board", "nope"])
    assert result.exit_code == 1 and "unknown board 'nope'" in result.stderr
