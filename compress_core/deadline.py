"""Cooperative time budgets: ``compress(max_seconds=...)`` stops itself when time is up.

Python cannot stop a running thread from outside, so a batch job that gives each image a time
budget needs the work to check the clock itself. :func:`time_budget` sets a deadline for the
calling thread (a :mod:`contextvars` variable, so threads and nested calls do not mix);
:func:`check` raises :class:`~compress_core.errors.CompressionTimeoutError` once it has
passed. The library checks between its steps (decode, energy map, each block of seams, each
byte-budget candidate, each encode of a quality search), so a compression overshoots its
deadline by at most one step: tens of milliseconds for a block of seams or a CNN pass, but
one decode, the CNN's first load or one encode is a step too, 2-4 s for a 45-megapixel JPEG
(session 29's reviews). :func:`call_within` bounds a call from outside.
"""
from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from typing import Any, Callable, Dict, Iterator, Optional, Tuple

from .errors import CompressionTimeoutError

__all__ = ["time_budget", "check", "active", "call_within"]

#: (monotonic deadline, budget in seconds) of the current compression, or None.
_BUDGET: "contextvars.ContextVar[Optional[Tuple[float, float]]]" = contextvars.ContextVar(
    "semantic_compress_time_budget", default=None)


@contextlib.contextmanager
def time_budget(seconds: Optional[float]) -> Iterator[None]:
    """Run the ``with`` block under a budget of ``seconds`` (None: no budget).

    An enclosing budget that ends sooner stays in force.
    """
    if seconds is None:
        yield
        return
    end = time.monotonic() + seconds
    outer = _BUDGET.get()
    if outer is not None and outer[0] <= end:
        yield
        return
    token = _BUDGET.set((end, seconds))
    try:
        yield
    finally:
        _BUDGET.reset(token)


def active() -> bool:
    """Whether the calling thread runs under a budget (loops then work in smaller steps)."""
    return _BUDGET.get() is not None


def check(stage: str) -> None:
    """Raise :class:`CompressionTimeoutError` if the budget has run out (``stage``: where)."""
    budget = _BUDGET.get()
    if budget is not None and time.monotonic() > budget[0]:
        raise CompressionTimeoutError(
            f"compression ran past its time budget of {budget[1]:g} s (max_seconds) and "
            f"stopped after {stage}")


def call_within(seconds: float, fn: Callable[[], Any], name: str = "call-within") -> Any:
    """``fn()`` on a daemon thread named ``name``; :class:`TimeoutError` (its ``abandoned``
    attribute True, its ``thread`` the thread) if it has not returned in ``seconds``. Its
    exception, if any, is raised here. Python cannot stop a thread from
    outside: one that overruns is *abandoned* (its result dropped when it ends; it keeps its
    CPU and memory until then: a caller that goes on to more work of the same kind may join
    ``thread`` first). The batch job's per-image budget and its launch questions to the stores
    both wait this way."""
    box: Dict[str, Any] = {}

    def target():
        try:
            box["result"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised on the calling thread
            box["error"] = exc

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    # (a wait past threading.TIMEOUT_MAX, 292 years, raised OverflowError in join: the job's
    # --max_seconds_per_image 1e300 passed at launch and failed every image; edge review 36)
    thread.join(min(seconds, threading.TIMEOUT_MAX))
    if thread.is_alive():
        late = TimeoutError(f"no answer in {seconds:g} s")
        late.abandoned, late.thread = True, thread
        raise late
    if "error" in box:
        error = box.pop("error")
        try:
            raise error
        finally:
            # (the box held the error, whose traceback holds this frame and the box: a cycle
            # that kept the call's frames, a picture's arrays among them, until the next full
            # collection, where a caller dropped the error to free them: diff review 43)
            del error
    return box.pop("result", None)
