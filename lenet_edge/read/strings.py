"""A deterministic generator of digit-string images made of MNIST test digits, with the
spacing, scale and slant variations of real writing, including touching and overlapping pairs;
and digits of our own to draw strings from, rendered in the system's typefaces (`render`)."""
from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from lenet_edge.errors import DataError
from lenet_edge.read.normalize import normalize
from lenet_edge.read.segment import Box

# The typefaces of Debian's fonts-dejavu-core and fonts-liberation: sans, serif, mono, narrow
# and condensed, each upright and slanted, regular and bold (DejaVu's maths face excluded).
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/liberation"))
RENDER_SIZE = 48  # points: large enough that the 20-pixel box downsamples the glyph's curves


@dataclasses.dataclass(frozen=True)
class StringStyle:
    scale: tuple[float, float] = (0.8, 1.25)  # digit height relative to MNIST's ~20 px
    slant: float = 0.25  # horizontal shear, +-
    gap: tuple[int, int] = (2, 9)  # pixels between neighbouring digits' ink boxes
    touching: float = 0.15  # fraction of pairs drawn touching or overlapping instead
    overlap: int = 2  # touching pairs overlap their ink boxes by 0..overlap pixels
    jitter: int = 2  # vertical offset, +- pixels
    margin: int = 8


def resample(digit: np.ndarray, scale: float, slant: float) -> np.ndarray:
    """Scale and shear one digit (float ink), cropped to its ink."""
    height, width = digit.shape
    pad = int(np.ceil(abs(slant) * height / 2))
    image = Image.fromarray(np.pad(digit, ((0, 0), (pad, pad))))
    # PIL's affine samples input (x + slant (y - h/2), y) for output (x, y).
    image = image.transform(image.size, Image.Transform.AFFINE, (1, slant, -slant * height / 2, 0, 1, 0),
                            resample=Image.Resampling.BILINEAR)
    image = image.resize((max(1, round(image.width * scale)), max(1, round(height * scale))),
                         Image.Resampling.BILINEAR)
    ink = np.asarray(image)
    rows, cols = np.nonzero((ink > 0.1).any(axis=1))[0], np.nonzero((ink > 0.1).any(axis=0))[0]
    return ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


@dataclasses.dataclass(frozen=True)
class DrawnString:
    gray: np.ndarray  # float32, dark ink on white, 1 = white
    text: str
    boxes: list[Box]  # each digit's ink box, left to right: where the generator drew it


def draw(images: np.ndarray, labels: np.ndarray, length: int, seed: int,
         style: StringStyle = StringStyle()) -> DrawnString:
    """A string of MNIST uint8 images with where each digit went; the same seed always gives
    the same image."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(labels), size=length)
    digits = [resample(images[i].astype(np.float32) / 255.0, rng.uniform(*style.scale),
                       rng.uniform(-style.slant, style.slant)) for i in picks]
    gaps = [-int(rng.integers(0, style.overlap + 1)) if rng.random() < style.touching
            else int(rng.integers(*style.gap)) for _ in digits[1:]]
    offsets = [int(rng.integers(-style.jitter, style.jitter + 1)) for _ in digits]
    height = max(d.shape[0] for d in digits) + 2 * (style.margin + style.jitter)
    width = sum(d.shape[1] for d in digits) + sum(gaps) + 2 * style.margin
    canvas = np.zeros((height, width), dtype=np.float32)
    left, boxes = style.margin, []
    for digit, offset, gap in zip(digits, offsets, gaps + [0]):
        top = (height - digit.shape[0]) // 2 + offset
        region = canvas[top:top + digit.shape[0], left:left + digit.shape[1]]
        np.maximum(region, digit, out=region)  # overlapping strokes stay ink, like pen on paper
        boxes.append(Box(top, left, top + digit.shape[0], left + digit.shape[1]))
        left += digit.shape[1] + gap
    return DrawnString(1.0 - canvas, "".join(str(int(labels[i])) for i in picks), boxes)


def generate(images: np.ndarray, labels: np.ndarray, length: int, seed: int,
             style: StringStyle = StringStyle()) -> tuple[np.ndarray, str]:
    """(float32 gray image, dark ink on white, 1 = white; the true string) of draw()."""
    drawn = draw(images, labels, length, seed, style)
    return drawn.gray, drawn.text


def save_png(gray: np.ndarray, path) -> None:
    """A generate() image as an 8-bit grayscale PNG, the kind `lenet-edge read` takes."""
    Image.fromarray(np.round(255 * gray).astype(np.uint8)).save(path)


@functools.cache
def fonts() -> tuple[Path, ...]:
    """The TrueType files `render` draws with, in a fixed order; DataError when none is installed."""
    found = tuple(sorted(f for d in FONT_DIRS if d.is_dir() for f in d.glob("*.ttf") if "Math" not in f.name))
    if not found:
        raise DataError(f"no typeface to render digits with: install fonts-dejavu-core or fonts-liberation "
                        f"({', '.join(map(str, FONT_DIRS))})")
    return found


def render_digit(digit: int, font: Path) -> np.ndarray:
    """One digit in a typeface, in MNIST's format: uint8 (28, 28), fit to 20x20, centred by mass."""
    face = ImageFont.truetype(str(font), RENDER_SIZE)
    image = Image.new("L", (2 * RENDER_SIZE, 2 * RENDER_SIZE), 0)
    ImageDraw.Draw(image).text((RENDER_SIZE // 2, RENDER_SIZE // 4), str(digit), fill=255, font=face)
    return normalize(np.asarray(image, dtype=np.float32) / 255.0)


def render(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 (count, 28, 28), int64 labels): digits drawn at random, each in a typeface drawn at
    random; the same seed gives the same digits, and a smaller count the first of them."""
    rng = np.random.default_rng([seed, 28])
    picks = [(int(rng.integers(10)), int(rng.integers(len(fonts())))) for _ in range(count)]
    labels = np.array([d for d, _ in picks], dtype=np.int64)
    images = [render_digit(d, fonts()[f]) for d, f in picks]
    return np.stack(images) if images else np.zeros((0, 28, 28), np.uint8), labels
