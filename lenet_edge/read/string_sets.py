"""The reader's test sets, each a deterministic function of a seed: strings of MNIST test
digits, of USPS test digits (the seed's zip-code digits), of digits rendered in the system's
typefaces (strings.render), and the MNIST and rendered strings with one of the variations a real
scan brings (the issue's list), so that each is measured apart.

Nothing here is tuned: the variations' sizes are fixed by the issue's ranges (16 to 160 px,
+-15 degrees) or chosen once to be clearly visible, before any reading.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np
from scipy import ndimage

from lenet_edge.read.strings import StringStyle, generate, render

LENGTH = 5
MNIST_HEIGHT = 20  # MNIST's digits fill a 20-pixel box: the generator's digits are about this high
SLANT = np.tan(np.deg2rad(15.0))
STRAIGHT = StringStyle(slant=0.0)  # the slant variation sets its own

# gray (1 = white) and a generator -> the varied gray
Variation = Callable[[np.ndarray, np.random.Generator], np.ndarray]


@dataclasses.dataclass(frozen=True)
class StringSet:
    name: str
    source: str  # "mnist", "usps" or "rendered": whose digits (SOURCES)
    vary: Variation | None = None
    style: StringStyle = StringStyle()

    def string(self, images: np.ndarray, labels: np.ndarray, seed: int) -> tuple[np.ndarray, str]:
        """(float32 gray image, 1 = white unless the variation inverts it; the true string)."""
        gray, text = generate(images, labels, LENGTH, seed, self.style)
        if self.vary is not None:
            gray = self.vary(gray, np.random.default_rng([seed, 1]))
        return np.clip(gray, 0.0, 1.0).astype(np.float32), text


def _zoom(gray: np.ndarray, factor: float) -> np.ndarray:
    return 1.0 - np.clip(ndimage.zoom(1.0 - gray, factor, order=1), 0.0, 1.0)


def height(pixels: int) -> Variation:
    """Digits `pixels` high instead of MNIST's 20."""
    return lambda gray, rng: _zoom(gray, pixels / MNIST_HEIGHT)


def thin(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Three times MNIST's size with the strokes eroded by a 7x7 square: about half MNIST's
    stroke for the digit's height (0.08 of it against 0.16, as twice the ink area over its border), a fine pen."""
    return 1.0 - ndimage.grey_erosion(1.0 - _zoom(gray, 3.0), size=(7, 7))


def bold(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Strokes grown by a pixel on each side at MNIST's size: a felt marker."""
    return 1.0 - ndimage.grey_dilation(1.0 - gray, footprint=np.ones((3, 3), bool))


def slant(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The whole string sheared by 15 degrees, forward or back."""
    shear = SLANT * rng.choice((-1.0, 1.0))
    pad = int(np.ceil(SLANT * gray.shape[0] / 2)) + 1
    ink = np.pad(1.0 - gray, ((0, 0), (pad, pad)))
    centre = ink.shape[0] / 2
    # output (y, x) samples input (y, x + shear (y - centre)): the top leans right when shear < 0
    sheared = ndimage.affine_transform(ink, [[1.0, 0.0], [shear, 1.0]], offset=(0.0, -shear * centre), order=1)
    return 1.0 - sheared


def blur(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An out-of-focus scan: a Gaussian of 1 px (a twentieth of the digit's height)."""
    return ndimage.gaussian_filter(gray, 1.0)


def noise(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sensor noise: Gaussian, standard deviation 0.12 of the full range."""
    return gray + rng.normal(0.0, 0.12, gray.shape)


def uneven(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Paper lit from one side: the light falls to 45% across the string, in a random direction."""
    angle = rng.uniform(0.0, 2 * np.pi)
    ys, xs = np.indices(gray.shape, dtype=np.float64)
    ramp = np.cos(angle) * xs / gray.shape[1] + np.sin(angle) * ys / gray.shape[0]
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-9)
    return gray * (1.0 - 0.55 * ramp)


def inverted(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Light digits on a dark ground (a screen, a negative)."""
    return 1.0 - gray


VARIATIONS = (
    ("thin stroke", thin, StringStyle()),
    ("bold stroke", bold, StringStyle()),
    ("height 16", height(16), StringStyle()),
    ("height 160", height(160), StringStyle()),
    ("slant 15", slant, STRAIGHT),
    ("blur", blur, StringStyle()),
    ("noise", noise, StringStyle()),
    ("uneven light", uneven, StringStyle()),
    ("light on dark", inverted, StringStyle()),
)
RENDERED = "rendered"
RENDERED_DIGITS = 1000  # strings.render(RENDERED_DIGITS, seed=0): the rendered strings' digits

STRING_SETS = (
    StringSet("mnist", "mnist"),
    StringSet("usps", "usps"),
    *(StringSet(name, "mnist", vary, style) for name, vary, style in VARIATIONS),
    StringSet(RENDERED, RENDERED),
    *(StringSet(f"{RENDERED} {name}", RENDERED, vary, style) for name, vary, style in VARIATIONS),
)


def rendered_digits() -> tuple[np.ndarray, np.ndarray]:
    """The digits the rendered strings are drawn from."""
    return render(RENDERED_DIGITS, seed=0)


def string_set(name: str) -> StringSet:
    return next(s for s in STRING_SETS if s.name == name)
