"""One trial: the pipeline's own stages in the trial's folder, and its numbers.

A trial runs train, prune, qat, int8, evaluate and check (STAGES: not the firmware, not the
report), so its error is the emulator's int8 test error and its speed and memory are `check`'s
calibrated cost model of the generated firmware on the device: the numbers `lenet-edge pipeline`
gives with the trial's settings (space.rebuild_command). A trial whose model cannot meet the
device's limits even with every prunable weight deleted (compress/budget.floor; by maps, the
maps removed too), or that prunes by maps to a sparsity the maps cannot reach, is hopeless: it
stops before training, reporting that floor. Trials that train alike (the same model, recipe and
seed) share one training, and those that also prune alike one pruning (shared_stages).
"""
from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
from pathlib import Path

from lenet_edge.compress import budget as budgets
from lenet_edge.errors import UsageError
from lenet_edge import run as runs
from lenet_edge.pipeline.stages import (STAGES_FILE, PipelineSettings, read_stages, recorded, run_pipeline,
                                        stage_train, train_config)

STAGES = ("train", "prune", "qat", "int8", "evaluate", "check")
OBJECTIVES = {"error": "min", "digits_per_second": "max", "ram_bytes": "min"}  # what the searcher ranks by
HOPELESS_ERROR = 1.0  # the error a hopeless trial reports to the searcher: every digit wrong
DONE = "done.json"  # in a shared training or pruning folder: made, for every trial after


def limits(device: str, digits_per_second: float | None, flash_bytes: int | None,
           ram_bytes: int | None) -> budgets.Budget:
    """The device's limits: the ones asked, the profile's flash and RAM for those not asked."""
    from firmware_sim.fit.devices.profile import load_profile

    profile = load_profile(device)
    target = budgets.Budget(device, digits_per_second, flash_bytes or profile.flash_bytes,
                            ram_bytes or profile.ram_bytes)
    target.validate()
    return target


def hopeless(settings: PipelineSettings, target: budgets.Budget) -> dict | None:
    """The floor's numbers and why, when no pruning of the model (by the trial's granularity)
    meets `target` or reaches the trial's sparsity; else None."""
    from lenet_edge.compress.prune import check_maps_reach
    from lenet_edge.train.batches import load_split

    model = budgets.untrained(settings.model)
    _, x, _ = load_split(settings.model, "train", budgets.CALIBRATION, settings.data_dir)
    by_maps = settings.granularity == "map"
    bottom = budgets.floor(model, x, target, maps=by_maps)
    try:
        budgets.check_reachable(bottom, bottom, target)
        if by_maps and settings.digits_per_second is None:
            check_maps_reach(model, settings.sparsity)
    except UsageError as exc:
        return {**_standing(bottom), "error": HOPELESS_ERROR, "hopeless": str(exc)}
    return None


def _standing(s: budgets.Standing) -> dict:
    return {"instructions": s.instructions, "digits_per_second": s.digits_per_second,
            "flash_bytes": s.flash_bytes, "ram_bytes": s.ram_bytes}


def numbers(out: Path) -> dict:
    """A finished trial's numbers, read from its pipeline stages."""
    stages = read_stages(out)
    evaluate, check = stages["evaluate"]["result"], stages["check"]["result"]["cost_model"]
    return {"error": evaluate["error"], "digits": evaluate["digits"],
            "instructions": check["instructions_per_inference"], "digits_per_second": check["digits_per_second"],
            "flash_bytes": check["flash_needed"], "ram_bytes": check["ram_needed"],
            "float_error": stages["train"]["result"]["test_error"],
            "sparsity": stages["prune"]["result"]["sparsity"], "tflite": stages["int8"]["result"]["path"],
            "hopeless": None}


AFTER_PRUNING = ("qat_epochs", "qat_lr", "calibration", "convert_limit", "evaluate_limit", "firmware_images")


def shared_stages(settings: PipelineSettings, shared: Path) -> PipelineSettings:
    """`settings` whose train and prune stages are those of every trial that trains and prunes
    alike: the training in shared/train-<model>-<recipe hash>, the pruning in shared/prune-...
    (a pipeline folder of those two stages), each made once, under a lock, by the first trial
    to need it; the trial's stages.json starts with their records. So a search's QAT lengths
    cost a QAT each and its sparsities a prune each. Their numbers are a fresh run's: training
    and pruning are deterministic given the seed (tests/test_tune.py rebuilds a front point)."""
    training = _once(Path(shared) / f"train-{settings.model}-{_key(dataclasses.asdict(train_config(settings)))}",
                     lambda home: stage_train(dataclasses.replace(settings, progress=False), home))
    settings = dataclasses.replace(settings, train_run=training / "train")
    pruning = _once(Path(shared) / f"prune-{settings.model}-{_key(_pruning(settings))}",
                    lambda home: run_pipeline(dataclasses.replace(settings, out=home, progress=False),
                                              only=("train", "prune")))
    out = Path(settings.out)
    if not (out / STAGES_FILE).is_file():
        out.mkdir(parents=True, exist_ok=True)
        runs.write_json(out / STAGES_FILE, {name: read_stages(pruning)[name] for name in ("train", "prune")})
    return settings


def _pruning(settings: PipelineSettings) -> dict:
    """What the train and prune stages read: the pipeline's recorded settings without the later
    stages' budget."""
    wanted = recorded(settings)
    return {**wanted, "budget": {k: v for k, v in wanted["budget"].items() if k not in AFTER_PRUNING}}


def _key(recipe: dict) -> str:
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def _once(home: Path, make) -> Path:
    """`home` after make(home) has finished there once (a make that was stopped resumes)."""
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the trial ends, however it ends
        if not (home / DONE).is_file():
            make(home)
            runs.write_json(home / DONE, {"done": True})
    return home


def run_trial(settings: PipelineSettings, target: budgets.Budget, shared: Path | None = None) -> dict:
    """The trial's numbers: its stages run (resumed, if its folder holds some), or its floor.
    With `shared`, its training and pruning are those of the trials that train and prune alike."""
    floor = hopeless(settings, target) if not (Path(settings.out) / STAGES_FILE).is_file() else None
    if floor is not None:
        return floor
    if shared is not None:
        settings = shared_stages(settings, shared)
    run_pipeline(dataclasses.replace(settings, progress=False), only=STAGES)
    return numbers(Path(settings.out))


def meets(trial: dict, target: budgets.Budget) -> bool:
    standing = budgets.Standing(trial["instructions"], trial["digits_per_second"], trial["flash_bytes"],
                                trial["ram_bytes"])
    return trial["hopeless"] is None and standing.meets(target)
