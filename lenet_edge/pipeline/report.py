"""The pipeline's report: PNG plots (matplotlib, Agg), report.md, a self-contained report.html
(every PNG embedded as a base64 data URI) and summary.json with every number."""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from lenet_edge import run as runs

REPORT_DIR = "report"


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    _plt().close(fig)
    return buffer.getvalue()


def plot_training(metrics: list[dict]) -> bytes:
    plt = _plt()
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    epochs = [m.get("epoch", i + 1) for i, m in enumerate(metrics)]
    a.plot(epochs, [m["loss"] for m in metrics], marker="o")
    a.set(xlabel="epoch", ylabel="training loss", title="loss")
    b.plot(epochs, [100 * m["train_error"] for m in metrics], marker="o", label="train")
    b.plot(epochs, [100 * m["test_error"] for m in metrics], marker="o", label="test")
    b.set(xlabel="epoch", ylabel="error %", title="error")
    b.legend()
    return _png(fig)


def plot_layers(layers: list[dict]) -> bytes:
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    names = [f"{row['index']} {row['opcode']}" for row in layers]
    for ax, key, title in zip(axes, ("macs", "param_bytes", "activation_bytes"),
                              ("multiply-adds", "parameter bytes", "activation bytes")):
        ax.barh(names, [row[key] for row in layers])
        if key == "macs":
            ax.barh(names, [row["effective_macs"] for row in layers], label="nonzero weights")
            ax.legend()
        ax.set(title=title)
        ax.invert_yaxis()
        ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    return _png(fig)


def plot_memory(check: dict) -> bytes:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 2.6))
    rows = [("flash", check["flash_needed"], check["flash_bytes"]), ("RAM", check["ram_needed"], check["ram_bytes"])]
    ax.barh([r[0] for r in rows], [r[2] / 1024 for r in rows], color="#ddd", label="device limit")
    ax.barh([r[0] for r in rows], [r[1] / 1024 for r in rows], color="#3a7", label="needed")
    ax.set(xlabel="KiB", title=f"memory on {check['device']}")
    ax.legend()
    return _png(fig)


def plot_confusion(confusion: list[list[int]]) -> bytes:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    ax.imshow(confusion, cmap="Blues")
    for i, row in enumerate(confusion):
        for j, n in enumerate(row):
            if n:
                ax.text(j, i, str(n), ha="center", va="center", fontsize=6,
                        color="white" if i == j else "black")
    ax.set(xlabel="predicted", ylabel="true", xticks=range(10), yticks=range(10), title="confusion (final model)")
    return _png(fig)


def plot_pruning(prune: dict) -> bytes:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.2))
    xs = [100 * prune["source_sparsity"]] + [100 * r["sparsity"] for r in prune["rounds"]]
    ys = [100 * prune["source_error"]] + [100 * r["test_error"] for r in prune["rounds"]]
    ax.plot(xs, ys, marker="o")
    for i, (x, y) in enumerate(zip(xs, ys)):
        ax.annotate(str(i), (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set(xlabel="sparsity %", ylabel="test error %", title="OBD rounds (0: dense)")
    return _png(fig)


def _summary(stages: dict, settings, evaluation) -> dict:
    results = {name: entry["result"] for name, entry in stages.items() if name != "report"}
    return {"model": settings.model, "device": settings.device, "sparsity_goal": settings.sparsity,
            "seconds": {name: entry["seconds"] for name, entry in stages.items()},
            "stages": results,
            "confusion": {"digits": evaluation.digits, "errors": evaluation.errors,
                          "matrix": evaluation.confusion}}


def _markdown(summary: dict, images: dict[str, str]) -> str:
    st = summary["stages"]
    train, prune, qat, int8, check, fw = (st.get(k, {}) for k in ("train", "prune", "qat", "int8", "check", "firmware"))
    lines = [f"# lenet-edge pipeline: {summary['model']} on {summary['device']}", "",
             "| stage | result |", "|---|---|",
             f"| train | {train.get('epochs')} epochs, test error {100 * train.get('test_error', 0):.2f}% |",
             f"| OBD prune | sparsity {100 * prune.get('sparsity', 0):.1f}%, test error {100 * prune.get('test_error', 0):.2f}% |",
             f"| QAT | {qat.get('epochs')} epochs, test error {100 * qat.get('test_error', 0):.2f}% |",
             f"| int8 | {int8.get('bytes', 0):,} bytes, error {100 * int8.get('tflite_error', 0):.2f}% on {int8.get('digits')} digits |",
             f"| check | flash {check.get('flash_needed', 0):,} of {check.get('flash_bytes', 0):,} B, RAM {check.get('ram_needed', 0):,} of {check.get('ram_bytes', 0):,} B, "
             f"{check.get('digits_per_second') or 0:,.1f} digits/s: {'OK' if check.get('ok') else 'NO'} |"]
    if fw.get("skipped"):
        lines.append(f"| firmware | skipped: {fw.get('reason')} |")
    else:
        acc = fw.get("accuracy")
        lines.append(f"| firmware | {fw.get('board')} ({fw.get('core')}): {fw.get('images')} images, "
                     f"identical to emulator: {'yes' if fw.get('identical') else 'NO'}"
                     + (f", accuracy {100 * acc:.2f}%" if acc is not None else "")
                     + f", flash {fw.get('flash_total', 0):,} B, RAM {fw.get('ram_total', 0):,} B |")
    lines.append("")
    for title, name in (("Training curves", "training"), ("OBD pruning rounds", "pruning"),
                        ("Per-layer cost", "layers"), ("Memory against the device", "memory"),
                        ("Confusion matrix", "confusion")):
        if name in images:
            lines += [f"## {title}", "", f"![{title}]({images[name]})", ""]
    lines += ["Every number: `summary.json`.", ""]
    return "\n".join(lines)


def _html(markdown: str, pngs: dict[str, bytes], images: dict[str, str]) -> str:
    """A minimal self-contained rendering of the markdown (tables, headings, images)."""
    body, table = [], []
    uri = {path: "data:image/png;base64," + base64.b64encode(pngs[name]).decode() for name, path in images.items()}

    def flush():
        if table:
            rows = [r for r in table if not set(r.replace("|", "")) <= set("-")]
            cells = [[html.escape(c.strip()) for c in r.strip("|").split("|")] for r in rows]
            head = "".join(f"<th>{c}</th>" for c in cells[0])
            rest = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in cells[1:])
            body.append(f"<table><tr>{head}</tr>{rest}</table>")
            table.clear()

    for line in markdown.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        flush()
        if line.startswith("## "):
            body.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("# "):
            body.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("!["):
            alt, path = line[2:].split("](", 1)
            body.append(f'<img alt="{html.escape(alt)}" src="{uri[path[:-1]]}">')
        elif line.strip():
            body.append(f"<p>{html.escape(line).replace('`', '')}</p>")
    flush()
    style = ("body{font-family:sans-serif;max-width:1000px;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}img{max-width:100%}")
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>lenet-edge pipeline</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n")


def write_report(out: Path, stages: dict, settings) -> dict:
    """Write report.md, report.html, summary.json and the PNGs into out; return their paths."""
    from lenet_edge.train.evaluate import evaluate

    out = Path(out)
    folder = out / REPORT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    evaluation = evaluate(out / "qat", settings.budget.evaluate_limit, settings.data_dir)
    summary = _summary(stages, settings, evaluation)
    st = summary["stages"]
    pngs = {"training": plot_training(runs.read_metrics(st["train"]["folder"])),
            "pruning": plot_pruning(st["prune"]),
            "layers": plot_layers(st["check"]["layers"]),
            "memory": plot_memory(st["check"]),
            "confusion": plot_confusion(evaluation.confusion)}
    images = {}
    for name, data in pngs.items():
        path = folder / f"{name}.png"
        runs.atomic_write(path, lambda tmp, data=data: tmp.write_bytes(data))
        images[name] = f"{REPORT_DIR}/{name}.png"
    markdown = _markdown(summary, images)
    runs.atomic_write(out / "report.md", lambda tmp: tmp.write_text(markdown))
    page = _html(markdown, pngs, images)
    runs.atomic_write(out / "report.html", lambda tmp: tmp.write_text(page))
    runs.write_json(out / "summary.json", summary)
    return {"markdown": str(out / "report.md"), "html": str(out / "report.html"),
            "summary": str(out / "summary.json"), "plots": {k: str(out / v) for k, v in images.items()}}
