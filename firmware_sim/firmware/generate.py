"""generate(): graph -> fused steps (emulator/steps.py) -> emitted C -> arena plan (fit/arena.py)
-> size check -> firmware folder."""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from firmware_sim.emulator.ir import Graph
from firmware_sim.emulator.steps import planar_tensors, plan_steps
from firmware_sim.errors import UnsupportedOpError
from firmware_sim.firmware import boards, project
from firmware_sim.firmware.emit_conv import emit_conv
from firmware_sim.firmware.emit_ops import EMITTERS
from firmware_sim.firmware.errors import BoardTooSmallError
from firmware_sim.firmware.model_c import model_sources
from firmware_sim.firmware.normalize_c import normalize_data_c
from firmware_sim.fit.arena import plan_arena
from firmware_sim.fit.cost_model import encodings, pricing_core, step_costs

# Flash the runtime kernels and the harness take besides the model's data (measured: ~10 KB),
# counted before building so that a model too large for the board fails early.
CODE_ALLOWANCE = 16 * 1024


@dataclass(frozen=True)
class StepInfo:
    index: int
    opcodes: tuple[str, ...]
    encoding: str | None  # conv steps: dense, blocked, sparse or bitmap
    weight_bytes: int
    executed_macs: int  # multiply-adds the kernel executes, zero padding included


@dataclass(frozen=True)
class Firmware:
    folder: Path
    board: boards.Board
    arena_bytes: int
    data_bytes: int  # const arrays and parameter structs (flash)
    input_bytes: int
    output_bytes: int
    steps: tuple[StepInfo, ...]
    normalize: bool = False  # the board also normalizes raw digits (normalize.c)
    sources: tuple[str, ...] = tuple(project.sources())


def generate(graph: Graph, folder, board: str = boards.DEFAULT_BOARD,
             source: str = "model.tflite", normalize: bool = False,
             optimize: str = "speed") -> Firmware:
    """Write the firmware folder for `graph`; raises before writing if it cannot fit `board`.

    With `normalize` the firmware takes raw digits and normalizes them first (normalize.c; an
    int8-input MNIST model only). `optimize` speed gives each conv the weight encoding the
    cost model prices fastest on the board's core, size the smallest (fit/conv_layout.choose)."""
    target = boards.board(board)
    pricing = pricing_core(optimize, target.core)
    _check_io(graph)
    normalize_data = normalize_data_c(graph, source) if normalize else None
    _check_fits(target, _least_data_bytes(graph), qualifier="at least ")
    steps = plan_steps(graph)
    planar = planar_tensors(graph, steps)
    chosen = encodings(step_costs(graph, pricing))  # what `check` predicts
    emitted = [_emit(graph, step, f"step{i}", planar, chosen[i]) for i, step in enumerate(steps)]
    plan = plan_arena(graph, steps, chosen)
    data_bytes = sum(item.data_bytes for item in emitted)
    _check_fits(target, data_bytes, plan.size)
    folder = Path(folder)
    project.write_folder(folder, model_sources(graph, steps, emitted, plan, source), target,
                         source, normalize_data)
    infos = tuple(StepInfo(i, tuple(graph.ops[k].opcode for k in step.ops),
                           item.notes.get("encoding"), item.notes.get("weight_bytes", 0),
                           item.notes.get("executed_macs", 0))
                  for i, (step, item) in enumerate(zip(steps, emitted)))
    return Firmware(folder, target, plan.size, data_bytes,
                    graph.tensors[graph.inputs[0]].nbytes,
                    graph.tensors[graph.outputs[0]].nbytes, infos, normalize,
                    tuple(project.sources(normalize)))


def _emit(graph: Graph, step, prefix: str, planar: set[int], choice):
    if step.kind == "conv":
        return emit_conv(graph, step, prefix, step.inputs[0] in planar, step.output in planar,
                         choice.kind)
    return EMITTERS[step.kind](graph, step, prefix)


def _check_io(graph: Graph) -> None:
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise UnsupportedOpError(f"the firmware takes models of one input and one output; "
                                 f"this one has {len(graph.inputs)} and {len(graph.outputs)}")


def _least_data_bytes(graph: Graph) -> int:
    """A lower bound of the weights' flash, before encoding them: each constant dense, or as
    2 bytes per nonzero value, whichever is smaller."""
    total = 0
    for t in {t for op in graph.ops for t in op.inputs if t >= 0}:
        data = graph.tensors[t].data
        if data is not None:
            total += min(data.nbytes, 2 * int(np.count_nonzero(data)))
    return total


def _check_fits(board: boards.Board, data_bytes: int, arena_bytes: int | None = None,
                qualifier: str = "") -> None:
    """BoardTooSmallError with the numbers unless flash (and RAM, when known) suffice."""
    flash = data_bytes + CODE_ALLOWANCE
    ram = None if arena_bytes is None else arena_bytes + board.stack_bytes
    if flash <= board.flash_bytes and (ram is None or ram <= board.ram_bytes):
        return
    needs = [f"{qualifier}{flash:,} bytes of flash ({data_bytes:,} of weights and tables + "
             f"{CODE_ALLOWANCE:,} for code)"]
    if ram is not None:
        needs.append(f"{ram:,} bytes of RAM ({arena_bytes:,} arena + "
                     f"{board.stack_bytes:,} stack)")
    raise BoardTooSmallError(f"the model does not fit {board.name}: it needs {' and '.join(needs)}"
                             f"; the board has {board.flash_bytes:,} bytes of flash and "
                             f"{board.ram_bytes:,} of RAM")
