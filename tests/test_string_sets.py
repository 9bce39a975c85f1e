"""The reader's test sets: deterministic, USPS digits at MNIST's size, and each variation doing
what it says (height, stroke, slant, light, polarity)."""
import numpy as np
import pytest
from scipy import ndimage

from lenet_edge.data.mnist import load_mnist
from lenet_edge.data.usps import load_usps, mnist_like
from lenet_edge.read import segment as seg
from lenet_edge.read.string_sets import RENDERED_DIGITS, STRING_SETS, VARIATIONS, rendered_digits, string_set
from lenet_edge.read.strings import fonts, render, render_digit


@pytest.fixture(scope="module")
def digits_of():
    images, labels = load_usps("test")
    rendered = render(300, seed=0)
    return {"mnist": load_mnist("test"), "usps": (mnist_like(images[:300]), labels[:300]), "rendered": rendered}


def stroke_width(ink):
    """Mean stroke width in pixels: twice the ink's area over its border's length."""
    mask = ink > 0.5
    return 2.0 * mask.sum() / (mask & ~ndimage.binary_erosion(mask)).sum()


def ink_rows(gray):
    ink, _ = seg.ink_image(gray)
    rows = np.nonzero(ink.max(axis=1) > 0.5)[0]
    return rows[-1] - rows[0] + 1


@pytest.mark.parametrize("string_set", STRING_SETS, ids=lambda s: s.name)
def test_each_set_is_a_function_of_its_seed(digits_of, string_set):
    gray, text = string_set.string(*digits_of[string_set.source], 7)
    again, same = string_set.string(*digits_of[string_set.source], 7)
    other, _ = string_set.string(*digits_of[string_set.source], 8)
    assert np.array_equal(gray, again) and text == same and len(text) == 5 and text.isdigit()
    assert gray.dtype == np.float32 and 0.0 <= gray.min() and gray.max() <= 1.0
    assert gray.shape != other.shape or not np.array_equal(gray, other)


def test_usps_digits_fill_mnist_box(digits_of):
    images, labels = digits_of["usps"]
    assert images.shape == (300, 28, 28) and images.dtype == np.uint8
    assert not images[:, :4].any() and not images[:, 24:].any()  # the 20x20 box inside 28x28
    assert images.max() == 255
    # the string's digits are the USPS test digits of the seed's picks
    gray, text = string_set("usps").string(images, labels, 0)
    picks = np.random.default_rng(0).integers(0, len(labels), size=5)
    assert text == "".join(str(labels[i]) for i in picks)


def test_heights_and_polarity(digits_of):
    mnist = digits_of["mnist"]
    plain, _ = string_set("mnist").string(*mnist, 3)
    for name, factor in (("height 16", 16 / 20), ("height 160", 160 / 20)):
        varied, _ = string_set(name).string(*mnist, 3)
        assert ink_rows(varied) == pytest.approx(factor * ink_rows(plain), rel=0.1), name
    dark, _ = string_set("light on dark").string(*mnist, 3)
    assert np.array_equal(dark, 1.0 - plain)
    assert seg.dark_ink(plain) and not seg.dark_ink(dark)


def test_strokes_thin_to_bold(digits_of):
    mnist = digits_of["mnist"]
    widths = {}
    for name in ("thin stroke", "mnist", "bold stroke"):
        gray, _ = string_set(name).string(*mnist, 5)
        widths[name] = stroke_width(1.0 - gray) / ink_rows(gray)  # x the digits' height
    assert widths["thin stroke"] < 0.6 * widths["mnist"] and widths["bold stroke"] > 1.3 * widths["mnist"]


def test_uneven_light_darkens_the_paper_to_45_percent(digits_of):
    gray, _ = string_set("uneven light").string(*digits_of["mnist"], 2)
    corners = gray[[0, 0, -1, -1], [0, -1, 0, -1]]  # paper, and the ramp's ends lie on corners
    assert corners.min() == pytest.approx(0.45, abs=0.01) and corners.max() == pytest.approx(1.0, abs=0.01)


def test_rendered_digits_are_mnist_like_in_every_typeface(digits_of):
    images, labels = digits_of["rendered"]
    assert images.shape == (300, 28, 28) and images.dtype == np.uint8 and labels.dtype == np.int64
    assert np.array_equal(images, render(300, seed=0)[0]) and not np.array_equal(labels, render(300, seed=1)[1])
    assert np.array_equal(images[:50], rendered_digits()[0][:50]) and RENDERED_DIGITS >= 300
    assert sorted(set(labels.tolist())) == list(range(10))
    assert images.max() == 255
    for font in fonts():  # each face's 8: its longer side fit to 20 pixels, centred by mass
        eight = render_digit(8, font)
        rows, cols = np.nonzero(eight.any(axis=1))[0], np.nonzero(eight.any(axis=0))[0]
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 in (20, 21), font.name  # 21: the filter's rim
        assert np.abs(np.array(ndimage.center_of_mass(eight.astype(np.float64))) - 14.0).max() <= 0.5, font.name
    # a 1 and an 8 of the same face differ, and so do two faces' 8s
    sans, serif = fonts()[0], fonts()[-1]
    assert not np.array_equal(render_digit(1, sans), render_digit(8, sans))
    assert not np.array_equal(render_digit(8, sans), render_digit(8, serif))


def test_every_variation_is_measured_on_mnist_and_on_rendered_strings():
    names = [s.name for s in STRING_SETS]
    assert len(names) == len(set(names)) == 2 + 2 * (1 + len(VARIATIONS)) - 1
    for name, _, _ in VARIATIONS:
        assert string_set(name).source == "mnist" and string_set(f"rendered {name}").source == "rendered"
        assert string_set(name).vary is string_set(f"rendered {name}").vary


def test_rendering_without_a_typeface_says_which_packages_to_install(tmp_path, monkeypatch):
    from lenet_edge.errors import DataError
    from lenet_edge.read import strings

    monkeypatch.setattr(strings, "FONT_DIRS", (tmp_path / "none",))
    strings.fonts.cache_clear()
    try:
        with pytest.raises(DataError, match="install fonts-dejavu-core or fonts-liberation"):
            render(3, seed=0)
    finally:
        strings.fonts.cache_clear()  # the other tests' fonts again
