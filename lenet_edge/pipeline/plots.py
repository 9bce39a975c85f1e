"""The report's plots as PNG bytes (matplotlib, Agg backend): each function takes stage results."""
from __future__ import annotations

import io

DPI = 110
OBD_COLOR, MAGNITUDE_COLOR, INT8_COLOR = "#1f77b4", "#d62728", "#2ca02c"
SALIENCY_COLOR, DENSE_COLOR = "#9467bd", "#7f7f7f"
RATE_STYLE = {"dense": (DENSE_COLOR, "s"), "OBD, saliency per cost": (OBD_COLOR, "o"),
              "OBD, saliency": (SALIENCY_COLOR, "^"), "magnitude (tfmot)": (MAGNITUDE_COLOR, "v")}


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    _plt().close(fig)
    return buffer.getvalue()


def _readable_log(ax) -> None:
    """Log y axis labelled 0.5, 1, 2, 5... rather than 5 x 10^-1 (and no labels on minor ticks)."""
    from matplotlib import ticker

    ax.set_yscale("log")
    ax.yaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))


def training(metrics: list[dict]) -> bytes:
    fig, (a, b) = _plt().subplots(1, 2, figsize=(10, 3.6))
    epochs = [m.get("epoch", i + 1) for i, m in enumerate(metrics)]
    a.plot(epochs, [m["loss"] for m in metrics], marker="o")
    a.set(xlabel="epoch", ylabel="training loss", title="training loss")
    b.plot(epochs, [100 * m["train_error"] for m in metrics], marker="o", label="training set")
    b.plot(epochs, [100 * m["test_error"] for m in metrics], marker="o", label="test set")
    b.set(xlabel="epoch", ylabel="error %", title="error (float model)")
    for ax in (a, b):
        _readable_log(ax)
        ax.grid(alpha=0.3, which="both")
    b.legend()
    fig.tight_layout()
    return _png(fig)


def _thousands():
    from matplotlib import ticker
    return ticker.FuncFormatter(lambda v, _: f"{v:,.0f}")


def _rounds(prune: dict) -> tuple[list[float], list[float]]:
    """(sparsity %, test error %) from the dense source through every round."""
    xs = [100 * prune["source_sparsity"]] + [100 * r["sparsity"] for r in prune["rounds"]]
    ys = [100 * prune["source_error"]] + [100 * r["test_error"] for r in prune["rounds"]]
    return xs, ys


def sparsity(prune: dict, magnitude: dict, int8: dict | None) -> bytes:
    fig, ax = _plt().subplots(figsize=(6.5, 4))
    for result, label, color in ((prune, "OBD (saliency)", OBD_COLOR), (magnitude, "magnitude (tfmot)", MAGNITUDE_COLOR)):
        ax.plot(*_rounds(result), marker="o", label=label, color=color)
    if int8:
        ax.plot([100 * prune["sparsity"]], [100 * int8["error"]], marker="*", markersize=14, linestyle="",
                color=INT8_COLOR, label="OBD + QAT, int8 (final)")
    ax.set(xlabel="sparsity: deleted % of the prunable weights", ylabel="test error %",
           title="sparsity vs error, same schedule and retraining")
    ax.grid(alpha=0.3)
    ax.legend()
    return _png(fig)


def rate(points: list[dict], digits_per_second: float, device: str) -> bytes:
    """Test error against QEMU's instructions per digit: the dense model and each method's
    pruned one (report.rate_points); the dashed line is the rate asked, at the device's clock
    as the dense model's measurement converts it."""
    fig, ax = _plt().subplots(figsize=(6.5, 4))
    for p in points:
        color, marker = RATE_STYLE[p["method"]]
        ax.plot([p["measured_instructions"]], [100 * p["test_error"]], marker=marker, markersize=9, linestyle="",
                color=color, label=f"{p['method']} ({p['measured_speedup']:.2f}x)")
    dense = points[0]
    asked = dense["measured_instructions"] * dense["measured_digits_per_second"] / digits_per_second
    ax.axvline(asked, color="black", linestyle="--", alpha=0.6, label=f"{digits_per_second:,.1f} digits/s on {device}")
    ax.set(xlabel="instructions per digit, measured on QEMU", ylabel="test error %",
           title="pruned to the rate: same retraining budget")
    from matplotlib import ticker

    ax.xaxis.set_major_locator(ticker.MaxNLocator(6))
    ax.xaxis.set_major_formatter(_thousands())
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def layers(rows: list[dict]) -> bytes:
    fig, axes = _plt().subplots(1, 3, figsize=(13, 0.35 * len(rows) + 1.6), sharey=True)
    names = [f"{row['index']} {row['opcode']}" for row in rows]
    for ax, key, title in zip(axes, ("macs", "param_bytes", "activation_bytes"),
                              ("multiply-adds", "parameter bytes", "activation bytes")):
        ax.barh(names, [row[key] for row in rows], color="#9ecae1" if key == "macs" else OBD_COLOR,
                label="all weights" if key == "macs" else None)
        if key == "macs":
            ax.barh(names, [row["effective_macs"] for row in rows], color=OBD_COLOR, label="nonzero weights")
            ax.legend(loc="lower right")
        ax.set(title=title)
        ax.grid(axis="x", alpha=0.3)
        ax.xaxis.set_major_formatter(_thousands())
    axes[0].invert_yaxis()
    fig.tight_layout()
    return _png(fig)


def memory(check: dict, firmware: dict) -> bytes:
    """Needed against the device's limit; the generated firmware's measured bytes beside TFLM's."""
    fig, axes = _plt().subplots(1, 2, figsize=(11, 2.8))
    measured = not firmware.get("skipped") and firmware.get("flash_total")
    panels = (("flash", check["flash_needed"], check["flash_bytes"], firmware.get("flash_inference")),
              ("RAM", check["ram_needed"], check["ram_bytes"], firmware.get("ram_inference")))
    for ax, (name, needed, limit, ours) in zip(axes, panels):
        labels, values = ["TFLM (profile)"], [needed / 1024]
        if measured:
            labels, values = labels + ["generated C (QEMU)"], values + [ours / 1024]
        ax.barh(labels, values, color=[OBD_COLOR, INT8_COLOR][:len(values)])
        ax.axvline(limit / 1024, color=MAGNITUDE_COLOR, linestyle="--", label=f"limit {limit / 1024:,.0f} KiB")
        for y, v in enumerate(values):
            ax.text(v, y, f" {v:,.1f} KiB ({100 * v * 1024 / limit:.1f}%)", va="center", fontsize=9)
        ax.set(xlabel="KiB", title=f"{name} on {check['device']}" + (" (unified memory)" if check.get("unified_memory") else ""),
               xlim=(0, 1.05 * limit / 1024))
        ax.invert_yaxis()
        ax.legend(loc="lower right")
    fig.tight_layout()
    return _png(fig)


def confusion(matrix: list[list[int]]) -> bytes:
    import numpy as np

    fig, ax = _plt().subplots(figsize=(5.6, 5))
    m = np.asarray(matrix)
    off = m - np.diag(np.diag(m))  # colour the mistakes: the diagonal would wash them out
    ax.imshow(off, cmap="Reds")
    for (i, j), n in np.ndenumerate(m):
        if n:
            ax.text(j, i, str(n), ha="center", va="center", fontsize=8,
                    color="white" if off[i, j] > off.max() / 2 else "black", weight="bold" if i == j else None)
    ax.set(xlabel="predicted digit", ylabel="true digit", xticks=range(10), yticks=range(10),
           title=f"int8 model on the emulator: {m.sum() - np.trace(m)} errors in {m.sum():,}")
    return _png(fig)


def rejection(curve: list[dict], ranked: float) -> bytes:
    """ranked: the rejection rate past which only digits tied at the top margin remain."""
    fig, ax = _plt().subplots(figsize=(6.5, 4))
    ax.plot([100 * p["rejection"] for p in curve], [100 * p["error"] for p in curve], marker=".", color=INT8_COLOR)
    if ranked < curve[-1]["rejection"]:
        ax.axvspan(100 * ranked, 100 * curve[-1]["rejection"], color="#eee",
                   label="tied at the top logit margin:\nrejected in test-set order")
        ax.legend()
    ax.set(xlabel="rejected % (smallest logit margin first)", ylabel="error % among accepted digits",
           title="int8 model: error vs rejection", ylim=(0, None))
    ax.grid(alpha=0.3)
    return _png(fig)


def front(trials: list[dict], front_ids: set, axis: str, label: str, limit: float | None, limit_label: str,
          log: bool = False) -> bytes:
    """tune's trials: test error against one of the device's numbers (`axis`), every trial a grey
    point, the Pareto front's in colour joined by a line, the device's limit dashed."""
    fig, ax = _plt().subplots(figsize=(6.5, 4))
    rest = [t for t in trials if t["trial_id"] not in front_ids]
    best = sorted((t for t in trials if t["trial_id"] in front_ids), key=lambda t: t[axis])
    ax.plot([t[axis] for t in rest], [100 * t["error"] for t in rest], "o", color=DENSE_COLOR, alpha=0.6,
            label="trials")
    ax.plot([t[axis] for t in best], [100 * t["error"] for t in best], "o-", color=OBD_COLOR, label="Pareto front")
    if limit is not None:
        ax.axvline(limit, color="black", linestyle="--", alpha=0.6, label=limit_label)
    if log:
        ax.set_xscale("log")
    ax.xaxis.set_major_formatter(_thousands())
    ax.set(xlabel=label, ylabel="test error % (int8, emulator)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)
