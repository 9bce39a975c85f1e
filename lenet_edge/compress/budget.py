"""A device's budget for pruning: where a model stands against a rate, flash or RAM budget on a
named part, what each of its weights costs there, and how much a round must delete.

    budget = Budget("nrf52840", digits_per_second=200)
    standing(model, config, budget)   # the cost model's verdict of the model's int8 conversion

A Keras model's standing is `check`'s verdict (firmware runtime: the C `flash` generates,
fit/cost_model.py) on its post-training int8 conversion. What a kernel weight costs is what it
carries: for a rate, the multiply-adds it does per digit (a C1 weight of LeNet-5 784, an F6 weight
1), for flash one stored weight. Between the model now and its floor (every prunable weight
deleted) the cost model's instructions (or flash bytes) are close to linear in that cost, so a
round deletes its share of (now - target) / (the price of one unit): the instructions per alive
multiply-add, (now - floor) / alive.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import tf_keras as keras

from firmware_sim.emulator.files import atomic_write
from firmware_sim.emulator.model_file import read_graph
from firmware_sim.firmware.boards import BOARD_OF_CORE
from firmware_sim.firmware.flash_arrays import flash_arrays
from firmware_sim.fit.check import check_model
from firmware_sim.fit.devices.profile import load_profile
from lenet_edge.compress import masks, shrink
from lenet_edge.errors import UsageError
from lenet_edge.models import registry

CALIBRATION = 500  # training digits the int8 conversion calibrates on, as `convert` does
CONFIRM_DIGITS = 3  # test digits a measurement runs on QEMU (the count per digit is the same for each)


@dataclasses.dataclass(frozen=True)
class Budget:
    device: str
    digits_per_second: float | None = None
    flash_bytes: int | None = None
    ram_bytes: int | None = None

    def validate(self) -> None:
        load_profile(self.device)  # an unknown device: its one line, before anything runs
        asked = (self.digits_per_second, self.flash_bytes, self.ram_bytes)
        if all(limit is None for limit in asked):
            raise UsageError("--device needs a budget: --digits-per-second, --flash-bytes or --ram-bytes")
        if any(limit is not None and not limit > 0 for limit in asked):
            raise UsageError(f"budgets must be positive, got {asked}")


@dataclasses.dataclass(frozen=True)
class Standing:
    """The cost model's verdict of one model on the budget's device."""

    instructions: float  # per digit
    digits_per_second: float
    flash_bytes: int
    ram_bytes: int

    def scaled(self, factor: float) -> "Standing":
        """The standing with its instructions times `factor` (the board's count over the cost
        model's, once measured)."""
        return dataclasses.replace(self, instructions=self.instructions * factor,
                                   digits_per_second=self.digits_per_second / factor)

    def meets(self, budget: Budget) -> bool:
        return ((budget.digits_per_second is None or self.digits_per_second >= budget.digits_per_second)
                and (budget.flash_bytes is None or self.flash_bytes <= budget.flash_bytes)
                and (budget.ram_bytes is None or self.ram_bytes <= budget.ram_bytes))


def int8_bytes(model, x_train: np.ndarray) -> bytes:
    """The model as `convert --int8` makes it: post-training, calibrated on the first
    CALIBRATION training inputs."""
    from convert import tflite  # lazily: convert imports lenet_edge (docs/ARCHITECTURE.md)

    return tflite.to_tflite(model, "int8", x_train[:CALIBRATION], CALIBRATION)


def measure(model, x_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, device: str, path: Path):
    """The FlashReport of the model's int8 conversion (written to `path`) built as firmware and
    run on QEMU, on the board of the device's core, over the first CONFIRM_DIGITS test digits."""
    tflite_bytes = int8_bytes(model, x_train)
    atomic_write(path, lambda tmp: tmp.write_bytes(tflite_bytes))
    board = BOARD_OF_CORE[load_profile(device).core]
    return flash_arrays(path, x_test[:CONFIRM_DIGITS], board, y_test[:CONFIRM_DIGITS], "test digits")


def standing(model, x_train: np.ndarray, budget: Budget) -> Standing:
    report = check_model(read_graph(int8_bytes(model, x_train)), budget.device)
    return Standing(report.instructions_per_inference, report.digits_per_second,
                    report.flash_needed, report.ram_needed)


def floor(model, x_train: np.ndarray, budget: Budget, maps: bool = False) -> Standing:
    """The standing with every prunable weight deleted: what no pruning can go below. With
    `maps` (pruning by maps), the dead maps are removed too (shrink.py): one map a layer is left."""
    empty = masks.with_masks(model, {name: np.zeros_like(a) for name, a in masks.alive(model).items()})
    return standing(shrink.shrink(empty) if maps else empty, x_train, budget)


def untrained(name: str):
    """Zoo model `name` untrained, with small random biases: its cost is the trained model's (the
    cost model counts its structure), but a fresh model's zero biases would leave the floor's int8
    conversion (every kernel weight zero) a constant output that cannot be quantized."""
    model, rng = registry.build(name), np.random.default_rng(0)
    for layer in model.layers:
        if getattr(layer, "bias", None) is not None:
            layer.bias.assign(rng.normal(0.0, 0.1, layer.bias.shape).astype("float32"))
    return model


def check_reachable(dense: Standing, bottom: Standing, budget: Budget) -> None:
    """UsageError, with the numbers, for a budget that even the floor misses."""
    if budget.digits_per_second is not None and bottom.digits_per_second < budget.digits_per_second:
        raise UsageError(
            f"no pruning reaches {budget.digits_per_second:,.1f} digits/s on {budget.device}: with every "
            f"prunable weight deleted the firmware still takes {bottom.instructions:,.0f} instructions "
            f"per digit ({bottom.digits_per_second:,.1f} digits/s; the dense model "
            f"{dense.instructions:,.0f}, {dense.digits_per_second:,.1f} digits/s)")
    if budget.flash_bytes is not None and bottom.flash_bytes > budget.flash_bytes:
        raise UsageError(f"no pruning fits {budget.flash_bytes:,} bytes of flash: with every prunable "
                         f"weight deleted the firmware needs {bottom.flash_bytes:,} (dense {dense.flash_bytes:,})")
    if budget.ram_bytes is not None and bottom.ram_bytes > budget.ram_bytes:
        raise UsageError(f"no pruning fits {budget.ram_bytes:,} bytes of RAM: the firmware's memory floor is "
                         f"{bottom.ram_bytes:,} bytes (its activations; deleting weights does not shrink them)")


def uses(model) -> dict:
    """Layer name -> multiply-adds per digit that each kernel weight does (its output positions)."""
    result = {}
    for layer in masks.prunable_layers(model):
        shape = tuple(layer.kernel.shape)
        positions = int(np.prod(layer.output.shape[1:-1])) if isinstance(layer, keras.layers.Conv2D) else 1
        result[layer.name] = np.full(shape, float(positions))
    return result


def _misses_rate(budget: Budget, now: Standing) -> bool:
    return budget.digits_per_second is not None and now.digits_per_second < budget.digits_per_second


def costs(model, budget: Budget, now: Standing) -> dict:
    """What each weight costs against the budget's binding limit: multiply-adds for a rate it
    misses, else one stored weight."""
    if _misses_rate(budget, now):
        return uses(model)
    return {name: np.ones(a.shape) for name, a in masks.alive(model).items()}


def alive_cost(alive: dict, weights: dict) -> float:
    """The cost (a costs() dict) of the alive weights (a masks.alive() dict, or part of one)."""
    return sum(float(weights[name][mask].sum()) for name, mask in alive.items())


def aim(budget: Budget, now: Standing, share: float) -> float | None:
    """The instructions per digit a round aims at: `share` of the way from now to the rate
    (None when the rate is not what binds)."""
    if not _misses_rate(budget, now):
        return None
    target = now.instructions * now.digits_per_second / budget.digits_per_second
    return now.instructions - share * (now.instructions - target)


def amount(model, budget: Budget, now: Standing, bottom: Standing, share: float) -> float:
    """The cost (in costs()'s units) a round deletes: `share` of the way to the binding limit,
    priced by the instructions (or flash bytes) per alive unit between now and the floor."""
    total = alive_cost(masks.alive(model), costs(model, budget, now))
    if _misses_rate(budget, now):
        excess, span = now.instructions - aim(budget, now, 1.0), now.instructions - bottom.instructions
    elif budget.flash_bytes is not None and now.flash_bytes > budget.flash_bytes:
        excess, span = now.flash_bytes - budget.flash_bytes, now.flash_bytes - bottom.flash_bytes
    else:
        return 0.0
    return min(total, share * total * excess / max(span, 1e-9))


def map_groups(model) -> dict:
    """Layer name -> each kernel weight's group: its output map (a conv filter, a hidden unit's
    fan-in). The model's output layer is left out: its units are the classes."""
    output = model.layers[-1].name
    return {layer.name: np.broadcast_to(np.arange(layer.kernel.shape[-1]), layer.kernel.shape)
            for layer in masks.prunable_layers(model) if layer.name != output}
