"""Enlarging by seam insertion.

The ``n`` cheapest seams are found by removal on a copy (:mod:`compress_core.seams.state`), then
each is duplicated as the average of the seam pixel and its left neighbour
(:func:`compress_core.seams.kernels.insert_seams`); the static energy map is widened the same
way. Large enlargements go in steps of at most ``step_ratio`` of the current size so that the
same seam is not stretched again and again.
"""
from __future__ import annotations

import numpy as np

from .. import deadline
from . import kernels
from .state import working_state

__all__ = ["enlarge", "insert_block"]


def enlarge(pixels, static, gradient_weight, delta: int, vertical: bool, *, forward: bool,
            step_ratio: float, progress=None):
    """Insert ``delta`` vertical (or horizontal) seams; returns pixels and static map."""
    if not vertical:
        pixels = np.ascontiguousarray(pixels.transpose(1, 0, 2))
        static = None if static is None else np.ascontiguousarray(static.T)
    while delta > 0:
        w = pixels.shape[1]
        step = min(delta, max(1, int(round(step_ratio * w))), max(w - 1, 1))
        pixels, static = insert_block(pixels, static, gradient_weight, step, forward=forward)
        delta -= step
        deadline.check("inserting a block of seams")
        if progress is not None:
            progress.update(step)
    if not vertical:
        pixels = np.ascontiguousarray(pixels.transpose(1, 0, 2))
        static = None if static is None else np.ascontiguousarray(static.T)
    return pixels, static


def insert_block(pixels, static, gradient_weight, n: int, *, forward: bool):
    """Insert ``n`` vertical seams at once (``n`` < width, or width 1); pixels and static map."""
    h, w, c = pixels.shape
    if w == 1:  # the only seam is the single column: duplicate it
        mask = np.ones((h, 1), dtype=bool)
    else:
        removed = working_state(pixels, static, gradient_weight, forward).remove(n)
        mask = np.zeros(h * w, dtype=bool)
        mask[removed.ravel()] = True
        mask = mask.reshape(h, w)
    out = np.empty((h, w + n, c), dtype=np.float32)
    inserted = np.empty((h, w + n), dtype=np.bool_)
    kernels.insert_seams(pixels.astype(np.float32), mask, n, out, inserted)
    new_pixels = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    if static is not None:
        s_out = np.empty((h, w + n, 1), dtype=np.float32)
        kernels.insert_seams(static[:, :, None], mask, n, s_out, inserted)
        static = np.ascontiguousarray(s_out[:, :, 0])
    return new_pixels, static
