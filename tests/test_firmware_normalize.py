"""Normalization on the board equals its numpy twin, bit for bit, and stays close to the host's.

runtime/normalize.c, built with arm-none-eabi-gcc and run under QEMU, must give
firmware_sim.emulator.integer_normalize's int8 model inputs for random and MNIST bitmaps of every shape the board
takes (1x1, one row or column of 64, 64x64, dark ink), for a 32x32 and a 28x28 model; and the
classification after it equals the emulator's. Bad bitmaps (empty, too large) fail in one line,
on the host before building and on the board through its status. Weights are random: exactness
does not need training.
"""
import json
import shutil
import subprocess

import numpy as np
import pytest

import firmware_sim
from firmware_sim.emulator.arrays import model_input
from firmware_sim.emulator.digit_files import load_raw_digits, save_raw_digits
from firmware_sim.emulator.integer_normalize import (FIELD, MAX_SIDE, RawDigit, box_weights, field_inputs,
                                             fitted_size, ink_of, normalize_digit,
                                             normalized_inputs)
from firmware_sim.errors import InputError
from firmware_sim.firmware import generate, qemu
from firmware_sim.firmware.flash_digits import _check_statuses, run_digits
from lenet_edge.board.flash_normalize import flash_normalized
from lenet_edge.board.raw_digits import raw_test_digits
from lenet_edge.data.transforms import CONVENTIONS, load_dataset
from tests.test_emulator_support import convert_int8, keras_and_tf, lenet_tflite

needs_board = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in qemu.TOOLS),
    reason=f"the ARM toolchain and QEMU are missing: {qemu.APT_COMMAND}")


@pytest.fixture(scope="module")
def mnist():
    images, labels = load_dataset("mnist", "test")
    return images[:200], labels[:200]


@pytest.fixture(scope="module")
def lenet5(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "lenet5.tflite"
    path.write_bytes(lenet_tflite())
    return path


def _small_28_tflite() -> bytes:
    keras, _ = keras_and_tf()
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.layers.Input((28, 28, 1)), keras.layers.Conv2D(2, 5, 3),
                              keras.layers.Flatten(), keras.layers.Dense(10)])
    return convert_int8(model, -0.1, 1.175)


def edge_digits() -> list[RawDigit]:
    """Every shape the board takes, sparse and dense ink, both polarities."""
    rng = np.random.default_rng(0)
    shapes = [(1, 1), (1, MAX_SIDE), (MAX_SIDE, 1), (3, MAX_SIDE), (MAX_SIDE, 2), (2, 2),
              (MAX_SIDE, MAX_SIDE), (5, 40), (63, 17)]
    shapes += [tuple(s) for s in rng.integers(1, MAX_SIDE + 1, (12, 2))]
    digits = []
    for i, shape in enumerate(shapes):
        bitmap = np.where(rng.random(shape) < 0.3, rng.integers(0, 256, shape), 0)
        bitmap.flat[rng.integers(bitmap.size)] = rng.integers(1, 256)  # never empty
        digits.append(RawDigit(bitmap.astype(np.uint8)))
        digits.append(RawDigit(255 - bitmap.astype(np.uint8), ink_dark=True))
    corner = np.zeros((MAX_SIDE, MAX_SIDE), np.uint8)
    corner[-1, -1] = 1  # faintest ink, in the far corner
    return digits + [RawDigit(corner), RawDigit(np.full((MAX_SIDE, MAX_SIDE), 255, np.uint8))]


# ---- the twin on its own ---------------------------------------------------------------------

def test_box_weights_and_sizes():
    for n, m in [(1, 20), (64, 20), (20, 20), (7, 3), (3, 7)]:
        weights = box_weights(n, m)
        assert (weights.sum(axis=1) == n).all() and (weights.sum(axis=0) == m).all()
    assert fitted_size(64, 1) == (20, 1) and fitted_size(1, 1) == (20, 20)
    assert fitted_size(40, 30) == (20, 15) and fitted_size(8, 3) == (20, 8)  # 7.5 rounds up


def test_a_single_pixel_fills_the_box_on_the_centre():
    field = normalize_digit(RawDigit(np.full((1, 1), 7, np.uint8)))
    assert (field[4:24, 4:24] == 255).all() and field.sum() == 255 * 400


def test_twin_inputs_equal_the_dataset_path(lenet5, mnist):
    """Step 5 (padding and the input table) gives the emulator's int8 input for a uint8 field."""
    graph = firmware_sim.load_model(lenet5)
    images, _ = mnist
    expected = model_input(graph, CONVENTIONS["lenet5_32"](images))
    assert np.array_equal(field_inputs(graph, images), expected)


def test_twin_is_close_to_the_host_float_normalization(mnist):
    from lenet_edge.read.normalize import normalize

    raw = raw_test_digits(mnist[0])
    board = np.stack([normalize_digit(d) for d in raw]).astype(np.float64)
    host = np.stack([normalize(ink_of(d).astype(np.float32)) for d in raw]).astype(np.float64)
    assert np.abs(board - host).mean() < 4  # gray levels of 255 (measured: 2.3)
    ys, xs = np.indices((FIELD, FIELD))
    for axis in (ys, xs):
        centres = [(f * axis).sum(axis=(1, 2)) / f.sum(axis=(1, 2)) for f in (board, host)]
        assert np.abs(centres[0] - centres[1]).max() <= 1.0  # pixels


@pytest.mark.parametrize("bitmap, ink_dark, message", [
    (np.zeros((5, 9), np.uint8), False, "digit 1: the 5x9 bitmap has no ink"),
    (np.full((5, 9), 255, np.uint8), True, "digit 1: the 5x9 bitmap has no ink"),
    (np.ones((65, 10), np.uint8), False, "digit 1: bitmap 65x10 is empty or larger than 64x64"),
    (np.ones((0, 10), np.uint8), False, "digit 1: bitmap 0x10 is empty or larger than 64x64"),
    (np.ones((4, 4), np.float32), False, "digit 1: expected a 2-D uint8 bitmap, got float32"),
])
def test_bad_bitmaps_fail_in_one_line_before_building(lenet5, tmp_path, bitmap, ink_dark,
                                                       message):
    digits = [RawDigit(np.ones((3, 3), np.uint8)), RawDigit(bitmap, ink_dark)]
    with pytest.raises(InputError) as error:
        flash_normalized(lenet5, digits=digits, workdir=tmp_path / "fw")
    assert str(error.value).startswith(message) and "\n" not in str(error.value)
    assert not (tmp_path / "fw").exists()


# ---- on the board ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def built(lenet5, tmp_path_factory):
    folder = tmp_path_factory.mktemp("fw")
    firmware = generate(firmware_sim.load_model(lenet5), folder, normalize=True)
    qemu.build(folder, sources=firmware.sources)
    return folder, firmware


@needs_board
def test_the_board_equals_the_twin_bit_for_bit(lenet5, built, mnist):
    folder, firmware = built
    graph = firmware_sim.load_model(lenet5)
    digits = edge_digits() + raw_test_digits(mnist[0][:40])
    run = run_digits(folder, "mps2-an386", digits, firmware.input_bytes, firmware.output_bytes,
                     timeout=120)
    assert (run.records["status"] == 0).all()
    expected = normalized_inputs(graph, digits)
    assert np.array_equal(np.frombuffer(run.inputs, np.int8).reshape(expected.shape), expected)
    outputs = firmware_sim.run(graph, expected)
    assert run.outputs == np.ascontiguousarray(outputs).tobytes()
    assert (run.records["normalize"] > 0).all() and (run.records["classify"] > 0).all()


@needs_board
def test_the_board_refuses_bad_bitmaps_itself(built):
    """Past the host's checks, nn_normalize answers with a status and the run goes on."""
    folder, firmware = built
    digits = [RawDigit(np.ones((2, 2), np.uint8)), RawDigit(np.zeros((4, 4), np.uint8)),
              RawDigit(np.ones((MAX_SIDE + 1, 3), np.uint8)), RawDigit(np.ones((3, 200), np.uint8)),
              RawDigit(np.ones((1, 1), np.uint8))]
    run = run_digits(folder, "mps2-an386", digits, firmware.input_bytes, firmware.output_bytes,
                     timeout=60)
    assert list(run.records["status"]) == [0, 2, 1, 1, 0]
    assert run.inputs[firmware.input_bytes:2 * firmware.input_bytes] == bytes(firmware.input_bytes)
    with pytest.raises(InputError, match=r"^the board refused 3 digits; digit 1: no ink$"):
        _check_statuses(run.records)


@needs_board
def test_a_28x28_model_on_the_board(tmp_path, mnist):
    path = tmp_path / "small28.tflite"
    path.write_bytes(_small_28_tflite())
    digits = edge_digits()[:10] + raw_test_digits(mnist[0][:10])
    report = flash_normalized(path, digits=digits)
    assert report.identical and report.classification.accuracy is None and report.host is None


@needs_board
def test_cli_reports_the_instruction_split(lenet5, tmp_path):
    from typer.testing import CliRunner

    from lenet_edge.cli import app

    result = CliRunner().invoke(app, ["flash", str(lenet5), "--normalize", "--images", "20",
                                      "--out", str(tmp_path / "fw"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["identical"] and report["classification"]["images"] == 20
    assert 0 < report["normalize_min"] <= report["normalize_instructions"] \
        <= report["normalize_max"] < report["classify_instructions"]
    assert 0 < report["normalize_share"] < 0.5 and report["flash_normalize"] > 256
    assert report["digits_per_second"] < report["normalized_digits_per_second"]
    assert 0 <= report["host"]["agreement_host"] <= 1
    # the kept folder builds on its own with its Makefile
    assert subprocess.run(["make", "-s"], cwd=tmp_path / "fw", capture_output=True).returncode == 0
    text = CliRunner().invoke(app, ["flash", str(lenet5), "--normalize", "--images", "5"])
    assert text.exit_code == 0 and "% normalizing" in text.stdout
    bad = CliRunner().invoke(app, ["flash", str(lenet5), "--normalize", "--dataset", "usps"])
    assert bad.exit_code == 1 and "--normalize makes MNIST-like digits" in bad.stderr


@needs_board
def test_cli_runs_raw_digits_from_a_file(lenet5, tmp_path):
    from typer.testing import CliRunner

    from lenet_edge.cli import app

    digits = edge_digits()[:8]
    save_raw_digits(tmp_path / "digits.npz", digits)
    result = CliRunner().invoke(app, ["flash", str(lenet5), "--normalize", "--inputs",
                                      str(tmp_path / "digits.npz"), "--outputs",
                                      str(tmp_path / "y.npy")])
    assert result.exit_code == 0, result.output
    assert "8 raw digits" in result.stdout and "accuracy" not in result.stdout
    graph = firmware_sim.load_model(lenet5)
    assert np.array_equal(np.load(tmp_path / "y.npy"),
                          firmware_sim.run(graph, normalized_inputs(graph, digits)))


def test_raw_digit_files_round_trip_and_bad_ones_fail_in_one_line(tmp_path):
    digits = edge_digits()
    save_raw_digits(tmp_path / "d.npz", digits)
    loaded = load_raw_digits(tmp_path / "d.npz")
    assert [(d.ink_dark, d.bitmap.tobytes()) for d in loaded] == \
        [(d.ink_dark, d.bitmap.tobytes()) for d in digits]
    np.savez(tmp_path / "bad.npz", pixels=np.zeros(5, np.uint8), shapes=np.array([[2, 2]]))
    with pytest.raises(InputError, match=r"expected uint8 pixels of sum\(height \* width\)"):
        load_raw_digits(tmp_path / "bad.npz")
    with pytest.raises(InputError, match="cannot read .* as raw digits"):
        load_raw_digits(tmp_path / "missing.npz")




@needs_board
def test_an_11_output_model_on_the_board(tmp_path):
    # lenet5-reader's shape of output: ten digits and "not a digit" (a small net: exactness
    # does not depend on the layers between)
    keras, _ = keras_and_tf()
    keras.utils.set_random_seed(4)
    model = keras.Sequential([keras.layers.Input((32, 32, 1)), keras.layers.Conv2D(2, 5, 3),
                              keras.layers.Flatten(), keras.layers.Dense(11, activation="softmax")])
    path = tmp_path / "eleven.tflite"
    path.write_bytes(convert_int8(model, -0.1, 1.175))
    report = flash_normalized(path, images=20, outputs=tmp_path / "outputs.npy")
    assert report.identical and np.load(tmp_path / "outputs.npy").reshape(20, -1).shape == (20, 11)
