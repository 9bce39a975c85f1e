"""The search space as data, and a trial's point in it as pipeline settings and as the
`lenet-edge pipeline` command that rebuilds it.

A trial prunes by OBD to a sparsity (0: not at all) or, when the search has a rate, to that rate
(RATE: the pipeline's --digits-per-second, OBD by saliency per cost, confirmed on QEMU), deleting
weights or whole maps (the pipeline's --granularity; an unpruned trial has none).
"""
from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path

from lenet_edge.pipeline.stages import DEFAULT_MODEL, DEFAULT_SPARSITY, Budget, PipelineSettings, pipeline_budget

RATE = "rate"  # the sparsity choice that prunes to the search's rate instead
DIMENSIONS = ("model", "epochs", "distort", "sparsity", "granularity", "qat_epochs")  # a trial's config


@dataclasses.dataclass(frozen=True)
class Space:
    models: tuple[str, ...]  # the zoo, lenet1-4x being the width between LeNet-1 and LeNet-4
    epochs: tuple[int, ...]
    distort: tuple[bool, ...]
    sparsity: tuple  # OBD's deleted fraction (0: unpruned), and RATE when the search has a rate
    granularity: tuple[str, ...]  # OBD deletes weights, or whole maps
    qat_epochs: tuple[int, ...]  # 0: no QAT
    train_limit: int | None  # --quick: a slice of MNIST's training digits
    quick: bool
    rate: float | None = None  # the digits per second a RATE trial prunes to


FULL = Space(models=("lenet1", "lenet1-4x", "lenet4", "lenet5", "lenet5-modern"), epochs=(5, 10, 20),
             distort=(False, True), sparsity=(0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95), granularity=("weight", "map"),
             qat_epochs=(0, 3, 10),
             train_limit=None, quick=False)
# a first look: one or two epochs on 2,000 digits, one QAT epoch (trials of seconds, not minutes);
# by weights only: a map trial's bisections (a shrunk model each) cost more than its training
QUICK = Space(models=("lenet1", "lenet4", "lenet5", "lenet5-modern"), epochs=(1, 2), distort=(False,),
              sparsity=(0.0, 0.3, 0.5, 0.8, 0.9), granularity=("weight",), qat_epochs=(0, 1), train_limit=2000,
              quick=True)


def space(quick: bool, rate: float | None = None) -> Space:
    """The quick or full space; with a rate, pruning to it is one more sparsity choice."""
    base = QUICK if quick else FULL
    return base if rate is None else dataclasses.replace(base, sparsity=(*base.sparsity, RATE), rate=rate)


def start_points(s: Space) -> list[dict]:
    """Where a search starts, so that its front is never worse than the defaults: the point of
    `lenet-edge pipeline` with no flags but the device (each default taken to the space's nearest
    choice), then its neighbours: trained with the other distortion setting (the one new
    training, so it starts beside the default), one sparsity further (a prune of the default's
    training, trial.shared_stages), one QAT length longer (a QAT of the default's pruning), and
    the default's sparsity by maps."""
    base = Budget.quick() if s.quick else Budget()
    default = {"model": DEFAULT_MODEL, "epochs": _nearest(s.epochs, base.epochs), "distort": base.distort,
               "sparsity": _nearest([x for x in s.sparsity if x != RATE], DEFAULT_SPARSITY),
               "granularity": s.granularity[0], "qat_epochs": _nearest(s.qat_epochs, base.qat_epochs)}
    points = [default] + [{**default, "distort": d} for d in s.distort if d != default["distort"]]
    for key in ("sparsity", "qat_epochs"):
        further = [x for x in getattr(s, key) if x != RATE and x > default[key]]
        if further:
            points.append({**default, key: min(further)})
    return points + [{**default, "granularity": g} for g in s.granularity[1:]]


def _nearest(choices, value):
    return min(choices, key=lambda choice: abs(choice - value))


def param_space(s: Space) -> dict:
    """Ray Tune's param_space: one categorical a dimension (OptunaSearch's distributions)."""
    from ray import tune

    choices = {"model": s.models, "epochs": s.epochs, "distort": s.distort, "sparsity": s.sparsity,
               "granularity": s.granularity, "qat_epochs": s.qat_epochs}
    return {name: tune.choice(list(choices[name])) for name in DIMENSIONS}


def granularity(config: dict) -> str:
    """The trial's OBD granularity: weights when it prunes nothing (then maps would be the same trial)."""
    return "weight" if config["sparsity"] == 0 else config["granularity"]


def trial_budget(s: Space, config: dict, seed: int) -> Budget:
    base = Budget.quick() if s.quick else Budget()
    return pipeline_budget(base, epochs=config["epochs"], distort=config["distort"], train_limit=s.train_limit,
                           qat_epochs=config["qat_epochs"], seed=seed)


def trial_settings(s: Space, config: dict, device: str, seed: int, out: Path,
                   data_dir: Path | None = None) -> PipelineSettings:
    to_rate = config["sparsity"] == RATE
    return PipelineSettings(config["model"], device, DEFAULT_SPARSITY if to_rate else config["sparsity"], Path(out),
                            trial_budget(s, config, seed), digits_per_second=s.rate if to_rate else None,
                            data_dir=data_dir, progress=False, granularity=granularity(config))


def rebuild_command(s: Space, config: dict, device: str, seed: int, out: str = "DIR") -> str:
    """The `lenet-edge pipeline` command whose stages give this trial's numbers (and go on to
    the firmware and the report)."""
    target = (["--digits-per-second", repr(s.rate)] if config["sparsity"] == RATE
              else ["--sparsity", repr(config["sparsity"])])
    words = ["lenet-edge", "pipeline", "--model", config["model"], "--device", device, *target,
             "--epochs", str(config["epochs"]),
             "--qat-epochs", str(config["qat_epochs"]), "--seed", str(seed)]
    if config["distort"]:
        words.append("--distort")
    if granularity(config) != "weight":
        words += ["--granularity", granularity(config)]
    if s.quick:
        words.append("--quick")
    if s.train_limit is not None:
        words += ["--train-limit", str(s.train_limit)]
    return shlex.join([*words, "--out", out])
