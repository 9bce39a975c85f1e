"""calibrate_core(): measure the cost model's coefficients of one board's core on QEMU and write
them as fit/cores/<core>.toml (fit/cost_model.py reads them; `lenet-edge calibrate` calls this).

Each calibration model is generated, built and run (flash_arrays, a few inputs: the kernels'
instruction counts barely depend on the input; twice where the pairs encoding applies, BUILDS,
but a pairs build the board's flash cannot hold is left out) and measured:
- instructions of every kernel call (model.c rebuilt with SysTick read around each call),
  against fit.cost_model's term counts of that step: the shared coefficients are their
  non-negative least-squares fit, each row weighted by its model's total; a kernel with enough
  steps gets its own coefficients, any other its own factor; `base` is the inference's
  instructions beyond its steps; the largest relative residual over the models' totals is
  written with them;
- from the linker map: each runtime function's code bytes, each runtime object's own const
  data, each parameter struct's bytes, model.c's code (a line fitted over the number of calls);
- the stack, statically and without QEMU (static_stack): the runtime compiled alone, each
  function's worst-case depth (stack_usage.py, the bound `flash` reports), and model_invoke's
  own frame when a kernel is its widest call ("model_invoke/<kernel>": at -O0 its frame is the
  same whatever its other calls, and grows only with the stack-passed arguments of its widest).
"""
import datetime
import json
import re
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from firmware_sim.emulator.files import atomic_write
from firmware_sim.emulator.model_file import load_model
from firmware_sim.errors import ArgumentError
from firmware_sim.firmware import boards, project, qemu, stack_usage
from firmware_sim.firmware.errors import BoardTooSmallError, FirmwareError
from firmware_sim.firmware.flash_arrays import flash_arrays
from firmware_sim.firmware.model_c import INVOKE_ATTRIBUTE
from firmware_sim.fit import cost_model

# cycles per instruction assumed on silicon, per core, and where the figure comes from
CPI = {
    "cortex-m3": (1.4, "Estimate: the Cortex-M3 TRM gives 1 cycle for most ALU instructions, "
                  "2 for LDR, 3+ for taken branches, 1-2 for MUL/MLA; an int8 kernel's mix of "
                  "loads, multiply-accumulates and loop branches averages ~1.4 (no wait states)"),
    "cortex-m4": (1.3, "Estimate: the Cortex-M4 TRM gives 1 cycle for SMLAD/MLA and ALU "
                  "instructions, 2 for LDR (1 when pipelined), 1+P for taken branches; the "
                  "kernels' mix averages ~1.3 (no flash wait states, e.g. code from ART/cache)"),
    "cortex-m7": (0.8, "Estimate: the Cortex-M7 dual-issues pairs of simple instructions "
                  "(Cortex-M7 TRM, 6-stage superscalar pipeline); with caches on, int8 "
                  "kernels reach ~1.25 instructions per cycle"),
    "cortex-m0": (1.5, "Estimate: the Cortex-M0 TRM gives 1 cycle for ALU instructions and MULS "
                  "(the 1-cycle multiplier option), 2 for loads and stores, 3 for taken branches; "
                  "the byte-patch kernels' LDRSB/MULS/ADD mix with loop branches averages ~1.5"),
    "cortex-m33": (1.3, "Estimate: the Cortex-M33 TRM's timings match the Cortex-M4's for these "
                   "kernels (1-cycle SMLAD and ALU, 2-cycle LDR, 1+P taken branches): ~1.3"),
    "cortex-m55": (1.2, "Estimate: the Cortex-M55 TRM gives 1 cycle for most scalar instructions "
                   "and 2 beats per 128-bit MVE instruction on its 64-bit datapath, overlapped "
                   "between consecutive MVE instructions; the kernels' mix averages ~1.2"),
}
_RUNTIME_OBJECTS = tuple(Path(name).stem for name in project.RUNTIME_SOURCES)
_SECTION = re.compile(r"^ \.(text|rodata)\.(\S+)\s*\n?\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S+)$",
                      re.MULTILINE)


def map_sections(map_file: Path) -> list[tuple[str, str, int, str]]:
    """(kind text|rodata, symbol, bytes, object stem) of every kept section in a linker map."""
    text = map_file.read_text()
    start = text.find("Linker script and memory map")
    return [(kind, name, int(size, 16), Path(obj.split("(")[0]).stem)
            for kind, name, size, obj in _SECTION.findall(text[start:])]


# The two builds of each calibration model: the smallest encodings (the index ones at 70% and
# 95% zeros, patch ones below) and, where pairs apply, pairs first (priced 0, the rest 1), so
# that every conv kernel is measured whatever the shipped coefficients say of it.
PAIRS_FIRST = cost_model.Core(
    "pairs-first", {term: 0.0 if term.startswith("pairs.") else 1.0
                    for term in cost_model.INSTRUCTION_TERMS}, {}, {}, {}, {}, {}, {}, 1.0, "",
    "", "", 0.0)
BUILDS = {"size": "size", "pairs": PAIRS_FIRST}


def model_builds(model_path: Path) -> list[str]:
    """The builds (BUILDS keys) a calibration model is measured in: pairs only where it changes
    an encoding."""
    graph = load_model(model_path)
    size, pairs = (cost_model.step_costs(graph, cost_model.pricing_core(BUILDS[b], ""))
                   for b in BUILDS)
    return ["size"] + (["pairs"] if [c.encoding for c in size] != [c.encoding for c in pairs]
                       else [])


def measure(model_path: Path, board: str, images: int, workdir: Path,
            cache: dict | None = None, build: str = "size") -> dict:
    """One calibration model built (`build`, a BUILDS key) and run: counts, sizes and the cost
    model's terms. `cache` (key: board/model file name[/build]) holds earlier measurements,
    reused when they were of the encodings the build now chooses (a change to the choice
    rebuilds the models it changes)."""
    graph = load_model(model_path)
    optimize = BUILDS[build]
    costs = cost_model.step_costs(graph, cost_model.pricing_core(optimize, ""))
    key = f"{board}/{Path(model_path).name}" + ("" if build == "size" else f"/{build}")
    chosen = [c.encoding for c in costs]
    if cache is not None and cache.get(key, {}).get("encodings") == chosen:
        return dict(model=str(model_path), costs=costs,
                    features=cost_model.instruction_features(costs), **cache[key])
    shape = graph.tensors[graph.inputs[0]].shape
    x = np.random.default_rng(0).integers(-128, 128, (images, *shape[1:]), dtype=np.int8)
    report = flash_arrays(model_path, x, board=board, workdir=workdir, optimize=optimize)
    measured = dict(instructions=report.instructions_per_inference, encodings=chosen,
                    sections=[list(s) for s in map_sections(workdir / "firmware.map")],
                    object_functions=_object_functions(workdir),
                    step_instructions=_timed_steps(workdir, board, x, report, costs))
    if cache is not None:
        cache[key] = measured
    return dict(model=str(model_path), costs=costs,
                features=cost_model.instruction_features(costs), **measured)


def _object_functions(folder: Path) -> dict:
    """Code bytes of every function of the runtime objects, linked or not (the .o's sections:
    the linker keeps them whole), so that variants no calibration model calls are sized too."""
    sizes = {}
    for obj in _RUNTIME_OBJECTS:
        result = subprocess.run([qemu.tool("arm-none-eabi-size"), "-A", str(folder / "obj" /
                                 f"{obj}.o")], capture_output=True, text=True, timeout=60)
        for line in result.stdout.splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0].startswith(".text.") and parts[1].isdigit():
                sizes[parts[0][len(".text."):]] = [obj, int(parts[1])]
    return sizes


_TIMER = """
#define NN_SYST_CVR (*(volatile uint32_t *)0xE000E018)
static uint32_t calibrate_ticks[{count}];
static uint32_t calibrate_idle;
void calibrate_write_steps(void) {{
  int32_t file = sh_open("steps.bin", SH_WRITE_BINARY);
  sh_write(file, calibrate_ticks, sizeof calibrate_ticks);
  sh_close(file);
}}
"""


def _timed_steps(folder: Path, board: str, x: np.ndarray, report, costs) -> list[float]:
    """Each step's instructions per inference: model.c rebuilt with SysTick read around every
    kernel call (the read's own instructions taken off), the same inputs run again."""
    model_c = (folder / "model.c").read_text()
    calls = [c for c in costs if c.function]
    lines, k = [], 0
    for line in model_c.splitlines():
        stripped = line.strip()
        if k < len(calls) and stripped.startswith(calls[k].function + "("):
            lines += [f"  {{ uint32_t t0 = NN_SYST_CVR; uint32_t t1 = NN_SYST_CVR;",
                      f"    calibrate_idle = (t0 - t1) & 0xFFFFFFu; t0 = NN_SYST_CVR;",
                      f"    {stripped}",
                      f"    calibrate_ticks[{k}] += ((t0 - NN_SYST_CVR) & 0xFFFFFFu) - "
                      f"calibrate_idle; }}"]
            k += 1
        else:
            lines.append(line)
    if k != len(calls):
        raise FirmwareError(f"calibrate: found {k} of {len(calls)} kernel calls in model.c")
    header = '#include "semihost.h"\n' + _TIMER.format(count=max(len(calls), 1))
    text = "\n".join(lines).replace("void model_invoke(void) {", header +
                                     "\nvoid model_invoke(void) {", 1)
    (folder / "model.c").write_text(text + "\n")
    main = (folder / "main.c").read_text()
    main = main.replace("  stats.total_ticks_low = ", "  calibrate_write_steps();\n"
                        "  stats.total_ticks_low = ", 1)
    (folder / "main.c").write_text("void calibrate_write_steps(void);\n" + main)
    qemu.build(folder, board)
    qemu.emulate(folder, board, 120, ("steps.bin", "outputs.bin", "stats.bin"), "calibration")
    ticks = np.frombuffer((folder / "steps.bin").read_bytes(), dtype=np.uint32)[:len(calls)]
    per_step = ticks.astype(float) * qemu.instructions_per_tick(board) / len(x)
    it = iter(per_step)
    return [float(next(it)) if c.function else 0.0 for c in costs]


def calibrate_core(models, board: str = boards.DEFAULT_BOARD, out: Path | None = None,
                   images: int = 10, progress=None, cache: Path | None = None) -> dict:
    """Measure `models` (.tflite paths) on `board` and write its core's coefficient file
    (default fit/cores/<core>.toml); returns what was written. `cache` (a JSON file) keeps
    the measurements: a model measured there before is not run again (refits are instant)."""
    target = boards.board(board)
    if target.core not in CPI:
        raise ArgumentError(f"no cycles-per-instruction figure for {target.core}; add it to "
                            f"firmware_sim/firmware/calibrate.py CPI")
    models = [Path(m) for m in models]
    if len(models) < 2:
        raise ArgumentError("calibration needs at least 2 models")
    started = time.monotonic()
    rows = _measure_all(models, board, images, progress, cache)
    values = dict(core=target.core, board=board, date=datetime.date.today().isoformat(),
                  cpi=CPI[target.core][0], cpi_source=CPI[target.core][1],
                  calibration_models=len(models), **_fit_instructions(rows), **_sizes(rows),
                  function_stack=static_stack(board))
    values["run_seconds"] = round(time.monotonic() - started, 1)
    path = Path(out) if out is not None else cost_model.CORES_DIR / f"{target.core}.toml"
    cost_model.write_core(path, values)
    return {**values, "path": str(path)}


def _measure_all(models, board: str, images: int, progress, cache: Path | None) -> list[dict]:
    """Every build of every model measured (measure()), the cache rewritten after each. A pairs
    build the board cannot hold is left out (dense LeNet-5's outgrows the micro:bit's flash):
    its size build still times the model's kernels. A size build that does not fit raises."""
    rows = []
    cached = json.loads(Path(cache).read_text()) if cache and Path(cache).is_file() else {}
    with tempfile.TemporaryDirectory(prefix="lenet-edge-calibrate-") as scratch:
        for i, model in enumerate(models):
            for build in model_builds(model):
                try:
                    rows.append(measure(model, board, images, Path(scratch) / f"m{i}-{build}",
                                        cached, build))
                except BoardTooSmallError as error:
                    if build == "size":
                        raise
                    if progress:
                        progress(f"{model.name} ({build}): not measured, {error}")
                    continue
                if cache:
                    text = json.dumps(cached, indent=1)
                    atomic_write(Path(cache), lambda path: path.write_text(text))
                if progress:
                    progress(f"{model.name} ({build}): {rows[-1]['instructions']:,.0f} "
                             f"instructions")
    return rows


def _fit_instructions(rows) -> dict:
    """Least squares over the steps (each step's terms against its timed instructions,
    relative, so that small steps weigh as much as large ones); `base` is what the whole
    inference takes beyond its steps."""
    terms = cost_model.INSTRUCTION_TERMS
    features, measured, weights = [], [], []
    for row in rows:
        for cost, instructions in zip(row["costs"], row["step_instructions"]):
            if cost.function:
                features.append(cost_model.instruction_features([cost])[1:])
                measured.append(instructions)
                weights.append(1.0 / row["instructions"])
    features, measured, weights = np.array(features), np.array(measured), np.array(weights)
    used = [j for j in range(features.shape[1]) if features[:, j].any()]
    solution = _nonnegative_lstsq(features[:, used] * weights[:, None], measured * weights)
    coefficients = {terms[j + 1]: round(float(c), 5) for j, c in zip(used, solution)}
    shared = features[:, used] @ solution
    functions = [c.function for r in rows for c in r["costs"] if c.function]
    scale = {}
    for function in sorted(set(functions)):
        mine = np.array([f == function for f in functions])
        p, m, w = shared[mine], measured[mine], weights[mine] ** 2
        if (p > 0).any():
            scale[function] = round(float((w * m * p).sum() / (w * p * p).sum()), 5)
    own = {}
    for function in sorted(set(functions)):
        mine = np.array([f == function for f in functions])
        columns = [j for j in used if features[mine, j].any()]
        if mine.sum() >= len(columns) + 2:
            w = weights[mine]
            values = _nonnegative_lstsq(features[mine][:, columns] * w[:, None], measured[mine] * w)
            own.update({f"{function}:{terms[j + 1]}": round(float(v), 5)
                        for j, v in zip(columns, values)})
    totals = np.array([r["instructions"] for r in rows])
    steps = np.array([sum(r["step_instructions"]) for r in rows])
    coefficients["base"] = round(float(np.mean(totals - steps)), 2)
    core = cost_model.Core("fit", coefficients, {}, {}, {}, {}, {}, {}, 1.0, "", "", "", 0.0,
                           function_scale=scale, function_terms=own)
    predicted = np.array([coefficients["base"] + sum(cost_model.step_instructions(c, core)
                                                     for c in r["costs"]) for r in rows])
    residual = float(np.max(np.abs(predicted - totals) / totals))
    return dict(instructions=coefficients, function_scale=scale, function_terms=own,
                max_relative_residual=round(residual, 5))


def _nonnegative_lstsq(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Least squares with every coefficient >= 0 (an instruction count per unit of work): the
    unconstrained fit, the most negative coefficient held at 0, refitted, until none is."""
    free = list(range(a.shape[1]))
    while True:
        solution = np.zeros(a.shape[1])
        solution[free], *_ = np.linalg.lstsq(a[:, free], b, rcond=None)
        negative = [j for j in free if solution[j] < 0]
        if not negative:
            return solution
        free.remove(min(negative, key=lambda j: solution[j]))


def _sizes(rows) -> dict:
    function_bytes, function_object, struct_bytes = {}, {}, {}
    code_rows, code_bytes = [], []
    for row in rows:
        for name, (obj, size) in row.get("object_functions", {}).items():
            function_bytes[name], function_object[name] = size, obj
        costs, sections = row["costs"], [tuple(s) for s in row["sections"]]
        for kind, name, size, obj in sections:
            if obj in _RUNTIME_OBJECTS and kind == "text":
                function_bytes[name], function_object[name] = size, obj
        rodata = {name: size for kind, name, size, obj in sections
                  if obj == "model_data" and kind == "rodata"}
        for cost in costs:
            for struct, suffix in zip(cost.structs, ("", "_sub")):
                name = f"step{cost.index}{suffix}"
                if name in rodata:
                    struct_bytes[struct] = rodata[name]
        calls = sum(1 for c in costs if c.function)
        code_rows.append([1.0, calls])
        code_bytes.append(sum(size for kind, _, size, obj in sections
                              if obj == "model" and kind == "text"))
    # object rodata was summed over every model: keep one model's worth per object
    per_object = {}
    for row in rows:
        seen = {}
        for kind, name, size, obj in row["sections"]:
            if obj in _RUNTIME_OBJECTS and kind == "rodata":
                seen[obj] = seen.get(obj, 0) + size
        for obj, size in seen.items():
            per_object[obj] = max(per_object.get(obj, 0), size)
    (base, per_call), *_ = np.linalg.lstsq(np.array(code_rows), np.array(code_bytes), rcond=None)
    return dict(function_bytes=function_bytes, function_object=function_object,
                object_rodata=per_object, struct_bytes=struct_bytes,
                model_code=dict(base=round(float(base), 2), per_call=round(float(per_call), 2)))


_PROTOTYPE = re.compile(r"^void (nn_\w+)\(([^)]*)\);", re.MULTILINE)


def static_stack(board: str) -> dict:
    """[function_stack] of `board`'s core, without QEMU: every runtime function's worst-case
    depth (stack_usage.stack_depth) and, per kernel K, "model_invoke/K": model_invoke's own
    frame when K is its widest call, measured on a stub that calls only K ("model_invoke": one
    that calls nothing). A model's stack is then the largest of its kernels' model_invoke/K
    plus the deepest of its kernels."""
    target = boards.board(board)
    kernels = {name: parameters.split(",")
               for name, parameters in _PROTOTYPE.findall(
                   (Path(project.__file__).parent / "runtime" / "nn_ops.h").read_text())}
    stubs = {f"model_invoke_{name}": name for name in kernels}
    with tempfile.TemporaryDirectory(prefix="lenet-edge-stack-") as scratch:
        folder = Path(scratch)
        project.copy_runtime(folder)
        (folder / "link.ld").write_text(boards.link_script(target))
        (folder / "invoke.c").write_text(_invoke_stubs(kernels))
        qemu.build(folder, board, sources=[*project.RUNTIME_SOURCES, "invoke.c"])
        frames = stack_usage.compiled_frames(folder / "obj")
        library = stack_usage.library_frames(folder / "firmware.elf")
    runtime = [name for name in frames if name not in stubs and
               name not in ("model_invoke", "Reset_Handler")]
    stack = {name: stack_usage.stack_depth(name, frames, library) for name in runtime}
    stack.update({f"model_invoke/{kernel}": frames[stub].bytes for stub, kernel in stubs.items()})
    stack["model_invoke"] = frames["model_invoke"].bytes
    return stack


def _invoke_stubs(kernels: dict) -> str:
    """invoke.c: a model_invoke per kernel (compiled as model.h declares model_invoke) calling
    it with pointers into an arena as model.c computes them (at -O0 a stack-passed one takes a
    register the frame saves, where a constant 0 would not), one calling nothing, and a
    Reset_Handler calling them all (the linker keeps what it reaches)."""
    lines = ['#include "nn_ops.h"\n', "static int32_t arena[1];",
             "#define AT(offset) ((int8_t *)arena + (offset))",
             f"{INVOKE_ATTRIBUTE} void model_invoke(void) {{}}"]
    for name, parameters in kernels.items():
        arguments = ", ".join("(void *)AT(0)" if "*" in p else "0" for p in parameters)
        lines.append(f"{INVOKE_ATTRIBUTE} void model_invoke_{name}(void) "
                     f"{{ {name}({arguments}); }}")
    calls = "".join(f"  model_invoke_{name}();\n" for name in kernels)
    lines.append(f"void Reset_Handler(void) {{\n  model_invoke();\n{calls}}}")
    return "\n".join(lines) + "\n"
