"""What `lenet-edge train` costs over a plain `model.fit` of the same zoo model on the same arrays.

    python benchmarks/train_overhead.py [--model lenet5] [--epochs 2] [--batch-size 32] [--rounds 1]
                                        [--train-limit N] [--out runs/bench/train_overhead]

Each round runs two subprocesses back to back, each paying its own start-up (TensorFlow, the
data): a plain `model.fit(x, y, epochs=E)` of the compiled zoo model, timed per epoch by a
callback, then `lenet-edge train` with the same recipe (its per-epoch time is metrics.json's
epoch_seconds: fit, test error and checkpoint). Rounds alternate which goes first, since the
machine may be busier in one half; each round's row gives the 1-minute load average before and
after it, and each subprocess's CPU seconds (start-up included) beside its wall time. Prints a Markdown table and writes <out>/train_overhead.json.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from lenet_edge import markdown

ROOT = Path(__file__).resolve().parent.parent


def plain_fit(model_name: str, epochs: int, batch_size: int, train_limit: int | None) -> dict:
    """The baseline, in this process: the zoo model compiled with its recipe, one model.fit call."""
    import tf_keras as keras

    from lenet_edge.models import registry
    from lenet_edge.train.batches import load_split, targets
    from lenet_edge.train.loop import compile_model, recipe_config

    config = recipe_config(model_name, epochs=epochs, batch_size=batch_size, train_limit=train_limit)
    _, x, labels = load_split(model_name, "train", train_limit)
    model = registry.build(model_name)
    compile_model(model, config)
    seconds = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(round(time.perf_counter() - self.start, 3))

    model.fit(x, targets(labels, registry.spec(model_name).loss), batch_size=batch_size, epochs=epochs,
              shuffle=True, verbose=0, callbacks=[EpochTimer()])
    return {"epoch_seconds": seconds}


def _limit_args(flag: str, limit: int | None) -> list[str]:
    return [] if limit is None else [flag, str(limit)]


def run_plain(args) -> dict:
    command = [sys.executable, __file__, "--plain", "--model", args.model, "--epochs", str(args.epochs),
               "--batch-size", str(args.batch_size), *_limit_args("--train-limit", args.train_limit)]
    start, cpu = time.perf_counter(), _children_cpu()
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=_env())
    return {"wall": time.perf_counter() - start, "cpu": _children_cpu() - cpu,
            **json.loads(done.stdout.splitlines()[-1])}


def run_train(args, folder: Path) -> dict:
    shutil.rmtree(folder, ignore_errors=True)
    command = [sys.executable, "-m", "lenet_edge.cli", "train", "--model", args.model, "--epochs", str(args.epochs),
               "--batch-size", str(args.batch_size), "--out", str(folder),
               *_limit_args("--train-limit", args.train_limit)]
    start, cpu = time.perf_counter(), _children_cpu()
    subprocess.run(command, check=True, capture_output=True, text=True, env=_env())
    wall, cpu = time.perf_counter() - start, _children_cpu() - cpu
    metrics = json.loads((folder / "metrics.json").read_text())
    return {"wall": wall, "cpu": cpu, "epoch_seconds": [m["epoch_seconds"] for m in metrics],
            "fit_seconds": [m["seconds"] for m in metrics]}


def _children_cpu() -> float:
    """CPU seconds (user + system) of the finished subprocesses: less swayed by the other
    processes on the shared cores than the wall clock is."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _env() -> dict:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def measure_round(args, number: int) -> dict:
    folder = args.out / f"run-{number}"
    load_before = os.getloadavg()[0]  # the shared machine's 1-minute load, beside the ratio it sways
    if number % 2:  # alternate the order, so neither side always gets the quieter half
        train = run_train(args, folder)
        plain = run_plain(args)
    else:
        plain = run_plain(args)
        train = run_train(args, folder)
    per_epoch = sum(train["epoch_seconds"]) / sum(plain["epoch_seconds"])
    # the loop's own cost beyond its model.fit (test error, checkpoint): free of the other process's noise
    beyond_fit = sum(train["epoch_seconds"]) / sum(train["fit_seconds"])
    return {"round": number + 1, "first": "train" if number % 2 else "plain", "plain": plain, "train": train,
            "epoch_ratio": per_epoch, "beyond_fit_ratio": beyond_fit, "wall_ratio": train["wall"] / plain["wall"],
            "cpu_ratio": train["cpu"] / plain["cpu"],
            "load": [round(load_before, 2), round(os.getloadavg()[0], 2)]}


def table(rows: list[dict]) -> list[str]:
    def epochs(seconds):
        return " + ".join(f"{s:.1f}" for s in seconds)

    return markdown.table(
        ("round", "first", "model.fit s/epoch", "lenet-edge train s/epoch", "ratio", "train epoch / its fit",
         "wall plain / train s", "wall ratio", "CPU plain / train s", "CPU ratio", "load before / after"),
        [(r["round"], r["first"], epochs(r["plain"]["epoch_seconds"]), epochs(r["train"]["epoch_seconds"]),
          f"{r['epoch_ratio']:.3f}", f"{r['beyond_fit_ratio']:.3f}",
          f"{r['plain']['wall']:.1f} / {r['train']['wall']:.1f}", f"{r['wall_ratio']:.3f}",
          f"{r['plain']['cpu']:.1f} / {r['train']['cpu']:.1f}", f"{r['cpu_ratio']:.3f}",
          "{:.1f} / {:.1f}".format(*r["load"])) for r in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lenet5")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--train-limit", type=int)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("runs/bench/train_overhead"))
    parser.add_argument("--plain", action="store_true", help=argparse.SUPPRESS)  # the baseline subprocess
    args = parser.parse_args()
    if args.plain:
        return print(json.dumps(plain_fit(args.model, args.epochs, args.batch_size, args.train_limit)))
    args.out.mkdir(parents=True, exist_ok=True)
    rows = [measure_round(args, number) for number in range(args.rounds)]
    settings = {"model": args.model, "epochs": args.epochs, "batch_size": args.batch_size,
                "train_limit": args.train_limit}
    (args.out / "train_overhead.json").write_text(json.dumps({**settings, "rounds": rows}, indent=2) + "\n")
    print("\n".join(table(rows)))


if __name__ == "__main__":
    main()
