"""Sparse kernels that pay (issue 13 item 1): the paired-weights conv kernel (runtime/conv_pairs.c)
equals the emulator byte for byte on QEMU, on a 90%-pruned LeNet-5 (every conv and FC layer
paired) and on random sparse shapes (odd widths, several input channels, stride 2, fused max
and average pools, FC); the per-layer choice of `--optimize speed` never predicts a pruned model
slower than its dense twin, `--optimize size` never larger than speed's; a bad goal is one line.
The DSP cores' row block for C1 and C3 runs on doubled weights (encode.sums_double): its stage
equals TFLM's requantization exactly, and a step that cannot double runs the C path, exactly too.
`check` within 10% of QEMU for the firmware that pairs: tests/test_check_vs_flash.py."""
import shutil

import numpy as np
import pytest

import firmware_sim
from firmware_sim.emulator.kernels.requantize import multiply_by_quantized_multiplier
from firmware_sim.emulator.steps import plan_steps
from firmware_sim.errors import ArgumentError
from firmware_sim.firmware import encode, qemu
from firmware_sim.firmware.calibrate import PAIRS_FIRST
from firmware_sim.firmware.flash_arrays import flash_arrays
from firmware_sim.fit import cost_model
from firmware_sim.fit.conv_layout import conv_weights
from firmware_sim.fit.check import check_model
from tests.cli_support import assert_one_error_line, invoke
from tests.test_emulator_support import convert_int8, keras_and_tf, structured_int8_images
from tests.test_firmware import zoo_tflite

toolchain = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in qemu.TOOLS),
    reason=f"the ARM toolchain and QEMU are missing: {qemu.APT_COMMAND}")


@pytest.fixture(scope="module")
def lenet5(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pairs")
    paths = {}
    for prune in (0.0, 0.5, 0.9):
        paths[prune] = folder / f"lenet5-{round(100 * prune)}.tflite"
        paths[prune].write_bytes(zoo_tflite("lenet5", prune))
    return paths


def _sparse_shapes_tflite(side_w: int, channels: int, stride: int, pool: str) -> bytes:
    """Two convs (the second after a fused 2x2 pool) and a dense layer, 80% of each kernel 0."""
    keras, _ = keras_and_tf()
    layers = keras.layers
    keras.utils.set_random_seed(side_w + channels)
    pooling = layers.MaxPooling2D if pool == "max" else layers.AveragePooling2D
    model = keras.Sequential([
        layers.Input((9, side_w, channels)),
        layers.Conv2D(5, 3, strides=stride, activation="relu"), pooling(2),
        layers.Conv2D(3, (2, 3), activation="tanh"),
        layers.Flatten(), layers.Dense(7)])
    rng = np.random.default_rng(side_w)
    for layer in model.layers:
        if layer.get_weights():
            kernel, bias = layer.get_weights()
            kernel[rng.random(kernel.shape) < 0.8] = 0
            layer.set_weights([kernel, bias])
    return convert_int8(model, -1.0, 1.0)


def _assert_paired_run_is_exact(path, x, board, workdir=None):
    report = flash_arrays(path, x, board=board, optimize=PAIRS_FIRST, workdir=workdir)
    encodings = [s["encoding"] for s in report.steps if s["encoding"]]
    assert report.identical and report.mismatched_images == 0
    return encodings


def _doubled_steps(folder) -> int:
    return (folder / "model_data.c").read_text().count(".doubled = 1")


@toolchain
@pytest.mark.parametrize("board", ["mps2-an386", "mps2-an385", "microbit", "mps3-an547"])
def test_paired_lenet5_equals_the_emulator(lenet5, board, tmp_path):
    graph = firmware_sim.load_model(lenet5[0.9])
    x = structured_int8_images(graph.tensors[graph.inputs[0]].shape[1:], n_random=12)
    # C1, C3 (fused depthwise subsamplings), C5, F6, the output layer: all paired
    assert _assert_paired_run_is_exact(lenet5[0.9], x, board, tmp_path) == ["pairs"] * 5
    assert _doubled_steps(tmp_path) == 2  # C1 and C3: the row block on DSP cores, else halved


@toolchain
def test_a_step_that_cannot_double_takes_the_c_path_exactly(lenet5, tmp_path, monkeypatch):
    monkeypatch.setattr(encode, "sums_double", lambda *args: False)
    graph = firmware_sim.load_model(lenet5[0.9])
    x = structured_int8_images(graph.tensors[graph.inputs[0]].shape[1:], n_random=4)
    assert _assert_paired_run_is_exact(lenet5[0.9], x, "mps2-an386", tmp_path) == ["pairs"] * 5
    assert _doubled_steps(tmp_path) == 0


def _smmlar_stage(s, multiplier, e, offset):
    """runtime/conv_pairs.c's PAIR_RQF before SSAT, on doubled sums s: SMMLAR's high word of
    (2**(e-1) + offset 2**e - [s < 0]) 2**32 + s*M + 2**31, as int32, shifted right by e."""
    high = (1 << (e - 1)) + offset * (1 << e) - (s < 0)
    word = ((high << 32) + s * multiplier + (1 << 31)) >> 32
    assert np.all((word >= -(1 << 31)) & (word < 1 << 31))  # the register holds it
    return word >> e


def test_the_row_blocks_stage_equals_tflms_requantization():
    """On sums below 2**30 in magnitude, shifts -22..-2 and any output offset: ties (M = 2**30
    with x an odd multiple of 2**(e-1)), signs and extremes."""
    rng = np.random.default_rng(0)
    n = 6000
    shift = rng.integers(-22, -1, n)
    multiplier = np.where(rng.random(n) < 0.3, 1 << 30, rng.integers(1 << 30, 1 << 31, n))
    offset = rng.integers(-128, 128, n)
    e = -shift
    x = np.concatenate([rng.integers(-(1 << 30) + 1, 1 << 30, 2000),
                        rng.integers(-5000, 5000, 2000),
                        (2 * rng.integers(-500, 500, 1000) + 1) << (e[4000:5000] - 1),
                        np.resize([0, 1, -1, 2, -2, (1 << 30) - 1, -(1 << 30) + 1], 1000)])
    x, multiplier, e, offset = (v.astype(object) for v in (x, multiplier, e, offset))
    got = np.array([_smmlar_stage(2 * a, m, k, o) for a, m, k, o in zip(x, multiplier, e, offset)])
    expected = multiply_by_quantized_multiplier(x.astype(np.int64), multiplier.astype(np.int64),
                                                -e.astype(np.int64)) + offset.astype(np.int64)
    assert np.array_equal(got.astype(np.int64), expected)


def test_doubled_weights_and_when_a_step_may_double(lenet5):
    graph = firmware_sim.load_model(lenet5[0.9])
    weights, geometry = conv_weights(graph, plan_steps(graph)[1], False)
    doubled = encode.doubled_pairs(encode.pairs(weights, geometry))
    assert np.array_equal(doubled.arrays["weights"][0],
                          encode.pairs(2 * weights, geometry).arrays["weights"][0])
    w = np.zeros((2, 1, 2, 1), np.int64)
    w[0, 0, 0, 0] = 127  # channel 1 dead: its bias and shift do not count
    sub = np.full((2, 4), -128)
    limit = (1 << 30) - 1 - 128 * 127
    ok = dict(bias=[limit, 1 << 31], sub_bias=[0, 1 << 31], shifts=[[-22, -31], [-2, -31]])
    assert encode.sums_double(w, ok["bias"], sub, ok["sub_bias"], ok["shifts"])
    assert not encode.sums_double(w, [limit + 1, 0], sub, ok["sub_bias"], ok["shifts"])
    assert not encode.sums_double(w, ok["bias"], sub, [(1 << 30) - 4 * 128 * 128, 0], ok["shifts"])
    assert not encode.sums_double(w, ok["bias"], sub, ok["sub_bias"], [[-23, -2], [-2, -2]])
    assert not encode.sums_double(w, ok["bias"], sub, ok["sub_bias"], [[-2, -2], [-1, -2]])


@toolchain
@pytest.mark.parametrize("side_w,channels,stride,pool", [(11, 1, 1, "max"), (13, 3, 1, "average"),
                                                         (17, 2, 2, "max")])
def test_paired_random_sparse_shapes_equal_the_emulator(tmp_path, side_w, channels, stride,
                                                        pool):
    path = tmp_path / "model.tflite"
    path.write_bytes(_sparse_shapes_tflite(side_w, channels, stride, pool))
    x = structured_int8_images((9, side_w, channels), n_random=20)
    assert _assert_paired_run_is_exact(path, x, "mps2-an386") == ["pairs"] * 3


@pytest.mark.parametrize("prune", [0.5, 0.9])
def test_speed_never_predicts_a_pruned_model_slower_than_its_dense_twin(lenet5, prune):
    dense = cost_model.predict(firmware_sim.load_model(lenet5[0.0]), "cortex-m4")
    pruned = firmware_sim.load_model(lenet5[prune])
    speed = cost_model.predict(pruned, "cortex-m4", "speed")
    size = cost_model.predict(pruned, "cortex-m4", "size")
    assert speed.instructions_per_inference <= dense.instructions_per_inference
    assert speed.instructions_per_inference <= size.instructions_per_inference
    assert size.flash_inference <= speed.flash_inference


def test_check_and_flash_take_the_optimize_goal(lenet5):
    speed = check_model(lenet5[0.9], "nrf52840")
    size = check_model(lenet5[0.9], "nrf52840", optimize="size")
    assert speed.instructions_per_inference < size.instructions_per_inference
    assert size.flash_inference < speed.flash_inference
    with pytest.raises(ArgumentError, match="speed, size"):
        check_model(lenet5[0.9], "nrf52840", optimize="fast")
    assert_one_error_line(invoke("check", lenet5[0.9], "--device", "nrf52840", "--optimize",
                                 "fast"), "--optimize must be one of speed, size")
    assert_one_error_line(invoke("flash", lenet5[0.9], "--optimize", "small"),
                          "--optimize must be one of speed, size")
