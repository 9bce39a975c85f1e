"""Train every zoo model with a fixed protocol and compare test error with the papers.

    python benchmarks/accuracy.py [--out runs/bench] [--only lenet5,lenet1]

Prints a Markdown table (quoted in BENCHMARKS.md) and writes runs/bench/accuracy.json.
Runs that already finished are reused; a killed benchmark resumes where it stopped.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from lenet_edge import markdown
from lenet_edge.models.facts import FIGURES
from lenet_edge.run import RunConfig, read_config, read_metrics
from lenet_edge.train.loop import recipe_config, train

# One protocol per row: the model and its recipe (the registry's, which `lenet-edge train` defaults to).
PROTOCOLS = {
    **{name: recipe_config(name) for name in ("lenet1989", "lenet1", "lenet4", "lenet5")},
    "lenet5+distort": RunConfig("lenet5", epochs=30, optimizer="adam", learning_rate=1e-3, lr_decay=0.9,
                                batch_size=32, distort=True),
    "lenet5-modern": recipe_config("lenet5-modern"),
}


def run_protocol(name: str, config: RunConfig, root: Path) -> dict:
    folder = root / name
    resume = (folder / "config.json").exists()
    if resume and read_config(folder) != config:
        raise SystemExit(f"{folder} was trained with another recipe than the protocol; remove it to retrain")
    metrics = read_metrics(folder) if (folder / "model.keras").exists() else train(folder, config, resume=resume)
    last = metrics[-1]
    return {"run": name, "model": config.model, "distort": config.distort, "epochs": len(metrics),
            "test_error": last["test_error"], "train_error": last["train_error"],
            "seconds_per_epoch": sum(m["seconds"] for m in metrics) / len(metrics)}


def paper_error(row: dict) -> float | None:
    facts = FIGURES[row["model"]]
    return facts.test_error_distorted if row["distort"] else facts.test_error


def table(rows: list[dict]) -> str:
    return "\n".join(markdown.table(
        ("run", "dataset", "epochs", "test error", "paper", "train error", "s/epoch"),
        [(row["run"], "USPS" if row["model"] == "lenet1989" else "MNIST", row["epochs"],
          f"{100 * row['test_error']:.2f}%", _percent_or_dash(paper_error(row)),
          f"{100 * row['train_error']:.2f}%", f"{row['seconds_per_epoch']:.1f}") for row in rows]))


def _percent_or_dash(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/bench"))
    parser.add_argument("--only", default=",".join(PROTOCOLS))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = [run_protocol(name, PROTOCOLS[name], args.out) for name in args.only.split(",")]
    (args.out / "accuracy.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(table(rows))


if __name__ == "__main__":
    main()
