"""generate(): graph -> fused steps -> emitted C -> arena plan -> size check -> firmware folder."""
from dataclasses import dataclass
from pathlib import Path

from firmware_sim.codegen import boards, project
from firmware_sim.codegen.arena import plan_arena
from firmware_sim.codegen.emit_conv import emit_conv
from firmware_sim.codegen.emit_ops import EMITTERS
from firmware_sim.codegen.errors import BoardTooSmallError
from firmware_sim.codegen.model_c import model_sources
from firmware_sim.codegen.steps import planar_tensors, plan_steps
from firmware_sim.errors import UnsupportedOpError
from firmware_sim.ir import Graph

# Flash the runtime kernels and the harness take besides the model's data (measured: ~10 KB),
# counted before building so that a model too large for the board fails early.
CODE_ALLOWANCE = 16 * 1024


@dataclass(frozen=True)
class StepInfo:
    index: int
    opcodes: tuple[str, ...]
    encoding: str | None  # conv steps: dense, blocked or sparse
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


def generate(graph: Graph, folder, board: str = boards.DEFAULT_BOARD,
             source: str = "model.tflite") -> Firmware:
    """Write the firmware folder for `graph`; raises before writing if it cannot fit `board`."""
    target = boards.board(board)
    _check_io(graph)
    steps = plan_steps(graph)
    planar = planar_tensors(graph, steps)
    emitted = [_emit(graph, step, f"step{i}", planar) for i, step in enumerate(steps)]
    plan = plan_arena(graph, steps, [item.scratch_bytes for item in emitted])
    data_bytes = sum(item.data_bytes for item in emitted)
    _check_fits(target, data_bytes, plan.size)
    folder = Path(folder)
    project.write_folder(folder, model_sources(graph, steps, emitted, plan, source), target,
                         source)
    infos = tuple(StepInfo(i, tuple(graph.ops[k].opcode for k in step.ops),
                           item.notes.get("encoding"), item.notes.get("weight_bytes", 0),
                           item.notes.get("executed_macs", 0))
                  for i, (step, item) in enumerate(zip(steps, emitted)))
    return Firmware(folder, target, plan.size, data_bytes,
                    graph.tensors[graph.inputs[0]].nbytes,
                    graph.tensors[graph.outputs[0]].nbytes, infos)


def _emit(graph: Graph, step, prefix: str, planar: set[int]):
    if step.kind == "conv":
        return emit_conv(graph, step, prefix, step.inputs[0] in planar, step.output in planar)
    return EMITTERS[step.kind](graph, step, prefix)


def _check_io(graph: Graph) -> None:
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise UnsupportedOpError(f"the firmware takes models of one input and one output; "
                                 f"this one has {len(graph.inputs)} and {len(graph.outputs)}")


def _check_fits(board: boards.Board, data_bytes: int, arena_bytes: int) -> None:
    flash = data_bytes + CODE_ALLOWANCE
    ram = arena_bytes + boards.STACK_RESERVE
    if flash > board.flash_bytes or ram > board.ram_bytes:
        raise BoardTooSmallError(
            f"the model does not fit {board.name}: it needs {flash:,} bytes of flash "
            f"({data_bytes:,} of weights and tables + {CODE_ALLOWANCE:,} for code) and "
            f"{ram:,} bytes of RAM ({arena_bytes:,} arena + {boards.STACK_RESERVE:,} stack); "
            f"the board has {board.flash_bytes:,} bytes of flash and {board.ram_bytes:,} of RAM")
