"""LeNet-1 (LeCun et al., NIPS 1989; the "LeNet-1" of the 1998 comparison), 28x28 input.

    input 28x28 -> H1 4@24x24 -> H2 4@12x12 -> H3 12@8x8 -> H4 12@4x4 -> output 10
                   5x5 conv      2x2 trainable  5x5 conv,    2x2 trainable  fully
                                 subsampling    20 links     subsampling    connected

2,578 trainable parameters, 98,442 connections (registry.count_*; asserted in the tests).

LeNet-1 "was started by a previous CNN with 4 times as many trainable parameters, then optimized
by Optimal Brain Damage" (the 1989 text). `lenet1-4x` is that larger start, as we build it: the
same layers with 3 times the maps (H1 12, H3 36) and the H3 table with each map of LeNet-1 made
3 (a link between two maps becomes 9 links): 10,714 parameters, 4.2 x 2,578.

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


# lenet1-4x: map m of LeNet-1 becomes maps 3m, 3m+1, 3m+2, each reading all copies of its inputs.
WIDTH_4X = 3
H3_TABLE_4X = {
    WIDTH_4X * h3 + copy: tuple(WIDTH_4X * h2 + c for h2 in reads for c in range(WIDTH_4X))
    for h3, reads in H3_TABLE.items() for copy in range(WIDTH_4X)
}


def build_lenet1():
    """LeNet-1 with the H3 table and trainable subsampling in H2 and H4."""
    return _build("lenet1", 1, H3_TABLE)


def build_lenet1_4x():
    """The larger net LeNet-1 was pruned from: 3 times the maps, the table scaled with them."""
    return _build("lenet1-4x", WIDTH_4X, H3_TABLE_4X)


def _build(name: str, width: int, h3_table: dict):
    image = keras.Input(INPUT_SHAPE, name="input")
    x = keras.layers.Conv2D(
        4 * width, 5, activation="tanh", kernel_initializer=layers.paper_uniform(25), name="H1"
    )(image)  # 4@24x24 (x width)
    x = layers.subsampling("H2")(x)  # 4@12x12
    # H3 units read 1 or 2 maps (fan-in 25 or 50, x width); one init range, from the mean fan-in.
    links = sum(len(reads) for reads in h3_table.values())
    x = keras.layers.Conv2D(
        12 * width, 5, activation="tanh", kernel_initializer=layers.paper_uniform(round(25 * links / len(h3_table))),
        kernel_constraint=layers.ConnectionTableMask(h3_table), name="H3",
    )(x)  # 12@8x8
    x = layers.subsampling("H4")(x)  # 12@4x4
    x = keras.layers.Flatten(name="H4_flat")(x)  # 192
    probabilities = keras.layers.Dense(
        10, activation="softmax", kernel_initializer=layers.paper_uniform(192 * width), name="output"
    )(x)  # 10
    return layers.apply_constraints(keras.Model(image, probabilities, name=name))
