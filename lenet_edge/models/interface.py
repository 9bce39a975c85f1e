"""A zoo model's interface (firmware_sim.emulator.interface.ModelInterface) from its spec: the
input convention it trains with and what its output means, for `convert` to write into the
.tflite and for reading with a Keras run.

>>> model_interface(registry.spec("lenet1989")).output      # doctest: +SKIP
'codes'
"""
from firmware_sim.emulator.interface import ModelInterface, zoo_interface

# the training criterion -> the output kind: a cross-entropy model ends in a softmax; the MSE
# nets return tanh scores trained against +-1 codes
OUTPUT_OF_LOSS = {"crossentropy": "probabilities", "mse": "codes"}


def model_interface(spec) -> ModelInterface:
    """The interface of a registry.ModelSpec's model (ten digit classes, or eleven with "not a digit")."""
    return zoo_interface(spec.input_convention, OUTPUT_OF_LOSS[spec.loss], spec.classes)
