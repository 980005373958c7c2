"""The heap glibc keeps after freeing, given back to the system every :data:`TRIM_EVERY`
compressions of a process.

A process that compresses many photos of varied sizes grows in memory no object holds: glibc
keeps freed pages for reuse. A batch worker that computes importance maps grew by about 30 MB
per 100 photos, 1.06 -> 1.43 GB over 1,200 (perf review 27; trimmed every 32 images it stayed
at 1.1-1.17 GB), and a service calling one ``SemanticCompressor`` 2,000 times climbed
1.21 -> 1.43 GB, holding what it reached, where trimmed every 32 calls it stayed at
1.16-1.37 GB in the same time (scale review 49; ``bench/bench_service_memory.py``).
:meth:`SemanticCompressor.compress` counts its calls here (:func:`count_compression`),
process-wide, so every user of the library gets it, the batch job included.
"""
from __future__ import annotations

import ctypes
import functools
import sys

from ._fork_locks import ForkSafeLock

__all__ = ["TRIM_EVERY", "release_freed_heap", "count_compression"]

#: Compressions of a process between two returns of freed heap to the system (each costs
#: about 1-18 ms: a walk over the allocator's arenas).
TRIM_EVERY = 32

_lock = ForkSafeLock()   # (free again in a child forked while a thread counted)
_since_trim = 0


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    """glibc's ``malloc_trim``, or ``None`` (another C library, another system)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):   # (musl: no such function)
        return None


def release_freed_heap() -> bool:
    """Give the heap that glibc keeps after freeing back to the system (``malloc_trim(0)``);
    whether it could. The rest of a long run's growth is torch's oneDNN cache of compiled
    kernels, one per input shape (BENCHMARKS.md, "Worker memory over a long run")."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


def count_compression() -> bool:
    """Count one compression of this process; every :data:`TRIM_EVERY`-th gives the freed
    heap back (:func:`release_freed_heap`). Whether this one did."""
    global _since_trim
    with _lock:
        _since_trim += 1
        due = _since_trim >= TRIM_EVERY
        if due:
            _since_trim = 0
    return release_freed_heap() if due else False
