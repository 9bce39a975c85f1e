"""The recognizer that knows what is not a digit: the reader's labelled cuts (read/candidates.py)
and the lattice's scoring of an 11-output network (read/score.py)."""
import numpy as np
import pytest

from lenet_edge.data.mnist import load_mnist
from lenet_edge.read import candidates
from lenet_edge.read.candidates import NOT_A_DIGIT, SKIPPED, overlap_labels
from lenet_edge.read import lattice
from lenet_edge.read.lattice import best_path
from lenet_edge.read.normalize import normalize
from lenet_edge.read.reader import cut_candidates
from lenet_edge.read.score import FLOOR, network_scores
from lenet_edge.read.segment import Box, components
from lenet_edge.read.strings import StringStyle, draw, resample

APART = StringStyle(touching=0.0)


@pytest.fixture(scope="module")
def mnist_train():
    return load_mnist("train")


def test_overlap_labels_name_whole_digits_and_refuse_pieces():
    # Two 10x10 digits, "3" at columns 0-9 and "7" at 12-21, every pixel ink.
    ys, xs = np.nonzero(np.ones((10, 22), bool))
    inside_gap = (xs >= 10) & (xs < 12)
    ys, xs = ys[~inside_gap], xs[~inside_gap]
    boxes = [Box(0, 0, 10, 10), Box(0, 12, 10, 22)]
    pick = {
        "the 3": xs < 10,
        "the 7": xs >= 12,
        "the 3's left half": xs < 5,  # half of the 3 and nothing else: a thin digit? left out
        "a third of the 3": xs < 3,
        "the 3's right half and a column of the 7": (xs >= 5) & (xs < 13),
        "both": np.ones_like(xs, bool),
        "the 3 with two columns of the 7": xs < 14,  # 100 of its 120 pixels in the 3's box: unsure
        "the 7 missing a column": xs >= 13,  # 90% of the 7: still the 7
    }
    chosen = np.stack(list(pick.values()))
    assert overlap_labels(ys, xs, chosen, boxes, "37").tolist() == [
        3, 7, SKIPPED, NOT_A_DIGIT, NOT_A_DIGIT, NOT_A_DIGIT, SKIPPED, 7]


def test_a_string_apart_gives_each_digit_once_and_its_pieces_as_non_digits(mnist_train):
    drawn = draw(*mnist_train, length=5, seed=2, style=APART)
    images, labels = candidates.string_candidates(drawn)
    assert images.shape == (len(labels), 28, 28) and images.dtype == np.uint8
    digits = labels[labels != NOT_A_DIGIT]
    assert sorted(digits.tolist()) == sorted(int(c) for c in drawn.text)
    assert (labels == NOT_A_DIGIT).sum() >= 4  # at least the runs of two neighbours


def test_draw_boxes_hold_each_digits_ink(mnist_train):
    drawn = draw(*mnist_train, length=4, seed=5)
    ink = drawn.gray < 0.9
    covered = np.zeros_like(ink)
    for box in drawn.boxes:
        covered[box.top:box.bottom, box.left:box.right] = True
    assert len(drawn.boxes) == 4 and not (ink & ~covered).any()
    assert [b.left for b in drawn.boxes] == sorted(b.left for b in drawn.boxes)


def test_a_digit_as_read_is_the_readers_own_cut_of_it_in_a_string(mnist_train):
    images = mnist_train[0][:40]
    drawn = candidates.as_read(images, seed=3)
    assert drawn.shape == (40, 28, 28) and drawn.dtype == np.uint8
    assert np.array_equal(drawn, candidates.as_read(images, seed=3))
    assert not np.array_equal(drawn, candidates.as_read(images, seed=4))
    # a digit standing alone in a string, read by the reader: its one candidate, normalized as
    # `read` normalizes it, is the digit drawn with the same scale and slant
    style = StringStyle(scale=(1.1, 1.1), slant=0.2)
    for image in images[:5]:
        rng = np.random.default_rng(0)
        scale, slant = rng.uniform(1.1, 1.1), rng.uniform(-0.2, 0.2)  # draw()'s order
        digit = resample(image.astype(np.float32) / 255.0, scale, slant)
        gray = 1.0 - np.pad(digit, style.margin)
        ink, found, height = components(gray)
        graph = lattice.build(found, height)
        _, inks = cut_candidates(ink, graph)
        whole = max(inks, key=lambda i: int((i > 0).sum()))
        assert np.array_equal(candidates.drawn_digit(image, np.random.default_rng(0), style), normalize(whole))


def test_half_the_scanned_digits_and_strings_go_through_one_scan(mnist_train):
    gray = 1.0 - np.pad(mnist_train[0][0].astype(np.float32) / 255.0, 8)
    rng = np.random.default_rng(0)
    seen = [candidates.scanned(gray, rng, candidates.DIGIT_SCANS) for _ in range(200)]
    plain = sum(s is gray for s in seen)
    assert 80 <= plain <= 120  # half, within 3 standard deviations of 200 coin flips
    zoomed = [s for s in seen if s.shape != gray.shape]  # thin: drawn larger, strokes eroded
    assert zoomed and all(2.5 <= s.shape[0] / gray.shape[0] <= 4.05 for s in zoomed)
    ink = (1.0 - gray).sum()
    bold = candidates._bold(gray, np.random.default_rng(1))
    assert (1.0 - bold).sum() > 1.3 * ink and bold.shape == gray.shape
    noisy = candidates._noise(gray, np.random.default_rng(1))
    assert 0.0 <= noisy.min() and noisy.max() <= 1.0 and not np.array_equal(noisy, gray)
    # a scanned string keeps its size, so the generator's boxes still label its cuts
    assert all(f(gray, np.random.default_rng(2)).shape == gray.shape for f in candidates.STRING_SCANS)
    drawn = candidates.as_read(mnist_train[0][:20], seed=0, scans=True)
    assert drawn.shape == (20, 28, 28) and np.array_equal(drawn, candidates.as_read(mnist_train[0][:20], 0, True))


def test_the_drawn_digits_are_cached(mnist_train, tmp_path):
    images = mnist_train[0][:30]
    first = candidates.cached_as_read(tmp_path / "drawn.npz", images, seed=1)
    assert np.array_equal(first, candidates.as_read(images, seed=1))
    assert np.array_equal(candidates.cached_as_read(tmp_path / "drawn.npz", images, seed=1), first)
    assert not np.array_equal(candidates.cached_as_read(tmp_path / "drawn.npz", images, seed=2), first)


def test_the_candidate_set_is_deterministic_and_cached(mnist_train, tmp_path):
    images, labels = mnist_train[0][:2000], mnist_train[1][:2000]
    first = candidates.cached(tmp_path / "cuts.npz", images, labels, strings=3, seed=1)
    again = candidates.cached(tmp_path / "cuts.npz", images, labels, strings=3, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert all(np.array_equal(a, b) for a, b in zip(first, candidates.build(images, labels, 3, 1)))
    other = candidates.cached(tmp_path / "cuts.npz", images, labels, strings=3, seed=2)
    assert len(other[1]) != len(first[1]) or not np.array_equal(other[0], first[0])


def _probabilities(best: int, p: float, none: float = 0.0, classes: int = 11) -> np.ndarray:
    row = np.full(classes, (1.0 - p - none) / (classes - 1 - (none > 0)))
    row[best] = p
    if none:
        row[10] = none
    return row


def test_a_candidate_the_network_calls_not_a_digit_loses_its_path():
    # Nodes 0-1-2: two pieces each read as a digit at 0.6, or their union at 0.99 -- with an
    # 11-output network, the union's probability of "not a digit" is 0.9.
    edges = [(0, 1), (1, 2), (0, 2)]
    ten = np.stack([_probabilities(1, 0.6, classes=10), _probabilities(4, 0.6, classes=10),
                    _probabilities(8, 0.99, classes=10)])
    assert best_path(network_scores(ten), edges, 3) == [2]  # the 10-output net trusts the union
    eleven = np.stack([_probabilities(1, 0.6), _probabilities(4, 0.6), _probabilities(8, 0.09, none=0.9)])
    assert best_path(network_scores(eleven), edges, 3) == [0, 1]


def test_not_a_digit_is_never_read_as_a_class():
    p = np.array([_probabilities(3, 0.001, none=0.99)])
    assert network_scores(p)[0] == pytest.approx(np.log(FLOOR))


def test_the_reader_trains_from_a_lenet5_run_on_its_own_cuts(tmp_path):
    import lenet_edge  # noqa: F401  (selects Keras 2 before TensorFlow loads)
    from lenet_edge import run as runs
    from lenet_edge.errors import UsageError
    from lenet_edge.models import registry
    from lenet_edge.train.loop import CANDIDATES, _fresh_model, train

    source = tmp_path / "lenet5"
    source.mkdir()
    runs.save_model(registry.build("lenet5", seed=7), source / runs.MODEL)
    config = runs.RunConfig("lenet5-reader", epochs=1, train_limit=300, test_limit=64,
                            candidate_strings=3, source=str(source))
    started = _fresh_model(config)
    lenet5 = runs.load_model(source)
    for name in ("C1", "S2", "C3", "S4", "C5", "F6"):
        assert all(np.array_equal(a, b) for a, b in zip(started.get_layer(name).get_weights(),
                                                         lenet5.get_layer(name).get_weights()))
    train(tmp_path / "reader", config, progress=False)
    cuts = np.load(tmp_path / "reader" / CANDIDATES)
    images, labels = load_mnist("train")
    assert np.array_equal(cuts["labels"], candidates.build(images[:300], labels[:300], 3, 0)[1])
    other = tmp_path / "lenet1"
    other.mkdir()
    runs.save_model(registry.build("lenet1"), other / runs.MODEL)
    with pytest.raises(UsageError, match="has no layer C1 of this shape"):
        _fresh_model(runs.RunConfig("lenet5-reader", epochs=1, source=str(other)))
