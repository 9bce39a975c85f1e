"""One tiny pipeline run shared by the pipeline tests of a session (it takes about a minute), and
its rate twin: the same train run pruned to a rate by the three methods."""
import dataclasses
import functools
import json
import os
from pathlib import Path

from lenet_edge.pipeline.stages import DEFAULT_SPARSITY, Budget, PipelineSettings, run_pipeline

DATA = os.environ.get("LENET_EDGE_DATA", "/work/shared/data")
PLOTS = ("training", "sparsity", "layers", "memory", "confusion", "rejection")
RATE_PLOTS = ("training", "rate", "layers", "memory", "confusion", "rejection")
# the stages after pruning, which the rate twin takes from the finished pipeline (they are tested there)
AFTER_PRUNING = ("qat", "int8", "evaluate", "check", "firmware")
TINY = dataclasses.replace(Budget.quick(), epochs=1, qat_epochs=1, train_limit=2000, test_limit=500, hessian_sample=200,
                           calibration=50, convert_limit=500, evaluate_limit=500, firmware_images=20)


@functools.cache
def finished_pipeline(base: Path):
    """(settings, result) of lenet1 through every stage into base/pipeline, run once per session."""
    settings = PipelineSettings("lenet1", "nrf52840", 0.6, base / "pipeline", TINY, data_dir=DATA, progress=False)
    return settings, run_pipeline(settings)


@functools.cache
def rate_pipeline(base: Path, speedup: float = 1.5):
    """(settings, result, dense) of finished_pipeline's train run pruned to `speedup` times its
    dense rate (the cost model's) into base/rate; its stages after pruning are the finished
    pipeline's, so only the three pruning stages and the report run."""
    from lenet_edge.compress.rate_methods import dense_measurement

    finished, _ = finished_pipeline(base)
    out = base / "rate"
    dense = dense_measurement(finished.out / "train", finished.device, out / "dense", DATA)  # the stage reuses it
    recorded = json.loads((finished.out / "stages.json").read_text())
    (out / "stages.json").write_text(json.dumps({name: recorded[name] for name in ("train", *AFTER_PRUNING)}))
    settings = dataclasses.replace(finished, out=out, sparsity=DEFAULT_SPARSITY, train_run=finished.out / "train",
                                   digits_per_second=speedup * dense["predicted_digits_per_second"])
    return settings, run_pipeline(settings), dense
