"""Does a model fit a device, and how fast will it read digits there? One CheckReport says.

    report = check_model("lenet5.tflite", "nrf52840", digits_per_second=100)
    report.fits, report.meets_rate, report.as_dict()

Flash: the weights (every constant tensor) in the profile's storage type, plus the runtime's
code. The .tflite flatbuffer TFLM keeps in flash adds its graph structure to the weights (a few
KB for a LeNet); `model_file_bytes` reports it. RAM: for int8 storage, TFLM's arena, the greedy
head plus the persistent tail counted with Cortex-M struct sizes (planner, arena_tail), plus the
runtime's RAM; for float32 storage (a float DSP running its own code, not TFLM) the greedy plan of
float32 activations. A unified-memory device (one memory for both) must hold the sum. Beside
TFLM's arena, the arena the generated firmware allocates (`lenet-edge flash`: fused kernels over
emulator/steps.py's steps, placed by fit/arena.py, the very plan the code generator uses).
Latency, and with `runtime="firmware"` (the default) flash and RAM too, are those of the C
that `lenet-edge flash` generates, predicted by fit/cost_model.py from the coefficients of the
profile's core (fit/cores/<core>.toml, measured on QEMU by `lenet-edge calibrate`): RAM exactly
(arena + the stack of one inference), flash (`flash_inference`: weights, tables, kernels,
model code) and instructions per inference (`instructions_per_inference`, the figure `flash`
measures); digits/s = clock_hz / (instructions x the core's cycles per instruction).
`runtime="tflm"` keeps TFLM's arena and the profile's runtime allowances, and times all
multiply-adds (zeros included) over the profile's MAC rate: an estimate.

A float32 model (no int8 tensor) is checked on a float32-storage device only (the DSP-32C of
1989 computed in floating point): memory and rate from its shapes, without emulating it, for
the float ops in FLOAT_OPS; an int8 device refuses it in one line.
"""
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from firmware_sim.emulator.cost import LayerCost, layer_costs
from firmware_sim.emulator.interpreter import prepared_ops
from firmware_sim.emulator.ir import Graph
from firmware_sim.emulator.model_file import load_model
from firmware_sim.errors import ArgumentError, UnsupportedOpError
from firmware_sim.fit.arena import firmware_arena
from firmware_sim.fit.arena_tail import ARM32
from firmware_sim.fit.conv_layout import OPTIMIZE
from firmware_sim.fit.cost_model import CoreError, encodings, load_core, pricing_core, predict, step_costs
from firmware_sim.fit.devices.profile import DeviceProfile, load_profile
from firmware_sim.fit.planner import tflm_arena, tflm_plan

FLOAT32_BYTES = 4
RUNTIMES = ("firmware", "tflm")
# ops a float32 model may hold for `check` on a float device (sized, not emulated)
FLOAT_OPS = ("ADD", "AVERAGE_POOL_2D", "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED",
             "LOGISTIC", "MAX_POOL_2D", "MUL", "RELU", "RELU6", "RESHAPE", "SOFTMAX", "TANH")


@dataclass(frozen=True)
class CheckReport:
    model: str
    device: str
    layers: tuple[LayerCost, ...]  # bytes in the profile's weight storage type
    weight_storage: str
    model_file_bytes: int | None
    weight_bytes: int
    runtime_flash_bytes: int
    flash_needed: int
    flash_bytes: int
    arena_head_bytes: int  # greedy plan of the activations
    arena_tail_bytes: int  # TFLM's persistent structs (0 when TFLM is not the runtime)
    firmware_arena_bytes: int | None  # the generated firmware's arena; None: no firmware for it
    runtime_ram_bytes: int
    ram_needed: int
    ram_bytes: int
    unified_memory: bool
    macs: int
    effective_macs: int
    macs_per_second: float
    latency_s: float
    digits_per_second: float | None  # None when the model has no multiply-adds to time
    required_digits_per_second: float | None
    runtime: str = "tflm"  # firmware: the generated C (predicted); tflm: TFLM, estimated
    core: str | None = None
    flash_inference: int | None = None  # the keys of `flash --json`, to hold one against the other
    ram_inference: int | None = None
    instructions_per_inference: float | None = None
    cycles_per_instruction: float | None = None
    estimate: bool = True  # tflm: all MACs over a guessed rate; firmware: the calibrated model

    @property
    def fits_flash(self) -> bool:
        return self._memory_fits() if self.unified_memory else self.flash_needed <= self.flash_bytes

    @property
    def fits_ram(self) -> bool:
        return self._memory_fits() if self.unified_memory else self.ram_needed <= self.ram_bytes

    def _memory_fits(self) -> bool:
        return self.flash_needed + self.ram_needed <= self.ram_bytes

    @property
    def fits(self) -> bool:
        return self.fits_flash and self.fits_ram

    @property
    def meets_rate(self) -> bool:
        if self.required_digits_per_second is None or self.digits_per_second is None:
            return True
        return self.digits_per_second >= self.required_digits_per_second

    @property
    def ok(self) -> bool:
        return self.fits and self.meets_rate

    def verdict_lines(self) -> list[str]:
        """One line each for flash, RAM, latency and rate, with their numbers."""
        fit = {True: "fits", False: "DOES NOT FIT"}
        if self.runtime == "firmware":
            flash = (f"{self.flash_needed:,} bytes (the generated firmware's weights, tables, "
                     f"kernels and model code)")
            ram = (f"{self.ram_needed:,} bytes (arena {self.arena_head_bytes:,} + stack "
                   f"{self.runtime_ram_bytes:,})")
        else:
            flash = (f"{self.flash_needed:,} bytes (weights {self.weight_bytes:,} as "
                     f"{self.weight_storage} + runtime {self.runtime_flash_bytes:,})")
            ram = (f"{self.ram_needed:,} bytes (arena {self.arena_head_bytes:,} + tail "
                   f"{self.arena_tail_bytes:,} + runtime {self.runtime_ram_bytes:,}"
                   f"{self._firmware_arena_text()})")
        if self.unified_memory:
            memory = [f"memory (unified): flash {flash} + RAM {ram} = "
                      f"{self.flash_needed + self.ram_needed:,} of {self.ram_bytes:,}: "
                      f"{fit[self.fits]}"]
        else:
            memory = [f"flash: {flash} of {self.flash_bytes:,}: {fit[self.fits_flash]}",
                      f"RAM: {ram} of {self.ram_bytes:,}: {fit[self.fits_ram]}"]
        if self.instructions_per_inference is not None:
            speed = (f"latency: {1e3 * self.latency_s:.2f} ms per digit "
                     f"({self.instructions_per_inference:,.0f} instructions of the generated "
                     f"firmware on {self.core} x {self.cycles_per_instruction} cycles each)")
        elif self.weight_storage == "float32":
            speed = (f"latency (estimate): {1e3 * self.latency_s:.2f} ms per digit "
                     f"({self.effective_macs:,} nonzero MACs at "
                     f"{self.macs_per_second / 1e6:.2f} M MAC/s)")
        else:
            speed = (f"latency (estimate): {1e3 * self.latency_s:.2f} ms per digit "
                     f"({self.macs:,} MACs, zeros included, at "
                     f"{self.macs_per_second / 1e6:.2f} M MAC/s)")
        return [f"runtime: {self.runtime}"] + memory + [speed, self._rate_line()]

    def _firmware_arena_text(self) -> str:
        if self.firmware_arena_bytes is None:
            return ""
        return f"; the generated firmware's arena is {self.firmware_arena_bytes:,}"

    def _rate_line(self) -> str:
        rate = "-" if self.digits_per_second is None else f"{self.digits_per_second:,.1f}"
        if self.required_digits_per_second is None:
            return f"digits per second: {rate}"
        verdict = "meets" if self.meets_rate else "MISSES"
        return (f"digits per second: {rate}, required {self.required_digits_per_second:,.1f}: "
                f"{verdict}")

    def as_dict(self) -> dict:
        verdict = {"fits_flash": self.fits_flash, "fits_ram": self.fits_ram, "fits": self.fits,
                   "meets_rate": self.meets_rate, "ok": self.ok}
        return {**asdict(self), **verdict,
                "layers": [{**asdict(row), "output_shape": list(row.output_shape)}
                           for row in self.layers]}


def check_model(model: str | Path | Graph, device: str | Path | DeviceProfile,
                digits_per_second: float | None = None, runtime: str = "firmware",
                optimize: str = "speed") -> CheckReport:
    """The verdict of `model` (a .tflite path or a Graph) on `device` (a profile, name or path)
    for `runtime` (firmware: the generated C, its conv encodings chosen for `optimize` as
    `flash --optimize` does; tflm: TFLM, estimated). A float32-storage device runs its own
    float code: the tflm-style sizes apply whatever `runtime` says."""
    if digits_per_second is not None and not digits_per_second > 0:
        raise ArgumentError(f"required digits per second must be positive, got {digits_per_second}")
    if runtime not in RUNTIMES:
        raise ArgumentError(f"unknown runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
    if optimize not in OPTIMIZE:
        raise ArgumentError(f"unknown optimize goal {optimize!r}; choose one of "
                            f"{', '.join(OPTIMIZE)}")
    graph = model if isinstance(model, Graph) else load_model(model)
    profile = device if isinstance(device, DeviceProfile) else load_profile(device)
    if is_float_model(graph):
        _check_float_model(graph, profile)
    else:
        prepared_ops(graph)  # every op must be one firmware_sim (and TFLM) runs: raises otherwise
    layers = _layer_rows(graph, profile.weight_storage)
    from_file = isinstance(model, (str, Path))
    report = CheckReport(
        model=str(model) if from_file else "<graph>", device=profile.name, layers=tuple(layers),
        weight_storage=profile.weight_storage,
        model_file_bytes=Path(model).stat().st_size if from_file else None,
        **_memory(graph, profile, optimize), **_speed(layers, profile),
        required_digits_per_second=digits_per_second)
    if runtime == "firmware" and profile.weight_storage == "int8":
        return _firmware_report(report, graph, profile, optimize)
    return replace(report, flash_inference=report.flash_needed, ram_inference=report.ram_needed)


def _firmware_report(report: CheckReport, graph: Graph, profile: DeviceProfile,
                     optimize: str) -> CheckReport:
    """The report's flash, RAM and speed replaced by the generated firmware's, predicted."""
    if not profile.core:
        raise CoreError(f"device {profile.name} names no core: add core = \"cortex-mN\" to its "
                        f"profile, or check with --runtime tflm")
    core = load_core(profile.core)
    p = predict(graph, core, optimize)
    latency = p.instructions_per_inference * core.cpi / profile.clock_hz
    return replace(report, runtime="firmware", core=core.name, estimate=False,
                   flash_inference=p.flash_inference, ram_inference=p.ram_inference,
                   instructions_per_inference=p.instructions_per_inference,
                   cycles_per_instruction=core.cpi, flash_needed=p.flash_inference,
                   runtime_flash_bytes=p.flash_inference - report.weight_bytes,
                   arena_head_bytes=p.ram_arena, arena_tail_bytes=0,
                   runtime_ram_bytes=p.ram_stack, ram_needed=p.ram_inference,
                   latency_s=latency, digits_per_second=1.0 / latency if latency > 0 else None)


def _memory(graph: Graph, profile: DeviceProfile, optimize: str) -> dict:
    storage = profile.weight_storage
    weight_bytes = sum(_stored_bytes(graph.tensors[t].data, storage)
                       for t in _constant_tensors(graph))
    head, tail = _arena(graph, storage)
    return dict(weight_bytes=weight_bytes, runtime_flash_bytes=profile.runtime_flash_bytes,
                flash_needed=weight_bytes + profile.runtime_flash_bytes,
                flash_bytes=profile.flash_bytes, arena_head_bytes=head, arena_tail_bytes=tail,
                firmware_arena_bytes=_firmware_arena(graph, profile, optimize),
                runtime_ram_bytes=profile.runtime_ram_bytes,
                ram_needed=head + tail + profile.runtime_ram_bytes, ram_bytes=profile.ram_bytes,
                unified_memory=profile.unified_memory)


def _firmware_arena(graph: Graph, profile: DeviceProfile, optimize: str) -> int | None:
    """The arena `lenet-edge flash --optimize` allocates for the profile's core (a profile
    naming none: the smallest encodings'); None for a model it does not take (float32, not
    one input and one output, weights beyond int8)."""
    if is_float_model(graph) or len(graph.inputs) != 1 or len(graph.outputs) != 1:
        return None
    pricing = pricing_core(optimize, profile.core) if profile.core else None
    try:
        return firmware_arena(graph, encodings(step_costs(graph, pricing))).size
    except UnsupportedOpError:
        return None


def is_float_model(graph: Graph) -> bool:
    """No int8 tensor: a float32 model, as `lenet-edge convert` writes without --int8."""
    return all(tensor.dtype != "int8" for tensor in graph.tensors)


def _check_float_model(graph: Graph, profile: DeviceProfile) -> None:
    """A float32 model needs a float32-storage device and ops whose float cost is known."""
    if profile.weight_storage != "float32":
        raise UnsupportedOpError(
            f"{profile.name} runs int8 models (weight storage {profile.weight_storage}); this "
            f"model is float32: convert it with --int8")
    for index, op in enumerate(graph.ops):
        if op.opcode not in FLOAT_OPS:
            raise UnsupportedOpError(f"unsupported op {op.opcode} (node {index}) in a float32 "
                                     f"model; check sizes float models of: {', '.join(FLOAT_OPS)}")


def _speed(layers: list[LayerCost], profile: DeviceProfile) -> dict:
    """TFLM's estimate: every multiply-add, zeros included, at the profile's rate; a float
    device's own code (the DSP-32C's, whose rate the 1989 paper gives per connection) skips
    the connections its table leaves out: the nonzero ones."""
    macs = sum(row.macs for row in layers)
    effective = sum(row.effective_macs for row in layers)
    latency = (effective if profile.weight_storage == "float32" else macs) / \
        profile.macs_per_second
    return dict(macs=macs, effective_macs=effective,
                macs_per_second=profile.macs_per_second, latency_s=latency,
                digits_per_second=1.0 / latency if latency > 0 else None)


def _arena(graph: Graph, storage: str) -> tuple[int, int]:
    """(head, tail): TFLM's arena for int8; float32 activations in a greedy plan otherwise."""
    if storage == "float32":
        return tflm_plan(graph, element_bytes=FLOAT32_BYTES).arena_bytes, 0
    arena = tflm_arena(graph, ARM32)
    return arena.head, arena.tail


def _constant_tensors(graph: Graph) -> list[int]:
    used = {t for op in graph.ops for t in op.inputs if t >= 0}
    return sorted(t for t in used if graph.tensors[t].is_constant)


def _stored_bytes(data: np.ndarray, storage: str) -> int:
    """Bytes of a constant in flash: as is for int8 storage, 4 per element for float32."""
    return data.size * FLOAT32_BYTES if storage == "float32" else data.nbytes


def _layer_rows(graph: Graph, storage: str) -> list[LayerCost]:
    """The emulator's layer costs with bytes counted in the profile's storage type."""
    width = FLOAT32_BYTES if storage == "float32" else 1
    rows = []
    for cost, op in zip(layer_costs(graph), graph.ops):
        constants = [graph.tensors[t].data for t in op.inputs
                     if t >= 0 and graph.tensors[t].is_constant]
        rows.append(replace(cost, param_bytes=sum(_stored_bytes(c, storage) for c in constants),
                            activation_bytes=cost.activation_bytes * width))
    return rows
