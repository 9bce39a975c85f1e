"""A rich progress bar for Keras training, on stderr so that --json output stays clean."""
from __future__ import annotations

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
    )


class BatchProgress(keras.callbacks.Callback):
    """Advances one task per batch and shows the running loss and training error (Keras' running
    means over the epoch's batches so far, labelled so: not the error of the current weights)."""

    def __init__(self, progress: Progress, description: str, steps: int):
        super().__init__()
        self.progress = progress
        self.task = progress.add_task(description, total=steps, status="")

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        status = f"running loss {logs.get('loss', float('nan')):.4f}  error {100 * (1 - logs.get('accuracy', 1.0)):.2f}%"
        self.progress.update(self.task, advance=1, status=status)
