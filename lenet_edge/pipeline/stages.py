"""The pipeline's stages and their resume.

Each stage writes into its own subfolder of `out`; `out/stages.json` records every finished stage
(its result and when it finished), so running the pipeline again skips finished stages and
resumes at the one that stopped. A stage folder left half-done by an interrupted run is moved
aside (`<name>.partial-N`) and the stage starts again, except training, which resumes from its
last checkpoint. `out/pipeline.json` keeps the settings the stages ran with: a rerun asking for
others is refused rather than mixing them.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Callable

from lenet_edge import run as runs
from lenet_edge.errors import RunError, UsageError

STAGES_FILE = "stages.json"
SETTINGS_FILE = "pipeline.json"  # what the finished stages were asked for
DEFAULT_MODEL = "lenet5"  # `lenet-edge pipeline`'s model when --model is not given
DEFAULT_SPARSITY = 0.9
# with a rate: the model that goes on to QAT (prune), then the two it is compared with
RATE_METHODS = {"prune": "OBD, saliency per cost", "saliency": "OBD, saliency", "magnitude": "magnitude (tfmot)"}
STAGE_NAMES = ("train", "prune", "saliency", "magnitude", "qat", "int8", "evaluate", "check", "firmware", "report")


@dataclasses.dataclass(frozen=True)
class Budget:
    """How much work each stage does: by default the benchmarked training recipe and a pruning
    budget that keeps `make demo` under 25 minutes on 2 cores (BENCHMARKS.md); tiny with quick()."""
    epochs: int = 20
    learning_rate: float = 1e-3
    lr_decay: float = 0.85
    batch_size: int = 32
    weight_decay: float = 0.05
    train_limit: int | None = None
    test_limit: int | None = None
    distort: bool = False  # the training recipe's elastic distortions (train --distort)
    seed: int = 0
    # BENCHMARKS.md's goal run retrains 6 epochs a round (lr decay 0.6); 3 epochs decaying
    # faster keep the default pipeline, which prunes twice (OBD and the magnitude baseline),
    # within 25 minutes on 2 cores
    prune_rounds: int = 4
    prune_epochs: int = 3
    prune_lr: float = 1e-3
    prune_lr_decay: float = 0.4
    hessian_sample: int | None = 2000
    qat_epochs: int = 3  # 0: no QAT, the pruned model converted post-training
    qat_lr: float = 5e-5
    calibration: int = 500
    convert_limit: int | None = None  # test digits the int8 verification runs (None: all)
    evaluate_limit: int | None = None  # test digits the emulator runs: error, confusion, rejection
    firmware_images: int = 1000

    @classmethod
    def quick(cls) -> "Budget":
        # 3 QAT epochs: chosen when QAT's first epoch sat at a constant output (loss ln 10), before
        # qat.calibrate_output_ranges started its output ranges at the float model's
        return cls(epochs=2, train_limit=10000, test_limit=1000, prune_rounds=2, prune_epochs=1,
                   hessian_sample=500, qat_epochs=3, calibration=100, convert_limit=1000,
                   evaluate_limit=1000, firmware_images=100)


def pipeline_budget(base: Budget, **given) -> Budget:
    """`base` with the flags given (a None leaves base's value): `pipeline`'s --epochs, --distort, ..."""
    return dataclasses.replace(base, **{key: value for key, value in given.items() if value is not None})


@dataclasses.dataclass(frozen=True)
class PipelineSettings:
    model: str
    device: str
    sparsity: float  # pruned to, unless digits_per_second is given (then DEFAULT_SPARSITY)
    out: Path
    budget: Budget = Budget()
    board: str = "mps2-an386"
    digits_per_second: float | None = None  # prune to this rate on the device instead of to sparsity
    train_run: Path | None = None  # reuse this finished train run instead of training into out/train
    data_dir: Path | None = None
    progress: bool = True
    optimize: str = "speed"  # the firmware's conv encodings: fastest (speed) or smallest (size)
    granularity: str = "weight"  # OBD's: weights, or whole maps (prune --granularity; not magnitude's)


@dataclasses.dataclass
class PipelineResult:
    out: Path
    ran: list[str]  # stages run this time
    skipped: list[str]  # stages already finished before
    stages: dict  # every stage's recorded result
    report: dict | None  # paths of report.md, report.html, summary.json (None: no report stage run)


def validate(settings: PipelineSettings) -> None:
    """Cheap checks before any training: UsageError / DeviceProfileError / ModelError."""
    from firmware_sim.fit.devices.profile import load_profile
    from lenet_edge.models.registry import describe_all

    if not 0.0 <= settings.sparsity < 1.0:
        raise UsageError(f"--sparsity must be in [0, 1), got {settings.sparsity}")
    names = [info.name for info in describe_all()]
    if settings.model not in names:
        raise UsageError(f"unknown model {settings.model!r}: one of {', '.join(names)}")
    load_profile(settings.device)
    if settings.train_run is not None:
        folder = Path(settings.train_run)
        if not (folder / runs.MODEL).is_file():
            raise RunError(f"{folder} is not a finished train run (no {runs.MODEL})")
        if runs.read_config(folder).stage != "train":
            raise RunError(f"{folder} is a {runs.read_config(folder).stage} run, not a train run")
    b = settings.budget
    if b.epochs < 1 or b.prune_rounds < 1 or b.prune_epochs < 1 or b.qat_epochs < 0 or b.firmware_images < 1:
        raise UsageError("every stage budget (epochs, rounds, images) must be at least 1 (QAT epochs at least 0)")
    if settings.digits_per_second is not None:
        if settings.sparsity != DEFAULT_SPARSITY:
            raise UsageError("--sparsity and --digits-per-second are two targets; give one")
        _reachable(settings)
    _granularity(settings)


def _granularity(settings: PipelineSettings) -> None:
    """An unknown granularity, or a sparsity that pruning by maps cannot reach, before training."""
    from lenet_edge.compress import budget as budgets
    from lenet_edge.compress.prune import GRANULARITIES, check_maps_reach

    if settings.granularity not in GRANULARITIES:
        raise UsageError(f"--granularity must be one of {', '.join(GRANULARITIES)}, got {settings.granularity!r}")
    if settings.granularity == "map" and settings.digits_per_second is None and settings.sparsity > 0:
        model = budgets.untrained(settings.model) if settings.train_run is None else runs.load_model(settings.train_run)
        check_maps_reach(model, settings.sparsity)


def _reachable(settings: PipelineSettings) -> None:
    """A rate no pruning reaches is refused before training, with the numbers: the floor (every
    prunable weight deleted) of the model to train (or of the train run given)."""
    from lenet_edge.compress import budget as budgets
    from lenet_edge.train.batches import load_split

    target = budgets.Budget(settings.device, settings.digits_per_second)
    target.validate()
    model = budgets.untrained(settings.model) if settings.train_run is None else runs.load_model(settings.train_run)
    _, x, _ = load_split(settings.model, "train", budgets.CALIBRATION, settings.data_dir)
    budgets.check_reachable(budgets.standing(model, x, target), budgets.floor(model, x, target), target)


def recorded(s: PipelineSettings) -> dict:
    """What a pipeline folder's finished stages were asked for (pipeline.json)."""
    return {"model": s.model, "device": s.device, "sparsity": s.sparsity, "board": s.board,
            "digits_per_second": s.digits_per_second, "train_run": None if s.train_run is None else str(s.train_run),
            "budget": dataclasses.asdict(s.budget), "optimize": s.optimize, "granularity": s.granularity}


def same_settings(settings: PipelineSettings) -> None:
    """Resuming reuses finished stages, so a rerun must ask for what they did (UsageError otherwise)."""
    path = Path(settings.out) / SETTINGS_FILE
    wanted = recorded(settings)
    if not path.is_file():
        runs.write_json(path, wanted)
        return
    before = runs.read_json(path)
    # a key recorded before it existed (optimize, budget's distort and seed) constrains nothing
    changed = [key for key in wanted if key in before and _known(before[key], wanted[key]) != before[key]]
    if changed:
        raise UsageError(f"{settings.out} holds a pipeline with other settings ({', '.join(changed)}); "
                         f"choose another --out")


def _known(before, wanted):
    """`wanted` cut to the keys `before` recorded, for a dict (the budget); else `wanted`."""
    if isinstance(before, dict) and isinstance(wanted, dict):
        return {key: wanted.get(key) for key in before}
    return wanted


def read_stages(out: Path) -> dict:
    path = Path(out) / STAGES_FILE
    return runs.read_json(path) if path.is_file() else {}


def _record(out: Path, stages: dict, name: str, result: dict, seconds: float) -> None:
    stages[name] = {"finished": time.time(), "seconds": round(seconds, 3), "result": result}
    runs.write_json(Path(out) / STAGES_FILE, stages)


def _fresh(folder: Path) -> Path:
    """Move a half-done stage folder aside so the stage can start again."""
    if folder.exists():
        n = 1
        while folder.with_name(f"{folder.name}.partial-{n}").exists():
            n += 1
        folder.rename(folder.with_name(f"{folder.name}.partial-{n}"))
    return folder


# ---- the stages: each takes (settings, out) and returns a JSON-able dict ----

def train_config(s: PipelineSettings) -> runs.RunConfig:
    """The train stage's recipe: the model and the budget's training fields."""
    b = s.budget
    return runs.RunConfig(s.model, epochs=b.epochs, optimizer="adam", learning_rate=b.learning_rate,
                          lr_decay=b.lr_decay, batch_size=b.batch_size, weight_decay=b.weight_decay,
                          train_limit=b.train_limit, test_limit=b.test_limit, distort=b.distort, seed=b.seed)


def stage_train(s: PipelineSettings, out: Path) -> dict:
    from lenet_edge.train.loop import train

    folder = out / "train" if s.train_run is None else Path(s.train_run)
    if s.train_run is None and not (folder / runs.MODEL).is_file():
        resume = (folder / runs.CONFIG).is_file()
        train(folder, None if resume else train_config(s), resume=resume, data_dir=s.data_dir, progress=s.progress)
    metrics = runs.read_metrics(folder)
    return {"folder": str(folder), "epochs": len(metrics), "test_error": metrics[-1]["test_error"],
            "train_error": metrics[-1]["train_error"], "config": dataclasses.asdict(runs.read_config(folder))}


def stage_prune(s: PipelineSettings, out: Path) -> dict:
    """OBD to the sparsity (at 0, none: the trained model goes on); with a rate, OBD by saliency
    per cost to it (and the dense model measured)."""
    if s.digits_per_second is None:
        return _unpruned(out) if s.sparsity == 0 else _prune(s, out, "obd", out / "prune")
    from lenet_edge.compress.rate_methods import dense_measurement

    dense = dense_measurement(train_folder(out), s.device, out / "dense", s.data_dir)
    return {**_prune_to_rate(s, out, "prune", dense), "dense": dense}


def stage_saliency(s: PipelineSettings, out: Path) -> dict:
    """With a rate: OBD by saliency alone (the paper's ranking) to it, for the comparison."""
    if s.digits_per_second is None:
        return {"skipped": True, "reason": "pruning to a sparsity: the prune stage ranks by saliency"}
    return _compared(s, out, "saliency")


def stage_magnitude(s: PipelineSettings, out: Path) -> dict:
    """tfmot's magnitude pruning on OBD's schedule (or to its rate) and retraining budget: the
    baseline of the plot."""
    if s.digits_per_second is None:
        return _unpruned(out) if s.sparsity == 0 else _prune(s, out, "magnitude", out / "magnitude")
    return _compared(s, out, "magnitude")


def _unpruned(out: Path) -> dict:
    """A prune stage at sparsity 0: skipped, its folder the train run's (what QAT or int8 reads)."""
    from lenet_edge.compress import masks

    train = read_stages(out)["train"]["result"]
    sparsity = masks.sparsity(runs.load_model(train["folder"]))
    return {"skipped": True, "reason": "--sparsity 0: the trained model goes on unpruned", "folder": train["folder"],
            "source_sparsity": sparsity, "source_error": train["test_error"], "rounds": [], "sparsity": sparsity,
            "test_error": train["test_error"]}


def _prune_settings(s: PipelineSettings, method: str):
    from lenet_edge.compress.prune import PruneSettings

    b = s.budget
    return PruneSettings(method, sparsity=s.sparsity, rounds=b.prune_rounds, retrain_epochs=b.prune_epochs,
                         sample=b.hessian_sample, learning_rate=b.prune_lr, lr_decay=b.prune_lr_decay,
                         granularity=s.granularity if method == "obd" else "weight")


def _prune(s: PipelineSettings, out: Path, method: str, folder: Path) -> dict:
    from lenet_edge.compress.prune import prune

    folder = _fresh(folder)
    result = prune(train_folder(out), folder, _prune_settings(s, method), s.data_dir, s.progress)
    return _pruned(folder, dataclasses.asdict(result))


def _pruned(folder: Path, table: dict) -> dict:
    """A prune stage's result from its pruning table (pruning.json)."""
    from lenet_edge.compress.rate_methods import final

    sparsity, error = final(table)
    return {"folder": str(folder), "source_error": table["source_error"], "source_sparsity": table["source_sparsity"],
            "prunable_weights": table["prunable_weights"], "rounds": table["rounds"], "sparsity": sparsity,
            "test_error": error}


def _compared(s: PipelineSettings, out: Path, name: str) -> dict:
    prune = read_stages(out)["prune"]["result"]
    if not prune["rounds"]:
        return {"skipped": True, "reason": f"the dense model already meets {s.digits_per_second:,.1f} digits/s: "
                                           f"nothing to prune"}
    return _prune_to_rate(s, out, name, prune["dense"])


def _prune_to_rate(s: PipelineSettings, out: Path, name: str, dense: dict) -> dict:
    """Stage `name`'s method (RATE_METHODS) to the rate on the stages' retraining budget, with its
    measured point (rate_methods.point)."""
    from lenet_edge.compress import budget as budgets
    from lenet_edge.compress.rate_methods import point, prune_to

    folder = _fresh(out / name)
    method = RATE_METHODS[name]
    table = prune_to(train_folder(out), folder, method, _prune_settings(s, "obd"),
                     budgets.Budget(s.device, s.digits_per_second), s.data_dir, s.progress)
    return {**_pruned(folder, table), "budget": table["budget"], "point": point(method, table, dense)}


def stage_qat(s: PipelineSettings, out: Path) -> dict:
    from lenet_edge.compress.qat_run import fine_tune_qat

    if s.budget.qat_epochs == 0:
        return {"skipped": True, "reason": "--qat-epochs 0: the pruned model is converted post-training"}
    folder = _fresh(out / "qat")
    metrics = fine_tune_qat(pruned_folder(out), folder, s.budget.qat_epochs, s.budget.qat_lr, s.data_dir, s.progress)
    return {"folder": str(folder), "epochs": len(metrics), "test_error": metrics[-1]["test_error"],
            "train_error": metrics[-1]["train_error"], "metrics": metrics}


def stage_int8(s: PipelineSettings, out: Path) -> dict:
    from convert.from_run import convert_run

    folder = _fresh(out / "int8")
    folder.mkdir(parents=True)
    source = out / "qat" if s.budget.qat_epochs else pruned_folder(out)
    r = convert_run(source, folder / f"{s.model}-int8.tflite", "int8", s.budget.calibration,
                    limit=s.budget.convert_limit, data_dir=s.data_dir)
    v = r.verification
    return {"path": str(r.path), "bytes": r.size, "digits": v.digits, "keras_error": v.keras_error,
            "tflite_error": v.tflite_error, "agreements": v.agreements}


def stage_evaluate(s: PipelineSettings, out: Path) -> dict:
    from lenet_edge.models.registry import spec
    from lenet_edge.pipeline.int8_eval import evaluate_int8

    evaluation = evaluate_int8(_tflite(out), spec(s.model).dataset, s.budget.evaluate_limit, s.data_dir)
    return dataclasses.asdict(evaluation)


def stage_check(s: PipelineSettings, out: Path) -> dict:
    from firmware_sim.fit.check import check_model

    folder = out / "check"
    folder.mkdir(parents=True, exist_ok=True)
    report = check_model(_tflite(out), s.device, s.digits_per_second, runtime="tflm",
                         optimize=s.optimize).as_dict()
    # the generated firmware on the device by the calibrated cost model (what tune ranks by)
    report["cost_model"] = check_model(_tflite(out), s.device, s.digits_per_second, runtime="firmware",
                                       optimize=s.optimize).as_dict()
    runs.write_json(folder / "check.json", report)
    return report


def stage_firmware(s: PipelineSettings, out: Path) -> dict:
    from firmware_sim.firmware.errors import ToolchainMissingError
    from lenet_edge.board.flash import flash

    folder = _fresh(out / "firmware")
    try:
        report = flash(_tflite(out), board=s.board, images=s.budget.firmware_images, data_dir=s.data_dir,
                       workdir=folder, optimize=s.optimize).as_dict()
    except ToolchainMissingError as exc:
        return {"skipped": True, "reason": str(exc)}
    folder.mkdir(parents=True, exist_ok=True)
    runs.write_json(folder / "flash.json", report)
    return {"skipped": False, **report}


def stage_report(s: PipelineSettings, out: Path) -> dict:
    from lenet_edge.pipeline.report import write_report

    return write_report(out, read_stages(out), s)


def train_folder(out: Path) -> Path:
    return Path(read_stages(out)["train"]["result"]["folder"])


def pruned_folder(out: Path) -> Path:
    """The prune stage's run: the train run itself when nothing was pruned (--sparsity 0)."""
    return Path(read_stages(out)["prune"]["result"]["folder"])


def _tflite(out: Path) -> Path:
    return Path(read_stages(out)["int8"]["result"]["path"])


STAGES: dict[str, Callable[[PipelineSettings, Path], dict]] = {
    "train": stage_train, "prune": stage_prune, "saliency": stage_saliency, "magnitude": stage_magnitude, "qat": stage_qat,
    "int8": stage_int8, "evaluate": stage_evaluate, "check": stage_check, "firmware": stage_firmware, "report": stage_report}


@dataclasses.dataclass(frozen=True)
class StageEvent:
    """Progress: a stage skipped (finished before), starting, or just finished."""
    name: str
    number: int  # 1-based position in STAGE_NAMES
    status: str  # "skip", "run" or "done"
    result: dict | None = None
    seconds: float | None = None


def run_pipeline(settings: PipelineSettings, on_event: Callable[[StageEvent], None] | None = None,
                 only: tuple[str, ...] | None = None) -> PipelineResult:
    """Run every unfinished stage in order (of `only`, when given: a prefix's worth of
    STAGE_NAMES, e.g. tune's trials stop before the firmware), reporting each to on_event."""
    if only is not None and not set(only) <= set(STAGE_NAMES):
        raise UsageError(f"unknown stages {sorted(set(only) - set(STAGE_NAMES))}: of {', '.join(STAGE_NAMES)}")
    validate(settings)
    out = Path(settings.out)
    out.mkdir(parents=True, exist_ok=True)
    same_settings(settings)
    stages = read_stages(out)
    notify = on_event or (lambda event: None)
    ran, skipped = [], []
    for number, name in enumerate(STAGE_NAMES, start=1):
        if only is not None and name not in only:
            continue
        # the report is written again whenever a stage before it ran
        if name in stages and (name != "report" or not ran):
            skipped.append(name)
            notify(StageEvent(name, number, "skip", stages[name]["result"], stages[name]["seconds"]))
            continue
        notify(StageEvent(name, number, "run"))
        start = time.perf_counter()
        result = STAGES[name](settings, out)
        _record(out, stages, name, result, time.perf_counter() - start)
        ran.append(name)
        notify(StageEvent(name, number, "done", result, stages[name]["seconds"]))
    return PipelineResult(out, ran, skipped, stages, stages["report"]["result"] if "report" in stages else None)
