"""`lenet-edge train` / `evaluate`: run folders, checkpoints, resume after a kill, bad input."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np

from lenet_edge.data.mnist import load_mnist
from lenet_edge.data.transforms import CONVENTIONS
from lenet_edge.data.usps import load_usps, mnist_like
from lenet_edge.outputs import MARKER
from lenet_edge.train import epochs
from lenet_edge.train.batches import load_run_data, training_digits
from lenet_edge.train.loop import recipe_config
from tests.cli_support import invoke, one_error_line

SMALL = ["--train-limit", "2048", "--test-limit", "256", "--batch-size", "32"]




def test_train_then_evaluate(tmp_path):
    run = tmp_path / "lenet1"
    result = invoke("train", "--model", "lenet1", "--epochs", 2, "--out", run, *SMALL)
    assert result.exit_code == 0, result.output
    metrics = json.loads((run / "metrics.json").read_text())
    assert [m["epoch"] for m in metrics] == [1, 2]
    assert {"loss", "train_error", "test_error", "seconds"} <= set(metrics[0])
    assert (run / "model.keras").is_file() and (run / "checkpoint-2.keras").is_file()
    assert not (run / "checkpoint-1.keras").exists()
    assert metrics[1]["test_error"] < 0.5  # 128 steps of LeNet-1 already read most digits

    report = invoke("evaluate", run, "--json", "--limit", 256)
    assert report.exit_code == 0, report.output
    card = json.loads(report.stdout)
    assert card["digits"] == 256 and sum(map(sum, card["confusion"])) == 256
    assert abs(card["error"] - metrics[-1]["test_error"]) < 1e-9


def test_a_resumed_run_gets_the_batches_of_an_uninterrupted_one():
    data = load_run_data(recipe_config("lenet1", epochs=3, train_limit=100, test_limit=10, distort=True))
    whole = list(epochs.epoch_batches(data, 7, 32, 0, 3).as_numpy_iterator())
    resumed = list(epochs.epoch_batches(data, 7, 32, 1, 3).as_numpy_iterator())
    assert [len(y) for _, y in whole] == [32, 32, 32, 4] * 3  # each epoch ends in its own short batch
    assert len(resumed) == 8
    for (x, y), (x_resumed, y_resumed) in zip(whole[4:], resumed, strict=True):
        np.testing.assert_array_equal(x, x_resumed)
        np.testing.assert_array_equal(y, y_resumed)
    x1, y1 = data.training_epoch(np.random.default_rng([7, 1]))  # epoch 1: seeded by (seed, 1)
    np.testing.assert_array_equal(np.concatenate([x for x, _ in whole[4:8]]), x1)
    np.testing.assert_array_equal(np.concatenate([y for _, y in whole[4:8]]), y1)
    assert not np.array_equal(whole[0][0], whole[4][0])  # a new order and new distortions each epoch


def test_the_reader_recipe_shows_each_digit_once_an_epoch_as_mnist_draws_it_or_as_read():
    config = recipe_config("lenet5-reader", train_limit=40, test_limit=10, candidate_strings=2, distort=False)
    assert (config.epochs, config.drawn_digits) == (12, True)
    assert recipe_config("lenet5-reader").distort and not recipe_config("lenet5").distort
    data = load_run_data(config)
    assert data.drawn.shape == (40, 28, 28) and not np.array_equal(data.drawn, data.raw_train[:40])
    prepare = CONVENTIONS["lenet5_32"]
    forms = {}  # an input's bytes -> (index among the training inputs, drawn as read)
    for k, image in enumerate(data.raw_train):
        forms[prepare(image[None])[0].tobytes()] = (k, False)
    for k, image in enumerate(data.drawn):
        forms[prepare(image[None])[0].tobytes()] = (k, True)
    seen = []
    for epoch in range(2):
        x, y = data.training_epoch(np.random.default_rng([0, epoch]))
        shown = [forms[row.tobytes()] for row in x]
        assert sorted(k for k, _ in shown) == list(range(len(data.y_train)))  # every input once
        assert np.array_equal(y, data.y_train[[k for k, _ in shown]])
        seen.append({k for k, drawn in shown if drawn})
    assert 0 < len(seen[0]) < 40 and seen[0] != seen[1]  # some of each form, drawn afresh


def test_killed_run_resumes_to_requested_epoch(tmp_path):
    run = tmp_path / "killed"
    args = ["train", "--model", "lenet1", "--epochs", "6", "--out", str(run), "--train-limit", "4096",
            "--test-limit", "256"]
    proc = subprocess.Popen([sys.executable, "-m", "lenet_edge.cli", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    metrics_file = run / "metrics.json"
    deadline = time.time() + 240
    while time.time() < deadline and not (metrics_file.exists() and json.loads(metrics_file.read_text())):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = json.loads(metrics_file.read_text())
    assert 1 <= len(before) < 6, "the run should have been killed mid-way"
    assert not (run / "model.keras").exists()

    result = invoke("train", "--model", "lenet1", "--epochs", 6, "--out", run, "--resume")
    assert result.exit_code == 0, result.output
    after = json.loads(metrics_file.read_text())
    assert [m["epoch"] for m in after] == [1, 2, 3, 4, 5, 6]
    assert after[:len(before)] == before
    assert (run / "model.keras").is_file()
    assert not [p for p in run.iterdir() if p.name.startswith(".") and p.name != MARKER], "no temporary files left"




def test_bad_input_is_one_line(tmp_path):
    assert "lenet5" in one_error_line(invoke("train", "--model", "lenet7", "--out", tmp_path / "a"))
    assert "--epochs" in one_error_line(invoke("train", "--model", "lenet1", "--epochs", 0, "--out", tmp_path / "b"))
    assert "optimizer" in one_error_line(invoke("train", "--model", "lenet1", "--optimizer", "nope", "--out", tmp_path / "c"))
    assert "--distort" in one_error_line(invoke("train", "--model", "lenet1989", "--distort", "--out", tmp_path / "d", *SMALL))
    assert "not a lenet-edge run" in one_error_line(invoke("evaluate", tmp_path))
    assert "mnist+usps" in one_error_line(invoke("train", "--model", "lenet1", "--data", "emnist", "--out", tmp_path / "e"))
    assert "lenet1989 takes usps" in one_error_line(
        invoke("train", "--model", "lenet1989", "--data", "mnist+usps", "--out", tmp_path / "f"))
    assert not (tmp_path / "e").exists() and not (tmp_path / "f").exists()


def test_mnist_and_usps_training_digits_are_both_sets_in_mnist_format():
    images, labels = training_digits(recipe_config("lenet5", data="mnist+usps"))
    mnist, mnist_labels = load_mnist("train")
    usps, usps_labels = load_usps("train")
    assert images.shape == (60_000 + 7_291, 28, 28) and images.dtype == np.uint8
    assert np.array_equal(images[:60_000], mnist) and np.array_equal(labels[:60_000], mnist_labels)
    assert np.array_equal(images[60_000:], mnist_like(usps)) and np.array_equal(labels[60_000:], usps_labels)
    assert labels.dtype == np.int64
    few, few_labels = training_digits(recipe_config("lenet5", data="mnist+usps", train_limit=10))
    assert len(few) == 20 and np.array_equal(few_labels[10:], usps_labels[:10])
    assert len(training_digits(recipe_config("lenet5"))[0]) == 60_000  # the default stays MNIST alone


def test_existing_run_needs_resume(tmp_path):
    run = tmp_path / "r"
    assert invoke("train", "--model", "lenet1", "--epochs", 1, "--out", run, *SMALL).exit_code == 0
    assert "--resume" in one_error_line(invoke("train", "--model", "lenet1", "--out", run, *SMALL))


def test_corrupt_model_file_is_named(tmp_path):
    run = tmp_path / "r"
    assert invoke("train", "--model", "lenet1", "--epochs", 1, "--out", run, *SMALL).exit_code == 0
    (run / "model.keras").write_bytes(b"not a zip archive")
    assert "model.keras" in one_error_line(invoke("evaluate", run))


def test_options_left_out_take_the_models_recipe(tmp_path):
    run = tmp_path / "recipe"
    result = invoke("train", "--model", "lenet1", "--epochs", 1, "--out", run, "--train-limit", 256,
                    "--test-limit", 64)
    assert result.exit_code == 0, result.output
    config = json.loads((run / "config.json").read_text())
    # lenet1's row of benchmarks/accuracy.py
    assert (config["optimizer"], config["learning_rate"], config["lr_decay"], config["batch_size"],
            config["weight_decay"]) == ("adam", 2e-3, 0.85, 32, 0.0)
    (entry,) = json.loads((run / "metrics.json").read_text())
    assert entry["train_error_kind"].startswith("running") and entry["epoch_seconds"] >= entry["seconds"]
    assert "train error (running)" in result.stdout


def test_tensorflow_log_lines_are_silenced(tmp_path):
    """A command that loads TensorFlow and fails prints its one error line and nothing else."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "LENET_EDGE_TF_LOGS")}
    done = subprocess.run([sys.executable, "-m", "lenet_edge.cli", "evaluate", str(tmp_path / "missing")],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [done.stderr.strip()] and done.stderr.startswith("error: "), done.stderr
