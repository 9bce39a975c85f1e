"""Dead maps out of the graph (compress/shrink.py): the smaller model computes what the masked
one did, with exactly the maps that were alive."""
import lenet_edge  # noqa: F401  (first: selects Keras 2 before TensorFlow loads)

import numpy as np
import pytest
import tf_keras as keras

from lenet_edge.compress import masks, shrink
from lenet_edge.errors import ModelError
from lenet_edge.models import registry


def _killed(name: str, dead: dict):
    """The zoo model with the filters of the listed maps deleted whole."""
    model = registry.build(name)
    keep = masks.alive(model)
    for layer, maps in dead.items():
        keep[layer][..., maps] = False
    return masks.with_masks(model, keep)


def _maps(model) -> dict:
    return {layer.name: layer.output_shape[-1] for layer in model.layers[1:] if len(layer.output_shape) == 4}


def _same_function(before, after):
    x = np.random.default_rng(0).random((32, *before.input_shape[1:]), dtype=np.float32)
    np.testing.assert_allclose(after.predict(x, verbose=0), before.predict(x, verbose=0), atol=1e-6)


def test_lenet1_4x_loses_its_dead_maps_and_computes_the_same():
    before = _killed("lenet1-4x", {"H1": [0, 3, 5, 11], "H3": list(range(0, 36, 2))})
    after = shrink.shrink(before)
    assert _maps(after) == {"H1": 8, "H2": 8, "H3": 18, "H4": 18}
    assert after.get_layer("output").kernel.shape == (18 * 16, 10)
    _same_function(before, after)
    # the pruning masks and the connection table came along, renumbered
    assert isinstance(after.get_layer("H3").kernel_constraint, masks.PruningMask)
    assert masks.sparsity(after) == 0.0


def test_a_map_whose_every_input_is_removed_goes_too():
    # LeNet-1's H3 map 6 reads H2 map 2 alone (the paper's table): deleting H1 map 2 leaves it a constant
    before = _killed("lenet1", {"H1": [2]})
    after = shrink.shrink(before)
    assert _maps(after) == {"H1": 3, "H2": 3, "H3": 11, "H4": 11}
    _same_function(before, after)


def test_lenet5_keeps_the_f6_units_its_rbf_output_reads():
    before = _killed("lenet5", {"C1": [1, 4], "C5": list(range(0, 120, 3)), "F6": [0, 1]})
    after = shrink.shrink(before)
    assert _maps(after)["C1"] == 4 and _maps(after)["C5"] == 80
    assert after.get_layer("F6").units == 84  # the RBF output has no bias to take a constant
    _same_function(before, after)


def test_nothing_dead_is_the_model_itself():
    model = registry.build("lenet1")
    assert shrink.shrink(model) is model


def test_a_model_that_is_not_a_chain_is_refused():
    image = keras.Input((8, 8, 1))
    a = keras.layers.Conv2D(2, 3, name="a")(image)
    b = keras.layers.Conv2D(2, 3, name="b")(image)
    model = keras.Model(image, keras.layers.Add()([a, b]))
    with pytest.raises(ModelError, match="not a chain"):
        shrink.shrink(model)
