"""The model card: model.json beside a .tflite, saying what is in the file and how well it reads.

    ops, and per layer (op) its tensors' shapes and types, parameter bytes and zero weights
    input/output scale and zero point, file size and SHA-256
    the source run, the conversion mode, test errors of Keras and of the file, agreement

Parameter bytes of a layer are the bytes of the constants it reads (weights, biases, shapes).
A float16 file widens its constants with DEQUANTIZE ops; their bytes are counted at the layer
that reads the widened tensor, so each layer's figure is comparable across modes.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from convert import flatbuffer
from convert.verify import Verification

# Ops whose second input is a weight matrix or filter: the weights a pruned model zeroes.
WEIGHTED_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"}


def card_path(tflite_path: Path) -> Path:
    return Path(tflite_path).with_suffix(".json")


def model_card(tflite_bytes: bytes, file_name: str, source: dict, verification: Verification) -> dict:
    """The card as a JSON-ready dict. source: run, model, stage, mode, quantization, calibration."""
    graph = flatbuffer.read(tflite_bytes)
    layers = [_layer(graph, op) for op in graph.ops if not _widens_constant(graph, op)]
    weights = sum(layer["weights"] for layer in layers)
    zeros = sum(layer["zero_weights"] for layer in layers)
    return {
        "file": file_name,
        "bytes": len(tflite_bytes),
        "sha256": hashlib.sha256(tflite_bytes).hexdigest(),
        **source,
        "input": _endpoint(graph.tensors[graph.inputs[0]]),
        "output": _endpoint(graph.tensors[graph.outputs[0]]),
        "ops": [op.name for op in graph.ops],
        "layers": layers,
        "parameter_bytes": sum(layer["parameter_bytes"] for layer in layers),
        "weights": weights,
        "zero_weight_fraction": zeros / weights if weights else 0.0,
        "verification": verification.as_dict(),
    }


def _endpoint(tensor: flatbuffer.Tensor) -> dict:
    quantized = bool(tensor.scales)
    return {**_describe(tensor), "scale": tensor.scales[0] if quantized else None,
            "zero_point": tensor.zero_points[0] if quantized else None}


def _describe(tensor: flatbuffer.Tensor) -> dict:
    return {"name": tensor.name, "shape": list(tensor.shape), "dtype": tensor.dtype}


def _layer(graph: flatbuffer.Flatbuffer, op: flatbuffer.Op) -> dict:
    constants = [_constant(graph, t) for t in op.inputs]
    weight = constants[1] if op.name in WEIGHTED_OPS and len(constants) > 1 else None
    return {
        "op": op.name,
        "inputs": [_describe(graph.tensors[t]) for t in op.inputs if t >= 0],
        "outputs": [_describe(graph.tensors[t]) for t in op.outputs],
        "parameter_bytes": sum(c.data.nbytes for c in constants if c is not None),
        "weights": 0 if weight is None else int(weight.data.size),
        # TFLite quantizes weights symmetrically (zero point 0): a stored 0 is a real zero.
        "zero_weights": 0 if weight is None else int((weight.data == 0).sum()),
    }


def _constant(graph: flatbuffer.Flatbuffer, index: int) -> flatbuffer.Tensor | None:
    """The constant behind input `index`: the tensor itself, or the float16 one a DEQUANTIZE widens."""
    if index < 0:
        return None
    if graph.tensors[index].data is not None:
        return graph.tensors[index]
    producer = next((op for op in graph.ops if index in op.outputs), None)
    if producer is not None and _widens_constant(graph, producer):
        return graph.tensors[producer.inputs[0]]
    return None


def _widens_constant(graph: flatbuffer.Flatbuffer, op: flatbuffer.Op) -> bool:
    return op.name == "DEQUANTIZE" and graph.tensors[op.inputs[0]].data is not None
