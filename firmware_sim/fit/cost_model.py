"""The generated firmware's cost, predicted without building it: instructions per inference,
flash and RAM, from per-core coefficients measured on QEMU (fit/cores/<core>.toml, written by
`lenet-edge calibrate --board B`, firmware/calibrate.py).

    costs = step_costs(graph)                  # per fused step: kernel function, terms, data
    core = load_core("cortex-m4")              # coefficients of one core
    predict(graph, core).instructions_per_inference

Per step (emulator/steps.py's plan, the conv weights' encoding of fit/conv_layout.py):
instructions = sum over its terms of count x coefficient, the terms being
  conv (CONV_2D and FULLY_CONNECTED, with what steps.py fused in), by weight encoding E:
    E.mac      multiply-adds the kernel executes: dense, all patch slots (zeros included);
               blocked, the slots of kept (output, input) blocks; sparse, entries; bitmap,
               nonzero weights
    E.patch    patch values gathered (dense and blocked: groups x pixels x segments x slots)
               of windows inside the input; patch.border the same of windows crossing its
               border (conv_layout.border_units), gathered tap by tap
    blocked.run  the runs of kept input channels of every output channel, per pixel (group):
               each a call of the MAC loop
    E.output   conv output values (pixels, times 4 with a fused 2x2 subsampling, x channels:
               the loop over channels, requantize, clamp); E.output_lut: the same in the _lut
               variants (requantize into a table)
    bitmap.word  bitmap words scanned (pixels x output channels x words)
    pairs.mac  for pairs, the SMLADs (2 multiply-adds each): each (tap, tap + 1) pair of a
               channel once per conv pixel; pairs.mac_strided the same for 2x2 groups whose
               two columns are not adjacent in the pair buffer (stride or channels > 1: the
               kernel's C loop, four loads a pair, where LeNet's take one LDM);
               pairs' output terms count live maps only (a dead map is computed once)
    pairs.input  the pair buffer's words filled (fit/conv_layout.pair_buffer_bytes / 4)
    sub_dw.output, sub_avg.output, sub_max.output  the fused subsampling's work, per conv
               output value it reads
  depthwise.mac / depthwise.output, pool.tap / pool.output, lookup.element,
  softmax.element / softmax.row, add.element, mul.element, quantize.element,
  dequantize.element;
  call (every step that runs code) and base (one per inference).
A runtime function (kernel variant) whose calibration steps outnumber its terms by 2 has its own
coefficients (function_terms); any other has its own factor on the shared sum (function_scale). Flash: the code of each runtime function used (measured per core from the linker map), the
parameter structs (measured per type), model.c's code (base + per call), and the const arrays
computed here as the emitters lay them out. RAM: fit/arena.py's arena (exact) + the stack of
one inference, the static bound `flash` reports (firmware/stack_usage.py): model_invoke's own
frame with its widest call (the largest "model_invoke/<kernel>" of the kernels used; the frame
of one calling nothing, "model_invoke", without calls) + the deepest kernel used, as
calibrate's static_stack computed them.
"""
import datetime
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from firmware_sim.emulator.ir import Graph
from firmware_sim.emulator.steps import planar_tensors, plan_steps
from firmware_sim.errors import ArgumentError, FirmwareSimError
from firmware_sim.fit import conv_layout
from firmware_sim.fit.arena import firmware_arena
from firmware_sim.fit.planner import tflm_arena

CORES_DIR = Path(__file__).parent / "cores"
# issue 13's flash bound, which --optimize speed keeps where encodings can: at most 1.1x the
# .tflite, for models over 10 KB
FLASH_RATIO = 1.1
FLASH_GOAL_MIN_BYTES = 10 * 1024
INSTRUCTION_TERMS = (
    "base", "call",
    "dense.mac", "dense.patch", "dense.output", "dense.output_lut", "patch.border",
    "blocked.mac", "blocked.patch", "blocked.run", "blocked.output", "blocked.output_lut",
    "sparse.mac", "sparse.output", "sparse.output_lut",
    "bitmap.mac", "bitmap.output", "bitmap.output_lut", "bitmap.word",
    "pairs.mac", "pairs.mac_strided", "pairs.output", "pairs.output_lut", "pairs.input",
    "sub_dw.output", "sub_avg.output", "sub_max.output",
    "depthwise.mac", "depthwise.output", "pool.tap", "pool.output", "lookup.element",
    "softmax.element", "softmax.row", "add.element", "mul.element", "quantize.element",
    "dequantize.element")
_POOL_SUFFIX = {"AVERAGE_POOL_2D": "avg", "MAX_POOL_2D": "max", "DEPTHWISE_CONV_2D": "dw"}
_FUNCTION_OF_KIND = {"depthwise": "nn_depthwise", "pool": "nn_pool", "lookup": "nn_lookup",
                     "softmax": "nn_softmax", "binary": "nn_binary", "quantize": "nn_quantize",
                     "dequantize": "nn_dequantize"}
# the parameter struct of each kernel (model_data.c), by function name prefix
_STRUCT_OF_KIND = {"depthwise": "nn_depthwise_t", "pool": "nn_pool_t",
                   "softmax": "nn_softmax_t", "binary": "nn_binary_t"}


class CoreError(FirmwareSimError):
    """A core without coefficients, or a coefficient file that is not one calibrate writes."""


@dataclass(frozen=True)
class StepCost:
    index: int
    kind: str
    function: str | None  # the runtime function model.c calls; None: no code (a reshape)
    structs: tuple[str, ...]  # parameter struct types it emits
    terms: dict  # instruction term -> count
    array_bytes: int  # const arrays (weights, biases, multipliers, tables)
    encoding: str | None = None
    choice: conv_layout.EncodingSize | None = None  # a conv step's encoding, by its sizes


@dataclass(frozen=True)
class Core:
    """One core's coefficients (a fit/cores/<core>.toml)."""

    name: str
    coefficients: dict  # instruction term -> instructions per count
    function_bytes: dict  # runtime function -> code bytes
    object_rodata: dict  # runtime object -> its own const bytes (kept when one of its functions is)
    function_object: dict  # runtime function -> its object
    struct_bytes: dict  # struct type -> bytes
    function_stack: dict  # runtime function -> its static depth; model_invoke's frames
    model_code: dict  # model.c: base and per-call bytes
    cpi: float  # cycles per instruction assumed on silicon
    cpi_source: str
    board: str
    date: str
    max_relative_residual: float
    source: str = ""
    function_scale: dict = field(default_factory=dict)  # runtime function -> its own factor
    function_terms: dict = field(default_factory=dict)  # "function:term" -> its own coefficient


@dataclass(frozen=True)
class Prediction:
    core: str
    instructions_per_inference: float
    flash_inference: int
    ram_inference: int
    ram_arena: int
    ram_stack: int
    steps: tuple = field(default_factory=tuple)  # per step: function, encoding, instructions


def shipped_cores() -> list[str]:
    return sorted(path.stem for path in CORES_DIR.glob("*.toml"))


def load_core(core: str | Path) -> Core:
    """A core's coefficients by name (cortex-m4) or path; CoreError naming calibrate if none."""
    path = Path(core)
    if path.suffix != ".toml":
        path = CORES_DIR / f"{core}.toml"
    if not path.is_file():
        raise CoreError(f"no cost-model coefficients for core {str(core)!r} (have: "
                        f"{', '.join(shipped_cores()) or 'none'}); measure them with "
                        f"`lenet-edge calibrate --board BOARD` on a QEMU board with that core")
    try:
        with open(path, "rb") as file:
            values = tomllib.load(file)
        if "instructions_of" in values:
            # a core that runs another core's build (the M0+ runs the M0's ARMv6-M code): its
            # instructions, code and stack are that core's; only the cycles per instruction differ
            return replace(load_core(values["instructions_of"]), name=values["core"],
                           cpi=float(values["cpi"]), cpi_source=values["cpi_source"],
                           source=str(path))
        return Core(name=values["core"], coefficients=dict(values["instructions"]),
                    function_bytes=dict(values["function_bytes"]),
                    object_rodata=dict(values.get("object_rodata", {})),
                    function_object=dict(values["function_object"]),
                    struct_bytes=dict(values["struct_bytes"]),
                    function_stack=dict(values["function_stack"]),
                    model_code=dict(values["model_code"]), cpi=float(values["cpi"]),
                    cpi_source=values["cpi_source"], board=values["board"],
                    date=str(values["date"]),
                    max_relative_residual=float(values["max_relative_residual"]),
                    source=str(path), function_scale=dict(values.get("function_scale", {})),
                    function_terms=dict(values.get("function_terms", {})))
    except (KeyError, TypeError, ValueError, tomllib.TOMLDecodeError) as error:
        raise CoreError(f"{path}: not a coefficient file of `lenet-edge calibrate` "
                        f"({type(error).__name__}: {error})") from None


def pricing_core(optimize, core: "Core | str") -> "Core | None":
    """The core whose prices choose the conv encodings: `core` for `optimize` speed, None (the
    smallest encodings) for size; `optimize` may itself be a Core, whose prices then choose
    (calibrate's, to measure every kernel)."""
    if isinstance(optimize, Core):
        return optimize
    if optimize not in conv_layout.OPTIMIZE:
        raise ArgumentError(f"unknown optimize goal {optimize!r}; choose one of "
                            f"{', '.join(conv_layout.OPTIMIZE)}")
    if optimize == "size":
        return None
    return core if isinstance(core, Core) else load_core(core)


def step_costs(graph: Graph, core: Core | None = None) -> list[StepCost]:
    """Per fused step: the runtime function, the instruction terms and the const array bytes.
    Each conv step takes the encoding conv_layout.choose picks: the fastest on `core` (its
    prices), or without a core the smallest. The code generator builds from these choices.

    With a shipped core (`--optimize speed`), the speed is bought within issue 13's memory
    bounds where encodings can keep them: while the arena exceeds TFLM's, the paired layer
    with the widest pair buffer (four to eight times its input) falls back to its next fastest
    encoding; while the flash of a model over FLASH_GOAL_MIN_BYTES exceeds FLASH_RATIO times
    its .tflite, the layer whose encoding is largest beside size's choice does (or, where one
    layer's fallback alone would do, the one it slows least). A bound that
    every fallback together would still miss leaves speed's choice as it is."""
    steps = plan_steps(graph)
    planar = planar_tensors(graph, steps)

    def cost(index: int, excluded=()) -> StepCost:
        step = steps[index]
        if step.kind == "conv":
            return _conv_cost(graph, step, index, step.inputs[0] in planar, core, excluded)
        return _other_cost(graph, step, index)

    costs = [cost(index) for index in range(len(steps))]
    if core is None or not core.function_bytes:  # the smallest, or calibrate's own prices
        return costs
    excluded = {}  # step -> the encodings it fell back from (kept across both bounds)
    limit = tflm_arena(graph).total
    costs = _fall_back(costs, excluded, lambda c: firmware_arena(graph, encodings(c)).size
                       <= limit, cost, lambda c: c.encoding == "pairs",
                       lambda old, new: (-old.choice.scratch, old.index), core)
    if graph.file_bytes > FLASH_GOAL_MIN_BYTES and \
            set(functions_used(costs)) <= set(core.function_bytes):
        smallest = step_costs(graph)
        costs = _fall_back(
            costs, excluded, lambda c: flash_bytes(c, core) <= FLASH_RATIO * graph.file_bytes,
            cost, lambda c: c.choice is not None and c.encoding != smallest[c.index].encoding
            and c.choice.nbytes > smallest[c.index].choice.nbytes,
            lambda old, new: (smallest[old.index].choice.nbytes - old.choice.nbytes, old.index), core)
    return costs


def _fall_back(costs: list, excluded: dict, fits, cost, candidate, order, core: Core) -> list:
    """`costs` with one `candidate` step after another priced without its encoding (added to
    `excluded`) until fits(costs); `costs` and `excluded` unchanged if no candidate is left
    before that. Each time, of the steps whose fallback alone fits, the one it slows least (a
    bound missed by a few bytes gives up a small layer's encoding, not the largest layer's: a
    QAT'd LeNet-5 97 bytes over had lost 12% of its speed to C5's); while none does, the
    least by order(its cost, its cost without that encoding). A step whose every encoding is
    excluded prices back to one of them and is a candidate no more."""
    trial, tried, spent = list(costs), dict(excluded), set()
    while not fits(trial):
        options = {c.index: cost(c.index, (*tried.get(c.index, ()), c.encoding))
                   for c in trial if candidate(c) and c.index not in spent}
        if not options:
            return costs
        alone = [i for i, new in options.items() if fits([*trial[:i], new, *trial[i + 1:]])]
        index = min(alone, key=lambda i: (step_instructions(options[i], core)
                                          - step_instructions(trial[i], core), i)) if alone \
            else min(options, key=lambda i: order(trial[i], options[i]))
        tried[index] = (*tried.get(index, ()), trial[index].encoding)
        trial[index] = options[index]
        if trial[index].encoding in tried[index]:
            spent.add(index)
    excluded.update(tried)
    return trial


def encodings(costs: list[StepCost]) -> list:
    """Each step's chosen conv encoding (conv_layout.EncodingSize), None for the others: what
    fit/arena.py and the code generator take."""
    return [cost.choice for cost in costs]


def _stage_bytes(stage, table) -> int:
    """bias, multiplier (int32), shift (int8) and the optional table of an output stage."""
    bias = max(np.asarray(stage.bias).size, 1)
    channels = max(np.asarray(stage.output_multiplier).size, 1)
    return 4 * bias + 4 * channels + max(np.asarray(stage.output_shift).size, 1) + \
        (256 if table is not None else 0)


def _conv_cost(graph: Graph, step, index: int, planar_input: bool,
               core: Core | None, excluded: tuple = ()) -> StepCost:
    g = conv_layout.step_geometry(graph, step)
    weights, geometry = conv_layout.conv_weights(graph, step, planar_input)

    def cost(choice):
        return _encoded_cost(graph, step, index, g, weights, geometry, choice)

    smallest = conv_layout.choose(weights, geometry).kind
    options = conv_layout.sizes(weights, geometry)
    patch_macs = min(cost(options[kind]).terms[f"{kind}.mac"] for kind in conv_layout.PATCH_KINDS
                     if kind in options)

    def price(choice) -> float:
        priced = cost(choice)
        if not core.function_bytes:  # calibrate's own prices
            return step_instructions(priced, core)
        if choice.kind in excluded:
            return float("inf")
        smlads = priced.terms.get("pairs.mac", 0) + priced.terms.get("pairs.mac_strided", 0)
        if choice.kind == "pairs" and 2 * smlads >= patch_macs:
            # the pair buffer (two to four times the input in RAM) is spent only where pairs
            # skip multiply-adds: a dense layer's run through it would be fast, but the RAM
            # of a dense twin would grow for no pruning (LeNet-5's C1 and C3 to 10.9 KB)
            return float("inf")
        if priced.function not in core.function_scale:
            # a kernel this core's calibration has not timed: its price is a guess (blocked
            # weights without a subsampling ran 4x theirs)
            return float("inf")
        fitted = any(key.startswith(f"{priced.function}:") for key in core.function_terms)
        if choice.kind not in conv_layout.PATCH_KINDS and choice.kind != smallest and not fitted:
            # an index kernel priced from the shared terms alone is a guess the choice would
            # seize where it errs low (bitmap weights with a 2x2 subsampling ran 2-4x theirs);
            # the patch kernels stay: they are what the dense twin runs
            return float("inf")
        return step_instructions(priced, core)

    return cost(conv_layout.choose(weights, geometry, None if core is None else price))


def _encoded_cost(graph: Graph, step, index: int, g: dict, weights: np.ndarray,
                  geometry: conv_layout.Geometry, choice) -> StepCost:
    """A conv step's cost with its weights in the encoding `choice`."""
    kind, out_c, groups = choice.kind, g["out_c"], geometry.groups
    pixels = (g["out_h"] // 2) * (g["out_w"] // 2) if step.subsample else g["out_h"] * g["out_w"]
    conv_pixels = groups * pixels
    nonzero = int(np.count_nonzero(weights))
    if kind == "dense":
        slots = out_c * choice.seg_len
    elif kind == "blocked":
        slots = int(conv_layout.kept_blocks(weights).sum()) * choice.seg_len
    elif kind == "sparse":
        slots = (choice.nbytes - 2 * out_c) // 2
    elif kind == "pairs":
        slots = choice.slots
    else:
        slots = nonzero
    mac = f"{kind}.mac"
    if kind == "pairs" and groups == 4 and g["stride"][1] * geometry.steps[1] != 1:
        mac = "pairs.mac_strided"  # a group's two columns not adjacent: runtime's C loop
    terms = {mac: conv_pixels * slots, "call": 1}
    lut = conv_layout.lut_variant(step)
    # the pairs kernel computes a dead map's output once (its bias's): only live maps loop
    maps = int(np.count_nonzero(np.abs(weights).reshape(out_c, -1).sum(axis=1))) \
        if kind == "pairs" else out_c
    terms[f"{kind}.output_lut" if lut else f"{kind}.output"] = conv_pixels * maps
    if kind in conv_layout.PATCH_KINDS:
        taps = choice.segments * choice.seg_len
        border = groups * conv_layout.border_units(g, groups)
        terms[f"{kind}.patch"] = (conv_pixels - border) * taps
        terms["patch.border"] = border * taps
    if kind == "blocked":
        terms["blocked.run"] = pixels * conv_layout.block_runs(conv_layout.kept_blocks(weights))
    if kind == "bitmap":
        words = (choice.nbytes - nonzero) // (4 * out_c)
        terms["bitmap.word"] = conv_pixels * out_c * words
    if kind == "pairs":
        terms["pairs.input"] = choice.scratch // 4  # the pair buffer's words filled
    function = f"nn_conv_{kind}"
    structs = [f"nn_conv_{kind}_t"]
    array_bytes = choice.nbytes + _stage_bytes(step.params, step.table)
    if step.subsample:
        opcode, params = step.subsample
        suffix = _POOL_SUFFIX[opcode]
        function += f"_{suffix}"
        terms[f"sub_{suffix}.output"] = conv_pixels * maps
        if opcode == "DEPTHWISE_CONV_2D":
            structs.append("nn_sub_depthwise_t")
            array_bytes += np.asarray(params.filter).size + _stage_bytes(params,
                                                                          step.subsample_table)
        else:
            structs.append("nn_sub_pool_t")
            array_bytes += 256 if step.subsample_table is not None else 0
    if lut:
        function += "_lut"
    return StepCost(index, "conv", function, tuple(structs), terms, int(array_bytes), kind,
                    choice)


def _other_cost(graph: Graph, step, index: int) -> StepCost:
    kind = step.kind
    out = graph.tensors[step.output]
    size = int(out.size)
    table = 256 if step.table is not None else 0
    terms, array_bytes = {"call": 1}, table
    if kind == "reshape":
        return StepCost(index, kind, None, (), {}, 0)
    if kind == "depthwise":
        params = step.params
        taps = params.filter_hw[0] * params.filter_hw[1]
        terms.update({"depthwise.mac": size * taps, "depthwise.output": size})
        array_bytes += np.asarray(params.filter).size + _stage_bytes(params, None)
    elif kind == "pool":
        params = step.params
        terms.update({"pool.tap": size * params.filter_hw[0] * params.filter_hw[1],
                      "pool.output": size})
    elif kind == "lookup":
        terms["lookup.element"] = size
        array_bytes = 256
    elif kind == "softmax":
        depth = out.shape[-1]
        terms.update({"softmax.element": size, "softmax.row": size // depth})
        params = step.params
        exp = np.where(params.in_range, params.exp_table, 0)
        array_bytes = 4 * max(int(np.flatnonzero(exp).max(initial=-1)) + 1, 1)
    elif kind == "binary":
        terms[f"{graph.ops[step.ops[0]].opcode.lower()}.element"] = size
        array_bytes += sum(graph.tensors[t].data.size for t in step.constants.values())
    elif kind == "quantize":
        terms["quantize.element"] = size
        array_bytes = 0
    elif kind == "dequantize":
        terms["dequantize.element"] = size
        array_bytes = 4 * 256
    structs = (_STRUCT_OF_KIND[kind],) if kind in _STRUCT_OF_KIND else ()
    return StepCost(index, kind, _FUNCTION_OF_KIND[kind], structs, terms, int(array_bytes))


def instruction_features(costs: list[StepCost]) -> np.ndarray:
    """One inference's term counts, in INSTRUCTION_TERMS order (calibrate fits on these)."""
    row = np.zeros(len(INSTRUCTION_TERMS))
    row[0] = 1.0  # base
    for cost in costs:
        for term, count in cost.terms.items():
            row[INSTRUCTION_TERMS.index(term)] += count
    return row


def step_instructions(cost: StepCost, core: Core) -> float:
    """The step's terms times its kernel's own coefficients where the calibration measured
    enough of its steps to fit them (function_terms), else times the core's shared
    coefficients and the kernel's own factor (function_scale; 1 for a kernel not measured)."""
    own = {term: core.function_terms.get(f"{cost.function}:{term}") for term in cost.terms}
    if cost.terms and all(value is not None for value in own.values()):
        return sum(count * own[term] for term, count in cost.terms.items())
    shared = sum(count * core.coefficients.get(term, 0.0) for term, count in cost.terms.items())
    return shared * core.function_scale.get(cost.function, 1.0)


def functions_used(costs: list[StepCost]) -> list[str]:
    return sorted({c.function for c in costs if c.function})


def predict(graph: Graph, core: Core | str, optimize: str = "speed") -> Prediction:
    """Instructions per inference, flash and RAM of the firmware `lenet-edge flash` generates
    with the same `optimize` goal (speed: each conv the encoding fastest on `core`)."""
    core = core if isinstance(core, Core) else load_core(core)
    costs = step_costs(graph, pricing_core(optimize, core))
    functions = functions_used(costs)
    missing = [f for f in functions if f not in core.function_bytes]
    if missing:
        raise CoreError(f"core {core.name}'s coefficients ({core.source}) do not cover "
                        f"{', '.join(missing)}; rerun `lenet-edge calibrate --board "
                        f"{core.board}`")
    per_step = [step_instructions(c, core) for c in costs]
    instructions = core.coefficients.get("base", 0.0) + sum(per_step)
    flash = flash_bytes(costs, core)
    arena = firmware_arena(graph, encodings(costs)).size
    stack = inference_stack(core, functions)
    return Prediction(core.name, float(instructions), int(round(flash)), arena + stack, arena,
                      stack, tuple(dict(function=c.function, encoding=c.encoding,
                                        instructions=i) for c, i in zip(costs, per_step)))


def flash_bytes(costs: list[StepCost], core: Core) -> float:
    """The inference's flash: const arrays, parameter structs, the kernels' code and constants,
    model.c."""
    functions = functions_used(costs)
    calls = sum(1 for c in costs if c.function)
    objects = {core.function_object[f] for f in functions}
    return (sum(c.array_bytes for c in costs)
            + sum(core.struct_bytes.get(s, 0) for c in costs for s in c.structs)
            + sum(core.function_bytes[f] for f in functions)
            + sum(core.object_rodata.get(o, 0) for o in objects)
            + core.model_code["base"] + core.model_code["per_call"] * calls)


def inference_stack(core: Core, functions: list[str]) -> int:
    """The static stack of a model_invoke calling `functions`: its frame with the widest call
    + the deepest function."""
    keys = [f"model_invoke/{f}" for f in functions] or ["model_invoke"]
    missing = [k for k in [*keys, *functions] if k not in core.function_stack]
    if missing:
        raise CoreError(f"core {core.name}'s coefficients ({core.source}) have no static stack "
                        f"of {missing[0]}; rerun `lenet-edge calibrate --board {core.board}`")
    return (max(core.function_stack[k] for k in keys)
            + max((core.function_stack[f] for f in functions), default=0))


def write_core(path: Path, values: dict) -> None:
    """A coefficient file (calibrate's output): flat TOML tables of numbers and strings."""
    lines = [f"# Cost-model coefficients of {values['core']}, measured by `lenet-edge "
             f"calibrate --board {values['board']}` (firmware/calibrate.py) on "
             f"{values['date']}.",
             "# Instructions are QEMU's exact counts (-icount); cycles = instructions x cpi."]
    lines.append("# run_seconds: this run's time; measurements reused from calibrate's cache "
                 "take none (from scratch: ~5-6 min a core on this machine)")
    for key in ("core", "board", "date", "cpi", "cpi_source", "max_relative_residual",
                "calibration_models", "run_seconds"):
        lines.append(f"{key} = {_toml_value(values[key])}")
    for table in ("instructions", "function_terms", "function_scale", "function_bytes", "object_rodata", "function_object",
                  "struct_bytes", "function_stack", "model_code"):
        lines.append(f"\n[{table}]")
        lines += [f"\"{k}\" = {_toml_value(v)}" for k, v in sorted(values.get(table, {}).items())]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def _toml_value(value) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (datetime.date,)):
        return value.isoformat()
    if isinstance(value, float):
        return repr(float(value))
    return str(int(value))
