"""Emulator throughput against TFLM's Python interpreter and LiteRT (XNNPACK), and bit-exactness.

    python benchmarks/emulator_speed.py [--run runs/bench/lenet5] [--out runs/bench/emulator_speed.json]

On the 10,000 MNIST test digits with an int8 LeNet-5, converted from RUN/model.keras (calibrated
on 500 training digits), or from a freshly built model when that run is missing. In one process,
one after another, single-threaded (OpenBLAS, which the emulator's exact float sums use, is held
to one thread, and LiteRT gets num_threads=1): the emulator on the whole batch (best of 3), TFLM
one image per invoke on all 10,000 (its outputs are the oracle), LiteRT one image per invoke with
its default XNNPACK delegate, and without it. Prints a Markdown table; writes JSON and the .tflite.
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # must precede numpy's import

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import firmware_sim  # noqa: E402
from lenet_edge import markdown  # noqa: E402
from lenet_edge.data.transforms import lenet5_32, load_dataset  # noqa: E402
from lenet_edge.run import atomic_write, write_json  # noqa: E402

CALIBRATION = 500
EMULATOR_REPEATS = 3


def int8_model(run: Path) -> tuple[bytes, str]:
    """(tflite bytes, where the weights came from)."""
    from convert.tflite import to_int8_tflite
    from lenet_edge.models import registry
    from lenet_edge.run import load_model

    if (run / "model.keras").is_file():
        model, source = load_model(run), f"{run}/model.keras"
    else:
        model, source = registry.build("lenet5"), "freshly built lenet5 (untrained)"
    images, _ = load_dataset("mnist", "train")
    return to_int8_tflite(model, lenet5_32(images[:CALIBRATION]), CALIBRATION), source


def time_emulator(model: bytes, x: np.ndarray) -> tuple[np.ndarray, float]:
    interpreter = firmware_sim.Interpreter(firmware_sim.load_model(model))
    best = float("inf")
    for _ in range(EMULATOR_REPEATS):
        start = time.perf_counter()
        outputs = interpreter.run(x)
        best = min(best, time.perf_counter() - start)
    return outputs, best


def time_tflm(model: bytes, x: np.ndarray) -> tuple[np.ndarray, float]:
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(model)
    outputs = []
    start = time.perf_counter()
    for image in x:
        interpreter.set_input(image[np.newaxis], 0)
        interpreter.invoke()
        outputs.append(interpreter.get_output(0))
    return np.concatenate(outputs), time.perf_counter() - start


def time_litert(model: bytes, x: np.ndarray, xnnpack: bool) -> tuple[np.ndarray, float]:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interpreter = Interpreter(model_content=model, num_threads=1,
                              experimental_op_resolver_type=resolver)
    interpreter.allocate_tensors()
    source = interpreter.get_input_details()[0]["index"]
    sink = interpreter.get_output_details()[0]["index"]
    outputs = []
    start = time.perf_counter()
    for image in x:
        interpreter.set_tensor(source, image[np.newaxis])
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(sink))
    return np.concatenate(outputs), time.perf_counter() - start


def row(name: str, outputs: np.ndarray, seconds: float, oracle: np.ndarray, labels: np.ndarray,
        tflm_seconds: float) -> dict:
    return {"runtime": name, "images": len(outputs), "seconds": seconds,
            "images_per_second": len(outputs) / seconds, "speed_vs_tflm": tflm_seconds / seconds,
            "images_equal_to_tflm": int(np.all(outputs == oracle, axis=1).sum()),
            "bytes_differing_from_tflm": int(np.count_nonzero(outputs != oracle)),
            "test_error": float(np.mean(outputs.argmax(axis=1) != labels))}


def table(rows: list[dict]) -> str:
    return "\n".join(markdown.table(
        ("runtime", "images", "seconds", "images/s", "vs TFLM", "images bit-exact with TFLM",
         "test error"),
        [(r["runtime"], f"{r['images']:,}", f"{r['seconds']:.2f}", f"{r['images_per_second']:,.0f}",
          f"{r['speed_vs_tflm']:.1f}x",
          f"{r['images_equal_to_tflm']:,} ({r['bytes_differing_from_tflm']:,} bytes differ)",
          f"{100 * r['test_error']:.2f}%") for r in rows]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=Path("runs/bench/lenet5"))
    parser.add_argument("--out", type=Path, default=Path("runs/bench/emulator_speed.json"))
    args = parser.parse_args()
    model, source = int8_model(args.run)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(args.out.with_suffix(".tflite"), lambda tmp: tmp.write_bytes(model))
    images, labels = load_dataset("mnist", "test")
    x = firmware_sim.quantize_input(firmware_sim.load_model(model), lenet5_32(images))
    oracle, tflm_seconds = time_tflm(model, x)
    runs = {"firmware_sim (batch of 10,000)": time_emulator(model, x),
            "tflite-micro Python, 1 image/invoke": (oracle, tflm_seconds),
            "LiteRT + XNNPACK, 1 image/invoke": time_litert(model, x, xnnpack=True),
            "LiteRT builtin kernels, 1 image/invoke": time_litert(model, x, xnnpack=False)}
    rows = [row(name, outputs, seconds, oracle, labels, tflm_seconds)
            for name, (outputs, seconds) in runs.items()]
    print(f"int8 LeNet-5 from {source}, {len(model):,} bytes; 10,000 MNIST test digits\n")
    print(table(rows))
    write_json(args.out, {"model": source, "tflite_bytes": len(model), "rows": rows,
                          "machine": platform.processor() or platform.machine(),
                          "cpus": os.cpu_count(), "litert_threads": 1,
                          "emulator_blas_threads": os.environ["OPENBLAS_NUM_THREADS"]})


if __name__ == "__main__":
    main()
