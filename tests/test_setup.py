"""The fresh-machine entry points: scripts/ensure_toolchain.sh and the Makefile."""
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "ensure_toolchain.sh"
TOOLCHAIN = "gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"


def run_script(tmp_path, *args, **env):
    """The script on a PATH without the toolchain or chromium, with an apt-get that only leaves a mark."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    for tool in ("sh", "id", "tr", "grep"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    apt = bin_dir / "apt-get"
    apt.write_text(f"#!{shutil.which('sh')}\necho \"$@\" >> {tmp_path / 'apt-called'}\n")
    apt.chmod(0o755)
    done = subprocess.run([shutil.which("sh"), str(SCRIPT), *args], capture_output=True, text=True,
                          env={"PATH": str(bin_dir), **env})
    assert done.returncode == 0, done.stderr
    return done.stdout, (tmp_path / "apt-called").read_text() if (tmp_path / "apt-called").exists() else ""


def test_declining_prints_the_command_and_installs_nothing(tmp_path):
    printed, apt = run_script(tmp_path, LENET_EDGE_NO_APT="1")
    assert apt == "" and f"apt-get install -y {TOOLCHAIN}\n" in printed  # the demo's: no chromium
    printed, apt = run_script(tmp_path / "again", "--browser", LENET_EDGE_NO_APT="1")
    assert apt == "" and f"apt-get install -y {TOOLCHAIN} chromium\n" in printed


def test_as_root_it_says_what_it_installs_first(tmp_path):
    if os.geteuid() != 0:
        return  # the install branch runs as root only; the command branch is tested above
    printed, apt = run_script(tmp_path)
    assert printed.startswith(f"installing Debian packages: {TOOLCHAIN} (set LENET_EDGE_NO_APT=1 to decline)")
    calls = apt.splitlines()
    assert calls[0] == "update -q" and calls[1] == f"install --assume-no {TOOLCHAIN}"
    assert calls[2] == f"install -y -q {TOOLCHAIN}"


def test_make_test_keeps_pytests_summary_line():
    """One -q shows `N passed`; two hide it."""
    addopts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["addopts"]
    [pytest_line] = [line for line in (ROOT / "Makefile").read_text().splitlines() if "-m pytest" in line]
    assert (addopts.split() + pytest_line.split()).count("-q") <= 1


def test_digit_string_script_makes_a_sample_for_read(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "digit_string.py"), str(tmp_path / "zip.png"),
                           "--seed", "0"], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    text, path = done.stdout.strip().split(" -> ")
    assert len(text) == 5 and text.isdigit() and Image.open(path).mode == "L"
