"""`lenet-edge check` and `simulate`: verdicts with their numbers and exit codes, the 1989 net at
the paper's rate on the DSP-32C, raw-array runs equal to firmware_sim.run, no TensorFlow."""
import json
import subprocess
import sys

import numpy as np
import pytest

import firmware_sim
from firmware_sim.fit import planner
from firmware_sim.fit.check import check_model
from tests.cli_support import assert_one_error_line, invoke
from tests.test_planner import zoo_int8_tflite

PAPER_1989_MACS = 64_660 - 1_000  # connections minus the 1,000 unshared biases


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("check")
    paths = {name: folder / f"{name}.tflite" for name in ("lenet5", "lenet1989")}
    for name, path in paths.items():
        path.write_bytes(zoo_int8_tflite(name))
    return paths






def test_lenet5_fits_an_nrf52840(models):
    result = invoke("check", models["lenet5"], "--device", "nrf52840", "--digits-per-second", 50,
                    "--runtime", "tflm")
    assert result.exit_code == 0, result.output
    assert "verdict: OK" in result.output and "CONV_2D" in result.output
    report = check_model(models["lenet5"], "nrf52840", 50, runtime="tflm")
    graph = firmware_sim.load_model(models["lenet5"])
    arena = planner.tflm_arena(graph)
    assert (report.arena_head_bytes, report.arena_tail_bytes) == (arena.head, arena.tail)
    assert report.ram_needed == arena.total + report.runtime_ram_bytes
    constants = {t for op in graph.ops for t in op.inputs if t >= 0 and graph.tensors[t].is_constant}
    assert report.weight_bytes == sum(graph.tensors[t].nbytes for t in constants)
    assert report.flash_needed == report.weight_bytes + report.runtime_flash_bytes
    costs = firmware_sim.layer_costs(graph)
    assert report.effective_macs == sum(c.effective_macs for c in costs)
    assert report.latency_s == pytest.approx(report.macs / (64e6 * 2 * 0.35))  # zeros too
    assert report.digits_per_second == pytest.approx(1 / report.latency_s)
    assert report.firmware_arena_bytes < report.arena_head_bytes
    assert f"the generated firmware's arena is {report.firmware_arena_bytes:,}" in result.output
    for number in (f"{report.flash_needed:,}", f"{report.ram_needed:,}", "1,048,576"):
        assert number in result.output


def test_too_little_ram_exits_1(models, tmp_path):
    board = tmp_path / "tiny.toml"
    board.write_text('name = "tiny"\nflash_bytes = 262144\nram_bytes = 8192\n'
                     'clock_hz = 48000000\nmacs_per_cycle = 1\n')
    report = check_model(models["lenet5"], board, runtime="tflm")
    assert report.fits_flash and not report.fits_ram and not report.ok
    result = invoke("check", models["lenet5"], "--device", board, "--runtime", "tflm")
    assert result.exit_code == 1
    assert "of 8,192: DOES NOT FIT" in result.output and "verdict: NO" in result.output


def test_missed_rate_exits_1(models):
    result = invoke("check", models["lenet5"], "--device", "samd21", "--digits-per-second", 1000,
                    "--runtime", "tflm")
    assert result.exit_code == 1
    assert "required 1,000.0: MISSES" in result.output


def test_json_report(models):
    result = invoke("check", models["lenet5"], "--device", "stm32f746", "--json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["fits"] and report["meets_rate"] and report["device"] == "stm32f746"
    assert len(report["layers"]) == 15 and report["layers"][0]["opcode"] == "CONV_2D"
    assert report["firmware_arena_bytes"] == check_model(models["lenet5"],
                                                         "stm32f746").firmware_arena_bytes


def test_1989_net_on_the_dsp32c_reads_about_30_digits_a_second(models):
    report = check_model(models["lenet1989"], "dsp32c")
    # nonzero multiply-adds: the paper's count, less a few weights int8 rounds to zero
    assert 0.97 * PAPER_1989_MACS <= report.effective_macs <= PAPER_1989_MACS
    assert 27 <= report.digits_per_second <= 33
    assert report.fits and report.weight_storage == "float32" and report.arena_tail_bytes == 0


@pytest.fixture(scope="module")
def float1989(tmp_path_factory):
    """The 1989 net as a float32 .tflite (what `lenet-edge convert` writes without --int8)."""
    from lenet_edge.models import registry
    from tests.test_emulator_support import convert_float

    path = tmp_path_factory.mktemp("float") / "lenet1989-float32.tflite"
    path.write_bytes(convert_float(registry.build("lenet1989")))
    return path


def test_float32_1989_net_on_the_dsp32c_in_floating_point(float1989):
    """Issue 16: the board computed in floating point; check sizes the float model unemulated."""
    report = check_model(float1989, "dsp32c")
    assert report.effective_macs == PAPER_1989_MACS  # no weight rounds to zero in float32
    assert 27 <= report.digits_per_second <= 33
    assert report.fits and report.weight_storage == "float32" and report.arena_tail_bytes == 0
    graph = firmware_sim.load_model(float1989)
    assert report.weight_bytes == 4 * sum(graph.tensors[t].size for t in {
        t for op in graph.ops for t in op.inputs if t >= 0 and graph.tensors[t].is_constant})
    assert report.firmware_arena_bytes is None and report.arena_head_bytes == planner.tflm_plan(
        graph, element_bytes=4).arena_bytes
    result = invoke("check", float1989, "--device", "dsp32c")
    assert result.exit_code == 0, result.output
    assert "digits per second: 30" in result.output and "generated firmware" not in result.output


def test_float32_model_on_an_int8_device_is_refused_in_one_line(float1989):
    assert_one_error_line(invoke("check", float1989, "--device", "nrf52840"),
                          "nrf52840 runs int8 models (weight storage int8); this model is "
                          "float32: convert it with --int8")


def test_check_usage_errors(models, tmp_path):
    assert_one_error_line(invoke("check", models["lenet5"], "--device", "nrf52840",
                                 "--digits-per-second", 0), "must be positive")
    assert_one_error_line(invoke("check", tmp_path / "none.tflite", "--device", "nrf52840"),
                          "none.tflite does not exist")
    assert_one_error_line(invoke("check", models["lenet5"], "--device", "esp32"),
                          "unknown device 'esp32'")


def test_simulate_arrays_round_trip(models, tmp_path):
    graph = firmware_sim.load_model(models["lenet5"])
    rng = np.random.default_rng(0)
    x_int8 = rng.integers(-128, 128, (20, 32, 32, 1)).astype(np.int8)
    x_float = rng.uniform(-0.1, 1.175, (7, 32, 32, 1)).astype(np.float32)
    for x, expected in ((x_int8, firmware_sim.run(graph, x_int8)),
                        (x_float, firmware_sim.run(graph, firmware_sim.quantize_input(graph, x_float)))):
        np.save(tmp_path / "x.npy", x)
        result = invoke("simulate", models["lenet5"], "--inputs", tmp_path / "x.npy",
                        "--outputs", tmp_path / "y.npy")
        assert result.exit_code == 0, result.output
        y = np.load(tmp_path / "y.npy")
        assert y.dtype == np.int8 and np.array_equal(y, expected)


def test_simulate_dataset(models):
    result = invoke("simulate", models["lenet5"], "--dataset", "mnist", "--limit", 300, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["images"] == 300 and report["convention"] == "lenet5_32"
    assert report["errors"] == round(report["error"] * 300) and report["images_per_second"] > 0


def test_simulate_errors(models, tmp_path):
    assert_one_error_line(invoke("simulate", models["lenet5"], "--dataset", "usps"),
                          "32x32 model reads mnist")
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    assert_one_error_line(invoke("simulate", models["lenet5"], "--inputs", tmp_path / "bad.npy",
                                 "--outputs", tmp_path / "y.npy"), "bad.npy")
    np.save(tmp_path / "x.npy", np.zeros((2, 28, 28, 1), np.int8))
    assert_one_error_line(invoke("simulate", models["lenet5"], "--inputs", tmp_path / "x.npy",
                                 "--outputs", tmp_path / "y.npy"), "[N, 32, 32, 1]")
    assert not (tmp_path / "y.npy").exists()
    assert_one_error_line(invoke("simulate", models["lenet5"], "--inputs", tmp_path / "x.npy"),
                          "--inputs and --outputs go together")


def test_check_and_simulate_never_import_tensorflow(models):
    code = (f"import sys; from firmware_sim.fit import check, planner, arena_tail, devices\n"
            f"import firmware_sim.emulator.arrays, lenet_edge.board.simulate\n"
            f"check.check_model({str(models['lenet5'])!r}, 'nrf52840')\n"
            f"print('tensorflow' in sys.modules or 'tflite_micro' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
