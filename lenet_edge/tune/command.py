"""`lenet-edge tune` end to end: the search (or its resume), the front, the best front trials
confirmed on QEMU, the report."""
from __future__ import annotations

import time

from lenet_edge.tune import confirm as confirms
from lenet_edge.tune import front as fronts
from lenet_edge.tune import report as reports
from lenet_edge.tune import search as searches
from lenet_edge.tune.trial import meets


def run_tune(settings: searches.TuneSettings, flash_best: int = 1) -> dict:
    """The summary (summary.json's content, with the report's paths under "report")."""
    start = time.perf_counter()
    trials = searches.search(settings)  # validates the settings before Ray starts
    target = settings.target()
    done = [t for t in trials if "error" in t]
    for t in done:
        t["meets"] = meets(t, target)
    trained = [t for t in done if not t["hopeless"]]
    front = fronts.pareto(trained)
    best = fronts.pareto(fronts.within(trained, target))
    summary = {"device": settings.device, "quick": settings.quick, "seed": settings.seed,
               "trials_asked": settings.trials, "limits": {"digits_per_second": target.digits_per_second,
                                                          "flash_bytes": target.flash_bytes,
                                                          "ram_bytes": target.ram_bytes},
               "trials": trials, "front": front, "front_within_limits": best,
               "best": best[0] if best else None,
               "closest": None if best else fronts.closest(done, target),
               "confirmed": confirms.confirm(best or front, settings.device, flash_best, settings.out, settings.data_dir),
               "seconds": round(time.perf_counter() - start, 1)}
    return {**summary, "report": reports.write_report(settings.out, summary)}


