"""A run's training epochs as one tf.data pipeline, so that one `model.fit` call trains them all.

Epoch e's order and distortions come from a numpy Generator seeded by (seed, e), and the epoch's
last batch may be short: a resumed run (first > 0) sees exactly the batches an uninterrupted one
would have. Each epoch's arrays are made by one numpy call when its first batch is asked for,
and sliced into batches inside tf.data, prefetched ahead of the step: the next epoch's arrays may
be made while the loop's epoch-end work runs (they depend on the seed alone, not on the weights).
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from lenet_edge.train.batches import RunData, targets


def epoch_rng(seed: int, epoch: int) -> np.random.Generator:
    return np.random.default_rng([seed, epoch])


def steps_per_epoch(data: RunData, batch_size: int) -> int:
    return -(-len(data.y_train) // batch_size)


def epoch_batches(data: RunData, seed: int, batch_size: int, first: int, last: int) -> tf.data.Dataset:
    """The batches of epochs first .. last-1, back to back, for model.fit(steps_per_epoch=...)."""
    x_like, y_like = data.x_train[:1], targets(data.y_train[:1], data.loss)

    def arrays(epoch):
        return data.training_epoch(epoch_rng(seed, int(epoch)))

    def epoch_dataset(epoch):
        x, y = tf.numpy_function(arrays, [epoch], (x_like.dtype, y_like.dtype), stateful=False)
        x.set_shape((None, *x_like.shape[1:]))
        y.set_shape((None, *y_like.shape[1:]))
        return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)

    # prefetched as Keras' own adapter for arrays does, so that slicing the next batch overlaps the step
    return tf.data.Dataset.range(first, last).flat_map(epoch_dataset).prefetch(tf.data.AUTOTUNE)
