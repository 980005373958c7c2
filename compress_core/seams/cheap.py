"""Carving while the seams stay cheap, recorded: a smaller budget is a prefix (:class:`CheapCarve`).

:meth:`SeamCarver.carve_while_cheap <compress_core.seams.carver.SeamCarver.carve_while_cheap>`
removes seams of one direction in blocks and stops after the first block whose last seam costs
more than a limit. Seam carving is greedy and sequential: the kernels remove one seam at a time
and keep their cumulative cost map exact after each (the incremental update is bit-identical to
a full recompute), so the first ``k`` seams of a carve of ``n`` are exactly the seams a carve of
``k`` removes, with the same costs, whatever the blocks. A carve with a smaller budget under the
same limit (what the hybrid policy retries when seams squeeze what matters) is therefore a prefix
of the first carve: its own block size and stopping point are simulated on the recorded costs,
and its result is gathered from the input without carving again.

The kernels only shift the static map with the pixels (they never recompute it), so the carved
static map is the input's map at the kept positions, as are the pixels.
"""
from __future__ import annotations

import math
from typing import Iterator, Optional, Tuple

import numpy as np

from ..targets import check_positive_int
from .state import gather

__all__ = ["CheapCarve", "block_size", "too_costly", "cheap_blocks", "cheap_stop",
           "kept_sources"]


def block_size(max_seams: int, block: int = 0) -> int:
    """Seams per block of a carve of at most ``max_seams``: ``block``, or a fortieth of them."""
    return block or max(1, math.ceil(max_seams / 40))


def too_costly(cost, seam_length: int, max_seam_energy: float) -> bool:
    """Whether a seam of cumulative ``cost`` over ``seam_length`` pixels stops the carving.

    ``cost`` is the kernel's float32 value: both the carve and its replay compare exactly this
    expression, so they stop at the same seam.
    """
    return bool(cost / seam_length > max_seam_energy)


def cheap_blocks(costs: np.ndarray, seam_length: int, max_seams: int, max_seam_energy: float,
                 block: int = 0) -> Iterator[Tuple[int, int]]:
    """The stopping rule of ``carve_while_cheap``, the one place it is written: ``(start, stop)``
    of each block of seams, in order.

    Blocks hold :func:`block_size` seams; after yielding a block the rule reads
    ``costs[stop - 1]`` and ends there when that seam is :func:`too_costly`. The carve fills
    ``costs[start:stop]`` with the block's seams before asking for the next; a replay
    (:func:`cheap_stop`) reads the costs it recorded.
    """
    block = block_size(max_seams, block)
    removed = 0
    while removed < max_seams:
        start, removed = removed, removed + min(block, max_seams - removed)
        yield start, removed
        if too_costly(costs[removed - 1], seam_length, max_seam_energy):
            return


def cheap_stop(costs: np.ndarray, seam_length: int, max_seams: int, max_seam_energy: float,
               block: int = 0) -> int:
    """Seams a carve of at most ``max_seams`` removes, given the costs of the seams in order
    (the last ``stop`` of :func:`cheap_blocks`). ``costs`` must cover ``max_seams`` seams."""
    if len(costs) < max_seams:
        raise ValueError(f"max_seams ({max_seams}) exceeds the {len(costs)} recorded seam costs")
    removed = 0
    for _, removed in cheap_blocks(costs, seam_length, max_seams, max_seam_energy, block):
        pass
    return removed


class CheapCarve:
    """One carve while cheap, recorded: the seams in removal order and their costs.

    Attributes
    ----------
    vertical : bool
        Vertical seams (columns removed) or horizontal ones (rows removed).
    shape : (H, W)
        The input's shape.
    seams : int32 (n, L)
        Flat input index (``row * W + col``) of every pixel of each removed seam, in removal
        order; ``L`` is H for vertical seams, W for horizontal ones.
    costs : float32 (n,)
        Each seam's cumulative cost (kernel units).
    max_seam_energy : float
        The carve's limit on a seam's mean energy per pixel.
    result : (pixels, static, source, removed)
        What the carve returned (see ``SeamCarver.carve_while_cheap``).

    The record reads the input pixels and static map it was made from (never writes them):
    the caller must not change them while it uses the record.
    """

    def __init__(self, pixels: np.ndarray, static: Optional[np.ndarray], vertical: bool,
                 seams: np.ndarray, costs: np.ndarray, max_seam_energy: float, result):
        self._pixels = pixels
        self._static = static
        self.vertical = bool(vertical)
        self.shape: Tuple[int, int] = tuple(pixels.shape[:2])
        self.seams = seams
        self.costs = costs
        self.max_seam_energy = max_seam_energy
        self.result = result

    @property
    def removed(self) -> int:
        """Seams the carve removed."""
        return len(self.costs)

    @property
    def seam_length(self) -> int:
        """Pixels per seam (the height of the carving orientation)."""
        return self.shape[0] if self.vertical else self.shape[1]

    def fewer(self, max_seams: int, block: int = 0):
        """What ``carve_while_cheap`` with ``max_seams`` (and ``block``) under the same limit, on
        the same input, would return, without carving again.

        Parameters
        ----------
        max_seams : int >= 1
            The smaller budget: at most the seams this carve removed (a larger one could carve
            seams this record does not hold), or any when the input has one line to carve.
        block : int, optional
            Seams per block (default: a fortieth of ``max_seams``, as the carve).

        Returns
        -------
        pixels, static, source, removed
            As :meth:`SeamCarver.carve_while_cheap`, bit for bit.
        """
        extent = self.shape[1] if self.vertical else self.shape[0]
        max_seams = min(check_positive_int(max_seams, "max_seams"), extent - 1)
        if max_seams > self.removed:
            raise ValueError(f"max_seams must be at most the {self.removed} seams this carve "
                             f"removed; got {max_seams}")
        block = 0 if block == 0 else check_positive_int(block, "block")
        k = cheap_stop(self.costs, self.seam_length, max_seams, self.max_seam_energy, block)
        return self.prefix(k)

    def truncated(self, k: int) -> "CheapCarve":
        """The record of this carve's first ``k`` seams alone (its ``result`` their carve)."""
        return CheapCarve(self._pixels, self._static, self.vertical, self.seams[:k],
                          self.costs[:k], self.max_seam_energy, self.prefix(k))

    def prefix(self, k: int):
        """The carve's state after its first ``k`` seams: (pixels, static, source, k)."""
        if not 0 <= k <= self.removed:
            raise ValueError(f"k must be in [0, {self.removed}]; got {k}")
        if k == self.removed:
            return self.result
        source = kept_sources(self.seams[:k], self.shape, self.vertical)
        out, static = gather(source, self._pixels, self._static)
        return out, static, source, k


def kept_sources(seams: np.ndarray, shape: Tuple[int, int], vertical: bool) -> np.ndarray:
    """Flat input index of every pixel left after removing ``seams`` (int32 (k, L)).

    Seams keep the order of what they leave: the kept pixels of each row (vertical seams) or
    column (horizontal ones) are the input's, in order, less those on a seam.
    """
    h, w = shape
    k = seams.shape[0]
    kept = np.ones(h * w, dtype=bool)
    kept[seams.ravel()] = False
    if vertical:
        return np.flatnonzero(kept).astype(np.int32).reshape(h, w - k)
    # horizontal seams: one pixel per column and seam; each column's kept rows, in order (a
    # row index picked by the mask: 0.09 s for 10 megapixels where the mask's nonzero() of
    # both coordinates took 0.46 s, once per retry and per step of a bisection)
    by_column = np.ascontiguousarray(kept.reshape(h, w).T)
    rows = np.broadcast_to(np.arange(h, dtype=np.int32), (w, h))[by_column].reshape(w, h - k)
    return np.ascontiguousarray((rows * w + np.arange(w, dtype=np.int32)[:, None]).T)
