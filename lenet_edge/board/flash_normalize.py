"""flash_normalized(): MNIST test digits made raw, normalized and classified on an emulated board.

    report = flash_normalized("lenet5.tflite", images=1000)   # MNIST test digits, made raw
    report.normalize_instructions, report.classify_instructions, report.digits_per_second

Makes the first `images` MNIST test digits raw (lenet_edge.board.raw_digits) and hands them to
firmware_sim.firmware.flash_digits, which checks the board's normalized inputs and outputs byte
for byte. The dataset run also measures how far the integer normalization is from the host's
float one (lenet_edge.read.normalize): accuracy with each and how often the two agree.
"""
import numpy as np

from firmware_sim.emulator.arrays import model_input
from firmware_sim.emulator.interface import read_interface
from firmware_sim.emulator.interpreter import Interpreter
from firmware_sim.emulator.integer_normalize import MAX_SIDE, ink_of
from firmware_sim.emulator.model_file import load_model
from firmware_sim.firmware import boards, qemu
from firmware_sim.firmware.flash_digits import HostComparison, NormalizeReport, flash_digits
from lenet_edge.board.raw_digits import raw_test_digits
from lenet_edge.data.transforms import load_dataset
from lenet_edge.errors import UsageError
from lenet_edge.read.normalize import normalize

SIZE_BUCKETS = (1, 16, 24, 40, MAX_SIDE + 1)  # raw digits' longer side, for errors by size


def flash_normalized(model_path, board: str = boards.DEFAULT_BOARD, images: int = 1000,
                     data_dir=None, digits=None, outputs=None, workdir=None,
                     timeout: float | None = None, optimize: str = "speed") -> NormalizeReport:
    """Normalize and classify raw digits on `board`; see the module docstring.

    `digits` (a RawDigit list, or an .npz that load_raw_digits reads) replace the dataset's;
    otherwise the first `images` MNIST test digits are made raw by raw_test_digits. `outputs`
    receives the board's outputs (.npy). Every digit is checked before building (InputError
    naming the first bad one); then as flash() raises.
    """
    qemu.check_toolchain()
    boards.board(board)
    load_model(model_path)
    if digits is not None:
        return flash_digits(model_path, digits, board, outputs=outputs, workdir=workdir,
                            timeout=timeout, optimize=optimize)
    if images < 1:
        raise UsageError(f"images must be at least 1, got {images}")
    dataset_images, labels = load_dataset("mnist", "test", data_dir)
    dataset_images, labels = dataset_images[:images], labels[:images]

    def compare(interpreter, raw, got):
        return _compare(interpreter, raw, dataset_images, labels, got)

    return flash_digits(model_path, raw_test_digits(dataset_images), board, labels,
                        "mnist test, made raw", outputs, workdir, timeout, compare, optimize)


def _compare(interpreter: Interpreter, raw, dataset_images, labels, got) -> HostComparison:
    graph = interpreter.graph
    interface = read_interface(graph)
    interface.check_dataset("mnist")
    convention = interface.prepare
    host_fields = np.stack([normalize(ink_of(d).astype(np.float32)) for d in raw])
    host = interpreter.run(model_input(graph, convention(host_fields))).argmax(axis=1)
    dataset = interpreter.run(model_input(graph, convention(dataset_images))).argmax(axis=1)
    board = got.reshape(len(got), -1).argmax(axis=1)
    return HostComparison(float(np.mean(host == labels)), float(np.mean(dataset == labels)),
                          float(np.mean(board == host)), float(np.mean(board == dataset)),
                          _by_size(raw, board, host, labels))


def _by_size(raw, board, host, labels) -> tuple:
    longest = np.array([max(d.bitmap.shape) for d in raw])
    rows = []
    for low, high in zip(SIZE_BUCKETS, SIZE_BUCKETS[1:]):
        part = (longest >= low) & (longest < high)
        if part.any():
            rows.append(dict(longest_side=[low, high - 1], digits=int(part.sum()),
                             error_board=float(np.mean(board[part] != labels[part])),
                             error_host=float(np.mean(host[part] != labels[part]))))
    return tuple(rows)
