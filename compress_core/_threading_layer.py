"""Numba's threading layer for the library's parallel kernels: which one, and one thread at a
time where the layer needs it.

The layer, where the process has not chosen one itself (``NUMBA_THREADING_LAYER``): Intel TBB
first, safe both across threads and across ``fork()``. GNU OpenMP (~1.5 us per parallel region)
kills any child forked after a parallel kernel ran ("Terminating: fork() called from a process
already using GNU OpenMP"): a multiprocessing.Pool made after one compress() hung for good, as
did gunicorn --preload and Celery prefork workers after a warm-up (integrator review 26).
Numba's own "workqueue" (~0.1 ms per region), the layer left where neither can be loaded (macOS,
whose pip installs neither; a process that asks for it), aborts the whole process when two
threads run parallel kernels at once ("Numba workqueue threading layer is terminating:
Concurrent access has been detected"): the parallel kernels are entered through
:func:`parallel_region`, which lets one thread in at a time on that layer (portability review
27; the library promises that ``compress()`` may be called from several threads).
"""
from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import sys
from typing import Iterator, Optional

import numba

from ._fork_locks import ForkSafeLock

__all__ = ["choose_layer", "parallel_region"]

#: Layers that abort the process when two threads enter parallel kernels at once (Numba's
#: documentation, "Selecting a threading layer for safe parallel execution").
_NOT_THREAD_SAFE = frozenset({"workqueue"})
_one_thread = ForkSafeLock()
#: Whether the layer Numba chose may be entered by several threads; None until a parallel
#: kernel has run (Numba chooses at the first one).
_thread_safe: Optional[bool] = None


def _load_tbb() -> None:
    """Load Intel TBB's library (PyPI ``tbb``, a requirement on Linux) where it can be. pip
    puts ``libtbb.so.12`` in ``<prefix>/lib`` of wherever it installed the package, where the
    dynamic linker does not look in a virtualenv (numba issue 6108: "No threading layer could
    be loaded"); loaded here first by its path (the package's own file list: a ``--user`` or
    ``--target`` install too), Numba's TBB layer then finds it by name. Where it cannot be,
    Numba takes GNU OpenMP, and a process forked after a kernel ran dies: said once."""
    if sys.platform != "linux":
        return
    from importlib import metadata

    try:
        files = metadata.files("tbb") or []
    except metadata.PackageNotFoundError:
        files = []
    for path in [str(f.locate()) for f in files if f.name == "libtbb.so.12"] or [
            os.path.join(sys.prefix, "lib", "libtbb.so.12")]:
        try:
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
            return
        except OSError:
            continue
    logging.getLogger(__name__).info(
        "Intel TBB (pip install tbb) cannot be loaded: Numba's kernels run on another "
        "threading layer (GNU OpenMP: a process forked after one ran is killed)")


def choose_layer() -> None:
    """TBB, then OpenMP, then workqueue, unless the process chose (``NUMBA_THREADING_LAYER``).
    Called on import of the kernels, before any parallel kernel runs."""
    if numba.config.THREADING_LAYER == "default":
        _load_tbb()
        numba.config.THREADING_LAYER_PRIORITY = ["tbb", "omp", "workqueue"]


@contextlib.contextmanager
def parallel_region() -> Iterator[None]:
    """Around each call of a ``parallel=True`` kernel: nothing where the layer is thread-safe,
    one thread at a time where it is not (and until the first kernel has shown which layer
    Numba took)."""
    global _thread_safe
    if _thread_safe:
        yield
        return
    with _one_thread:
        yield
        if _thread_safe is None:
            try:
                _thread_safe = numba.threading_layer() not in _NOT_THREAD_SAFE
            except ValueError:   # (no parallel kernel has run yet)
                pass
