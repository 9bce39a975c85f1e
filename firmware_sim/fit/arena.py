"""The firmware's one static arena: TFLM's greedy placement over the fused steps.

    plan = firmware_arena(graph)   # what the generated firmware allocates (and `check` reports)
    plan.size                      # 2,920 for an int8 LeNet-5, TFLM's head being 9,408

The steps are emulator/steps.py's (the code generator's kernel calls); each conv step's scratch
is conv_layout.py's patch for the weight encoding the generator chooses (cost_model's, passed in).

Buffers are the graph input, each step's output and each step's scratch (conv patches). A
buffer lives from the step that writes it to the last step that reads it (graph outputs to the
end); a RESHAPE's output shares its input's buffer. Largest first, each buffer goes to the
lowest 4-byte-aligned offset free of every placed buffer alive at the same time, as TFLM's
GreedyMemoryPlanner does. Fusion is what shrinks the arena: a conv's own output, before its
subsampling, is never a buffer.
"""
from dataclasses import dataclass

from firmware_sim.emulator.ir import Graph
from firmware_sim.emulator.steps import Step, planar_tensors, plan_steps
from firmware_sim.fit import conv_layout

_ALIGN = 4


@dataclass(frozen=True)
class ArenaPlan:
    tensor_offsets: dict  # tensor index -> byte offset
    scratch_offsets: dict  # step index -> byte offset
    size: int


@dataclass(frozen=True)
class _Buffer:
    key: tuple  # ("tensor", index) or ("scratch", step)
    size: int
    first: int
    last: int


def firmware_arena(graph: Graph, encodings: list | None = None) -> ArenaPlan:
    """The arena the code generator plans for `graph` with the conv encodings `encodings` (per
    step, cost_model.encodings; None: the smallest ones); raises what prepare raises, or
    UnsupportedOpError for weights the firmware's kernels cannot take."""
    steps = plan_steps(graph)
    return plan_arena(graph, steps, step_scratch_bytes(graph, steps, encodings))


def step_scratch_bytes(graph: Graph, steps: list[Step], encodings: list | None = None) -> list[int]:
    """Each step's scratch: a conv step's patch buffers for its weight encoding, else 0."""
    planar = planar_tensors(graph, steps)
    scratch = []
    for index, step in enumerate(steps):
        if step.kind != "conv":
            scratch.append(0)
            continue
        weights, geometry = conv_layout.conv_weights(graph, step, step.inputs[0] in planar)
        choice = encodings[index] if encodings is not None else \
            conv_layout.choose(weights, geometry)
        scratch.append(conv_layout.scratch_bytes(choice, geometry.groups))
    return scratch


def plan_arena(graph: Graph, steps: list[Step], scratch_bytes: list[int]) -> ArenaPlan:
    owner = _owners(graph, steps)
    buffers = _buffers(graph, steps, scratch_bytes, owner)
    placed: list[tuple[_Buffer, int]] = []
    for buffer in sorted(buffers, key=lambda b: (-b.size, b.key)):
        placed.append((buffer, _lowest_offset(buffer, placed)))
    offsets = {b.key: offset for b, offset in placed}
    tensors = {t: offsets[("tensor", owner.get(t, t))]
               for t in {*graph.inputs, *(s.output for s in steps)}}
    scratch = {key[1]: offset for key, offset in offsets.items() if key[0] == "scratch"}
    size = max((offset + b.size for b, offset in placed), default=0)
    return ArenaPlan(tensors, scratch, _aligned(size))


def _owners(graph: Graph, steps) -> dict:
    """Tensor -> the tensor whose buffer it uses (reshapes alias their input)."""
    owner = {}
    for step in steps:
        if step.kind == "reshape":
            source = step.inputs[0]
            owner[step.output] = owner.get(source, source)
    return owner


def _buffers(graph: Graph, steps, scratch_bytes, owner) -> list[_Buffer]:
    first, last = {}, {}
    end = len(steps)
    for t in graph.inputs:
        first[t] = 0
    for index, step in enumerate(steps):
        for t in step.inputs:
            key = owner.get(t, t)
            last[key] = max(last.get(key, index), index)
        key = owner.get(step.output, step.output)
        first.setdefault(key, index)
        last[key] = max(last.get(key, index), index)
    for t in graph.outputs:
        last[owner.get(t, t)] = end
    buffers = [_Buffer(("tensor", t), _aligned(graph.tensors[t].nbytes), first[t], last[t])
               for t in first]
    buffers += [_Buffer(("scratch", i), _aligned(size), i, i)
                for i, size in enumerate(scratch_bytes) if size]
    return buffers


def _lowest_offset(buffer: _Buffer, placed) -> int:
    live = sorted((offset, offset + other.size) for other, offset in placed
                  if other.first <= buffer.last and buffer.first <= other.last)
    candidate = 0
    for start, stop in live:
        if candidate + buffer.size <= start:
            break
        candidate = max(candidate, stop)
    return candidate


def _aligned(size: int) -> int:
    return -(-size // _ALIGN) * _ALIGN
