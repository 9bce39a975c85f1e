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
subsampling, is never a buffer. A fully connected step's int16 patch (twice its input) holds
that input in its upper half when the step is the input's last reader
(conv_layout.patch_holds_input): the kernel widens the input word by word from the front, so
each write lands below the bytes still to be read, and the input costs no RAM of its own.
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
    held: tuple = ()  # a patch holding its input: (tensor key, offset in the patch, first)

    def parts(self) -> list[tuple[int, int, int, int]]:
        """(start, stop, first, last): bytes from the buffer's offset and the steps they live;
        a held input's bytes live from its own first step."""
        if not self.held:
            return [(0, self.size, self.first, self.last)]
        _, start, first = self.held
        return [(0, start, self.first, self.last), (start, self.size, first, self.last)]


def firmware_arena(graph: Graph, encodings: list | None = None) -> ArenaPlan:
    """The arena the code generator plans for `graph` with the conv encodings `encodings` (per
    step, cost_model.encodings; None: the smallest ones); raises what prepare raises, or
    UnsupportedOpError for weights the firmware's kernels cannot take."""
    steps = plan_steps(graph)
    return plan_arena(graph, steps, encodings)


def step_scratch_bytes(graph: Graph, steps: list[Step], encodings: list | None = None) -> list[int]:
    """Each step's scratch: a conv step's patch buffers for its weight encoding, else 0."""
    return [size for size, _ in _step_scratch(graph, steps, encodings)]


def _step_scratch(graph: Graph, steps: list[Step], encodings) -> list[tuple[int, bool]]:
    """Each step's scratch bytes, and whether its patch can hold the step's input."""
    planar = planar_tensors(graph, steps)
    scratch = []
    for index, step in enumerate(steps):
        if step.kind != "conv":
            scratch.append((0, False))
            continue
        weights, geometry = conv_layout.conv_weights(graph, step, step.inputs[0] in planar)
        choice = encodings[index] if encodings is not None else \
            conv_layout.choose(weights, geometry)
        scratch.append((conv_layout.scratch_bytes(choice, geometry.groups),
                        conv_layout.patch_holds_input(step, choice)))
    return scratch


def plan_arena(graph: Graph, steps: list[Step], encodings: list | None = None) -> ArenaPlan:
    """The arena of `steps` with the conv encodings `encodings` (None: the smallest)."""
    owner = _owners(graph, steps)
    buffers = _buffers(graph, steps, _step_scratch(graph, steps, encodings), owner)
    placed: list[tuple[_Buffer, int]] = []
    for buffer in sorted(buffers, key=lambda b: (-b.size, b.key)):
        placed.append((buffer, _lowest_offset(buffer, placed)))
    offsets = {b.key: offset for b, offset in placed}
    offsets.update({b.held[0]: offset + b.held[1] for b, offset in placed if b.held})
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


def _buffers(graph: Graph, steps, scratch, owner) -> list[_Buffer]:
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
    held = {}  # input key -> step whose patch holds it
    for i, (size, holds) in enumerate(scratch):
        key = owner.get(steps[i].inputs[0], steps[i].inputs[0]) if holds else None
        if holds and last[key] == i:
            held[key] = i
    buffers = [_Buffer(("tensor", t), _aligned(graph.tensors[t].nbytes), first[t], last[t])
               for t in first if t not in held]
    for i, (size, _) in enumerate(scratch):
        if not size:
            continue
        inputs = [t for t, step in held.items() if step == i]
        holding = ((("tensor", inputs[0]), size - _aligned(graph.tensors[inputs[0]].nbytes),
                    first[inputs[0]]) if inputs else ())
        buffers.append(_Buffer(("scratch", i), _aligned(size), i, i, holding))
    return buffers


def _lowest_offset(buffer: _Buffer, placed) -> int:
    """The lowest offset at which no part of `buffer` meets a part of a placed buffer alive at
    the same time (for one-part buffers: TFLM's first fit)."""
    clashes = [(start, stop, o + s, o + e) for other, o in placed
               for s, e, first, last in other.parts()
               for start, stop, mine_first, mine_last in buffer.parts()
               if first <= mine_last and mine_first <= last]
    candidates = sorted({0, *(max(0, end - start) for start, _, _, end in clashes)})
    return next(c for c in candidates  # the last one is past every clash
                if all(c + stop <= begin or end <= c + start
                       for start, stop, begin, end in clashes))


def _aligned(size: int) -> int:
    return -(-size // _ALIGN) * _ALIGN
