"""The tabled output stage equals the reference arithmetic on every reachable sum, and fusion
merges exactly the activations it may."""
import numpy as np

import firmware_sim
from firmware_sim.emulator import output_table, speed, tables
from firmware_sim.emulator.kernels import accumulate, requantize
from firmware_sim.emulator.ops import prepare_op
from tests.test_emulator_support import lenet_tflite, output_stage_data


def random_stage(rng, channels: int):
    """An op data's output stage with random multipliers, bias, zero point and clamp."""
    real = 10.0 ** rng.uniform(-4, -0.5, channels)
    multiplier, shift = accumulate.multipliers_and_shifts(
        [requantize.quantize_multiplier(r) for r in real])
    bias = rng.integers(-30000, 30000, channels)
    zero_point = int(rng.integers(-128, 128))
    activation_range = tuple(sorted(rng.integers(-128, 128, 2)))
    return output_stage_data(bias, multiplier, shift, zero_point, activation_range)


def reference_stage(op_data, sums: np.ndarray) -> np.ndarray:
    """The reference output stage on channel-major sums (channels, pixels)."""
    return accumulate.output_stage(op_data, sums.astype(np.int64).T).T


def test_table_equals_the_integer_output_stage_on_every_reachable_sum():
    rng = np.random.default_rng(3)
    for _ in range(30):
        channels, bound = int(rng.integers(1, 6)), int(rng.integers(1, 1 << 16))
        op_data = random_stage(rng, channels)
        activation = rng.integers(-128, 128, 256).astype(np.int8)
        sums = np.tile(np.arange(-bound, bound + 1, dtype=np.float64), (channels, 1))
        expected = reference_stage(op_data, sums)
        for table_activation, want in ((None, expected),
                                       (activation, activation[expected.view(np.uint8)])):
            table = output_table.build(op_data, np.full(channels, bound), np.float64,
                                       table_activation)
            assert table is not None
            assert np.array_equal(output_table.apply(table, sums.copy()), want)


def test_window_sum_table_scales_by_the_shared_tap_weight():
    rng = np.random.default_rng(4)
    op_data = random_stage(rng, 3)
    weights = np.array([17, -5, 0])
    window_sums = np.tile(np.arange(-1020, 1021, dtype=np.float32), (3, 1))
    expected = reference_stage(op_data, window_sums * weights[:, None])
    table = output_table.build(op_data, np.full(3, 1020), np.float32, step=weights)
    assert np.array_equal(output_table.apply(table, window_sums.copy()), expected)


def test_tables_too_large_or_wrapping_are_refused():
    rng = np.random.default_rng(5)
    op_data = random_stage(rng, 2)
    tiny = output_stage_data(op_data.bias, np.full(2, 1 << 30), np.full(2, -30),
                             op_data.output_offset, (-128, 127))
    assert output_table.build(tiny, np.full(2, 1 << 30), np.float64) is None  # 2**30 entries
    # sums plus bias that wrap TFLM's int32 accumulator make the stage non-monotonic
    assert output_table.build(op_data, np.full(2, (1 << 31) - 10), np.float64) is None


def test_lenet5_runs_c1_and_its_tanh_as_one_tabled_kernel():
    graph = firmware_sim.load_model(lenet_tflite())
    assert [graph.ops[i].opcode for i in (0, 1)] == ["CONV_2D", "TANH"]
    fused = tables.fuse(graph, [prepare_op(graph, i) for i in range(len(graph.ops))])
    assert fused[0].outputs == graph.ops[1].outputs
    assert fused[0].params.table is not None
    assert fused[1].index == 2  # the tanh is gone
    # stages whose tables would be too large keep their activation as a separate op
    for op in fused:
        if op.kernel is speed.lookup:
            producer = next(f for f in fused if f.outputs == graph.ops[op.index - 1].outputs)
            assert producer.params.table is None


def test_op_data_holds_integers_only():
    """What prepare gives a MAC op is TFLM's op data: int8 filter, int32 bias and multipliers."""
    graph = firmware_sim.load_model(lenet_tflite(per_channel=False))
    for index, op in enumerate(graph.ops):
        op_data = prepare_op(graph, index).params
        if op.opcode not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            continue
        assert op_data.filter.dtype == np.int8
        assert op_data.bias.dtype == op_data.output_multiplier.dtype == np.int32
        assert op_data.output_shift.dtype == np.int32
        assert all(isinstance(v, (int, tuple)) for k, v in vars(op_data).items()
                   if k not in ("filter", "bias", "output_multiplier", "output_shift"))


def test_the_reference_interpreter_runs_the_reference_kernels_on_op_data_alone():
    graph = firmware_sim.load_model(lenet_tflite())
    reference = firmware_sim.Interpreter(graph, reference=True)
    assert len(reference._ops) == len(graph.ops)  # nothing fused
    for op in reference._ops:
        assert op.kernel.__module__.startswith("firmware_sim.emulator.kernels.")
        assert not isinstance(op.params, (speed.MacParams, speed.AveragePoolParams,
                                          speed.ByteTable))
    fast = firmware_sim.Interpreter(graph)
    assert any(isinstance(op.params, speed.MacParams) for op in fast._ops)
