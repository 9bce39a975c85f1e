"""The `lenet-edge` command. Each command parses, calls one library function, prints.

This is the only place that exits: library errors (LenetEdgeError) become one line on stderr
and exit code 1.
"""
from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from lenet_edge.errors import LenetEdgeError

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True,
                  help="LeNet from Keras training to an int8 digit reader on a microcontroller.")
out = Console()
err = Console(stderr=True)

DataDir = typer.Option(None, "--data-dir", help="Folder with mnist/ and usps/ (default: $LENET_EDGE_DATA, the cache, a download).")


def one_line_errors(command):
    """Turn the library's errors into `error: ...` and exit code 1."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except LenetEdgeError as exc:
            err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(1)
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
    from lenet_edge.models.registry import describe_all

    infos = describe_all()
    if as_json:
        return print_json([info.as_dict() for info in infos])
    table = Table("model", "parameters", "connections", "input", "dataset", "description")
    for info in infos:
        table.add_row(info.name, f"{info.params:,}", f"{info.connections:,}",
                      "x".join(map(str, info.input_shape)), info.dataset, info.description)
    out.print(table)


@app.command()
@one_line_errors
def train(
    model: str = typer.Option(..., "--model", help="Zoo model name (see `lenet-edge models`)."),
    out_dir: Path = typer.Option(..., "--out", help="Run folder to create (or continue with --resume)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Train until this epoch (default: the model's recipe)."),
    seed: int = typer.Option(0, "--seed"),
    optimizer: Optional[str] = typer.Option(None, "--optimizer", help="adam, sgd, momentum (SGD, Nesterov 0.9) or rmsprop (default: the model's recipe)."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Learning rate of the first epoch (default: the model's recipe)."),
    lr_decay: Optional[float] = typer.Option(None, "--lr-decay", help="Multiply the learning rate by this every epoch (default: the model's recipe)."),
    weight_decay: Optional[float] = typer.Option(None, "--weight-decay", help="Decoupled weight decay (AdamW-style), 0 for none (default: the model's recipe)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Digits per batch (default: the model's recipe)."),
    distort: bool = typer.Option(False, "--distort", help="Random affine distortions each epoch (LeCun 1998)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last checkpoint."),
    train_limit: Optional[int] = typer.Option(None, "--train-limit", help="Use only the first N training digits."),
    test_limit: Optional[int] = typer.Option(None, "--test-limit", help="Use only the first N test digits."),
    qat: bool = typer.Option(False, "--qat", help="Train the float model into OUT/float, then QAT fine-tune it into OUT."),
    qat_epochs: int = typer.Option(1, "--qat-epochs", help="With --qat: QAT fine-tuning epochs."),
    data_dir: Optional[Path] = DataDir,
):
    """Train a zoo model, with a checkpoint every epoch; --resume continues a killed run.

    An option left out takes the model's benchmarked recipe (lenet5: 20 epochs, adam lr 1e-3
    decayed 0.85 an epoch, batch 32, weight decay 0.05; every model's in README.md).
    """
    from lenet_edge.compress.qat_run import train_then_qat
    from lenet_edge.train.loop import recipe_config, train as train_run

    config = recipe_config(model, epochs=epochs, seed=seed, optimizer=optimizer, learning_rate=lr, lr_decay=lr_decay,
                           batch_size=batch_size, distort=distort, train_limit=train_limit, test_limit=test_limit,
                           weight_decay=weight_decay)
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
    run_dir: Path = typer.Argument(..., help="A run folder written by `lenet-edge train`."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Only the first N test digits."),
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
    table = Table("true \\ predicted", *map(str, range(10)))
    for digit, row in enumerate(result.confusion):
        table.add_row(str(digit), *(f"[bold]{n}[/]" if i == digit else str(n) for i, n in enumerate(row)))
    out.print(table)
    if reject:
        table = Table("rejection", "accepted", "error among accepted")
        for point in curve:
            table.add_row(f"{100 * point.rejection:.0f}%", str(point.accepted), f"{100 * point.error:.2f}%")
        out.print(table)
        for target, rate in needed.items():
            out.print(f"{100 * target:g}% error at {100 * rate:.1f}% rejection")


@app.command()
@one_line_errors
def read(
    image: Path = typer.Argument(..., help="A PNG, JPEG or PGM of one digit or a string of digits."),
    model: Path = typer.Option(..., "--model", help="A run folder (Keras) or an int8 .tflite."),
    reject: float = typer.Option(0.5, "--reject", help="Confidence below which a digit prints as '?'."),
    deskew: bool = typer.Option(False, "--deskew", help="Straighten each digit by its moments first."),
    digits: Optional[int] = typer.Option(None, "--digits", help="The string has exactly N digits (a zip code: 5)."),
    raw_digits: Optional[Path] = typer.Option(None, "--raw-digits", help="Also write the digits as cut out, an .npz for `flash --normalize --inputs`."),
    as_json: bool = typer.Option(False, "--json"),
):
    """Read the digits of an image: over-segment, classify every candidate, keep the best path."""
    from lenet_edge.read.reader import read_image

    reading = read_image(image, model, reject, deskew, digits)
    if raw_digits is not None:
        from firmware_sim.raw_digits import save_segmented

        save_segmented(raw_digits, reading.inks)
    if as_json:
        return print_json(reading.as_dict())
    out.print(reading.text, markup=False, highlight=False)
    table = Table("digit", "confidence", "box (left, top, width, height)")
    for d in reading.digits:
        table.add_row("?" if d.rejected else str(d.digit), f"{d.confidence:.3f}",
                      f"{d.box.left}, {d.box.top}, {d.box.width}, {d.box.height}")
    out.print(table)


@app.command()
@one_line_errors
def convert(
    run_dir: Path = typer.Argument(..., help="A run folder (train, prune or qat)."),
    out_path: Path = typer.Option(..., "--out", help="The .tflite to write; its model card goes beside it as .json."),
    int8: bool = typer.Option(False, "--int8", help="Full-integer int8 (QAT ranges, or post-training calibration)."),
    float16: bool = typer.Option(False, "--float16", help="float16 weights, float compute."),
    dynamic: bool = typer.Option(False, "--dynamic-range", help="int8 weights, float activations."),
    calibration: int = typer.Option(500, "--calibration", help="int8: calibrate on the first N training digits."),
    c_array: bool = typer.Option(False, "--c-array", help="Also write model_data.h/.cc beside the file (TFLM)."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Verify on the first N test digits only."),
    as_json: bool = typer.Option(False, "--json", help="Print the model card as JSON."),
    data_dir: Optional[Path] = DataDir,
):
    """Convert a run to .tflite (float32 unless a mode flag is given), verified on the test set."""
    from convert.pipeline import convert_run
    from lenet_edge.errors import UsageError

    modes = [mode for mode, chosen in (("int8", int8), ("float16", float16), ("dynamic", dynamic)) if chosen]
    if len(modes) > 1:
        raise UsageError("choose at most one of --int8, --float16, --dynamic-range")
    report = convert_run(run_dir, out_path, modes[0] if modes else "float32", calibration, c_array, limit, data_dir)
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
    run_dir: Path = typer.Argument(..., help="A train or prune run folder."),
    out_dir: Path = typer.Option(..., "--out", help="The pruned run folder to create."),
    method: str = typer.Option("obd", "--method", help="obd (Optimal Brain Damage) or magnitude (tfmot)."),
    sparsity: float = typer.Option(0.9, "--sparsity", help="Fraction of the prunable weights to delete, in (0, 1)."),
    rounds: int = typer.Option(3, "--rounds", help="Delete-and-retrain rounds."),
    retrain_epochs: int = typer.Option(1, "--retrain-epochs", help="Retraining epochs after each deletion."),
    estimator: str = typer.Option("paper", "--estimator", help="OBD Hessian diagonal: paper (1990 backward pass) or gn (exact Gauss-Newton)."),
    sample: int = typer.Option(2000, "--sample", help="OBD: training digits the Hessian averages over."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Retraining learning rate (default: the run's last)."),
    max_error: Optional[float] = typer.Option(None, "--max-error", help="Error budget: stop, undoing the round, when test error exceeds this."),
    as_json: bool = typer.Option(False, "--json", help="Print the pruning table as JSON."),
    data_dir: Optional[Path] = DataDir,
):
    """Delete weights by OBD saliency or magnitude and retrain, round by round, into a new run."""
    import dataclasses

    from lenet_edge.compress.prune import PruneSettings, prune as prune_run

    settings = PruneSettings(method, sparsity, rounds, retrain_epochs, estimator, sample, lr, max_error=max_error)
    result = prune_run(run_dir, out_dir, settings, data_dir)
    if as_json:
        return print_json(dataclasses.asdict(result))
    table = Table("round", "sparsity", "deleted", "test error", "predicted ΔL", "measured ΔL", title=f"{method} pruning of {run_dir}")
    table.add_row("0", f"{100 * result.source_sparsity:.1f}%", "", f"{100 * result.source_error:.2f}%", "", "")
    for row in result.rounds:
        loss = ["-" if v is None else f"{v:.4f}" for v in (row.predicted_increase, row.measured_increase)]
        undone = "" if row.kept else " (undone: above --max-error)"
        table.add_row(str(row.round), f"{100 * row.sparsity:.1f}%", f"{row.deleted:,}", f"{100 * row.test_error:.2f}%{undone}", *loss)
    out.print(table)
    out.print(f"{result.prunable_weights:,} prunable weights -> {out_dir}")


@app.command()
@one_line_errors
def qat(
    run_dir: Path = typer.Argument(..., help="A train or prune run folder (a pruned run keeps its zeros)."),
    out_dir: Path = typer.Option(..., "--out", help="The QAT run folder to create."),
    epochs: int = typer.Option(1, "--epochs", help="QAT fine-tuning epochs."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Learning rate (default: the run's last)."),
    data_dir: Optional[Path] = DataDir,
):
    """Quantization-aware fine-tuning of a run into a new run (model.h5), ready for int8 conversion."""
    from lenet_edge.compress.qat_run import fine_tune_qat

    last = fine_tune_qat(run_dir, out_dir, epochs, lr, data_dir)[-1]
    out.print(f"QAT epoch {last['epoch']}: train error {100 * last['train_error']:.2f}%, "
              f"test error {100 * last['test_error']:.2f}% -> {out_dir}")


@app.command()
@one_line_errors
def check(
    model: Path = typer.Argument(..., help="An int8 .tflite model."),
    device: str = typer.Option(..., "--device", help="A shipped profile (dsp32c, samd21, nrf52840, stm32l4r5, stm32f746, rp2040) or a .toml path."),
    digits_per_second: Optional[float] = typer.Option(None, "--digits-per-second", help="Required rate; exit code 1 when missed."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
):
    """Will the model fit the device (flash, RAM) and read digits fast enough? Exit code 1 if not."""
    from firmware_sim.check import check_model

    report = check_model(model, device, digits_per_second)
    if as_json:
        print_json(report.as_dict())
    else:
        table = Table("#", "op", "output", "MACs", "nonzero MACs", "param B", "activation B",
                      title=f"{model} on {report.device}")
        for row in report.layers:
            table.add_row(str(row.index), row.opcode, "x".join(map(str, row.output_shape)), f"{row.macs:,}",
                          f"{row.effective_macs:,}", f"{row.param_bytes:,}", f"{row.activation_bytes:,}")
        out.print(table)
        for line in report.verdict_lines():
            out.print(line, markup=False, highlight=False)
        out.print("verdict: " + ("OK" if report.ok else "NO"), markup=False)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
@one_line_errors
def simulate(
    model: Path = typer.Argument(..., help="An int8 .tflite model."),
    dataset: str = typer.Option("mnist", "--dataset", help="Test set: mnist or usps (must suit the model's input size)."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Only the first N test digits."),
    inputs: Optional[Path] = typer.Option(None, "--inputs", help="Run this .npy instead (int8, or float quantized with the model's input parameters)..."),
    outputs: Optional[Path] = typer.Option(None, "--outputs", help="...and write the int8 outputs to this .npy."),
    as_json: bool = typer.Option(False, "--json"),
    data_dir: Optional[Path] = DataDir,
):
    """Run a .tflite on the bit-exact TFLM emulator: int8 test error and throughput, or raw arrays."""
    from firmware_sim.simulate import simulate_arrays, simulate_dataset
    from lenet_edge.errors import UsageError

    if (inputs is None) != (outputs is None):
        raise UsageError("--inputs and --outputs go together")
    if inputs is not None:
        result = simulate_arrays(model, inputs, outputs)
        if as_json:
            return print_json(result.as_dict())
        return out.print(f"{result.images:,} inputs -> {result.output_path} ({result.output_dtype} "
                         f"{list(result.output_shape)}) in {result.seconds:.3f} s", highlight=False)
    result = simulate_dataset(model, dataset, limit, data_dir)
    if as_json:
        return print_json(result.as_dict())
    out.print(f"{model} on {dataset} ({result.convention}): int8 test error {100 * result.error:.2f}% "
              f"({result.errors:,} of {result.images:,}); emulator {result.images_per_second:,.0f} images/s",
              highlight=False)


@app.command()
@one_line_errors
def flash(
    model: Path = typer.Argument(..., help="An int8 .tflite model."),
    board: str = typer.Option("mps2-an386", "--board", help="QEMU board: mps2-an386 (Cortex-M4), mps2-an385 (M3) or mps2-an500 (M7)."),
    images: int = typer.Option(1000, "--images", help="Test digits to run on the board."),
    dataset: str = typer.Option("mnist", "--dataset", help="Test set: mnist or usps (must suit the model's input size)."),
    inputs: Optional[Path] = typer.Option(None, "--inputs", help="Run this .npy on the board instead (with --normalize: an .npz of raw digits, see firmware_sim.raw_digits)..."),
    outputs: Optional[Path] = typer.Option(None, "--outputs", help="...and write the board's outputs to this .npy."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Keep the generated firmware folder here."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    normalize: bool = typer.Option(False, "--normalize", help="The board also normalizes raw digits (MNIST test digits made raw); report normalization vs classification instructions."),
    data_dir: Optional[Path] = DataDir,
):
    """Compile the model to C firmware, run it on an emulated Cortex-M board, compare with the emulator.

    Exit code 1 unless every output byte equals firmware_sim's (with --normalize: and every
    normalized input equals firmware_sim.normalize's).
    """
    from firmware_sim.flash import flash as flash_model
    from lenet_edge.errors import UsageError

    if (inputs is None) != (outputs is None):
        raise UsageError("--inputs and --outputs go together")
    if normalize:
        from firmware_sim.flash_normalize import flash_normalized

        if dataset != "mnist":
            raise UsageError("--normalize makes MNIST-like digits; it does not take --dataset usps")
        report = flash_normalized(model, board, images, data_dir, inputs, outputs, out_dir)
    else:
        report = flash_model(model, board, images, dataset, data_dir, inputs, outputs, out_dir)
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
    model: str = typer.Option("lenet5", "--model", help="Zoo model name (see `lenet-edge models`)."),
    device: str = typer.Option("nrf52840", "--device", help="A shipped device profile or a .toml path."),
    sparsity: float = typer.Option(0.9, "--sparsity", help="OBD: the deleted fraction of the prunable weights."),
    out_dir: Path = typer.Option(..., "--out", help="Pipeline folder (rerun to resume at the unfinished stage)."),
    quick: bool = typer.Option(False, "--quick", help="Tiny budgets for a first look (minutes, not the benchmarked recipe)."),
    board: str = typer.Option("mps2-an386", "--board", help="QEMU board of the firmware stage."),
    train_run: Optional[Path] = typer.Option(None, "--train-run", help="Reuse this finished train run instead of training."),
    data_dir: Optional[Path] = DataDir,
):
    """Train, OBD prune (and magnitude, the baseline), QAT, int8, check, firmware on QEMU, report."""
    from lenet_edge.pipeline.report import headline
    from lenet_edge.pipeline.stages import STAGE_NAMES, Budget, PipelineSettings, run_pipeline

    settings = PipelineSettings(model, device, sparsity, out_dir, Budget.quick() if quick else Budget(),
                                board=board, train_run=train_run, data_dir=data_dir)

    def progress(event):
        step = f"[{event.number}/{len(STAGE_NAMES)}] {event.name}"
        if event.status == "run":
            err.print(f"{step} ...", markup=False, highlight=False, soft_wrap=True)
        else:
            when = "finished before" if event.status == "skip" else f"done in {event.seconds:,.0f} s"
            err.print(f"{step} {when}: {headline(event.name, event.result)}", markup=False, highlight=False,
                      soft_wrap=True)

    result = run_pipeline(settings, progress)
    out.print(f"ran {', '.join(result.ran) or 'nothing'}; skipped {', '.join(result.skipped) or 'nothing'}",
              markup=False, highlight=False, soft_wrap=True)
    out.print(f"report: {result.report['markdown']}, {result.report['html']}, {result.report['summary']}",
              markup=False, highlight=False, soft_wrap=True)


if __name__ == "__main__":
    app()
