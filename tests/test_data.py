"""The data layer against the real MNIST and USPS files, damaged copies of them, and a local mirror."""
from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import os
import re
import shutil
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from lenet_edge.data import mnist, transforms, usps
from lenet_edge.errors import DataError

# The real files: $LENET_EDGE_DATA, else the shared folder beside the checkout. Read once at import,
# because the autouse fixture below removes the variable from each test's environment.
SHARED = Path(os.environ.get("LENET_EDGE_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
if not (SHARED / "mnist").is_dir() or not (SHARED / "usps").is_dir():
    pytest.skip(f"no dataset files at {SHARED}; set LENET_EDGE_DATA", allow_module_level=True)

MNIST_TEST = mnist.MNIST_FILES["test"]
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
USPS_TRAIN_COUNTS = [1194, 1005, 731, 658, 652, 556, 664, 645, 542, 644]
USPS_TEST_COUNTS = [359, 264, 198, 166, 200, 160, 170, 147, 166, 177]


def dead_url() -> str:
    """A URL on a local port nobody listens on: connecting fails at once, as when offline."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch) -> Path:
    """No test sees the user's cache, $LENET_EDGE_DATA or the internet, or waits between retries."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("LENET_EDGE_DATA", raising=False)
    monkeypatch.setattr(mnist, "MNIST_MIRRORS", (dead_url(),))
    monkeypatch.setattr(mnist, "RETRY_DELAY", 0.0)
    return tmp_path / "xdg" / "lenet-edge"


def copy_files(src: Path, dest: Path, names) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(src / name, dest / name)
    return dest


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server(tmp_path) -> str:
    """A local mirror: good/ holds the MNIST test files, bad/ a corrupted copy, missing/ nothing."""
    root = tmp_path / "www"
    copy_files(SHARED / "mnist", root / "good", MNIST_TEST)
    flip_byte(copy_files(SHARED / "mnist", root / "bad", MNIST_TEST) / MNIST_TEST[0], 5000)
    handler = functools.partial(QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


# ---- MNIST, the real files ------------------------------------------------------------------

@pytest.mark.parametrize("split, counts", [("train", MNIST_TRAIN_COUNTS), ("test", MNIST_TEST_COUNTS)])
def test_mnist_shapes_and_class_counts(split, counts):
    images, labels = mnist.load_mnist(split, SHARED)
    assert images.shape == (sum(counts), 28, 28) and images.dtype == np.uint8
    assert labels.shape == (sum(counts),) and labels.dtype == np.uint8
    assert np.bincount(labels).tolist() == counts
    assert images.min() == 0 and images.max() == 255


def test_mnist_returns_copies_of_the_cached_arrays():
    images, _ = mnist.load_mnist("test", SHARED)
    images[:] = 7
    again, _ = mnist.load_mnist("test", SHARED)
    assert again.max() == 255


@pytest.mark.parametrize("layout", ["root", "mnist"])
def test_mnist_found_through_env_var(monkeypatch, layout):
    monkeypatch.setenv("LENET_EDGE_DATA", str(SHARED if layout == "root" else SHARED / "mnist"))
    assert mnist.load_mnist("test", download=False)[0].shape == (10000, 28, 28)


def test_mnist_found_in_user_cache(isolated):
    copy_files(SHARED / "mnist", isolated / "mnist", MNIST_TEST)
    assert mnist.mnist_dir("test", download=False) == isolated / "mnist"


def test_data_dir_comes_before_env_var(tmp_path, monkeypatch):
    monkeypatch.setenv("LENET_EDGE_DATA", str(SHARED))
    mine = copy_files(SHARED / "mnist", tmp_path / "mine" / "mnist", MNIST_TEST)
    assert mnist.mnist_dir("test", tmp_path / "mine") == mine


def test_unknown_split_is_rejected():
    with pytest.raises(DataError, match="unknown MNIST split 'valid'"):
        mnist.load_mnist("valid", SHARED)


# ---- MNIST, damaged files -------------------------------------------------------------------

def damaged_mnist(tmp_path: Path, damage) -> Path:
    folder = copy_files(SHARED / "mnist", tmp_path / "damaged", MNIST_TEST)
    damage(folder / MNIST_TEST[0])
    return folder / MNIST_TEST[0]


@pytest.mark.parametrize("offset, problem", [
    (5, "corrupt or not the canonical"),  # the gzip header's timestamp: still valid gzip, wrong digest
    (100_000, "not a readable gzip file"),  # compressed data: the stream no longer decodes
])
def test_flipped_byte_is_rejected_naming_the_file(tmp_path, offset, problem):
    path = damaged_mnist(tmp_path, lambda p: flip_byte(p, offset))
    with pytest.raises(DataError, match=problem) as caught:
        mnist.load_mnist("test", tmp_path / "damaged")
    assert str(path) in str(caught.value)


def test_truncated_file_is_rejected_naming_the_file(tmp_path):
    path = damaged_mnist(tmp_path, lambda p: p.write_bytes(p.read_bytes()[:-1000]))
    with pytest.raises(DataError, match="truncated") as caught:
        mnist.load_mnist("test", tmp_path / "damaged")
    assert str(path) in str(caught.value)


def write_idx(path: Path, magic: int, dims, payload: bytes) -> Path:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    path.write_bytes(gzip.compress(header + payload))
    return path


def test_wrong_magic_is_rejected(tmp_path):
    folder = copy_files(SHARED / "mnist", tmp_path / "m", MNIST_TEST[:1])
    _, labels = mnist.load_mnist("test", SHARED)
    write_idx(folder / MNIST_TEST[1], mnist.IMAGES_MAGIC, [10000], labels.tobytes())
    with pytest.raises(DataError, match="magic number 0x00000803, expected 0x00000801") as caught:
        mnist.load_mnist("test", folder)
    assert MNIST_TEST[1] in str(caught.value)


@pytest.mark.parametrize("size, problem", [(3, "truncated"), (5, "trailing bytes")])
def test_payload_must_match_the_header_exactly(tmp_path, size, problem):
    path = write_idx(tmp_path / "x.gz", mnist.LABELS_MAGIC, [4], bytes(size))
    with pytest.raises(DataError, match=f"{re.escape(str(path))}.*{problem}"):
        mnist.read_idx(path, mnist.LABELS_MAGIC)


# ---- MNIST, download ------------------------------------------------------------------------

def test_download_falls_through_to_a_working_mirror(server, isolated):
    mirrors = (dead_url(), server + "missing/", server + "good")
    images, labels = mnist.load_mnist("test", mirrors=mirrors)
    assert images.shape == (10000, 28, 28) and np.bincount(labels).tolist() == MNIST_TEST_COUNTS
    for name in MNIST_TEST:
        assert sha256(isolated / "mnist" / name) == mnist.MNIST_SHA256[name]
    assert sorted(p.name for p in (isolated / "mnist").iterdir()) == sorted(MNIST_TEST)


def test_download_uses_the_module_mirror_list_with_a_progress_bar(server, monkeypatch, isolated):
    monkeypatch.setattr(mnist, "MNIST_MIRRORS", (server + "good/",))
    assert mnist.load_mnist("test", progress=True)[0].shape == (10000, 28, 28)


def test_corrupt_download_is_an_error_leaving_nothing_behind(server, isolated):
    with pytest.raises(DataError, match="corrupt or non-canonical") as caught:
        mnist.load_mnist("test", mirrors=(server + "bad/",), progress=False)
    assert server + "bad/" + MNIST_TEST[0] in str(caught.value)
    assert list((isolated / "mnist").iterdir()) == []


def test_offline_without_files_is_one_helpful_line(isolated):
    with pytest.raises(DataError) as caught:
        mnist.load_mnist("train")
    message = str(caught.value)
    assert "\n" not in message
    for part in ("LENET_EDGE_DATA", "--data-dir", "mnist/", str(isolated / "mnist"), "could not download"):
        assert part in message


def test_no_download_when_disabled(isolated):
    with pytest.raises(DataError, match="not found.*LENET_EDGE_DATA") as caught:
        mnist.load_mnist("test", download=False)
    assert "could not download" not in str(caught.value)


# ---- USPS -----------------------------------------------------------------------------------

@pytest.mark.parametrize("split, counts", [("train", USPS_TRAIN_COUNTS), ("test", USPS_TEST_COUNTS)])
def test_usps_shapes_and_class_counts(split, counts):
    images, labels = usps.load_usps(split, SHARED)
    assert images.shape == (sum(counts), 16, 16) and images.dtype == np.float32
    assert labels.dtype == np.uint8 and np.bincount(labels).tolist() == counts
    assert images.min() == -1.0 and images.max() == 1.0


def test_usps_background_is_minus_one():
    images, _ = usps.load_usps("test", SHARED)
    # The digits are size-normalised to touch the 16x16 box, so test the corners, not the edges.
    corners = images[:, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert np.median(images) == -1.0 and (corners == -1.0).mean() > 0.95


def test_usps_found_through_env_var(monkeypatch):
    monkeypatch.setenv("LENET_EDGE_DATA", str(SHARED))
    assert usps.load_usps("test")[0].shape == (2007, 16, 16)


@pytest.mark.parametrize("damage", [
    lambda p: flip_byte(p, 5),
    lambda p: flip_byte(p, 50_000),
    lambda p: p.write_bytes(p.read_bytes()[:-100]),
])
def test_usps_damaged_file_is_rejected_naming_it(tmp_path, damage):
    path = copy_files(SHARED / "usps", tmp_path / "u", ["zip.test.gz"]) / "zip.test.gz"
    damage(path)
    with pytest.raises(DataError, match=re.escape(str(path))):
        usps.load_usps("test", tmp_path / "u")


def usps_text(lines) -> bytes:
    return gzip.compress("".join(line + "\n" for line in lines).encode())


@pytest.mark.parametrize("bad_line, problem", [
    ("3 " + "-1 " * 255, "256 values, expected 257"),
    ("10 " + "-1 " * 256, "label 10 is not a digit"),
    ("3.5 " + "-1 " * 256, "label 3.5 is not a digit"),
    ("3 1.5 " + "-1 " * 255, "grey value 1.5 outside"),
    ("3 nan " + "-1 " * 255, "grey value nan outside"),
    ("3 x " + "-1 " * 255, "could not convert"),
])
def test_usps_bad_line_is_rejected_naming_file_and_line(tmp_path, bad_line, problem):
    good = "7 " + "-1 " * 256
    path = tmp_path / "usps" / "zip.test.gz"
    path.parent.mkdir()
    path.write_bytes(usps_text([good, bad_line, good]))
    with pytest.raises(DataError, match=f"{re.escape(str(path))} line 2: {problem}"):
        usps.load_usps("test", tmp_path)


def test_usps_missing_explains_how_to_supply_it():
    with pytest.raises(DataError) as caught:
        usps.load_usps("train")
    message = str(caught.value)
    assert "\n" not in message and "usps/" in message and "LENET_EDGE_DATA" in message and "--data-dir" in message


# ---- transforms -----------------------------------------------------------------------------

def test_conventions_are_named():
    assert set(transforms.CONVENTIONS) == {"lenet5_32", "mnist_28", "usps_20"}


def test_lenet5_32_centres_and_scales_the_digit():
    images = np.zeros((3, 28, 28), np.uint8)
    images[:, 1:-1, 1:-1] = 255
    x = transforms.lenet5_32(images)
    assert x.shape == (3, 32, 32, 1) and x.dtype == np.float32
    assert np.allclose(x[:, 3:-3, 3:-3], 1.175) and np.allclose(x[:, :3], -0.1) and np.allclose(x[:, :, :3], -0.1)


def test_mnist_conventions_map_the_real_digits_into_range():
    images, _ = mnist.load_mnist("test", SHARED)
    for name, shape in (("mnist_28", (10000, 28, 28, 1)), ("lenet5_32", (10000, 32, 32, 1))):
        x = transforms.CONVENTIONS[name](images)
        assert x.shape == shape and x.dtype == np.float32
        assert np.isclose(x.min(), -0.1) and np.isclose(x.max(), 1.175)


def test_usps_20_pads_with_background():
    images, _ = usps.load_usps("test", SHARED)
    x = transforms.usps_20(images)
    assert x.shape == (2007, 20, 20, 1) and x.dtype == np.float32
    assert x.min() == -1.0 and x.max() == 1.0
    border = np.ones((20, 20), bool)
    border[2:-2, 2:-2] = False
    assert (x[:, border] == -1.0).all() and np.array_equal(x[:, 2:-2, 2:-2, 0], images)


def test_convention_rejects_the_wrong_input():
    with pytest.raises(ValueError, match=r"uint8 images of shape \(N, 28, 28\)"):
        transforms.lenet5_32(np.zeros((2, 16, 16), np.float32))


def test_distort_is_deterministic_and_changes_the_digits():
    images, _ = mnist.load_mnist("test", SHARED)
    images = images[:2000]
    first = transforms.distort(images, np.random.default_rng(1))
    assert first.shape == images.shape and first.dtype == np.uint8
    assert np.array_equal(first, transforms.distort(images, np.random.default_rng(1)))
    assert not np.array_equal(first, transforms.distort(images, np.random.default_rng(2)))
    changed = (first != images).any(axis=(1, 2)).mean()
    assert changed > 0.99
    # Scale factors average 1, so the ink is kept on average.
    assert 0.9 < first.astype(float).sum() / images.astype(float).sum() < 1.1


def test_distort_with_zero_ranges_is_the_identity(monkeypatch):
    monkeypatch.setattr(transforms, "SCALE_RANGE", (1.0, 1.0))
    for name in ("SHEAR_RANGE", "ROTATION_DEGREES", "SHIFT_PIXELS"):
        monkeypatch.setattr(transforms, name, 0.0)
    images, _ = mnist.load_mnist("test", SHARED)
    assert np.array_equal(transforms.distort(images[:500], np.random.default_rng(0)), images[:500])


def test_load_dataset_dispatches():
    assert transforms.load_dataset("usps", "test", SHARED)[0].shape == (2007, 16, 16)
    assert transforms.load_dataset("mnist", "test", SHARED)[0].shape == (10000, 28, 28)
    with pytest.raises(DataError, match="unknown dataset 'cifar'"):
        transforms.load_dataset("cifar", "test", SHARED)
