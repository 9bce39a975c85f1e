"""Errors raised by firmware_sim. Each message is one line that names what was received.

FirmwareSimError is the base of every error firmware_sim raises (the emulator's here, the
firmware's in firmware_sim.firmware.errors, device profiles' in firmware_sim.fit.devices); the
lenet-edge CLI prints it as one line, as it does its own LenetEdgeError.
"""


class FirmwareSimError(Exception):
    """Base class: str(error) is a complete one-line message for the user."""


class ArgumentError(FirmwareSimError):
    """An argument value out of range (a count below 1, a rate that is not positive)."""


class ModelFileError(FirmwareSimError):
    """A .tflite file that is malformed, or that TFLite Micro's prepare step would refuse."""


class UnsupportedOpError(ModelFileError):
    """A well-formed model that uses an operator (or operator variant) firmware_sim does not run."""


class InputError(FirmwareSimError):
    """Input arrays that do not fit the model's input tensors (dtype or shape)."""
