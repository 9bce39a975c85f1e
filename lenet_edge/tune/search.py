"""The search: Ray Tune's Tuner with Optuna's multi-objective sampler over space.py, one trial a
CPU, results and search state in `out`.

Ray runs on a local node bound to loopback (no dashboard) with one CPU a trial, unless `address`
names an existing cluster, which is checked to answer before anything trains. Tune keeps the
experiment (trials, their results, the searcher's state) in out/search: rerunning the same
command restores it (Tuner.restore), finished trials kept and unfinished ones resumed in their
own folders (out/trials/<trial id>, a pipeline folder that resumes at its unfinished stage).
Ctrl-C: Tune saves the experiment and stops; the command says how to resume. The first trials
are the pipeline's defaults and their cheap neighbours (space.start_points), the sampler's after
them; trials that train (and prune) alike share one training (and pruning) in out/shared.
Early stopping: a trial whose model misses the device's limits even with every prunable weight
deleted stops before training (trial.hopeless); there is no per-epoch scheduler (a trial is one
pipeline).
"""
from __future__ import annotations

import dataclasses
import logging
import os
import re
import socket
import sys
from pathlib import Path


from lenet_edge import run as runs
from lenet_edge.compress import budget as budgets
from lenet_edge.errors import LenetEdgeError, UsageError
from lenet_edge.tune import space as spaces
from lenet_edge.tune import trial as trials

EXPERIMENT = "search"  # out/search: Ray Tune's experiment (its state, each trial's results)
TRIALS = "trials"  # out/trials/<trial id>: each trial's pipeline folder
SHARED = "shared"  # out/shared: one training (and pruning) for the trials that train (and prune) alike
SETTINGS_FILE = "tune.json"  # what the search was asked for: a rerun must ask for the same
ADDRESS_TIMEOUT_S = 3.0


class SearchInterrupted(LenetEdgeError):
    """The search stopped (Ctrl-C) before its trials finished; rerunning resumes it."""


@dataclasses.dataclass(frozen=True)
class TuneSettings:
    device: str
    trials: int
    out: Path
    digits_per_second: float | None = None
    flash_bytes: int | None = None
    ram_bytes: int | None = None
    quick: bool = False
    address: str | None = None
    seed: int = 0
    data_dir: Path | None = None

    def target(self) -> budgets.Budget:
        return trials.limits(self.device, self.digits_per_second, self.flash_bytes, self.ram_bytes)

    def recorded(self) -> dict:
        """What a rerun must repeat to resume (the address may change: the same search elsewhere)."""
        return {"device": self.device, "trials": self.trials, "digits_per_second": self.digits_per_second,
                "flash_bytes": self.flash_bytes, "ram_bytes": self.ram_bytes, "quick": self.quick, "seed": self.seed}


@dataclasses.dataclass(frozen=True)
class Job:
    """What every trial needs besides its config (tune.with_parameters ships it to the workers)."""
    settings: TuneSettings
    target: budgets.Budget


def check_address(address: str) -> None:
    """One UsageError line, before anything trains, when no Ray cluster answers at host:port."""
    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--address must be host:port (a Ray cluster's GCS), got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=ADDRESS_TIMEOUT_S).close()
    except OSError as exc:
        raise UsageError(f"--address {address}: no Ray cluster answers there ({exc.strerror or exc})") from None


def validate(s: TuneSettings) -> budgets.Budget:
    """Cheap checks before Ray starts: the device, the limits, the address, a rerun's settings."""
    if s.trials < 1:
        raise UsageError(f"--trials must be at least 1, got {s.trials}")
    target = s.target()
    if s.address is not None:
        check_address(s.address)
    path = Path(s.out) / SETTINGS_FILE
    if path.is_file() and runs.read_json(path) != s.recorded():
        raise UsageError(f"{s.out} holds a search with other settings; rerun it as it was or choose another --out")
    return target


def _trainable(config: dict, job: Job) -> None:
    """One Ray Tune trial (in a worker process): its pipeline stages, one report."""
    from ray import tune

    # TensorFlow keeps its default thread pools: with other sizes its sums, and so a trial's
    # numbers, would differ from those of the `lenet-edge pipeline` command that rebuilds it
    s = job.settings
    folder = Path(s.out) / TRIALS / tune.get_context().get_trial_id()
    settings = spaces.trial_settings(spaces.space(s.quick, s.digits_per_second), config, s.device, s.seed, folder, s.data_dir)
    tune.report(trials.run_trial(settings, job.target, Path(s.out) / SHARED))


def _start_ray(address: str | None) -> int:
    """Ray for the search (quiet: no dashboard, no worker logs); returns the CPUs it offers."""
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # before Ray's import: the output engine silent at verbose=0
    import ray

    # CRITICAL: a failed trial is one Progress line and a record in summary.json, not Tune's traceback
    common = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.CRITICAL,
                  configure_logging=True)
    if address is None:
        ray.init(address="local", num_cpus=os.cpu_count(), _node_ip_address="127.0.0.1", **common)
    else:
        common.pop("include_dashboard")
        try:
            ray.init(address=address, **common)
        except ConnectionError as exc:  # it answers, but not as a Ray cluster this driver may join
            raise UsageError(f"--address {address}: {exc}; a cluster with token authentication (Ray's "
                             f"default) needs RAY_AUTH_MODE=token here too") from None
    return int(ray.cluster_resources().get("CPU", 1))


def _tuner(s: TuneSettings, job: Job, cpus: int):
    import optuna
    from ray import tune
    from ray.tune.search.optuna import OptunaSearch

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trainable = tune.with_resources(tune.with_parameters(_trainable, job=job), {"cpu": 1})
    path = Path(s.out).resolve() / EXPERIMENT
    if tune.Tuner.can_restore(str(path)):
        return tune.Tuner.restore(str(path), trainable, resume_unfinished=True, resume_errored=True)
    space = spaces.space(s.quick, s.digits_per_second)
    searcher = OptunaSearch(metric=list(trials.OBJECTIVES), mode=list(trials.OBJECTIVES.values()), seed=s.seed,
                            points_to_evaluate=spaces.start_points(space)[:s.trials])
    return tune.Tuner(
        trainable, param_space=spaces.param_space(space),
        tune_config=tune.TuneConfig(search_alg=searcher, num_samples=s.trials, max_concurrent_trials=cpus),
        run_config=tune.RunConfig(name=EXPERIMENT, storage_path=str(Path(s.out).resolve()), verbose=0,
                                  callbacks=[_progress(s.trials)]))


def _progress(total: int):
    """A Tune callback printing one line on stderr as each trial finishes (Ray imported late:
    _start_ray sets its environment first)."""
    from ray.tune import Callback

    class Progress(Callback):
        def __init__(self):
            self.done = 0

        def on_trial_complete(self, iteration, trials, trial, **info):
            self._line(trial, "", describe(trial.config, trial.last_result))

        def on_trial_error(self, iteration, trials, trial, **info):
            self._line(trial, " failed", describe(trial.config, {}))

        def _line(self, trial, how: str, what: str):
            self.done += 1
            print(f"trial {trial.trial_id}{how} ({self.done} finished in this run of {total}): {what}",
                  file=sys.stderr, flush=True)

    return Progress()


def describe(config: dict, result: dict) -> str:
    pruned = ("pruned to the rate" if config["sparsity"] == spaces.RATE else f"sparsity {config['sparsity']}")
    if spaces.granularity(config) == "map":
        pruned += " by maps"
    point = f"{config['model']}, {config['epochs']} epochs, {pruned}, QAT {config['qat_epochs']}"
    if "error" not in result:
        return point
    if result.get("hopeless"):
        return f"{point}: stopped before training ({result['hopeless']})"
    return (f"{point}: error {100 * result['error']:.2f}%, {result['digits_per_second']:,.1f} digits/s, "
            f"RAM {result['ram_bytes']:,} B, flash {result['flash_bytes']:,} B")


def collect(s: TuneSettings, grid) -> list[dict]:
    """Every trial Tune holds: its config, numbers (or error) and rebuild command, by trial id."""
    found = []
    for result in grid:
        if not result.config:  # a trial Tune had not yet started when it stopped
            continue
        config = {key: result.config[key] for key in spaces.DIMENSIONS}
        metrics = result.metrics or {}
        entry = {"trial_id": metrics.get("trial_id") or _trial_id(result.path), "config": config,
                 "command": spaces.rebuild_command(spaces.space(s.quick, s.digits_per_second), config, s.device, s.seed),
                 "failed": None if result.error is None else str(result.error).splitlines()[-1]}
        if result.error is None and "error" in metrics:
            entry.update({key: metrics[key] for key in ("error", "digits", "instructions", "digits_per_second",
                                                        "flash_bytes", "ram_bytes", "float_error", "sparsity",
                                                        "tflite", "hopeless") if key in metrics})
            entry.setdefault("hopeless", None)
        found.append(entry)
    return sorted(found, key=lambda t: t["trial_id"] or "")


def _trial_id(path: str | None) -> str | None:
    """A trial's id from its Tune folder, `_trainable_<id>_<n>_<config>` (a trial that failed
    before it reported has no metrics to say it)."""
    found = re.match(r"_trainable_([0-9a-f]+)_", Path(path).name) if path else None
    return found.group(1) if found else None


def search(s: TuneSettings) -> list[dict]:
    """Run (or resume) the search; every trial's record. SearchInterrupted when stopped early."""
    import ray

    target = validate(s)
    out = Path(s.out)
    out.mkdir(parents=True, exist_ok=True)
    runs.write_json(out / SETTINGS_FILE, s.recorded())
    cpus = _start_ray(s.address)
    try:
        grid = _tuner(s, Job(s, target), cpus).fit()
        found = collect(s, grid)
    finally:
        ray.shutdown()
    finished = [t for t in found if "error" in t or t["failed"]]
    if len(finished) < s.trials:
        raise SearchInterrupted(f"search stopped with {len(finished)} of {s.trials} trials finished; "
                                f"rerun the same command to resume")
    return found
