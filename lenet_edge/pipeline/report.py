"""The pipeline's report: the PNG plots (plots.py), report.md, a self-contained report.html (every
PNG embedded as a base64 data URI) and summary.json with every number."""
from __future__ import annotations

import base64
import dataclasses
import html
from pathlib import Path

from lenet_edge import markdown
from lenet_edge import run as runs
from lenet_edge.pipeline import plots

REPORT_DIR = "report"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def headline(name: str, r: dict) -> str:
    """One line saying what a stage's result is (progress lines and the report's table)."""
    if name in ("prune", "saliency", "magnitude", "qat") and r.get("skipped"):
        return f"skipped: {r['reason']}"
    if "point" in r:
        return _rate_headline(r)
    if name in ("prune", "magnitude"):
        method = "OBD" if name == "prune" else "magnitude (tfmot), OBD's schedule"
        return f"{method}: {_count(len(r['rounds']), 'round')} to sparsity {100 * r['sparsity']:.1f}%, test error {_pct(r['test_error'])}"
    if name == "firmware":
        if r.get("skipped"):
            return f"skipped: {r.get('reason')}"
        acc = "" if r.get("accuracy") is None else f", accuracy {_pct(r['accuracy'])}"
        return (f"{r['board']} ({r['core']}): {r['images']:,} digits, identical to the emulator: "
                f"{'yes' if r['identical'] else 'NO'}{acc}; flash {r['flash_inference']:,} B, RAM {r['ram_inference']:,} B")
    lines = {
        "train": lambda: f"{_count(r['epochs'], 'epoch')}, float test error {_pct(r['test_error'])}",
        "qat": lambda: f"{_count(r['epochs'], 'QAT epoch')}, fake-quantized test error {_pct(r['test_error'])}",
        "int8": lambda: f"{r['bytes']:,} bytes; LiteRT error {_pct(r['tflite_error'])} on {r['digits']:,} digits",
        "evaluate": lambda: f"int8 error {_pct(r['error'])} on {r['digits']:,} digits (emulator = TFLM)",
        "check": lambda: _check_headline(r),
        "report": lambda: f"{r.get('markdown')}, {r.get('html')}, {r.get('summary')}"}
    return lines[name]() if name in lines else ""


def _check_headline(r: dict) -> str:
    """The generated firmware's predicted verdict (what the firmware stage flashes), TFLM's estimate beside."""
    firmware = r.get("cost_model", r)
    verdict = (f"flash {firmware['flash_needed']:,} of {firmware['flash_bytes']:,} B, RAM {firmware['ram_needed']:,} of "
               f"{firmware['ram_bytes']:,} B, {firmware['digits_per_second'] or 0:,.1f} digits/s: "
               f"{'OK' if firmware['ok'] else 'NO'}")
    if firmware is r:
        return verdict
    return (f"the generated firmware, predicted: {verdict}; TFLM estimated: RAM {r['ram_needed']:,} B, "
            f"{r['digits_per_second'] or 0:,.1f} digits/s")


def _rate_headline(r: dict) -> str:
    p, outcome = r["point"], r["budget"]
    if not r["rounds"]:
        return (f"{p['method']}: the dense model already meets the rate ({p['measured_digits_per_second']:,.1f} "
                f"digits/s measured on {outcome['board']}): nothing pruned, test error {_pct(p['test_error'])}")
    return (f"{p['method']}: {_count(p['rounds'], 'round')} to {p['measured_instructions']:,.0f} instructions per "
            f"digit on {outcome['board']} ({p['measured_speedup']:.2f}x dense), {p['measured_digits_per_second']:,.1f} "
            f"digits/s: {'meets' if p['met'] else 'MISSES'} the rate; sparsity {100 * p['sparsity']:.1f}%, "
            f"test error {_pct(p['test_error'])}")


def rate_points(stages: dict) -> list[dict]:
    """With a rate: the dense model's point, then every method's that ran (stage results)."""
    dense = stages["prune"]["dense"]
    return [{"method": "dense", "rounds": 0, "sparsity": stages["prune"]["source_sparsity"],
             "test_error": dense["test_error"], "measured_instructions": dense["measured_instructions"],
             "measured_digits_per_second": dense["measured_digits_per_second"], "measured_speedup": 1.0,
             "met": None}] + [stages[name]["point"] for name in ("prune", "saliency", "magnitude")
                              if "point" in stages[name]]


def _summary(stages: dict, settings) -> dict:
    stages = {name: entry for name, entry in stages.items() if name != "report"}  # a rerun's old one
    seconds = {name: entry["seconds"] for name, entry in stages.items()}
    summary = {"model": settings.model, "device": settings.device, "sparsity_goal": settings.sparsity if settings.digits_per_second is None else None,
            "budget": dataclasses.asdict(settings.budget), "seconds": seconds,
            "total_seconds": round(sum(seconds.values()), 1),
            "int8_error": stages["evaluate"]["result"]["error"], "digits_per_second_goal": settings.digits_per_second,
            "stages": {name: entry["result"] for name, entry in stages.items()}}
    if settings.digits_per_second is not None:
        summary["rate_points"] = rate_points(summary["stages"])
    return summary


def _stage_table(summary: dict) -> list[str]:
    return markdown.table(("stage", "seconds", "result"),
                          [(name, f"{summary['seconds'][name]:,.0f}", headline(name, result))
                           for name, result in summary["stages"].items()])


def _rounds_table(prune: dict, magnitude: dict) -> list[str]:
    dense = ("0 (dense)", _pct(prune["source_sparsity"]), _pct(prune["source_error"]),
             _pct(magnitude["source_sparsity"]), _pct(magnitude["source_error"]))
    rounds = [(o["round"], _pct(o["sparsity"]), _pct(o["test_error"]), _pct(m["sparsity"]),
               _pct(m["test_error"])) for o, m in zip(prune["rounds"], magnitude["rounds"])]
    return markdown.table(("round", "OBD sparsity", "OBD test error", "magnitude sparsity",
                           "magnitude test error"), [dense, *rounds])


def _rate_table(points: list[dict]) -> list[str]:
    return markdown.table(
        ("method", "test error", "instructions per digit (QEMU)", "speed-up over dense (QEMU)", "digits/s on the device",
         "rate met"),
        [(p["method"], _pct(p["test_error"]), f"{p['measured_instructions']:,.0f}", f"{p['measured_speedup']:.2f}x",
          f"{p['measured_digits_per_second']:,.1f}", {True: "yes", False: "NO", None: "-"}[p["met"]]) for p in points])


def _pruning_section(summary: dict) -> tuple[str, str, list[str]]:
    """(title, plot, lines) of the pruning comparison: against the rate asked, or the sparsity."""
    st = summary["stages"]
    if summary.get("digits_per_second_goal") is None:
        return ("Sparsity vs error: OBD and magnitude pruning", "sparsity",
                _rounds_table(st["prune"], st["magnitude"]))
    return ("Test error vs measured instructions per digit: pruned to the rate", "rate",
            _rate_table(summary["rate_points"]) + ["", (
                f"Each method pruned round by round, on the same retraining budget, until its int8 firmware "
                f"met {summary['digits_per_second_goal']:,.1f} digits/s on {summary['device']} as QEMU counts "
                f"its instructions (rate met: NO when the rounds ran out first); test error: the float model "
                f"after its last retraining, the dense one before any.")])


def _intro(summary: dict) -> str:
    st, ev = summary["stages"], summary["stages"]["evaluate"]
    goal = summary.get("digits_per_second_goal")
    target = (f"sparsity {100 * st['prune']['sparsity']:.1f}% (goal {100 * summary['sparsity_goal']:.0f}%)"
              if goal is None else f"OBD by saliency per cost to {goal:,.1f} digits/s on {summary['device']}, "
                                   f"sparsity {100 * st['prune']['sparsity']:.1f}%")
    return (f"Final int8 model: {target}, test error {_pct(ev['error'])} on {ev['digits']:,} digits, run by the "
            f"emulator (bit-exact with TFLM); stages took {summary['total_seconds'] / 60:.1f} min.")


def _layer_table(check: dict) -> list[str]:
    return markdown.table(
        ("layer", "op", "output", "multiply-adds", "nonzero", "parameter bytes", "activation bytes"),
        [(r["index"], r["opcode"], "x".join(map(str, r["output_shape"])), f"{r['macs']:,}",
          f"{r['effective_macs']:,}", f"{r['param_bytes']:,}", f"{r['activation_bytes']:,}")
         for r in check["layers"]])


def _memory_lines(check: dict, firmware: dict) -> list[str]:
    lines = [f"TFLM on the profile: flash {check['flash_needed']:,} B (weights {check['weight_bytes']:,} + runtime "
             f"{check['runtime_flash_bytes']:,}) of {check['flash_bytes']:,}; RAM {check['ram_needed']:,} B (arena "
             f"{check['arena_head_bytes']:,} + tail {check['arena_tail_bytes']:,} + runtime {check['runtime_ram_bytes']:,}) "
             f"of {check['ram_bytes']:,}; {check['digits_per_second'] or 0:,.1f} digits/s estimated."]
    if "cost_model" in check:
        c = check["cost_model"]
        count = c["instructions_per_inference"]
        per_digit = "" if count is None else f"{count:,.0f} instructions per digit, "
        lines.append(f"The generated C firmware predicted by the calibrated cost model: flash {c['flash_needed']:,} B, "
                     f"RAM {c['ram_needed']:,} B, {per_digit}{c['digits_per_second'] or 0:,.1f} digits/s.")
    if not firmware.get("skipped"):
        lines.append(f"The generated C firmware measured on QEMU: flash {firmware['flash_inference']:,} B and RAM "
                     f"{firmware['ram_inference']:,} B for inference (harness apart), "
                     f"{firmware['instructions_per_inference']:,.0f} instructions per digit.")
    return lines


def _rejection_lines(ev: dict) -> list[str]:
    rates = ev["rejection"]
    needed = ", ".join(f"{_pct(float(t))} error at {_pct(r)} rejection" for t, r in ev["rejection_for_error"].items())
    return [*markdown.table(("rejection", *(f"{100 * p['rejection']:.0f}%" for p in rates)),
                            [("error among accepted", *(_pct(p["error"]) for p in rates))]), "",
            f"Least rejection for an error target: {needed}. Digits are rejected by the margin between "
            f"their two largest int8 logits (the softmax's input, which the board has too): "
            f"{ev['softmax_tied_at_top']:,} digits share the int8 softmax's top probability and "
            f"could not be ranked by it."
            + (f" {ev['tied_at_top']:,} digits share the largest margin, so past {_pct(_ranked(ev))} "
               f"rejection the digits rejected are the test set's next, not the network's least sure."
               if ev["tied_at_top"] > 1 else "")]


def _markdown(summary: dict, images: dict[str, str]) -> str:
    st = summary["stages"]
    ev = st["evaluate"]
    sections = [
        ("Training curves", "training", []),
        _pruning_section(summary),
        ("Per-layer cost (int8 model)", "layers", _layer_table(st["check"])),
        ("Memory against the device", "memory", _memory_lines(st["check"], st["firmware"])),
        ("Confusion matrix (int8 model)", "confusion", []),
        ("Error vs rejection (int8 model)", "rejection", _rejection_lines(ev))]
    lines = [f"# lenet-edge pipeline: {summary['model']} on {summary['device']}", "", _intro(summary), ""] \
        + _stage_table(summary) + [""]
    for title, name, extra in sections:
        lines += [f"## {title}", "", f"![{title}]({images[name]})", ""] + (extra + [""] if extra else [])
    lines += ["Every number: `summary.json`.", ""]
    return "\n".join(lines)


def html_page(markdown: str, pngs: dict[str, bytes], images: dict[str, str], title: str = "lenet-edge pipeline") -> str:
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
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
             "img{max-width:100%;display:block;margin:1em 0}")
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n")


def _plots(summary: dict) -> dict[str, bytes]:
    st = summary["stages"]
    pruning = ({"sparsity": plots.sparsity(st["prune"], st["magnitude"], st["evaluate"])}
               if summary.get("digits_per_second_goal") is None else
               {"rate": plots.rate(summary["rate_points"], summary["digits_per_second_goal"], summary["device"])})
    return {"training": plots.training(runs.read_metrics(st["train"]["folder"])), **pruning,
            "layers": plots.layers(st["check"]["layers"]),
            "memory": plots.memory(st["check"], st["firmware"]),
            "confusion": plots.confusion(st["evaluate"]["confusion"]),
            "rejection": plots.rejection(st["evaluate"]["rejection_curve"], _ranked(st["evaluate"]))}


def _ranked(ev: dict) -> float:
    """The rejection rate up to which the int8 confidences still rank the digits."""
    return 1.0 - ev["tied_at_top"] / ev["digits"]


def write_report(out: Path, stages: dict, settings) -> dict:
    """Write report.md, report.html, summary.json and the PNGs into out; return their paths."""
    out = Path(out)
    folder = out / REPORT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    summary = _summary(stages, settings)
    pngs = _plots(summary)
    images = {}
    for name, data in pngs.items():
        runs.atomic_write(folder / f"{name}.png", lambda tmp, data=data: tmp.write_bytes(data))
        images[name] = f"{REPORT_DIR}/{name}.png"
    markdown = _markdown(summary, images)
    runs.atomic_write(out / "report.md", lambda tmp: tmp.write_text(markdown))
    page = html_page(markdown, pngs, images)
    runs.atomic_write(out / "report.html", lambda tmp: tmp.write_text(page))
    runs.write_json(out / "summary.json", summary)
    return {"markdown": str(out / "report.md"), "html": str(out / "report.html"),
            "summary": str(out / "summary.json"), "plots": {k: str(out / v) for k, v in images.items()}}
