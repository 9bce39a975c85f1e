"""The best front trials flashed on QEMU (board.flash, the board of the device's core): the
instructions per digit measured against the cost model's prediction, and whether every output
byte equals the emulator's."""
from __future__ import annotations

from pathlib import Path

CONFIRM_IMAGES = 20  # test digits each confirmation runs (the count per digit is the same for each)
CONFIRM_DIR = "confirm"  # out/confirm/<trial id>: the firmware folders


def confirm(front: list[dict], device: str, count: int, out: Path, data_dir: Path | None = None) -> list[dict]:
    """Flash the first `count` front trials (lowest error first); one record each."""
    from firmware_sim.firmware.boards import BOARD_OF_CORE
    from firmware_sim.fit.devices.profile import load_profile
    from lenet_edge.board.flash import flash

    board = BOARD_OF_CORE[load_profile(device).core]
    confirmed = []
    for trial in front[:count]:
        report = flash(trial["tflite"], board=board, images=CONFIRM_IMAGES, data_dir=data_dir,
                       workdir=Path(out) / CONFIRM_DIR / trial["trial_id"])
        measured = report.instructions_per_inference
        confirmed.append({"trial_id": trial["trial_id"], "board": board, "images": report.images,
                          "predicted_instructions": trial["instructions"], "measured_instructions": measured,
                          "prediction_error": trial["instructions"] / measured - 1, "identical": report.identical,
                          "flash_inference": report.flash_inference, "ram_inference": report.ram_inference})
    return confirmed
