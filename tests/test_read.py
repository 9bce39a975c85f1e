"""Reading digit strings: normalization, segmentation (cuts, the lattice), polarity, a trained
model reading generated strings, --digits, the rejection curve, and bad images."""
import lenet_edge  # noqa: F401  (first: selects Keras 2 before TensorFlow loads)

import dataclasses
import json

import numpy as np
import pytest
from PIL import Image

from firmware_sim.emulator.digit_files import load_raw_digits
from firmware_sim.emulator.integer_normalize import MAX_SIDE, normalize_digit
from lenet_edge.board.raw_digits import raw_digit_of
from lenet_edge.data.mnist import load_mnist
from lenet_edge.read import lattice
from lenet_edge.read import normalize as norm
from lenet_edge.read import segment as seg
from lenet_edge.read import string_sets
from lenet_edge.read.cuts import candidate_cuts
from lenet_edge.read.reader import keras_classifier, read_gray
from lenet_edge.read.rejection import margin, rejection_curve, rejection_for_error, rejection_needed
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


def touching_pair(mnist, first, second, overlap):
    """Two MNIST digits side by side, the second's ink box starting `overlap` columns before the
    first's ends (as the string generator's touching pairs), and where its 28x28 field starts."""
    images, labels = mnist
    a, b = (images[labels == d][0].astype(np.float32) / 255 for d in (first, second))
    a_right = np.nonzero(a.any(axis=0))[0][-1] + 1
    start = a_right - overlap - np.nonzero(b.any(axis=0))[0][0]
    pair = np.zeros((28, start + 28), dtype=np.float32)
    pair[:, :28] = a
    pair[:, start:] = np.maximum(pair[:, start:], b)
    return pair, a > 0.5, b > 0.5, start


@pytest.mark.parametrize("digits", [(0, 0), (3, 6), (4, 7), (2, 1)])
def test_touching_pair_has_a_cut_between_the_digits(mnist, digits):
    pair, a, b, start = touching_pair(mnist, *digits, overlap=2)
    _, found, height = seg.components(1.0 - pair)
    assert len(found) == 1, "the two digits should touch"
    component = found[0]
    ys, xs = np.nonzero(component.mask)
    ys, xs = ys + component.box.top, xs + component.box.left
    in_a = a[ys, np.minimum(xs, 27)] & (xs < 28)
    in_b = b[ys, np.clip(xs - start, 0, 27)] & (xs >= start)
    first, second = in_a & ~in_b, in_b & ~in_a  # where strokes cross, either side is right
    best = 0.0
    for cut in candidate_cuts(component.mask, height):
        left = xs - component.box.left < cut[ys - component.box.top]
        best = max(best, min((left & first).sum() / first.sum(), (~left & second).sum() / second.sum()))
    # Strokes where the digits overlap belong to both; the rest must fall on the right side.
    assert best > 0.85  # strokes near where the two cross go to one side or the other


def test_best_path_with_and_without_a_count():
    # Nodes 0-3; one wide candidate 0->2 against two narrow ones 0->1, 1->2.
    edges = [(0, 1), (1, 2), (0, 2), (2, 3)]
    scores = np.array([-0.1, -0.1, -0.5, 0.0])
    assert lattice.best_path(scores, edges, 4) == [0, 1, 3]
    assert lattice.best_path(scores, edges, 4, count=2) == [2, 3]
    with pytest.raises(seg.ReadError, match="4 digits"):
        lattice.best_path(scores, edges, 4, count=4)


def test_every_edge_at_once_is_each_edge_alone(mnist):
    gray, _ = generate(*mnist, length=5, seed=2, style=StringStyle(touching=1.0))
    _, found, height = seg.components(gray)
    graph = lattice.build(found, height)
    assert np.array_equal(graph.all_pixels(), np.stack([graph.pixels(edge) for edge in graph.edges]))
    parts = graph.parts()
    assert parts.tolist() == [len(np.unique(graph.part[graph.pixels(edge)])) for edge in graph.edges]
    assert parts.min() == 1 and parts.max() >= 2  # pieces of one component, and runs of several


def sure_of_anything(digits):
    """A classifier as sure of every candidate as a saturated int8 net: only the prior decides."""
    probabilities = np.full((len(digits), 10), 0.001)
    probabilities[:, 7] = 0.991
    return probabilities


def test_digits_fixes_the_count(mnist):
    gray, _ = generate(*mnist, length=5, seed=4)
    # The prior alone keeps five separate digits whole, however sure the network is of halves.
    assert len(read_gray(gray, sure_of_anything).digits) == 5
    for count in (5, 6, 8):
        assert len(read_gray(gray, sure_of_anything, digits=count).digits) == count


def test_lattice_reads_touching_strings(mnist, classify):
    touching = StringStyle(touching=1.0)  # every neighbouring pair touches or overlaps
    for seed in range(3):
        gray, text = generate(*mnist, length=4, seed=seed, style=touching)
        reading = read_gray(gray, classify, reject_threshold=0.0, digits=4)
        boxes = [d.box for d in reading.digits]
        assert all(a.left < b.left for a, b in zip(boxes, boxes[1:])), seed


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
    six = json.loads(invoke("read", path, "--model", run_dir, "--digits", 6, "--json").stdout)
    assert len(six["text"]) == 6


def test_read_writes_the_digits_it_cut_out_for_the_board(mnist, run_dir, tmp_path):
    gray, _ = generate(*mnist, length=5, seed=1, style=APART)
    path, cut_out = save(tmp_path, gray), tmp_path / "cut.npz"
    result = invoke("read", path, "--model", run_dir, "--json", "--raw-digits", cut_out)
    boxes = [d["box"] for d in json.loads(result.stdout)["digits"]]
    digits = load_raw_digits(cut_out)
    assert len(digits) == 5
    for digit, box in zip(digits, boxes):
        # cropped to the ink the threshold found, give or take the anti-aliased rim
        height, width = digit.bitmap.shape
        box_height, box_width = box["bottom"] - box["top"], box["right"] - box["left"]
        assert box_height <= height <= box_height + 2 and box_width <= width <= box_width + 2
        assert normalize_digit(digit).max() == 255  # the board's normalization takes it
    assert_one_error_line(invoke("read", path, "--model", run_dir, "--raw-digits", tmp_path / "x.txt"),
                          ".npz")


def test_raw_digit_of_a_large_ink_fits_the_board():
    ink = np.zeros((150, 90), np.float32)
    ink[10:140, 20:70] = 0.8
    digit = raw_digit_of(ink)
    assert digit.bitmap.shape == (MAX_SIDE, 25) and digit.bitmap.max() == 204


def test_rejection_curve(run_dir):
    result = evaluate(run_dir, limit=2000)
    curve = rejection_curve(result.outputs, result.labels)
    assert curve[0].rejection == 0.0 and curve[0].error == pytest.approx(result.error)
    errors = [point.error for point in curve]
    assert all(a >= b for a, b in zip(errors, errors[1:]))
    assert 0.0 < rejection_for_error(result.outputs, result.labels, 0.01) < 1.0
    assert rejection_for_error(result.outputs, result.labels, 1.0) == 0.0


def test_rejection_ranks_ties_by_a_given_confidence():
    # three digits tied at the top probability, the first one wrong
    probabilities = np.array([[0.1, 0.9]] * 3)
    labels = np.array([0, 1, 1])
    logits = np.array([[1.0, 1.5], [0.0, 2.0], [3.0, 0.5]])
    assert np.array_equal(margin(logits), [0.5, 2.0, 2.5])
    assert rejection_curve(probabilities, labels, (1 / 3,))[0].error == 0.5  # test-set order
    assert rejection_curve(probabilities, labels, (1 / 3,), margin(logits))[0].error == 0.0
    assert rejection_for_error(probabilities, labels, 0.0, margin(logits)) == pytest.approx(1 / 3)


def test_rejection_needed_for_whole_strings():
    wrong = np.array([True, False, False, True, False])
    confidence = np.array([0.1, 0.9, 0.8, 0.5, 0.7])  # both wrong strings are the least sure
    assert rejection_needed(wrong, confidence, 0.0) == pytest.approx(0.4)
    assert rejection_needed(wrong, confidence, 0.25) == pytest.approx(0.2)  # 1 wrong among 4
    assert rejection_needed(np.array([True]), np.array([1.0]), 0.0) == 1.0


def test_evaluate_reject(run_dir):
    result = invoke("evaluate", run_dir, "--limit", 500, "--reject", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["rejection"][0]["error"] == pytest.approx(report["error"])
    assert set(report["rejection_for_error"]) == {"0.01", "0.005", "0.001"}


def test_bad_images(mnist, run_dir, tmp_path):
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
    one = save(tmp_path, generate(*mnist, length=1, seed=0)[0], "one.png")
    assert_one_error_line(invoke("read", one, "--model", run_dir, "--digits", 0), "--digits")
    assert_one_error_line(invoke("read", one, "--model", run_dir, "--digits", 15), "cannot split", "15 digits")
    assert_one_error_line(invoke("read", one, "--model", run_dir, "--digits", 21), "--digits", "20")
    long = save(tmp_path, generate(*mnist, length=25, seed=0, style=APART)[0], "long.png")
    assert_one_error_line(invoke("read", long, "--model", run_dir), "more than 20 digits")


def test_more_than_twenty_digits_are_refused(mnist):
    gray, _ = generate(*mnist, length=21, seed=2, style=APART)
    with pytest.raises(seg.ReadError, match="more than 20 digits: the image reads as 21"):
        read_gray(gray, sure_of_anything)
    twenty, _ = generate(*mnist, length=20, seed=2, style=APART)
    assert len(read_gray(twenty, sure_of_anything).digits) == 20


def not_a_digit_for_wide_marks(digits):
    """An 11-output recognizer: a digit unless the candidate is flat (a dash)."""
    probabilities = np.full((len(digits), 11), 0.001)
    wide = (digits > 0).any(axis=2).sum(axis=1) <= 8
    probabilities[~wide, 7], probabilities[wide, 10] = 0.99, 0.99
    return probabilities


def test_a_recognizer_saying_not_a_digit_refuses_the_string(mnist):
    gray, _ = generate(*mnist, length=3, seed=6, style=APART)
    assert read_gray(gray, not_a_digit_for_wide_marks).text == "777"  # 11 outputs, all digits
    dash = np.ones((40, 60))
    dash[20:24, 12:40] = 0.0
    with pytest.raises(seg.ReadError, match=r"not a digit string: the recognizer says the mark at x=12, y=20 \(1 of 1\)"):
        read_gray(dash, not_a_digit_for_wide_marks)


def test_whole_string_reject_by_the_weakest_margin(mnist, run_dir, tmp_path):
    gray, _ = generate(*mnist, length=5, seed=1, style=APART)
    path = save(tmp_path, gray)
    reading = json.loads(invoke("read", path, "--model", run_dir, "--json").stdout)
    weakest = min(d["margin"] for d in reading["digits"])
    assert reading["weakest_margin"] == weakest and not reading["rejected"]
    above = json.loads(invoke("read", path, "--model", run_dir, "--json", "--reject-string", weakest + 1e-6).stdout)
    assert above["rejected"] and above["text"] == reading["text"]  # rejected, still read
    assert not json.loads(invoke("read", path, "--model", run_dir, "--json", "--reject-string", weakest).stdout)["rejected"]
    told = invoke("read", path, "--model", run_dir, "--reject-string", 1.0, "--digits", 5)
    assert told.exit_code == 0 and told.stdout.splitlines()[1].startswith("rejected: the weakest digit's margin")
    assert_one_error_line(invoke("read", path, "--model", run_dir, "--reject-string", 1.5), "--reject-string")


def test_uneven_light_noise_and_size_segment_as_clean(mnist):
    rng = np.random.default_rng(0)
    for seed in range(3):
        gray, _ = generate(*mnist, length=5, seed=seed, style=APART)
        _, clean, _ = seg.components(gray)
        for varied in (string_sets.uneven(gray, rng), string_sets.noise(gray, rng)):
            _, found, _ = seg.components(np.clip(varied, 0, 1))
            # the same digits, give or take the anti-aliased rim a threshold keeps or cuts
            sides = np.array([[dataclasses.astuple(c.box) for c in cs] for cs in (found, clean)])
            assert len(found) == len(clean) and np.abs(sides[0] - sides[1]).max() <= 2, seed


def test_large_digits_are_read_shrunk_and_boxed_in_the_image(mnist):
    gray, _ = generate(*mnist, length=5, seed=0, style=APART)
    large = np.clip(string_sets.height(160)(gray, None), 0, 1)
    _, found, height = seg.components(large)
    assert seg.reading_scale(height) == pytest.approx(32 / height)
    boxes = [d.box for d in read_gray(large, sure_of_anything).digits]
    small = [d.box for d in read_gray(gray, sure_of_anything).digits]
    assert [b.left for b in boxes] == pytest.approx([8 * b.left for b in small], abs=12)
    # within 3 pixels of the small string (24 of the large): one pixel of the shrunk image is 5
    assert [b.height for b in boxes] == pytest.approx([8 * b.height for b in small], abs=24)


def test_blank_paper_under_uneven_light_has_no_digit():
    paper = string_sets.uneven(np.ones((40, 120)), np.random.default_rng(0))
    with pytest.raises(seg.ReadError, match="no digit found"):
        seg.ink_image(paper)


def test_a_fine_pen_is_grown_toward_mnist_stroke(mnist):
    gray, _ = generate(*mnist, length=5, seed=0, style=APART)
    ink, _ = seg.ink_image(gray)
    assert np.array_equal(seg.components(gray)[0], ink)  # MNIST's own stroke is left alone
    fine = string_sets.thin(gray, None)
    _, mask = seg.ink_image(fine)
    grown, _, height = seg.components(fine)
    assert seg.stroke(mask) / height < seg.THIN
    assert seg.THIN <= seg.stroke(grown > seg.otsu_threshold(grown)) / height <= 1.5 * seg.STROKE
