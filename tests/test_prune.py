"""Pruning runs (OBD and the tfmot magnitude baseline), masks, QAT runs, int8 sparsity, bad input."""
import lenet_edge  # noqa: F401  (first: selects Keras 2 before TensorFlow loads)

import json
import shutil

import numpy as np
import pytest
import tf_keras as keras
from ai_edge_litert.interpreter import Interpreter

from convert import tflite
from lenet_edge import run as runs
from lenet_edge.compress import masks, qat
from lenet_edge.compress.budget import Budget
from lenet_edge.compress.prune import PruneSettings, hessian_estimator, prune, schedule
from lenet_edge.compress.qat_run import fine_tune_qat
from lenet_edge.models import registry
from lenet_edge.train.batches import load_split
from tests.cli_support import invoke, one_error_line
from tests.prune_support import source  # noqa: F401  (a fixture)

@pytest.fixture(scope="module")
def obd_run(source):
    folder = source.parent / "obd90"
    result = invoke("prune", source, "--out", folder, "--method", "obd", "--sparsity", 0.9, "--rounds", 2,
                    "--sample", 128)
    assert result.exit_code == 0, result.output
    assert "predicted" in result.stdout and "90.0%" in result.stdout
    return folder


@pytest.fixture(scope="module")
def qat_run(obd_run):
    folder = obd_run.parent / "obd90-qat"
    fine_tune_qat(obd_run, folder, epochs=1, progress=False)
    return folder


def _pruning_masks(model):
    return {layer.name: layer.kernel_constraint.keep for layer in masks.prunable_layers(model)}


def test_obd_run_folder_reaches_the_target_over_prunable_weights(source, obd_run):
    config = runs.read_config(obd_run)
    assert (config.stage, config.source, config.model) == ("prune", str(source), "lenet1")
    table = json.loads((obd_run / "pruning.json").read_text())
    assert [row["round"] for row in table["rounds"]] == [1, 2]
    assert table["prunable_weights"] == 100 + 500 + 1920  # H1, H3's 20 table links, output
    assert all(row["predicted_increase"] > 0 and row["measured_increase"] is not None for row in table["rounds"])
    model = runs.load_model(obd_run)
    assert masks.sparsity(model) == pytest.approx(0.9, abs=1 / 2520)
    assert registry.count_parameters(model) == 2578 - round(0.9 * 2520)
    for layer in masks.prunable_layers(model):  # the deleted weights are exactly zero after retraining
        kernel = layer.kernel.numpy()
        assert np.all(kernel[~layer.kernel_constraint.keep] == 0)
    table_kernel = model.get_layer("H3").kernel
    assert np.all(table_kernel.numpy()[table_kernel.constraint.inner.mask(tuple(table_kernel.shape)) == 0] == 0)


def test_pruned_connections_drop_by_the_deleted_weights_at_every_position(source, obd_run):
    dense, pruned = runs.load_model(source), runs.load_model(obd_run)
    assert registry.count_connections(dense) == registry.count_connections(registry.build("lenet1"))
    deleted = 0
    for layer in masks.prunable_layers(pruned):
        positions = int(np.prod(layer.output_shape[1:-1]))  # 1 for a dense layer
        gone = int(masks.connected(layer).sum() - np.count_nonzero(layer.kernel_constraint.mask(layer.kernel.shape)))
        assert gone > 0
        deleted += positions * gone
    assert registry.count_connections(pruned) == registry.count_connections(dense) - deleted
    assert registry.count_connections(pruned) < registry.count_connections(dense)


def test_obd_ranks_by_gauss_newton_towards_a_budget_unless_told():
    # per unit of cost, the paper's diagonal underprices the first layer's shared weights
    assert hessian_estimator(PruneSettings()) == "paper"
    assert hessian_estimator(PruneSettings(budget=Budget("nrf52840", 100.0))) == "gn"
    assert hessian_estimator(PruneSettings(budget=Budget("nrf52840", 100.0), estimator="paper")) == "paper"


def test_masks_hold_through_training_and_table_zeros_never_come_back():
    model = registry.build("lenet1")
    rng = np.random.default_rng(0)
    # keep says 1 on table zeros too: the table underneath must still win
    keep = {layer.name: rng.random(layer.kernel.shape) < 0.3 for layer in masks.prunable_layers(model)}
    masked = masks.with_masks(model, keep)
    masked.compile(keras.optimizers.SGD(1.0), "sparse_categorical_crossentropy")
    x = rng.uniform(-1, 1, (64, 28, 28, 1)).astype(np.float32)
    masked.fit(x, rng.integers(0, 10, 64), batch_size=16, epochs=2, verbose=0)
    for layer in masks.prunable_layers(masked):
        kernel = layer.kernel.numpy()
        assert np.all(kernel[~(keep[layer.name] & masks.connected(layer))] == 0)
        assert np.count_nonzero(kernel) > 0


def test_magnitude_baseline_takes_the_same_steps(source, obd_run, tmp_path):
    result = prune(source, tmp_path / "mag", PruneSettings(method="magnitude", sparsity=0.9, rounds=2), progress=False)
    obd_rows = json.loads((obd_run / "pruning.json").read_text())["rounds"]
    assert [r.sparsity for r in result.rounds] == pytest.approx([r["sparsity"] for r in obd_rows], abs=2e-3)
    assert all(r.predicted_increase is None for r in result.rounds)
    model = runs.load_model(tmp_path / "mag")
    h3 = model.get_layer("H3")
    assert np.all(h3.kernel.numpy()[~masks.connected(h3)] == 0)
    per_layer = {name: 1 - mask.sum() / masks.connected(model.get_layer(name)).sum()
                 for name, mask in masks.alive(model).items()}
    assert per_layer == pytest.approx({"H1": 0.9, "H3": 0.9, "output": 0.9}, abs=0.01)  # tfmot: layer by layer


def test_obd_by_maps_to_a_sparsity_deletes_whole_maps_and_removes_them(source, tmp_path):
    out = tmp_path / "maps"
    result = invoke("prune", source, "--out", out, "--granularity", "map", "--sparsity", 0.15, "--rounds", 2,
                    "--sample", 128)
    assert result.exit_code == 0, result.output
    rows = json.loads((out / "pruning.json").read_text())["rounds"]
    pruned, dense = runs.load_model(out), runs.load_model(source)
    alive = sum(int(mask.sum()) for mask in masks.alive(pruned).values())
    # the fewest maps that reach it: short of the last one, the round would stay below
    assert rows[-1]["sparsity"] == pytest.approx(1 - alive / 2520)
    assert 0.15 <= rows[-1]["sparsity"] < 0.25, rows
    maps = [pruned.get_layer(name).filters for name in ("H1", "H3")]
    assert maps < [dense.get_layer(name).filters for name in ("H1", "H3")]
    assert np.all(pruned.get_layer("output").kernel.numpy() != 0)  # the classes' weights stay
    assert hessian_estimator(PruneSettings(granularity="map")) == "gn"


def test_a_sparsity_beyond_the_maps_weights_is_refused_before_training(source, tmp_path):
    line = one_error_line(invoke("prune", source, "--out", tmp_path / "far", "--granularity", "map",
                                 "--sparsity", 0.95))
    assert "reaches at most 93.7% sparsity" in line  # one 4x4 map of H3 read by the 10 outputs: 160 of 2,520
    assert not (tmp_path / "far").exists()


def test_error_budget_undoes_the_round_that_breaks_it(source, tmp_path):
    result = prune(source, tmp_path / "budget", PruneSettings(sparsity=0.5, rounds=1, max_error=0.0), progress=False)
    assert [r.kept for r in result.rounds] == [False]
    assert masks.sparsity(runs.load_model(tmp_path / "budget")) == 0.0


def test_retraining_rate_decays_within_each_round_with_the_chosen_weight_decay(source, tmp_path):
    settings = PruneSettings(sparsity=0.75, rounds=2, retrain_epochs=2, learning_rate=1e-3, lr_decay=0.5,
                             weight_decay=0.01, sample=128)
    prune(source, tmp_path / "decay", settings, progress=False)
    rates = [m["learning_rate"] for m in runs.read_metrics(tmp_path / "decay")]
    assert rates == pytest.approx([1e-3, 5e-4, 1e-3, 5e-4])
    assert runs.read_config(tmp_path / "decay").weight_decay == 0.01


def test_schedule_deletes_the_same_fraction_of_the_alive_weights_each_round():
    steps = schedule(0.0, 0.875, 3)
    assert steps == pytest.approx([0.5, 0.75, 0.875])
    assert schedule(0.5, 0.875, 2) == pytest.approx([0.75, 0.875])


def _int8_filters(tflite_bytes, model):
    """layer name -> the layer's int8 kernel in Keras layout, read from the converted model."""
    interpreter = Interpreter(model_content=tflite_bytes)
    interpreter.allocate_tensors()
    filters = {}
    for layer in masks.prunable_layers(model):
        [detail] = [d for d in interpreter.get_tensor_details()
                    if f"quant_{layer.name}/" in d["name"] and d["dtype"] == np.int8 and len(d["shape"]) > 1
                    and d["shape"][0] == layer.kernel.shape[-1]]
        values = interpreter.get_tensor(detail["index"])
        # TFLite stores a conv filter (out, h, w, in) and a dense weight (out, in)
        filters[layer.name] = values.transpose(1, 2, 3, 0) if values.ndim == 4 else values.T
    return filters


def test_pruning_preserving_qat_keeps_90_percent_int8_zeros(obd_run, qat_run):
    config = runs.read_config(qat_run)
    assert (config.stage, config.source) == ("qat", str(obd_run))
    assert (qat_run / "model.h5").is_file() and not (qat_run / "model.keras").exists()
    quantized = runs.load_model(qat_run)
    _, x, _ = load_split("lenet1", "train", 32)
    filters = _int8_filters(tflite.to_int8_tflite(quantized, x, num_calibration=32), runs.load_model(obd_run))
    float_model = runs.load_model(obd_run)
    zeros = connected = 0
    for layer in masks.prunable_layers(float_model):
        int8, keep, linked = filters[layer.name], layer.kernel_constraint.keep, masks.connected(layer)
        assert np.all(int8[~(keep & linked)] == 0)  # every deleted weight and table zero
        zeros, connected = zeros + np.count_nonzero(int8[linked] == 0), connected + linked.sum()
    assert zeros / connected >= 0.9


@pytest.mark.parametrize("name", list(registry.MODELS))
def test_qat_model_of_every_zoo_model_reloads_from_a_run_folder(name, tmp_path):
    model = qat.quantize_aware(registry.build(name))
    runs.save_model(model, tmp_path / runs.QAT_MODEL)
    x = np.random.default_rng(0).uniform(-1, 1, (4, *model.input_shape[1:])).astype(np.float32)
    np.testing.assert_allclose(runs.load_model(tmp_path).predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_train_qat_trains_float_then_fine_tunes(tmp_path):
    run = tmp_path / "lenet1989-qat"
    result = invoke("train", "--model", "lenet1989", "--epochs", 1, "--qat", "--out", run,
                    "--train-limit", 256, "--test-limit", 64, "--batch-size", 32)
    assert result.exit_code == 0, result.output
    assert "QAT" in result.stdout
    assert runs.read_config(run / "float").stage == "train" and (run / "float" / "model.keras").is_file()
    assert runs.read_config(run).stage == "qat" and (run / "model.h5").is_file()
    report = invoke("evaluate", run, "--json", "--limit", 64)
    assert report.exit_code == 0, report.output
    assert json.loads(report.stdout)["digits"] == 64


def test_bad_input_is_one_line(source, qat_run, tmp_path):
    for sparsity in (0, 1, 1.5):
        line = one_error_line(invoke("prune", source, "--out", tmp_path / "a", "--sparsity", sparsity))
        assert "--sparsity must be in (0, 1)" in line
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    shutil.copy(source / "config.json", unfinished / "config.json")
    assert "has no model.keras" in one_error_line(invoke("prune", unfinished, "--out", tmp_path / "b"))
    assert "quantization-aware" in one_error_line(invoke("prune", qat_run, "--out", tmp_path / "c"))
    assert "magnitude" in one_error_line(invoke("prune", source, "--out", tmp_path / "d", "--method", "random"))
    assert "already holds a run" in one_error_line(invoke("qat", source, "--out", source))
