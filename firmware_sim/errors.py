"""Errors raised by firmware_sim. Each message is one line that names what was received."""
from lenet_edge.errors import LenetEdgeError


class ModelFileError(LenetEdgeError):
    """A .tflite file that is malformed, or that TFLite Micro's prepare step would refuse."""


class UnsupportedOpError(ModelFileError):
    """A well-formed model that uses an operator (or operator variant) firmware_sim does not run."""


class InputError(LenetEdgeError):
    """Input arrays that do not fit the model's input tensors (dtype or shape)."""
