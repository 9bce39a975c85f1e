"""Chunks of a batch on worker threads, one core each.

numpy releases the GIL inside its loops, so the chunks of a batch run in parallel on threads.
Their matrix products go to OpenBLAS, which by default spreads every call over all cores; with
several workers that oversubscribes the cores, and OpenBLAS threads spinning for a busy core
can stall a run for seconds. So each worker asks OpenBLAS for one thread
(openblas_set_num_threads_local, OpenBLAS 0.3.27 and later, in the library numpy loaded), and
so does the calling thread while it runs a batch of one chunk itself (the reader's batch of one
string's candidates). Where that call is not found, chunks run one after another on the calling
thread. In the OpenBLAS numpy bundles the setting is the process's, not the thread's (a value
one thread sets is the one another reads back): once the pool has started, every product runs
on one thread; before, only the batches of one chunk that `_one_blas_thread` guards do.
"""
import contextlib
import ctypes
import functools
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np

MAX_WORKERS = 4


def _openblas_local_threads() -> Callable[[int], int] | None:
    """openblas_set_num_threads_local of the OpenBLAS bundled with numpy, if there is one."""
    libraries = Path(np.__file__).parent.parent / "numpy.libs"
    for path in sorted(libraries.glob("*openblas*")):
        try:
            setter = ctypes.CDLL(str(path)).openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        setter.argtypes, setter.restype = [ctypes.c_int], ctypes.c_int
        return setter
    return None


_SET_LOCAL_THREADS = _openblas_local_threads()


def worker_count() -> int:
    """Workers the machine offers: the cores this process may use, when BLAS can be tamed."""
    if _SET_LOCAL_THREADS is None:
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cores or 1, MAX_WORKERS))


def map_chunks(function: Callable, chunks: list) -> list:
    """[function(chunk) for chunk in chunks], on worker threads when there are several chunks."""
    workers = min(worker_count(), len(chunks))
    if workers <= 1:
        with _one_blas_thread():
            return [function(chunk) for chunk in chunks]
    return list(_pool().map(function, chunks))


@contextlib.contextmanager
def _one_blas_thread():
    """One OpenBLAS thread while the calling thread runs a chunk, the setting it found back
    afterwards: a chunk's products are small, and OpenBLAS spreading them over busy cores made
    a reader's batch of 26 candidates 6-11x slower on the wall clock and burnt CPU spinning
    (42 ms a call against 3.7-7 ms at load 5.5, issue 15)."""
    if _SET_LOCAL_THREADS is None:
        yield
        return
    previous = _SET_LOCAL_THREADS(1)
    try:
        yield
    finally:
        _SET_LOCAL_THREADS(previous)


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(worker_count(), thread_name_prefix="firmware_sim",
                              initializer=_SET_LOCAL_THREADS, initargs=(1,))


# A forked child inherits the pool object but not its threads: it must start a pool of its own.
os.register_at_fork(after_in_child=_pool.cache_clear)
