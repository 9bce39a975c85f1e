"""`check` predicts the firmware `flash` generates: instructions per inference within 10% of
QEMU's count, flash within 3%, and RAM exactly (the arena, and the stack's static bound that
`flash` reports, firmware/stack_usage.py), without building anything (fit/cost_model.py and
the shipped coefficients of fit/cores/, measured by `lenet-edge calibrate`).

Measured on LeNet-5 dense, 50% and 90% pruned on mps2-an386 (Cortex-M4), one on mps2-an385 (M3)
and mps2-an500 (M7), and two random models of the test generator; 20 inputs each (the kernels'
instruction counts barely depend on the input). The larger table: benchmarks/check_vs_flash.py.
"""
import json
import shutil

import numpy as np
import pytest

import firmware_sim
from firmware_sim.firmware import boards, qemu
from firmware_sim.firmware.flash_arrays import flash_arrays
from firmware_sim.fit.check import check_model
from firmware_sim.fit import cost_model
from firmware_sim.fit.cost_model import CoreError, load_core, predict, shipped_cores
from tests.cli_support import assert_one_error_line, invoke
from tests.test_emulator import _random_tflite
from tests.test_firmware import zoo_tflite

toolchain = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in qemu.TOOLS),
    reason=f"the ARM toolchain and QEMU are missing: {qemu.APT_COMMAND}")
IMAGES = 20
# two specs of tests/test_emulator.py's model_specs: (side, channels, blocks, units, softmax, _,
# seed); a block is (kind, kernel, stride, padding, activation, filters)
RANDOM_SPECS = {
    "random-a": (9, 2, (("conv", 3, 1, "same", "relu", 3), ("max_pool", 2, 2, "valid", None, 1),
                        ("tanh", 1, 1, "same", None, 1)), 5, True, False, 7),
    "random-b": (11, 1, (("conv", 2, 1, "valid", None, 4), ("depthwise", 3, 1, "same", "relu6", 2),
                         ("average_pool", 2, 1, "same", None, 1), ("add_constant", 1, 1, "same",
                                                                  None, 1)), 3, False, False, 11),
}
CASES = [("lenet5", 0.0, "mps2-an386"), ("lenet5", 0.5, "mps2-an386"),
         ("lenet5", 0.9, "mps2-an386"), ("lenet5", 0.5, "mps2-an385"),
         ("lenet5", 0.9, "mps2-an500"), ("random-a", 0.0, "mps2-an386"),
         ("random-b", 0.0, "mps2-an386"), ("lenet1989", 0.5, "mps2-an386")]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("check-vs-flash")
    paths = {}
    for name, prune, _ in CASES:
        key = f"{name}-{round(100 * prune)}"
        if key not in paths:
            paths[key] = folder / f"{key}.tflite"
            paths[key].write_bytes(_random_tflite(RANDOM_SPECS[name]) if name in RANDOM_SPECS
                                   else zoo_tflite(name, prune))
    return paths


@toolchain
@pytest.mark.parametrize("name,prune,board", CASES)
def test_check_predicts_the_firmware(models, name, prune, board):
    path = models[f"{name}-{round(100 * prune)}"]
    graph = firmware_sim.load_model(path)
    shape = graph.tensors[graph.inputs[0]].shape
    x = np.random.default_rng(0).integers(-128, 128, (IMAGES, *shape[1:]), dtype=np.int8)
    measured = flash_arrays(path, x, board=board)
    predicted = predict(graph, boards.board(board).core)
    # RAM exactly: the arena, and the stack's static bound (the run's painted depth below it)
    assert predicted.ram_arena == measured.ram_arena
    assert predicted.ram_stack == measured.ram_stack
    assert predicted.ram_inference == measured.ram_inference
    assert 0 < measured.ram_stack_painted <= measured.ram_stack
    assert predicted.flash_inference == pytest.approx(measured.flash_inference, rel=0.03)
    assert predicted.instructions_per_inference == pytest.approx(
        measured.instructions_per_inference, rel=0.10)


def test_every_qemu_core_has_shipped_coefficients():
    assert {b.core for b in boards.BOARDS.values()} <= set(shipped_cores())
    core = load_core("cortex-m4")
    assert core.board == "mps2-an386" and core.cpi > 0 and "TRM" in core.cpi_source
    assert core.max_relative_residual < 0.10


def test_every_shipped_profile_has_coefficients_for_its_core():
    from firmware_sim.fit.devices.profile import load_profile, shipped_profiles

    cores = {load_profile(name).core for name in shipped_profiles()} - {None}
    assert {load_core(core).name for core in cores} == cores
    # the M0+ runs the M0's build: the same instructions, its own cycles per instruction
    m0, m0plus = load_core("cortex-m0"), load_core("cortex-m0plus")
    assert m0plus.coefficients == m0.coefficients and m0plus.function_stack == m0.function_stack
    assert m0plus.cpi != m0.cpi and "M0+" in m0plus.cpi_source


def test_check_json_holds_the_keys_of_flash_json(models):
    result = invoke("check", models["lenet5-0"], "--device", "nrf52840", "--json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["runtime"] == "firmware" and report["core"] == "cortex-m4"
    assert not report["estimate"]
    graph = firmware_sim.load_model(models["lenet5-0"])
    p = predict(graph, "cortex-m4")
    assert (report["flash_inference"], report["ram_inference"]) == (p.flash_inference,
                                                                    p.ram_inference)
    assert report["instructions_per_inference"] == pytest.approx(p.instructions_per_inference)
    cpi = load_core("cortex-m4").cpi
    assert report["digits_per_second"] == pytest.approx(
        64e6 / (p.instructions_per_inference * cpi))


def test_tflm_runtime_times_every_mac_as_an_estimate(models):
    report = check_model(models["lenet5-50"], "nrf52840", runtime="tflm")
    assert report.estimate and report.instructions_per_inference is None
    assert report.latency_s == pytest.approx(report.macs / (64e6 * 2 * 0.35))
    assert report.ram_inference == report.ram_needed  # TFLM's arena + tail + runtime
    assert "latency (estimate)" in "\n".join(report.verdict_lines())


def test_a_core_without_coefficients_names_calibrate(models, tmp_path, monkeypatch):
    with pytest.raises(CoreError, match="lenet-edge calibrate --board"):
        load_core("cortex-m85")
    monkeypatch.setattr(cost_model, "CORES_DIR", tmp_path)  # a checkout without the shipped files
    assert_one_error_line(invoke("check", models["lenet5-0"], "--device", "nrf52840"),
                          "lenet-edge calibrate --board")
    assert_one_error_line(invoke("check", models["lenet5-0"], "--device", "nrf52840",
                                 "--runtime", "cmsis"), "--runtime must be one of firmware, tflm")
    assert_one_error_line(invoke("calibrate", "--board", "mps2-an999"), "unknown board")


def _fake_measurement(macs: int, outputs: int) -> dict:
    """calibrate.measure()'s row for a two-kernel model timed at 2 instructions a MAC, 7 an
    output and 20 a call."""
    costs = [cost_model.StepCost(0, "conv", "nn_conv_dense", ("nn_conv_dense_t",),
                                 {"call": 1, "dense.mac": macs}, 100),
             cost_model.StepCost(1, "dense", "nn_dense", ("nn_dense_t",),
                                 {"call": 1, "dense.output": outputs}, 40)]
    steps = [20.0 + 2 * macs, 20.0 + 7 * outputs]
    return dict(model="m", costs=costs, features=cost_model.instruction_features(costs),
                instructions=sum(steps) + 50, sections=[], object_functions={},
                step_instructions=steps)


@toolchain  # calibrate_core compiles the runtime for its static stack
def test_calibration_leaves_out_a_pairs_build_the_board_cannot_hold(tmp_path, monkeypatch):
    from firmware_sim.firmware import calibrate
    from firmware_sim.firmware.errors import BoardTooSmallError

    refused = "the model does not fit microbit: it needs 265,166 B of flash (has 262,144 B)"
    measured, lines = [], []
    too_big = {("lenet5-0.tflite", "pairs")}

    def measure(model_path, board, images, workdir, cache=None, build="size"):
        if (model_path.name, build) in too_big:
            raise BoardTooSmallError(refused)
        measured.append((model_path.name, build))
        return _fake_measurement(100 * len(measured), 3 + len(measured) % 4)

    monkeypatch.setattr(calibrate, "measure", measure)
    monkeypatch.setattr(calibrate, "model_builds", lambda model: ["size", "pairs"])
    models = [tmp_path / f"{name}.tflite" for name in ("lenet1-0", "lenet5-0", "lenet4-0")]
    values = calibrate.calibrate_core(models, "microbit", tmp_path / "m0.toml",
                                      progress=lines.append)
    assert len(measured) == 5 and ("lenet5-0.tflite", "pairs") not in measured
    assert f"lenet5-0.tflite (pairs): not measured, {refused}" in lines
    assert len(lines) == 6
    core = load_core(tmp_path / "m0.toml")
    assert core.board == "microbit" and values["calibration_models"] == 3
    assert core.coefficients["dense.mac"] == pytest.approx(2.0)
    assert core.coefficients["dense.output"] == pytest.approx(7.0)
    assert core.max_relative_residual == pytest.approx(0.0, abs=1e-4)
    # a size build that does not fit: the model list is wrong, nothing is written
    too_big = {("lenet5-0.tflite", "size")}
    with pytest.raises(BoardTooSmallError, match="does not fit microbit"):
        calibrate.calibrate_core(models, "microbit", tmp_path / "none.toml")
    assert not (tmp_path / "none.toml").exists()


def test_calibration_fits_nonnegative_costs_and_writes_a_file_load_core_reads(tmp_path):
    from firmware_sim.firmware.calibrate import CPI, _nonnegative_lstsq
    from firmware_sim.fit.cost_model import write_core

    rng = np.random.default_rng(0)
    a = rng.uniform(1, 100, (40, 3))
    b = a @ np.array([2.0, 0.0, 5.0]) + rng.normal(0, 0.01, 40)
    b -= 3 * a[:, 1]  # the unconstrained fit would give the middle term -3 instructions
    solution = _nonnegative_lstsq(a, b)
    assert (solution >= 0).all() and solution[1] == 0
    values = dict(core="cortex-m4", board="mps2-an386", date="2026-12-01", cpi=CPI["cortex-m4"][0],
                  cpi_source=CPI["cortex-m4"][1], max_relative_residual=0.01,
                  calibration_models=2, run_seconds=1.0, instructions={"base": 3.0, "dense.mac": 1.5},
                  function_bytes={"nn_conv_dense": 100}, object_rodata={"conv_dense": 4},
                  function_object={"nn_conv_dense": "conv_dense"},
                  struct_bytes={"nn_conv_dense_t": 60}, function_stack={"nn_conv_dense": 120},
                  model_code={"base": 20.0, "per_call": 12.0})
    write_core(tmp_path / "core.toml", values)
    core = load_core(tmp_path / "core.toml")
    assert core.coefficients == values["instructions"] and core.cpi == CPI["cortex-m4"][0]
    assert core.function_stack == {"nn_conv_dense": 120} and core.board == "mps2-an386"
    (tmp_path / "bad.toml").write_text('core = "x"\n')
    with pytest.raises(CoreError, match="not a coefficient file of `lenet-edge calibrate`"):
        load_core(tmp_path / "bad.toml")


def test_the_stack_is_model_invokes_widest_frame_plus_the_deepest_kernel():
    from dataclasses import replace

    core = replace(load_core("cortex-m4"), function_stack={
        "model_invoke": 4, "model_invoke/nn_conv_dense": 8, "model_invoke/nn_conv_dense_dw": 16,
        "nn_conv_dense": 120, "nn_conv_dense_dw": 100})
    # the 5-argument call widens the frame, the 4-argument kernel is the deeper
    assert cost_model.inference_stack(core, ["nn_conv_dense", "nn_conv_dense_dw"]) == 16 + 120
    assert cost_model.inference_stack(core, []) == 4
    with pytest.raises(CoreError, match="no static stack of model_invoke/nn_softmax; rerun "
                                        "`lenet-edge calibrate --board mps2-an386`"):
        cost_model.inference_stack(core, ["nn_softmax"])
