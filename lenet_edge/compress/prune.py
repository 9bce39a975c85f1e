"""Iterative pruning: delete, retrain, repeat, into a new run folder.

    result = prune("runs/lenet5", "runs/lenet5-obd", PruneSettings(method="obd", sparsity=0.9))

Each round raises the sparsity (the deleted fraction of the prunable weights, see masks.py) to
its step, deleting by OBD saliency (obd.py, all layers ranked together) or by magnitude (tfmot,
magnitude.py, every layer alike), then retrains `retrain_epochs` epochs with the deleted weights
held at zero: each round's retraining starts at learning_rate and multiplies it by lr_decay after
every epoch, with the source run's weight decay unless weight_decay says otherwise. By default
each round deletes the same fraction of the weights still alive, so the steps rise geometrically
towards the target; `steps` sets them explicitly (the benchmark's
0.5, 0.7, 0.8, 0.9, 0.95). `granularity="map"` deletes whole maps (filters) instead, those of
least saliency per weight first, and removes them from the graph (shrink.py): the sparsity is
then the deleted fraction of the source's prunable weights. With `max_error`, the first round whose test error exceeds it is undone
and pruning stops there: the error budget is spent.

With a device `budget` (budget.py: a rate, flash or RAM on a named part) the rounds aim at the
budget instead of a sparsity: each deletes its share of the way there as the cost model prices
it (OBD by saliency per unit of the device cost each weight carries, `rank="saliency"` for the
paper's ranking, `granularity="map"` for whole filters, whose dead maps shrink.py then removes
from the graph), retrains, and asks the cost model again, until it says the budget is met. The
int8 conversion of the result is then built once as firmware and run on QEMU
(firmware-int8.tflite in the run folder), and the measured rate is recorded beside the
prediction.

The new run folder holds
    config.json   stage "prune", source = the run pruned, epochs = all retraining epochs
    metrics.json  one entry per retraining epoch, as a training run's
    pruning.json  the settings and the per-round table (Round)
    model.keras   the pruned model, every pruned kernel under a masks.PruningMask
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import time
from pathlib import Path

import numpy as np

from lenet_edge import run as runs
from lenet_edge.compress import budget as budgets
from lenet_edge.compress import magnitude, masks, obd, shrink
from lenet_edge.errors import RunError, UsageError
from lenet_edge.models import registry
from lenet_edge.train import epochs
from lenet_edge.train.batches import RunData, load_run_data, targets
from lenet_edge.train.loop import ScheduledEpochs, compile_model, error_rate
from lenet_edge.train.progress import BatchProgress, make_progress

PRUNING = "pruning.json"
FIRMWARE_MODEL = "firmware-int8.tflite"  # a budget run's int8 model, as built and run on QEMU
METHODS = ("obd", "magnitude")
RANKS = ("per-cost", "saliency")
GRANULARITIES = ("weight", "map")
EXTRA_ROUNDS = 3  # rounds past `rounds` a budget run may take before it gives up
BISECTIONS = 7  # steps of the search for a round's maps: 1/128 of the alive cost


@dataclasses.dataclass(frozen=True)
class PruneSettings:
    method: str = "obd"  # "obd" or "magnitude"
    sparsity: float = 0.9  # the deleted fraction of the prunable weights after the last round
    rounds: int = 3
    retrain_epochs: int = 1  # per round; the same budget for both methods
    estimator: str | None = None  # OBD's Hessian estimator, "paper" or "gn"; None: hessian_estimator()
    sample: int | None = 2000  # training digits the Hessian averages over (None: all of them)
    learning_rate: float | None = None  # for retraining; None: the source run's last rate
    steps: tuple[float, ...] | None = None  # the sparsity after each round (overrides sparsity, rounds)
    max_error: float | None = None  # error budget: undo the first round above this test error, stop
    lr_decay: float = 1.0  # within each round, retraining epoch e runs at learning_rate * lr_decay**e
    weight_decay: float | None = None  # decoupled weight decay for retraining; None: the source run's
    budget: budgets.Budget | None = None  # prune until the cost model says this is met (not to sparsity)
    rank: str = "per-cost"  # OBD towards a budget: saliency per unit of device cost, or "saliency"
    granularity: str = "weight"  # OBD: "map" deletes whole filters (a map's saliency: their sum)


@dataclasses.dataclass(frozen=True)
class Round:
    round: int
    sparsity: float  # measured after the round: the deleted fraction of the prunable weights
    deleted: int  # weights deleted in this round
    test_error: float  # after retraining
    predicted_increase: float | None  # OBD: sum of the deleted weights' saliencies (training loss)
    measured_increase: float | None  # OBD: the training loss increase the deletion caused
    kept: bool  # False for the round that broke the error budget (undone)
    seconds: float
    instructions: float | None = None  # towards a device budget: the cost model's, after the round
    digits_per_second: float | None = None


@dataclasses.dataclass
class BudgetOutcome:
    """Where a budget run started, its floor, where it ended, and the board's measurement."""
    dense: budgets.Standing
    floor: budgets.Standing
    final: budgets.Standing | None = None
    board: str | None = None
    measured_instructions: float | None = None  # QEMU's count per digit of the final firmware
    measured_digits_per_second: float | None = None  # at the device's clock and its core's CPI
    met: bool | None = None  # the measured rate (and the predicted memory) within the budget


@dataclasses.dataclass
class PruneResult:
    settings: PruneSettings
    prunable_weights: int
    source_sparsity: float
    source_error: float
    rounds: list[Round]
    budget: BudgetOutcome | None = None


def schedule(start: float, final: float, rounds: int) -> tuple[float, ...]:
    """The sparsity after each round when every round deletes the same fraction of the alive weights."""
    kept = (1.0 - final) / (1.0 - start)
    return tuple(1.0 - (1.0 - start) * kept ** (r / rounds) for r in range(1, rounds + 1))


def final_learning_rate(config: runs.RunConfig) -> float:
    """The rate a run's last epoch trained at: where fine-tuning it starts by default."""
    return config.learning_rate * config.lr_decay ** (config.epochs - 1)


@dataclasses.dataclass
class Retrainer:
    """Compiles and trains a model `epochs` epochs per call, in one model.fit over
    train.epochs.epoch_batches (epoch numbers, and so the seeds, count on across calls, as the
    metrics accumulate).

    Call it as fit(model, callbacks): magnitude.prune_round passes tfmot's callback through it.
    """
    config: runs.RunConfig
    data: RunData
    epochs: int
    bar: object = None  # a rich Progress, or None for no progress bars
    metrics: list = dataclasses.field(default_factory=list)
    lr_decay: float = 1.0  # epoch e of each call trains at config.learning_rate * lr_decay**e

    def __call__(self, model, callbacks=()) -> None:
        compile_model(model, self.config)
        if not self.epochs:
            return
        first = len(self.metrics)  # seeds the shuffle, as the training loop does
        steps = epochs.steps_per_epoch(self.data, self.config.batch_size)
        work = [_RetrainEpoch(self, first)]
        if self.bar is not None:
            work.append(BatchProgress(self.bar, lambda e: f"{self.config.stage} epoch {first + e + 1}", steps))
        batches = epochs.epoch_batches(self.data, self.config.seed, self.config.batch_size, first, first + self.epochs)
        model.fit(batches, epochs=self.epochs, steps_per_epoch=steps, verbose=0, callbacks=[*callbacks, *work])


class _RetrainEpoch(ScheduledEpochs):
    """Epoch e of a Retrainer call: its learning rate before it, its metrics entry after it."""

    def __init__(self, retrainer: Retrainer, first: int):
        super().__init__()
        self.retrainer, self.first = retrainer, first

    def rate(self, epoch: int) -> float:
        return self.retrainer.config.learning_rate * self.retrainer.lr_decay ** epoch

    def on_epoch_end(self, epoch, logs=None):
        data = self.retrainer.data
        self.retrainer.metrics.append({
            "epoch": self.first + epoch + 1, "loss": float(logs["loss"]),
            "train_error": error_rate(self.model, data.x_train, data.y_train),
            "test_error": error_rate(self.model, data.x_test, data.y_test),
            "learning_rate": self.rate(epoch), "seconds": round(time.perf_counter() - self.start, 3)})


def prune(source: Path, out: Path, settings: PruneSettings = PruneSettings(), data_dir: Path | None = None,
          progress: bool = True) -> PruneResult:
    """Prunes the model of run `source` into the new run folder `out` (see the module docstring)."""
    source, out = Path(source), Path(out)
    config = _prunable_run(source)
    if (out / runs.CONFIG).exists():
        raise RunError(f"{out} already holds a run; choose another --out")
    model = runs.load_model(source)
    steps = _steps(settings, masks.sparsity(model))
    if steps and settings.granularity == "map":
        check_maps_reach(model, steps[-1])
    config = dataclasses.replace(
        config, stage="prune", source=str(source), epochs=max(1, settings.retrain_epochs * len(steps)),
        learning_rate=settings.learning_rate or final_learning_rate(config), lr_decay=1.0,
        weight_decay=config.weight_decay if settings.weight_decay is None else settings.weight_decay)
    data = load_run_data(config, data_dir)
    bar = make_progress() if progress else None
    result = PruneResult(settings, masks.prunable_count(model), masks.sparsity(model),
                         error_rate(model, data.x_test, data.y_test), [])
    retrainer = Retrainer(config, data, settings.retrain_epochs, bar, lr_decay=settings.lr_decay)
    context = _Context(config, data, retrainer)
    with bar or contextlib.nullcontext():
        if settings.budget is None:
            model = _rounds(model, steps, settings, context, result)
        else:
            model = _budget_rounds(model, settings, context, result, out)
    _write(out, config, model, result, retrainer.metrics)
    return result


def _prunable_run(source: Path) -> runs.RunConfig:
    config = runs.read_config(source)
    if config.stage == "qat":
        raise RunError(f"{source} is a quantization-aware (qat) run; prune its float or pruned source, "
                       f"then fine-tune the result with `lenet-edge qat`")
    return config


def hessian_estimator(settings: PruneSettings) -> str:
    """The Hessian diagonal OBD ranks by: the one asked for; else Gauss-Newton's towards a
    budget, the paper's towards a sparsity. Ranked per unit of cost, the paper's diagonal, which
    drops the cross terms between a shared weight's positions, prices a first-layer weight far
    too low (LeNet-5's C1: 57x below Gauss-Newton's in median, C5 2x above), so cost-aware OBD
    deleted C1 first (BENCHMARKS.md, "LeNet-5 to 2x and 3x"); ranking maps of different layers
    by their weights' mean saliency would do the same."""
    if settings.estimator is not None:
        return settings.estimator
    return "gn" if settings.budget is not None or settings.granularity == "map" else "paper"


def _steps(settings: PruneSettings, current: float) -> tuple[float, ...]:
    if not 0.0 < settings.sparsity < 1.0:
        raise UsageError(f"--sparsity must be in (0, 1), got {settings.sparsity}")
    if settings.method not in METHODS:
        raise UsageError(f"unknown pruning method {settings.method!r}; choose one of {', '.join(METHODS)}")
    if not 0.0 < settings.lr_decay <= 1.0 or (settings.weight_decay or 0.0) < 0.0:
        raise UsageError(f"lr_decay must be in (0, 1] and weight_decay >= 0; got {settings.lr_decay}, "
                         f"{settings.weight_decay}")
    if settings.rounds < 1 or settings.retrain_epochs < 0 or (settings.sample is not None and settings.sample < 1):
        raise UsageError("--rounds and --sample must be at least 1, --retrain-epochs at least 0")
    if settings.estimator not in (None, *obd.ESTIMATORS):
        raise UsageError(f"unknown Hessian estimator {settings.estimator!r}; choose one of {', '.join(obd.ESTIMATORS)}")
    if settings.rank not in RANKS or settings.granularity not in GRANULARITIES:
        raise UsageError(f"--rank must be one of {', '.join(RANKS)} and --granularity one of "
                         f"{', '.join(GRANULARITIES)}; got {settings.rank}, {settings.granularity}")
    if settings.granularity == "map" and settings.method != "obd":
        raise UsageError("--granularity map is OBD's; magnitude pruning deletes weights")
    if settings.budget is not None:
        settings.budget.validate()
        return ()
    steps = settings.steps or schedule(current, settings.sparsity, settings.rounds)
    if list(steps) != sorted(set(steps)) or steps[0] <= current or steps[-1] >= 1.0:
        raise UsageError(f"sparsity steps must rise from the run's current {current:.1%} to below 100%; got {steps}")
    return tuple(steps)


def check_maps_reach(model, sparsity: float) -> None:
    """UsageError, before training, for a sparsity beyond pruning by maps: with every map's
    weights deleted, one map a layer and the output layer's weights reading it stay."""
    groups = budgets.map_groups(model)
    keep = {name: np.zeros_like(mask) if name in groups else mask for name, mask in masks.alive(model).items()}
    everything = shrink.shrink(masks.with_masks(model, keep))
    most = 1.0 - _alive_count(everything) / masks.prunable_count(model)
    if sparsity > most:
        raise UsageError(f"--granularity map reaches at most {most:.1%} sparsity here (one map a layer "
                         f"and the output layer's weights reading it stay); got {sparsity:.1%}")


@dataclasses.dataclass
class _Context:
    config: runs.RunConfig
    data: RunData
    retrain: Retrainer

    @property
    def loss(self) -> str:
        return registry.spec(self.config.model).loss


def _rounds(model, steps, settings: PruneSettings, context: _Context, result: PruneResult):
    sample = _hessian_sample(context, settings.sample)
    for index, target in enumerate(steps, start=1):
        start, before, weights = time.perf_counter(), _alive_count(model), model.get_weights()
        if settings.method == "obd":
            pruned, predicted, measured = _obd_delete(model, target, settings, sample, context,
                                                      result.prunable_weights)
            context.retrain(pruned)
        else:
            pruned, predicted, measured = magnitude.prune_round(model, target, context.retrain), None, None
        error = error_rate(pruned, context.data.x_test, context.data.y_test)
        kept = settings.max_error is None or error <= settings.max_error
        result.rounds.append(Round(index, _sparsity(pruned, result), before - _alive_count(pruned), error,
                                   predicted, measured, kept, round(time.perf_counter() - start, 3)))
        if not kept:
            model.set_weights(weights)  # magnitude pruning trained the model's own layers
            return model
        model = pruned
    return model


def _budget_rounds(model, settings: PruneSettings, context: _Context, result: PruneResult, out: Path):
    """Rounds towards settings.budget; see the module docstring. Nothing is pruned when the
    model already meets it; a budget its floor misses is refused before any training. When the
    board misses what the cost model said was met, the rounds go on with the prediction scaled
    by the board's count over it (within the extra rounds), and the firmware is measured again."""
    target, x = settings.budget, context.data.x_train
    by_maps = settings.granularity == "map"
    now, bottom = budgets.standing(model, x, target), budgets.floor(model, x, target, maps=by_maps)
    budgets.check_reachable(now, bottom, target)
    result.budget = BudgetOutcome(now, bottom, final=now)
    sample = _hessian_sample(context, settings.sample) if settings.method == "obd" else None
    correction = 1.0  # the board's instructions over the cost model's, once measured
    for index in range(1, settings.rounds + EXTRA_ROUNDS + 1):
        if now.scaled(correction).meets(target):
            correction = _confirm(out, model, target, context, result.budget)
            if result.budget.met:
                break
        start, before = time.perf_counter(), _alive_count(model)
        share = 1.0 / (settings.rounds - index + 1) if index <= settings.rounds else 1.0
        seen = now.scaled(correction)  # the cost model's standing as the board would count it
        removal = budgets.amount(model, target, seen, bottom.scaled(correction), share)
        aim = budgets.aim(target, seen, share) if by_maps else None
        aim = None if aim is None else aim / correction  # in the cost model's count
        pruned, predicted, measured = _delete_cost(model, removal, seen, settings, sample, context, aim)
        now = budgets.standing(pruned, x, target)
        error = error_rate(pruned, context.data.x_test, context.data.y_test)
        result.rounds.append(Round(index, _sparsity(pruned, result), before - _alive_count(pruned), error,
                                   predicted, measured, True, round(time.perf_counter() - start, 3),
                                   now.instructions, now.digits_per_second))
        model = pruned
        result.budget.final = now
    else:
        _confirm(out, model, target, context, result.budget)
    return model


def _delete_cost(model, removal: float, now, settings: PruneSettings, sample, context: _Context,
                 aim: float | None = None):
    """One round towards a budget: delete weights carrying `removal` of budget.costs() (with
    `aim`, maps until the cost model's instructions reach it), retrain."""
    costs = budgets.costs(model, settings.budget, now)
    if settings.method == "magnitude":
        # every layer loses the same share of its alive weights, and so of their cost
        alive_share = removal / budgets.alive_cost(masks.alive(model), costs)
        target = 1.0 - (1.0 - masks.sparsity(model)) * (1.0 - alive_share)
        return magnitude.prune_round(model, target, context.retrain), None, None
    x, y = sample
    hessian = obd.hessian_diagonal(model, x, context.loss, hessian_estimator(settings))
    alive, groups = _map_alive(model) if settings.granularity == "map" else (masks.alive(model), None)
    delete = functools.partial(obd.delete_for_cost, obd.saliency(model, hessian), alive, costs,
                               per_cost=settings.rank == "per-cost", groups=groups)
    total = budgets.alive_cost(alive, costs)
    deletion = delete(amount=min(removal, total)) if aim is None else \
        _maps_reaching(model, delete, total, aim, settings.budget, context)
    pruned = masks.with_masks(model, deletion.keep)
    if settings.granularity == "map":
        pruned = shrink.shrink(pruned)  # the deleted maps out of the graph, before retraining
    measured = obd.mean_loss(pruned, x, y, context.loss) - obd.mean_loss(model, x, y, context.loss)
    context.retrain(pruned)
    return pruned, deletion.predicted_increase, measured


def _maps_reaching(model, delete, total: float, aim: float, budget: budgets.Budget, context: _Context):
    """The smallest deletion of whole maps, in their ranking's order, whose shrunk model the cost
    model puts at or below `aim` instructions: a removed map also takes its output stage and the
    next layer's reads of it, which the linear price of budget.amount does not see (each step of
    the bisection an int8 conversion and a cost-model check)."""
    def reaches(smaller) -> bool:
        return budgets.standing(smaller, context.data.x_train, budget).instructions <= aim

    return _smallest_deletion(model, delete, total, reaches, BISECTIONS)


def _smallest_deletion(model, delete, total: float, reaches, steps: int):
    """The smallest deletion of whole maps in their ranking's order (bisection over the deleted
    cost, `steps` halvings) whose shrunk model `reaches` says is enough."""
    low, high = 0.0, total * (1 - 1e-9)  # obd.delete_for_cost sums the same costs in another order
    best = delete(amount=high)
    for _ in range(steps):
        middle = (low + high) / 2
        deletion = delete(amount=middle)
        if reaches(shrink.shrink(masks.with_masks(model, deletion.keep))):
            high, best = middle, deletion
        else:
            low = middle
    return best


def _confirm(out: Path, model, target: budgets.Budget, context: _Context, outcome: BudgetOutcome) -> float:
    """Build the model's int8 firmware, run it on QEMU, record the measured rate; return the
    board's instructions over the cost model's."""
    out.mkdir(parents=True, exist_ok=True)
    data = context.data
    report = budgets.measure(model, data.x_train, data.x_test, data.y_test, target.device, out / FIRMWARE_MODEL)
    factor = report.instructions_per_inference / outcome.final.instructions
    measured = outcome.final.scaled(factor)  # the rate check's formula gives for QEMU's count
    outcome.board = report.board
    outcome.measured_instructions = measured.instructions
    outcome.measured_digits_per_second = measured.digits_per_second
    outcome.met = measured.meets(target)
    return factor


def _alive_count(model) -> int:
    return _alive_count_of(masks.alive(model))


def _alive_count_of(alive: dict) -> int:
    return sum(int(mask.sum()) for mask in alive.values())


def _hessian_sample(context: _Context, size: int | None):
    """(inputs, targets) of a fixed random sample of the training set."""
    data = context.data
    order = np.random.default_rng(context.config.seed).permutation(len(data.y_train))[:size]
    return data.x_train[order], targets(data.y_train[order], context.loss)


def _map_alive(model) -> tuple[dict, dict]:
    """The alive weights pruning by maps may delete, and their maps (budget.map_groups): maps
    only, since the output layer's weights, one by one, would rank below any map's sum."""
    groups = budgets.map_groups(model)
    return {name: mask for name, mask in masks.alive(model).items() if name in groups}, groups


def _sparsity(model, result: PruneResult) -> float:
    """The deleted fraction of the source's prunable weights (pruning by maps removes some from
    the graph, so the model's own count shrinks)."""
    return 1.0 - _alive_count(model) / result.prunable_weights


def _obd_delete(model, target: float, settings: PruneSettings, sample, context: _Context, prunable: int):
    """(masked model, predicted and measured training-loss increase) of one OBD deletion to
    `target` sparsity of the source's `prunable` weights: the least salient weights, or by maps
    the fewest maps of least saliency per weight (`rank="saliency"`: least saliency) whose
    removal from the graph (which takes the next layer's reads of them too) reaches it."""
    x, y = sample
    hessian = obd.hessian_diagonal(model, x, context.loss, hessian_estimator(settings))
    saliencies, alive = obd.saliency(model, hessian), masks.alive(model)
    if settings.granularity == "map":
        alive, groups = _map_alive(model)
        ones = {name: np.ones(mask.shape) for name, mask in alive.items()}
        delete = functools.partial(obd.delete_for_cost, saliencies, alive, ones,
                                   per_cost=settings.rank == "per-cost", groups=groups)
        total, left = _alive_count_of(alive), round((1.0 - target) * prunable)
        deletion = _smallest_deletion(model, delete, total, lambda smaller: _alive_count(smaller) <= left,
                                      steps=max(1, total).bit_length())  # to one weight
        pruned = shrink.shrink(masks.with_masks(model, deletion.keep))
    else:
        count = round(target * prunable) - (prunable - _alive_count(model))
        deletion = obd.delete_lowest(saliencies, alive, count)
        pruned = masks.with_masks(model, deletion.keep)
    measured = obd.mean_loss(pruned, x, y, context.loss) - obd.mean_loss(model, x, y, context.loss)
    return pruned, deletion.predicted_increase, measured


def _write(out: Path, config: runs.RunConfig, model, result: PruneResult, metrics: list[dict]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    runs.write_json(out / runs.CONFIG, config.__dict__)
    runs.save_model(model, out / runs.MODEL)
    runs.write_json(out / runs.METRICS, metrics)
    runs.write_json(out / PRUNING, dataclasses.asdict(result))
