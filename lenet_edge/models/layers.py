"""LeNet's building blocks, each in a form tfmot's QAT and the full-int8 TFLite converter accept.

Every paper idea lowers to a builtin TFLite op:

    connection table       Conv2D + ConnectionTableMask constraint      -> CONV_2D, zero weights
    trainable subsampling  subsampling(): tied 2x2/2 DepthwiseConv2D    -> DEPTHWISE_CONV_2D
    unshared biases        UnsharedBias                                 -> ADD of a constant
    scaled tanh            plain tanh, 1.7159 and 2/3 folded into weights -> TANH
    RBF output             RBFOutput, a frozen Dense (w.x - |w|^2/2)    -> FULLY_CONNECTED

Constraints act after each optimizer update; `apply_constraints` applies them once at build, so a
model satisfies its tables and ties from initialisation on.
"""
import math

import numpy as np
import tensorflow as tf
import tensorflow_model_optimization as tfmot
import tf_keras as keras

from lenet_edge.errors import ModelError

_register = keras.saving.register_keras_serializable(package="lenet_edge")


# ---------------------------------------------------------------------------------------------
# Initialisation and the scaled tanh

# LeNet-5 squashes with f(a) = A tanh(S a), A = 1.7159, S = 2/3. int8 TFLite has a builtin TANH
# (output fixed to [-1, 1) at scale 1/128) but no scaled form, so the models keep a plain tanh and
# fold both constants into the weights. Writing u = f(a) / A for what a unit's tanh returns:
#     a unit reading the image x:        u = tanh(S W x  + S b)
#     a unit reading squashed units A u': u = tanh(S A W u' + S b)
# so the Keras kernel is S W for the first layer and S A W after it, the Keras bias S b. The
# initialisers below apply these gains; RBFOutput, which reads f's output A u, holds A * code.
TANH_AMPLITUDE = 1.7159
TANH_SLOPE = 2.0 / 3.0
GAIN_FROM_INPUT = TANH_SLOPE
GAIN_FROM_SQUASHED = TANH_SLOPE * TANH_AMPLITUDE


def paper_uniform(fan_in, gain=1.0):
    """The papers' initialisation: uniform in +-2.4 / sqrt(F) for a unit with F inputs, times gain.

    The papers print 2.4 / F_i. Like lecun1989-repro we read it as 2.4 / sqrt(F_i): with 1 / F the
    summed input of a unit shrinks about sqrt(F)-fold per layer and the net starts far inside
    tanh's linear part. `gain` carries the folded scaled-tanh constants (GAIN_FROM_*).
    """
    limit = gain * 2.4 / math.sqrt(fan_in)
    return keras.initializers.RandomUniform(-limit, limit)


def apply_constraints(model):
    """Projects every constrained weight once (Keras applies constraints only after updates).

    Returns the model, so a builder can end with `return apply_constraints(keras.Model(...))`.
    """
    for weight in model.weights:
        if weight.constraint is not None:
            weight.assign(weight.constraint(weight))
    return model


# ---------------------------------------------------------------------------------------------
# Connection tables


@_register
class ConnectionTableMask(keras.constraints.Constraint):
    """Keeps a Conv2D kernel's unconnected weights at exactly zero.

    kernel <- kernel * mask, mask[..., i, o] = 1 when output map o reads input map i. A masked
    weight is not a parameter and not a connection (see registry.count_parameters).

    Args:
      table: mapping output map -> input maps it reads, for output maps 0..n-1 (keys may be
        strings, as after a JSON round trip).
    """

    def __init__(self, table):
        self.table = {
            int(out): tuple(sorted(int(i) for i in ins)) for out, ins in dict(table).items()
        }
        if sorted(self.table) != list(range(len(self.table))):
            raise ModelError(
                f"a connection table must list output maps 0..n-1; received {sorted(self.table)}"
            )

    def mask(self, shape):
        """The 0/1 mask for a kernel of shape (kh, kw, input maps, output maps)."""
        n_in, n_out = shape[-2], shape[-1]
        widest = max((i for ins in self.table.values() for i in ins), default=-1)
        if n_out != len(self.table) or widest >= n_in:
            raise ModelError(
                f"a table of {len(self.table)} output maps reading maps up to {widest} does not "
                f"fit a kernel of shape {tuple(shape)}"
            )
        links = np.zeros((n_in, n_out), np.float32)
        for out, ins in self.table.items():
            links[list(ins), out] = 1.0
        return np.broadcast_to(links, tuple(shape)).copy()

    def free_parameters(self, shape):
        return int(self.mask(shape).sum())

    def __call__(self, w):
        return w * tf.constant(self.mask(tuple(w.shape)), dtype=w.dtype)

    def get_config(self):
        return {"table": {str(out): list(ins) for out, ins in self.table.items()}}


# ---------------------------------------------------------------------------------------------
# Trainable subsampling (LeNet-1's H2/H4, LeNet-4's and LeNet-5's S2/S4)


@_register
class SharedCoefficient(keras.constraints.Constraint):
    """Ties each map's depthwise window to one value: the window then computes coefficient * sum.

    Every weight of a (kh, kw, maps, multiplier) kernel is replaced by its window's mean, so an
    update moves the shared coefficient by the mean of the window's gradients.
    """

    def __call__(self, w):
        return tf.broadcast_to(tf.reduce_mean(w, axis=(0, 1), keepdims=True), tf.shape(w))

    def free_parameters(self, shape):
        return int(np.prod(shape[2:]))


def subsampling(name, gain=1.0, maps_per_input=1):
    """LeNet's subsampling layer: tanh(c * (sum of a 2x2 window) + b), one c and b per map.

    The papers describe an average times a coefficient; sum times coefficient is the same family
    (c absorbs the 1/4). Realised as one 2x2 stride-2 DepthwiseConv2D with tied weights rather
    than AveragePooling2D plus a 1x1 scaling: one int8 op and one requantization instead of two.
    `maps_per_input` > 1 gives several subsampling maps per input map (LeNet-4's pairs).
    """
    return keras.layers.DepthwiseConv2D(
        2,
        strides=2,
        depth_multiplier=maps_per_input,
        activation="tanh",
        depthwise_initializer=paper_uniform(4, gain),
        depthwise_constraint=SharedCoefficient(),
        name=name,
    )


# ---------------------------------------------------------------------------------------------
# Unshared biases (the 1989 zip-code net)


@_register
class UnsharedBias(keras.layers.Layer):
    """Adds one trainable bias per unit: output = inputs + bias, bias of shape (H, W, C).

    The 1989 net shares each kernel over its map but gives every unit its own bias; a Conv2D
    without bias followed by this layer is that. It lowers to a builtin ADD of a constant.
    """

    def build(self, input_shape):
        self.bias = self.add_weight(
            name="bias", shape=tuple(input_shape[1:]), initializer="zeros", trainable=True
        )
        super().build(input_shape)

    def call(self, inputs):
        return inputs + self.bias

    def compute_output_shape(self, input_shape):
        return input_shape


# ---------------------------------------------------------------------------------------------
# The RBF output of LeNet-5

# Stylised 7x12 digits 0..9 in the manner of the 1998 paper's Fig. 3, our own drawing:
# '#' is +1 and '.' is -1. Each code has 84 entries of +-1, the size of F6.
DIGIT_BITMAPS = """
.#####. ...#... .#####. .#####. ....##. ####### ..####. ####### .#####. .#####.
##...## ..##... #.....# #.....# ...#.#. #...... .#..... ......# #.....# #.....#
#.....# .#.#... ......# ......# ..#..#. #...... #...... ......# #.....# #.....#
#.....# ...#... ......# ......# .#...#. #...... #...... .....#. #.....# #.....#
#.....# ...#... .....#. ......# #....#. ######. #...... .....#. #.....# #.....#
#.....# ...#... ....#.. ..####. #....#. ......# ######. ....#.. .#####. #.....#
#.....# ...#... ...#... ......# ####### ......# #.....# ....#.. #.....# .######
#.....# ...#... ..#.... ......# .....#. ......# #.....# ...#... #.....# ......#
#.....# ...#... .#..... ......# .....#. ......# #.....# ...#... #.....# ......#
#.....# ...#... #...... ......# .....#. ......# #.....# ..#.... #.....# ......#
##...## ...#... #...... #.....# .....#. #.....# #.....# ..#.... #.....# .....#.
.#####. .#####. ####### .#####. .....#. .#####. .#####. ..#.... .#####. .####..
"""


def digit_codes(classes=10):
    """The RBF codes as a (classes, 84) array of +-1, each bitmap read row by row. An 11th
    class, "not a digit", gets the blank bitmap (all -1): no stroke of any digit, the code
    at Hamming distance 18 (a 1 or a 7) to 34 (a 0) from the ten."""
    rows = [line.split() for line in DIGIT_BITMAPS.strip().splitlines()]
    bitmaps = [[row[digit] for row in rows] for digit in range(10)]
    codes = [[1.0 if c == "#" else -1.0 for c in "".join(b)] for b in bitmaps]
    return np.array(codes + [[-1.0] * len(codes[0])] * (classes - 10), np.float32)


@_register
class RBFOutput(keras.layers.Dense):
    """LeNet-5's output: one Euclidean RBF unit per digit, y_i = ||h - c_i||^2, fixed codes c_i.

    The smallest distance wins, and argmin_i ||h - c_i||^2 = argmax_i (c_i . h - |c_i|^2 / 2), a
    linear layer. F6's paper output is h = A u (A = TANH_AMPLITUDE, u what F6's tanh returns), so
    the kernel holds A * c_i and the bias -|c_i|^2 / 2 (= -42 for every code):
        score_i = c_i . h - |c_i|^2 / 2 = |h|^2 / 2 - y_i / 2.
    Kernel and bias are fixed, not trainable: the layer has 0 parameters, as in the paper.
    """

    def __init__(self, classes=10, **kwargs):
        self.classes = classes
        codes = digit_codes(classes)
        kwargs["trainable"] = False  # the codes are chosen, never learned
        super().__init__(
            units=len(codes),
            kernel_initializer=keras.initializers.Constant(TANH_AMPLITUDE * codes.T),
            bias_initializer=keras.initializers.Constant(-0.5 * (codes**2).sum(axis=1)),
            **kwargs,
        )

    def get_config(self):
        # Name, dtype and the class count: units, kernel and bias follow from DIGIT_BITMAPS.
        return {**keras.layers.Layer.get_config(self), "classes": self.classes}


# ---------------------------------------------------------------------------------------------
# What Keras and tfmot need to rebuild these models


def custom_objects():
    """The custom classes by name, for keras.models.load_model(custom_objects=...)."""
    return {
        cls.__name__: cls
        for cls in (ConnectionTableMask, SharedCoefficient, UnsharedBias, RBFOutput)
    }


def quantize_scope():
    """tfmot's quantize_scope with these classes registered (for quantize_apply and loading)."""
    return tfmot.quantization.keras.quantize_scope(custom_objects())
