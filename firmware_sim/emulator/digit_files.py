"""Raw digits in a file: the .npz that `lenet-edge read --raw-digits` writes and `flash --normalize
--inputs` reads.

    save_raw_digits("d.npz", digits); load_raw_digits("d.npz")   # RawDigit lists
"""
import numpy as np

from firmware_sim.emulator.integer_normalize import RawDigit
from firmware_sim.errors import InputError


def save_raw_digits(path, digits) -> None:
    """An .npz that load_raw_digits reads back."""
    shapes = np.array([d.bitmap.shape for d in digits], np.int64).reshape(-1, 2)
    pixels = np.concatenate([d.bitmap.reshape(-1) for d in digits]) if digits else \
        np.zeros(0, np.uint8)
    np.savez(path, pixels=pixels.astype(np.uint8), shapes=shapes,
             ink_dark=np.array([d.ink_dark for d in digits], bool))


def load_raw_digits(path) -> list[RawDigit]:
    """Raw digits from an .npz: `pixels` (uint8, each bitmap's rows, one bitmap after another),
    `shapes` (N, 2: height, width) and optionally `ink_dark` (N bools; default bright ink).
    InputError in one line when the file does not hold that."""
    try:
        with np.load(path, allow_pickle=False) as data:
            pixels, shapes = data["pixels"], data["shapes"]
            dark = data["ink_dark"] if "ink_dark" in data else np.zeros(len(shapes), bool)
    except (OSError, ValueError, KeyError, EOFError) as error:
        detail = getattr(error, "strerror", None) or " ".join(str(error).split())[:120]
        raise InputError(f"cannot read {str(path)!r} as raw digits (.npz with pixels and "
                         f"shapes: {detail})") from None
    if not _well_formed(pixels, shapes, dark):
        raise InputError(f"{str(path)!r}: expected uint8 pixels of sum(height * width) bytes, "
                         f"(N, 2) shapes and N ink_dark flags; got {pixels.dtype} "
                         f"{pixels.size} pixels, shapes {shapes.shape}, ink_dark {dark.shape}")
    sizes = np.prod(shapes, axis=1)
    ends = np.cumsum(sizes)
    return [RawDigit(pixels[end - size:end].reshape(shape), bool(flag))
            for end, size, shape, flag in zip(ends, sizes, shapes, dark)]


def _well_formed(pixels: np.ndarray, shapes: np.ndarray, dark: np.ndarray) -> bool:
    if pixels.dtype != np.uint8 or pixels.ndim != 1 or shapes.ndim != 2 \
            or shapes.shape[1] != 2 or not np.issubdtype(shapes.dtype, np.integer):
        return False
    return bool((shapes >= 0).all()) and dark.shape == (len(shapes),) \
        and int(np.prod(shapes, axis=1).sum()) == pixels.size
