"""flash_arrays(): an int8 .tflite as firmware on an emulated Cortex-M board, checked against the
emulator, on input arrays (`lenet-edge flash` runs it on test digits).

    report = flash_arrays("lenet5.tflite", x_int8, board="mps2-an386", labels=y)
    report.identical, report.accuracy, report.instructions_per_effective_mac, report.as_dict()

Generates the C (firmware_sim.firmware.generate), builds it (arm-none-eabi-gcc), runs it under
QEMU on the inputs, and compares every output byte with firmware_sim.run. Flash and RAM are read
from the linker map, split into the inference part (weights, kernels, model code, arena, the
stack of one inference) and the harness (semihosting I/O, startup, C library, stack reserve).
The stack of one inference is model_invoke's static bound (stack_usage.py, what `check`
predicts); the depth QEMU's run touched (painted) is reported beside it, never above it.
"""
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from firmware_sim.emulator.arrays import model_input
from firmware_sim.emulator.cost import layer_costs
from firmware_sim.emulator.files import load_npy, save_npy
from firmware_sim.emulator.interpreter import Interpreter
from firmware_sim.emulator.ir import Graph
from firmware_sim.emulator.model_file import load_model
from firmware_sim.firmware import boards, generate, qemu, stack_usage
from firmware_sim.fit.check import check_model
from firmware_sim.fit.devices.profile import load_profile
from firmware_sim.fit.planner import tflm_arena

# the shipped device profile with the board's core, for the prediction to compare against
PROFILE_OF_BOARD = {"mps2-an386": "nrf52840", "mps2-an500": "stm32f746", "microbit": "samd21"}
# QEMU runs several hundred million instructions a second here; allow 20x slower, plus start-up
_SECONDS_PER_INSTRUCTION = 1 / 20e6
_INSTRUCTIONS_PER_MAC_BOUND = 10


@dataclass(frozen=True)
class FlashReport:
    model: str
    board: str
    core: str
    images: int
    inputs: str  # "mnist test" or the .npy path
    accuracy: float | None  # with dataset labels
    identical: bool  # every output byte equals firmware_sim's
    mismatched_images: int
    flash_inference: int
    flash_harness: int
    flash_total: int
    ram_arena: int
    ram_stack: int  # the stack one inference may take: model_invoke's static bound
    ram_stack_painted: int  # the stack this run's first inference touched (painted)
    ram_inference: int  # arena + that stack + kernels' static data
    ram_harness: int  # harness data + stack reserve (the inference's stack lives inside it)
    ram_total: int
    tflite_bytes: int
    tflm_arena_bytes: int  # TFLM's arena for the same model (planner: head + tail)
    instructions_per_inference: float
    min_instructions: float
    max_instructions: float
    macs: int
    effective_macs: int  # multiply-adds of nonzero weights
    instructions_per_mac: float
    instructions_per_effective_mac: float
    steps: tuple  # per fused step: opcodes, weight encoding, weight bytes
    predicted: dict | None  # the device profile's view of the same model
    folder: str | None  # the firmware folder, when kept
    outputs_path: str | None

    def as_dict(self) -> dict:
        return asdict(self)

    def summary_lines(self) -> list[str]:
        """The CLI's report: exactness, accuracy, memory against TFLM's, speed."""
        lines = [f"{self.model} on {self.board} ({self.core}): {self.images:,} inputs "
                 f"({self.inputs})",
                 f"  outputs identical to the emulator: {'yes' if self.identical else 'NO'} "
                 f"({self.mismatched_images:,} of {self.images:,} differ)"
                 + (f"; accuracy {100 * self.accuracy:.2f}%" if self.accuracy is not None else ""),
                 f"  flash: {self.flash_inference:,} B inference + {self.flash_harness:,} B "
                 f"harness = {self.flash_total:,} B (.tflite {self.tflite_bytes:,} B)",
                 f"  RAM:   {self.ram_inference:,} B inference (arena {self.ram_arena:,} + stack "
                 f"{self.ram_stack:,}); TFLM arena {self.tflm_arena_bytes:,} B; "
                 f"{self.ram_total:,} B with harness",
                 f"  speed: {self.instructions_per_inference:,.0f} instructions per inference, "
                 f"{self.instructions_per_mac:.2f} per MAC, "
                 f"{self.instructions_per_effective_mac:.2f} per nonzero MAC"]
        if self.predicted:
            p = self.predicted
            lines.append(f"  device profile {p['device']} (TFLM + CMSIS-NN) predicted "
                         f"{p['cycles_per_inference']:,.0f} cycles, flash {p['flash_bytes']:,} B, "
                         f"RAM {p['ram_bytes']:,} B")
        return lines + self.location_lines()

    def location_lines(self) -> list[str]:
        """Where the firmware folder and the board's outputs were kept, if they were."""
        lines = []
        if self.folder:
            lines.append(f"  firmware folder: {self.folder}")
        if self.outputs_path:
            lines.append(f"  board outputs -> {self.outputs_path}")
        return lines


def flash_arrays(model_path, inputs, board: str = boards.DEFAULT_BOARD, labels=None,
                 source: str | None = None, outputs=None, workdir=None,
                 timeout: float | None = None, optimize: str = "speed") -> FlashReport:
    """Build `model_path` for `board` and run it on every row of `inputs`; see the module docstring.

    `inputs` is an array or a .npy of the model's input dtype (or floats to quantize); `labels`
    (one class per row) give the accuracy, `source` the report's description of the inputs
    (default: the .npy path). `outputs` receives the board's outputs (.npy). The firmware folder
    is kept in `workdir` if given. Raises FirmwareSimError subclasses: a missing toolchain, a
    model too large for the board (before building), an op without a kernel, a failed build, a
    run past `timeout` seconds. `optimize` (speed, size) as in generate().
    """
    qemu.check_toolchain()
    target = boards.board(board)
    graph = load_model(model_path)
    with tempfile.TemporaryDirectory(prefix="lenet-edge-flash-") as scratch:
        folder = Path(workdir) if workdir is not None else Path(scratch)
        firmware = generate(graph, folder, board, source=Path(model_path).name,
                            optimize=optimize)
        if isinstance(inputs, (str, Path)):
            inputs, source = load_npy(inputs), str(inputs) if source is None else source
        x = model_input(graph, inputs)
        expected = np.ascontiguousarray(Interpreter(graph).run(x))
        build = qemu.build(folder, board)
        stack = stack_usage.firmware_stack(folder)
        costs = layer_costs(graph)
        limit = timeout or 30 + len(x) * _SECONDS_PER_INSTRUCTION * _INSTRUCTIONS_PER_MAC_BOUND \
            * max(sum(c.macs for c in costs), 10_000)
        result = qemu.run(folder, board, np.ascontiguousarray(x).tobytes(), firmware.input_bytes,
                          firmware.output_bytes, limit)
    got = np.frombuffer(result.outputs, dtype=expected.dtype).reshape(expected.shape)
    if outputs is not None:
        save_npy(outputs, got)
    return flash_report(graph, model_path, target, source or "arrays", labels, expected, got,
                        firmware, build, stack, result, costs, workdir, outputs)


def flash_report(graph, model_path, target, source, labels, expected, got, firmware, build,
                 stack, result, costs, workdir, outputs) -> FlashReport:
    """The report of a finished run: `got` (the board's outputs) against `expected`."""
    same = (got.reshape(len(got), -1).view(np.uint8) == expected.reshape(len(got), -1)
            .view(np.uint8)).all(axis=1)
    accuracy = None
    if labels is not None:
        accuracy = float(np.mean(got.reshape(len(got), -1).argmax(axis=1) == labels))
    memory = build.memory
    macs, effective = sum(c.macs for c in costs), sum(c.effective_macs for c in costs)
    per_inference = result.instructions_per_inference
    arena = tflm_arena(graph)
    return FlashReport(
        model=str(model_path), board=target.name, core=target.core, images=result.images,
        inputs=source, accuracy=accuracy, identical=bool(same.all()),
        mismatched_images=int((~same).sum()),
        flash_inference=memory.flash_inference, flash_harness=memory.flash_harness,
        flash_total=memory.flash_total, ram_arena=firmware.arena_bytes,
        ram_stack=stack, ram_stack_painted=result.stack_bytes,
        ram_inference=memory.ram_inference + stack,
        ram_harness=memory.ram_harness + memory.stack_reserve, ram_total=memory.ram_total,
        tflite_bytes=Path(model_path).stat().st_size, tflm_arena_bytes=arena.total,
        instructions_per_inference=per_inference, min_instructions=result.min_instructions,
        max_instructions=result.max_instructions, macs=macs, effective_macs=effective,
        instructions_per_mac=per_inference / max(macs, 1),
        instructions_per_effective_mac=per_inference / max(effective, 1),
        steps=tuple(dict(opcodes=list(s.opcodes), encoding=s.encoding,
                         weight_bytes=s.weight_bytes, executed_macs=s.executed_macs)
                    for s in firmware.steps),
        predicted=_prediction(graph, target, per_inference),
        folder=str(workdir) if workdir is not None else None,
        outputs_path=str(outputs) if outputs is not None else None)


def _prediction(graph: Graph, target: boards.Board, instructions: float) -> dict | None:
    """What the device profile with the board's core predicts (TFLM + CMSIS-NN), if one exists."""
    device = PROFILE_OF_BOARD.get(target.name)
    if device is None:
        return None
    profile = load_profile(device)
    check = check_model(graph, profile, runtime="tflm")
    return dict(device=check.device, flash_bytes=check.flash_needed, ram_bytes=check.ram_needed,
                cycles_per_inference=check.latency_s * profile.clock_hz,
                measured_instructions_per_inference=instructions)
