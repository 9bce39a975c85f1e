"""Pruning for a device's budget: deletion by saliency per unit of cost, whole maps, the budget
loop against the cost model, the QEMU confirmation, and the budgets that cannot or need not be met."""
import lenet_edge  # noqa: F401  (first: selects Keras 2 before TensorFlow loads)

import json

import numpy as np
import pytest

from lenet_edge import run as runs
from lenet_edge.compress import budget, masks, obd
from lenet_edge.models import registry
from tests.cli_support import invoke, one_error_line
from tests.prune_support import source  # noqa: F401  (a fixture)

@pytest.fixture(scope="module")
def dense_rate(source):
    model, config = runs.load_model(source), runs.read_config(source)
    from lenet_edge.train.batches import load_split

    x = load_split(config.model, "train", budget.CALIBRATION)[1]
    return budget.standing(model, x, budget.Budget("nrf52840", 1.0)).digits_per_second


def test_per_cost_ranking_deletes_the_cheap_saliency_of_costly_weights_first():
    saliency = {"a": np.array([1.0, 2.0]), "b": np.array([0.5, 0.6, 0.7])}
    alive = {"a": np.ones(2, bool), "b": np.ones(3, bool)}
    costs = {"a": np.array([100.0, 100.0]), "b": np.ones(3)}
    # per unit of cost a's weights are 0.01 and 0.02, b's 0.5-0.7: a goes first, whole
    by_cost = obd.delete_for_cost(saliency, alive, costs, amount=150)
    assert by_cost.keep["a"].tolist() == [False, False] and by_cost.keep["b"].all()
    assert by_cost.predicted_increase == pytest.approx(3.0)
    # the paper's ranking deletes b's three before a's first, and needs a's first to reach 100
    by_saliency = obd.delete_for_cost(saliency, alive, costs, amount=100, per_cost=False)
    assert by_saliency.keep["b"].tolist() == [False, False, False]
    assert by_saliency.keep["a"].tolist() == [False, True]


def test_map_groups_go_whole_by_the_sum_of_their_saliencies():
    saliency = {"c": np.array([[0.1, 5.0], [0.1, 0.2]])}  # (inputs, maps): map 0 sums 0.2, map 1 5.2
    alive = {"c": np.array([[True, True], [False, True]])}  # a deleted weight counts for nothing
    costs = {"c": np.full((2, 2), 10.0)}
    groups = {"c": np.broadcast_to(np.arange(2), (2, 2))}
    deletion = obd.delete_for_cost(saliency, alive, costs, amount=1, groups=groups)
    assert deletion.keep["c"].tolist() == [[False, True], [False, True]]
    assert deletion.predicted_increase == pytest.approx(0.1)


def test_a_weight_costs_the_multiply_adds_it_does_per_digit():
    uses = budget.uses(registry.build("lenet5"))
    assert {name: float(u.flat[0]) for name, u in uses.items()} == {"C1": 784.0, "C3": 100.0, "C5": 1.0, "F6": 1.0}
    assert sum(float(u.sum()) for u in uses.values()) == 6 * 25 * 784 + 16 * 6 * 25 * 100 + 48_000 + 10_080


def test_prune_to_a_rate_meets_it_on_qemu(source, dense_rate, tmp_path):
    asked = round(1.4 * dense_rate, 1)
    out = tmp_path / "rate"
    result = invoke("prune", source, "--out", out, "--device", "nrf52840", "--digits-per-second", asked,
                    "--rounds", 2, "--sample", 128)
    assert result.exit_code == 0, result.output
    table = json.loads((out / "pruning.json").read_text())
    outcome = table["budget"]
    assert outcome["final"]["digits_per_second"] >= asked > outcome["dense"]["digits_per_second"]
    assert [row["digits_per_second"] for row in table["rounds"]][-1] == outcome["final"]["digits_per_second"]
    # the prediction the loop stopped on against QEMU's count of the same firmware (check's 10%)
    assert outcome["measured_instructions"] == pytest.approx(outcome["final"]["instructions"], rel=0.10)
    assert outcome["board"] == "mps2-an386" and (out / "firmware-int8.tflite").exists()
    assert outcome["met"] and outcome["measured_digits_per_second"] >= asked  # on the board too
    assert "measured on mps2-an386" in result.stdout
    assert masks.sparsity(runs.load_model(out)) > 0


def test_prune_by_maps_removes_them_from_the_firmware(source, dense_rate, tmp_path):
    asked = round(1.3 * dense_rate, 1)
    out = tmp_path / "maps"
    result = invoke("prune", source, "--out", out, "--device", "nrf52840", "--digits-per-second", asked,
                    "--granularity", "map", "--rounds", 1, "--sample", 128)
    assert result.exit_code == 0, result.output
    outcome = json.loads((out / "pruning.json").read_text())["budget"]
    assert outcome["met"] and outcome["measured_instructions"] == pytest.approx(outcome["final"]["instructions"], rel=0.10)
    pruned, dense = runs.load_model(out), runs.load_model(source)
    maps = [pruned.get_layer(name).filters for name in ("H1", "H3")]
    assert maps < [dense.get_layer(name).filters for name in ("H1", "H3")] and maps[0] >= 1
    # what QEMU ran is the smaller graph: its first convolution has as many filters as the run's H1
    import firmware_sim

    graph = firmware_sim.load_model(out / "firmware-int8.tflite")
    first = next(op for op in graph.ops if op.opcode == "CONV_2D")
    assert graph.tensors[first.outputs[0]].shape[-1] == maps[0]


def test_a_budget_no_pruning_reaches_is_refused_before_training(source, dense_rate, tmp_path):
    out = tmp_path / "never"
    result = invoke("prune", source, "--out", out, "--device", "nrf52840",
                    "--digits-per-second", 100 * dense_rate)
    line = one_error_line(result)
    assert "no pruning reaches" in line and "every prunable weight deleted" in line
    assert not out.exists()


def test_a_budget_the_dense_model_meets_prunes_nothing(source, dense_rate, tmp_path):
    out = tmp_path / "already"
    result = invoke("prune", source, "--out", out, "--device", "nrf52840",
                    "--digits-per-second", round(dense_rate / 2, 1))
    assert result.exit_code == 0, result.output
    assert "already meets the budget: nothing pruned" in result.stdout
    assert json.loads((out / "pruning.json").read_text())["rounds"] == []


@pytest.mark.parametrize("flags, message", [
    (("--digits-per-second", 100), "need --device"),
    (("--device", "nrf52840"), "needs a budget"),
    (("--device", "nrf52840", "--digits-per-second", 100, "--sparsity", 0.5), "two targets"),
    (("--device", "nowhere", "--digits-per-second", 100), "unknown device"),
    (("--method", "magnitude", "--granularity", "map"), "OBD's"),
    (("--rank", "cheapest"), "--rank must be one of"),
])
def test_budget_flags_misused_are_one_line(source, tmp_path, flags, message):
    result = invoke("prune", source, "--out", tmp_path / "bad", *flags)
    assert message in one_error_line(result)
