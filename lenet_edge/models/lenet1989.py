"""The 1989 zip-code net (LeCun et al. 1989, Neural Computation), trained on USPS digits.

    input 16x16 (padded to 20x20) -> H1 12@8x8 -> H2 12@4x4 -> H3 30 -> output 10
                                     5x5 conv,    5x5 conv,    fully     fully
                                     stride 2     stride 2,    connected connected
                                                  8 of 12 maps

Kernels are shared over a map but every unit has its own bias (UnsharedBias). Units are tanh
and the net is trained with mean squared error on +-1 targets.
1,256 units, 64,660 connections, 9,760 free parameters (registry.count_*; asserted in the tests).
"""
import tf_keras as keras

from lenet_edge.models import layers

# The 16x16 digit arrives padded with -1 (background) by two pixels on each side, so that 5x5
# kernels at stride 2 give 8x8 (the data layer does the padding).
INPUT_SHAPE = (20, 20, 1)

# Each H2 map reads 8 of the 12 H1 maps; the paper does not say which. We use lecun1989-repro's
# block scheme: maps 0-3 read H1 0-7, maps 4-7 read H1 4-11, maps 8-11 read H1 0-3 and 8-11.
H2_TABLE = {
    **{out: tuple(range(0, 8)) for out in range(0, 4)},
    **{out: tuple(range(4, 12)) for out in range(4, 8)},
    **{out: (0, 1, 2, 3, 8, 9, 10, 11) for out in range(8, 12)},
}


def _unshared(x, conv):
    """A bias-free convolution, then one bias per unit, then tanh: one H layer of the paper."""
    x = conv(x)
    x = layers.UnsharedBias(name=f"{conv.name}_bias")(x)
    return keras.layers.Activation("tanh", name=f"{conv.name}_tanh")(x)


def build_lenet1989():
    """The zip-code net: H1 and H2 with unshared biases, H2 reading the table above."""
    image = keras.Input(INPUT_SHAPE, name="input")
    x = _unshared(image, keras.layers.Conv2D(
        12, 5, strides=2, use_bias=False, kernel_initializer=layers.paper_uniform(25), name="H1"
    ))  # 12@8x8
    # The paper does not say how H2's 8x8 input is extended so that 5x5 at stride 2 gives 4x4.
    # We use "same" zero padding (TensorFlow's rule: 1 row/column before, 2 after), which needs
    # no PAD op on the device. lecun1989-repro pads 2 before with -1, so its windows sit one
    # pixel further up and left. The -1 versus 0 border is no real difference: with unshared
    # biases it only adds to each unit a constant that the unit's own bias absorbs.
    x = _unshared(x, keras.layers.Conv2D(
        12, 5, strides=2, padding="same", use_bias=False,
        kernel_initializer=layers.paper_uniform(200),
        kernel_constraint=layers.ConnectionTableMask(H2_TABLE), name="H2",
    ))  # 12@4x4
    x = keras.layers.Flatten(name="H2_flat")(x)  # 192
    x = keras.layers.Dense(
        30, activation="tanh", kernel_initializer=layers.paper_uniform(192), name="H3"
    )(x)  # 30
    outputs = keras.layers.Dense(
        10, activation="tanh", kernel_initializer=layers.paper_uniform(30), name="output"
    )(x)  # 10, targets +-1
    return layers.apply_constraints(keras.Model(image, outputs, name="lenet1989"))
