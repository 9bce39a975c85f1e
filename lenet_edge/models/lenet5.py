"""LeNet-5 (LeCun, Bottou, Bengio, Haffner 1998), and the common modern Keras variant.

The paper's Fig. 2:

    INPUT 32x32 -> C1 6@28x28 -> S2 6@14x14 -> C3 16@10x10 -> S4 16@5x5 -> C5 120 -> F6 84 -> OUTPUT
                  convolutions  subsampling   convolutions   subsampling  5x5 conv   full   10 RBF
                  5x5           2x2           5x5, table     2x2          (full)           Gaussian

60,000 trainable parameters, 340,908 connections (registry.count_*; asserted in the tests).

Deviations from the paper, each written where it is made:
- f(a) = 1.7159 tanh(2a/3) is a plain tanh with the constants folded into the weights (layers.py).
- The output is followed by a softmax, so the model returns class probabilities (see build_lenet5).
"""
import tf_keras as keras

from lenet_edge.models import layers

INPUT_SHAPE = (32, 32, 1)

# The paper's Table I (a column per C3 map, marking the S2 maps it reads) as C3 map -> S2 maps,
# 0-based. The first six read three neighbouring maps, the next six four neighbours, three read
# non-neighbouring fours and the last reads all six: 60 links, 60 x 25 + 16 = 1,516 parameters.
C3_TABLE = {
    0: (0, 1, 2), 1: (1, 2, 3), 2: (2, 3, 4), 3: (3, 4, 5), 4: (4, 5, 0), 5: (5, 0, 1),
    6: (0, 1, 2, 3), 7: (1, 2, 3, 4), 8: (2, 3, 4, 5), 9: (3, 4, 5, 0), 10: (4, 5, 0, 1),
    11: (5, 0, 1, 2),
    12: (0, 1, 3, 4), 13: (1, 2, 4, 5), 14: (0, 2, 3, 5),
    15: (0, 1, 2, 3, 4, 5),
}


def _conv(filters, name, fan_in, gain=layers.GAIN_FROM_SQUASHED, **kwargs):
    return keras.layers.Conv2D(
        filters, 5, activation="tanh", kernel_initializer=layers.paper_uniform(fan_in, gain),
        name=name, **kwargs,
    )


def build_lenet5():
    """The classic LeNet-5 with the C3 table, trainable subsampling and the RBF output."""
    return _lenet5("lenet5", classes=10)


def build_lenet5_reader():
    """LeNet-5 with an 11th RBF unit, "not a digit", for the reader's candidate cuts (the
    1998 paper's recognizer of its heuristic over-segmentation)."""
    return _lenet5("lenet5_reader", classes=11)


def _lenet5(name, classes):
    image = keras.Input(INPUT_SHAPE, name="INPUT")
    x = _conv(6, "C1", fan_in=25, gain=layers.GAIN_FROM_INPUT)(image)  # 6@28x28
    x = layers.subsampling("S2", gain=layers.GAIN_FROM_SQUASHED)(x)  # 6@14x14
    # C3 units read 3, 4 or 6 maps (fan-in 75, 100 or 150); one init range for the layer, from
    # the mean fan-in 60 * 25 / 16 = 94.
    x = _conv(16, "C3", fan_in=94, kernel_constraint=layers.ConnectionTableMask(C3_TABLE))(x)
    # x is 16@10x10
    x = layers.subsampling("S4", gain=layers.GAIN_FROM_SQUASHED)(x)  # 16@5x5
    x = _conv(120, "C5", fan_in=400)(x)  # 120@1x1: a convolution, fully connected at this size
    x = keras.layers.Flatten(name="C5_flat")(x)  # 120
    x = keras.layers.Dense(
        84, activation="tanh", name="F6",
        kernel_initializer=layers.paper_uniform(120, layers.GAIN_FROM_SQUASHED),
    )(x)  # 84
    scores = layers.RBFOutput(classes, name="OUTPUT")(x)  # 10 scores: -||h - code||^2 / 2 + const
    # Deviation: the paper trains on the RBF distances y_i with a MAP criterion,
    # y_correct + log(e^-j + sum_i e^-y_i). A softmax over the scores, exp(-y_i / 2) / sum,
    # is the same contrastive form (with y / 2 and without the constant j), so plain
    # cross-entropy trains it; argmax of the probabilities is still the nearest code.
    probabilities = keras.layers.Softmax(name="posterior")(scores)
    return layers.apply_constraints(keras.Model(image, probabilities, name=name))


def build_lenet5_modern():
    """The common modern "Keras LeNet-5": the classic net's diff is

    - C3 reads all six S2 maps (no table);
    - S2 and S4 are plain 2x2 average pooling (no coefficient, bias or squashing);
    - OUTPUT is a trainable Dense(10) with softmax instead of the RBF units;
    - plain tanh and Keras' default initialisers.
    61,706 trainable parameters.
    """
    image = keras.Input(INPUT_SHAPE, name="INPUT")
    x = keras.layers.Conv2D(6, 5, activation="tanh", name="C1")(image)  # 6@28x28
    x = keras.layers.AveragePooling2D(2, name="S2")(x)  # 6@14x14
    x = keras.layers.Conv2D(16, 5, activation="tanh", name="C3")(x)  # 16@10x10
    x = keras.layers.AveragePooling2D(2, name="S4")(x)  # 16@5x5
    x = keras.layers.Conv2D(120, 5, activation="tanh", name="C5")(x)  # 120@1x1
    x = keras.layers.Flatten(name="C5_flat")(x)  # 120
    x = keras.layers.Dense(84, activation="tanh", name="F6")(x)  # 84
    probabilities = keras.layers.Dense(10, activation="softmax", name="OUTPUT")(x)  # 10
    return keras.Model(image, probabilities, name="lenet5_modern")
