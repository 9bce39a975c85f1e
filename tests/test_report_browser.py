"""The pipeline's report.html in a real headless browser (Debian's chromium): every embedded PNG
decodes to the plot's size, and the page renders as more than a blank sheet."""
import os
import shutil
import struct
import subprocess

import pytest

from tests.pipeline_support import PLOTS, finished_pipeline

INSTALL = "sh scripts/ensure_toolchain.sh as root, or: sudo apt-get install -y chromium"
# Writes each image's (complete, naturalWidth, naturalHeight) into the DOM once the page has loaded.
PROBE = ("<script>addEventListener('load', () => { document.body.dataset.images = JSON.stringify("
         "[...document.images].map(i => [i.complete, i.naturalWidth, i.naturalHeight])) })</script>")


@pytest.fixture(scope="module")
def chromium():
    path = shutil.which("chromium")
    if path is None:
        # as root `make test` installs it first, so in CI a missing browser is a failure, not a skip
        (pytest.fail if os.geteuid() == 0 else pytest.skip)(f"chromium is not installed: {INSTALL}")
    return path


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    settings, _ = finished_pipeline(tmp_path_factory.getbasetemp())
    return settings.out


def _browse(chromium, tmp_path, *args) -> str:
    # --no-sandbox: CI runs as root; --disable-dev-shm-usage: containers' /dev/shm is small
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
               f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _png_size(path) -> tuple[int, int]:
    return struct.unpack(">II", path.read_bytes()[16:24])  # the IHDR chunk's width and height


def test_every_image_decodes(chromium, report, tmp_path):
    import json
    import re

    page = tmp_path / "probed.html"  # a copy: the report itself carries no script
    page.write_text((report / "report.html").read_text().replace("</body>", PROBE + "</body>"))
    dom = _browse(chromium, tmp_path, "--dump-dom", page.as_uri())
    found = re.search(r'data-images="([^"]*)"', dom)
    assert found, "the page's load event never fired"
    images = json.loads(found.group(1).replace("&quot;", '"'))
    expected = [[True, *_png_size(report / "report" / f"{name}.png")] for name in PLOTS]
    assert images == expected


def test_the_page_renders(chromium, report, tmp_path):
    import matplotlib.image
    import numpy as np

    shot = tmp_path / "shot.png"
    _browse(chromium, tmp_path, "--window-size=1200,3000", f"--screenshot={shot}", (report / "report.html").as_uri())
    pixels = matplotlib.image.imread(shot)[..., :3]
    inked = np.mean(pixels.min(axis=-1) < 0.9)  # not white
    colours = len(np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0))
    assert inked > 0.05 and colours > 50, (inked, colours)
