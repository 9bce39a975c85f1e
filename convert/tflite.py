"""Keras -> .tflite in four modes; every converter flag is set in _configure.

    int8      full integer: int8 weights and activations calibrated on representative inputs,
              int8 input and output, builtin int8 kernels only (what TFLite Micro runs)
    float16   float16 weights, float32 compute
    dynamic   int8 weights, float activations quantized on the fly (dynamic range)
    float32   the float model as is

>>> tflite = to_int8_tflite(model, x_train[:100])     # doctest: +SKIP
>>> op_names(tflite)                                    # doctest: +SKIP
['CONV_2D', 'TANH', 'DEPTHWISE_CONV_2D', ...]
"""
import lenet_edge  # noqa: F401  (first: selects Keras 2 before TensorFlow loads)

import re
import warnings

import numpy as np
import tensorflow as tf

from convert import flatbuffer
from convert.flatbuffer import op_names  # noqa: F401  (part of this module's API)
from lenet_edge._quiet_tf import native_logs_silenced
from lenet_edge.errors import ModelError, UsageError

MODES = ("int8", "float16", "dynamic", "float32")


def to_int8_tflite(model, representative, num_calibration=500):
    """The model as a full-integer .tflite flatbuffer (bytes); see to_tflite."""
    return to_tflite(model, "int8", representative, num_calibration)


def to_tflite(model, mode="float32", representative=None, num_calibration=500):
    """The model as .tflite flatbuffer bytes in `mode` (one of MODES).

    Args:
      model: a float or quantization-aware keras.Model with one input.
      representative: int8 only: float inputs in the model's convention, shape
        (N, *model input shape); the first `num_calibration` calibrate the activation ranges.
    Raises:
      ModelError: wrong representative shape, the converter failed, or an int8 result that is
        not full-integer (a float tensor or a custom op left in it).
      UsageError: unknown mode, or num_calibration < 1.
    """
    if mode not in MODES:
        raise UsageError(f"unknown conversion mode {mode!r}; choose one of {', '.join(MODES)}")
    calibration = _calibration(model, representative, num_calibration) if mode == "int8" else None
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    _configure(converter, mode, calibration)
    try:
        with warnings.catch_warnings(), native_logs_silenced():
            # The converter warns that the (int8) input has no statistics: it needs none.
            warnings.simplefilter("ignore", UserWarning)
            result = bytes(converter.convert())
    except Exception as error:  # the converter raises several unrelated types
        raise ModelError(f"{mode} conversion of {model.name!r} failed: "
                         f"{_converter_problem(error)}") from error
    if mode == "int8":
        check_full_integer(result, model.name)
    return result


def _calibration(model, representative, num_calibration):
    if num_calibration < 1:
        raise UsageError(f"num_calibration must be at least 1; received {num_calibration}")
    expected = tuple(model.input_shape[1:])
    representative = np.asarray(representative, dtype=np.float32)
    if representative.ndim != len(expected) + 1 or representative.shape[1:] != expected:
        shape = ", ".join(map(str, expected))
        raise ModelError(f"representative inputs must have shape (N, {shape}); "
                         f"received {representative.shape}")
    samples = representative[:num_calibration]

    def calibration():
        for sample in samples:
            yield [sample[np.newaxis]]
    return calibration


def _configure(converter, mode, calibration):
    if mode == "float32":
        return
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif mode == "int8":
        # int8 tensors throughout and builtin int8 kernels only: conversion fails rather than
        # fall back to float or custom ops, so the model runs on TFLite Micro as is.
        converter.representative_dataset = calibration
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    # "dynamic": Optimize.DEFAULT without a representative dataset quantizes weights only.


def check_full_integer(tflite_bytes, name="model"):
    """ModelError naming the first custom op, else the first float tensor, of a model meant to
    be full int8 (custom first: no int8 recipe fixes a missing kernel)."""
    graph = flatbuffer.read(tflite_bytes)
    for index, op in enumerate(graph.ops):
        if op.custom:
            raise ModelError(f"int8 conversion of {name!r} left a custom op {op.name!r} "
                             f"(node {index}); TFLite Micro runs builtin ops only")
    for index, op in enumerate(graph.ops):
        for t in (*op.inputs, *op.outputs):
            if t >= 0 and graph.tensors[t].dtype.startswith("float"):
                raise ModelError(f"int8 conversion of {name!r} left {op.name} (node {index}) "
                                 f"with a {graph.tensors[t].dtype} tensor {graph.tensors[t].name!r}")


def _converter_problem(error):
    """One line out of the converter's multi-line MLIR diagnostics."""
    text = str(error)
    select = re.search(r"TF Select ops: (.+)", text)
    if select:  # names the TensorFlow ops that have no builtin TFLite kernel
        return f"no builtin TFLite op for TensorFlow op(s) {select.group(1).strip()}"
    found = re.search(r"error: (.+)", text)
    lines = [found.group(1)] if found else text.strip().splitlines() or [type(error).__name__]
    return lines[0].strip()[:300]
