"""Keras -> .tflite. Full-integer int8 for microcontrollers; every converter flag is set in
_configure_int8.

>>> tflite = to_int8_tflite(model, x_train[:100])     # doctest: +SKIP
>>> op_names(tflite)                                    # doctest: +SKIP
['CONV_2D', 'TANH', 'DEPTHWISE_CONV_2D', ...]
"""
import lenet_edge  # noqa: F401  (first: selects Keras 2 before TensorFlow loads)

import numpy as np
import tensorflow as tf
from ai_edge_litert import schema_py_generated as schema

from lenet_edge.errors import ModelError, UsageError

_BUILTIN_NAMES = {code: name for name, code in vars(schema.BuiltinOperator).items()
                  if not name.startswith("_")}


def to_int8_tflite(model, representative, num_calibration=500):
    """The model as a full-integer .tflite flatbuffer (bytes).

    Args:
      model: a float or quantization-aware keras.Model with one input.
      representative: float inputs in the model's convention, shape (N, *model input shape);
        the first `num_calibration` calibrate the activation ranges.
    Raises:
      ModelError: wrong representative shape, or the converter failed.
      UsageError: num_calibration < 1.
    """
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

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    _configure_int8(converter, calibration)
    try:
        return bytes(converter.convert())
    except Exception as error:  # the converter raises several unrelated types
        raise ModelError(f"int8 conversion of {model.name!r} failed: {error}") from error


def _configure_int8(converter, calibration):
    # int8 weights and activations calibrated on `calibration`, int8 input and output tensors,
    # and builtin int8 kernels only (conversion fails rather than fall back to float or custom
    # ops), so the model runs on TFLite Micro as is.
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = calibration
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8


def op_names(tflite_bytes):
    """The operators of every subgraph in execution order: builtin names, or a custom op's code."""
    model = schema.Model.GetRootAs(tflite_bytes, 0)
    names = []
    for s in range(model.SubgraphsLength()):
        subgraph = model.Subgraphs(s)
        for o in range(subgraph.OperatorsLength()):
            names.append(_op_name(model.OperatorCodes(subgraph.Operators(o).OpcodeIndex())))
    return names


def _op_name(opcode):
    # Codes above 127 live only in builtin_code; deprecated_builtin_code holds min(code, 127).
    code = max(opcode.BuiltinCode(), opcode.DeprecatedBuiltinCode())
    if code == schema.BuiltinOperator.CUSTOM:
        return opcode.CustomCode().decode()
    return _BUILTIN_NAMES[code]
