"""Tensor lifetimes and TFLM's arena: its greedy plan of the head and the persistent tail.

    plan = tflm_plan(graph)          # what TFLM's GreedyMemoryPlanner puts in the arena head
    plan.arena_bytes                 # 9,408 for an int8 LeNet-5
    tflm_arena(graph).total          # head + tail: the reference figure `check` reports

The generated firmware's own, smaller arena (fused steps) is fit/arena.py's.

Lifetimes follow TFLM's AllocationInfoBuilder (micro_allocation_info.cc): graph inputs are created
at time 0, node i runs at time i + 1 and both creates its outputs and last uses its inputs there,
graph outputs live to the last time. Lifetimes are closed intervals: two buffers whose intervals
share an end point are live together. Sizes are rounded up to 16 bytes as MicroAllocator's
CreatePlan does (MicroArenaBufferAlignment). Kernels are TFLM's reference kernels, which request
no scratch buffers for the int8 ops firmware_sim runs (CMSIS-NN's would add im2col scratch).
"""
from dataclasses import dataclass

from firmware_sim.emulator.ir import Graph
from firmware_sim.fit.arena_tail import ARM32, Abi, tail_bytes

ALIGNMENT = 16  # tflite::MicroArenaBufferAlignment()
UNUSED = -1  # TFLM's kUninitializedLifetime: a tensor no node touches keeps it


@dataclass(frozen=True)
class Buffer:
    tensor: int  # tensor index in the graph
    size: int  # bytes, rounded up to ALIGNMENT
    first: int  # time it is created
    last: int  # time it is last read

    def overlaps(self, other: "Buffer") -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass(frozen=True)
class MemoryPlan:
    buffers: tuple[Buffer, ...]
    offsets: tuple[int, ...]  # byte offset of each buffer in the arena

    @property
    def arena_bytes(self) -> int:
        return max((o + b.size for o, b in zip(self.offsets, self.buffers)), default=0)

    def offset_of(self, tensor: int) -> int:
        return self.offsets[[b.tensor for b in self.buffers].index(tensor)]


def align_up(size: int, alignment: int = ALIGNMENT) -> int:
    return -(-size // alignment) * alignment


def lifetimes(graph: Graph, element_bytes: int | None = None) -> list[Buffer]:
    """One Buffer per activation tensor, in tensor order (the order TFLM adds them), one time
    step per node. `element_bytes` sizes every activation as if its elements had that width
    (4: a float runtime), instead of the tensors' own types.
    """
    steps = [(op.inputs, op.outputs) for op in graph.ops]
    first, last = {}, {}
    for t in graph.inputs:
        first.setdefault(t, 0)
        last[t] = 0
    for time, (inputs, outputs) in enumerate(steps, start=1):
        for t in outputs:
            first.setdefault(t, time)
        for t in (*inputs, *outputs):
            if t >= 0:
                last[t] = time
    for t in graph.outputs:
        first.setdefault(t, len(steps))
        last[t] = len(steps)
    return [Buffer(i, align_up(tensor.size * element_bytes if element_bytes else tensor.nbytes),
                   first.get(i, UNUSED), last.get(i, UNUSED))
            for i, tensor in enumerate(graph.tensors)
            if not tensor.is_constant and tensor.nbytes > 0]


def greedy_plan(buffers: list[Buffer]) -> MemoryPlan:
    """TFLM's GreedyMemoryPlanner: largest first, each at the lowest offset that fits.

    TFLM fills its sort array from the back and bubble-sorts it (stable), so buffers of equal
    size are placed in reverse order of addition; Python's stable sort on the reversed list
    reproduces that, to follow TFLM's placement and not only its arena size.
    """
    order = sorted(reversed(range(len(buffers))), key=lambda i: -buffers[i].size)
    offsets = [0] * len(buffers)
    placed: list[int] = []  # buffer indices sorted by offset; equal offsets in placement order
    for i in order:
        offsets[i] = _first_fit(buffers, offsets, placed, buffers[i])
        position = sum(1 for j in placed if offsets[j] <= offsets[i])
        placed.insert(position, i)
    return MemoryPlan(tuple(buffers), tuple(offsets))


def _first_fit(buffers: list[Buffer], offsets: list[int], placed: list[int], wanted: Buffer) -> int:
    """The first gap, in offset order, between buffers live together with `wanted`."""
    candidate = 0
    for j in placed:
        if not buffers[j].overlaps(wanted):
            continue
        if offsets[j] - candidate >= wanted.size:
            break
        candidate = max(candidate, offsets[j] + buffers[j].size)
    return candidate


def tflm_plan(graph: Graph, element_bytes: int | None = None) -> MemoryPlan:
    """The arena head TFLM plans for `graph` (non-persistent tensors only)."""
    return greedy_plan(lifetimes(graph, element_bytes=element_bytes))


@dataclass(frozen=True)
class TflmArena:
    """The arena TFLM's MicroAllocator needs: planned head plus persistent tail."""

    head: int
    tail: int
    abi: str  # whose struct sizes the tail counts (arena_tail.ABIS)

    @property
    def total(self) -> int:
        return self.head + self.tail


def tflm_arena(graph: Graph, abi: Abi = ARM32) -> TflmArena:
    return TflmArena(tflm_plan(graph).arena_bytes, tail_bytes(graph, abi), abi.name)
