"""Run a Graph over a batch of images: every op prepared once, every kernel vectorised over N.

Prepare gives each op its integer op data and reference kernel (ops.py, kernels/). By default
the interpreter runs the fast forms derived from them (speed.py), and tables.py merges each
activation into the op before it where a table of the pair's output stage is small enough; the
bytes are those of the reference kernels. `Interpreter(graph, reference=True)` runs the
reference kernels alone: TFLM's arithmetic, literally, in numpy integers.

TFLM invokes a model on one image at a time; the ops firmware_sim runs never mix images, so a
batch of N gives, image for image, the bytes of N invocations. The model's batch dimension must
be 1; it is replaced by N on every activation. Large batches run in chunks, so that the im2col
matrices stay in cache and memory stays bounded, and the chunks run on worker threads.
"""
import numpy as np

from firmware_sim.emulator import parallel, tables
from firmware_sim.emulator.ir import Graph
from firmware_sim.emulator.kernels.quantize import AffineQuantizeParams, affine_quantize
from firmware_sim.emulator.ops import PreparedOp, prepare_op
from firmware_sim.errors import InputError, ModelFileError

# Images per chunk: enough for numpy's per-call overhead to vanish, few enough that a chunk's
# scratch (im2col matrices, float64 requantization) stays within SCRATCH_BYTES.
MAX_CHUNK_IMAGES = 128
SCRATCH_BYTES = 32 << 20


class Interpreter:
    """A prepared graph. `run(x)` maps int8 images (N, ...) to the int8 outputs (N, ...).

    reference=True runs TFLM's reference kernels on the op data alone: no float sums, no
    tables, no fusion. The default fast path gives the same bytes.
    """

    def __init__(self, graph: Graph, reference: bool = False):
        self.graph = graph
        self.reference = reference
        ops = prepared_ops(graph)
        self._ops = ops if reference else tables.fuse(graph, ops)
        self._last_reader = _last_readers(graph)
        self._chunk_images = _chunk_images(graph)

    def run(self, *inputs: np.ndarray) -> np.ndarray | tuple[np.ndarray, ...]:
        """One array per graph input; one array back per graph output (a tuple if several)."""
        arrays = [self._checked_input(tensor_index, x)
                  for tensor_index, x in zip(self.graph.inputs, inputs, strict=False)]
        if len(inputs) != len(self.graph.inputs) or len({len(a) for a in arrays}) != 1:
            raise InputError(f"the model takes {len(self.graph.inputs)} inputs with the same "
                             f"number of images, got {[len(a) for a in arrays]}")
        n, step = len(arrays[0]), self._chunk_images
        chunks = parallel.map_chunks(self._run_chunk, [[a[start:start + step] for a in arrays]
                                                       for start in range(0, n, step)])
        outputs = tuple(np.concatenate([chunk[k] for chunk in chunks])
                        for k in range(len(self.graph.outputs)))
        return outputs[0] if len(outputs) == 1 else outputs

    def _run_chunk(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        values = dict(zip(self.graph.inputs, inputs))
        for op in self._ops:
            arguments = [values[t] if t in values else self._constant(t) for t in op.data_inputs]
            values[op.outputs[0]] = op.kernel(op.params, *arguments)
            for t in set(op.data_inputs):
                if self._last_reader.get(t) == op.index:
                    del values[t]
        return [values[t] for t in self.graph.outputs]

    def _constant(self, tensor_index: int) -> np.ndarray:
        return self.graph.tensors[tensor_index].data

    def _checked_input(self, tensor_index: int, x) -> np.ndarray:
        tensor = self.graph.tensors[tensor_index]
        x = np.asarray(x)
        if x.dtype != np.dtype(tensor.dtype) or x.ndim == 0 or x.shape[1:] != tensor.shape[1:] \
                or len(x) == 0:
            raise InputError(f"input {tensor.name!r} takes {tensor.dtype} arrays of shape "
                             f"[N, {', '.join(map(str, tensor.shape[1:]))}], got {x.dtype} "
                             f"{list(x.shape)}")
        return np.ascontiguousarray(x)


def prepared_ops(graph: Graph) -> list[PreparedOp]:
    """Every op of the graph prepared, so validated: raises as TFLM's prepare would, or where
    an activation lacks the batch dimension of 1 firmware_sim replaces by N."""
    ops = [prepare_op(graph, index) for index in range(len(graph.ops))]
    _check_batch_dimension(graph)
    return ops


def run(graph: Graph, *inputs: np.ndarray,
        reference: bool = False) -> np.ndarray | tuple[np.ndarray, ...]:
    """Prepare `graph` and run it on a batch: run(graph, x_int8) -> y_int8."""
    return Interpreter(graph, reference=reference).run(*inputs)


def quantize_input(graph: Graph, float_x: np.ndarray, input_index: int = 0) -> np.ndarray:
    """Quantize float images for a graph input as TFLM's QUANTIZE op would (AffineQuantize)."""
    tensor = graph.tensors[graph.inputs[input_index]]
    if tensor.dtype != "int8":
        raise InputError(f"input {tensor.name!r} is {tensor.dtype}, not a quantized int8 input")
    params = AffineQuantizeParams(np.float32(tensor.quant.scale), tensor.quant.zero_point)
    return affine_quantize(params, np.asarray(float_x, dtype=np.float32))


def _activation_tensors(graph: Graph) -> set[int]:
    used = set(graph.inputs) | set(graph.outputs)
    for op in graph.ops:
        used.update(t for t in (*op.inputs, *op.outputs) if t >= 0)
    return {t for t in used if not graph.tensors[t].is_constant}


def _check_batch_dimension(graph: Graph) -> None:
    for t in sorted(_activation_tensors(graph)):
        tensor = graph.tensors[t]
        if len(tensor.shape) == 0 or tensor.shape[0] != 1:
            raise ModelFileError(f"tensor {t} ({tensor.name!r}) has shape {list(tensor.shape)}; "
                                 f"firmware_sim needs a leading batch dimension of 1 on every "
                                 f"activation")


def _last_readers(graph: Graph) -> dict[int, int]:
    """For each activation, the last op that reads it; graph outputs are never released."""
    last = {}
    for index, op in enumerate(graph.ops):
        for t in op.inputs:
            if t >= 0 and not graph.tensors[t].is_constant and t not in graph.outputs:
                last[t] = index
    return last


def _chunk_images(graph: Graph) -> int:
    """Images per chunk, counting 8 bytes per element of the largest activation or im2col."""
    largest = max((graph.tensors[t].size for t in _activation_tensors(graph)), default=1)
    windows = max((_window_elements(graph, op) for op in graph.ops), default=0)
    per_image = 8 * max(largest, windows)
    return int(np.clip(SCRATCH_BYTES // per_image, 1, MAX_CHUNK_IMAGES))


def _window_elements(graph: Graph, op) -> int:
    """Elements of the im2col matrix of one image for a convolution, else 0."""
    if op.opcode != "CONV_2D" or len(op.inputs) < 2 or len(op.outputs) < 1:
        return 0
    filter_, output = graph.tensors[op.inputs[1]], graph.tensors[op.outputs[0]]
    return output.size // max(output.shape[-1], 1) * filter_.size // max(filter_.shape[0], 1)
