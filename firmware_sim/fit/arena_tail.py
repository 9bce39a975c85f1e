"""TFLM's arena tail: the persistent structs the runtime and the kernels keep for a model.

The tail grows down from the end of the arena; each allocation is placed at the highest address
below the previous one that its alignment allows, so the padding depends on the order. The order
(micro_allocator.cc, micro_interpreter.cc AllocateTensors, TFLM commit 90b983c):
  1. the allocator objects: arena buffer allocator, GreedyMemoryPlanner, MicroAllocator
  2. StartModelAllocation: builtin-data allocator, SubgraphAllocations, one TfLiteEvalTensor per
     tensor, one NodeAndRegistration per node
  3. each node's builtin options struct, parsed from the flatbuffer (none for TANH, RELU, ...)
  4. each kernel's Init: its OpData, 16-byte aligned (MicroContext::AllocatePersistentBuffer)
  5. each kernel's Prepare: per-channel output multiplier and shift arrays (conv, depthwise,
     per-channel FC), 16-byte aligned
  6. the input and output TfLiteTensor* arrays, then for each graph input and output a
     persistent TfLiteTensor, its TfLiteAffineQuantization and its zero-point TfLiteIntArray.

Struct sizes differ between ABIs; both tables come from sizeof/alignof compiled from TFLM's
headers (g++ for x86-64, arm-none-eabi-g++ -mcpu=cortex-m4 for Cortex-M, whose AAPCS enums are
short). HOST64 is the tflite-micro PyPI interpreter (RecordingMicroAllocator, built with
USE_TFLM_COMPRESSION): tests check it against the interpreter's own report byte for byte. ARM32 is
what a Cortex-M firmware built from the same sources with MicroAllocator would use: derived, not
measured on a board.
"""
from dataclasses import dataclass, field

from firmware_sim.emulator.ir import Graph

KERNEL_ALIGNMENT = 16  # MicroArenaBufferAlignment(): what AllocatePersistentBuffer(ctx, n) uses


@dataclass(frozen=True)
class Abi:
    name: str
    description: str
    runtime: tuple[tuple[int, int], ...]  # (size, align) of the allocator objects, in order
    builtin_data_allocator: tuple[int, int]
    subgraph_allocations: tuple[int, int]
    eval_tensor: tuple[int, int]  # TfLiteEvalTensor
    node: tuple[int, int]  # NodeAndRegistration
    tensor: tuple[int, int]  # TfLiteTensor
    affine_quantization: tuple[int, int]  # TfLiteAffineQuantization
    pointer: int
    builtin: dict[str, tuple[int, int]] = field(default_factory=dict)  # options struct per op
    op_data: dict[str, int] = field(default_factory=dict)  # Init's OpData bytes per op


# Builtin options structs (TfLiteConvParams, ...) that hold only ints and enums.
_COMMON_BUILTIN = {"CONV_2D": (28, 4), "DEPTHWISE_CONV_2D": (28, 4), "AVERAGE_POOL_2D": (40, 4),
                   "MAX_POOL_2D": (40, 4), "SOFTMAX": (4, 4), "RESHAPE": (36, 4)}
# OpData structs without pointers or with the same layout on both ABIs.
_COMMON_OP_DATA = {"AVERAGE_POOL_2D": 32, "MAX_POOL_2D": 32, "TANH": 16, "LOGISTIC": 16,
                   "RELU": 28, "RELU6": 8, "ADD": 60, "MUL": 36, "QUANTIZE": 32, "DEQUANTIZE": 32}

HOST64 = Abi(
    name="host64",
    description="x86-64, tflite-micro PyPI interpreter (RecordingMicroAllocator)",
    # RecordingSingleArenaBufferAllocator, GreedyMemoryPlanner, RecordingMicroAllocator
    runtime=((104, 8), (72, 8), (272, 8)),
    builtin_data_allocator=(16, 8), subgraph_allocations=(24, 8), eval_tensor=(24, 8),
    node=(64, 8), tensor=(64, 8), affine_quantization=(24, 8), pointer=8,
    # TfLiteFullyConnectedParams is 16 bytes in the sources read, but the PyPI build's tail is
    # 16 bytes larger per FULLY_CONNECTED node in every model tried: its struct has grown.
    builtin={**_COMMON_BUILTIN, "FULLY_CONNECTED": (32, 4), "ADD": (8, 4), "MUL": (4, 4)},
    # USE_TFLM_COMPRESSION adds two scratch indices to the conv and FC OpData
    op_data={**_COMMON_OP_DATA, "CONV_2D": 80, "DEPTHWISE_CONV_2D": 80, "FULLY_CONNECTED": 72,
             "SOFTMAX": 80})

ARM32 = Abi(
    name="arm32",
    description="Cortex-M (AAPCS, short enums), MicroAllocator, no compression",
    # SingleArenaBufferAllocator, GreedyMemoryPlanner, MicroAllocator
    runtime=((36, 4), (44, 4), (36, 4)),
    builtin_data_allocator=(8, 4), subgraph_allocations=(8, 4), eval_tensor=(12, 4),
    node=(32, 4), tensor=(32, 4), affine_quantization=(12, 4), pointer=4,
    builtin={**_COMMON_BUILTIN, "FULLY_CONNECTED": (5, 1), "ADD": (2, 1), "MUL": (1, 1)},
    op_data={**_COMMON_OP_DATA, "CONV_2D": 56, "DEPTHWISE_CONV_2D": 56, "FULLY_CONNECTED": 48,
             "SOFTMAX": 56})

ABIS = {abi.name: abi for abi in (HOST64, ARM32)}


@dataclass(frozen=True)
class Allocation:
    what: str  # the category TFLM's RecordingMicroAllocator would report it under, roughly
    size: int
    align: int


def tail_allocations(graph: Graph, abi: Abi) -> list[Allocation]:
    """Every persistent allocation TFLM makes for `graph`, in the order it makes them."""
    allocations = [Allocation("runtime objects", s, a) for s, a in abi.runtime]
    allocations += [
        Allocation("runtime objects", *abi.builtin_data_allocator),
        Allocation("runtime objects", *abi.subgraph_allocations),
        Allocation("eval tensors", abi.eval_tensor[0] * len(graph.tensors), abi.eval_tensor[1]),
        Allocation("nodes", abi.node[0] * len(graph.ops), abi.node[1])]
    allocations += [Allocation("builtin options", *abi.builtin[op.opcode])
                    for op in graph.ops if op.opcode in abi.builtin]
    allocations += [Allocation("kernel data", abi.op_data[op.opcode], KERNEL_ALIGNMENT)
                    for op in graph.ops if op.opcode in abi.op_data]
    for op in graph.ops:
        channels = _per_channel_arrays(graph, op)
        allocations += [Allocation("kernel data", 4 * channels, KERNEL_ALIGNMENT)] * (2 * bool(channels))
    for group in (graph.inputs, graph.outputs):
        allocations.append(Allocation("io tensors", abi.pointer * len(group), KERNEL_ALIGNMENT))
        for t in group:
            allocations += _persistent_tensor(graph, t, abi)
    return allocations


def _per_channel_arrays(graph: Graph, op) -> int:
    """Channels whose multiplier and shift Prepare stores (0: none stored)."""
    if op.opcode not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
        return 0
    filter_ = graph.tensors[op.inputs[1]]
    if op.opcode == "FULLY_CONNECTED":  # per-tensor FC keeps one multiplier in its OpData
        return len(filter_.quant.scales) if filter_.quant and filter_.quant.per_channel else 0
    return filter_.shape[-1] if op.opcode == "DEPTHWISE_CONV_2D" else filter_.shape[0]


def _persistent_tensor(graph: Graph, t: int, abi: Abi) -> list[Allocation]:
    quant = graph.tensors[t].quant
    allocations = [Allocation("io tensors", *abi.tensor)]
    if quant is not None:
        # TfLiteIntArrayGetSizeInBytes(channels): an int count, then one int per channel
        allocations += [Allocation("io tensors", *abi.affine_quantization),
                        Allocation("io tensors", 4 + 4 * len(quant.scales), 4)]
    return allocations


def tail_bytes(graph: Graph, abi: Abi = ARM32) -> int:
    """Bytes from the (16-byte aligned) end of the arena down to the last tail allocation."""
    top = 0
    for allocation in tail_allocations(graph, abi):
        top = (top - allocation.size) // allocation.align * allocation.align
    return -top


def tail_breakdown(graph: Graph, abi: Abi = ARM32) -> dict[str, int]:
    """Requested bytes per category (without alignment padding, which tail_bytes includes)."""
    totals: dict[str, int] = {}
    for allocation in tail_allocations(graph, abi):
        totals[allocation.what] = totals.get(allocation.what, 0) + allocation.size
    return totals
