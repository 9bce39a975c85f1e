"""The best front trials flashed on QEMU (board.flash, the board of the device's core): the
instructions per digit measured against the cost model's prediction, and whether every output
byte equals the emulator's. A trial's record is kept beside its firmware folder, so a rerun of
the search does not flash it again."""
from __future__ import annotations

import json
from pathlib import Path

from lenet_edge import run as runs

CONFIRM_IMAGES = 20  # test digits each confirmation runs (the count per digit is the same for each)
CONFIRM_DIR = "confirm"  # out/confirm/<trial id>: its firmware folder; <trial id>.json: its record


def confirm(front: list[dict], device: str, count: int, out: Path, data_dir: Path | None = None) -> list[dict]:
    """Flash the first `count` front trials (lowest error first), or read their records; one each."""
    from firmware_sim.firmware.boards import BOARD_OF_CORE
    from firmware_sim.fit.devices.profile import load_profile

    board = BOARD_OF_CORE[load_profile(device).core]
    return [_confirmed(trial, board, Path(out) / CONFIRM_DIR, data_dir) for trial in front[:count]]


def _confirmed(trial: dict, board: str, folder: Path, data_dir: Path | None) -> dict:
    record = folder / f"{trial['trial_id']}.json"
    if record.is_file():
        return json.loads(record.read_text())
    from lenet_edge.board.flash import flash

    report = flash(trial["tflite"], board=board, images=CONFIRM_IMAGES, data_dir=data_dir,
                   workdir=folder / trial["trial_id"])
    measured = report.instructions_per_inference
    confirmed = {"trial_id": trial["trial_id"], "board": board, "images": report.images,
                 "predicted_instructions": trial["instructions"], "measured_instructions": measured,
                 "prediction_error": trial["instructions"] / measured - 1, "identical": report.identical,
                 "flash_inference": report.flash_inference, "ram_inference": report.ram_inference}
    runs.write_json(record, confirmed)
    return confirmed
