"""LeNet-1 (LeCun et al., NIPS 1989; the "LeNet-1" of the 1998 comparison), 28x28 input.

    input 28x28 -> H1 4@24x24 -> H2 4@12x12 -> H3 12@8x8 -> H4 12@4x4 -> output 10
                   5x5 conv      2x2 trainable  5x5 conv,    2x2 trainable  fully
                                 subsampling    20 links     subsampling    connected

2,578 trainable parameters, 98,442 connections (registry.count_*; asserted in the tests).

Deviations from the paper:
- The output is a softmax trained with cross-entropy (the paper's units were squashed and
  trained with mean squared error); the hidden layers are tanh as in the paper.
"""
import tf_keras as keras

from lenet_edge.models import layers

INPUT_SHAPE = (28, 28, 1)

# The paper lists, per H2 map (1-based), the H3 maps it feeds:
#     H2.1 -> {1,2,3,5,6}  H2.2 -> {2,3,4,5,6}  H2.3 -> {7,8,9,11,12}  H2.4 -> {8,9,10,11,12}
# Transposed and 0-based: the H2 maps each H3 map reads. 20 of the 48 possible links,
# 20 x 25 + 12 = 512 parameters.
H3_TABLE = {
    0: (0,), 1: (0, 1), 2: (0, 1), 3: (1,), 4: (0, 1), 5: (0, 1),
    6: (2,), 7: (2, 3), 8: (2, 3), 9: (3,), 10: (2, 3), 11: (2, 3),
}


def build_lenet1():
    """LeNet-1 with the H3 table and trainable subsampling in H2 and H4."""
    image = keras.Input(INPUT_SHAPE, name="input")
    x = keras.layers.Conv2D(
        4, 5, activation="tanh", kernel_initializer=layers.paper_uniform(25), name="H1"
    )(image)  # 4@24x24
    x = layers.subsampling("H2")(x)  # 4@12x12
    # H3 units read 1 or 2 maps (fan-in 25 or 50); one init range, from the mean 20 * 25 / 12.
    x = keras.layers.Conv2D(
        12, 5, activation="tanh", kernel_initializer=layers.paper_uniform(42),
        kernel_constraint=layers.ConnectionTableMask(H3_TABLE), name="H3",
    )(x)  # 12@8x8
    x = layers.subsampling("H4")(x)  # 12@4x4
    x = keras.layers.Flatten(name="H4_flat")(x)  # 192
    probabilities = keras.layers.Dense(
        10, activation="softmax", kernel_initializer=layers.paper_uniform(192), name="output"
    )(x)  # 10
    return layers.apply_constraints(keras.Model(image, probabilities, name="lenet1"))
