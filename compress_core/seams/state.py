"""Working arrays of one image while the kernels carve it (:class:`CarveState`).

One state holds fresh copies of the gray image, the static energy map and the flat source index
in one orientation (vertical seams along axis 1); horizontal seams use the transposed state.
The kernels of :mod:`compress_core.seams.kernels` carve these copies in place, many seams per
call, without reallocating.
"""
from __future__ import annotations

import math

import numpy as np

from ..energy.gradient import luma_u8
from .. import deadline
from . import kernels

__all__ = ["CarveState", "working_state", "carved", "gather"]


class CarveState:
    """Working arrays of one image in one orientation (vertical seams along axis 1)."""

    def __init__(self, gray, static, index, gradient_weight, forward):
        # The kernels carve these arrays in place: every one is a fresh copy owned here, so
        # no caller's array (a static map, a cached energy) is ever written to.
        self.gray = np.array(gray, dtype=np.uint8, order="C", copy=True)
        self.has_static = static is not None
        self.static = (
            np.array(static, dtype=np.float32, order="C", copy=True)
            if static is not None
            else np.zeros((1, 1), dtype=np.float32)
        )
        self.index = np.array(index, dtype=np.int32, order="C", copy=True)
        if (self.gray.ndim != 2 or self.gray.size == 0 or self.index.shape != self.gray.shape
                or (self.has_static and self.static.shape != self.gray.shape)):
            raise ValueError(
                f"seam kernel arrays disagree: gray {self.gray.shape}, index {self.index.shape}, "
                f"static {self.static.shape if self.has_static else None}")
        self.gradient_weight = np.float32(gradient_weight)
        self.forward = bool(forward)
        self.h, self.w = self.gray.shape
        self.energy = np.empty(self.gray.shape, dtype=np.float32)
        self.cost = np.empty(self.gray.shape, dtype=np.float32)
        self.cost_valid = False
        self.off = np.zeros(self.h, dtype=np.int32)
        self.seam = np.empty(self.h, dtype=np.int32)
        if not self.forward:
            kernels.fill_energy(self.gray, self.off, self.static, self.has_static,
                                self.gradient_weight, self.energy, self.h, self.w)

    def remove(self, n: int, progress=None, costs_out=None) -> np.ndarray:
        """Remove ``n`` vertical seams; return their flat source indices (n, h).

        ``costs_out`` (float32 (n,)) receives each seam's cumulative cost.
        """
        removed = np.empty((n, self.h), dtype=np.int32)
        costs = np.empty(n, dtype=np.float32) if costs_out is None else costs_out
        # in steps when someone watches: a progress bar, or a time budget (checked per step)
        watched = progress is not None or deadline.active()
        chunk = max(1, math.ceil(n / 50)) if watched else n
        done = 0
        while done < n:
            step = min(chunk, n - done)
            self.w = kernels.carve_vertical(
                self.gray, self.static, self.has_static, self.gradient_weight, self.forward,
                self.energy, self.index, self.cost, self.cost_valid, self.off, self.seam,
                self.w, step,
                removed[done:done + step], costs[done:done + step],
            )
            self.cost_valid = True
            done += step
            if progress is not None:
                progress.update(step)
            deadline.check(f"removing seams ({done} of the {n} of this step)")
        return removed

    def cheapest_cost(self) -> float:
        """Cost of the cheapest seam (fills the cumulative cost map for the next removal)."""
        cost = float(kernels.cheapest_seam_cost(
            self.gray, self.off, self.static, self.has_static, self.gradient_weight,
            self.forward, self.energy, self.cost, self.w))
        self.cost_valid = True
        return cost

    def transposed(self) -> "CarveState":
        """The same logical image, transposed (horizontal seams become vertical)."""
        state = CarveState.__new__(CarveState)
        state.gray = np.ascontiguousarray(self.valid("gray").T)
        state.has_static = self.has_static
        state.static = (np.ascontiguousarray(self.valid("static").T) if self.has_static
                        else self.static)
        state.index = np.ascontiguousarray(self.valid("index").T)
        state.gradient_weight = self.gradient_weight
        state.forward = self.forward
        state.h, state.w = state.gray.shape
        # Sobel L1 is symmetric under transposition, so the maintained energy carries over.
        state.energy = np.ascontiguousarray(self.valid("energy").T)
        state.cost = np.empty(state.gray.shape, dtype=np.float32)
        state.cost_valid = False
        state.off = np.zeros(state.h, dtype=np.int32)
        state.seam = np.empty(state.h, dtype=np.int32)
        return state

    def valid(self, name: str) -> np.ndarray:
        """The logical image of one working array, as a new contiguous (h, w) array."""
        array = getattr(self, name)
        out = np.empty((self.h, self.w), dtype=array.dtype)
        kernels.compact(array, self.off, self.w, out)
        return out


def working_state(pixels: np.ndarray, static, gradient_weight, forward: bool) -> CarveState:
    """A fresh :class:`CarveState` of uint8 (H, W, C) ``pixels`` with the identity index."""
    h, w = pixels.shape[:2]
    gray = pixels[:, :, 0] if pixels.shape[2] == 1 else luma_u8(pixels[..., :3])
    return CarveState(gray, static, np.arange(h * w, dtype=np.int32).reshape(h, w),
                      gradient_weight, forward)


def carved(state: CarveState, pixels: np.ndarray):
    """Output pixels (all channels), carved static map and source index of a finished state."""
    local = state.valid("index")
    out, _ = gather(local, pixels, None)
    static = state.valid("static") if state.has_static else None
    return out, static, local


def gather(local: np.ndarray, pixels: np.ndarray, static):
    """Pixels (all channels) and static map (or None) at the flat input indices ``local``.

    What :func:`carved` returns for a state whose index is ``local``: the kernels move pixels
    and static values together and never recompute the static map.

    Parameters
    ----------
    local : int32 (h, w)
        Flat indices into the first two axes of ``pixels``, each in range.
    pixels : uint8 (H, W, C), C-contiguous
    static : float32 (H, W) or None
    """
    local = np.ascontiguousarray(local, dtype=np.int32)
    if local.ndim != 2 or pixels.ndim != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"gather needs int32 (h, w) indices and uint8 (H, W, C) pixels; got "
                         f"{local.shape} and {pixels.dtype} {pixels.shape}")
    size = pixels.shape[0] * pixels.shape[1]
    if local.size and (int(local.min()) < 0 or int(local.max()) >= size):
        raise ValueError(f"gather: indices must lie in [0, {size}); got "
                         f"[{int(local.min())}, {int(local.max())}]")
    flat = np.ascontiguousarray(pixels).reshape(-1, pixels.shape[2])
    out = np.empty(local.shape + (pixels.shape[2],), dtype=np.uint8)
    kernels.gather_pixels(flat, local, local.shape[0], local.shape[1], out)
    return out, (None if static is None else np.asarray(static, dtype=np.float32).ravel()[local])
