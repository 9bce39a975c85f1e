"""TensorFlow's import without its C++ log lines on the user's terminal.

Importing TensorFlow 2.21 writes absl/C++ lines straight to file descriptor 2 (oneDNN, "Could not
find cuda drivers", the CPU feature guard; some ignore TF_CPP_MIN_LOG_LEVEL), and its first device
query writes "failed call to cuInit". They would precede every command's one-line error. So the
first `import tensorflow`, whichever lenet_edge (or convert, firmware_sim) module makes it, runs
with descriptor 2 pointed at /dev/null, together with the device query, and then gets it back:
everything after the import, Python's exceptions and TensorFlow's real errors, shows as before.
An exception raised by the import itself propagates once descriptor 2 is restored.
LENET_EDGE_TF_LOGS=1 keeps the lines (to debug an installation).
"""
from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import sys

MODULE = "tensorflow"
KEEP_LOGS = "LENET_EDGE_TF_LOGS"


@contextlib.contextmanager
def stderr_silenced():
    """File descriptor 2 (not just sys.stderr: the C++ logs write to the descriptor) to /dev/null."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def native_logs_silenced():
    """stderr_silenced around a TensorFlow or LiteRT call that logs to descriptor 2 (the int8
    converter's "fully_quantize: 0, ...", LiteRT's "Created TensorFlow Lite XNNPACK delegate");
    their errors still come as Python exceptions. Kept with LENET_EDGE_TF_LOGS=1."""
    return contextlib.nullcontext() if os.environ.get(KEEP_LOGS) else stderr_silenced()


class _QuietLoader(importlib.abc.Loader):
    """Runs TensorFlow's own loader silenced; everything else is the wrapped loader's."""

    def __init__(self, loader):
        self._loader = loader

    def __getattr__(self, name):
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        with stderr_silenced():
            self._loader.exec_module(module)
            module.config.list_physical_devices()  # the cuInit line comes with the first device query
        # its Python logger's warnings too (a tf.function retraced for each pruned model is by design)
        module.get_logger().setLevel("ERROR")


class _QuietFinder(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` the usual way once, wrapping its loader; then leaves sys.meta_path."""

    def find_spec(self, name, path=None, target=None):
        if name != MODULE:
            return None
        remove()
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


_FINDER = _QuietFinder()


def install() -> None:
    if MODULE not in sys.modules and not os.environ.get(KEEP_LOGS) and _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def remove() -> None:
    if _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
