"""The converted model against its Keras model on the test set, both run in float or int8 as
converted: test error of each and how often they predict the same digit.

LiteRT runs a batch per invoke when the model's input has a free batch dimension (the converter
writes -1 there for Keras models), else one digit per invoke.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from lenet_edge._quiet_tf import native_logs_silenced

BATCH = 500


@dataclass(frozen=True)
class Verification:
    digits: int
    keras_errors: int
    tflite_errors: int
    agreements: int  # digits where Keras and the .tflite predict the same class
    batch: int  # digits per LiteRT invoke

    @property
    def keras_error(self) -> float:
        return self.keras_errors / self.digits

    @property
    def tflite_error(self) -> float:
        return self.tflite_errors / self.digits

    @property
    def agreement(self) -> float:
        return self.agreements / self.digits

    def as_dict(self) -> dict:
        return {**asdict(self), "keras_test_error": self.keras_error,
                "tflite_test_error": self.tflite_error, "agreement_rate": self.agreement}


def verify(tflite_bytes: bytes, model, x: np.ndarray, labels: np.ndarray) -> Verification:
    """Predictions of the .tflite and of the Keras model on inputs x (model convention)."""
    keras_predicted = np.argmax(model.predict(x, batch_size=1024, verbose=0), axis=-1)
    outputs, batch = run_tflite(tflite_bytes, x)
    predicted = np.argmax(outputs, axis=-1)
    return Verification(len(labels), int(np.sum(keras_predicted != labels)),
                        int(np.sum(predicted != labels)), int(np.sum(predicted == keras_predicted)),
                        batch)


def run_tflite(tflite_bytes: bytes, x: np.ndarray, batch: int = BATCH) -> tuple[np.ndarray, int]:
    """(raw outputs, digits per invoke) of the .tflite over float inputs x, quantized as needed.

    int8 outputs stay int8: their argmax is the argmax of the dequantized scores (scale > 0).
    """
    with native_logs_silenced():  # the XNNPACK delegate's INFO line comes with the allocation
        interpreter = Interpreter(model_content=tflite_bytes)
        [source], [target] = interpreter.get_input_details(), interpreter.get_output_details()
        x = quantize(x, source)
        batch = _allocate(interpreter, source, batch)
    outputs = []
    for start in range(0, len(x), batch):
        chunk = x[start:start + batch]
        # The last chunk is padded to the allocated batch; its padding rows are dropped below.
        padded = np.concatenate([chunk, np.zeros((batch - len(chunk), *chunk.shape[1:]), chunk.dtype)])
        interpreter.set_tensor(source["index"], padded)
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(target["index"])[:len(chunk)])
    return np.concatenate(outputs), batch


def quantize(x: np.ndarray, detail: dict) -> np.ndarray:
    """x in the input tensor's type: q = round(x / scale) + zero_point for an int8 input."""
    if detail["dtype"] != np.int8:
        return x.astype(detail["dtype"])
    scale, zero_point = detail["quantization"]
    return np.clip(np.round(x / scale) + zero_point, -128, 127).astype(np.int8)


def _allocate(interpreter: Interpreter, detail: dict, batch: int) -> int:
    """Allocate for `batch` digits per invoke if the model allows a batch, else for one."""
    if detail["shape_signature"][0] == -1:
        try:
            interpreter.resize_tensor_input(detail["index"], [batch, *detail["shape"][1:]])
            interpreter.allocate_tensors()
            return batch
        except (RuntimeError, ValueError):  # an op with a fixed batch of 1 refuses the resize
            pass
    interpreter.resize_tensor_input(detail["index"], [1, *detail["shape"][1:]])
    interpreter.allocate_tensors()
    return 1
