"""Quantization-aware fine-tuning of a float or pruned run into a new run folder.

    fine_tune_qat("runs/lenet5-obd", "runs/lenet5-obd-qat", epochs=1)

The QAT model is qat.quantize_aware's; from a pruned run (stage "prune") it uses tfmot's
prune-preserving scheme, so deleted weights stay zero through QAT and int8 conversion. The new
run folder holds config.json (stage "qat", source = the run fine-tuned), metrics.json (one entry
per QAT epoch) and model.h5: tfmot's wrappers reload from .h5, not from .keras, and
run.load_model reads a QAT run's model.h5 inside the quantize scopes.

`lenet-edge train --qat` is train_then_qat: the float run trains into OUT/float (resumable like any
training run), then QAT fine-tunes it into OUT.
"""
from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

from lenet_edge import run as runs
from lenet_edge.compress import qat
from lenet_edge.compress.prune import Retrainer, final_learning_rate
from lenet_edge.errors import RunError, UsageError
from lenet_edge.train.batches import load_run_data
from lenet_edge.train.loop import train
from lenet_edge.train.progress import make_progress

CALIBRATION_DIGITS = 1000  # training digits whose float outputs set QAT's initial output ranges
FLOAT_RUN = "float"  # where train_then_qat trains the float model, inside its QAT run folder


def fine_tune_qat(source: Path, out: Path, epochs: int = 1, learning_rate: float | None = None,
                  data_dir: Path | None = None, progress: bool = True) -> list[dict]:
    """QAT fine-tunes the model of run `source` for `epochs` epochs into the new run folder `out`.

    learning_rate: None fine-tunes at the rate of the source run's last epoch.
    Returns the metrics, one entry per epoch (loss, train and test error of the fake-quantized model).
    """
    source, out = Path(source), Path(out)
    if (out / runs.CONFIG).exists():
        raise RunError(f"{out} already holds a run; choose another --out")
    return _fine_tune(source, out, epochs, learning_rate, data_dir, progress)


def _fine_tune(source, out, epochs, learning_rate, data_dir, progress) -> list[dict]:
    if epochs < 1:
        raise UsageError(f"--epochs must be at least 1, got {epochs}")
    config = runs.read_config(source)
    if config.stage == "qat":
        raise RunError(f"{source} is already a quantization-aware (qat) run")
    float_model = runs.load_model(source)
    model = qat.quantize_aware(float_model, prune_preserve=config.stage == "prune")
    config = dataclasses.replace(config, stage="qat", source=str(source), epochs=epochs,
                                 learning_rate=learning_rate or final_learning_rate(config), lr_decay=1.0)
    data = load_run_data(config, data_dir)
    # without it the first QAT epoch is spent at chance (loss ln 10): see qat.calibrate_output_ranges
    qat.calibrate_output_ranges(model, float_model, data.x_train[:CALIBRATION_DIGITS])
    bar = make_progress() if progress else None
    retrain = Retrainer(config, data, epochs, bar)
    with bar or contextlib.nullcontext():
        retrain(model)
    out.mkdir(parents=True, exist_ok=True)
    runs.write_json(out / runs.CONFIG, config.__dict__)
    runs.save_model(model, out / runs.QAT_MODEL)
    runs.write_json(out / runs.METRICS, retrain.metrics)
    return retrain.metrics


def train_then_qat(out: Path, config: runs.RunConfig, qat_epochs: int = 1, resume: bool = False,
                   data_dir: Path | None = None, progress: bool = True) -> list[dict]:
    """Trains `config` into out/float, then QAT fine-tunes it into `out`; returns the QAT metrics.

    resume continues the float run; a QAT stage that did not finish starts over.
    """
    out = Path(out)
    if not resume and (out / runs.CONFIG).exists():
        raise RunError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
    if resume and (out / runs.QAT_MODEL).is_file():
        return runs.read_metrics(out)
    train(out / FLOAT_RUN, config, resume=resume, data_dir=data_dir, progress=progress)
    return _fine_tune(out / FLOAT_RUN, out, qat_epochs, None, data_dir, progress)
