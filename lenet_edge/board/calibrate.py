"""`lenet-edge calibrate --board B`: the calibration models, then firmware_sim's calibrate_core.

The models are the zoo's LeNets (lenet1, lenet4, lenet5, lenet5-modern: their shapes are the
ones the firmware runs) freshly initialised with the smallest 30%, 70% and 95% of each conv and
dense kernel zeroed, so that every weight encoding (dense, blocked, sparse, bitmap) and fused
variant appears, converted to int8 on 50 MNIST digits. They are cached in `models` (a folder)
and reused. The check tables (benchmarks/check_vs_flash.py) measure other sparsities (0, 50,
90%), so the prediction is not judged on the models it was fitted on.
"""
from pathlib import Path

import numpy as np

from firmware_sim.firmware.calibrate import calibrate_core

CALIBRATION_ZOO = ("lenet1", "lenet4", "lenet5", "lenet5-modern")
CALIBRATION_PRUNE = (0.3, 0.7, 0.95)


def pruned_zoo_tflite(name: str, prune: float = 0.0, seed: int = 0) -> bytes:
    """A zoo model, freshly initialised, the smallest `prune` fraction of each conv and dense
    kernel zeroed, as a full-int8 .tflite calibrated on 50 MNIST training digits."""
    from convert.tflite import to_int8_tflite
    from lenet_edge.data.transforms import CONVENTIONS, load_dataset
    from lenet_edge.models import registry

    model = registry.build(name, seed=seed)
    for layer in model.layers if prune else []:
        if type(layer).__name__ != "DepthwiseConv2D" and layer.get_weights():
            kernel, *rest = layer.get_weights()
            kernel[np.abs(kernel) < np.quantile(np.abs(kernel), prune)] = 0
            layer.set_weights([kernel, *rest])
    images, _ = load_dataset("mnist", "train")
    convention = CONVENTIONS[registry.spec(name).input_convention]
    return to_int8_tflite(model, convention(images[:200]), num_calibration=50)


def calibration_models(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in CALIBRATION_ZOO:
        for prune in CALIBRATION_PRUNE:
            path = folder / f"{name}-{round(100 * prune)}.tflite"
            if not path.is_file():
                path.write_bytes(pruned_zoo_tflite(name, prune, seed=1))
            paths.append(path)
    return paths


def calibrate(board: str, models: Path, out: Path | None = None, images: int = 5,
              progress=None) -> dict:
    """Calibrate `board`'s core on the calibration models (cached in `models`)."""
    return calibrate_core(calibration_models(models), board, out, images, progress)
