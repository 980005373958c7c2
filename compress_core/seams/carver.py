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

Ownership: the kernels carve working copies owned by this module; no array given by a caller
(image, mask, static energy map, a map an energy function caches) is ever written to.

Enlarging inserts seams: the k cheapest seams are found by removal on a copy, then each is
duplicated as the average of the seam pixel and its left neighbour. Large enlargements go in
steps of at most ``step_ratio`` of the current size so that the same seam is not stretched.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from ..energy.base import CarvingTerms, EnergyFunction
from ..energy.gradient import GradientEnergyFunction, luma_u8
from ..images import DEFAULT_MAX_PIXELS, as_pixel_array
from ..options import EnergyMode, SeamOrder, parse_option
from ..targets import check_positive_int, check_positive_number
from .. import deadline
from . import kernels

__all__ = ["SeamCarver", "CarveResult", "remove_object", "KEEP_ENERGY", "REMOVE_ENERGY"]

log = logging.getLogger(__name__)

#: Static energy added on keep-mask pixels and subtracted on remove-mask pixels (per pixel).
#: Larger than any seam's ordinary cost on images up to ~50 MP (Sobel L1 <= 2040 per pixel),
#: small enough that float32 cumulative costs keep integer precision of the gradient term.
KEEP_ENERGY = np.float32(1e5)
REMOVE_ENERGY = np.float32(1e5)


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
    """

    pixels: np.ndarray
    source_index: Optional[np.ndarray]
    seams_vertical: int
    seams_horizontal: int

    def kept_mask(self, shape: Tuple[int, int]) -> Optional[np.ndarray]:
        """Boolean (H, W) map of the input pixels that survive, or None after insertion."""
        if self.source_index is None:
            return None
        kept = np.zeros(shape[0] * shape[1], dtype=bool)
        kept[self.source_index.ravel()] = True
        return kept.reshape(shape)


class _CarveState:
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
            deadline.check(f"removing {done} of {n} seams")
        return removed

    def cheapest_cost(self) -> float:
        """Cost of the cheapest seam (fills the cumulative cost map for the next removal)."""
        cost = float(kernels.cheapest_seam_cost(
            self.gray, self.off, self.static, self.has_static, self.gradient_weight,
            self.forward, self.energy, self.cost, self.w))
        self.cost_valid = True
        return cost

    def transposed(self) -> "_CarveState":
        """The same logical image, transposed (horizontal seams become vertical)."""
        state = _CarveState.__new__(_CarveState)
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


def check_mask(mask, shape, name) -> Optional[np.ndarray]:
    """``mask`` as a bool (H, W) array of the image's shape, or None.

    Accepted: a 2-D array (bool, integers or finite floats; non-zero means set) whose shape is
    the image's ``(H, W)``. Anything else (3-D masks included) raises.

    Raises
    ------
    ValueError
        Wrong shape, NaN or infinite values.
    TypeError
        Not an array of numbers.
    """
    if mask is None:
        return None
    mask = np.asarray(mask)
    if not (mask.dtype == np.bool_ or np.issubdtype(mask.dtype, np.integer)
            or np.issubdtype(mask.dtype, np.floating)):
        raise TypeError(f"{name} must be an array of bool or numbers; got dtype {mask.dtype}")
    if mask.shape != tuple(shape):
        raise ValueError(
            f"{name} must be a 2-D array with the image's shape {tuple(shape)}; got {mask.shape}"
        )
    if np.issubdtype(mask.dtype, np.floating) and not np.isfinite(mask).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return mask.astype(bool)


#: Largest energy per pixel (static + gradient term) whose cumulative seam cost stays finite in
#: float32 on any image side: the kernels compare float32 sums along a whole seam.
_MAX_ENERGY_SUM = 1e36


def check_terms(terms, shape, name: str) -> CarvingTerms:
    """Validate the :class:`CarvingTerms` of an image of ``shape`` (H, W) before any kernel.

    The static map must be a finite real 2-D array of exactly ``shape``; the gradient weight a
    finite number >= 0; together small enough that a seam's cost stays finite in float32.
    Returns the terms with the static map as float32 (not copied when it already is: the
    kernels' working arrays are copies).

    Raises
    ------
    TypeError
        ``terms`` is not a CarvingTerms, or the map / weight is not numeric.
    ValueError
        Wrong shape, NaN / infinite values, negative or too large weights.
    """
    if not isinstance(terms, CarvingTerms):
        raise TypeError(f"{name} must be a CarvingTerms; got {type(terms).__name__}")
    gw = terms.gradient_weight
    if isinstance(gw, (bool, np.bool_)) or not isinstance(gw, (int, float, np.integer,
                                                                np.floating)):
        raise TypeError(f"{name}.gradient_weight must be a number; got {gw!r}")
    gw = float(gw)
    if not math.isfinite(gw) or gw < 0:
        raise ValueError(f"{name}.gradient_weight must be finite and >= 0; got {gw}")
    static = terms.static
    peak = 0.0
    if static is not None:
        static = np.asarray(static)
        if not (np.issubdtype(static.dtype, np.floating) or np.issubdtype(static.dtype, np.integer)
                or static.dtype == np.bool_):
            raise TypeError(f"{name}.static must be a real numeric array; got dtype {static.dtype}")
        if static.shape != tuple(shape):
            raise ValueError(f"{name}.static must have the image's shape {tuple(shape)}; "
                             f"got {static.shape}")
        static = np.asarray(static, dtype=np.float32)
        if not np.isfinite(static).all():
            raise ValueError(f"{name}.static contains NaN or infinite values (after float32 "
                             "conversion)")
        peak = float(np.abs(static).max()) if static.size else 0.0
    if (peak + 2040.0 * gw) * max(shape) > _MAX_ENERGY_SUM:
        raise ValueError(f"{name}: static map (max |value| {peak:g}) and gradient_weight {gw:g} "
                         f"are too large: a seam's cost would overflow float32")
    return CarvingTerms(static=static, gradient_weight=gw)


def _check_pixels(pixels, name="pixels") -> np.ndarray:
    """A uint8 (H, W, C) C-contiguous array, H, W, C >= 1 (kernel input)."""
    if not isinstance(pixels, np.ndarray) or pixels.dtype != np.uint8 or pixels.ndim != 3 \
            or min(pixels.shape) < 1:
        raise ValueError(f"{name} must be a uint8 array of shape (H, W, C) with H, W, C >= 1; "
                         f"got {getattr(pixels, 'dtype', type(pixels).__name__)} "
                         f"{getattr(pixels, 'shape', '')}")
    return np.ascontiguousarray(pixels)


class SeamCarver:
    """Content-aware resizing by seam carving (Avidan & Shamir 2007).

    Parameters
    ----------
    energy_function : EnergyFunction, optional
        Importance map. Default :class:`GradientEnergyFunction` (Sobel L1, updated near each
        seam). Other functions give a *static* map carved along with the pixels plus a dynamic
        gradient term (see :meth:`EnergyFunction.carving_terms`).
    keep_mask : array-like of bool (H, W), optional
        Pixels to protect (seams avoid them unless nothing else is left).
    remove_mask : array-like of bool (H, W), optional
        Pixels to remove first (seams are drawn through them); see :func:`remove_object`.
    energy_mode : {"backward", "forward"}
        ``backward`` removes the seam of least energy; ``forward`` (Rubinstein et al. 2008) the
        seam that inserts the least new gradient, which keeps straight edges straighter.
    order : {"auto", "width_first", "height_first"}
        Order of vertical and horizontal seams when both sides change (see module docs).
    step_ratio : float in (0, 1]
        Largest enlargement per insertion step, as a fraction of the current size.
    show_progress : bool
        Show a tqdm bar over the seams.

    Raises
    ------
    ValueError, TypeError
        On invalid parameters; masks are checked against the image in :meth:`resize`.
    """

    def __init__(self, energy_function: Optional[EnergyFunction] = None, keep_mask=None,
                 remove_mask=None, energy_mode: str = "backward", order: str = "auto",
                 step_ratio: float = 0.5, show_progress: bool = False):
        if energy_function is not None and not callable(energy_function):
            raise TypeError("energy_function must be an EnergyFunction (callable image -> map)")
        self.energy_function = energy_function or GradientEnergyFunction()
        self.keep_mask = keep_mask
        self.remove_mask = remove_mask
        self.energy_mode = parse_option(EnergyMode, energy_mode, "energy_mode")
        self.order = parse_option(SeamOrder, order, "order")
        step_ratio = check_positive_number(step_ratio, "step_ratio")
        if step_ratio > 1:
            raise ValueError(f"step_ratio must be in (0, 1]; got {step_ratio}")
        self.step_ratio = step_ratio
        self.show_progress = bool(show_progress)

    # ----------------------------------------------------------------------------- public API
    def resize(self, image, target_height=None, target_width=None, scale_height=None,
               scale_width=None) -> np.ndarray:
        """Resize ``image`` to the target size by removing or inserting seams.

        Parameters
        ----------
        image : ndarray or PIL.Image.Image
            Gray, RGB or RGBA; dtypes and value ranges as
            :func:`~compress_core.images.as_pixel_array` (uint8, uint16, bool, float in [0, 1]).
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
        gray_2d = _is_gray_2d(image)
        pixels = as_pixel_array(image)
        h0, w0 = pixels.shape[:2]
        th = self._target(target_height, scale_height, h0, "target_height", "scale_height")
        tw = self._target(target_width, scale_width, w0, "target_width", "scale_width")
        if th * tw > DEFAULT_MAX_PIXELS:
            raise ValueError(f"target size {tw}x{th} has more than {DEFAULT_MAX_PIXELS:,} pixels "
                             "(the library's pixel limit)")
        keep = check_mask(self.keep_mask, (h0, w0), "keep_mask")
        remove = check_mask(self.remove_mask, (h0, w0), "remove_mask")
        if energy_terms is not None:
            terms = check_terms(energy_terms, (h0, w0), "energy_terms")
        else:
            terms = check_terms(self.energy_function.carving_terms(_rgb(pixels)), (h0, w0),
                                f"{type(self.energy_function).__name__}.carving_terms()")
        static = with_masks(terms.static, keep, remove, (h0, w0))
        gw = terms.gradient_weight

        progress = self._progress(abs(w0 - tw) + abs(h0 - th), "seam carving")
        index = None  # flat source index of every pixel; None: the identity
        inserted = False
        try:
            if remove is not None and remove.any():
                pixels, static, index = self._remove_marked(pixels, static, gw, progress)
            h1, w1 = pixels.shape[:2]
            dv, dh = w1 - tw, h1 - th
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
                elif delta < 0:
                    pixels, static = self._enlarge(pixels, static, gw, -delta, vertical, progress)
                    inserted = True
        finally:
            if progress is not None:
                progress.close()
        if inserted:
            index = None
        elif index is None:
            index = np.arange(h0 * w0, dtype=np.int32).reshape(h0, w0)
        if gray_2d:
            pixels = np.ascontiguousarray(pixels[:, :, 0])
        return CarveResult(pixels=pixels, source_index=index,
                           seams_vertical=w0 - tw, seams_horizontal=h0 - th)

    def carve_while_cheap(self, pixels: np.ndarray, energy_terms, max_seams: int, vertical: bool,
                          max_seam_energy: float, block: int = 0):
        """Remove up to ``max_seams`` seams of one direction while they stay cheap.

        Seams go in blocks (default: a fortieth of ``max_seams``); carving stops after the first
        block whose last seam's mean energy per pixel exceeds ``max_seam_energy`` (kernel
        units). Used by the hybrid policy: "carve while the seam cost stays low".

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
        pixels = _check_pixels(pixels)
        h, w = pixels.shape[:2]
        terms = check_terms(energy_terms, (h, w), "energy_terms")
        extent = w if vertical else h
        max_seams = min(check_positive_int(max_seams, "max_seams"), extent - 1)
        if max_seams <= 0:
            return pixels, terms.static, np.arange(h * w, dtype=np.int32).reshape(h, w), 0
        state = self._state(pixels, terms.static, terms.gradient_weight)
        if not vertical:
            state = state.transposed()
        block = block or max(1, math.ceil(max_seams / 40))
        removed = 0
        costs = np.empty(block, dtype=np.float32)
        while removed < max_seams:
            step = min(block, max_seams - removed)
            state.remove(step, costs_out=costs[:step])
            removed += step
            if costs[step - 1] / state.h > max_seam_energy:
                break
        if not vertical:
            state = state.transposed()
        out, new_static, local = _carved(state, pixels)
        return out, new_static, local, removed

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
        terms = check_terms(self.energy_function.carving_terms(_rgb(pixels)), (h, w),
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

    def _state(self, pixels, static, gradient_weight) -> _CarveState:
        h, w = pixels.shape[:2]
        gray = pixels[:, :, 0] if pixels.shape[2] == 1 else luma_u8(pixels[..., :3])
        return _CarveState(gray, static, np.arange(h * w, dtype=np.int32).reshape(h, w),
                           gradient_weight, self.energy_mode is EnergyMode.FORWARD)

    def _progress(self, total, desc):
        if not self.show_progress or total <= 0:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, unit="seam", leave=False)

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
        out, new_static, local = _carved(state, pixels)
        return out, new_static, local

    def _remove_marked(self, pixels, static, gradient_weight, progress=None):
        """Carve seams through the remove-mask pixels until none is left.

        Seams run in the direction that needs fewer of them (the object's largest extent across
        rows or columns). Returns pixels, static map and flat source index.
        """
        h, w = pixels.shape[:2]
        marked = static < -REMOVE_ENERGY / 2
        vertical = int(marked.sum(axis=1).max()) <= int(marked.sum(axis=0).max())
        state = self._state(pixels, static, gradient_weight)
        if not vertical:
            state = state.transposed()
        while True:
            left = int((state.valid("static") < -REMOVE_ENERGY / 2).sum(axis=1).max())
            if left == 0:
                break
            if left >= state.w:
                raise ValueError("remove_mask spans a whole row and column of the image; "
                                 "nothing would be left")
            state.remove(left, progress)
        if not vertical:
            state = state.transposed()
        out, new_static, local = _carved(state, pixels)
        return out, new_static, local

    def _enlarge(self, pixels, static, gradient_weight, delta: int, vertical: bool,
                 progress=None):
        """Insert ``delta`` vertical (or horizontal) seams; returns pixels and static map."""
        if not vertical:
            pixels = np.ascontiguousarray(pixels.transpose(1, 0, 2))
            static = None if static is None else np.ascontiguousarray(static.T)
        while delta > 0:
            w = pixels.shape[1]
            step = min(delta, max(1, int(round(self.step_ratio * w))), max(w - 1, 1))
            pixels, static = self._insert(pixels, static, gradient_weight, step)
            delta -= step
            deadline.check("inserting a block of seams")
            if progress is not None:
                progress.update(step)
        if not vertical:
            pixels = np.ascontiguousarray(pixels.transpose(1, 0, 2))
            static = None if static is None else np.ascontiguousarray(static.T)
        return pixels, static

    def _insert(self, pixels, static, gradient_weight, n: int):
        h, w, c = pixels.shape
        if w == 1:  # the only seam is the single column: duplicate it
            mask = np.ones((h, 1), dtype=bool)
        else:
            removed = self._state(pixels, static, gradient_weight).remove(n)
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


def _carved(state: _CarveState, pixels: np.ndarray):
    """Output pixels (all channels), carved static map and source index of a finished state."""
    local = state.valid("index")
    out = np.empty(local.shape + (pixels.shape[2],), dtype=np.uint8)
    kernels.gather_pixels(pixels.reshape(-1, pixels.shape[2]), local,
                          local.shape[0], local.shape[1], out)
    static = state.valid("static") if state.has_static else None
    return out, static, local


def _is_gray_2d(image) -> bool:
    """A 2-D array or a PIL gray image: the result is 2-D too (gray in, gray out)."""
    if isinstance(image, np.ndarray):
        return image.ndim == 2
    mode = getattr(image, "mode", None)
    return mode in ("1", "L", "I;16", "I;16B", "I;16L", "I;16N", "I", "F") and \
        "transparency" not in getattr(image, "info", {})


def _rgb(pixels: np.ndarray) -> np.ndarray:
    """The RGB view energy functions take: gray repeated, alpha dropped."""
    if pixels.shape[2] == 1:
        return np.repeat(pixels, 3, axis=2)
    return pixels[..., :3]


def with_masks(static, keep, remove, shape):
    """Static map with +KEEP_ENERGY on keep pixels and -REMOVE_ENERGY on remove pixels."""
    if keep is None and remove is None:
        return static
    out = np.zeros(shape, dtype=np.float32) if static is None else static.astype(np.float32, copy=True)
    if keep is not None:
        out[keep] += KEEP_ENERGY
    if remove is not None:
        out[remove] -= REMOVE_ENERGY
    return out


def remove_object(image, mask, energy_function: Optional[EnergyFunction] = None,
                  keep_mask=None, energy_mode: str = "backward") -> np.ndarray:
    """Remove the masked object and restore the original size by seam insertion.

    Parameters
    ----------
    image : ndarray or PIL.Image.Image
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
    gray_2d = _is_gray_2d(image)
    pixels = as_pixel_array(image)
    mask_arr = check_mask(mask, pixels.shape[:2], "mask")  # shape first, then emptiness
    if not mask_arr.any():
        raise ValueError("mask is empty: nothing to remove")
    carver = SeamCarver(energy_function=energy_function, keep_mask=keep_mask,
                        remove_mask=mask_arr, energy_mode=energy_mode)
    out = carver.resize(pixels)
    return np.ascontiguousarray(out[:, :, 0]) if gray_2d else out
