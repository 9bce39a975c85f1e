"""Read .tflite bytes into an ir.Graph through the TFLite flatbuffer schema, validating every field.

The generated schema module reads fields lazily and trusts the bytes: a corrupt file makes it raise
whatever struct, numpy or flatbuffers raises, or report vector lengths of billions. So every
vector length is checked against the file size before it is iterated, every index against the
table it points into, and any exception from the flatbuffer library becomes one ModelFileError.
"""
import re
from pathlib import Path

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from firmware_sim.errors import ModelFileError
from firmware_sim.ir import Graph, Op, QuantParams, Tensor

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

# opcode -> (options table class, union tag, fields read into Op.options)
_CONV_FIELDS = ("Padding", "StrideW", "StrideH", "FusedActivationFunction",
                "DilationWFactor", "DilationHFactor")
_POOL_FIELDS = ("Padding", "StrideW", "StrideH", "FilterWidth", "FilterHeight",
                "FusedActivationFunction")
_OPTIONS = {
    "CONV_2D": (schema.Conv2DOptions, schema.BuiltinOptions.Conv2DOptions, _CONV_FIELDS),
    "DEPTHWISE_CONV_2D": (schema.DepthwiseConv2DOptions,
                          schema.BuiltinOptions.DepthwiseConv2DOptions,
                          _CONV_FIELDS + ("DepthMultiplier",)),
    "FULLY_CONNECTED": (schema.FullyConnectedOptions, schema.BuiltinOptions.FullyConnectedOptions,
                        ("FusedActivationFunction", "WeightsFormat", "KeepNumDims",
                         "AsymmetricQuantizeInputs")),
    "AVERAGE_POOL_2D": (schema.Pool2DOptions, schema.BuiltinOptions.Pool2DOptions, _POOL_FIELDS),
    "MAX_POOL_2D": (schema.Pool2DOptions, schema.BuiltinOptions.Pool2DOptions, _POOL_FIELDS),
    "SOFTMAX": (schema.SoftmaxOptions, schema.BuiltinOptions.SoftmaxOptions, ("Beta",)),
    "ADD": (schema.AddOptions, schema.BuiltinOptions.AddOptions, ("FusedActivationFunction",)),
    "MUL": (schema.MulOptions, schema.BuiltinOptions.MulOptions, ("FusedActivationFunction",)),
}


def load_model(path_or_bytes: str | Path | bytes | bytearray | memoryview) -> Graph:
    """Read a .tflite model from a path or from its bytes."""
    if isinstance(path_or_bytes, (str, Path)):
        try:
            data = Path(path_or_bytes).read_bytes()
        except OSError as error:
            raise ModelFileError(f"cannot read model file {str(path_or_bytes)!r}: "
                                 f"{error.strerror or error}") from error
    else:
        data = bytes(path_or_bytes)
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
        detail = " ".join(str(error).split())[:120]
        raise ModelFileError(f"corrupt .tflite flatbuffer ({type(error).__name__}: {detail})") \
            from error


def _read_model(data: bytes) -> Graph:
    model = schema.Model.GetRootAs(data, 0)
    if model.Version() != SCHEMA_VERSION:
        raise ModelFileError(f"schema version {model.Version()}, expected {SCHEMA_VERSION}")
    n_subgraphs = _length(model.SubgraphsLength(), 4, data, "subgraphs")
    if n_subgraphs != 1:
        raise ModelFileError(f"{n_subgraphs} subgraphs; firmware_sim runs single-subgraph models")
    buffers = [_read_buffer(model.Buffers(i), data)
               for i in range(_length(model.BuffersLength(), 4, data, "buffers"))]
    opcodes = [_opcode_name(model.OperatorCodes(i))
               for i in range(_length(model.OperatorCodesLength(), 4, data, "operator codes"))]
    subgraph = model.Subgraphs(0)
    n_tensors = _length(subgraph.TensorsLength(), 4, data, "tensors")
    tensors = tuple(_read_tensor(subgraph.Tensors(i), i, buffers) for i in range(n_tensors))
    n_ops = _length(subgraph.OperatorsLength(), 4, data, "operators")
    ops = tuple(_read_op(subgraph.Operators(i), i, opcodes, n_tensors, data)
                for i in range(n_ops))
    graph = Graph(
        tensors=tensors, ops=ops,
        inputs=_indices(subgraph.InputsAsNumpy(), n_tensors, "subgraph input"),
        outputs=_indices(subgraph.OutputsAsNumpy(), n_tensors, "subgraph output"),
        description=(model.Description() or b"").decode("utf-8", "replace"))
    _check_dataflow(graph)
    return graph


def _length(n: int, element_bytes: int, data: bytes, what: str) -> int:
    """A vector length, refused when its elements could not fit in the file."""
    if n * element_bytes > len(data):
        raise ModelFileError(f"corrupt .tflite flatbuffer: {n} {what} cannot fit in "
                             f"{len(data)} bytes")
    return n


def _read_buffer(buffer, data: bytes) -> memoryview:
    offset, size = buffer.Offset(), buffer.Size()
    if offset > 1:  # large models keep tensor data after the flatbuffer, addressed by offset
        if offset + size > len(data):
            raise ModelFileError(f"buffer at offset {offset} with {size} bytes runs past the "
                                 f"end of the {len(data)}-byte file")
        return memoryview(data)[offset:offset + size]
    if buffer.DataLength() == 0:
        return memoryview(b"")
    return memoryview(buffer.DataAsNumpy().tobytes())


def _opcode_name(operator_code) -> str:
    code = max(operator_code.BuiltinCode(), operator_code.DeprecatedBuiltinCode())
    if code not in _OPCODE_NAMES:
        raise ModelFileError(f"unknown builtin operator code {code}")
    if _OPCODE_NAMES[code] == "CUSTOM":
        custom = (operator_code.CustomCode() or b"").decode("utf-8", "replace")
        return f"CUSTOM({custom[:40]})"
    return _OPCODE_NAMES[code]


def _read_tensor(tensor, index: int, buffers: list) -> Tensor:
    name = (tensor.Name() or b"").decode("utf-8", "replace")[:80] or f"#{index}"
    where = f"tensor {index} ({name!r})"
    if tensor.Type() not in _DTYPES:
        type_name = _TYPE_NAMES.get(tensor.Type(), str(tensor.Type()))
        raise ModelFileError(f"{where}: tensor type {type_name} is not supported")
    dtype = _DTYPES[tensor.Type()]
    shape = _read_shape(tensor, where)
    if tensor.Sparsity() is not None:
        raise ModelFileError(f"{where}: sparse tensors are not supported")
    quant = _read_quantization(tensor.Quantization(), shape, where)
    if dtype == "int8" and quant is None:
        raise ModelFileError(f"{where}: int8 tensor has no quantization parameters")
    if not 0 <= tensor.Buffer() < len(buffers):
        raise ModelFileError(f"{where}: buffer index {tensor.Buffer()} out of range "
                             f"[0, {len(buffers)})")
    return Tensor(name, shape, dtype, quant, _constant_data(buffers[tensor.Buffer()], shape,
                                                             dtype, where))


def _read_shape(tensor, where: str) -> tuple[int, ...]:
    rank = tensor.ShapeLength()
    if rank > MAX_RANK:
        raise ModelFileError(f"{where}: rank {rank} exceeds {MAX_RANK}")
    shape = tuple(int(d) for d in tensor.ShapeAsNumpy()) if rank else ()
    if any(d < 1 or d > MAX_DIMENSION for d in shape):
        raise ModelFileError(f"{where}: shape {list(shape)} has a dimension outside "
                             f"[1, {MAX_DIMENSION}]")
    if int(np.prod(shape, dtype=object)) > MAX_TENSOR_ELEMENTS:
        raise ModelFileError(f"{where}: shape {list(shape)} exceeds {MAX_TENSOR_ELEMENTS} "
                             f"elements")
    return shape


def _read_quantization(q, shape: tuple[int, ...], where: str) -> QuantParams | None:
    # Like TFLite Micro, a tensor counts as quantized only with both scales and zero points.
    if q is None or q.ScaleLength() == 0 or q.ZeroPointLength() == 0:
        return None
    n_scales = q.ScaleLength()
    if n_scales > MAX_DIMENSION:
        raise ModelFileError(f"{where}: {n_scales} quantization scales")
    scales = np.array(q.ScaleAsNumpy(), dtype=np.float32)
    zero_points = np.array(q.ZeroPointAsNumpy(), dtype=np.int64)
    if len(zero_points) not in (1, n_scales):
        raise ModelFileError(f"{where}: {len(zero_points)} zero points for {n_scales} scales")
    if not np.all(np.isfinite(scales) & (scales > 0)):
        raise ModelFileError(f"{where}: quantization scales must be finite and positive")
    axis = q.QuantizedDimension()
    if n_scales > 1 and not (0 <= axis < len(shape) and shape[axis] == n_scales):
        raise ModelFileError(f"{where}: {n_scales} per-channel scales do not match dimension "
                             f"{axis} of shape {list(shape)}")
    zero_points = np.broadcast_to(zero_points, scales.shape).copy()
    return QuantParams(scales, zero_points, axis)


def _constant_data(buffer: memoryview, shape, dtype: str, where: str) -> np.ndarray | None:
    if len(buffer) == 0:
        return None
    element = np.dtype(dtype).newbyteorder("<")
    expected = int(np.prod(shape, dtype=np.int64)) * element.itemsize
    if len(buffer) != expected:
        raise ModelFileError(f"{where}: buffer holds {len(buffer)} bytes, shape {list(shape)} "
                             f"of {dtype} needs {expected}")
    array = np.frombuffer(buffer, dtype=element).astype(dtype).reshape(shape)
    array.flags.writeable = False
    return array


def _read_op(operator, index: int, opcodes: list[str], n_tensors: int, data: bytes) -> Op:
    if not 0 <= operator.OpcodeIndex() < len(opcodes):
        raise ModelFileError(f"node {index}: opcode index {operator.OpcodeIndex()} out of range "
                             f"[0, {len(opcodes)})")
    opcode = opcodes[operator.OpcodeIndex()]
    where = f"{opcode} (node {index})"
    _length(operator.InputsLength() + operator.OutputsLength(), 4, data, f"{where} tensors")
    inputs = _indices(operator.InputsAsNumpy(), n_tensors, f"{where} input", optional=True)
    outputs = _indices(operator.OutputsAsNumpy(), n_tensors, f"{where} output")
    return Op(opcode, inputs, outputs, _read_options(operator, opcode, where))


def _indices(vector, n_tensors: int, what: str, optional: bool = False) -> tuple[int, ...]:
    if isinstance(vector, int):  # the schema module returns 0 for an absent vector
        return ()
    lowest = -1 if optional else 0
    indices = tuple(int(i) for i in vector)
    for i in indices:
        if not lowest <= i < n_tensors:
            raise ModelFileError(f"{what} tensor index {i} out of range [{lowest}, {n_tensors})")
    return indices


def _read_options(operator, opcode: str, where: str) -> dict:
    if opcode not in _OPTIONS:
        return {}
    table_class, tag, fields = _OPTIONS[opcode]
    table = operator.BuiltinOptions()
    if operator.BuiltinOptionsType() != tag or table is None:
        raise ModelFileError(f"{where}: builtin options missing or of the wrong type "
                             f"(union tag {operator.BuiltinOptionsType()})")
    options = table_class()
    options.Init(table.Bytes, table.Pos)
    return {_snake_case(name): getattr(options, name)() for name in fields}


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
