"""The tabled output stage equals the reference arithmetic on every reachable sum, and fusion
merges exactly the activations it may."""
import numpy as np

import firmware_sim
from firmware_sim.emulator import tables
from firmware_sim.emulator.kernels import accumulate, activations, output_table, requantize
from firmware_sim.emulator.ops import prepare_op
from tests.test_emulator_support import lenet_tflite


def random_stage(rng, channels: int, bound: int):
    real = 10.0 ** rng.uniform(-4, -0.5, channels)
    multiplier, shift = zip(*(requantize.quantize_multiplier(r) for r in real))
    bias = rng.integers(-30000, 30000, channels)
    zero_point = int(rng.integers(-128, 128))
    activation_range = tuple(sorted(rng.integers(-128, 128, 2)))
    return accumulate.output_stage(np.full(channels, bound), bias, list(multiplier), list(shift),
                                   zero_point, activation_range)


def test_table_equals_the_integer_output_stage_on_every_reachable_sum():
    rng = np.random.default_rng(3)
    for _ in range(30):
        channels, bound = int(rng.integers(1, 6)), int(rng.integers(1, 1 << 16))
        stage = random_stage(rng, channels, bound)
        activation = rng.integers(-128, 128, 256).astype(np.int8)
        sums = np.tile(np.arange(-bound, bound + 1, dtype=np.float64), (channels, 1))
        integer_stage = accumulate.OutputStage(**{**vars(stage), "real_multiplier": None})
        expected = accumulate.requantize(integer_stage, sums)
        for table_activation, want in ((None, expected),
                                       (activation, activation[expected.view(np.uint8)])):
            table = output_table.build(stage, np.full(channels, bound), np.float64,
                                       table_activation)
            assert table is not None
            assert np.array_equal(output_table.apply(table, sums.copy()), want)


def test_window_sum_table_scales_by_the_shared_tap_weight():
    rng = np.random.default_rng(4)
    stage = random_stage(rng, 3, 4 * 255)
    weights = np.array([17, -5, 0])
    window_sums = np.tile(np.arange(-1020, 1021, dtype=np.float32), (3, 1))
    integer_stage = accumulate.OutputStage(**{**vars(stage), "real_multiplier": None})
    expected = accumulate.requantize(integer_stage, window_sums * weights[:, None])
    table = output_table.build(stage, np.full(3, 1020), np.float32, step=weights)
    assert np.array_equal(output_table.apply(table, window_sums.copy()), expected)


def test_tables_too_large_or_wrapping_are_refused():
    rng = np.random.default_rng(5)
    stage = random_stage(rng, 2, 1 << 30)
    tiny = accumulate.OutputStage(**{**vars(stage), "output_multiplier": np.full((2, 1), 1 << 30),
                                     "output_shift": np.full((2, 1), -30)})
    assert output_table.build(tiny, np.full(2, 1 << 30), np.float64) is None  # 2**30 entries
    wrapping = accumulate.OutputStage(**{**vars(stage), "accumulator_wraps": True})
    assert output_table.build(wrapping, np.full(2, 10), np.float64) is None


def test_lenet5_runs_c1_and_its_tanh_as_one_tabled_kernel():
    graph = firmware_sim.load_model(lenet_tflite())
    assert [graph.ops[i].opcode for i in (0, 1)] == ["CONV_2D", "TANH"]
    fused = tables.fuse(graph, [prepare_op(graph, i) for i in range(len(graph.ops))])
    assert fused[0].outputs == graph.ops[1].outputs
    assert fused[0].params.output_stage.table is not None
    assert fused[1].index == 2  # the tanh is gone
    # stages whose tables would be too large keep their activation as a separate op
    for op in fused:
        if op.kernel is activations.lookup:
            producer = next(f for f in fused if f.outputs == graph.ops[op.index - 1].outputs)
            assert producer.params.output_stage.table is None
