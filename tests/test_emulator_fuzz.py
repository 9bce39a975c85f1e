"""Fuzzing the .tflite boundary with damaged copies of a small valid int8 model.

Each copy must either raise a one-line FirmwareSimError (ModelFileError or UnsupportedOpError) or
run and give exactly TFLM's bytes. Nothing else may escape, hang or allocate without bound. TFLM
itself is run in a child process, since a damaged file can crash it.
"""
import copy
import json
import resource
import signal
import struct
import subprocess
import sys
import textwrap
import time
import tracemalloc

import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

import firmware_sim
from firmware_sim.errors import FirmwareSimError
from tests.test_emulator_support import (convert_float, convert_int8, keras_and_tf,
                                         multi_op_tflite, pack_model, randomize_weights,
                                         structured_int8_images, unpack_model)

SECONDS_PER_MODEL = 10  # of CPU time
PEAK_BYTES_PER_MODEL = 256 << 20


@pytest.fixture(scope="module")
def base_model() -> bytes:
    keras, _ = keras_and_tf()
    keras.backend.clear_session()  # layer names, hence the file's bytes, independent of order
    keras.utils.set_random_seed(21)
    layers = keras.layers
    model = keras.Sequential([
        layers.Input((8, 8, 1)), layers.Conv2D(3, 3, activation="relu"),
        layers.AveragePooling2D(), layers.Activation("tanh"), layers.Flatten(),
        layers.Dense(4)])
    randomize_weights(model, seed=21)
    return convert_int8(model, -1.0, 1.0)


def truncations(data: bytes, rng) -> list:
    lengths = sorted(set(range(9)) | set(rng.integers(9, len(data), 200).tolist()))
    return [(f"truncated to {n} bytes", data[:n]) for n in lengths]


def byte_flips(data: bytes, rng, count: int = 500) -> list:
    mutants = []
    for k in range(count):
        damaged = bytearray(data)
        # half the damage lands in the first kilobyte, where the tables and vtables live
        limit = min(len(data), 1024) if k % 2 else len(data)
        for position in rng.integers(0, limit, int(rng.integers(1, 4))):
            damaged[position] = int(rng.integers(0, 256))
        mutants.append((f"byte flip #{k}", bytes(damaged)))
    return mutants


def wrong_identifiers(data: bytes) -> list:
    return [(f"identifier {magic!r}", data[:4] + magic + data[8:])
            for magic in (b"TFL2", b"tfl3", b"\0\0\0\0", b"TFL4", b"PK\3\4")]


def _edit(data: bytes, description: str, edit) -> list[tuple[str, bytes]]:
    """The edited model, or nothing when the schema cannot even serialise the edit."""
    model = unpack_model(data)
    edit(model)
    try:
        return [(description, pack_model(model))]
    except (struct.error, OverflowError, TypeError):
        return []


def tensor_edits(data: bytes) -> list:
    model = unpack_model(data)
    n_buffers = len(model.buffers)
    edits = []
    for t, tensor in enumerate(model.subgraphs[0].tensors):
        for axis in range(len(tensor.shape)):
            for dim in (0, -1, -7, 70000, 10**6, 2**31 - 1):
                def edit(m, axis=axis, dim=dim, t=t):
                    m.subgraphs[0].tensors[t].shape = m.subgraphs[0].tensors[t].shape.copy()
                    m.subgraphs[0].tensors[t].shape[axis] = dim
                edits.append((f"tensor {t} dim {axis} = {dim}", edit))
        edits.append((f"tensor {t} variable", lambda m, t=t: setattr(
            m.subgraphs[0].tensors[t], "isVariable", True)))
        for rank in (0, 7):
            edits.append((f"tensor {t} rank {rank}", lambda m, t=t, r=rank: setattr(
                m.subgraphs[0].tensors[t], "shape", np.ones(r, dtype=np.int32))))
        for buffer in (n_buffers, 10**6):
            edits.append((f"tensor {t} buffer {buffer}", lambda m, t=t, b=buffer: setattr(
                m.subgraphs[0].tensors[t], "buffer", b)))
        for type_code in (schema.TensorType.FLOAT32, schema.TensorType.INT16,
                          schema.TensorType.INT32, schema.TensorType.STRING,
                          schema.TensorType.COMPLEX64, 99):
            edits.append((f"tensor {t} type {type_code}", lambda m, t=t, c=type_code: setattr(
                m.subgraphs[0].tensors[t], "type", c)))
        if tensor.quantization is not None and tensor.quantization.scale is not None:
            edits += _quantization_edits(t)
    return [m for description, edit in edits for m in _edit(data, description, edit)]


def _quantization_edits(t: int) -> list:
    def set_quant(field, value):
        def edit(m):
            setattr(m.subgraphs[0].tensors[t].quantization, field, value)
        return edit
    return [
        (f"tensor {t} without quantization",
         lambda m: setattr(m.subgraphs[0].tensors[t], "quantization", None)),
        (f"tensor {t} scale -1", set_quant("scale", np.array([-1.0], np.float32))),
        (f"tensor {t} scale nan", set_quant("scale", np.array([np.nan], np.float32))),
        (f"tensor {t} scale inf", set_quant("scale", np.array([np.inf], np.float32))),
        (f"tensor {t} scale 0", set_quant("scale", np.array([0.0], np.float32))),
        (f"tensor {t} scale 1e-30", set_quant("scale", np.array([1e-30], np.float32))),
        (f"tensor {t} scale 1e30", set_quant("scale", np.array([1e30], np.float32))),
        (f"tensor {t} five scales", set_quant("scale", np.full(5, 0.1, np.float32))),
        (f"tensor {t} zero point 300", set_quant("zeroPoint", np.array([300], np.int64))),
        (f"tensor {t} zero point -2**40",
         set_quant("zeroPoint", np.array([-2**40], np.int64))),
        (f"tensor {t} no zero point", set_quant("zeroPoint", None)),
        (f"tensor {t} quantized dimension 9", set_quant("quantizedDimension", 9)),
    ]


def operator_edits(data: bytes) -> list:
    model = unpack_model(data)
    n_tensors = len(model.subgraphs[0].tensors)
    n_codes = len(model.operatorCodes)
    edits = []
    for i, operator in enumerate(model.subgraphs[0].operators):
        def op(m, i=i):
            return m.subgraphs[0].operators[i]
        edits += [
            (f"op {i} opcode index {n_codes}", lambda m, op=op: setattr(op(m), "opcodeIndex",
                                                                         n_codes)),
            (f"op {i} input {n_tensors}", lambda m, op=op: _replace(op(m), "inputs", 0,
                                                                     n_tensors)),
            (f"op {i} input -5", lambda m, op=op: _replace(op(m), "inputs", 0, -5)),
            (f"op {i} inputs dropped", lambda m, op=op: setattr(
                op(m), "inputs", np.array(op(m).inputs[:1], np.int32))),
            (f"op {i} inputs reversed", lambda m, op=op: setattr(
                op(m), "inputs", np.array(op(m).inputs[::-1], np.int32))),
            (f"op {i} output {n_tensors}", lambda m, op=op: _replace(op(m), "outputs", 0,
                                                                      n_tensors)),
            (f"op {i} writes its input", lambda m, op=op: _replace(op(m), "outputs", 0,
                                                                    op(m).inputs[0])),
            (f"op {i} without options", lambda m, op=op: setattr(op(m), "builtinOptions", None)),
        ]
        options = operator.builtinOptions
        for field in [f for f in vars(options) if not f.startswith("_")] if options else []:
            for value in (0, -1, 5, 99, 2**31 - 1):
                edits.append((f"op {i} option {field} = {value}",
                              lambda m, op=op, f=field, v=value: setattr(op(m).builtinOptions,
                                                                         f, v)))
    return [m for description, edit in edits for m in _edit(data, description, edit)]


def _replace(operator, field: str, position: int, value: int) -> None:
    values = np.array(getattr(operator, field), dtype=np.int32)
    values[position] = value
    setattr(operator, field, values)


def model_edits(data: bytes) -> list:
    def opcode(code, custom=None):
        def edit(m):
            m.operatorCodes[0].builtinCode = code
            m.operatorCodes[0].deprecatedBuiltinCode = min(code, 127)
            m.operatorCodes[0].customCode = custom
        return edit

    def resize_buffer(delta):
        def edit(m):
            buffer = next(b for b in m.buffers if b.data is not None)
            buffer.data = np.resize(buffer.data, len(buffer.data) + delta).astype(np.uint8)
        return edit

    edits = [
        ("version 2", lambda m: setattr(m, "version", 2)),
        ("two subgraphs", lambda m: m.subgraphs.append(copy.deepcopy(m.subgraphs[0]))),
        ("no subgraphs", lambda m: setattr(m, "subgraphs", [])),
        ("no buffers", lambda m: setattr(m, "buffers", [])),
        ("opcode CONCATENATION", opcode(schema.BuiltinOperator.CONCATENATION)),
        ("opcode CUSTOM", opcode(schema.BuiltinOperator.CUSTOM, "MyOp")),
        ("opcode 999", opcode(999)),
        ("buffer one byte short", resize_buffer(-1)),
        ("buffer one byte long", resize_buffer(1)),
        ("buffer outside the flatbuffer", lambda m: (setattr(m.buffers[1], "offset", 10**9),
                                           setattr(m.buffers[1], "size", 10))),
        ("graph input out of range", lambda m: setattr(m.subgraphs[0], "inputs",
                                                       np.array([10**4], np.int32))),
        ("no graph outputs", lambda m: setattr(m.subgraphs[0], "outputs",
                                               np.array([], np.int32))),
        ("graph input is a constant", lambda m: setattr(
            m.subgraphs[0], "inputs", np.array([m.subgraphs[0].operators[0].inputs[1]],
                                               np.int32))),
    ]
    return [m for description, edit in edits for m in _edit(data, description, edit)]


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def emulate(data: bytes, x: np.ndarray):
    """(output or None, error message or None) for one damaged model, guarded in time and memory.

    Kernel allocations are traced; the reader's, which only views the file's bytes, are left to
    the whole-process check in check_mutants (tracing the flatbuffer parse would be slow).
    """
    previous = signal.signal(signal.SIGPROF, _alarm)
    signal.setitimer(signal.ITIMER_PROF, SECONDS_PER_MODEL)  # CPU seconds, whatever the load
    try:
        graph = firmware_sim.load_model(data)
        tracemalloc.start()
        try:
            output = firmware_sim.run(graph, x)
        finally:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        assert peak < PEAK_BYTES_PER_MODEL, f"peak allocation {peak} bytes"
        return output, None
    except FirmwareSimError as error:
        return None, str(error)
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


_TFLM_WORKER = textwrap.dedent("""
    import sys, numpy as np
    from tflite_micro.python.tflite_micro import runtime
    folder, start = sys.argv[1], int(sys.argv[2])
    x = np.load(folder + "/x.npy")
    count = int(open(folder + "/count").read())
    for k in range(start, count):
        print(k, flush=True)  # the parent learns which model a crash happened on
        try:
            interpreter = runtime.Interpreter.from_bytes(open(f"{folder}/{k}.tflite", "rb").read())
            outputs = []
            for image in x:
                interpreter.set_input(image[None], 0)
                interpreter.invoke()
                outputs.append(interpreter.get_output(0).copy())
            np.save(f"{folder}/{k}.npy", np.concatenate(outputs))
        except Exception as error:
            open(f"{folder}/{k}.err", "w").write(repr(error))
""")


def tflm_outputs(models: list[bytes], x: np.ndarray, folder) -> dict:
    """TFLM's outputs per model index, or why there are none (refused, or crashed)."""
    np.save(folder / "x.npy", x)
    (folder / "count").write_text(str(len(models)))
    for k, data in enumerate(models):
        (folder / f"{k}.tflite").write_bytes(data)
    start = 0
    while start < len(models):
        run = subprocess.run([sys.executable, "-c", _TFLM_WORKER, str(folder), str(start)],
                             capture_output=True, text=True, timeout=600)
        reached = [int(line) for line in run.stdout.split()] or [start]
        start = reached[-1] + 1 if run.returncode != 0 else len(models)
    return {k: np.load(folder / f"{k}.npy") if (folder / f"{k}.npy").exists()
            else (folder / f"{k}.err").read_text() if (folder / f"{k}.err").exists()
            else "crashed" for k in range(len(models))}


def check_mutants(mutants: list, x: np.ndarray, folder) -> None:
    """Each mutant refused in one line, or run to TFLM's exact bytes; some of each kind."""
    started = time.process_time()
    peak_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    accepted, refused = [], []
    for description, data in mutants:
        output, message = emulate(data, x)
        if message is not None:
            assert message and "\n" not in message and len(message) < 300, description
            refused.append(description)
        else:
            assert output.dtype == np.int8 and len(output) == len(x), description
            accepted.append((description, data, output))
    assert refused and accepted
    assert time.process_time() - started < 120
    growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_rss_kib
    assert growth * 1024 < PEAK_BYTES_PER_MODEL, f"resident memory grew by {growth} KiB"
    expected = tflm_outputs([data for _, data, _ in accepted], x, folder)
    disagreements = [(description, "TFLM: " + expected[k] if isinstance(expected[k], str)
                      else "different bytes")
                     for k, (description, _, output) in enumerate(accepted)
                     if isinstance(expected[k], str) or not np.array_equal(output, expected[k])]
    assert not disagreements, json.dumps(disagreements[:20])


def test_damaged_models_fail_in_one_line_or_match_tflm(base_model, tmp_path):
    rng = np.random.default_rng(2024)
    mutants = (truncations(base_model, rng) + byte_flips(base_model, rng)
               + wrong_identifiers(base_model) + tensor_edits(base_model)
               + operator_edits(base_model) + model_edits(base_model))
    assert len(mutants) >= 1000
    check_mutants(mutants, structured_int8_images((8, 8, 1), n_random=8), tmp_path)


def test_damaged_multi_op_models_fail_in_one_line_or_match_tflm(tmp_path):
    model = multi_op_tflite(per_channel=False)
    rng = np.random.default_rng(2025)
    mutants = (byte_flips(model, rng, count=300) + tensor_edits(model)
               + operator_edits(model) + model_edits(model))
    check_mutants(mutants, structured_int8_images((12, 12, 2), n_random=8), tmp_path)


def test_float_model_where_int8_is_needed(base_model):
    keras, _ = keras_and_tf()
    model = keras.Sequential([keras.layers.Input((8, 8, 1)), keras.layers.Conv2D(3, 3),
                              keras.layers.Flatten(), keras.layers.Dense(4)])
    graph = firmware_sim.load_model(convert_float(model))
    with pytest.raises(firmware_sim.UnsupportedOpError, match="float32"):
        firmware_sim.run(graph, np.zeros((1, 8, 8, 1), dtype=np.float32))


def test_truncated_file_says_truncated_with_its_size(base_model):
    cut = base_model[:len(base_model) // 2]
    with pytest.raises(firmware_sim.ModelFileError) as caught:
        firmware_sim.load_model(cut)
    message = str(caught.value)
    assert message.startswith(f"truncated .tflite file: {len(cut):,} of at least ")
    assert "\n" not in message and "unpack_from" not in message


def test_an_int8_lstm_is_refused_naming_the_op():
    keras, _ = keras_and_tf()
    keras.backend.clear_session()
    model = keras.Sequential([keras.layers.Input((4, 3), batch_size=1), keras.layers.LSTM(5),
                              keras.layers.Dense(2)])
    with pytest.raises(firmware_sim.UnsupportedOpError,
                       match=r"^unsupported op UNIDIRECTIONAL_SEQUENCE_LSTM \(node \d+\)"):
        firmware_sim.load_model(convert_int8(model, 0.0, 1.0))
