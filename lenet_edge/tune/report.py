"""DIR/report.html (self-contained: the pipeline report's page, plots inline) and DIR/summary.json
(every number), both written atomically."""
from __future__ import annotations

from pathlib import Path

from lenet_edge import run as runs
from lenet_edge.pipeline import plots
from lenet_edge.pipeline.report import html_page
from lenet_edge.tune import space as spaces


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _trial_row(t: dict, front_ids: set) -> str:
    c = t["config"]
    if "error" not in t:
        return f"| {t['trial_id']} | {c['model']} | failed: {t['failed']} |"
    return (f"| {t['trial_id']} | {c['model']} | {c['epochs']} | {'yes' if c['distort'] else 'no'} | {c['sparsity']} "
            f"| {spaces.granularity(c)} | {c['qat_epochs']} | {_pct(t['error'])} | {t['digits_per_second']:,.1f} | {t['instructions']:,.0f} "
            f"| {t['ram_bytes']:,} | {t['flash_bytes']:,} | {'yes' if t['meets'] else 'no'} "
            f"| {'yes' if t['trial_id'] in front_ids else ''} | `{t['command']}` |")


HEADER = ("| trial | model | epochs | distortions | sparsity | pruned by | QAT epochs | error | digits/s "
          "| instructions/digit | RAM B | flash B | within limits | on the front | rebuild |\n|" + "---|" * 15)


def verdict(summary: dict) -> str:
    if summary["best"] is not None:
        b = summary["best"]
        return (f"Most accurate trial within the limits: {b['trial_id']} ({b['config']['model']}), test error "
                f"{_pct(b['error'])}, {b['digits_per_second']:,.1f} digits/s, RAM {b['ram_bytes']:,} B.")
    c = summary["closest"]
    if c is None:
        return "No trial finished."
    return (f"No trial meets the limits. The closest: trial {c['trial_id']} ({c['config']['model']}), "
            f"{c['digits_per_second']:,.1f} digits/s, RAM {c['ram_bytes']:,} B, flash {c['flash_bytes']:,} B"
            + (f" ({c['hopeless']})" if c.get("hopeless") else f", test error {_pct(c['error'])}") + ".")


def _confirm_lines(confirmed: list[dict]) -> list[str]:
    if not confirmed:
        return ["No front trial was flashed (--flash-best 0)."]
    rows = [f"| {c['trial_id']} | {c['board']} | {c['images']} | {c['predicted_instructions']:,.0f} "
            f"| {c['measured_instructions']:,.0f} | {100 * c['prediction_error']:+.2f}% | {'yes' if c['identical'] else 'NO'} |"
            for c in confirmed]
    return ["| trial | board | digits | predicted instructions | measured (QEMU) | prediction error | bit-exact |",
            "|---|---|---|---|---|---|---|", *rows]


def _plots(summary: dict) -> dict[str, bytes]:
    limits, ids = summary["limits"], {t["trial_id"] for t in summary["front"]}
    done = [t for t in summary["trials"] if "error" in t and not t.get("hopeless")]
    rate = limits["digits_per_second"]
    return {"rate": plots.front(done, ids, "digits_per_second", f"digits per second on {summary['device']} (cost model)",
                                rate, f"{rate:,.1f} digits/s asked" if rate else "", log=True),
            "ram": plots.front(done, ids, "ram_bytes", "RAM bytes (arena + stack)", limits["ram_bytes"],
                               f"{limits['ram_bytes']:,} B of RAM"),
            "flash": plots.front(done, ids, "flash_bytes", "flash bytes (weights, tables, kernels, code)",
                                 limits["flash_bytes"], f"{limits['flash_bytes']:,} B of flash")}


def _markdown(summary: dict) -> str:
    ids = {t["trial_id"] for t in summary["front"]}
    limits = summary["limits"]
    asked = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in limits.items() if v is not None)
    lines = [f"# lenet-edge tune: {summary['device']}",
             f"{len(summary['trials'])} trials ({'--quick' if summary['quick'] else 'full space'}, seed {summary['seed']}) "
             f"in {summary['seconds']:,.0f} s; limits: {asked}. Error: the int8 model's on the emulator; speed and "
             f"memory: check's calibrated cost model of the generated firmware on {summary['device']}.",
             verdict(summary), "## The Pareto front (error, digits/s, RAM)", HEADER,
             *[_trial_row(t, ids) for t in summary["front"]],
             "## Confirmed on QEMU", *_confirm_lines(summary["confirmed"]),
             "## Error against the device's numbers",
             "![error against digits per second](rate)", "![error against RAM](ram)", "![error against flash](flash)",
             "## Every trial", HEADER, *[_trial_row(t, ids) for t in summary["trials"]]]
    return "\n".join(lines) + "\n"


def write_report(out: Path, summary: dict) -> dict:
    out = Path(out)
    pngs = _plots(summary)
    page = html_page(_markdown(summary), pngs, {name: name for name in pngs}, title="lenet-edge tune")
    runs.atomic_write(out / "report.html", lambda tmp: tmp.write_text(page))
    runs.write_json(out / "summary.json", summary)
    return {"html": str(out / "report.html"), "summary": str(out / "summary.json")}
