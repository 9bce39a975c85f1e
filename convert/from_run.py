"""`lenet-edge convert`: a run's model -> .tflite carrying its interface (metadata
"lenet_edge.interface": input convention, output kind, labels; firmware_sim.emulator.interface),
verified on the test set, with its model card beside it (and the C array on request). Nothing is
written until conversion and verification have succeeded, and then every file appears or none does.

>>> report = convert_run("runs/lenet5", "out/lenet5.tflite", mode="int8")   # doctest: +SKIP
>>> report.verification.tflite_error, report.files                          # doctest: +SKIP
(0.0098, (PosixPath('out/lenet5.tflite'), PosixPath('out/lenet5.json')))
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from convert import card, flatbuffer, tflite
from convert.c_array import c_sources, names_for
from convert.verify import Verification, verify
from firmware_sim.emulator.interface import METADATA_NAME
from lenet_edge import run as runs
from lenet_edge.errors import UsageError
from lenet_edge.models import registry
from lenet_edge.models.interface import model_interface
from lenet_edge.train.batches import load_split

# What each mode quantizes in a float (train or prune) run's model.
QUANTIZATION = {"int8": "post-training", "float16": "float16 weights",
                "dynamic": "int8 weights, dynamic range", "float32": None}


@dataclass(frozen=True)
class ConversionReport:
    model: str
    mode: str
    quantization: str | None
    path: Path
    size: int  # bytes of the .tflite
    verification: Verification
    files: tuple[Path, ...]  # every file written, the .tflite first
    card: dict

    def as_dict(self) -> dict:
        return {**self.card, "files": [str(path) for path in self.files]}


def convert_run(run_folder: Path, out_path: Path, mode: str = "int8", calibration: int = 500,
                c_array: bool = False, limit: int | None = None,
                data_dir: Path | None = None) -> ConversionReport:
    """Convert a run's final model (see convert_model); RunError for a missing or broken run."""
    config = runs.read_config(run_folder)
    model = runs.load_model(run_folder)
    return convert_model(model, config, out_path, mode=mode, calibration=calibration,
                         c_array=c_array, limit=limit, data_dir=data_dir, source=run_folder)


def convert_model(model, config: runs.RunConfig, out_path: Path, *, mode: str = "int8",
                  calibration: int = 500, c_array: bool = False, limit: int | None = None,
                  data_dir: Path | None = None, source: Path | None = None) -> ConversionReport:
    """Convert `model` (trained as `config` says) to out_path, a .tflite, in `mode`.

    int8 calibrates on the first `calibration` training digits; a run of stage "qat" carries
    its own ranges from training and calibration fills in any tensor without one. The result
    is compared with the Keras model on the first `limit` test digits (all by default).
    """
    out_path = Path(out_path)
    _check(out_path, calibration, limit)
    representative = load_split(config.model, "train", calibration, data_dir)[1] if mode == "int8" else None
    interface = model_interface(registry.spec(config.model))
    tflite_bytes = flatbuffer.with_metadata(tflite.to_tflite(model, mode, representative, calibration),
                                            METADATA_NAME, interface.to_json())
    _, x, labels = load_split(config.model, "test", limit, data_dir)
    verification = verify(tflite_bytes, model, x, labels)
    described = {**_source(config, mode, None if representative is None else len(representative), source),
                 "interface": interface.as_dict()}  # as the file's metadata holds it
    model_card = card.model_card(tflite_bytes, out_path.name, described, verification)
    files = _files(out_path, tflite_bytes, model_card, c_array)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    _write_all(list(files.items()))
    return ConversionReport(config.model, mode, described["quantization"], out_path,
                            len(tflite_bytes), verification, tuple(files), model_card)


def _check(out_path: Path, calibration: int, limit: int | None) -> None:
    if out_path.suffix != ".tflite":
        raise UsageError(f"--out must name a .tflite file (its card goes beside it as .json); "
                         f"received {out_path}")
    if calibration < 1:
        raise UsageError(f"--calibration must be at least 1, got {calibration}")
    if limit is not None and limit < 1:
        raise UsageError(f"--limit must be at least 1, got {limit}")


def output_paths(out_path: Path, c_array: bool = False) -> tuple[Path, ...]:
    """Every file a conversion to out_path writes, the .tflite first (known before converting)."""
    out_path = Path(out_path)
    stem, _ = names_for(out_path.name)
    sources = (out_path.parent / f"{stem}.h", out_path.parent / f"{stem}.cc") if c_array else ()
    return (out_path, card.card_path(out_path), *sources)


def _files(out_path: Path, tflite_bytes: bytes, model_card: dict, c_array: bool) -> dict[Path, bytes]:
    """path -> contents of everything a conversion writes, the .tflite first."""
    files = {out_path: tflite_bytes,
             card.card_path(out_path): (json.dumps(model_card, indent=2) + "\n").encode()}
    if c_array:
        stem, symbol = names_for(out_path.name)
        sources = c_sources(tflite_bytes, name=symbol, source=out_path.name, stem=stem)
        files.update({out_path.parent / name: text.encode() for name, text in sources.items()})
    assert tuple(files) == output_paths(out_path, c_array)  # the CLI claims output_paths before converting
    return files


def _source(config: runs.RunConfig, mode: str, calibration: int | None, source: Path | None) -> dict:
    if config.stage == "qat":
        # The converter turns QAT's fake-quant ops into int8 ops whatever the mode: the float
        # modes only add float input and output (float32 keeps quantize-dequantize pairs).
        quantization = "quantization-aware training"
    else:
        quantization = QUANTIZATION[mode]
    return {"source_run": None if source is None else str(Path(source).resolve()),
            "model": config.model, "run_stage": config.stage, "mode": mode,
            "quantization": quantization, "calibration_digits": calibration}


def _write_all(files: list[tuple[Path, bytes]]) -> None:
    """Every file or none. atomic_write renames its temporary file only after its write callback
    returns, and each callback writes the remaining files: so all contents are on disk under
    temporary names before the first rename, and a failed write leaves no file behind."""
    if not files:
        return
    (path, content), *rest = files

    def write(tmp: Path) -> None:
        tmp.write_bytes(content)
        _write_all(rest)

    runs.atomic_write(path, write)
