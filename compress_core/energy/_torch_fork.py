"""torch in a process forked after it ran: one thread (private; imported with the energies).

torch's CPU operators run on GNU OpenMP (its own ``libgomp``) on Linux, whose thread pool does
not survive ``fork()``: a child forked after a parallel operator ran in the parent waited for
good at the pool's barrier (``gomp_team_barrier_wait_end``) in its first operator with more
than one thread. A ``multiprocessing`` pool with the fork start method made after one
``compress()`` with the default energy, gunicorn ``--preload`` and Celery's prefork workers
after a warm-up hung (API review 29; the Numba kernels, on TBB, were already safe). In such a
child torch runs on one thread: set in the child, before anything else runs there, by a handler
registered when the library is imported, without importing torch (a process whose torch ran
elsewhere, its own model, forks as safely: diff review 29), and acting only where torch is
imported. A child that wants torch's threads is started by ``spawn`` or ``forkserver``.
"""
from __future__ import annotations

import os
import sys

__all__: list = []


def _one_thread_in_the_child() -> None:
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


if hasattr(os, "register_at_fork"):  # (POSIX)
    os.register_at_fork(after_in_child=_one_thread_in_the_child)
