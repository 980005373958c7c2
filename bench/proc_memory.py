"""This process's memory as Linux reports it, for the benchmarks that measure it.

``ru_maxrss`` is not this process's own peak: Linux keeps the parent's peak across a child's
fork and exec (under a 4 GB pytest process a child read 4163 MiB; bench_large's children read
the 24 MP inputs their parent made). ``VmHWM`` in ``/proc/self/status`` is.
"""
from __future__ import annotations

import resource


def proc_status_mb(key: str) -> float:
    """A ``/proc/self/status`` memory figure (``VmRSS``, ``VmHWM``) in MiB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    raise KeyError(key)


def peak_mib() -> float:
    """This process's peak resident memory in MiB (``VmHWM``; ``ru_maxrss`` where there is no
    ``/proc``)."""
    try:
        return proc_status_mb("VmHWM")
    except (OSError, KeyError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux >= 4.0); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False
