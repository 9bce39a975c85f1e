"""`lenet-edge pipeline`: every stage in a tiny budget, the report files, resume, bad input."""
import dataclasses
import json
import os

import pytest

from lenet_edge.pipeline import stages
from lenet_edge.pipeline.stages import Budget, PipelineSettings, run_pipeline
from tests.cli_support import assert_one_error_line, invoke

DATA = os.environ.get("LENET_EDGE_DATA", "/work/shared/data")

TINY = dataclasses.replace(Budget.quick(), epochs=1, qat_epochs=1, train_limit=2000, test_limit=500, hessian_sample=200,
                           calibration=50, convert_limit=500, evaluate_limit=500, firmware_images=20)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("pipeline")
    settings = PipelineSettings("lenet1", "nrf52840", 0.6, out, TINY, data_dir=DATA, progress=False)
    return settings, run_pipeline(settings)


def test_every_stage_runs_and_reports(finished):
    settings, result = finished
    out = settings.out
    assert result.ran == list(stages.STAGE_NAMES) and result.skipped == []
    for name in ("report.md", "report.html", "summary.json"):
        assert (out / name).is_file()
    summary = json.loads((out / "summary.json").read_text())
    st = summary["stages"]
    assert st["train"]["epochs"] == 1 and 0 <= st["train"]["test_error"] <= 1
    assert len(st["prune"]["rounds"]) == 2 and st["prune"]["sparsity"] == pytest.approx(0.6, abs=0.02)
    assert st["qat"]["epochs"] == 1
    assert st["int8"]["bytes"] > 0 and st["int8"]["digits"] == 500
    assert st["check"]["layers"] and st["check"]["flash_needed"] > 0 and "ok" in st["check"]
    firmware = st["firmware"]
    assert firmware["skipped"] or (firmware["images"] == 20 and firmware["identical"])
    assert sum(map(sum, summary["confusion"]["matrix"])) == 500
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 5
    assert "report/" not in page.split("<body>")[1].replace("data:image", "")  # no file links
    for name in ("training", "pruning", "layers", "memory", "confusion"):
        assert (out / "report" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"


def test_rerun_skips_finished_stages(finished, monkeypatch):
    settings, _ = finished
    before = json.loads((settings.out / "stages.json").read_text())

    def must_not_run(*args):
        raise AssertionError("a finished stage ran again")
    for name in stages.STAGE_NAMES[:-1]:
        monkeypatch.setitem(stages.STAGES, name, must_not_run)
    again = run_pipeline(settings)
    assert again.ran == [] and again.skipped == list(stages.STAGE_NAMES)
    assert json.loads((settings.out / "stages.json").read_text()) == before


def test_resumes_at_the_stage_that_stopped(finished, tmp_path, monkeypatch):
    settings, _ = finished
    recorded = json.loads((settings.out / "stages.json").read_text())
    partial = {name: recorded[name] for name in ("train", "prune", "qat", "int8")}
    (tmp_path / "stages.json").write_text(json.dumps(partial))
    calls = []
    for name in ("check", "firmware", "report"):
        monkeypatch.setitem(stages.STAGES, name, lambda s, out, name=name: calls.append(name) or {"stub": name})
    result = run_pipeline(dataclasses.replace(settings, out=tmp_path))
    assert result.skipped == ["train", "prune", "qat", "int8"] and calls == ["check", "firmware", "report"]


def test_missing_toolchain_skips_the_firmware_stage(finished, tmp_path, monkeypatch):
    from firmware_sim import flash as flash_module
    from firmware_sim.codegen.errors import ToolchainMissingError

    settings, _ = finished
    recorded = json.loads((settings.out / "stages.json").read_text())
    (tmp_path / "stages.json").write_text(json.dumps({k: recorded[k] for k in ("train", "prune", "qat", "int8", "check")}))

    def missing(*args, **kwargs):
        raise ToolchainMissingError("arm-none-eabi-gcc is not installed")
    monkeypatch.setattr(flash_module, "flash", missing)
    monkeypatch.setitem(stages.STAGES, "report", lambda s, out: {})
    run_pipeline(dataclasses.replace(settings, out=tmp_path))
    firmware = json.loads((tmp_path / "stages.json").read_text())["firmware"]["result"]
    assert firmware["skipped"] and "not installed" in firmware["reason"]


@pytest.mark.parametrize("args, fragment", [
    (["--device", "toaster"], "unknown device"),
    (["--sparsity", "1.5"], "--sparsity"),
    (["--model", "lenet99"], "unknown model"),
])
def test_bad_input_is_one_error_line(tmp_path, args, fragment):
    result = invoke("pipeline", "--out", tmp_path / "p", "--quick", *args)
    assert_one_error_line(result, fragment)
    assert not (tmp_path / "p").exists()


def test_reuses_a_finished_train_run(finished, tmp_path, monkeypatch):
    settings, _ = finished
    calls = []
    for name in stages.STAGE_NAMES[1:]:
        monkeypatch.setitem(stages.STAGES, name, lambda s, out, name=name: calls.append(name) or {})
    result = run_pipeline(dataclasses.replace(settings, out=tmp_path, train_run=settings.out / "train"))
    assert result.ran == list(stages.STAGE_NAMES) and calls == list(stages.STAGE_NAMES[1:])
    recorded = json.loads((tmp_path / "stages.json").read_text())["train"]["result"]
    assert recorded["folder"] == str(settings.out / "train") and not (tmp_path / "train").exists()


def test_an_unfinished_train_run_is_one_error_line(tmp_path):
    result = invoke("pipeline", "--model", "lenet1", "--out", tmp_path / "p", "--quick", "--train-run", tmp_path / "nothing")
    assert_one_error_line(result, "not a finished train run")
