"""What the training progress bar costs an epoch: fit's batch hooks with and without BatchProgress.

    python benchmarks/progress_cost.py [--steps 1875] [--epoch-seconds 12]

Calls a Keras CallbackList's batch hooks `steps` times (one epoch of LeNet-5 at batch 32 by
default), as model.fit does between its steps: without the bar, with it but redrawn only at the
last batch, and redrawn after every batch (which gives the cost of one redraw). The bar's cost
an epoch is its hooks plus one redraw every BatchProgress.REFRESH seconds of the epoch. No
training runs: what is timed is the callbacks' Python alone, the bar drawn to stderr.
"""
from __future__ import annotations

import argparse
import time

import tensorflow as tf
import tf_keras as keras

from lenet_edge import markdown
from lenet_edge.train.progress import BatchProgress, make_progress


def hook_seconds(steps: int, refresh: float | None) -> float:
    """Seconds of `steps` batch-begin and batch-end hooks; refresh None: no progress bar."""
    model = keras.Sequential([keras.layers.Dense(1, input_shape=(1,))])
    logs = {"loss": tf.constant(0.5), "accuracy": tf.constant(0.9)}  # as fit passes them: tensors
    bar = make_progress()
    callbacks = []
    if refresh is not None:
        progress = BatchProgress(bar, lambda epoch: f"epoch {epoch + 1}", steps)
        progress.REFRESH = refresh
        callbacks.append(progress)
    hooks = keras.callbacks.CallbackList(callbacks, add_history=True, model=model, epochs=1, steps=steps)
    with bar:
        hooks.on_epoch_begin(0)
        start = time.perf_counter()
        for step in range(steps):
            hooks.on_train_batch_begin(step)
            hooks.on_train_batch_end(step + 1, logs)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1875)
    parser.add_argument("--epoch-seconds", type=float, default=12.0, help="the epoch the bar's redraws are spread over")
    args = parser.parse_args()
    plain = hook_seconds(args.steps, None)
    undrawn = hook_seconds(args.steps, float("inf"))  # redrawn once, at the epoch's last batch
    redraw = (hook_seconds(args.steps, 0.0) - undrawn) / (args.steps - 1)
    redraws = args.epoch_seconds / BatchProgress.REFRESH
    rows = [("no bar", f"{1e6 * plain / args.steps:.1f}", f"{plain:.3f}"),
            ("bar, its hooks", f"{1e6 * undrawn / args.steps:.1f}", f"{undrawn:.3f}"),
            (f"bar, one redraw ({1e3 * redraw:.2f} ms) every {BatchProgress.REFRESH} s of a "
             f"{args.epoch_seconds:g} s epoch", "", f"{undrawn + redraws * redraw:.3f}")]
    print("\n".join(markdown.table(("hooks", "us per batch", f"s per {args.steps}-batch epoch"), rows)))


if __name__ == "__main__":
    main()
