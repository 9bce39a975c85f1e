"""One step planner and one arena planner (issue 12): `check` reports the arena the generated
firmware allocates, on every zoo model and on random models, and on QEMU the built firmware's
arena symbol has that size; the emulator's fast path folds the activations the step planner
absorbs; the encoding sizes `check` relies on are those of the packed weights."""
import re
import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import firmware_sim
from firmware_sim.emulator import steps as step_planner
from firmware_sim.emulator import speed, tables
from firmware_sim.emulator.interpreter import Interpreter, prepared_ops
from firmware_sim.firmware import encode, generate, qemu
from firmware_sim.firmware.generate import _emit
from firmware_sim.fit import arena, conv_layout, cost_model, planner
from firmware_sim.fit.check import check_model
from tests.test_emulator import _random_tflite, model_specs
from tests.test_planner import zoo_int8_tflite

ZOO = ("lenet1989", "lenet1", "lenet4", "lenet5", "lenet5-modern")
LENET5_FIRMWARE_ARENA = 2_920  # issue 12: what the generated firmware allocates


def assert_check_equals_generated(tflite: bytes, folder) -> int:
    path = folder / "model.tflite"
    path.write_bytes(tflite)
    graph = firmware_sim.load_model(path)
    report = check_model(path, "nrf52840")
    firmware = generate(graph, folder / "firmware")
    model_h = (folder / "firmware" / "model.h").read_text()
    assert f"#define MODEL_ARENA_BYTES {firmware.arena_bytes}u" in model_h
    assert report.firmware_arena_bytes == firmware.arena_bytes
    # the firmware runtime's RAM is that arena; TFLM's verdict names it beside TFLM's own
    assert f"(arena {firmware.arena_bytes:,} + stack" in "\n".join(report.verdict_lines())
    tflm = check_model(path, "nrf52840", runtime="tflm")
    assert tflm.firmware_arena_bytes == firmware.arena_bytes
    assert f"the generated firmware's arena is {firmware.arena_bytes:,}" in "\n".join(tflm.verdict_lines())
    # the scratch the arena holds is the scratch the emitted kernels use
    steps = step_planner.plan_steps(graph)
    planar = step_planner.planar_tensors(graph, steps)
    chosen = cost_model.encodings(cost_model.step_costs(graph, cost_model.load_core("cortex-m4")))
    emitted = [_emit(graph, step, f"step{i}", planar, chosen[i]) for i, step in enumerate(steps)]
    assert [item.scratch_bytes for item in emitted] == arena.step_scratch_bytes(graph, steps,
                                                                                 chosen)
    folded = assert_fast_path_follows_the_steps(graph, steps)
    return firmware.arena_bytes, folded


def assert_fast_path_follows_the_steps(graph, steps) -> None:
    """Every op the interpreter runs covers consecutive ops of one step; what it folds is what
    the step planner absorbs after a multiply-accumulate op (where the output table is small
    enough: others run unfused)."""
    step_of = {op: k for k, step in enumerate(steps) for op in step.ops}
    prepared = prepared_ops(graph)
    folded = {}
    for op in Interpreter(graph)._ops:
        producer = [i for i, p in enumerate(graph.ops) if p.outputs == op.outputs][0]
        if producer != op.index:
            folded[op.index] = producer
            assert step_of[op.index] == step_of[producer] and producer == op.index + 1
    expected = {a: b for a, b in step_planner.absorbed_tables(steps, prepared).items()
                if speed.has_output_stage(prepared[a])}
    assert expected == tables.folded_activations(graph, prepared)
    assert folded.items() <= expected.items()
    unfolded = [a for a in expected if a not in folded]
    assert all(op.index not in unfolded or op.params.table is None
               for op in Interpreter(graph)._ops)
    return folded


@pytest.mark.parametrize("name", ZOO)
def test_check_reports_the_generated_arena_on_the_zoo(name, tmp_path):
    size, folded = assert_check_equals_generated(zoo_int8_tflite(name), tmp_path)
    graph = firmware_sim.load_model(tmp_path / "model.tflite")
    if name == "lenet5":  # (with conv patches, a small net's arena can exceed TFLM's head)
        assert size < planner.tflm_plan(graph).arena_bytes
        assert size == LENET5_FIRMWARE_ARENA
        assert folded[0] == 1  # C1's tanh in C1's output table
        steps = step_planner.plan_steps(graph)
        assert [tuple(graph.ops[i].opcode for i in s.ops) for s in steps][:2] == [
            ("CONV_2D", "TANH", "DEPTHWISE_CONV_2D", "TANH")] * 2
        c1_output = graph.ops[0].outputs[0]  # 28x28x6: never whole in the firmware's arena
        assert c1_output not in arena.firmware_arena(graph).tensor_offsets


@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(spec=model_specs())
def test_check_reports_the_generated_arena_on_random_models(spec, tmp_path_factory):
    assert_check_equals_generated(_random_tflite(spec), tmp_path_factory.mktemp("random"))


def _no_overlap(plan: arena.ArenaPlan, graph, steps) -> None:
    """Buffers written by a step never overlap what it reads (a weak validity check)."""
    for step in steps:
        if step.kind == "reshape":
            continue
        out = plan.tensor_offsets[step.output]
        out_end = out + graph.tensors[step.output].nbytes
        for t in step.inputs:
            start = plan.tensor_offsets[t]
            assert start + graph.tensors[t].nbytes <= out or out_end <= start


@pytest.mark.parametrize("name", ["lenet5", "lenet1"])
def test_firmware_arena_never_overlaps_inputs_and_outputs(name):
    graph = firmware_sim.load_model(zoo_int8_tflite(name))
    steps = step_planner.plan_steps(graph)
    _no_overlap(arena.firmware_arena(graph), graph, steps)


@st.composite
def conv_cases(draw):
    in_c = draw(st.integers(1, 5))
    fh, fw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    in_h = draw(st.integers(fh * dilation[0], 12))
    in_w = draw(st.integers(fw * dilation[1], 300))
    geometry = conv_layout.Geometry(in_h, in_w, in_c, (fh, fw), dilation, draw(st.booleans()),
                                    draw(st.booleans()), draw(st.sampled_from([1, 4])))
    out_c = draw(st.integers(1, 9))
    rng = np.random.default_rng(draw(st.integers(0, 10_000)))
    weights = rng.integers(-128, 128, (out_c, fh, fw, in_c))
    weights[rng.random(weights.shape) < draw(st.floats(0, 1))] = 0
    return weights, geometry


@settings(max_examples=300, deadline=None)
@given(conv_cases())
def test_encoding_sizes_are_those_of_the_packed_weights(case):
    weights, geometry = case
    for kind, size in conv_layout.sizes(weights, geometry).items():
        packed = encode.pack(kind, weights, geometry)
        assert (size.nbytes, size.segments, size.seg_len) == (
            packed.nbytes, packed.segments, packed.seg_len), kind
        assert conv_layout.scratch_bytes(size, geometry.groups) == \
            conv_layout.scratch_bytes(packed, geometry.groups), kind
    pairs = encode.pairs(weights, geometry)
    # every nonzero weight in exactly one pair, each pair a word of two int16 weights
    words = np.asarray(pairs.arrays["weights"][0], dtype=np.int64)[0::2]  # entries' first words
    halves = np.concatenate([(words & 0xFFFF), words >> 16]).astype(np.uint16).view(np.int16)
    assert np.count_nonzero(halves) == np.count_nonzero(weights)
    assert sorted(halves[halves != 0].tolist()) == sorted(weights[weights != 0].tolist())
    choice = conv_layout.choose(weights, geometry)
    assert encode.choose(weights, geometry).kind == choice.kind


@settings(max_examples=100, deadline=None)
@given(conv_cases())
def test_blocked_weights_are_chosen_only_where_a_block_is_dropped(case):
    """Priced cheapest, blocked is still not taken while every (output, input) block is kept."""
    weights, geometry = case
    choice = conv_layout.choose(weights, geometry, lambda e: 0.0 if e.kind == "blocked" else 1.0)
    dropped = not (np.abs(weights).sum(axis=(1, 2)) > 0).all()
    assert (choice.kind == "blocked") == (dropped and "blocked" in conv_layout.sizes(weights, geometry))


@settings(max_examples=100, deadline=None)
@given(conv_cases())
def test_size_takes_the_smallest_patch_encoding_every_block_kept_or_not(case):
    """--optimize size: blocked weights padded per channel can be smaller than dense ones even
    with every block kept, and are then taken (the speed rule above is speed's alone)."""
    weights, geometry = case
    options = conv_layout.sizes(weights, geometry)
    choice = conv_layout.choose(weights, geometry)
    smallest_patch = min(options[k].nbytes for k in conv_layout.PATCH_KINDS if k in options)
    assert choice.kind not in conv_layout.PATCH_KINDS or choice.nbytes == smallest_patch


def test_fall_back_stops_at_a_step_with_no_encoding_left():
    """A step that re-prices to an encoding it already fell back from is given up, not
    re-priced forever; a bound nothing meets leaves the costs as they were."""
    from types import SimpleNamespace

    from firmware_sim.fit.cost_model import _fall_back

    costs = [SimpleNamespace(index=0, encoding="pairs"), SimpleNamespace(index=1, encoding="dense")]
    calls = []

    def cost(index, excluded):
        calls.append((index, excluded))
        return SimpleNamespace(index=index, encoding="pairs")  # every other encoding priced out

    excluded = {}
    result = _fall_back(costs, excluded, lambda c: False, cost, lambda c: True,
                        lambda old, new: old.index, core=None)
    assert result == costs and excluded == {}
    # every candidate priced each time, the least by `order` taken: step 0 (spent at once),
    # then step 1 twice
    assert calls == [(0, ("pairs",)), (1, ("dense",)), (1, ("dense",)), (1, ("dense", "pairs"))]


def test_fall_back_takes_the_step_that_slows_least_where_one_alone_fits(monkeypatch):
    """Where either step's fallback alone meets the bound, the one adding fewest instructions
    goes, whatever `order` prefers (a QAT'd LeNet-5 97 bytes over flash had given up C5's
    pairs, not F6's)."""
    from types import SimpleNamespace

    from firmware_sim.fit import cost_model

    monkeypatch.setattr(cost_model, "step_instructions", lambda c, core: c.instructions)
    costs = [SimpleNamespace(index=i, encoding="pairs", instructions=100) for i in (0, 1)]
    slower = {0: 10, 1: 50}

    def cost(index, excluded):
        return SimpleNamespace(index=index, encoding="dense", instructions=100 + slower[index])

    excluded = {}
    result = cost_model._fall_back(costs, excluded, lambda t: any(c.encoding == "dense" for c in t),
                                   cost, lambda c: True, lambda old, new: -old.index, core=None)
    assert [c.encoding for c in result] == ["dense", "pairs"] and excluded == {0: ("pairs",)}


def _map_symbol_size(map_file, section: str) -> int:
    """The size of an input section (-fdata-sections: one per variable) in a GNU ld map."""
    text = map_file.read_text()
    match = re.search(rf"^ {re.escape(section)}\s+0x[0-9a-f]+\s+0x([0-9a-f]+)", text, re.M)
    assert match is not None, section
    return int(match[1], 16)


@pytest.mark.skipif(any(shutil.which(tool) is None for tool in qemu.TOOLS),
                    reason=f"the ARM toolchain is missing: {qemu.APT_COMMAND}")
def test_built_lenet5_arena_symbol_is_the_checked_arena(tmp_path):
    path = tmp_path / "lenet5.tflite"
    path.write_bytes(zoo_int8_tflite("lenet5"))
    report = check_model(path, "nrf52840")
    firmware = generate(firmware_sim.load_model(path), tmp_path / "firmware", "mps2-an386")
    build = qemu.build(tmp_path / "firmware", "mps2-an386", sources=firmware.sources)
    assert _map_symbol_size(build.map_file, ".bss.arena") == report.firmware_arena_bytes
