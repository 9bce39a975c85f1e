"""The run folder: what a training run leaves on disk, and atomic writes into it.

A run folder holds
    config.json      the RunConfig it was started with
    metrics.json     one entry per finished epoch (loss, train and test error, seconds)
    checkpoint-E.keras  the model and optimizer state after epoch E, the last one in metrics.json
    model.keras      the final model, written once training reaches the requested epoch
    model.h5         instead of model.keras in a QAT run (stage "qat"): tfmot's wrappers reload
                     from .h5 (inside the quantize scopes), not from .keras
Every file is written to a temporary name in the same folder and renamed, so a killed run never
leaves a half-written file behind.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
from pathlib import Path
from typing import Any

from firmware_sim.emulator.files import atomic_write  # noqa: F401 (its one implementation)
from lenet_edge.errors import RunError

CONFIG = "config.json"
METRICS = "metrics.json"
CHECKPOINT = "checkpoint-{epoch}.keras"
MODEL = "model.keras"
QAT_MODEL = "model.h5"


@dataclasses.dataclass(frozen=True)
class RunConfig:
    model: str
    epochs: int
    seed: int = 0
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    lr_decay: float = 1.0  # learning rate of epoch e is learning_rate * lr_decay**e
    batch_size: int = 64
    distort: bool = False
    train_limit: int | None = None
    test_limit: int | None = None
    stage: str = "train"  # "train", "prune" or "qat": what made this run
    source: str | None = None  # the run folder a prune, qat or `train --from` run started from
    weight_decay: float = 0.0  # decoupled weight decay (AdamW-style), 0 for none
    candidate_strings: int = 0  # strings whose candidate cuts join the training digits (read/candidates.py)
    drawn_digits: bool = False  # also each training digit as the reader hands it (read/candidates.as_read)
    scans: bool = False  # half the drawn digits and cut strings seen through a scan (blur, pen width, noise)
    data: str | None = None  # the training digits: None for the model's dataset, or "mnist+usps" (train/batches.py)


def write_json(path: Path, value: Any) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(value, indent=2) + "\n"))


def save_model(model, path: Path) -> None:
    """Save a tf_keras model (with its optimizer state) atomically."""
    atomic_write(path, lambda tmp: model.save(tmp))


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise RunError(f"{path}: cannot be read as JSON ({exc})") from None


def read_config(folder: Path) -> RunConfig:
    folder = Path(folder)
    if not (folder / CONFIG).is_file():
        raise RunError(f"{folder} is not a lenet-edge run (no {CONFIG}); train one with `lenet-edge train`")
    fields = read_json(folder / CONFIG)
    try:
        return RunConfig(**fields)
    except TypeError as exc:
        raise RunError(f"{folder / CONFIG}: not a run configuration ({exc})") from None


def read_metrics(folder: Path) -> list[dict]:
    path = Path(folder) / METRICS
    return read_json(path) if path.exists() else []


def load_model(folder: Path, name: str | None = None):
    """Load a run's Keras model (default: model.h5 of a QAT run, else model.keras); a missing or
    corrupt file is a RunError naming it."""
    from lenet_edge.compress.masks import PruningMask
    from lenet_edge.models.layers import custom_objects
    import tf_keras as keras

    if name is None:
        name = QAT_MODEL if (Path(folder) / QAT_MODEL).is_file() else MODEL
    path = Path(folder) / name
    if not path.is_file():
        raise RunError(f"{folder} has no {name}: the run did not finish (resume it with --resume)")
    try:
        with _quantize_scopes() if path.suffix == ".h5" else contextlib.nullcontext():
            return keras.models.load_model(path, custom_objects={**custom_objects(), "PruningMask": PruningMask})
    except Exception as exc:  # Keras raises many types for a damaged archive
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunError(f"{path}: cannot be loaded as a Keras model ({first})") from None


@contextlib.contextmanager
def _quantize_scopes():
    """What a QAT model needs to reload: tfmot's wrappers, quantizers and the zoo's QuantizeConfigs."""
    from lenet_edge.compress import qat
    from lenet_edge.models import layers

    with layers.quantize_scope(), qat.qat_scope():
        yield
