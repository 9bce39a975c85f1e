"""The zoo's listing as data, so `lenet-edge models` answers without building (or importing)
TensorFlow. The counts are what registry.count_parameters / count_connections give on the built
models; tests/test_models.py checks that they still do.
"""
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ModelInfo:
    name: str
    params: int
    connections: int
    input_shape: tuple[int, int, int]
    dataset: str
    description: str

    def as_dict(self):
        return {**asdict(self), "input_shape": list(self.input_shape)}


MODELS = {info.name: info for info in (
    ModelInfo("lenet1989", 9_760, 64_660, (20, 20, 1), "usps",
              "1989 zip-code net: H1, H2 (8 of 12 maps) with unshared biases, H3 30, 10 out"),
    ModelInfo("lenet1", 2_578, 98_442, (28, 28, 1), "mnist",
              "LeNet-1: 4 and 12 maps, trainable subsampling, H3 table"),
    ModelInfo("lenet1-4x", 10_714, 487_306, (28, 28, 1), "mnist",
              "LeNet-1's larger start: 12 and 36 maps, the H3 table scaled, for OBD down to 2,578"),
    ModelInfo("lenet4", 15_674, 245_138, (28, 28, 1), "mnist",
              "LeNet-4: 4 maps, 8 subsampling maps, 16 maps, 120 hidden"),
    ModelInfo("lenet5", 60_000, 340_908, (32, 32, 1), "mnist",
              "LeNet-5 (1998): C3 table, trainable subsampling, RBF output"),
    ModelInfo("lenet5-reader", 60_000, 340_992, (32, 32, 1), "mnist",
              "LeNet-5 with an 11th output, not a digit, trained on the reader's own cuts"),
    ModelInfo("lenet5-modern", 61_706, 429_342, (32, 32, 1), "mnist",
              "modern Keras LeNet-5: full C3, average pooling, dense softmax output"),
)}
