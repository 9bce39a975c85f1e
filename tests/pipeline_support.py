"""One tiny pipeline run shared by the pipeline tests of a session (it takes about a minute)."""
import dataclasses
import functools
import os
from pathlib import Path

from lenet_edge.pipeline.stages import Budget, PipelineSettings, run_pipeline

DATA = os.environ.get("LENET_EDGE_DATA", "/work/shared/data")
PLOTS = ("training", "sparsity", "layers", "memory", "confusion", "rejection")
TINY = dataclasses.replace(Budget.quick(), epochs=1, qat_epochs=1, train_limit=2000, test_limit=500, hessian_sample=200,
                           calibration=50, convert_limit=500, evaluate_limit=500, firmware_images=20)


@functools.cache
def finished_pipeline(base: Path):
    """(settings, result) of lenet1 through every stage into base/pipeline, run once per session."""
    settings = PipelineSettings("lenet1", "nrf52840", 0.6, base / "pipeline", TINY, data_dir=DATA, progress=False)
    return settings, run_pipeline(settings)
