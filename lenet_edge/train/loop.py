"""Training: fit a zoo model epoch by epoch, checkpoint after each, resume a killed run.

One model.fit call trains all the epochs still to do (initial_epoch on resume): their batches
come from epochs.epoch_batches (each epoch's shuffle and distortions seeded by (seed, epoch), so a
resumed run sees exactly the batches an uninterrupted one would have seen), and the per-epoch
work (learning rate, test error, checkpoint, metrics) is the EpochWork callback's.
"""
from __future__ import annotations

import contextlib
import dataclasses
import time
import weakref
from pathlib import Path

import numpy as np
import tensorflow as tf
import tf_keras as keras

from lenet_edge import run as runs
from lenet_edge.errors import RunError, UsageError
from lenet_edge.models import registry
from lenet_edge.train import epochs
from lenet_edge.train.batches import RunData, check_data, load_run_data
from lenet_edge.train.progress import BatchProgress, make_progress

OPTIMIZERS = {
    "adam": keras.optimizers.Adam,
    "sgd": keras.optimizers.SGD,
    "momentum": lambda **kw: keras.optimizers.SGD(momentum=0.9, nesterov=True, **kw),
    "rmsprop": keras.optimizers.RMSprop,
}


CANDIDATES = "candidates.npz"  # the reader's labelled cuts a run trains on, kept beside its checkpoints

# What metrics.json's train_error is, said beside it: the error Keras counts during the epoch's fit,
# batch by batch while the weights move (free, where a second pass over the training digits was most
# of the loop's cost beyond model.fit); it runs above the error of the epoch's final weights.
TRAIN_ERROR_KIND = "running: Keras' in-fit error over the epoch's batches"


def recipe_config(model: str, **options) -> runs.RunConfig:
    """The RunConfig of the model's benchmarked recipe, with each option that is not None in its place."""
    recipe = dataclasses.asdict(registry.spec(model).recipe)
    return runs.RunConfig(model, **{**recipe, **{k: v for k, v in options.items() if v is not None}})


def validate(config: runs.RunConfig) -> None:
    registry.spec(config.model)
    if config.epochs < 1:
        raise UsageError(f"--epochs must be at least 1, got {config.epochs}")
    if config.optimizer not in OPTIMIZERS:
        raise UsageError(f"unknown optimizer {config.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
    if not config.learning_rate > 0 or not 0 < config.lr_decay <= 1:
        raise UsageError("--lr must be > 0 and --lr-decay in (0, 1]")
    if config.weight_decay < 0:
        raise UsageError(f"--weight-decay must be >= 0, got {config.weight_decay}")
    if config.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {config.batch_size}")
    for name, limit in (("--train-limit", config.train_limit), ("--test-limit", config.test_limit)):
        if limit is not None and limit < 1:
            raise UsageError(f"{name} must be at least 1, got {limit}")
    check_data(config)


def compile_model(model: keras.Model, config: runs.RunConfig) -> None:
    spec = registry.spec(config.model)
    if spec.loss == "mse":  # the 1989 net: tanh outputs regressed onto +-1 targets
        loss, accuracy = keras.losses.MeanSquaredError(), keras.metrics.CategoricalAccuracy("accuracy")
    else:
        # every cross-entropy model of the zoo ends in a softmax
        loss = keras.losses.SparseCategoricalCrossentropy()
        accuracy = keras.metrics.SparseCategoricalAccuracy("accuracy")
    decay = {"weight_decay": config.weight_decay} if config.weight_decay else {}
    optimizer = OPTIMIZERS[config.optimizer](learning_rate=config.learning_rate, **decay)
    model.compile(optimizer=optimizer, loss=loss, metrics=[accuracy])


# One traced forward pass per model, kept while the model lives: model.predict builds a new data
# adapter at every call, and for LeNet-5's 10,000 test digits after each epoch that was 0.7 s of a
# 0.3 s forward pass (benchmarks/train_overhead.py)
_FORWARD: "weakref.WeakKeyDictionary[keras.Model, tf.types.experimental.GenericFunction]" = weakref.WeakKeyDictionary()
ERROR_BATCH = 2500  # the fastest of 256..10,000 on 2 cores


def _forward(model: keras.Model):
    if model not in _FORWARD:
        held = weakref.ref(model)  # the function must not keep its model alive
        _FORWARD[model] = tf.function(lambda x: tf.argmax(held()(x, training=False), axis=-1),
                                      reduce_retracing=True)
    return _FORWARD[model]


def error_rate(model: keras.Model, x: np.ndarray, labels: np.ndarray) -> float:
    forward = _forward(model)
    predicted = np.concatenate([forward(x[i:i + ERROR_BATCH]).numpy() for i in range(0, len(x), ERROR_BATCH)])
    return float(np.mean(predicted != labels))


def train(folder: Path, config: runs.RunConfig | None = None, resume: bool = False,
          data_dir: Path | None = None, progress: bool = True) -> list[dict]:
    """Train into folder until config.epochs; with resume, continue from the last checkpoint."""
    folder = Path(folder)
    config, model, metrics = _start(folder, config, resume)
    data = load_run_data(config, data_dir, folder / CANDIDATES)
    keras.utils.set_random_seed(config.seed + len(metrics))
    first, steps = len(metrics), epochs.steps_per_epoch(data, config.batch_size)
    if first < config.epochs:
        bar = make_progress() if progress else contextlib.nullcontext()
        callbacks = [EpochWork(folder, config, data, metrics)]
        if progress:
            callbacks.append(BatchProgress(bar, lambda e: f"epoch {e + 1}/{config.epochs}", steps))
        with bar:
            # one call for all the epochs: a fit per epoch paid a new data adapter each time
            model.fit(epochs.epoch_batches(data, config.seed, config.batch_size, first, config.epochs),
                      epochs=config.epochs, initial_epoch=first, steps_per_epoch=steps, verbose=0,
                      callbacks=callbacks)
    runs.save_model(model, folder / runs.MODEL)
    return metrics


def _start(folder: Path, config: runs.RunConfig | None, resume: bool):
    """The config, model and metrics to continue from: a fresh run, or the last checkpoint."""
    if resume:
        stored = runs.read_config(folder)
        config = stored if config is None else _extend(stored, config)
        metrics = runs.read_metrics(folder)
        if not metrics:
            return config, _fresh_model(config), []
        model = runs.load_model(folder, runs.CHECKPOINT.format(epoch=len(metrics)))
        return config, model, metrics
    if config is None:
        raise UsageError("a new run needs a configuration")
    if (folder / runs.CONFIG).exists():
        raise RunError(f"{folder} already holds a run; pass --resume to continue it or choose another --out")
    validate(config)
    folder.mkdir(parents=True, exist_ok=True)
    runs.write_json(folder / runs.CONFIG, config.__dict__)
    return config, _fresh_model(config), []


def _extend(stored: runs.RunConfig, asked: runs.RunConfig) -> runs.RunConfig:
    """A resumed run keeps its recipe; only the target epoch may change."""
    if asked.model != stored.model:
        raise RunError(f"the run was started with --model {stored.model}, not {asked.model}")
    return dataclasses.replace(stored, epochs=asked.epochs)


def _fresh_model(config: runs.RunConfig) -> keras.Model:
    keras.utils.set_random_seed(config.seed)
    model = registry.build(config.model, seed=config.seed)
    if config.source is not None:
        _start_from(model, Path(config.source))
    compile_model(model, config)
    return model


def _start_from(model: keras.Model, source: Path) -> None:
    """Copy a finished run's trained weights into the same-named layers (lenet5-reader from a
    LeNet-5 run: every trainable layer is LeNet-5's; the fixed RBF codes are its own)."""
    trained = {layer.name: layer for layer in runs.load_model(source).layers}
    for layer in model.layers:
        if layer.trainable_weights:
            if layer.name not in trained or [w.shape for w in trained[layer.name].weights] != \
                    [w.shape for w in layer.weights]:
                raise UsageError(f"--from {source}: its model has no layer {layer.name} of this shape")
            layer.set_weights(trained[layer.name].get_weights())


class ScheduledEpochs(keras.callbacks.Callback):
    """Each epoch of one fit at its own learning rate, timed from its start: rate(epoch) is the
    subclass's (the training loop's EpochWork, the pruning retrainer's)."""

    def rate(self, epoch: int) -> float:
        raise NotImplementedError

    def on_epoch_begin(self, epoch, logs=None):
        keras.backend.set_value(self.model.optimizer.learning_rate, self.rate(epoch))
        self.start = time.perf_counter()


class EpochWork(ScheduledEpochs):
    """The loop's work around each epoch of the one fit: the epoch's learning rate before it; after
    it, the test error, the metrics.json entry and the checkpoint."""

    def __init__(self, folder: Path, config: runs.RunConfig, data: RunData, metrics: list[dict]):
        super().__init__()
        self.folder, self.config, self.data, self.metrics = folder, config, data, metrics

    def rate(self, epoch: int) -> float:
        return self.config.learning_rate * self.config.lr_decay ** epoch

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self.start
        self.metrics.append({
            "epoch": epoch + 1,
            "loss": float(logs["loss"]),
            "train_error": 1.0 - float(logs["accuracy"]),
            "train_error_kind": TRAIN_ERROR_KIND,
            "test_error": error_rate(self.model, self.data.x_test, self.data.y_test),
            "learning_rate": self.rate(epoch),
            "seconds": round(seconds, 3),  # model.fit's epoch alone
        })
        _checkpoint(self.folder, self.model, self.metrics, self.start)


def _checkpoint(folder: Path, model, metrics: list[dict], started: float) -> None:
    """Checkpoint first, then metrics, then drop the older checkpoint: a kill at any point
    leaves a metrics.json whose length names a checkpoint that exists."""
    epoch = len(metrics)
    runs.save_model(model, folder / runs.CHECKPOINT.format(epoch=epoch))
    # the whole epoch: fit, test error and checkpoint (what benchmarks/train_overhead.py compares)
    metrics[-1]["epoch_seconds"] = round(time.perf_counter() - started, 3)
    runs.write_json(folder / runs.METRICS, metrics)
    stale = folder / runs.CHECKPOINT.format(epoch=epoch - 1)
    if stale.exists():
        stale.unlink()
