"""The `lenet-edge` command. Each command parses, calls one library function, prints.

This is the only place that exits: library errors (LenetEdgeError, FirmwareSimError) and flag
values out of range become one line on stderr and exit code 1. Piped output (not a terminal) is
plain text: tables tab-separated, no line wrapped.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import os
import sys
from pathlib import Path
from typing import Optional

# piped help is click's plain text, not rich's boxes cut at 80 columns (typer reads this at import)
os.environ.setdefault("TYPER_USE_RICH", "1" if sys.stdout.isatty() else "0")
import typer  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table
from rich.text import Text

from firmware_sim.errors import FirmwareSimError
from lenet_edge.errors import LenetEdgeError, UsageError
from lenet_edge.outputs import claim_files, claim_folder
from lenet_edge.pipeline.stages import DEFAULT_MODEL  # (light: the stages import their libraries late)

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True,
                  help="LeNet from Keras training to an int8 digit reader on a microcontroller.")
# soft_wrap: a long line stays one line (a terminal folds it for display; a pipe gets it whole)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def fail(message: str):
    """The one-line error contract: `error: ...` on stderr, exit code 1."""
    err.print(f"error: {message}", markup=False, highlight=False)
    raise typer.Exit(1)


# ---- flag checks: Option callbacks, so a bad value stops before the command imports anything ----

def _rule(holds, wording: str):
    def check(ctx: typer.Context, param: typer.CallbackParam, value):
        if value is not None and not ctx.resilient_parsing and not holds(value):
            fail(f"{param.opts[0]} must be {wording}, got {value}")
        return value
    return check


AT_LEAST_1 = _rule(lambda v: v >= 1, "at least 1")
AT_LEAST_0 = _rule(lambda v: v >= 0, "at least 0")
POSITIVE = _rule(lambda v: v > 0, "positive")
FRACTION = _rule(lambda v: 0 < v < 1, "in (0, 1)")
PROBABILITY = _rule(lambda v: 0 <= v <= 1, "in [0, 1]")


def _choice(*choices):
    def check(ctx: typer.Context, param: typer.CallbackParam, value):
        if value is not None and not ctx.resilient_parsing and value not in choices:
            fail(f"{param.opts[0]} must be one of {', '.join(choices)}, got {value}")
        return value
    return check


RUNTIME = _choice("firmware", "tflm")
OPTIMIZE = _choice("speed", "size")
Optimize = typer.Option("speed", "--optimize", callback=OPTIMIZE, help="Each conv's weight encoding: the fastest on the core by the cost model (speed) or the smallest (size).")


def EXISTING(ctx: typer.Context, param: typer.CallbackParam, value):
    """An input path must exist (an output path does not take this check)."""
    if value is not None and not ctx.resilient_parsing and not Path(value).exists():
        name = param.opts[0] if param.opts[0].startswith("-") else param.name.upper()
        fail(f"{name} {value} does not exist")
    return value


DataDir = typer.Option(None, "--data-dir", callback=EXISTING,
                       help="Folder with mnist/ and usps/ (default: $LENET_EDGE_DATA, the cache, a download).")
Convention = typer.Option(None, "--convention", help="The input convention (lenet5_32, mnist_28, usps_20) for a .tflite without lenet-edge's interface metadata; overrides the model's.")


def _version(value: bool):
    if value:
        from importlib import metadata

        try:
            version = metadata.version("lenet-edge")
        except metadata.PackageNotFoundError:  # run from a source tree, not installed
            from lenet_edge import __version__ as version
        print(f"lenet-edge {version}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="Print the version and exit.")):
    """LeNet from Keras training to an int8 digit reader on a microcontroller."""


def show_table(headers, rows, title: str | None = None) -> None:
    """A rich table on a terminal; piped, plain tab-separated lines (markup removed), never wrapped."""
    if out.is_terminal:
        table = Table(*headers, title=title)
        for row in rows:
            table.add_row(*row)
        return out.print(table)
    if title:
        print(title)
    for row in (headers, *rows):
        print("\t".join(Text.from_markup(cell).plain for cell in row))


def one_line_errors(command):
    """Turn the library's errors into `error: ...` and exit code 1."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (LenetEdgeError, FirmwareSimError) as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            err.print("interrupted", markup=False)
            raise typer.Exit(130)
    return wrapper


def print_json(value) -> None:
    print(json.dumps(value, indent=2))


@app.command()
@one_line_errors
def models(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")):
    """List the model zoo: trainable parameters, connections (multiply-adds per digit), input."""
    from lenet_edge.models.catalog import MODELS  # data: no TensorFlow, no model built

    infos = MODELS.values()
    if as_json:
        return print_json([info.as_dict() for info in infos])
    show_table(("model", "parameters", "connections", "input", "dataset", "description"),
               [(info.name, f"{info.params:,}", f"{info.connections:,}", "x".join(map(str, info.input_shape)),
                 info.dataset, info.description) for info in infos])


@app.command()
@one_line_errors
def train(
    model: str = typer.Option(..., "--model", help="Zoo model name (see `lenet-edge models`)."),
    out_dir: Path = typer.Option(..., "--out", help="Run folder to create (or continue with --resume)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", callback=AT_LEAST_1, help="Train until this epoch (default: the model's recipe)."),
    seed: int = typer.Option(0, "--seed", callback=AT_LEAST_0),
    optimizer: Optional[str] = typer.Option(None, "--optimizer", help="adam, sgd, momentum (SGD, Nesterov 0.9) or rmsprop (default: the model's recipe)."),
    lr: Optional[float] = typer.Option(None, "--lr", callback=POSITIVE, help="Learning rate of the first epoch (default: the model's recipe)."),
    lr_decay: Optional[float] = typer.Option(None, "--lr-decay", callback=_rule(lambda v: 0 < v <= 1, "in (0, 1]"),
                                             help="Multiply the learning rate by this every epoch (default: the model's recipe)."),
    weight_decay: Optional[float] = typer.Option(None, "--weight-decay", callback=AT_LEAST_0, help="Decoupled weight decay (AdamW-style), 0 for none (default: the model's recipe)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", callback=AT_LEAST_1, help="Digits per batch (default: the model's recipe)."),
    distort: Optional[bool] = typer.Option(None, "--distort/--no-distort", help="Random affine distortions each epoch (LeCun 1998; default: the model's recipe)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last checkpoint."),
    train_limit: Optional[int] = typer.Option(None, "--train-limit", callback=AT_LEAST_1, help="Use only the first N training digits."),
    test_limit: Optional[int] = typer.Option(None, "--test-limit", callback=AT_LEAST_1, help="Use only the first N test digits."),
    qat: bool = typer.Option(False, "--qat", help="Train the float model into OUT/float, then QAT fine-tune it into OUT."),
    qat_epochs: int = typer.Option(1, "--qat-epochs", callback=AT_LEAST_1, help="With --qat: QAT fine-tuning epochs."),
    start_from: Optional[Path] = typer.Option(None, "--from", callback=EXISTING, help="Start from this finished run's weights (e.g. lenet5-reader from a lenet5 run)."),
    data: Optional[str] = typer.Option(None, "--data", help="Training digits: the model's dataset (default), or mnist+usps: MNIST's and USPS's (7,291, made MNIST-like as the reader's USPS strings); the test digits stay MNIST's."),
    data_dir: Optional[Path] = DataDir,
):
    """Train a zoo model, with a checkpoint every epoch; --resume continues a killed run.

    An option left out takes the model's benchmarked recipe (lenet5: 20 epochs, adam lr 1e-3
    decayed 0.85 an epoch, batch 32, weight decay 0.05; every model's in README.md).
    """
    with claim_folder(out_dir, "train"):  # first: before the imports and the training it would lose
        from lenet_edge.compress.qat_run import train_then_qat
        from lenet_edge.train.loop import recipe_config, train as train_run

        config = recipe_config(model, epochs=epochs, seed=seed, optimizer=optimizer, learning_rate=lr,
                               lr_decay=lr_decay, batch_size=batch_size, distort=distort,
                               train_limit=train_limit, test_limit=test_limit, weight_decay=weight_decay,
                               source=None if start_from is None else str(start_from), data=data)
        if qat:
            metrics = train_then_qat(out_dir, config, qat_epochs, resume=resume, data_dir=data_dir)
        else:
            metrics = train_run(out_dir, config, resume=resume, data_dir=data_dir)
    last = metrics[-1]
    running = " (running)" if "train_error_kind" in last else ""
    out.print(f"{model}{' QAT' if qat else ''}: epoch {last['epoch']}, train error{running} {100 * last['train_error']:.2f}%, "
              f"test error {100 * last['test_error']:.2f}% -> {out_dir}")


@app.command()
@one_line_errors
def evaluate(
    run_dir: Path = typer.Argument(..., callback=EXISTING, help="A run folder written by `lenet-edge train`."),
    limit: Optional[int] = typer.Option(None, "--limit", callback=AT_LEAST_1, help="Only the first N test digits."),
    reject: bool = typer.Option(False, "--reject", help="Also the error-vs-rejection curve."),
    as_json: bool = typer.Option(False, "--json"),
    data_dir: Optional[Path] = DataDir,
):
    """Test error and confusion matrix of a run."""
    from lenet_edge.read.rejection import ERROR_TARGETS, rejection_curve, rejection_for_error
    from lenet_edge.train.evaluate import evaluate as evaluate_run

    result = evaluate_run(run_dir, limit, data_dir)
    curve = rejection_curve(result.outputs, result.labels) if reject else []
    needed = {t: rejection_for_error(result.outputs, result.labels, t) for t in ERROR_TARGETS} if reject else {}
    if as_json:
        extra = {"rejection": [dataclasses.asdict(p) for p in curve],
                 "rejection_for_error": {str(t): r for t, r in needed.items()}} if reject else {}
        return print_json({"model": result.model, "digits": result.digits, "errors": result.errors,
                           "error": result.error, "confusion": result.confusion, **extra})
    out.print(f"{result.model}: test error {100 * result.error:.2f}% ({result.errors} of {result.digits})")
    columns = [*"0123456789", "not a digit"][:len(result.confusion[0])]  # 11 for lenet5-reader
    show_table(("true \\ predicted", *columns),
               [(str(digit), *(f"[bold]{n}[/]" if i == digit else str(n) for i, n in enumerate(row)))
                for digit, row in enumerate(result.confusion)])
    if reject:
        show_table(("rejection", "accepted", "error among accepted"),
                   [(f"{100 * point.rejection:.0f}%", str(point.accepted), f"{100 * point.error:.2f}%")
                    for point in curve])
        for target, rate in needed.items():
            out.print(f"{100 * target:g}% error at {100 * rate:.1f}% rejection")


@app.command()
@one_line_errors
def read(
    image: Path = typer.Argument(..., callback=EXISTING, help="A PNG, JPEG or PGM of one digit or a string of digits."),
    model: Path = typer.Option(..., "--model", callback=EXISTING, help="A run folder (Keras) or an int8 .tflite."),
    reject: float = typer.Option(0.5, "--reject", callback=PROBABILITY, help="Confidence below which a digit prints as '?'."),
    reject_string: float = typer.Option(0.0, "--reject-string", callback=PROBABILITY, help="Reject the whole string (for a person to read) when a digit's margin, its probability minus the next class's, is below M."),
    deskew: bool = typer.Option(False, "--deskew", help="Straighten each digit by its moments first."),
    digits: Optional[int] = typer.Option(None, "--digits", callback=AT_LEAST_1, help="The string has exactly N digits (a zip code: 5)."),
    raw_digits: Optional[Path] = typer.Option(None, "--raw-digits", help="Also write the digits as cut out, an .npz for `flash --normalize --inputs`."),
    as_json: bool = typer.Option(False, "--json"),
    convention: Optional[str] = Convention,
):
    """Read the digits of an image: over-segment, classify every candidate, keep the best path."""
    from lenet_edge.read.reader import read_image

    with claim_files([raw_digits], "read", "--raw-digits"):
        reading = read_image(image, model, reject, deskew, digits, convention, reject_string)
        if raw_digits is not None:
            from lenet_edge.board.raw_digits import save_segmented

            save_segmented(raw_digits, reading.inks)
    if as_json:
        return print_json(reading.as_dict())
    out.print(reading.text, markup=False, highlight=False)
    if reading.rejected:
        out.print(f"rejected: the weakest digit's margin {reading.weakest_margin:.3f} is below "
                  f"--reject-string {reject_string:g}", markup=False, highlight=False)
    show_table(("digit", "confidence", "margin", "box (left, top, width, height)"),
               [("?" if d.rejected else str(d.digit), f"{d.confidence:.3f}", f"{d.margin:.3f}",
                 f"{d.box.left}, {d.box.top}, {d.box.width}, {d.box.height}") for d in reading.digits])


@app.command()
@one_line_errors
def convert(
    run_dir: Path = typer.Argument(..., callback=EXISTING, help="A run folder (train, prune or qat)."),
    out_path: Path = typer.Option(..., "--out", help="The .tflite to write; its model card goes beside it as .json."),
    int8: bool = typer.Option(False, "--int8", help="Full-integer int8 (QAT ranges, or post-training calibration)."),
    float16: bool = typer.Option(False, "--float16", help="float16 weights, float compute."),
    dynamic: bool = typer.Option(False, "--dynamic-range", help="int8 weights, float activations."),
    calibration: int = typer.Option(500, "--calibration", callback=AT_LEAST_1, help="int8: calibrate on the first N training digits."),
    c_array: bool = typer.Option(False, "--c-array", help="Also write <name>_data.h/.cc beside the file (TFLM; array g_<name>)."),
    limit: Optional[int] = typer.Option(None, "--limit", callback=AT_LEAST_1, help="Verify on the first N test digits only."),
    as_json: bool = typer.Option(False, "--json", help="Print the model card as JSON."),
    data_dir: Optional[Path] = DataDir,
):
    """Convert a run to .tflite (float32 unless a mode flag is given), verified on the test set."""
    from convert.from_run import convert_run, output_paths
    from lenet_edge.errors import UsageError

    modes = [mode for mode, chosen in (("int8", int8), ("float16", float16), ("dynamic", dynamic)) if chosen]
    if len(modes) > 1:
        raise UsageError("choose at most one of --int8, --float16, --dynamic-range")
    with claim_files(output_paths(out_path, c_array), "convert", "--out"):
        report = convert_run(run_dir, out_path, modes[0] if modes else "float32", calibration, c_array, limit,
                             data_dir)
    if as_json:
        return print_json(report.as_dict())
    check = report.verification
    out.print(f"{report.model} {report.mode} ({report.quantization or 'float'}): {report.size:,} bytes -> {report.path}",
              soft_wrap=True)
    out.print(f"test error on {check.digits:,} digits: keras {100 * check.keras_error:.2f}%, "
              f"tflite {100 * check.tflite_error:.2f}%; agreement {100 * check.agreement:.2f}%", soft_wrap=True)
    out.print("wrote " + ", ".join(str(path) for path in report.files), soft_wrap=True)


@app.command()
@one_line_errors
def prune(
    run_dir: Path = typer.Argument(..., callback=EXISTING, help="A train or prune run folder."),
    out_dir: Path = typer.Option(..., "--out", help="The pruned run folder to create."),
    method: str = typer.Option("obd", "--method", help="obd (Optimal Brain Damage) or magnitude (tfmot)."),
    sparsity: Optional[float] = typer.Option(None, "--sparsity", callback=FRACTION, help="Fraction of the prunable weights to delete, in (0, 1) (default 0.9; not with a --device budget)."),
    rounds: int = typer.Option(3, "--rounds", callback=AT_LEAST_1, help="Delete-and-retrain rounds."),
    retrain_epochs: int = typer.Option(1, "--retrain-epochs", callback=AT_LEAST_0, help="Retraining epochs after each deletion (0: none)."),
    estimator: Optional[str] = typer.Option(None, "--estimator", help="OBD Hessian diagonal: paper (1990 backward pass) or gn (exact Gauss-Newton); default gn with --device, paper otherwise."),
    sample: int = typer.Option(2000, "--sample", callback=AT_LEAST_1, help="OBD: training digits the Hessian averages over."),
    lr: Optional[float] = typer.Option(None, "--lr", callback=POSITIVE, help="Retraining learning rate (default: the run's last)."),
    max_error: Optional[float] = typer.Option(None, "--max-error", callback=FRACTION, help="Error budget: stop, undoing the round, when test error exceeds this."),
    device: Optional[str] = typer.Option(None, "--device", help="Prune for this device's budget (a profile name or .toml) instead of a sparsity."),
    digits_per_second: Optional[float] = typer.Option(None, "--digits-per-second", callback=POSITIVE, help="With --device: the rate to reach, as the cost model predicts it."),
    flash_bytes: Optional[int] = typer.Option(None, "--flash-bytes", callback=AT_LEAST_1, help="With --device: the flash the firmware may take."),
    ram_bytes: Optional[int] = typer.Option(None, "--ram-bytes", callback=AT_LEAST_1, help="With --device: the RAM the firmware may take."),
    rank: str = typer.Option("per-cost", "--rank", help="OBD towards a budget: per-cost (saliency per unit of device cost) or saliency."),
    granularity: str = typer.Option("weight", "--granularity", help="OBD: weight, or map (whole filters)."),
    as_json: bool = typer.Option(False, "--json", help="Print the pruning table as JSON."),
    data_dir: Optional[Path] = DataDir,
):
    """Delete weights by OBD saliency or magnitude and retrain, round by round, into a new run:
    to a sparsity, or until the cost model says a device's budget is met (then checked on QEMU)."""
    budget = _prune_budget(device, digits_per_second, flash_bytes, ram_bytes, sparsity)
    with claim_folder(out_dir, "prune"):
        from lenet_edge.compress.prune import PruneSettings, prune as prune_run

        settings = PruneSettings(method, sparsity or 0.9, rounds, retrain_epochs, estimator, sample, lr,
                                 max_error=max_error, budget=budget, rank=rank, granularity=granularity)
        result = prune_run(run_dir, out_dir, settings, data_dir)
    if as_json:
        return print_json(dataclasses.asdict(result))
    rows = [("0", f"{100 * result.source_sparsity:.1f}%", "", f"{100 * result.source_error:.2f}%", "", "", "")]
    for row in result.rounds:
        loss = ["-" if v is None else f"{v:.4f}" for v in (row.predicted_increase, row.measured_increase)]
        undone = "" if row.kept else " (undone: above --max-error)"
        rate = "-" if row.digits_per_second is None else f"{row.digits_per_second:,.1f}"
        rows.append((str(row.round), f"{100 * row.sparsity:.1f}%", f"{row.deleted:,}",
                     f"{100 * row.test_error:.2f}%{undone}", *loss, rate))
    show_table(("round", "sparsity", "deleted", "test error", "predicted ΔL", "measured ΔL", "digits/s"), rows,
               title=f"{method} pruning of {run_dir}")
    for line in _budget_lines(result):
        out.print(line)
    out.print(f"{result.prunable_weights:,} prunable weights -> {out_dir}")


def _prune_budget(device, digits_per_second, flash_bytes, ram_bytes, sparsity):
    """The device budget of `prune`'s flags, None without --device; UsageError for a mix."""
    limits = (digits_per_second, flash_bytes, ram_bytes)
    if device is None:
        if any(limit is not None for limit in limits):
            raise UsageError("--digits-per-second, --flash-bytes and --ram-bytes need --device")
        return None
    if sparsity is not None:
        raise UsageError("--sparsity and a --device budget are two targets; give one")
    from lenet_edge.compress.budget import Budget

    budget = Budget(device, *limits)
    budget.validate()
    return budget


def _budget_lines(result) -> list[str]:
    outcome = result.budget
    if outcome is None:
        return []
    budget = result.settings.budget
    lines = [f"cost model on {budget.device}: dense {outcome.dense.digits_per_second:,.1f} digits/s "
             f"({outcome.dense.instructions:,.0f} instructions), floor {outcome.floor.digits_per_second:,.1f}"]
    if not result.rounds:
        return lines + ["the model already meets the budget: nothing pruned"]
    final = outcome.final
    lines.append(f"predicted after pruning: {final.digits_per_second:,.1f} digits/s "
                 f"({final.instructions:,.0f} instructions), flash {final.flash_bytes:,} B, RAM {final.ram_bytes:,} B")
    verdict = "meets" if outcome.met else "MISSES"
    asked = "" if budget.digits_per_second is None else \
        f" ({100 * (outcome.measured_digits_per_second / budget.digits_per_second - 1):+.1f}% against {budget.digits_per_second:,.1f})"
    lines.append(f"measured on {outcome.board}: {outcome.measured_instructions:,.0f} instructions per digit, "
                 f"{outcome.measured_digits_per_second:,.1f} digits/s{asked}: {verdict} the budget; "
                 f"test error {100 * result.source_error:.2f}% -> {100 * result.rounds[-1].test_error:.2f}%")
    return lines


@app.command()
@one_line_errors
def qat(
    run_dir: Path = typer.Argument(..., callback=EXISTING, help="A train or prune run folder (a pruned run keeps its zeros)."),
    out_dir: Path = typer.Option(..., "--out", help="The QAT run folder to create."),
    epochs: int = typer.Option(1, "--epochs", callback=AT_LEAST_1, help="QAT fine-tuning epochs."),
    lr: Optional[float] = typer.Option(None, "--lr", callback=POSITIVE, help="Learning rate (default: the run's last)."),
    data_dir: Optional[Path] = DataDir,
):
    """Quantization-aware fine-tuning of a run into a new run (model.h5), ready for int8 conversion."""
    with claim_folder(out_dir, "qat"):
        from lenet_edge.compress.qat_run import fine_tune_qat

        last = fine_tune_qat(run_dir, out_dir, epochs, lr, data_dir)[-1]
    out.print(f"QAT epoch {last['epoch']}: train error {100 * last['train_error']:.2f}%, "
              f"test error {100 * last['test_error']:.2f}% -> {out_dir}")


@app.command()
@one_line_errors
def check(
    model: Path = typer.Argument(..., callback=EXISTING, help="An int8 .tflite model."),
    device: str = typer.Option(..., "--device", help="A shipped profile (dsp32c, samd21, nrf52840, stm32l4r5, stm32f746, rp2040) or a .toml path."),
    digits_per_second: Optional[float] = typer.Option(None, "--digits-per-second", callback=POSITIVE, help="Required rate; exit code 1 when missed."),
    runtime: str = typer.Option("firmware", "--runtime", callback=RUNTIME, help="firmware: the C `flash` generates, predicted from the core's calibrated cost model; tflm: TFLM's arena, all MACs at the profile's rate (an estimate)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON (flash_inference, ram_inference, instructions_per_inference: the keys of flash --json)."),
    optimize: str = Optimize,
):
    """Will the model fit the device (flash, RAM) and read digits fast enough? Exit code 1 if not."""
    from firmware_sim.fit.check import check_model

    report = check_model(model, device, digits_per_second, runtime, optimize)
    if as_json:
        print_json(report.as_dict())
    else:
        show_table(("#", "op", "output", "MACs", "nonzero MACs", "param B", "activation B"),
                   [(str(row.index), row.opcode, "x".join(map(str, row.output_shape)), f"{row.macs:,}",
                     f"{row.effective_macs:,}", f"{row.param_bytes:,}", f"{row.activation_bytes:,}")
                    for row in report.layers], title=f"{model} on {report.device}")
        for line in report.verdict_lines():
            out.print(line, markup=False, highlight=False)
        out.print("verdict: " + ("OK" if report.ok else "NO"), markup=False)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
@one_line_errors
def simulate(
    model: Path = typer.Argument(..., callback=EXISTING, help="An int8 .tflite model."),
    dataset: str = typer.Option("mnist", "--dataset", help="Test set: mnist or usps (must suit the model's input size)."),
    limit: Optional[int] = typer.Option(None, "--limit", callback=AT_LEAST_1, help="Only the first N test digits."),
    inputs: Optional[Path] = typer.Option(None, "--inputs", callback=EXISTING, help="Run this .npy instead (int8, or float quantized with the model's input parameters)..."),
    outputs: Optional[Path] = typer.Option(None, "--outputs", help="...and write the int8 outputs to this .npy."),
    as_json: bool = typer.Option(False, "--json"),
    data_dir: Optional[Path] = DataDir,
    convention: Optional[str] = Convention,
):
    """Run a .tflite on the bit-exact TFLM emulator: int8 test error and throughput, or raw arrays."""
    from firmware_sim.emulator.arrays import simulate_arrays
    from lenet_edge.board.simulate import simulate_dataset
    from lenet_edge.errors import UsageError

    if (inputs is None) != (outputs is None):
        raise UsageError("--inputs and --outputs go together")
    if inputs is not None and convention is not None:
        raise UsageError("--convention prepares test digits; --inputs arrays run as they are")
    if inputs is not None:
        with claim_files([outputs], "simulate", "--outputs"):
            result = simulate_arrays(model, inputs, outputs)
        if as_json:
            return print_json(result.as_dict())
        return out.print(f"{result.images:,} inputs -> {result.output_path} ({result.output_dtype} "
                         f"{list(result.output_shape)}) in {result.seconds:.3f} s", highlight=False)
    result = simulate_dataset(model, dataset, limit, data_dir, convention)
    if as_json:
        return print_json(result.as_dict())
    out.print(f"{model} on {dataset} ({result.convention}): int8 test error {100 * result.error:.2f}% "
              f"({result.errors:,} of {result.images:,}); emulator {result.images_per_second:,.0f} images/s",
              highlight=False)


@app.command()
@one_line_errors
def calibrate(
    board: str = typer.Option("mps2-an386", "--board", help="QEMU board whose core to measure: mps2-an386 (Cortex-M4), mps2-an385 (M3), mps2-an500 (M7), microbit (M0), mps2-an505 (M33) or mps3-an547 (M55)."),
    models: Path = typer.Option(Path("runs/calibration-models"), "--models", help="Folder caching the calibration models (made on first use)."),
    out_file: Optional[Path] = typer.Option(None, "--out", help="Coefficient file to write (default: the shipped firmware_sim/fit/cores/<core>.toml)."),
    images: int = typer.Option(5, "--images", callback=AT_LEAST_1, help="Inputs each calibration model runs on."),
):
    """Measure the cost model's coefficients of a board's core on QEMU and write its TOML."""
    from lenet_edge.board.calibrate import calibrate as calibrate_board

    values = calibrate_board(board, models, out_file, images,
                             progress=lambda line: out.print(line, markup=False, highlight=False))
    out.print(f"{values['core']} on {board}: {values['calibration_models']} models, max relative "
              f"residual {100 * values['max_relative_residual']:.2f}%, {values['run_seconds']:.0f} s "
              f"-> {values['path']}", markup=False, highlight=False)


@app.command()
@one_line_errors
def flash(
    model: Path = typer.Argument(..., callback=EXISTING, help="An int8 .tflite model."),
    board: str = typer.Option("mps2-an386", "--board", help="QEMU board: mps2-an386 (Cortex-M4), mps2-an385 (M3), mps2-an500 (M7), mps2-an505 (M33), mps3-an547 (M55, Helium) or microbit (M0; also the build for Cortex-M0+ parts)."),
    images: int = typer.Option(1000, "--images", callback=AT_LEAST_1, help="Test digits to run on the board."),
    dataset: str = typer.Option("mnist", "--dataset", help="Test set: mnist or usps (must suit the model's input size)."),
    inputs: Optional[Path] = typer.Option(None, "--inputs", callback=EXISTING, help="Run this .npy on the board instead (with --normalize: an .npz of raw digits, see firmware_sim.emulator.digit_files)..."),
    outputs: Optional[Path] = typer.Option(None, "--outputs", help="...and write the board's outputs to this .npy."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Keep the generated firmware folder here."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    normalize: bool = typer.Option(False, "--normalize", help="The board also normalizes raw digits (MNIST test digits made raw); report normalization vs classification instructions."),
    data_dir: Optional[Path] = DataDir,
    convention: Optional[str] = Convention,
    optimize: str = Optimize,
):
    """Compile the model to C firmware, run it on an emulated Cortex-M board, compare with the emulator.

    Exit code 1 unless every output byte equals firmware_sim's (with --normalize: and every
    normalized input equals firmware_sim.emulator.integer_normalize's).
    """
    from lenet_edge.board.flash import flash as flash_model
    from lenet_edge.errors import UsageError

    if (inputs is None) != (outputs is None):
        raise UsageError("--inputs and --outputs go together")
    if normalize and dataset != "mnist":
        raise UsageError("--normalize makes MNIST-like digits; it does not take --dataset usps")
    if convention is not None and (normalize or inputs is not None):
        raise UsageError("--convention prepares test digits; it does not go with --inputs or "
                         "--normalize (which takes the model's own interface)")
    with claim_folder(out_dir, "flash"), claim_files([outputs], "flash", "--outputs"):
        if normalize:
            from lenet_edge.board.flash_normalize import flash_normalized

            report = flash_normalized(model, board, images, data_dir, inputs, outputs, out_dir,
                                      optimize=optimize)
        else:
            report = flash_model(model, board, images, dataset, data_dir, inputs, outputs, out_dir,
                                 convention=convention, optimize=optimize)
    if as_json:
        print_json(report.as_dict())
    else:
        for line in report.summary_lines():
            out.print(line, markup=False, highlight=False, soft_wrap=True)
    if not report.identical:
        raise typer.Exit(1)


@app.command()
@one_line_errors
def pipeline(
    model: str = typer.Option(DEFAULT_MODEL, "--model", help="Zoo model name (see `lenet-edge models`)."),
    device: str = typer.Option("nrf52840", "--device", help="A shipped device profile or a .toml path."),
    sparsity: Optional[float] = typer.Option(None, "--sparsity", callback=_rule(lambda v: 0 <= v < 1, "in [0, 1)"),
                                             help="OBD: the deleted fraction of the prunable weights (default 0.9; 0: no pruning)."),
    digits_per_second: Optional[float] = typer.Option(None, "--digits-per-second", callback=POSITIVE, help="Prune to this rate on --device instead of to --sparsity (OBD by saliency per cost, compared with OBD by saliency and magnitude)."),
    out_dir: Path = typer.Option(..., "--out", help="Pipeline folder (rerun to resume at the unfinished stage)."),
    quick: bool = typer.Option(False, "--quick", help="Tiny budgets for a first look (minutes, not the benchmarked recipe)."),
    board: str = typer.Option("mps2-an386", "--board", help="QEMU board of the firmware stage (as for `flash --board`: mps2-an386, mps2-an385, mps2-an500, mps2-an505, mps3-an547, microbit)."),
    train_run: Optional[Path] = typer.Option(None, "--train-run", callback=EXISTING, help="Reuse this finished train run instead of training."),
    data_dir: Optional[Path] = DataDir,
    optimize: str = Optimize,
    epochs: Optional[int] = typer.Option(None, "--epochs", callback=AT_LEAST_1, help="Training epochs (default: the recipe's 20, or --quick's 2)."),
    distort: bool = typer.Option(False, "--distort", help="Train on elastically distorted digits (as `train --distort`)."),
    train_limit: Optional[int] = typer.Option(None, "--train-limit", callback=AT_LEAST_1, help="Train on the first N training digits (default: all, or --quick's 10,000)."),
    qat_epochs: Optional[int] = typer.Option(None, "--qat-epochs", callback=AT_LEAST_0, help="QAT epochs (default 3; 0: no QAT, the pruned model converted post-training)."),
    seed: int = typer.Option(0, "--seed", callback=AT_LEAST_0, help="Training seed."),
    granularity: str = typer.Option("weight", "--granularity", help="OBD: weight, or map (whole filters, removed from the graph; magnitude pruning stays by weights)."),
):
    """Train, OBD prune to a sparsity or a rate (magnitude, and with a rate OBD by saliency alone, to
    compare), QAT, int8, check, firmware on QEMU, report."""
    with claim_folder(out_dir, "pipeline"):  # first: before the imports and the stages
        from lenet_edge.pipeline.stages import DEFAULT_SPARSITY, Budget, PipelineSettings, pipeline_budget, run_pipeline

        budget = pipeline_budget(Budget.quick() if quick else Budget(), epochs=epochs, distort=distort,
                                 train_limit=train_limit, qat_epochs=qat_epochs, seed=seed)
        settings = PipelineSettings(model, device, DEFAULT_SPARSITY if sparsity is None else sparsity, out_dir,
                                    budget, board=board,
                                    digits_per_second=digits_per_second, train_run=train_run, data_dir=data_dir,
                                    optimize=optimize, granularity=granularity)
        result = run_pipeline(settings, _pipeline_progress)
    out.print(f"ran {', '.join(result.ran) or 'nothing'}; skipped {', '.join(result.skipped) or 'nothing'}",
              markup=False, highlight=False, soft_wrap=True)
    out.print(f"report: {result.report['markdown']}, {result.report['html']}, {result.report['summary']}",
              markup=False, highlight=False, soft_wrap=True)


@app.command()
@one_line_errors
def tune(
    device: str = typer.Option(..., "--device", help="A shipped device profile or a .toml path."),
    digits_per_second: Optional[float] = typer.Option(None, "--digits-per-second", callback=POSITIVE, help="The rate the device must reach."),
    flash_bytes: Optional[int] = typer.Option(None, "--flash-bytes", callback=AT_LEAST_1, help="Flash limit (default: the profile's)."),
    ram_bytes: Optional[int] = typer.Option(None, "--ram-bytes", callback=AT_LEAST_1, help="RAM limit (default: the profile's)."),
    trials: int = typer.Option(..., "--trials", callback=AT_LEAST_1, help="Trials to run (one a CPU at a time)."),
    out_dir: Path = typer.Option(..., "--out", help="Search folder: results, checkpoints, the search state (rerun to resume)."),
    quick: bool = typer.Option(False, "--quick", help="A first look: a small space, 2,000 training digits, one or two epochs."),
    address: Optional[str] = typer.Option(None, "--address", help="host:port of an existing Ray cluster (default: a local one on loopback)."),
    flash_best: int = typer.Option(1, "--flash-best", callback=AT_LEAST_0, help="Front trials to confirm on QEMU."),
    seed: int = typer.Option(0, "--seed", callback=AT_LEAST_0, help="The searcher's and the trainings' seed."),
    data_dir: Optional[Path] = DataDir,
):
    """Search the LeNet design space for a device on Ray Tune: the Pareto front of test error,
    digits per second and RAM, the best trials confirmed on QEMU, report.html."""
    with claim_folder(out_dir, "tune"):
        from lenet_edge.tune.command import run_tune
        from lenet_edge.tune.search import TuneSettings

        summary = run_tune(TuneSettings(device, trials, out_dir, digits_per_second, flash_bytes, ram_bytes, quick,
                                        address, seed, data_dir), flash_best)
    for line in tune_lines(summary):
        out.print(line, markup=False, highlight=False, soft_wrap=True)


def tune_lines(summary: dict) -> list[str]:
    from lenet_edge.tune.report import verdict

    lines = [f"{len(summary['trials'])} trials in {summary['seconds']:,.0f} s; front of {len(summary['front'])}:"]
    lines += [f"  {t['trial_id']}: error {100 * t['error']:.2f}%, {t['digits_per_second']:,.1f} digits/s, "
              f"RAM {t['ram_bytes']:,} B, flash {t['flash_bytes']:,} B{'' if t['meets'] else ' (outside the limits)'}: "
              f"{t['command']}" for t in summary["front"]]
    lines += [f"  QEMU, trial {c['trial_id']}: {c['measured_instructions']:,.0f} instructions measured, "
              f"{c['predicted_instructions']:,.0f} predicted; bit-exact: {'yes' if c['identical'] else 'NO'}"
              for c in summary["confirmed"]]
    return [*lines, verdict(summary), f"report: {summary['report']['html']}, {summary['report']['summary']}"]


def _pipeline_progress(event) -> None:
    from lenet_edge.pipeline.report import headline
    from lenet_edge.pipeline.stages import STAGE_NAMES

    step = f"[{event.number}/{len(STAGE_NAMES)}] {event.name}"
    if event.status == "run":
        err.print(f"{step} ...", markup=False, highlight=False)
    else:
        when = "finished before" if event.status == "skip" else f"done in {event.seconds:,.0f} s"
        err.print(f"{step} {when}: {headline(event.name, event.result)}", markup=False, highlight=False)


if __name__ == "__main__":
    app()
