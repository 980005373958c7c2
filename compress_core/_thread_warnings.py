"""Warnings caught per thread, leaving the process's warnings as they are.

``warnings.catch_warnings`` swaps process-wide state (``showwarning``, the filter list) and is
not thread-safe before Python 3.14: four threads compressing at once left the host's
``showwarning`` a stray ``list.append`` for good (every later warning of the application
swallowed) and an "error" filter of ours behind (the host's own ``Image.open`` of a large
picture then raised; integrator review 26).

Here one hook stands in ``warnings.showwarning``, installed at the first use (and again where a
``catch_warnings`` of the host put its own back): a warning of a thread inside
:func:`collected` goes to that thread's list, of one inside :func:`silenced` nowhere, of any
other thread to the ``showwarning`` that was there before. Pillow's ``UserWarning``\\ s (notes
on damaged EXIF blocks) are shown every time, not once a process, so that each file's own
notes are collected, and never raised by a host's "error" filter: one filter, put first
(again at a use where it is not first).
"""
from __future__ import annotations

import contextlib
import threading
import warnings
from typing import Callable, Iterator, List

from ._fork_locks import ForkSafeLock

__all__ = ["collected", "silenced"]

_local = threading.local()
_lock = ForkSafeLock()
_first: Callable = warnings.showwarning   # (what showed warnings before any install)
_previous: Callable = warnings.showwarning
_PILLOW = r"PIL\."


def _hook(message, category, filename, lineno, file=None, line=None):
    sink = getattr(_local, "sink", None)
    if sink is not None:
        sink(warnings.WarningMessage(message, category, filename, lineno, file, line))
        return
    if getattr(_local, "showing", False):
        # called again from within what it called: a host's wrapper of the showwarning it
        # found (this hook, installed again over the wrapper) calls it back; the first
        # showwarning shows it (it went round and round: RecursionError, diff review 26)
        _first(message, category, filename, lineno, file, line)
        return
    _local.showing = True
    try:
        _previous(message, category, filename, lineno, file, line)
    finally:
        _local.showing = False


def _pillow_shown_always(entry) -> bool:
    action, _, category, module, _ = entry
    return (action == "always" and category is UserWarning
            and getattr(module, "pattern", None) == _PILLOW)


def _install() -> None:
    global _previous
    with _lock:
        if warnings.showwarning is not _hook:
            _previous = warnings.showwarning
            warnings.showwarning = _hook
        # first, as a catch_warnings(record=True) of the library's put it (a host's "error"
        # filter raised Pillow's notes on a damaged EXIF block as exceptions); again where a
        # catch_warnings of the host, around an earlier use, took it away
        if not (warnings.filters and _pillow_shown_always(warnings.filters[0])):
            for entry in [e for e in warnings.filters if _pillow_shown_always(e)]:
                warnings.filters.remove(entry)
            warnings.filterwarnings("always", category=UserWarning, module=_PILLOW)


@contextlib.contextmanager
def _routed(sink) -> Iterator[None]:
    _install()
    outer = getattr(_local, "sink", None)
    _local.sink = sink
    try:
        yield
    finally:
        _local.sink = outer


@contextlib.contextmanager
def collected() -> Iterator[List[warnings.WarningMessage]]:
    """The warnings this thread shows inside the block, in a list (not shown)."""
    notes: List[warnings.WarningMessage] = []
    with _routed(notes.append):
        yield notes


@contextlib.contextmanager
def silenced() -> Iterator[None]:
    """The warnings this thread shows inside the block, dropped."""
    with _routed(lambda note: None):
        yield
