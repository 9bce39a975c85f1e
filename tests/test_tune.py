"""`lenet-edge tune --quick`: a search interrupted with Ctrl-C and resumed loses no finished trial,
its front is non-dominated, a front point's printed `lenet-edge pipeline` command gives the
trial's numbers, the best point is bit-exact on QEMU; bad input stops in one line."""
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli_support import assert_one_error_line, invoke

ROOT = Path(__file__).resolve().parent.parent
NUMBERS = ("error", "instructions", "digits_per_second", "ram_bytes", "flash_bytes", "float_error", "sparsity")
CONFIRMED_WITHIN = 0.02  # the cost model's stated error against QEMU's count (BENCHMARKS.md: under 1%)


def _command(out: Path, *extra) -> list[str]:
    return [sys.executable, "-m", "lenet_edge.cli", "tune", "--device", "nrf52840", "--quick", "--trials", "3",
            "--flash-best", "1", "--out", str(out), *extra]


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "TF_USE_LEGACY_KERAS": "1"}


def _finished_trials(out: Path) -> dict:
    """Trial id -> its stages.json, for the trials whose last stage (check) finished."""
    found = {}
    for path in (out / "trials").glob("*/stages.json"):
        stages = json.loads(path.read_text())
        if "check" in stages:
            found[path.parent.name] = stages
    return found


@pytest.fixture(scope="module")
def interrupted_then_resumed(tmp_path_factory):
    """The search stopped by SIGINT once a trial has finished, then the same command rerun."""
    out = tmp_path_factory.mktemp("tune") / "search"
    process = subprocess.Popen(_command(out), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not _finished_trials(out) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    before = _finished_trials(out)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    resumed = subprocess.run(_command(out), env=_env(), capture_output=True, text=True, timeout=600)
    return out, before, (process.returncode, stderr), resumed


def test_an_interrupted_search_resumes_keeping_its_finished_trials(interrupted_then_resumed):
    out, before, (code, stderr), resumed = interrupted_then_resumed
    assert before, "no trial finished before the interrupt"
    assert code == 1 and "rerun the same command to resume" in stderr.splitlines()[-1], stderr[-2000:]
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    ids = [t["trial_id"] for t in summary["trials"]]
    assert len(ids) == 3 and set(before) <= set(ids)
    after = _finished_trials(out)
    for trial_id, stages in before.items():
        assert after[trial_id] == stages  # not run again: the same stages, finished at the same times


def _dominates(a, b) -> bool:
    no_worse = a["error"] <= b["error"] and a["digits_per_second"] >= b["digits_per_second"] and a["ram_bytes"] <= b["ram_bytes"]
    better = a["error"] < b["error"] or a["digits_per_second"] > b["digits_per_second"] or a["ram_bytes"] < b["ram_bytes"]
    return no_worse and better


def test_the_front_is_the_non_dominated_set(interrupted_then_resumed):
    summary = json.loads((interrupted_then_resumed[0] / "summary.json").read_text())
    trained = [t for t in summary["trials"] if "error" in t and not t["hopeless"]]
    expected = {t["trial_id"] for t in trained if not any(_dominates(o, t) for o in trained)}
    assert {t["trial_id"] for t in summary["front"]} == expected and expected
    report = (interrupted_then_resumed[0] / "report.html").read_text()
    assert "<title>lenet-edge tune</title>" in report and report.count("data:image/png;base64,") == 3
    for t in summary["front"]:
        assert t["command"] in report


def test_the_best_point_is_bit_exact_on_qemu_and_as_predicted(interrupted_then_resumed):
    summary = json.loads((interrupted_then_resumed[0] / "summary.json").read_text())
    [confirmed] = summary["confirmed"]
    assert confirmed["trial_id"] == (summary["best"] or summary["front"][0])["trial_id"]
    assert confirmed["identical"]
    assert abs(confirmed["measured_instructions"] / confirmed["predicted_instructions"] - 1) < CONFIRMED_WITHIN


def test_the_printed_pipeline_command_gives_the_trials_numbers(interrupted_then_resumed, tmp_path, monkeypatch):
    """The front point's command, parsed by the CLI, run through run_pipeline's trial stages."""
    from lenet_edge.pipeline import stages
    from lenet_edge.tune.trial import STAGES, numbers

    summary = json.loads((interrupted_then_resumed[0] / "summary.json").read_text())
    point = summary["front"][0]
    words = shlex.split(point["command"].replace("--out DIR", f"--out {tmp_path / 'rebuilt'}"))
    asked = []

    def parsed(settings, on_event=None):
        asked.append(settings)
        raise KeyboardInterrupt  # stop the CLI there: the settings are what the test needs
    monkeypatch.setattr(stages, "run_pipeline", parsed)
    invoke(*words[1:])
    monkeypatch.undo()
    [settings] = asked
    stages.run_pipeline(settings, only=STAGES)
    rebuilt = numbers(settings.out)
    assert {k: rebuilt[k] for k in NUMBERS} == {k: point[k] for k in NUMBERS}


def test_an_unreachable_address_fails_in_one_line_before_training(tmp_path):
    result = invoke("tune", "--device", "nrf52840", "--quick", "--trials", "1", "--address", "127.0.0.1:9",
                    "--out", tmp_path / "search")
    assert_one_error_line(result, "--address 127.0.0.1:9", "no Ray cluster answers")
    assert not (tmp_path / "search" / "trials").exists()


def test_flags_out_of_range_and_a_foreign_out_fail_in_one_line(tmp_path):
    assert_one_error_line(invoke("tune", "--device", "nrf52840", "--trials", "0", "--out", tmp_path / "a"),
                          "--trials must be at least 1")
    assert_one_error_line(invoke("tune", "--device", "nrf52840", "--trials", "1", "--ram-bytes", "-5",
                                 "--out", tmp_path / "a"), "--ram-bytes must be at least 1")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("not tune's")
    assert_one_error_line(invoke("tune", "--device", "nrf52840", "--trials", "1", "--out", tmp_path / "mine"),
                          "notes.txt", "lenet-edge tune did not write")


def test_a_budget_no_trial_meets_names_the_closest_trial(tmp_path):
    out = tmp_path / "search"
    done = subprocess.run([sys.executable, "-m", "lenet_edge.cli", "tune", "--device", "nrf52840", "--quick",
                           "--trials", "1", "--flash-best", "0", "--ram-bytes", "1000", "--out", str(out)],
                          env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    [trial] = summary["trials"]
    assert trial["hopeless"] and "1,000 bytes of RAM" in trial["hopeless"]
    assert not (out / "trials" / trial["trial_id"] / "stages.json").exists()  # stopped before training
    assert summary["best"] is None and summary["closest"]["trial_id"] == trial["trial_id"]
    assert f"No trial meets the limits. The closest: trial {trial['trial_id']}" in done.stdout
