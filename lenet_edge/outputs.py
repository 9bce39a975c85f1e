"""Which command wrote what: a command replaces only files it wrote itself, never the user's.

Every folder a command writes into carries MARKER, a small JSON file:
    {"folder": "train"}                      the whole folder is the output of `lenet-edge train`
    {"files": {"lenet5.tflite": "convert"}}  single files, each with the command that wrote it
A command may write into a folder that does not exist, is empty, or is its own (claim_folder),
and may replace a file only if the marker says it wrote it (claim_files). Anything else is a
UsageError naming the file, raised before any work starts. Both are context managers around the
command's work: they check on entry and record what was written on the way out.
"""
from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Iterable, Iterator

from lenet_edge.errors import UsageError
from lenet_edge.run import write_json

MARKER = ".lenet-edge"

# Folders written before the marker existed: a file each command always writes first.
# (Run and pipeline folders only: train --resume and a pipeline rerun must keep working on them.)
LEGACY = {"train": ("config.json", "float/config.json"), "prune": ("config.json",), "qat": ("config.json",),
          "pipeline": ("pipeline.json",)}


def read_marker(folder: Path) -> dict:
    try:
        marker = json.loads((Path(folder) / MARKER).read_text())
    except (OSError, ValueError):
        return {}
    return marker if isinstance(marker, dict) else {}


def _write_marker(folder: Path, marker: dict) -> None:
    write_json(Path(folder) / MARKER, marker)


def _owns_folder(folder: Path, command: str) -> bool:
    if read_marker(folder).get("folder") == command:
        return True
    return any((folder / name).is_file() for name in LEGACY.get(command, ()))


@contextlib.contextmanager
def claim_folder(folder: Path | None, command: str, flag: str = "--out") -> Iterator[None]:
    """Refuse (UsageError) before the block if `folder` holds a file `command` did not write.
    After the block, even a failed or interrupted one (what it left is the command's, and a
    resume needs it), mark the folder as the command's if it now exists. None claims nothing."""
    if folder is not None:
        _check_folder(Path(folder), command, flag)
    try:
        yield
    finally:
        if folder is not None and Path(folder).is_dir():
            _write_marker(folder, {**read_marker(folder), "folder": command})


def _check_folder(folder: Path, command: str, flag: str) -> None:
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{flag} {folder} is a file, not a folder; choose a new or empty folder")
    if folder.is_dir() and not _owns_folder(folder, command):
        foreign = sorted(path.name for path in folder.iterdir() if path.name != MARKER)
        if foreign:
            raise UsageError(f"{flag} {folder} already holds {foreign[0]}, which lenet-edge {command} did not "
                             f"write; choose a new or empty folder")


@contextlib.contextmanager
def claim_files(paths: Iterable[Path | None], command: str, flag: str) -> Iterator[None]:
    """Refuse (UsageError) before the block if a path exists that `command` did not write; after
    the block succeeds, record the paths that now exist as the command's."""
    paths = [Path(path) for path in paths if path is not None]
    for path in paths:
        if path.is_file() and read_marker(path.parent).get("files", {}).get(path.name) != command:
            raise UsageError(f"{flag}: {path} already exists and lenet-edge {command} did not write it; "
                             f"move it away or choose another {flag}")
    yield
    for folder in {path.parent for path in paths if path.is_file()}:
        marker = read_marker(folder)
        files = {**marker.get("files", {}), **{p.name: command for p in paths if p.parent == folder and p.is_file()}}
        _write_marker(folder, {**marker, "files": files})
