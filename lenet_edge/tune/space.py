"""The search space as data, and a trial's point in it as pipeline settings and as the
`lenet-edge pipeline` command that rebuilds it.

Pruning by maps (`--granularity map`) and pruning to a rate are budget-driven prune runs (QEMU
confirmations each), not a pipeline sparsity: the space prunes to a sparsity by OBD on weights.
"""
from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path

from lenet_edge.pipeline.stages import Budget, PipelineSettings, pipeline_budget


@dataclasses.dataclass(frozen=True)
class Space:
    models: tuple[str, ...]  # the zoo, lenet1-4x being the width between LeNet-1 and LeNet-4
    epochs: tuple[int, ...]
    distort: tuple[bool, ...]
    sparsity: tuple[float, ...]  # OBD's deleted fraction (prune refuses 0: every trial prunes)
    qat_epochs: tuple[int, ...]  # 0: no QAT
    train_limit: int | None  # --quick: a slice of MNIST's training digits
    quick: bool


FULL = Space(models=("lenet1", "lenet1-4x", "lenet4", "lenet5", "lenet5-modern"), epochs=(5, 10, 20),
             distort=(False, True), sparsity=(0.3, 0.5, 0.7, 0.8, 0.9, 0.95), qat_epochs=(0, 3),
             train_limit=None, quick=False)
# a first look: one or two epochs on 2,000 digits, one QAT epoch (trials of seconds, not minutes)
QUICK = Space(models=("lenet1", "lenet4", "lenet5", "lenet5-modern"), epochs=(1, 2), distort=(False,),
              sparsity=(0.3, 0.5, 0.8, 0.9), qat_epochs=(0, 1), train_limit=2000, quick=True)


def space(quick: bool) -> Space:
    return QUICK if quick else FULL


def param_space(s: Space) -> dict:
    """Ray Tune's param_space: one categorical a dimension (OptunaSearch's distributions)."""
    from ray import tune

    return {"model": tune.choice(list(s.models)), "epochs": tune.choice(list(s.epochs)),
            "distort": tune.choice(list(s.distort)), "sparsity": tune.choice(list(s.sparsity)),
            "qat_epochs": tune.choice(list(s.qat_epochs))}


def trial_budget(s: Space, config: dict, seed: int) -> Budget:
    base = Budget.quick() if s.quick else Budget()
    return pipeline_budget(base, epochs=config["epochs"], distort=config["distort"], train_limit=s.train_limit,
                           qat_epochs=config["qat_epochs"], seed=seed)


def trial_settings(s: Space, config: dict, device: str, seed: int, out: Path,
                   data_dir: Path | None = None) -> PipelineSettings:
    return PipelineSettings(config["model"], device, config["sparsity"], Path(out), trial_budget(s, config, seed),
                            data_dir=data_dir, progress=False)


def rebuild_command(s: Space, config: dict, device: str, seed: int, out: str = "DIR") -> str:
    """The `lenet-edge pipeline` command whose stages give this trial's numbers (and go on to
    the firmware and the report)."""
    words = ["lenet-edge", "pipeline", "--model", config["model"], "--device", device,
             "--sparsity", repr(config["sparsity"]), "--epochs", str(config["epochs"]),
             "--qat-epochs", str(config["qat_epochs"]), "--seed", str(seed)]
    if config["distort"]:
        words.append("--distort")
    if s.quick:
        words.append("--quick")
    if s.train_limit is not None:
        words += ["--train-limit", str(s.train_limit)]
    return shlex.join([*words, "--out", out])
