"""What a .tflite holds, read through the TFLite flatbuffer schema: ops, tensors, constants.

firmware_sim's reader builds a validated int8 IR for the emulator and refuses float16 tensors;
the model card describes every conversion mode (float16 included) of a file the converter has
just written, so it reads the few fields it needs here. with_metadata adds a named metadata
buffer (the model's interface, written by `lenet-edge convert`).

>>> op_names(tflite_bytes)                              # doctest: +SKIP
['CONV_2D', 'TANH', 'DEPTHWISE_CONV_2D', ...]
"""
from __future__ import annotations

from dataclasses import dataclass

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

_BUILTIN_NAMES = {code: name for name, code in vars(schema.BuiltinOperator).items()
                  if not name.startswith("_")}
_TYPE_NAMES = {code: name.lower() for name, code in vars(schema.TensorType).items()
               if not name.startswith("_")}


@dataclass(frozen=True)
class Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: str  # lower-case TFLite type name: "int8", "float16", "float32", ...
    scales: tuple[float, ...]  # empty when the tensor is not quantized
    zero_points: tuple[int, ...]
    data: np.ndarray | None  # the constant's stored values; None for activations


@dataclass(frozen=True)
class Op:
    name: str  # builtin name, or a custom op's code
    custom: bool
    inputs: tuple[int, ...]  # tensor indices; -1 marks an omitted optional input
    outputs: tuple[int, ...]


@dataclass(frozen=True)
class Flatbuffer:
    tensors: tuple[Tensor, ...]
    ops: tuple[Op, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


def op_names(tflite_bytes: bytes) -> list[str]:
    """The operators of every subgraph in execution order: builtin names, or a custom op's code."""
    model = schema.Model.GetRootAs(tflite_bytes, 0)
    return [_opcode(model, subgraph.Operators(o))[0]
            for subgraph in map(model.Subgraphs, range(model.SubgraphsLength()))
            for o in range(subgraph.OperatorsLength())]


def read(tflite_bytes: bytes) -> Flatbuffer:
    """The main subgraph of a converter-written file (trusted: no validation beyond the schema)."""
    model = schema.Model.GetRootAs(tflite_bytes, 0)
    subgraph = model.Subgraphs(0)
    tensors = tuple(_tensor(model, subgraph.Tensors(t)) for t in range(subgraph.TensorsLength()))
    ops = tuple(Op(*_opcode(model, op), tuple(map(int, op.InputsAsNumpy())),
                   tuple(map(int, op.OutputsAsNumpy())))
                for op in map(subgraph.Operators, range(subgraph.OperatorsLength())))
    return Flatbuffer(tensors, ops, tuple(map(int, subgraph.InputsAsNumpy())),
                      tuple(map(int, subgraph.OutputsAsNumpy())))


def _opcode(model, op) -> tuple[str, bool]:
    """(name, custom): the builtin name, or a custom op's code and True."""
    opcode = model.OperatorCodes(op.OpcodeIndex())
    # Codes above 127 live only in builtin_code; deprecated_builtin_code holds min(code, 127).
    code = max(opcode.BuiltinCode(), opcode.DeprecatedBuiltinCode())
    if code == schema.BuiltinOperator.CUSTOM:
        return opcode.CustomCode().decode(), True
    return _BUILTIN_NAMES[code], False


def _tensor(model, tensor) -> Tensor:
    dtype = _TYPE_NAMES[tensor.Type()]
    shape = tuple(int(d) for d in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
    quant = tensor.Quantization()
    scales = tuple(float(s) for s in quant.ScaleAsNumpy()) if quant and quant.ScaleLength() else ()
    zero_points = (tuple(int(z) for z in quant.ZeroPointAsNumpy())
                   if quant and quant.ZeroPointLength() else ())
    buffer = model.Buffers(tensor.Buffer())
    data = None
    if buffer.DataLength():  # converter output keeps small models' constants inside the flatbuffer
        data = buffer.DataAsNumpy().view(np.dtype(dtype).newbyteorder("<")).reshape(shape)
    return Tensor((tensor.Name() or b"").decode(), shape, dtype, scales, zero_points, data)


FILE_IDENTIFIER = b"TFL3"
BUFFER_ALIGNMENT = 16  # the schema's force_align on Buffer.data, as the converter lays it out


def with_metadata(tflite_bytes: bytes, name: str, value: bytes) -> bytes:
    """The model with metadata `name` holding `value` (a replaced entry if it had one): unpacked
    with the schema's object API, a Buffer and a Metadata appended, repacked as TFL3."""
    model = schema.ModelT.InitFromPackedBuf(tflite_bytes, 0)
    model.metadata = [m for m in model.metadata or [] if m.name != name.encode()]
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(value, np.uint8)
    model.buffers = [*(model.buffers or []), buffer]
    entry = schema.MetadataT()
    entry.name, entry.buffer = name.encode(), len(model.buffers) - 1
    model.metadata.append(entry)
    model.buffers = [_AlignedBuffer(b) for b in model.buffers]
    builder = flatbuffers.Builder(len(tflite_bytes) + len(value) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=FILE_IDENTIFIER)
    return bytes(builder.Output())


class _AlignedBuffer(schema.BufferT):
    """BufferT whose data vector starts on BUFFER_ALIGNMENT bytes, as the schema asks (the
    generated Pack aligns it to 1)."""

    def __init__(self, buffer):
        super().__init__()
        self.data, self.offset, self.size = buffer.data, buffer.offset, buffer.size

    def Pack(self, builder):
        data = None
        if self.data is not None:
            payload = np.asarray(self.data, np.uint8).tobytes()
            builder.StartVector(1, len(payload), BUFFER_ALIGNMENT)
            builder.head -= len(payload)
            builder.Bytes[builder.head:builder.head + len(payload)] = payload
            builder.vectorNumElems = len(payload)
            data = builder.EndVector()
        schema.BufferStart(builder)
        if data is not None:
            schema.BufferAddData(builder, data)
        schema.BufferAddOffset(builder, self.offset)
        schema.BufferAddSize(builder, self.size)
        return schema.BufferEnd(builder)
