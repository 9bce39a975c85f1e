"""Files the emulator reads and writes: .npy arrays, and atomic writes (a reader never sees half
a file). This is the toolkit's one atomic_write; lenet-edge's run folder module re-exports it.

    save_npy("y.npy", outputs); load_npy("x.npy")
    atomic_write(path, lambda tmp: tmp.write_bytes(data))
"""
import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from firmware_sim.errors import InputError


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call write(tmp) on a temporary file beside path, then rename it over path."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal permissions
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def load_npy(path: str | Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        detail = getattr(error, "strerror", None) or " ".join(str(error).split())[:120]
        raise InputError(f"cannot read {str(path)!r} as a .npy array ({detail})") from None


def save_npy(path: str | Path, array: np.ndarray) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as file:  # a file object: np.save would append .npy to a name
            np.save(file, array)
    try:
        atomic_write(Path(path), write)
    except OSError as error:
        raise InputError(f"cannot write {str(path)!r} ({error.strerror or error})") from None
