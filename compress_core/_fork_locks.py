"""Locks that a process forked while another thread held one gets free (private).

A child made by ``fork()`` has one thread, the one that forked, and a copy of every lock as it
was: one that another thread of the parent held then stays held in the child for good. A
service forking a worker pool while its threads ran ``compress()`` got children that hung in
their first call, at the CNN's lock (thread review 44: 1 child in 6-8). :class:`ForkSafeLock`
is a ``threading.Lock`` whose child copy is a new, free lock (as the standard library's own
locks are made anew in a child): what it guarded is whole there (the caches it guards are
filled whole or not at all; a model's forward pass in another parent thread leaves the model
as it was).
"""
from __future__ import annotations

import os
import threading
import weakref

__all__ = ["ForkSafeLock"]

_ALL: "weakref.WeakSet[ForkSafeLock]" = weakref.WeakSet()


class ForkSafeLock:
    """``threading.Lock()`` (``with``, ``acquire``, ``release``, ``locked``), free again in a
    child forked while any thread held it."""

    __slots__ = ("_lock", "__weakref__")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        _ALL.add(self)

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return self._lock.acquire(blocking, timeout)

    def release(self) -> None:
        self._lock.release()

    def locked(self) -> bool:
        return self._lock.locked()

    def __enter__(self) -> bool:
        return self._lock.acquire()

    def __exit__(self, *exc) -> None:
        self._lock.release()


def _free_in_the_child() -> None:
    for lock in list(_ALL):
        lock._lock = threading.Lock()


if hasattr(os, "register_at_fork"):  # (POSIX)
    os.register_at_fork(after_in_child=_free_in_the_child)
