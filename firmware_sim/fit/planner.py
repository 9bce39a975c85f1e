"""Tensor lifetimes and arena plans: TFLM's greedy plan, and the smaller plan op fusion allows.

    plan = tflm_plan(graph)          # what TFLM's GreedyMemoryPlanner puts in the arena head
    plan.arena_bytes                 # 9,408 for an int8 LeNet-5
    fused = fused_plan(graph)        # conv + activation + pool computed together
    fused.as_dict()                  # groups with buffer offsets, for the firmware code generator

Lifetimes follow TFLM's AllocationInfoBuilder (micro_allocation_info.cc): graph inputs are created
at time 0, node i runs at time i + 1 and both creates its outputs and last uses its inputs there,
graph outputs live to the last time. Lifetimes are closed intervals: two buffers whose intervals
share an end point are live together. Sizes are rounded up to 16 bytes as MicroAllocator's
CreatePlan does (MicroArenaBufferAlignment). Kernels are TFLM's reference kernels, which request
no scratch buffers for the int8 ops firmware_sim runs (CMSIS-NN's would add im2col scratch).
"""
from dataclasses import dataclass

from ai_edge_litert.schema_py_generated import Padding

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


def lifetimes(graph: Graph, steps: list[tuple[tuple[int, ...], tuple[int, ...]]] | None = None,
              element_bytes: int | None = None) -> list[Buffer]:
    """One Buffer per activation tensor, in tensor order (the order TFLM adds them).

    `steps` lists (inputs, outputs) per time step; by default one step per node.
    `element_bytes` sizes every activation as if its elements had that width (4: a float
    runtime), instead of the tensors' own types.
    """
    steps = [(op.inputs, op.outputs) for op in graph.ops] if steps is None else steps
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


# ---- fusion ------------------------------------------------------------------------------------

ANCHORS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
POINTWISE = ("TANH", "LOGISTIC", "RELU", "RELU6")
POOLS = ("AVERAGE_POOL_2D", "MAX_POOL_2D", "DEPTHWISE_CONV_2D")


@dataclass(frozen=True)
class FusedGroup:
    """Nodes computed as one loop nest: only `inputs` and `output` exist in the arena."""

    ops: tuple[int, ...]  # node indices, in order
    opcodes: tuple[str, ...]
    inputs: tuple[int, ...]  # activation tensors read (constants stay in flash)
    output: int
    input_offsets: tuple[int, ...]
    output_offset: int


@dataclass(frozen=True)
class FusedPlan:
    groups: tuple[FusedGroup, ...]
    plan: MemoryPlan  # buffers over group steps: group g runs at time g + 1

    @property
    def arena_bytes(self) -> int:
        return self.plan.arena_bytes

    def as_dict(self) -> dict:
        sizes = {b.tensor: b.size for b in self.plan.buffers}
        return {"arena_bytes": self.arena_bytes, "alignment": ALIGNMENT,
                "groups": [{"ops": list(g.ops), "opcodes": list(g.opcodes),
                            "inputs": [{"tensor": t, "offset": o, "bytes": sizes[t]}
                                       for t, o in zip(g.inputs, g.input_offsets)],
                            "output": {"tensor": g.output, "offset": g.output_offset,
                                       "bytes": sizes[g.output]}}
                           for g in self.groups]}


def fuse(graph: Graph) -> list[tuple[int, ...]]:
    """Node indices grouped: an anchor (conv, depthwise, FC), its activations, at most one
    non-overlapping pool with its activations; RESHAPE joins any group (it only renames bytes).

    A node joins the group before it only if it reads nothing but that group's output and it is
    that output's only reader, so no intermediate map is ever needed outside the group.
    """
    readers = _readers(graph)
    groups: list[list[int]] = []
    for index in range(len(graph.ops)):
        if groups and _joins(graph, groups[-1], index, readers):
            groups[-1].append(index)
        else:
            groups.append([index])
    return [tuple(group) for group in groups]


def _readers(graph: Graph) -> dict[int, int]:
    counts: dict[int, int] = {t: 1 for t in graph.outputs}  # a graph output is read outside
    for op in graph.ops:
        for t in set(op.inputs):
            counts[t] = counts.get(t, 0) + 1
    return counts


def _joins(graph: Graph, group: list[int], index: int, readers: dict[int, int]) -> bool:
    op, previous = graph.ops[index], graph.ops[group[-1]]
    activations = [t for t in op.inputs if t >= 0 and not graph.tensors[t].is_constant]
    if len(previous.outputs) != 1 or activations != [previous.outputs[0]] \
            or readers.get(previous.outputs[0]) != 1:
        return False
    if op.opcode in POINTWISE or op.opcode == "RESHAPE":
        return True
    opcodes = [graph.ops[i].opcode for i in group]
    has_pool = any(i > 0 and graph.ops[g].opcode in POOLS for i, g in enumerate(group))
    return opcodes[0] in ANCHORS and not has_pool and _is_subsampling(graph, index)


def _is_subsampling(graph: Graph, index: int) -> bool:
    """A pool (or 1-multiplier depthwise) whose windows tile its input: each value read once."""
    op = graph.ops[index]
    if op.opcode not in POOLS:
        return False
    o = op.options
    if op.opcode == "DEPTHWISE_CONV_2D":
        _, height, width, _ = graph.tensors[op.inputs[1]].shape
        if o.get("depth_multiplier", 1) != 1 or o.get("dilation_w_factor", 1) != 1 \
                or o.get("dilation_h_factor", 1) != 1:
            return False
    else:
        height, width = o["filter_height"], o["filter_width"]
    return (height, width) == (o["stride_h"], o["stride_w"]) and o["padding"] == Padding.VALID


def fused_plan(graph: Graph, element_bytes: int | None = None) -> FusedPlan:
    """The arena a firmware with fused kernels needs: the smaller of TFLM's greedy placement and
    double buffering over the groups' inputs and outputs."""
    groups = fuse(graph)
    steps = [(_group_inputs(graph, g), graph.ops[g[-1]].outputs) for g in groups]
    # tensors made and consumed inside a group never touch the arena
    buffers = [b for b in lifetimes(graph, steps, element_bytes) if b.first != UNUSED]
    plan = min(filter(None, (greedy_plan(buffers), _ping_pong(buffers))),
               key=lambda p: p.arena_bytes)
    planned = {b.tensor for b in plan.buffers}
    return FusedPlan(tuple(
        FusedGroup(ops=g, opcodes=tuple(graph.ops[i].opcode for i in g),
                   inputs=inputs, output=outputs[0],
                   input_offsets=tuple(plan.offset_of(t) for t in inputs),
                   output_offset=plan.offset_of(outputs[0]) if outputs[0] in planned else -1)
        for g, (inputs, outputs) in zip(groups, steps)), plan)


def _ping_pong(buffers: list[Buffer]) -> MemoryPlan | None:
    """Buffers in creation order alternately at the bottom and the top of the arena; None unless
    buffers live together always sit at opposite ends (a chain). Optimal for a chain, where the
    greedy order can leave a gap: the arena is the largest pair live at once."""
    order = sorted(range(len(buffers)), key=lambda i: buffers[i].first)
    top = {i: k % 2 == 1 for k, i in enumerate(order)}
    pairs = [(i, j) for i in range(len(buffers)) for j in range(i)
             if buffers[i].overlaps(buffers[j])]
    if not buffers or any(top[i] == top[j] for i, j in pairs):
        return None
    arena = max([b.size for b in buffers] + [buffers[i].size + buffers[j].size for i, j in pairs])
    return MemoryPlan(tuple(buffers), tuple(arena - b.size if top[i] else 0
                                            for i, b in enumerate(buffers)))


def _group_inputs(graph: Graph, group: tuple[int, ...]) -> tuple[int, ...]:
    """Activation tensors the group reads from outside itself."""
    made_inside = {t for i in group for t in graph.ops[i].outputs}
    return tuple(dict.fromkeys(
        t for i in group for t in graph.ops[i].inputs
        if t >= 0 and not graph.tensors[t].is_constant and t not in made_inside))
