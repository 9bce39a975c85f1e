"""`lenet-edge tune --quick`: a search interrupted with Ctrl-C and resumed loses no finished trial,
its front is non-dominated, a front point's printed `lenet-edge pipeline` command gives the
trial's numbers, the best point is bit-exact on QEMU; bad input stops in one line."""
import dataclasses
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
CONFIRMED_WITHIN = 0.10  # the cost model's stated error against QEMU's count (tests/test_check_vs_flash.py)


def _command(out: Path, *extra, trials=3, flash_best=1) -> list[str]:
    return [sys.executable, "-m", "lenet_edge.cli", "tune", "--device", "nrf52840", "--quick", "--trials", str(trials),
            "--flash-best", str(flash_best), "--out", str(out), *extra]


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


def test_the_search_starts_at_the_defaults_and_trials_that_train_alike_train_once(interrupted_then_resumed):
    from lenet_edge.tune import space as spaces

    out = interrupted_then_resumed[0]
    summary = json.loads((out / "summary.json").read_text())
    assert spaces.start_points(spaces.space(True))[0] in [t["config"] for t in summary["trials"]]
    trained = [t for t in summary["trials"] if "error" in t and not t["hopeless"]]
    recipes = {tuple(t["config"][k] for k in ("model", "epochs", "distort")) for t in trained}
    prunings = {(*(t["config"][k] for k in ("model", "epochs", "distort", "sparsity")), spaces.granularity(t["config"]))
                for t in trained}
    assert len(list((out / "shared").glob("train-*/train/model.keras"))) == len(recipes)
    assert len(list((out / "shared").glob("prune-*/done.json"))) == len(prunings)
    for t in trained:  # each trial's train and prune stages are the shared ones, not its own
        stages = json.loads((out / "trials" / t["trial_id"] / "stages.json").read_text())
        for stage in ("train", "prune"):
            folder = Path(stages[stage]["result"]["folder"]).resolve()
            assert folder.parent.parent == (out / "shared").resolve()
            assert not (out / "trials" / t["trial_id"] / stage).exists()


def test_trials_that_prune_alike_share_the_pruning(tmp_path):
    """Two trials apart only in QAT: one training, one pruning, two QATs."""
    from lenet_edge.tune import space as spaces
    from lenet_edge.tune import trial as trials

    s = dataclasses.replace(spaces.space(True), train_limit=500)
    target = trials.limits("nrf52840", None, None, None)
    first, second = ({"model": "lenet1", "epochs": 1, "distort": False, "sparsity": 0.5, "granularity": "weight",
                      "qat_epochs": q} for q in (0, 1))
    a = trials.run_trial(spaces.trial_settings(s, first, "nrf52840", 0, tmp_path / "a"), target, tmp_path / "shared")
    b = trials.run_trial(spaces.trial_settings(s, second, "nrf52840", 0, tmp_path / "b"), target, tmp_path / "shared")
    assert len(list((tmp_path / "shared").glob("train-*"))) == 1 and len(list((tmp_path / "shared").glob("prune-*"))) == 1
    assert (a["float_error"], a["sparsity"]) == (b["float_error"], b["sparsity"])
    assert (tmp_path / "b" / "qat").is_dir() and not (tmp_path / "a" / "qat").exists()


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


def test_a_rerun_reads_the_confirmation_instead_of_flashing_again(interrupted_then_resumed, monkeypatch):
    from lenet_edge.board import flash as flash_module
    from lenet_edge.tune.confirm import confirm

    out = interrupted_then_resumed[0]
    summary = json.loads((out / "summary.json").read_text())
    [confirmed] = summary["confirmed"]
    trial = next(t for t in summary["trials"] if t["trial_id"] == confirmed["trial_id"])

    def must_not_flash(*args, **kwargs):
        raise AssertionError("a confirmed trial was flashed again")
    monkeypatch.setattr(flash_module, "flash", must_not_flash)
    assert confirm([trial], "nrf52840", 1, out) == [confirmed]


@pytest.mark.parametrize("sparsity, granularity, pruned_by", [(0.0, "map", "weight"), ("rate", "map", "map"),
                                                                (0.5, "map", "map"), (0.5, "weight", "weight")])
def test_a_rate_or_an_unpruned_trial_is_the_pipeline_its_command_builds(sparsity, granularity, pruned_by, tmp_path,
                                                                        monkeypatch):
    """A search with a rate has pruning to it as a choice; that trial's settings and the settings
    its printed command parses to are the same (and so for an unpruned one, which prunes no maps)."""
    from lenet_edge.pipeline import stages
    from lenet_edge.tune import space as spaces

    assert spaces.RATE not in spaces.space(True).sparsity and 0.0 in spaces.space(True).sparsity
    s = spaces.space(True, 120.0)
    assert s.sparsity[-1] == spaces.RATE and s.rate == 120.0
    config = {"model": "lenet4", "epochs": 2, "distort": False, "sparsity": sparsity, "granularity": granularity,
              "qat_epochs": 1}
    trial = spaces.trial_settings(s, config, "nrf52840", 3, tmp_path / "trial")
    assert trial.digits_per_second == (120.0 if sparsity == spaces.RATE else None)
    assert trial.granularity == pruned_by
    asked = []

    def parsed(settings, on_event=None):
        asked.append(settings)
        raise KeyboardInterrupt  # stop the CLI there: the settings are what the test needs
    monkeypatch.setattr(stages, "run_pipeline", parsed)
    words = shlex.split(spaces.rebuild_command(s, config, "nrf52840", 3, out=str(tmp_path / "trial")))
    invoke(*words[1:])
    [parsed] = asked
    assert dataclasses.replace(parsed, data_dir=None, progress=False) == trial


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
    done = subprocess.run(_command(out, "--ram-bytes", "1000", trials=1, flash_best=0), env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    [trial] = summary["trials"]
    assert trial["hopeless"] and "1,000 bytes of RAM" in trial["hopeless"]
    assert not (out / "trials" / trial["trial_id"] / "stages.json").exists()  # stopped before training
    assert summary["best"] is None and summary["closest"]["trial_id"] == trial["trial_id"]
    assert f"No trial meets the limits. The closest: trial {trial['trial_id']}" in done.stdout


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _points(summary: dict) -> list[tuple]:
    """The front without the trial ids (Tune names trials at random): configs and numbers."""
    return sorted((json.dumps(t["config"], sort_keys=True), *(t[k] for k in NUMBERS)) for t in summary["front"])


def _machine_address() -> str:
    """The address Ray gives this machine (it replaces 127.0.0.1 by it, so a cluster on loopback
    cannot be joined): the source address of a route outwards, no packet sent."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("8.8.8.8", 80))
        return s.getsockname()[0]


def _listening(host: str, port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex((host, port)) == 0


def _active_nodes(ray: str, address: str, env: dict) -> int:
    status = subprocess.run([ray, "status", "--address", address], env=env, capture_output=True, text=True,
                            timeout=60).stdout
    return status.split("Active:", 1)[-1].split("Pending:", 1)[0].count("node_")


def _wait_for(ready, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        assert time.monotonic() < deadline, f"{what} did not start in {seconds:.0f} s"
        time.sleep(0.5)


def test_a_two_node_local_cluster_finds_the_same_front(interrupted_then_resumed, tmp_path):
    """`ray start` on this machine: a head and a second node, one CPU each, as a user adding a machine."""
    ray = str(Path(sys.executable).parent / "ray")
    address = f"{_machine_address()}:{_free_port()}"
    host, port = address.rsplit(":", 1)
    common = ["--num-cpus", "1", "--disable-usage-stats", "--block"]
    env = {**_env(), "RAY_AUTH_MODE": "token"}  # Ray 2.60's default, said explicitly so every process takes it
    # --block: each node stays this test's child process, stopped by its pid (not `ray stop`)
    nodes = [subprocess.Popen([ray, "start", "--head", "--node-ip-address", host, "--port", port,
                               "--include-dashboard", "false", *common], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        _wait_for(lambda: _listening(host, int(port)), "the head node")
        nodes.append(subprocess.Popen([ray, "start", "--address", address, *common], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait_for(lambda: _active_nodes(ray, address, env) == 2, "the second node")
        out = tmp_path / "cluster"
        done = subprocess.run(_command(out, "--address", address, flash_best=0), env=env,
                              capture_output=True, text=True, timeout=400)
        after = _active_nodes(ray, address, env)
    finally:
        for node in reversed(nodes):
            node.send_signal(signal.SIGTERM)
            node.wait(timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    assert after == 2  # both nodes were in the cluster throughout
    local = json.loads((interrupted_then_resumed[0] / "summary.json").read_text())
    assert _points(json.loads((out / "summary.json").read_text())) == _points(local)


def test_the_report_renders_in_headless_chromium(interrupted_then_resumed, tmp_path):
    """As the pipeline's report (tests/test_report_browser.py): every inline PNG decodes at its size."""
    import base64
    import re
    import shutil

    from tests.test_report_browser import INSTALL, PROBE, _browse

    chromium = shutil.which("chromium")
    if chromium is None:
        (pytest.fail if os.geteuid() == 0 else pytest.skip)(f"chromium is not installed: {INSTALL}")
    html = (interrupted_then_resumed[0] / "report.html").read_text()
    sizes = [list(struct_size(base64.b64decode(data))) for data in re.findall(r'src="data:image/png;base64,([^"]+)"', html)]
    page = tmp_path / "probed.html"
    page.write_text(html.replace("</body>", PROBE + "</body>"))
    dom = _browse(chromium, tmp_path, "--dump-dom", page.as_uri())
    found = re.search(r'data-images="([^"]*)"', dom)
    assert found, "the page's load event never fired"
    assert json.loads(found.group(1).replace("&quot;", '"')) == [[True, *size] for size in sizes] and len(sizes) == 3


def struct_size(png: bytes) -> tuple[int, int]:
    import struct

    return struct.unpack(">II", png[16:24])  # the IHDR chunk's width and height
