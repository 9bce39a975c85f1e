"""Reading digit strings: normalization, segmentation, polarity, a trained model reading
generated strings, the rejection curve, and bad images."""
import lenet_edge  # noqa: F401  (first: selects Keras 2 before TensorFlow loads)

import json

import numpy as np
import pytest
from PIL import Image

from lenet_edge.data.mnist import load_mnist
from lenet_edge.read import normalize as norm
from lenet_edge.read import segment as seg
from lenet_edge.read.reader import keras_classifier, read_gray
from lenet_edge.read.rejection import rejection_curve, rejection_for_error
from lenet_edge.read.strings import StringStyle, generate
from lenet_edge.run import RunConfig
from lenet_edge.train.evaluate import evaluate
from lenet_edge.train.loop import train
from tests.cli_support import assert_one_error_line, invoke

APART = StringStyle(touching=0.0)  # every pair separated, so components = digits


@pytest.fixture(scope="module")
def mnist():
    return load_mnist("test")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs") / "lenet1"
    train(folder, RunConfig("lenet1", epochs=1, train_limit=6000, test_limit=256), progress=False)
    return folder


@pytest.fixture(scope="module")
def classify(run_dir):
    return keras_classifier(run_dir)


def save(tmp_path, gray, name="digits.png"):
    path = tmp_path / name
    Image.fromarray(np.round(255 * gray).astype(np.uint8)).save(path)
    return path


@pytest.mark.parametrize("shape", [(60, 15), (12, 50), (200, 180)])
def test_normalize_centres_mass_and_fits_box(shape):
    rng = np.random.default_rng(0)
    ink = np.zeros(shape, dtype=np.float32)
    ink[shape[0] // 4:, : shape[1] // 2 + 1] = rng.uniform(0.5, 1.0, (shape[0] - shape[0] // 4, shape[1] // 2 + 1))
    digit = norm.normalize(ink)
    assert digit.dtype == np.uint8 and digit.shape == (28, 28) and digit.max() == 255
    cy, cx = norm.centre_of_mass(digit.astype(np.float64))
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5
    rows, cols = np.nonzero(digit.any(axis=1))[0], np.nonzero(digit.any(axis=0))[0]
    assert rows[-1] - rows[0] + 1 <= 20 and cols[-1] - cols[0] + 1 <= 20


def test_normalize_reproduces_mnist(mnist):
    images = mnist[0][:50]
    again = np.stack([norm.normalize(image.astype(np.float32) / 255) for image in images])
    assert np.abs(again.astype(int) - images).mean() < 1.0


def test_deskew_straightens_a_slanted_bar():
    ink = np.zeros((40, 40), dtype=np.float32)
    for y in range(40):
        ink[y, 10 + y // 2:13 + y // 2] = 1.0
    straight = norm.deskew(ink)
    assert straight.shape[1] < 10


def test_segmentation_finds_each_digit(mnist):
    for seed in range(5):
        gray, text = generate(*mnist, length=6, seed=seed, style=APART)
        _, found, _ = seg.components(gray)
        assert len(found) == 6, seed


def test_touching_pair_is_split(mnist):
    images, labels = mnist
    zeros = images[labels == 0][:2].astype(np.float32) / 255
    pair = np.zeros((28, 44), dtype=np.float32)
    pair[:, :28] = zeros[0]
    pair[:, 13:41] = np.maximum(pair[:, 13:41], zeros[1])
    _, found, _ = seg.components(1.0 - pair)
    assert len(found) == 1, "the two zeros should touch"
    _, digits = seg.segment(1.0 - pair)
    assert len(digits) == 2


def test_polarity_does_not_change_the_reading(mnist, classify):
    gray, _ = generate(*mnist, length=5, seed=3)
    assert read_gray(gray, classify).text == read_gray(1.0 - gray, classify).text


def test_trained_model_reads_generated_strings(mnist, classify):
    right = total = 0
    for seed in range(20):
        gray, text = generate(*mnist, length=5, seed=seed, style=APART)
        reading = read_gray(gray, classify, reject_threshold=0.0)
        # A digit counts as right only when the whole string was segmented into five.
        right += sum(a == b for a, b in zip(reading.text, text)) if len(reading.text) == 5 else 0
        total += 5
    print(f"{right} of {total} digits read right")
    assert right / total > 0.6


def test_read_command(mnist, run_dir, tmp_path):
    gray, text = generate(*mnist, length=5, seed=1, style=APART)
    path = save(tmp_path, gray)
    result = invoke("read", path, "--model", run_dir, "--json")
    assert result.exit_code == 0, result.output
    reading = json.loads(result.stdout)
    assert len(reading["digits"]) == 5 and len(reading["text"]) == 5
    assert invoke("read", path, "--model", run_dir, "--reject", 1.0).stdout.splitlines()[0] == "?????"


def test_rejection_curve(run_dir):
    result = evaluate(run_dir, limit=2000)
    curve = rejection_curve(result.outputs, result.labels)
    assert curve[0].rejection == 0.0 and curve[0].error == pytest.approx(result.error)
    errors = [point.error for point in curve]
    assert all(a >= b for a, b in zip(errors, errors[1:]))
    assert 0.0 < rejection_for_error(result.outputs, result.labels, 0.01) < 1.0
    assert rejection_for_error(result.outputs, result.labels, 1.0) == 0.0


def test_evaluate_reject(run_dir):
    result = invoke("evaluate", run_dir, "--limit", 500, "--reject", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["rejection"][0]["error"] == pytest.approx(report["error"])
    assert set(report["rejection_for_error"]) == {"0.01", "0.005", "0.001"}


def test_bad_images(run_dir, tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    blank = save(tmp_path, np.full((40, 80), 0.9), "blank.png")
    tiny = save(tmp_path, np.ones((4, 4)), "tiny.png")
    huge = tmp_path / "huge.png"
    Image.new("L", (9000, 10), 255).save(huge)
    for path, fragment in ((text, "cannot read"), (empty, "cannot read"), (blank, "no digit"),
                           (tiny, "4x4"), (huge, "9000x10"), (tmp_path / "missing.png", "missing.png")):
        assert_one_error_line(invoke("read", path, "--model", run_dir), str(fragment))
    assert_one_error_line(invoke("read", blank, "--model", run_dir, "--reject", 2), "--reject")
