"""One command from data to a flashed digit reader: train, prune, QAT, int8, check, firmware, report.

    result = run_pipeline(PipelineSettings("lenet5", "nrf52840", 0.9, Path("runs/demo")))
"""
from lenet_edge.pipeline.stages import Budget, PipelineResult, PipelineSettings, StageEvent, run_pipeline

__all__ = ["Budget", "PipelineResult", "PipelineSettings", "StageEvent", "run_pipeline"]
