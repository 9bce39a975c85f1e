"""Read .tflite bytes into an ir.Graph through the TFLite flatbuffer schema, validating every field.

The schema module's object API (ModelT) unpacks the whole file, the parts firmware_sim does not
use included (metadata, signature defs), as TFLM's Python loader also does; a corrupt file makes
it raise whatever struct, numpy or flatbuffers raises, and any such exception becomes one
ModelFileError. A corrupt length cannot make it loop for long: reading past the end of the file
raises. Then every field firmware_sim uses is checked: indices against the tables they point
into, shapes, types, quantization, buffer sizes, and the order in which ops write tensors. The
model's interface (metadata "lenet_edge.interface", see emulator.interface) is validated
against the graph and set as Graph.interface.
"""
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from firmware_sim.emulator.interface import METADATA_NAME, parse_metadata
from firmware_sim.emulator.ir import Graph, Op, QuantParams, Tensor
from firmware_sim.errors import ModelFileError, UnsupportedOpError

FILE_IDENTIFIER = b"TFL3"
SCHEMA_VERSION = 3
MAX_RANK = 6
# A microcontroller holds a few hundred kilobytes; anything near these limits is a corrupt file.
MAX_TENSOR_ELEMENTS = 1 << 22
MAX_DIMENSION = 1 << 16

_DTYPES = {
    schema.TensorType.FLOAT32: "float32",
    schema.TensorType.INT32: "int32",
    schema.TensorType.UINT8: "uint8",
    schema.TensorType.INT64: "int64",
    schema.TensorType.INT16: "int16",
    schema.TensorType.INT8: "int8",
    schema.TensorType.BOOL: "bool",
}
_TYPE_NAMES = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
_OPCODE_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
# Builtin options read into Op.options, by op; the union tag each op's options must carry.
_CONV_FIELDS = ("padding", "strideW", "strideH", "fusedActivationFunction", "dilationWFactor",
                "dilationHFactor")
_POOL_FIELDS = ("padding", "strideW", "strideH", "filterWidth", "filterHeight",
                "fusedActivationFunction")
_OPTIONS = {
    "CONV_2D": (schema.BuiltinOptions.Conv2DOptions, _CONV_FIELDS + ("quantizedBiasType",)),
    "DEPTHWISE_CONV_2D": (schema.BuiltinOptions.DepthwiseConv2DOptions,
                          _CONV_FIELDS + ("depthMultiplier",)),
    "FULLY_CONNECTED": (schema.BuiltinOptions.FullyConnectedOptions,
                        ("fusedActivationFunction", "weightsFormat", "keepNumDims",
                         "asymmetricQuantizeInputs", "quantizedBiasType")),
    "AVERAGE_POOL_2D": (schema.BuiltinOptions.Pool2DOptions, _POOL_FIELDS),
    "MAX_POOL_2D": (schema.BuiltinOptions.Pool2DOptions, _POOL_FIELDS),
    "SOFTMAX": (schema.BuiltinOptions.SoftmaxOptions, ("beta",)),
    "ADD": (schema.BuiltinOptions.AddOptions, ("fusedActivationFunction",)),
    "MUL": (schema.BuiltinOptions.MulOptions, ("fusedActivationFunction",)),
}
# integer range of each quantized type's zero point
_ZERO_POINT_RANGE = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767)}
_INT32_RANGE = (-(1 << 31), (1 << 31) - 1)


def load_model(path_or_bytes: str | Path | bytes | bytearray | memoryview) -> Graph:
    """Read a .tflite model from a path or from its bytes."""
    if isinstance(path_or_bytes, (str, Path)):
        try:
            data = Path(path_or_bytes).read_bytes()
        except OSError as error:
            raise ModelFileError(f"cannot read model file {str(path_or_bytes)!r}: "
                                 f"{error.strerror or error}") from error
    elif isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        data = bytes(path_or_bytes)
    else:
        raise TypeError(f"load_model takes a path or bytes, not {type(path_or_bytes).__name__}")
    return read_graph(data)


def read_graph(data: bytes) -> Graph:
    """Parse and validate .tflite bytes; any defect raises ModelFileError."""
    if len(data) < 8:
        raise ModelFileError(f"not a .tflite file: {len(data)} bytes is too short for a header")
    if data[4:8] != FILE_IDENTIFIER:
        raise ModelFileError(f"not a .tflite file: file identifier is {bytes(data[4:8])!r}, "
                             f"expected {FILE_IDENTIFIER!r}")
    try:
        return _read_model(data)
    except ModelFileError:
        raise
    except Exception as error:  # the flatbuffer library signals corruption with many types
        raise _unpack_error(error, len(data)) from error


def _unpack_error(error: Exception, size: int) -> ModelFileError:
    """A read past the end of the file means it was cut short (an interrupted copy or download);
    struct's message says how far the flatbuffer reaches, a lower bound of the whole size."""
    needed = re.search(r"at least (\d+) bytes", str(error))
    if needed and int(needed.group(1)) > size:
        return ModelFileError(f"truncated .tflite file: {size:,} of at least "
                              f"{int(needed.group(1)):,} bytes")
    detail = " ".join(str(error).split())[:120]
    return ModelFileError(f"corrupt .tflite flatbuffer ({type(error).__name__}: {detail})")


def _read_model(data: bytes) -> Graph:
    model = schema.ModelT.InitFromPackedBuf(data, 0)
    if model.version != SCHEMA_VERSION:
        raise ModelFileError(f"schema version {model.version}, expected {SCHEMA_VERSION}")
    if len(model.subgraphs or []) != 1:
        raise ModelFileError(f"{len(model.subgraphs or [])} subgraphs; firmware_sim runs "
                             f"single-subgraph models")
    buffers = [_read_buffer(buffer) for buffer in model.buffers or []]
    for metadata in model.metadata or []:
        _check_index(metadata.buffer, len(buffers), "metadata buffer")
    interfaces = [buffers[m.buffer] for m in model.metadata or []
                  if m.name is not None and m.name.decode("utf-8", "replace") == METADATA_NAME]
    if len(interfaces) > 1:
        raise ModelFileError(f"{len(interfaces)} metadata entries named {METADATA_NAME!r}")
    opcodes = [_opcode_name(code) for code in model.operatorCodes or []]
    subgraph = model.subgraphs[0]
    _refuse_stateful_ops(subgraph, opcodes)
    tensors = tuple(_read_tensor(tensor, i, buffers)
                    for i, tensor in enumerate(subgraph.tensors or []))
    ops = tuple(_read_op(operator, i, opcodes, len(tensors))
                for i, operator in enumerate(subgraph.operators or []))
    graph = Graph(
        tensors=tensors, ops=ops,
        inputs=_indices(subgraph.inputs, len(tensors), "subgraph input"),
        outputs=_indices(subgraph.outputs, len(tensors), "subgraph output"),
        description=(model.description or b"").decode("utf-8", "replace"),
        file_bytes=len(data))
    _check_dataflow(graph)
    if interfaces:  # the model's interface, as lenet-edge convert wrote it
        graph = replace(graph, interface=parse_metadata(interfaces[0], graph))
    return graph


def _refuse_stateful_ops(subgraph, opcodes: list[str]) -> None:
    """Name the op that keeps state (an LSTM's cell, a VAR_HANDLE) rather than its state tensor:
    the op is what the user chose and can replace."""
    variables = {i for i, tensor in enumerate(subgraph.tensors or []) if tensor.isVariable}
    for index, operator in enumerate(subgraph.operators or []):
        state = variables.intersection(operator.inputs if operator.inputs is not None else [])
        if state and 0 <= operator.opcodeIndex < len(opcodes):
            raise UnsupportedOpError(
                f"unsupported op {opcodes[operator.opcodeIndex]} (node {index}): it keeps state "
                f"in variable tensor {min(state)}, and firmware_sim runs stateless models only")


def _check_index(index: int, size: int, what: str) -> None:
    if not 0 <= index < size:
        raise ModelFileError(f"{what} index {index} out of range [0, {size})")


def _read_buffer(buffer) -> memoryview:
    if buffer.offset > 1:  # data appended after the flatbuffer (models over 2 GB)
        raise ModelFileError(f"a buffer lies outside the flatbuffer (offset {buffer.offset}); "
                             f"TFLite Micro reads only inline buffers")
    if buffer.data is None:
        return memoryview(b"")
    return memoryview(np.ascontiguousarray(buffer.data, dtype=np.uint8))


def _opcode_name(operator_code) -> str:
    code = max(operator_code.builtinCode, operator_code.deprecatedBuiltinCode)
    if code not in _OPCODE_NAMES:
        raise ModelFileError(f"unknown builtin operator code {code}")
    if _OPCODE_NAMES[code] == "CUSTOM":
        custom = (operator_code.customCode or b"").decode("utf-8", "replace")
        return f"CUSTOM({custom[:40]!r})"
    return _OPCODE_NAMES[code]


def _read_tensor(tensor, index: int, buffers: list) -> Tensor:
    name = (tensor.name or b"").decode("utf-8", "replace")[:80] or f"#{index}"
    where = f"tensor {index} ({name!r})"
    if tensor.type not in _DTYPES:
        type_name = _TYPE_NAMES.get(tensor.type, str(tensor.type))
        raise ModelFileError(f"{where}: tensor type {type_name} is not supported")
    dtype = _DTYPES[tensor.type]
    shape = _read_shape(tensor.shape, where)
    if tensor.sparsity is not None:
        raise ModelFileError(f"{where}: sparse tensors are not supported")
    if tensor.isVariable:  # TFLM keeps these in the arena, zeroed, whatever the file holds
        raise ModelFileError(f"{where}: variable tensors are not supported")
    quant = _read_quantization(tensor.quantization, shape, dtype, where)
    if dtype == "int8" and quant is None:
        raise ModelFileError(f"{where}: int8 tensor has no quantization parameters")
    _check_index(tensor.buffer, len(buffers), f"{where}: buffer")
    return Tensor(name, shape, dtype, quant,
                  _constant_data(buffers[tensor.buffer], shape, dtype, where))


def _read_shape(dims, where: str) -> tuple[int, ...]:
    shape = tuple(int(d) for d in dims) if dims is not None else ()
    if len(shape) > MAX_RANK:
        raise ModelFileError(f"{where}: rank {len(shape)} exceeds {MAX_RANK}")
    if any(d < 1 or d > MAX_DIMENSION for d in shape):
        raise ModelFileError(f"{where}: shape {list(shape)} has a dimension outside "
                             f"[1, {MAX_DIMENSION}]")
    if int(np.prod(shape, dtype=object)) > MAX_TENSOR_ELEMENTS:
        raise ModelFileError(f"{where}: shape {list(shape)} exceeds {MAX_TENSOR_ELEMENTS} "
                             f"elements")
    return shape


def _read_quantization(q, shape: tuple[int, ...], dtype: str, where: str) -> QuantParams | None:
    # Like TFLite Micro, a tensor counts as quantized only with both scales and zero points.
    if q is None or q.scale is None or q.zeroPoint is None or not len(q.scale) \
            or not len(q.zeroPoint):
        return None
    scales = np.asarray(q.scale, dtype=np.float32)
    zero_points = np.asarray(q.zeroPoint, dtype=np.int64)
    if len(zero_points) not in (1, len(scales)):
        raise ModelFileError(f"{where}: {len(zero_points)} zero points for {len(scales)} scales")
    if not np.all(np.isfinite(scales) & (scales > 0)):
        raise ModelFileError(f"{where}: quantization scales must be finite and positive")
    low, high = _ZERO_POINT_RANGE.get(dtype, _INT32_RANGE)
    if zero_points.min() < low or zero_points.max() > high:
        raise ModelFileError(f"{where}: zero point outside the {dtype} range [{low}, {high}]")
    axis = q.quantizedDimension
    if len(scales) > 1 and not (0 <= axis < len(shape) and shape[axis] == len(scales)):
        raise ModelFileError(f"{where}: {len(scales)} per-channel scales do not match "
                             f"dimension {axis} of shape {list(shape)}")
    return QuantParams(scales, np.broadcast_to(zero_points, scales.shape).copy(), axis)


def _constant_data(buffer: memoryview, shape, dtype: str, where: str) -> np.ndarray | None:
    if len(buffer) == 0:
        return None
    element = np.dtype(dtype).newbyteorder("<")
    expected = int(np.prod(shape, dtype=np.int64)) * element.itemsize
    if len(buffer) != expected:
        raise ModelFileError(f"{where}: buffer holds {len(buffer)} bytes, shape {list(shape)} "
                             f"of {dtype} needs {expected}")
    array = np.frombuffer(buffer, dtype=element).astype(dtype, copy=False).reshape(shape)
    array.flags.writeable = False
    return array


def _read_op(operator, index: int, opcodes: list[str], n_tensors: int) -> Op:
    _check_index(operator.opcodeIndex, len(opcodes), f"node {index}: opcode")
    opcode = opcodes[operator.opcodeIndex]
    where = f"{opcode} (node {index})"
    inputs = _indices(operator.inputs, n_tensors, f"{where} input", optional=True)
    outputs = _indices(operator.outputs, n_tensors, f"{where} output")
    return Op(opcode, inputs, outputs, _read_options(operator, opcode, where))


def _indices(vector, n_tensors: int, what: str, optional: bool = False) -> tuple[int, ...]:
    indices = tuple(int(i) for i in vector) if vector is not None else ()
    for i in indices:
        if not (optional and i == -1):
            _check_index(i, n_tensors, f"{what} tensor")
    return indices


def _read_options(operator, opcode: str, where: str) -> dict:
    if opcode not in _OPTIONS:
        return {}
    tag, fields = _OPTIONS[opcode]
    options = operator.builtinOptions
    if operator.builtinOptionsType != tag or options is None:
        raise ModelFileError(f"{where}: builtin options missing or of the wrong type "
                             f"(union tag {operator.builtinOptionsType})")
    values = {_snake_case(name): getattr(options, name) for name in fields}
    if values.get("quantized_bias_type", 0) not in _TYPE_NAMES:  # TFLM's parse refuses these
        raise ModelFileError(f"{where}: quantized bias type {values['quantized_bias_type']} "
                             f"is not a tensor type")
    return values


def _snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _check_dataflow(graph: Graph) -> None:
    """Ops run in file order, as in TFLite Micro: each reads tensors that exist by then."""
    if not graph.inputs or not graph.outputs:
        raise ModelFileError("the subgraph declares no inputs or no outputs")
    written = set()
    for t in graph.inputs:
        if graph.tensors[t].is_constant or t in written:
            raise ModelFileError(f"subgraph input tensor {t} is constant or listed twice")
        written.add(t)
    for index, op in enumerate(graph.ops):
        for t in op.inputs:
            if t >= 0 and not graph.tensors[t].is_constant and t not in written:
                raise ModelFileError(f"{op.opcode} (node {index}) reads tensor {t} before any "
                                     f"op writes it")
        for t in op.outputs:
            if graph.tensors[t].is_constant or t in written:
                raise ModelFileError(f"{op.opcode} (node {index}) writes tensor {t}, which is "
                                     f"constant or already written")
            written.add(t)
    for t in graph.outputs:
        if t not in written:
            raise ModelFileError(f"subgraph output tensor {t} is never written")
