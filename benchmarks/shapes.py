"""Every shape fast, every model small (issue 13, item 2): a grid of small int8 models, one layer
of interest each, measured on QEMU against the goals: at most 2.5 instructions per multiply-add
for that layer's kernel call, firmware arena at most TFLM's, flash at most 1.1x the .tflite
(models over 10 KB).

    PYTHONPATH=. python benchmarks/shapes.py [--board mps2-an386] [--models runs/bench/shapes]
        [--only NAME,...] [--images 5] [--out runs/bench/shapes.json]

Models (SHAPES): conv with kernels 1x1, 3x3, 5x5 and 10x8, strides 1 and 2, VALID and SAME,
1 to 16 channels (not only multiples of 4), depthwise, fully connected, per-channel and
per-tensor; plus a keyword-spotting shape (49x40x1, depthwise 10x8 stride 2 SAME, FC, softmax)
and an MLP (fully connected layers only). Built with tf-keras, weights drawn by the test
generator's randomize_weights (seed 0) and converted by tests.test_emulator_support.convert_int8
(per-tensor needs the converter's per-channel switch, which convert.tflite does not expose).

Then the zoo's LeNet-1, LeNet-4 and LeNet-5, dense and 50%/90% pruned (NAME-PERCENT:
benchmarks/check_vs_flash.py's models, seed 0).

Measured for each: `flash_arrays` (what `lenet-edge flash` runs) on `--images` random int8
inputs: bit-exactness with the emulator, the arena, flash of the inference, and TFLM's arena
(fit/planner.py: head + tail, ARM32 structs); each kernel call timed as calibrate times it
(benchmarks/step_instructions.py), against `check`'s price of that step (cost_model, what
`check --json` sums). The measurements are kept in --out and reused (delete it to
measure again). Prints Markdown.
"""
import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

import firmware_sim
from firmware_sim.emulator.cost import layer_costs
from firmware_sim.emulator.steps import plan_steps
from firmware_sim.firmware import boards
from firmware_sim.firmware.calibrate import _timed_steps
from firmware_sim.firmware.flash_arrays import flash_arrays
from firmware_sim.fit import cost_model
from firmware_sim.fit.planner import tflm_arena
from tests.test_emulator_support import KWS_LAYERS, MLP_LAYERS

MAX_INSTRUCTIONS_PER_MAC = 2.5
MIN_MACS = 10_000
MAX_FLASH_RATIO = 1.1
MIN_TFLITE_BYTES = 10 * 1024

# name -> (input shape, layers, per_channel): tests.test_emulator_support.layer_model's layers,
# the first the layer of interest (a conv/depthwise map alone gets a 4-unit dense head)
SHAPES = {
    "conv1x1-s1-c8": ((16, 16, 8), [("conv", 16, (1, 1), 1, "valid")], True),
    "conv3x3-s1-same-c3": ((16, 16, 3), [("conv", 8, (3, 3), 1, "same")], True),
    "conv3x3-s1-same-c3-pt": ((16, 16, 3), [("conv", 8, (3, 3), 1, "same")], False),
    "conv3x3-s2-valid-c10": ((17, 17, 10), [("conv", 10, (3, 3), 2, "valid")], True),
    "conv3x3-s1-same-c16": ((12, 12, 16), [("conv", 16, (3, 3), 1, "same")], True),
    "conv5x5-s1-valid-c1": ((14, 14, 1), [("conv", 10, (5, 5), 1, "valid")], True),
    "conv5x5-s2-same-c16": ((16, 16, 16), [("conv", 8, (5, 5), 2, "same")], False),
    "conv10x8-s2-same-c1": ((49, 40, 1), [("conv", 8, (10, 8), 2, "same")], True),
    "dw3x3-s1-same-c16": ((16, 16, 16), [("depthwise", 1, (3, 3), 1, "same")], True),
    "dw3x3-s2-valid-c10": ((33, 33, 10), [("depthwise", 1, (3, 3), 2, "valid")], True),
    "dw5x5-s1-same-c3": ((16, 16, 3), [("depthwise", 1, (5, 5), 1, "same")], False),
    "dw3x3-s1-same-c8-pt": ((16, 16, 8), [("depthwise", 1, (3, 3), 1, "same")], False),
    "fc784-100": ((784,), [("dense", 100)], True),
    "fc300-50-pt": ((300,), [("dense", 50)], False),
    "fc1000-10": ((1000,), [("dense", 10)], True),
    # keyword spotting: one depthwise 10x8 stride-2 SAME convolution, FC, softmax
    "kws": ((49, 40, 1), KWS_LAYERS, True),
    "mlp": ((784,), MLP_LAYERS, True),
}
# the zoo's LeNets, dense and with the smallest 50% and 90% of each kernel zeroed
ZOO = tuple(f"{name}-{p}" for name in ("lenet1", "lenet4", "lenet5") for p in (0, 50, 90))


def model_path(folder: Path, name: str) -> Path:
    """A SHAPES model, or a zoo one: NAME-PERCENT (benchmarks/check_vs_flash.py's models)."""
    from lenet_edge.board.calibrate import pruned_zoo_tflite
    from tests.test_emulator_support import convert_int8, layer_model

    path = folder / f"{name}.tflite"
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        if name in SHAPES:
            input_shape, layers, per_channel = SHAPES[name]
            path.write_bytes(convert_int8(layer_model(input_shape, layers), -1.0, 1.0,
                                          per_channel=per_channel))
        else:
            zoo, percent = name.rsplit("-", 1)
            path.write_bytes(pruned_zoo_tflite(zoo, int(percent) / 100, seed=0))
    return path


def measure(path: Path, board: str, images: int) -> dict:
    graph = firmware_sim.load_model(path)
    core = cost_model.load_core(boards.board(board).core)
    costs = cost_model.step_costs(graph, cost_model.pricing_core("speed", core))
    shape = graph.tensors[graph.inputs[0]].shape
    x = np.random.default_rng(0).integers(-128, 128, (images, *shape[1:]), dtype=np.int8)
    with tempfile.TemporaryDirectory() as folder:
        report = flash_arrays(path, x, board=board, workdir=folder)
        steps = _timed_steps(Path(folder), board, x, report, costs)
    predicted = cost_model.predict(graph, core)
    macs = {op: c.macs for op, c in enumerate(layer_costs(graph))}
    return dict(
        identical=report.identical, instructions=report.instructions_per_inference,
        ram_arena=report.ram_arena, ram_inference=report.ram_inference,
        flash_inference=report.flash_inference, tflite_bytes=report.tflite_bytes,
        tflm_arena=tflm_arena(graph).total,
        predicted=dict(instructions=predicted.instructions_per_inference,
                       ram_arena=predicted.ram_arena, ram_inference=predicted.ram_inference,
                       flash_inference=predicted.flash_inference),
        steps=[dict(function=c.function, encoding=c.encoding,
                    opcodes=[graph.ops[k].opcode for k in s.ops],
                    macs=sum(macs[k] for k in s.ops), instructions=i,
                    predicted=cost_model.step_instructions(c, core))
               for c, s, i in zip(costs, plan_steps(graph), steps)])


def table(results: dict, board: str) -> list[str]:
    """One row per layer of at least MIN_MACS multiply-adds; memory on the model's first row."""
    lines = ["| model | layer: kernel (encoding) | MACs | instr/MAC | predicted | <= 2.5 | "
             "arena B | TFLM arena B | <= TFLM | flash B | .tflite B | ratio | <= 1.1x | "
             "bit-exact |", "|" + "---|" * 14]
    for key, r in results.items():
        if not key.startswith(board + "/"):
            continue
        name = key.split("/", 1)[1]
        big = [s for s in r["steps"] if s["macs"] >= MIN_MACS]
        ratio = r["flash_inference"] / r["tflite_bytes"]
        flash_goal = ("met" if ratio <= MAX_FLASH_RATIO else "**not met**") \
            if r["tflite_bytes"] > MIN_TFLITE_BYTES else "(under 10 KB)"
        memory = (f"{r['ram_arena']:,} | {r['tflm_arena']:,} | "
                  f"{'met' if r['ram_arena'] <= r['tflm_arena'] else '**not met**'} | "
                  f"{r['flash_inference']:,} | {r['tflite_bytes']:,} | {ratio:.2f} | "
                  f"{flash_goal} | {'yes' if r['identical'] else '**NO**'}")
        for i, s in enumerate(big):
            per_mac = s["instructions"] / s["macs"]
            goal = "met" if per_mac <= MAX_INSTRUCTIONS_PER_MAC else "**not met**"
            lines.append(f"| {name if i == 0 else ''} | {s['opcodes'][0]}: {s['function']} "
                         f"({s['encoding'] or '-'}) | {s['macs']:,} | {per_mac:.2f} | "
                         f"{s['predicted'] / s['macs']:.2f} | {goal} | "
                         + (memory if i == 0 else "| " * 7).rstrip() + " |")
    return lines


def prediction_table(results: dict, board: str) -> list[str]:
    """`check`'s whole-model prediction against the measurement."""
    lines = ["| model | instructions measured | predicted | error | arena measured = predicted |",
             "|---|---|---|---|---|"]
    for key, r in results.items():
        if key.startswith(board + "/"):
            p = r["predicted"]
            lines.append(f"| {key.split('/', 1)[1]} | {r['instructions']:,.0f} | "
                         f"{p['instructions']:,.0f} | "
                         f"{100 * (p['instructions'] / r['instructions'] - 1):+.1f}% | "
                         f"{'yes' if p['ram_arena'] == r['ram_arena'] else '**no**'} |")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", default="mps2-an386")
    parser.add_argument("--models", type=Path, default=Path("runs/bench/shapes"))
    parser.add_argument("--only", default=",".join([*SHAPES, *ZOO]))
    parser.add_argument("--images", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("runs/bench/shapes.json"))
    args = parser.parse_args(argv)
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    for name in args.only.split(","):
        key = f"{args.board}/{name}"
        if key not in results:
            results[key] = measure(model_path(args.models, name), args.board, args.images)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=1))
    chosen = {k: results[k] for k in (f"{args.board}/{n}" for n in args.only.split(","))}
    print("\n".join(table(chosen, args.board)) + "\n")
    print("\n".join(prediction_table(chosen, args.board)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
