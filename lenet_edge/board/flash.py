"""flash(): an int8 .tflite as firmware on an emulated Cortex-M board, on test digits or a .npy.

    report = flash("lenet5.tflite", board="mps2-an386", images=1000)
    report.identical, report.accuracy, report.instructions_per_effective_mac, report.as_dict()

Prepares the first `images` test digits of a dataset with the model's input convention (its
interface, firmware_sim.emulator.interface; `convention` overrides it), and hands them to firmware_sim.firmware.flash_arrays, which generates the C, builds it,
runs it under QEMU and compares every output byte with the emulator's.
"""
from firmware_sim.emulator.arrays import model_input
from firmware_sim.emulator.interface import read_interface
from firmware_sim.emulator.model_file import load_model
from firmware_sim.firmware import boards, qemu
from firmware_sim.firmware.flash_arrays import FlashReport, flash_arrays
from lenet_edge.board.simulate import DATASETS
from lenet_edge.data.transforms import load_dataset
from lenet_edge.errors import UsageError


def flash(model_path, board: str = boards.DEFAULT_BOARD, images: int = 1000,
          dataset: str = "mnist", data_dir=None, inputs=None, outputs=None, workdir=None,
          timeout: float | None = None, convention: str | None = None,
          optimize: str = "speed") -> FlashReport:
    """Build and run `model_path` on `board`; see the module docstring.

    With `inputs` (a .npy of the model's input dtype, or floats to quantize) every row runs and
    `images`/`dataset` are ignored; `outputs` then receives the board's outputs (.npy). The
    firmware folder is kept in `workdir` if given. Raises LenetEdgeError or FirmwareSimError
    subclasses: a missing toolchain, a model too large for the board (before building), an op
    without a kernel, a failed build, a run past `timeout` seconds. `optimize`: each conv's
    weight encoding the fastest on the board's core (speed) or the smallest (size).
    """
    qemu.check_toolchain()
    boards.board(board)
    if inputs is not None:
        return flash_arrays(model_path, inputs, board, outputs=outputs, workdir=workdir,
                            timeout=timeout, optimize=optimize)
    if images < 1:
        raise UsageError(f"images must be at least 1, got {images}")
    graph = load_model(model_path)
    if dataset not in DATASETS:
        raise UsageError(f"unknown dataset {dataset!r}: expected one of {', '.join(DATASETS)}")
    interface = read_interface(graph, convention)
    interface.check_dataset(dataset)
    raw, labels = load_dataset(dataset, "test", data_dir)
    x = model_input(graph, interface.prepare(raw[:images]))
    return flash_arrays(model_path, x, board, labels[:images], f"{dataset} test", outputs,
                        workdir, timeout, optimize)
