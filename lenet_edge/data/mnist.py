"""MNIST: find, download (with pooch), verify and parse the four original IDX files.

The folder holding a dataset is looked up in this order: the explicit `data_dir`
argument (--data-dir), then `$LENET_EDGE_DATA`, then the user cache folder; each of
the first two may hold a `mnist/` (or `usps/`) subfolder or the files themselves.
MNIST files missing everywhere are downloaded into the cache. The lookup, checksum
and gzip helpers here are shared with `usps.py`.

Every file is parsed strictly and then checked against its canonical SHA-256, so a
truncated, corrupt or substituted file is a `DataError` naming it, never a silently
different dataset.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import math
import os
import time
import zlib
from pathlib import Path
from typing import Sequence

import numpy as np
from rich.console import Console
from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                           TransferSpeedColumn)

from lenet_edge.errors import DataError

ENV_VAR = "LENET_EDGE_DATA"

# Overridable so tests (or users behind a proxy) can point the download at other servers.
MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

# SHA-256 of the canonical distribution (LeCun, Cortes, Burges).
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

# IDX magic: two zero bytes, the element type (0x08 = uint8), the number of dimensions.
LABELS_MAGIC = 0x00000801
IMAGES_MAGIC = 0x00000803
IMAGE_SIDE = 28

DOWNLOAD_TIMEOUT = 30.0  # seconds without data before a mirror counts as failed
DOWNLOAD_ATTEMPTS = 2  # rounds over the whole mirror list
RETRY_DELAY = 1.0  # seconds before the second round, doubled after that


# ---- helpers shared with usps.py -------------------------------------------------------------

def one_line(error: BaseException) -> str:
    """An exception's text on one line, for messages that must stay one line."""
    return " ".join(str(error).split()) or type(error).__name__


def user_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/lenet-edge`, else `~/.cache/lenet-edge` (the XDG base-directory rule)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lenet-edge"


def candidate_dirs(subdir: str, data_dir: str | Path | None) -> list[Path]:
    """The folders that may hold a dataset's files, in lookup order."""
    dirs = []
    for root in (data_dir, os.environ.get(ENV_VAR)):
        if root:
            root = Path(root).expanduser()
            dirs += [root / subdir, root]
    return dirs + [user_cache_dir() / subdir]


def find_dir(names: Sequence[str], dirs: Sequence[Path]) -> Path | None:
    """The first folder holding all of `names`; a split's files must sit side by side."""
    return next((d for d in dirs if all((d / name).is_file() for name in names)), None)


def not_found_message(what: str, names: Sequence[str], dirs: Sequence[Path]) -> str:
    """Which files are missing and every folder that was searched."""
    unset = "" if os.environ.get(ENV_VAR) else f" (${ENV_VAR} is not set)"
    files = "file" if len(names) == 1 else "files"
    return f"{what} {files} {', '.join(names)} not found in {', '.join(map(str, dirs))}{unset}"


def supply_hint(subdir: str, contents: str) -> str:
    return f"set {ENV_VAR} to a folder with {subdir}/ containing {contents}, or pass --data-dir"


def file_stamp(path: Path) -> tuple[Path, int, int]:
    """A cache key that changes when the file is replaced or rewritten."""
    stat = path.stat()
    # absolute() rather than resolve(): a symlink must keep the canonical name the digest is looked up by.
    return path.absolute(), stat.st_mtime_ns, stat.st_size


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str) -> None:
    actual = sha256_file(path)
    if actual != expected:
        raise DataError(f"{path} is corrupt or not the canonical {path.name}: SHA-256 {actual[:16]}..., "
                        f"expected {expected[:16]}...")


def read_gzip(path: Path) -> bytes:
    """The decompressed contents; a damaged gzip stream is a DataError naming the file."""
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except EOFError as e:
        raise DataError(f"{path} is truncated: the gzip stream ends early") from e
    except (OSError, zlib.error) as e:
        raise DataError(f"{path} is not a readable gzip file: {one_line(e)}") from e


# ---- IDX parsing ---------------------------------------------------------------------------

def _idx_dims(path: Path, data: bytes, magic: int) -> tuple[int, ...]:
    if data[:4] != magic.to_bytes(4, "big"):
        raise DataError(f"{path} has IDX magic number 0x{data[:4].hex()}, expected 0x{magic:08x}")
    header = 4 + 4 * (magic & 0xFF)
    if len(data) < header:
        raise DataError(f"{path} is truncated inside its IDX header")
    return tuple(int.from_bytes(data[i:i + 4], "big") for i in range(4, header, 4))


def read_idx(path: Path, magic: int) -> np.ndarray:
    """A gzipped uint8 IDX file as an array; its payload must be exactly the size its header says."""
    path = Path(path)
    data = read_gzip(path)
    dims = _idx_dims(path, data, magic)
    payload = memoryview(data)[4 + 4 * len(dims):]
    expected = math.prod(dims)
    if len(payload) != expected:
        problem = "is truncated" if len(payload) < expected else "has trailing bytes"
        raise DataError(f"{path} {problem}: its header {dims} needs {expected} data bytes, found {len(payload)}")
    return np.frombuffer(payload, dtype=np.uint8).reshape(dims)


def _check_split(images_path: Path, images: np.ndarray, labels_path: Path, labels: np.ndarray) -> None:
    if images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise DataError(f"{images_path} holds {images.shape[1:]} images, expected 28x28")
    if len(labels) != len(images):
        raise DataError(f"{labels_path} has {len(labels)} labels but {images_path} has {len(images)} images")
    if labels.size and labels.max() > 9:
        raise DataError(f"{labels_path} contains label {labels.max()}, expected digits 0-9")


@functools.lru_cache(maxsize=4)
def _parse_split(images_stamp: tuple, labels_stamp: tuple) -> tuple[np.ndarray, np.ndarray]:
    images_path, labels_path = images_stamp[0], labels_stamp[0]
    images = read_idx(images_path, IMAGES_MAGIC)
    labels = read_idx(labels_path, LABELS_MAGIC)
    _check_split(images_path, images, labels_path, labels)
    for path in (images_path, labels_path):
        verify_sha256(path, MNIST_SHA256[path.name])
    return images, labels


# ---- download ------------------------------------------------------------------------------

def _progress_bar(show: bool) -> Progress:
    # On stderr, so that a command's own output on stdout stays clean.
    return Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                    TimeRemainingColumn(), console=Console(stderr=True), transient=True, disable=not show)


class _PoochBar:
    """The progress-bar object pooch's HTTPDownloader drives (total, update, reset, close), drawn by rich."""

    def __init__(self, bar: Progress, label: str):
        self.bar, self.task = bar, bar.add_task(label, total=None)

    def _set_total(self, value) -> None:
        self.bar.update(self.task, total=value or None)  # pooch says 0 when the size is not sent

    total = property(fset=_set_total)

    def update(self, size: int) -> None:
        self.bar.advance(self.task, size)

    def reset(self) -> None:
        self.bar.reset(self.task)

    def close(self) -> None:
        pass  # _fetch stops the bar, also when the download fails half-way


def _fetch(url: str, target: Path, sha256: str, timeout: float, progress: bool) -> None:
    """pooch downloads into a temporary file beside `target`, checks its SHA-256 and only then
    renames it into place: `target` is either absent or canonical, even if the process dies."""
    import pooch

    pooch.get_logger().setLevel("WARNING")  # its "Downloading file ..." lines: the bar says it
    with _progress_bar(progress) as bar:
        downloader = pooch.HTTPDownloader(progressbar=_PoochBar(bar, target.name) if progress else False,
                                          timeout=timeout)
        pooch.retrieve(url, known_hash=f"sha256:{sha256}", fname=target.name, path=target.parent,
                       downloader=downloader)


def download_file(name: str, dest_dir: Path, mirrors: Sequence[str], sha256: str, *,
                  attempts: int = DOWNLOAD_ATTEMPTS, timeout: float = DOWNLOAD_TIMEOUT,
                  progress: bool = True) -> Path:
    """Fetch `name` from the first mirror that serves the canonical file; DataError if none does."""
    import requests

    failures: dict[str, str] = {}
    for attempt in range(attempts):
        if attempt:
            time.sleep(RETRY_DELAY * 2 ** (attempt - 1))
        for mirror in mirrors:
            url = (mirror if mirror.endswith("/") else mirror + "/") + name
            try:
                _fetch(url, dest_dir / name, sha256, timeout, progress)
                return dest_dir / name
            except (requests.RequestException, OSError) as e:
                failures[url] = one_line(e)
            except ValueError:  # pooch: the file's SHA-256 is not the known one
                failures[url] = f"served a corrupt or non-canonical file (SHA-256 not {sha256[:16]}...)"
    details = "; ".join(f"{url}: {why}" for url, why in failures.items()) or "no mirrors configured"
    raise DataError(f"could not download {name} ({details})")


# ---- public --------------------------------------------------------------------------------

def split_files(split: str) -> tuple[str, str]:
    """The (images, labels) file names of a split."""
    if split not in MNIST_FILES:
        raise DataError(f"unknown MNIST split {split!r}: expected 'train' or 'test'")
    return MNIST_FILES[split]


def mnist_dir(split: str, data_dir: str | Path | None = None, download: bool = True, *,
              mirrors: Sequence[str] | None = None, progress: bool = True) -> Path:
    """The folder holding a split's two files, downloading them into the cache if needed."""
    names = split_files(split)
    dirs = candidate_dirs("mnist", data_dir)
    found = find_dir(names, dirs)
    if found:
        return found
    missing = not_found_message("MNIST", names, dirs)
    hint = supply_hint("mnist", "the 4 MNIST .gz files")
    if not download:
        raise DataError(f"{missing}; {hint}")
    cache = user_cache_dir() / "mnist"
    try:
        for name in (n for n in names if not (cache / n).is_file()):
            download_file(name, cache, MNIST_MIRRORS if mirrors is None else mirrors, MNIST_SHA256[name],
                          progress=progress)
    except DataError as e:
        raise DataError(f"{missing}, and {e}; {hint}") from e
    return cache


def load_mnist(split: str, data_dir: str | Path | None = None, download: bool = True, *,
               mirrors: Sequence[str] | None = None, progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, 28, 28) with ink 255 on background 0, and uint8 labels (N,).

    Parsed arrays are cached per file version; each call returns fresh copies, so callers
    may modify them in place.
    """
    folder = mnist_dir(split, data_dir, download, mirrors=mirrors, progress=progress)
    images, labels = _parse_split(*(file_stamp(folder / name) for name in split_files(split)))
    return images.copy(), labels.copy()
