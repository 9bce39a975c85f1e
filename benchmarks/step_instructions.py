"""Where a model's instructions go on a board: each kernel call of the generated firmware timed
as `lenet-edge calibrate` times it (firmware_sim.firmware.calibrate: SysTick read around every
call in a rebuilt model.c), against the cost model's price of that step.

    python benchmarks/step_instructions.py MODEL.tflite [--board mps2-an386]
        [--optimize speed|size|pairs] [--images 5]

`pairs`: every conv step paired (calibrate's PAIRS_FIRST build). Prints Markdown.
"""
import argparse
import tempfile
from pathlib import Path

import numpy as np

import firmware_sim
from firmware_sim.firmware import boards
from firmware_sim.firmware.calibrate import PAIRS_FIRST, _timed_steps
from firmware_sim.firmware.flash_arrays import flash_arrays
from firmware_sim.fit import cost_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--board", default="mps2-an386")
    parser.add_argument("--optimize", default="speed", choices=("speed", "size", "pairs"))
    parser.add_argument("--images", type=int, default=5)
    args = parser.parse_args()
    optimize = PAIRS_FIRST if args.optimize == "pairs" else args.optimize
    graph = firmware_sim.load_model(args.model)
    core = cost_model.load_core(boards.board(args.board).core)
    costs = cost_model.step_costs(graph, cost_model.pricing_core(optimize, core))
    shape = graph.tensors[graph.inputs[0]].shape
    x = np.random.default_rng(0).integers(-128, 128, (args.images, *shape[1:]), dtype=np.int8)
    with tempfile.TemporaryDirectory() as folder:
        report = flash_arrays(args.model, x, board=args.board, workdir=folder, optimize=optimize)
        measured = _timed_steps(Path(folder), args.board, x, report, costs)
    print(f"{args.model.name} on {args.board} ({args.optimize}): "
          f"{report.instructions_per_inference:,.0f} instructions per inference, "
          f"bit-exact {report.identical}\n")
    print("| kernel | encoding | measured | predicted |\n|---|---|---|---|")
    for cost, steps in zip(costs, measured):
        if cost.function:
            print(f"| {cost.function} | {cost.encoding or ''} | {steps:,.0f} | "
                  f"{cost_model.step_instructions(cost, core):,.0f} |")


if __name__ == "__main__":
    main()
