"""A rich progress bar for Keras training, on stderr so that --json output stays clean."""
from __future__ import annotations

import time
from typing import Callable

import tf_keras as keras
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


def make_progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
        auto_refresh=False,  # redrawn by BatchProgress: rich's refresh thread would contend with fit for the GIL
    )


class BatchProgress(keras.callbacks.Callback):
    """One task per epoch, advanced as batches end (redrawn at most every REFRESH seconds, by this
    callback: the bar has no refresh thread, which cost the first epoch of LeNet-5 10 s of 23) and
    showing the running loss and training error (Keras' running means over the epoch's batches so
    far, labelled so: not the error of the current weights). describe(epoch) names the task of
    fit's epoch index."""

    REFRESH = 1.0  # seconds between redraws: one costs about 4 ms on a terminal (benchmarks/progress_cost.py)

    def __init__(self, progress: Progress, describe: Callable[[int], str], steps: int):
        super().__init__()
        # Keras then passes the logs as tensors instead of copying them to numpy after every
        # batch (a wait for the device each step); they are read only when the bar is redrawn.
        self._supports_tf_logs = True
        self.progress = progress
        self.describe = describe
        self.steps = steps

    def on_epoch_begin(self, epoch, logs=None):
        self.task = self.progress.add_task(self.describe(epoch), total=self.steps, status="")
        self.shown = 0  # batches the bar shows
        self.last = 0.0

    def on_train_batch_end(self, batch, logs=None):
        now = time.monotonic()
        if batch + 1 < self.steps and now - self.last < self.REFRESH:
            return
        self.last = now
        logs = {k: float(v) for k, v in (logs or {}).items()}
        status = f"running loss {logs.get('loss', float('nan')):.4f}  error {100 * (1 - logs.get('accuracy', 1.0)):.2f}%"
        self.progress.update(self.task, advance=batch + 1 - self.shown, status=status, refresh=True)
        self.shown = batch + 1
