"""The memory planner against TFLM: greedy head and persistent tail equal to what TFLM's
RecordingMicroAllocator reports, and TFLM's own planner unit tests. (The generated firmware's
arena is tests/test_arena.py's.)"""
import functools
import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import firmware_sim
from firmware_sim.fit import arena_tail, planner
from tests.test_emulator_support import convert_int8, keras_and_tf, lenet5_like, multi_op_tflite

LENET5_HEAD = 9_408  # LENET_FACTS: TFLM's head for an int8 LeNet-5 (two 28x28x6 maps)

# RecordingMicroAllocator prints from C++ to the process's stderr: run it in a child.
_TFLM_REPORT = """
import sys
import numpy as np
from tflite_micro.python.tflite_micro import runtime
interpreter = runtime.Interpreter.from_file(sys.argv[1], arena_size=1 << 18)
details = interpreter.get_input_details(0)
interpreter.set_input(np.zeros(details["shape"], details["dtype"]), 0)
interpreter.invoke()
interpreter.print_allocations()
"""


def tflm_arena_report(path) -> dict[str, int]:
    """{"total", "head", "tail"} bytes as TFLM's interpreter reports them for a model file."""
    result = subprocess.run([sys.executable, "-c", _TFLM_REPORT, str(path)],
                            capture_output=True, text=True, check=True, timeout=120)
    return {m[1]: int(m[2]) for m in
            re.finditer(r"Arena allocation (total|head|tail) (\d+) bytes", result.stderr)}


@functools.lru_cache(maxsize=None)
def zoo_int8_tflite(name: str) -> bytes:
    """A freshly built zoo model converted to int8, calibrated on 50 training digits."""
    from convert.tflite import to_int8_tflite
    from lenet_edge.data.transforms import CONVENTIONS, load_dataset
    from lenet_edge.models import registry

    spec = registry.spec(name)
    images, _ = load_dataset(spec.dataset, "train")
    calibration = CONVENTIONS[spec.input_convention](images[:50])
    return to_int8_tflite(registry.build(name), calibration, num_calibration=50)


def _float_io_tflite() -> bytes:
    keras, _ = keras_and_tf()
    keras.utils.set_random_seed(3)
    return convert_int8(lenet5_like(), -0.1, 1.175, float_io=True)


MODELS = {"lenet5": lambda: zoo_int8_tflite("lenet5"),
          "multi_op": multi_op_tflite,  # ADD, MUL, LOGISTIC, MAX_POOL, RELU, depthwise
          "multi_op_per_tensor": lambda: multi_op_tflite(per_channel=False),
          "float_io": _float_io_tflite}  # QUANTIZE and DEQUANTIZE


@pytest.fixture(scope="module")
def lenet5(tmp_path_factory):
    path = tmp_path_factory.mktemp("planner") / "lenet5.tflite"
    path.write_bytes(zoo_int8_tflite("lenet5"))
    return path


@pytest.mark.parametrize("name", MODELS)
def test_head_and_tail_equal_tflm_report(name, tmp_path):
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(MODELS[name]())
    graph = firmware_sim.load_model(path)
    report = tflm_arena_report(path)
    arena = planner.tflm_arena(graph, arena_tail.HOST64)
    assert (arena.head, arena.tail, arena.total) == (report["head"], report["tail"],
                                                     report["total"])


def test_lenet5_head_is_the_measured_figure(lenet5):
    graph = firmware_sim.load_model(lenet5)
    assert planner.tflm_plan(graph).arena_bytes == LENET5_HEAD
    # the Cortex-M tail has 4-byte pointers: smaller than the 64-bit host's
    assert arena_tail.tail_bytes(graph, arena_tail.ARM32) < arena_tail.tail_bytes(
        graph, arena_tail.HOST64)


def test_lifetimes_follow_tflm_allocation_info(lenet5):
    graph = firmware_sim.load_model(lenet5)
    buffers = {b.tensor: b for b in planner.lifetimes(graph)}
    first_op = graph.ops[0]
    assert (buffers[graph.inputs[0]].first, buffers[graph.inputs[0]].last) == (0, 1)
    assert (buffers[first_op.outputs[0]].first, buffers[first_op.outputs[0]].last) == (1, 2)
    assert buffers[graph.outputs[0]].last == len(graph.ops)
    assert all(b.size % planner.ALIGNMENT == 0 for b in buffers.values())


def _plan(*requirements):
    return planner.greedy_plan([planner.Buffer(i, size, first, last)
                                for i, (size, first, last) in enumerate(requirements)])


def test_tflm_greedy_planner_unit_tests():
    """greedy_memory_planner_test.cc: TestGreedyBasics, TestGreedyMedium, TestOverlapCase."""
    basics = _plan((10, 0, 1), (20, 2, 3))
    assert (basics.offsets, basics.arena_bytes) == ((0, 0), 20)
    medium = _plan((10, 0, 1), (20, 1, 2), (30, 2, 3), (40, 3, 4), (50, 0, 1))
    assert (medium.offsets, medium.arena_bytes) == ((50, 70, 40, 0, 0), 90)
    assert _plan((100, 0, 1), (50, 2, 3), (20, 1, 2)).arena_bytes == 120


def assert_no_overlap(plan: planner.MemoryPlan) -> None:
    placed = list(zip(plan.buffers, plan.offsets))
    for i, (a, offset_a) in enumerate(placed):
        assert offset_a >= 0
        for b, offset_b in placed[i + 1:]:
            if a.overlaps(b):
                assert offset_a + a.size <= offset_b or offset_b + b.size <= offset_a, (a, b)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 64), st.integers(0, 10), st.integers(0, 4)),
                min_size=1, max_size=30))
def test_greedy_plan_never_overlaps_live_buffers(requirements):
    plan = _plan(*((16 * size, first, first + length) for size, first, length in requirements))
    assert_no_overlap(plan)
    times = range(max(b.last for b in plan.buffers) + 1)
    live = max(sum(b.size for b in plan.buffers if b.first <= t <= b.last) for t in times)
    assert live <= plan.arena_bytes <= sum(b.size for b in plan.buffers)
