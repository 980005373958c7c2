"""SeamCarver: content-aware resizing by seam removal and insertion.

The Python layer validates inputs, builds the working arrays once per image and calls the Numba
kernels of :mod:`compress_core.seams.kernels`, which remove many seams per call without
reallocating. Horizontal seams reuse the vertical code on transposed arrays.

Seam order when both sides change (``order``):

``"width_first"`` / ``"height_first"``
    all seams of one direction (removed or inserted), then the other, as li-plus seam-carving
    does, also when one side shrinks and the other grows.
``"auto"`` (default)
    every removal first, in blocks (an eighth of what is left, at least one), each block in the
    direction whose cheapest seam costs less: a greedy version of the optimal order of Avidan &
    Shamir (2007), which would need a dynamic programme over all (vertical, horizontal) counts;
    then insertions, vertical before horizontal.

Gray in, gray out: a 2-D array (or a PIL gray image) is carved on its own values (no RGB round
trip, exactly as seam-carving 1.1.0 carves gray arrays) and comes back 2-D.

Ownership: the kernels carve working copies (:mod:`compress_core.seams.state`); no array given
by a caller (image, mask, static energy map, a map an energy function caches) is ever written to.

Parts: inputs, masks and energy terms are checked in :mod:`compress_core.seams.inputs`; the
working arrays of one image live in :mod:`compress_core.seams.state`; enlarging by seam
insertion is :mod:`compress_core.seams.insertion`. This module holds the order of operations.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from ..energy.base import EnergyFunction
from ..energy.gradient import GradientEnergyFunction
from ..images import DEFAULT_MAX_PIXELS
from ..pixels import as_pixel_array
from ..options import EnergyMode, SeamOrder, check_flag, given, parse_option
from ..targets import check_positive_int, check_positive_number
from .inputs import (KEEP_ENERGY, REMOVE_ENERGY, check_mask, check_pixels, check_terms,
                     is_gray_2d, kept_pixels, rgb_view, with_masks)
from .cheap import CheapCarve, cheap_blocks
from .insertion import enlarge
from .state import CarveState, carved, working_state

__all__ = ["SeamCarver", "CarveResult", "CheapCarve", "remove_object", "KEEP_ENERGY",
           "REMOVE_ENERGY"]

log = logging.getLogger(__name__)

#: Largest enlargement per seam-insertion step, as a fraction of the current size
#: (``SeamCarver(step_ratio=)``).
DEFAULT_STEP_RATIO = 0.5


@dataclass(frozen=True)
class CarveResult:
    """What :meth:`SeamCarver.carve` produced.

    Attributes
    ----------
    pixels : ndarray of uint8, shape (h, w, C), or (h, w) for gray 2-D / PIL gray input
        The resized image, same channels as the input (alpha carved with the pixels).
    source_index : ndarray of int32, shape (h, w), or None
        Flat index ``row * W + col`` in the input of every output pixel; ``None`` when seams
        were inserted (an inserted pixel has no single source).
    seams_vertical, seams_horizontal : int
        Seams removed in each direction (negative: inserted), object removal included.
    removal_index : ndarray of int32, shape (h1, w1), or None
        ``source_index`` of the picture after the removals, before any seam was inserted (what
        the input lost, when seams were also inserted); None where seams were removed after
        an insertion (an explicit ``order``: not known), or when built without it.
    """

    pixels: np.ndarray
    source_index: Optional[np.ndarray]
    seams_vertical: int
    seams_horizontal: int
    removal_index: Optional[np.ndarray] = None

    def kept_mask(self, shape: Tuple[int, int]) -> Optional[np.ndarray]:
        """Boolean (H, W) map of the input pixels that survive (the removals: inserted seams
        remove nothing), or None where that is not known."""
        index = self.source_index if self.source_index is not None else self.removal_index
        if index is None:
            return None
        kept = np.zeros(shape[0] * shape[1], dtype=bool)
        kept[index.ravel()] = True
        return kept.reshape(shape)


class SeamCarver:
    """Content-aware resizing by seam carving (Avidan & Shamir 2007).

    Parameters
    ----------
    energy_function : EnergyFunction, optional
        Importance map. Default :class:`GradientEnergyFunction` (Sobel L1, updated near each
        seam). Other functions give a *static* map carved along with the pixels plus a dynamic
        gradient term (see :meth:`EnergyFunction.carving_terms`).
    keep_mask : array-like of bool (H, W), optional
        Pixels to protect (seams avoid them unless nothing else is left). Masks are of the
        picture as it is carved: a PIL image upright, as its EXIF orientation shows it
        (:func:`~compress_core.pixels.as_pixel_array`), not as its pixels are stored.
    remove_mask : array-like of bool (H, W), optional
        Pixels to remove first (seams are drawn through them); see :func:`remove_object`.
    energy_mode : {"backward", "forward"}
        ``backward`` removes the seam of least energy; ``forward`` (Rubinstein et al. 2008) the
        seam that inserts the least new gradient, which keeps straight edges straighter.
    order : {"auto", "width_first", "height_first"}
        Order of vertical and horizontal seams when both sides change (see module docs).
    step_ratio : float in (0, 1], optional
        Largest enlargement per insertion step, as a fraction of the current size (default
        :data:`DEFAULT_STEP_RATIO`).
    show_progress : bool
        Show a tqdm bar over the seams.

    Raises
    ------
    ValueError, TypeError
        On invalid parameters; masks are checked against the image in :meth:`resize`.
    """

    def __init__(self, energy_function: Optional[EnergyFunction] = None, keep_mask=None,
                 remove_mask=None, energy_mode: str = "backward", order: str = "auto",
                 step_ratio: Optional[float] = None, show_progress: bool = False):
        if energy_function is not None and (isinstance(energy_function, type) or not callable(
                getattr(energy_function, "carving_terms", None))):
            # what the carver calls: an EnergyFunction, or an object that passes its
            # carving_terms on (a plain function was taken here and failed in resize() with an
            # AttributeError: docs review 34)
            raise TypeError("energy_function must be an EnergyFunction (a subclass implementing "
                            "compute(rgb) -> map, e.g. GradientEnergyFunction()) or have its "
                            f"carving_terms(rgb); got {given(energy_function)}")
        self.energy_function = energy_function or GradientEnergyFunction()
        self.keep_mask = keep_mask
        self.remove_mask = remove_mask
        self.energy_mode = parse_option(EnergyMode, energy_mode, "energy_mode")
        self.order = parse_option(SeamOrder, order, "order")
        # (None: the default, as for the other options; it was compared with 1 and failed)
        step_ratio = check_positive_number(step_ratio, "step_ratio")
        if step_ratio is None:
            step_ratio = DEFAULT_STEP_RATIO
        if step_ratio > 1:
            raise ValueError(f"step_ratio must be in (0, 1]; got {step_ratio}")
        self.step_ratio = step_ratio
        self.show_progress = check_flag(show_progress, "show_progress")

    # ----------------------------------------------------------------------------- public API
    def resize(self, image, target_height=None, target_width=None, scale_height=None,
               scale_width=None) -> np.ndarray:
        """Resize ``image`` to the target size by removing or inserting seams.

        Parameters
        ----------
        image : ndarray or PIL.Image.Image
            Gray, RGB or RGBA; dtypes and value ranges as
            :func:`~compress_core.pixels.as_pixel_array` (uint8, uint16, bool, float in [0, 1]).
        target_height, target_width : int, optional
            Output size in pixels. Default: unchanged (or from the scale).
        scale_height, scale_width : float, optional
            Output size as a multiple of the input (used when the target is not given).

        Returns
        -------
        ndarray of uint8
            Gray in, gray out: shape (target_height, target_width) for a 2-D array or a PIL
            gray image (carved on the gray values themselves, as seam-carving 1.1.0 does),
            (target_height, target_width, C) otherwise with the input's C (1, 3 or 4; alpha
            is carved with the pixels).

        Raises
        ------
        ValueError
            Non-positive targets or scales, both a target and a scale for the same side, a
            target over the pixel limit, masks that are not 2-D arrays of the image's shape,
            images of an unsupported shape, dtype or value range
            (:class:`~compress_core.errors.UnsupportedImageError`), an energy function whose
            map has the wrong shape or NaN / infinite values.
        """
        return self.carve(image, target_height=target_height, target_width=target_width,
                          scale_height=scale_height, scale_width=scale_width).pixels

    def carve(self, image, target_height=None, target_width=None, scale_height=None,
              scale_width=None, energy_terms=None) -> CarveResult:
        """Like :meth:`resize`, returning a :class:`CarveResult` with the seam bookkeeping.

        ``energy_terms`` (a :class:`CarvingTerms` of this image) skips the energy computation
        when the caller already has it. Its static map must have the image's (H, W) shape and
        finite values; it is read, never written.

        Raises
        ------
        ValueError, TypeError
            As :meth:`resize`; also an ``energy_terms`` (or an energy function's
            ``carving_terms``) of the wrong shape or type, or with NaN / infinite values.
        """
        gray_2d = is_gray_2d(image)
        pixels = as_pixel_array(image)
        h0, w0 = pixels.shape[:2]
        th = self._target(target_height, scale_height, h0, "target_height", "scale_height")
        tw = self._target(target_width, scale_width, w0, "target_width", "scale_width")
        if th * tw > DEFAULT_MAX_PIXELS:
            given = [name for name, value in (("target_width", target_width),
                                              ("scale_width", scale_width),
                                              ("target_height", target_height),
                                              ("scale_height", scale_height))
                     if value is not None]
            raise ValueError(f"target size {tw}x{th} ({', '.join(given)}) has more than "
                             f"{DEFAULT_MAX_PIXELS:,} pixels (the library's pixel limit)")
        keep = check_mask(self.keep_mask, (h0, w0), "keep_mask")
        remove = check_mask(self.remove_mask, (h0, w0), "remove_mask")
        if energy_terms is not None:
            terms = check_terms(energy_terms, (h0, w0), "energy_terms")
        else:
            terms = check_terms(self.energy_function.carving_terms(rgb_view(pixels)), (h0, w0),
                                f"{type(self.energy_function).__name__}.carving_terms()")
        static = with_masks(terms.static, keep, remove, (h0, w0))
        gw = terms.gradient_weight

        # (the total scans the map for remove-mask pixels: only where a bar is shown)
        progress = self._progress(_seams_to_carve(static, (h0, w0), (th, tw)),
                                  "seam carving") if self.show_progress else None
        index = None  # flat source index of every pixel; None: the identity
        inserted = False
        removal_known = True
        try:
            if remove is not None and remove.any():
                pixels, static, index = self._remove_marked(pixels, static, gw, progress)
            h1, w1 = pixels.shape[:2]
            dv, dh = w1 - tw, h1 - th
            if progress is not None:  # the removal may have taken more seams than planned
                progress.total = progress.n + abs(dv) + abs(dh)
                progress.refresh()
            steps = [(False, dh), (True, dv)] if self.order is SeamOrder.HEIGHT_FIRST \
                else [(True, dv), (False, dh)]
            if self.order is SeamOrder.AUTO or (dv >= 0 and dh >= 0):
                # every removal first ("auto" interleaves the directions), then insertions
                pixels, static, local = self._reduce(pixels, static, gw, max(dv, 0), max(dh, 0),
                                                     progress)
                index = local if index is None else index.ravel()[local]
                steps = [(vertical, min(delta, 0)) for vertical, delta in steps]
            for vertical, delta in steps:  # an explicit order, one direction after the other
                if delta > 0:
                    pixels, static, local = self._reduce(
                        pixels, static, gw, delta if vertical else 0, 0 if vertical else delta,
                        progress)
                    if not inserted:
                        index = local if index is None else index.ravel()[local]
                    else:  # removed after an insertion: which input pixels survive is unknown
                        removal_known = False
                elif delta < 0:
                    if not inserted and index is None:  # what the removals kept: everything
                        index = np.arange(h0 * w0, dtype=np.int32).reshape(h0, w0)
                    pixels, static = self._enlarge(pixels, static, gw, -delta, vertical, progress)
                    inserted = True
        finally:
            if progress is not None:
                progress.close()
        if index is None:
            index = np.arange(h0 * w0, dtype=np.int32).reshape(h0, w0)
        if gray_2d:
            pixels = np.ascontiguousarray(pixels[:, :, 0])
        return CarveResult(pixels=pixels, source_index=None if inserted else index,
                           seams_vertical=w0 - tw, seams_horizontal=h0 - th,
                           removal_index=index if removal_known else None)

    def carve_while_cheap(self, pixels: np.ndarray, energy_terms, max_seams: int, vertical: bool,
                          max_seam_energy: float, block: int = 0):
        """Remove up to ``max_seams`` seams of one direction while they stay cheap.

        Seams go in blocks (default: a fortieth of ``max_seams``); carving stops after the first
        block whose last seam's mean energy per pixel exceeds ``max_seam_energy`` (kernel
        units), and no seam through a kept pixel (``KEEP_ENERGY`` in the static map) is kept:
        the carve ends before the first such seam (the rule removes a block before it reads its
        costs, so the last block's seams went through a keep_mask, and through the heads the
        hybrid keeps where every seam had to cross one). Used by the hybrid policy: "carve
        while the seam cost stays low".

        Returns
        -------
        pixels : ndarray (uint8)
        static : ndarray or None
            The static map carved along.
        source : ndarray of int32
            Flat index in ``pixels`` of every output pixel.
        removed : int
            Seams removed.
        """
        return self.record_while_cheap(pixels, energy_terms, max_seams, vertical,
                                       max_seam_energy, block).result

    def record_while_cheap(self, pixels: np.ndarray, energy_terms, max_seams: int,
                           vertical: bool, max_seam_energy: float, block: int = 0) -> CheapCarve:
        """:meth:`carve_while_cheap`, recorded: a :class:`~compress_core.seams.cheap.CheapCarve`
        whose ``result`` is that carve and whose ``fewer(m)`` is the carve with a budget of
        ``m`` seams (under the same limit) without carving again."""
        pixels = check_pixels(pixels)
        h, w = pixels.shape[:2]
        terms = check_terms(energy_terms, (h, w), "energy_terms")
        extent = w if vertical else h
        max_seams = min(check_positive_int(max_seams, "max_seams"), extent - 1)
        if max_seams <= 0:
            identity = (pixels, terms.static, np.arange(h * w, dtype=np.int32).reshape(h, w), 0)
            return CheapCarve(pixels, terms.static, vertical, np.empty((0, h if vertical else w),
                              dtype=np.int32), np.empty(0, dtype=np.float32), max_seam_energy,
                              identity)
        state = self._state(pixels, terms.static, terms.gradient_weight)
        if not vertical:
            state = state.transposed()
        removed = 0
        costs = np.empty(max_seams, dtype=np.float32)
        seams = []
        for start, removed in cheap_blocks(costs, state.h, max_seams, max_seam_energy, block):
            seams.append(state.remove(removed - start, costs_out=costs[start:removed]))
        if not vertical:
            state = state.transposed()
        out, new_static, local = carved(state, pixels)
        record = CheapCarve(pixels, terms.static, vertical, np.concatenate(seams),
                            costs[:removed].copy(), max_seam_energy,
                            (out, new_static, local, removed))
        kept = None if terms.static is None else kept_pixels(terms.static)
        if kept is not None and kept.any():   # (the seams hold their pixels' input indices)
            through_kept = np.flatnonzero(kept.ravel()[record.seams].any(axis=1))
            if len(through_kept):
                record = record.truncated(int(through_kept[0]))
        return record

    def find_seams(self, image, n: int, direction: str = "vertical") -> np.ndarray:
        """The first ``n`` seams that carving would remove, in input coordinates.

        Parameters
        ----------
        image : ndarray or PIL.Image.Image
        n : int
            Number of seams, smaller than the image's width (vertical) or height (horizontal).
        direction : {"vertical", "horizontal"}

        Returns
        -------
        ndarray of int32
            Shape (n, H): the column of each row for vertical seams; (n, W): the row of each
            column for horizontal seams.
        """
        if direction not in ("vertical", "horizontal"):
            raise ValueError(f"direction must be 'vertical' or 'horizontal'; got {direction!r}")
        pixels = as_pixel_array(image)
        h, w = pixels.shape[:2]
        if n is None:
            raise ValueError("n is required")
        n = check_positive_int(n, "n")
        limit = w if direction == "vertical" else h
        if n >= limit:
            raise ValueError(f"n must be smaller than the image's {direction} extent {limit}; got {n}")
        terms = check_terms(self.energy_function.carving_terms(rgb_view(pixels)), (h, w),
                            f"{type(self.energy_function).__name__}.carving_terms()")
        static = with_masks(terms.static, check_mask(self.keep_mask, (h, w), "keep_mask"),
                             check_mask(self.remove_mask, (h, w), "remove_mask"), (h, w))
        state = self._state(pixels, static, terms.gradient_weight)
        if direction == "horizontal":
            state = state.transposed()
        removed = state.remove(n)
        return (removed % w if direction == "vertical" else removed // w).astype(np.int32)

    # --------------------------------------------------------------------------- internals
    @staticmethod
    def _target(target, scale, size, tname, sname) -> int:
        target = check_positive_int(target, tname)
        scale = check_positive_number(scale, sname)
        if target is not None and scale is not None:
            raise ValueError(f"give either {tname} or {sname}, not both")
        if target is not None:
            return target
        if scale is not None:
            return max(1, int(round(size * scale)))
        return size

    def _state(self, pixels, static, gradient_weight) -> CarveState:
        return working_state(pixels, static, gradient_weight,
                             self.energy_mode is EnergyMode.FORWARD)

    def _progress(self, total, desc):
        if not self.show_progress or total <= 0:
            return None
        from tqdm.auto import tqdm

        # (disable=None: none where stderr is no terminal, a service's log: service review 39)
        return tqdm(total=total, desc=desc, unit="seam", leave=False, disable=None)

    def _reduce(self, pixels, static, gradient_weight, dv: int, dh: int, progress=None):
        """Remove ``dv`` vertical and ``dh`` horizontal seams in the configured order.

        Returns the carved pixels, the carved static map (or None) and the flat index of every
        output pixel in ``pixels``.
        """
        h, w = pixels.shape[:2]
        if dv >= w or dh >= h:
            raise ValueError(f"cannot carve a {w}x{h} image down to {w - dv}x{h - dh}")
        if dv == 0 and dh == 0:
            return pixels, static, np.arange(h * w, dtype=np.int32).reshape(h, w)
        state = self._state(pixels, static, gradient_weight)
        vertical = True  # True while state's rows are image rows
        while dv > 0 or dh > 0:
            if dh == 0 or (dv > 0 and self.order is SeamOrder.WIDTH_FIRST):
                want_vertical, block = True, dv
            elif dv == 0 or self.order is SeamOrder.HEIGHT_FIRST:
                want_vertical, block = False, dh
            else:
                # auto: the cheaper direction for the next block of seams
                other = state.transposed()
                if other.cheapest_cost() < state.cheapest_cost():
                    state, vertical = other, not vertical
                want_vertical = vertical
                block = min(dv if vertical else dh, max(1, math.ceil((dv + dh) / 8)))
            if want_vertical != vertical:
                state, vertical = state.transposed(), want_vertical
            state.remove(block, progress)
            if vertical:
                dv -= block
            else:
                dh -= block
        if not vertical:
            state = state.transposed()
        out, new_static, local = carved(state, pixels)
        return out, new_static, local

    def _remove_marked(self, pixels, static, gradient_weight, progress=None):
        """Carve seams through the remove-mask pixels until none is left.

        Seams run in the direction that needs fewer of them (the object's largest extent across
        rows or columns) among those that leave something (a mask over 401 of a 600 x 400
        picture's columns, every row, was refused: the columns it fills made the other
        direction look cheaper). Keep-mask pixels are not crossed while a seam can reach the
        object without them: each costs more than a whole seam of object pixels gains (at
        KEEP_ENERGY = REMOVE_ENERGY, one seam crossed a kept pixel to take ten object pixels
        rather than leave them to the next seam). Object pixels that only a crossing reaches
        (walled in by kept pixels) are then removed with a warning, pass by pass through the
        line that holds the most of them, each worth :data:`WALLED_WEIGHT` kept pixels crossed
        (:meth:`_seams_through_walls`). Returns pixels, static map and flat source index.
        """
        h, w = pixels.shape[:2]
        vertical, _ = _removal_direction(static)
        kept = kept_pixels(static)
        index = None
        if kept.any():
            raised = np.float32((h if vertical else w) + 1) * REMOVE_ENERGY - KEEP_ENERGY
            strict = static.copy()
            strict[kept] += raised
            pixels, _, index = self._seams_through(pixels, strict, gradient_weight,
                                                   vertical, progress, walls=raised / 2)
            static = static.ravel()[index]   # (as they were: not raised and lowered again)
            walled = int((static < -REMOVE_ENERGY / 2).sum())
            if not walled:
                return pixels, static, index
            log.warning("remove_mask: %d of its pixels are walled in by keep_mask pixels; "
                         "the seams that remove them cross the fewest kept pixels", walled)
            pixels, static, local = self._seams_through_walls(pixels, static, gradient_weight,
                                                              vertical, progress)
            return pixels, static, index.ravel()[local]
        pixels, static, local = self._seams_through(pixels, static, gradient_weight, vertical,
                                                    progress)
        return pixels, static, local if index is None else index.ravel()[local]

    def _seams_through_walls(self, pixels, static, gradient_weight, vertical: bool,
                             progress=None):
        """Remove the marked pixels (static < -REMOVE_ENERGY / 2) that kept pixels wall in:
        pass by pass, as many seams as the line (row of vertical seams) with the most of them
        holds, each made to cross that line at one of them (the line's other pixels barred);
        elsewhere a walled object pixel is worth :data:`WALLED_WEIGHT` kept pixels, so that a
        seam goes on through other walled objects where their walls are thinner than that.

        At the ordinary costs alone a wall thicker than half the object sent the seams around
        it pass after pass: 391 of chelsea's 451 columns went before they reached a 40 px
        object behind a 20 px wall (edge review 36). An object pixel worth more than any wall
        cut side walls for scraps of other objects with a pass's spare seams, and lost the
        kept pixels' cost to float32 rounding on a 4000-row picture; one worth a kept pixel
        gave every small walled object seams of its own (40 objects of 4 x 4 px: 160 seams;
        the diff reviews)."""
        index = None
        while True:
            lines = static if vertical else static.T
            marks = lines < -REMOVE_ENERGY / 2
            per_line = marks.sum(axis=1)
            n = int(per_line.max())
            if n == 0:
                break
            if n >= lines.shape[1]:
                raise ValueError(_NOTHING_LEFT)
            line = int(per_line.argmax())
            barred = static.copy()
            view = barred if vertical else barred.T
            view[marks] *= np.float32(WALLED_WEIGHT)
            # barred: more than any two seams' costs differ (each pixel between a walled
            # object pixel's and a kept pixel's energy plus the picture's own, under half of it)
            bar = np.float32(4 * (WALLED_WEIGHT + 1) * (lines.shape[0] + 1)) * KEEP_ENERGY
            view[line, ~marks[line]] += bar
            state = self._state(pixels, barred, gradient_weight)
            if not vertical:
                state = state.transposed()
            if progress is not None and progress.n + n > progress.total:
                progress.total = progress.n + n   # more seams than the object's extent
                progress.refresh()
            state.remove(n, progress)
            if not vertical:
                state = state.transposed()
            before = static
            pixels, _, local = carved(state, pixels)
            static = before.ravel()[local]   # (the values as they were, not barred and back)
            index = local if index is None else index.ravel()[local]
        return pixels, static, index

    def _seams_through(self, pixels, static, gradient_weight, vertical: bool, progress=None,
                       walls: Optional[float] = None):
        """Remove seams through the marked pixels (static < -REMOVE_ENERGY / 2) in one
        direction until none is left; with ``walls``, only those a seam reaches without
        crossing a pixel of static above it (:func:`seam_reachable`), each pass as many seams
        as they need, until none is left or a pass removes none of them. (The passes had
        counted the walled-in pixels too: a pass of 40 seams went around a 40 px object walled
        in, before the seams that cross the wall; edge review 36.)"""
        state = self._state(pixels, static, gradient_weight)
        if not vertical:
            state = state.transposed()
        before = None
        while True:
            field = state.valid("static")
            marks = field < -REMOVE_ENERGY / 2
            if walls is not None:
                marks &= seam_reachable(field > walls)
            left, count = int(marks.sum(axis=1).max()), int(marks.sum())
            if left == 0 or (walls is not None and count == before):
                break
            if left >= state.w:
                raise ValueError(_NOTHING_LEFT)
            before = count
            if progress is not None and progress.n + left > progress.total:
                # more seams than the object's extent (walled in by kept pixels)
                progress.total = progress.n + left
                progress.refresh()
            state.remove(left, progress)
        if not vertical:
            state = state.transposed()
        return carved(state, pixels)

    def _enlarge(self, pixels, static, gradient_weight, delta: int, vertical: bool,
                 progress=None):
        """Insert ``delta`` vertical (or horizontal) seams; returns pixels and static map."""
        return enlarge(pixels, static, gradient_weight, delta, vertical,
                       forward=self.energy_mode is EnergyMode.FORWARD,
                       step_ratio=self.step_ratio, progress=progress)


# A pass that would carve every line across (a remove mask that fills one, met while carving)
_NOTHING_LEFT = "remove_mask spans a whole row and column of the image; nothing would be left"

#: What a walled-in object pixel is worth, in kept pixels crossed, to the seams that remove
#: it (:meth:`SeamCarver._seams_through_walls`). Measured on the diff reviews' layouts (seams,
#: kept pixels lost): 40 objects of 4 x 4 px in 4 px walls on the astronaut, 160 / 1,280 at 1,
#: 122 / 1,280 at 2, 47 / 1,394 at 3, 48 / 1,433 at 5 (36 / 1,466 worth any wall); 30 single
#: pixels in 2 px walls 30 / 120 up to 3, 7 / 120 at 5; a 3000-row object on a 4000-row
#: picture 5 / 193-199 at 3, 4 / 160 at 5 and 10; three objects 70 / 2,585 at every weight.
WALLED_WEIGHT = 5


def seam_reachable(blocked: np.ndarray) -> np.ndarray:
    """Bool (h, w): the pixels some vertical seam (one pixel a row, moving at most one column
    between rows) passes through from the top row to the bottom one without a ``blocked``
    pixel: reached from the top and from the bottom."""
    h, w = blocked.shape
    open_ = ~blocked

    def reached(rows):
        out = np.empty((h, w), bool)
        row = open_[rows[0]].copy()
        out[rows[0]] = row
        for r in rows[1:]:
            spread = row.copy()
            spread[1:] |= row[:-1]
            spread[:-1] |= row[1:]
            row = spread & open_[r]
            out[r] = row
        return out

    return reached(range(h)) & reached(range(h - 1, -1, -1))


def _removal_direction(static) -> Tuple[bool, int]:
    """Whether the remove-mask pixels (``static < -REMOVE_ENERGY / 2``) go by vertical seams,
    and the fewest seams that takes: the direction that needs fewer, among those that leave
    something (see :meth:`SeamCarver._remove_marked`)."""
    h, w = static.shape
    marked = static < -REMOVE_ENERGY / 2
    across_rows, across_cols = int(marked.sum(axis=1).max()), int(marked.sum(axis=0).max())
    if across_rows >= w and across_cols >= h:
        # (a cross of one row and one column said the same, though one seam of each direction
        # removes it: the seams of one removal go one way; edge review 36)
        raise ValueError("remove_mask spans a whole row and a whole column of the image; the "
                         "seams that remove an object go in one direction, and in either one "
                         "nothing would be left" + ("" if marked.all() else
                                                    " (a cross: remove each arm in its own "
                                                    "call)"))
    vertical = across_rows < w and (across_cols >= h or across_rows <= across_cols)
    return vertical, across_rows if vertical else across_cols


def _seams_to_carve(static, size, target) -> int:
    """Seams a resize of ``size`` (h, w) to ``target`` (h, w) carves: the remove mask's
    first (at least its extent across the direction they go), then the removals or
    insertions left to reach the target (the progress bar's total)."""
    (h, w), (th, tw) = size, target
    removed = 0
    if static is not None and (static < -REMOVE_ENERGY / 2).any():
        vertical, removed = _removal_direction(static)
        h, w = (h, w - removed) if vertical else (h - removed, w)
    return removed + abs(w - tw) + abs(h - th)


def remove_object(image, mask, energy_function: Optional[EnergyFunction] = None,
                  keep_mask=None, energy_mode: str = "backward") -> np.ndarray:
    """Remove the masked object and restore the original size by seam insertion.

    Parameters
    ----------
    image : ndarray or PIL.Image.Image
        A PIL image is used upright (its EXIF orientation applied), and so are the masks.
    mask : array-like of bool (H, W)
        The object to remove.
    energy_function : EnergyFunction, optional
    keep_mask : array-like of bool (H, W), optional
        Pixels to protect while removing.
    energy_mode : {"backward", "forward"}

    Returns
    -------
    ndarray of uint8 with the input's shape: (H, W) for gray (2-D arrays, PIL gray modes),
    (H, W, C) otherwise (C = 1, 3 or 4 as given).

    Raises
    ------
    ValueError
        If the mask does not have the image's (H, W) shape (checked first), or is empty.
    """
    if mask is None:
        raise ValueError("mask is required: the object to remove")
    gray_2d = is_gray_2d(image)
    pixels = as_pixel_array(image)
    mask_arr = check_mask(mask, pixels.shape[:2], "mask")  # shape first, then emptiness
    if not mask_arr.any():
        raise ValueError("mask is empty: nothing to remove")
    carver = SeamCarver(energy_function=energy_function, keep_mask=keep_mask,
                        remove_mask=mask_arr, energy_mode=energy_mode)
    out = carver.resize(pixels)
    return np.ascontiguousarray(out[:, :, 0]) if gray_2d else out
