"""Quantization-aware training: tfmot's annotate/apply, with QuantizeConfigs for the paper layers.

Builtin layers (Conv2D with a ConnectionTableMask, the tied DepthwiseConv2D of subsampling,
Dense, Activation, Softmax, ...) take tfmot's default 8-bit configs. Three layer types get the
configs below, written to match what the int8 converter does with them:

- UnsharedBias becomes ADD(x, constant): the constant is quantized per tensor, the sum is an
  int8 activation, so the bias gets a last-value quantizer and the output a moving-average one.
- RBFOutput is a FULLY_CONNECTED: the same quantizers as tfmot's Dense (per-tensor symmetric
  kernel, activation quantized after it).
- AveragePooling2D (lenet5-modern) is builtin, but int8 AVERAGE_POOL_2D keeps its input's scale
  and zero point; tfmot's default gives the pool an output quantizer of its own, and the
  converter then adds a QUANTIZE (requantize) op after every pool. So the pool quantizes nothing.

To load a saved QAT model, import this module (it registers the configs) and use
`lenet_edge.models.layers.quantize_scope()` together with `qat_scope()`.
"""
import tensorflow_model_optimization as tfmot
import tf_keras as keras

from lenet_edge.models import layers

_quantizers = tfmot.quantization.keras.quantizers
_register = keras.saving.register_keras_serializable(package="lenet_edge")


def _activation_quantizer():
    return _quantizers.MovingAverageQuantizer(
        num_bits=8, per_axis=False, symmetric=False, narrow_range=False
    )


@_register
class UnsharedBiasQuantizeConfig(tfmot.quantization.keras.QuantizeConfig):
    """Fake-quantizes the bias tensor and the sum, as int8 ADD of a constant computes them."""

    def get_weights_and_quantizers(self, layer):
        bias_quantizer = _quantizers.LastValueQuantizer(
            num_bits=8, per_axis=False, symmetric=False, narrow_range=False
        )
        return [(layer.bias, bias_quantizer)]

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_weights(self, layer, quantize_weights):
        (layer.bias,) = quantize_weights

    def set_quantize_activations(self, layer, quantize_activations):
        pass  # UnsharedBias has no activation of its own

    def get_output_quantizers(self, layer):
        return [_activation_quantizer()]

    def get_config(self):
        return {}


@_register
class RBFOutputQuantizeConfig(tfmot.quantization.keras.QuantizeConfig):
    """tfmot's Dense recipe for the frozen RBF kernel (a FULLY_CONNECTED once converted)."""

    def get_weights_and_quantizers(self, layer):
        kernel_quantizer = _quantizers.LastValueQuantizer(
            num_bits=8, per_axis=False, symmetric=True, narrow_range=True
        )
        return [(layer.kernel, kernel_quantizer)]

    def get_activations_and_quantizers(self, layer):
        return [(layer.activation, _activation_quantizer())]

    def set_quantize_weights(self, layer, quantize_weights):
        (layer.kernel,) = quantize_weights

    def set_quantize_activations(self, layer, quantize_activations):
        (layer.activation,) = quantize_activations

    def get_output_quantizers(self, layer):
        return []

    def get_config(self):
        return {}


@_register
class AveragePoolingQuantizeConfig(tfmot.quantization.keras.QuantizeConfig):
    """Nothing to quantize: the pooled tensor keeps its input's quantization."""

    def get_weights_and_quantizers(self, layer):
        return []

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_weights(self, layer, quantize_weights):
        pass

    def set_quantize_activations(self, layer, quantize_activations):
        pass

    def get_output_quantizers(self, layer):
        return []

    def get_config(self):
        return {}


_CONFIGS = {
    layers.UnsharedBias: UnsharedBiasQuantizeConfig,
    layers.RBFOutput: RBFOutputQuantizeConfig,
    keras.layers.AveragePooling2D: AveragePoolingQuantizeConfig,
}


def qat_scope():
    """A custom-object scope with this module's QuantizeConfigs (for cloning and loading)."""
    return keras.utils.custom_object_scope({cls.__name__: cls for cls in _CONFIGS.values()})


def quantize_aware(model, prune_preserve=False):
    """A quantization-aware copy of `model` (tfmot annotate, then apply), weights carried over.

    prune_preserve: use tfmot's Default8BitPrunePreserveQuantizeScheme, which keeps zero
      weights at zero through QAT (weights pruned to zero, connection-table zeros).

    The returned model is not compiled; the input model is left unchanged.
    """
    scheme = (
        tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme()
        if prune_preserve
        else tfmot.quantization.keras.default_8bit.Default8BitQuantizeScheme()
    )
    with layers.quantize_scope(), qat_scope():
        annotated = keras.models.clone_model(model, clone_function=_annotate)
        return tfmot.quantization.keras.quantize_apply(annotated, scheme)


def _annotate(layer):
    # Wraps the layer itself (not a copy), so the annotated model shares the trained weights.
    config = _CONFIGS.get(type(layer))
    return tfmot.quantization.keras.quantize_annotate_layer(layer, config() if config else None)


# The quantizers of a layer's output (not a tanh's input, not a weight): tfmot starts them at
# [-6, 6] and moves them by a moving average of decay 0.999 a batch. LeNet-5's RBF scores lie
# near -67..-13 (a trained run), so at [-6, 6] every score clips to -6: a constant output, loss
# ln 10 and chance error, for the ~thousand batches the average takes to reach the real range.
_OUTPUT_RANGES = ("post_activation", "output")


def calibrate_output_ranges(quantized, float_model, x) -> None:
    """Start each output quantizer of `quantized` at the range its layer's float output has on x
    (widened to hold 0, as tfmot's own moving average does); the average then refines it."""
    wrappers = {layer.layer.name: layer for layer in quantized.layers if hasattr(layer, "layer")}
    names = [name for name in wrappers if _output_range_vars(wrappers[name])]
    if not names:
        return
    probe = keras.Model(float_model.input, [float_model.get_layer(name).output for name in names])
    outputs = probe.predict(x, batch_size=1024, verbose=0)
    for name, values in zip(names, outputs if len(names) > 1 else [outputs]):
        low, high = min(float(values.min()), 0.0), max(float(values.max()), 0.0)
        for var in _output_range_vars(wrappers[name]):
            var.assign(low if var.name.endswith("_min:0") else high)


def _output_range_vars(wrapper) -> list:
    ends = tuple(f"{r}_{bound}:0" for r in _OUTPUT_RANGES for bound in ("min", "max"))
    return [var for var in wrapper.weights if var.name.split("/")[-1] in ends]
