"""flash_digits(): raw digits normalized and classified on an emulated board, bit-exact.

    report = flash_digits("lenet5.tflite", digits)   # RawDigit list or an .npz of them
    report.normalize_instructions, report.classify_instructions, report.digits_per_second

The firmware (generate with normalize=True) reads raw segmented digits through semihosting, runs
runtime/normalize.c into the model's input and then the model, timing the two apart (SysTick
under -icount: exact instruction counts). Every normalized input must equal the numpy twin's
(firmware_sim.emulator.integer_normalize) and every output the emulator's on those inputs, byte for
byte. `lenet-edge flash --normalize` runs it on MNIST test digits made raw, and compares with
the host's float normalization (the `compare` callback, whose HostComparison the report holds).
"""
import struct
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from firmware_sim.emulator.cost import layer_costs
from firmware_sim.emulator.digit_files import load_raw_digits
from firmware_sim.emulator.files import save_npy
from firmware_sim.emulator.interpreter import Interpreter
from firmware_sim.emulator.integer_normalize import MAX_SIDE, check_digit, normalized_inputs
from firmware_sim.emulator.model_file import load_model
from firmware_sim.errors import ArgumentError, InputError
from firmware_sim.firmware import boards, generate, qemu, stack_usage
from firmware_sim.firmware.errors import FirmwareError
from firmware_sim.firmware.flash_arrays import PROFILE_OF_BOARD, FlashReport, flash_report
from firmware_sim.fit.devices.profile import load_profile

STATUS = {1: f"a side is 0 or above {MAX_SIDE}", 2: "no ink"}  # nn_normalize's codes
_STATS = struct.Struct("<4s4I")
_RECORD = np.dtype([("status", "<u4"), ("normalize", "<u4"), ("classify", "<u4")])
# per digit: the flash module's bound for the model, and at most 1e6 for the normalization
_NORMALIZE_BOUND = 1_000_000


@dataclass(frozen=True)
class DigitsRun:
    outputs: bytes
    inputs: bytes  # the normalized model inputs
    records: np.ndarray  # _RECORD per digit: status, normalization and classification ticks
    stack_bytes: int  # normalization and inference of one digit
    instructions_per_tick: float  # the board's SysTick clock (qemu.instructions_per_tick)


@dataclass(frozen=True)
class HostComparison:
    """The same raw digits through the host's float normalization, and the dataset images."""

    accuracy_host: float  # host normalization + the emulator
    accuracy_dataset: float  # the original 28x28 test images + the emulator
    agreement_host: float  # board's class == host normalization's class
    agreement_dataset: float  # board's class == the dataset image's class
    by_size: tuple  # per range of the longer raw side: digits, both errors


@dataclass(frozen=True)
class NormalizeReport:
    classification: FlashReport  # its instructions are the classification's alone
    inputs_identical: bool  # every normalized input byte equals the numpy twin's
    mismatched_inputs: int
    outputs_identical: bool
    raw_sizes: dict  # smallest and largest height and width, dark-ink digits
    normalize_instructions: float  # mean per digit
    normalize_min: float
    normalize_max: float
    classify_instructions: float
    normalize_share: float  # of the instructions per digit
    flash_normalize: int  # normalize.c and its table
    ram_normalize: int  # its static scratch
    device: str | None  # the profile of the board's core, for its clock
    clock_hz: float | None
    digits_per_second: float | None  # normalize + classify, one instruction a cycle
    normalized_digits_per_second: float | None  # classify only
    host: HostComparison | None  # dataset runs

    @property
    def identical(self) -> bool:
        return self.inputs_identical and self.outputs_identical

    def as_dict(self) -> dict:
        return {**asdict(self), "identical": self.identical}

    def summary_lines(self) -> list[str]:
        """The CLI's report: exactness, accuracy, the instruction split, speed, memory."""
        c, sizes = self.classification, self.raw_sizes
        lines = [f"{c.model} on {c.board} ({c.core}): {c.images:,} raw digits ({c.inputs}; "
                 f"{sizes['height'][0]}-{sizes['height'][1]} x {sizes['width'][0]}-"
                 f"{sizes['width'][1]} pixels, {sizes['dark_ink']:,} dark on white), normalized "
                 f"and classified on the board",
                 f"  normalized inputs identical to firmware_sim.emulator.integer_normalize: "
                 f"{'yes' if self.inputs_identical else 'NO'} ({self.mismatched_inputs:,} differ);"
                 f" outputs identical to the emulator: {'yes' if c.identical else 'NO'} "
                 f"({c.mismatched_images:,} differ)"]
        if c.accuracy is not None and self.host is not None:
            h = self.host
            lines.append(f"  accuracy {100 * c.accuracy:.2f}% with the board's normalization, "
                         f"{100 * h.accuracy_host:.2f}% with the host's float one (same class "
                         f"{100 * h.agreement_host:.2f}%), {100 * h.accuracy_dataset:.2f}% on the "
                         f"dataset's images")
        lines.append(f"  instructions per digit: normalization {self.normalize_instructions:,.0f} "
                     f"({self.normalize_min:,.0f}-{self.normalize_max:,.0f}), classification "
                     f"{self.classify_instructions:,.0f}; {100 * self.normalize_share:.1f}% "
                     f"normalizing")
        if self.clock_hz:
            lines.append(f"  at {self.clock_hz / 1e6:g} MHz ({self.device}, one instruction a "
                         f"cycle): {self.digits_per_second:,.0f} digits/s normalizing and "
                         f"classifying, {self.normalized_digits_per_second:,.0f} digits/s on "
                         f"normalized digits (LeNet's 1989 DSP: 10-12 and 30)")
        lines.append(f"  flash: {c.flash_inference:,} B inference, {self.flash_normalize:,} B of it "
                     f"normalization (code and table); RAM: {c.ram_inference:,} B inference "
                     f"(arena {c.ram_arena:,} + normalization scratch {self.ram_normalize:,} + "
                     f"stack {c.ram_stack:,})")
        return lines + c.location_lines()


def flash_digits(model_path, digits, board: str = boards.DEFAULT_BOARD, labels=None,
                 source: str | None = None, outputs=None, workdir=None,
                 timeout: float | None = None, compare=None,
                 optimize: str = "speed") -> NormalizeReport:
    """Normalize and classify raw digits on `board`; see the module docstring.

    `digits` is a RawDigit list, or an .npz that load_raw_digits reads; `labels` (one class per
    digit) give the accuracy, `source` the report's description of the digits. `outputs`
    receives the board's outputs (.npy). Every digit is checked before building (InputError
    naming the first bad one); then as flash_arrays() raises. `compare(interpreter, digits, got)`,
    if given, returns the report's HostComparison from the board's outputs `got`.
    """
    qemu.check_toolchain()
    target = boards.board(board)
    graph = load_model(model_path)
    raw, source = _digits(digits, source)
    expected_inputs = normalized_inputs(graph, raw)
    interpreter = Interpreter(graph)
    expected = np.ascontiguousarray(interpreter.run(expected_inputs))
    costs = layer_costs(graph)
    with tempfile.TemporaryDirectory(prefix="lenet-edge-flash-") as scratch:
        folder = Path(workdir) if workdir is not None else Path(scratch)
        firmware = generate(graph, folder, board, source=Path(model_path).name, normalize=True,
                            optimize=optimize)
        build = qemu.build(folder, board, sources=firmware.sources)
        stack = stack_usage.firmware_stack(folder)
        limit = timeout or 30 + len(raw) / 20e6 * (10 * max(sum(c.macs for c in costs), 10_000)
                                                   + _NORMALIZE_BOUND)
        run = run_digits(folder, board, raw, firmware.input_bytes, firmware.output_bytes, limit)
    _check_statuses(run.records)
    got = np.frombuffer(run.outputs, dtype=expected.dtype).reshape(expected.shape)
    got_inputs = np.frombuffer(run.inputs, np.int8).reshape(expected_inputs.shape)
    if outputs is not None:
        save_npy(outputs, got)
    classification = flash_report(graph, model_path, target, source, labels, expected, got,
                                  firmware, build, stack, _classify_result(run), costs, workdir,
                                  outputs)
    host = compare(interpreter, raw, got) if compare is not None else None
    return _report(classification, expected_inputs, got_inputs, raw, run, build, target, host)


def _digits(digits, source: str | None):
    """(raw digits, description), each digit checked."""
    if isinstance(digits, (str, Path)):
        raw, source = load_raw_digits(digits), str(digits) if source is None else source
    else:
        raw, source = list(digits), source or "raw digits"
    if not raw:
        raise ArgumentError("no digits to run")
    for index, digit in enumerate(raw):
        check_digit(digit, index)
    return raw, source


def pack_digits(digits) -> bytes:
    """digits.bin for harness/main_normalize.c: count, then (height, width, ink_dark, 0) + pixels."""
    parts = [struct.pack("<I", len(digits))]
    for digit in digits:
        height, width = digit.bitmap.shape
        parts.append(struct.pack("<4B", height, width, int(digit.ink_dark), 0))
        parts.append(np.ascontiguousarray(digit.bitmap, np.uint8).tobytes())
    return b"".join(parts)


def run_digits(folder: Path, board: str, digits, input_bytes: int, output_bytes: int,
               timeout: float) -> DigitsRun:
    """Run a built normalize-and-classify firmware on `digits` (not checked: the board's own
    checks answer through the status of each digit)."""
    folder = Path(folder)
    (folder / "digits.bin").write_bytes(pack_digits(digits))
    qemu.emulate(folder, board, timeout, ("outputs.bin", "inputs.bin", "digits_stats.bin",
                                          "stats.bin"), f"{len(digits)} digits")
    outputs, inputs = (folder / "outputs.bin").read_bytes(), (folder / "inputs.bin").read_bytes()
    records = np.frombuffer((folder / "digits_stats.bin").read_bytes(), _RECORD)
    stats = (folder / "stats.bin").read_bytes()
    n = len(digits)
    if (len(outputs), len(inputs), len(records), len(stats)) != \
            (n * output_bytes, n * input_bytes, n, _STATS.size):
        raise FirmwareError(f"the firmware wrote {len(outputs)} output, {len(inputs)} input and "
                            f"{len(records)} digit records for {n} digits")
    magic, count, _arena, stack, _empty = _STATS.unpack(stats)
    if magic != b"LENM" or count != n:
        raise FirmwareError(f"stats.bin is not the harness's (magic {magic!r}, {count} digits)")
    return DigitsRun(outputs, inputs, records, stack, qemu.instructions_per_tick(board))


def _check_statuses(records: np.ndarray) -> None:
    refused = np.flatnonzero(records["status"])
    if refused.size:
        first = int(refused[0])
        code = int(records["status"][first])
        raise InputError(f"the board refused {refused.size} digits; digit {first}: "
                         f"{STATUS.get(code, f'status {code}')}")


def _instructions(run: DigitsRun, ticks: np.ndarray) -> np.ndarray:
    return ticks.astype(np.float64) * run.instructions_per_tick


def _classify_result(run: DigitsRun) -> qemu.RunResult:
    """The classification's part of the run, as flash_report reads a plain firmware's."""
    classify = _instructions(run, run.records["classify"])
    return qemu.RunResult(run.outputs, len(classify), float(classify.mean()),
                          float(classify.min()), float(classify.max()), run.stack_bytes)


def _report(classification, expected_inputs, got_inputs, raw, run, build, target,
            host) -> NormalizeReport:
    same = (got_inputs.reshape(len(raw), -1) == expected_inputs.reshape(len(raw), -1)).all(axis=1)
    normalize = _instructions(run, run.records["normalize"])
    per_digit = float(normalize.mean()) + classification.instructions_per_inference
    parts = [build.memory.by_object.get(name, {"flash": 0, "ram": 0})
             for name in ("normalize", "normalize_data")]
    device = PROFILE_OF_BOARD.get(target.name)
    clock = load_profile(device).clock_hz if device else None
    heights, widths = zip(*(d.bitmap.shape for d in raw))
    return NormalizeReport(
        classification=classification, inputs_identical=bool(same.all()),
        mismatched_inputs=int((~same).sum()), outputs_identical=classification.identical,
        raw_sizes=dict(height=[min(heights), max(heights)], width=[min(widths), max(widths)],
                       dark_ink=sum(d.ink_dark for d in raw)),
        normalize_instructions=float(normalize.mean()), normalize_min=float(normalize.min()),
        normalize_max=float(normalize.max()),
        classify_instructions=classification.instructions_per_inference,
        normalize_share=float(normalize.mean()) / per_digit,
        flash_normalize=sum(p["flash"] for p in parts), ram_normalize=sum(p["ram"] for p in parts),
        device=device, clock_hz=clock, digits_per_second=clock / per_digit if clock else None,
        normalized_digits_per_second=(clock / classification.instructions_per_inference
                                      if clock else None),
        host=host)
