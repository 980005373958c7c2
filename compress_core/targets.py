"""Turn the size targets of ``compress()`` into one output size.

Rules (DESIGN.md section 3):

* ``target_width`` / ``target_height`` give an exact size. One alone: with ``preserve_aspect`` the
  other side follows the input's aspect, without it the other side is kept.
* ``scale`` multiplies each side; ``target_pixels`` caps ``width * height``; ``max_dimension``
  caps the longer side. Caps never enlarge.
* Several targets: each gives a size in the same aspect (the exact size's, else the input's);
  the smallest area wins. Caps are met exactly (sizes are rounded down for them), and the aspect
  stays within one pixel.
* With ``preserve_aspect=False`` and only area targets (``scale``/``target_pixels``), the shape is
  free: :func:`free_shape` spends the area where the energy says.
"""
from __future__ import annotations

import decimal
import math
import numbers
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from .errors import ImageTooLargeError

__all__ = ["SizePlan", "plan_size", "may_change_aspect", "free_shape", "working_size",
           "check_positive_int", "check_positive_number", "check_stretch"]


def check_positive_int(value, name: str) -> Optional[int]:
    """``None`` or a positive int (an integral float is accepted); else TypeError/ValueError."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a positive integer; got {value!r}")
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    if not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive integer; got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value}")
    return int(value)


def check_real(value, name: str, what: str) -> float:
    """``value`` as a float if it is a real number (Fraction, Decimal, NumPy's), not a bool or
    a string; else a TypeError saying it must be ``what``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real,
                                                                      decimal.Decimal)):
        raise TypeError(f"{name} must be {what}; got {value!r}")
    return float(value)


def check_positive_number(value, name: str) -> Optional[float]:
    """``None`` or a positive finite float; else TypeError/ValueError naming the parameter."""
    if value is None:
        return None
    value = check_real(value, name, "a positive number")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number; got {value}")
    return value


def check_non_negative_number(value, name: str) -> float:
    """A finite float >= 0 (any real number, as :func:`check_positive_number` takes); else
    TypeError/ValueError naming the parameter."""
    value = check_real(value, name, "a finite number >= 0")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0; got {value}")
    return value


def check_stretch(value, name: str = "max_stretch") -> float:
    """A stretch limit: a finite number >= 1 (1 never stretches); TypeError/ValueError else.

    The one validator of ``max_stretch`` (the request and :func:`compress_core.hybrid.retarget`).
    """
    what = "a finite number >= 1"
    value = check_real(value, name, what)   # (a Decimal or Fraction too, as every number)
    if not (math.isfinite(value) and value >= 1.0):
        raise ValueError(f"{name} must be {what}; got {value!r}")
    return value


@dataclass(frozen=True)
class SizePlan:
    """The output size, or a free-shape area budget.

    Attributes
    ----------
    width, height : int
        Output size (for a free shape: the aspect-preserving size of the same area).
    free_shape : bool
        ``preserve_aspect=False`` with only area targets: the method may pick the shape.
    max_dimension : int, optional
        The longest side a free shape may have (the ``max_dimension`` target).
    """

    width: int
    height: int
    free_shape: bool = False
    max_dimension: Optional[int] = None

    @property
    def size(self) -> Tuple[int, int]:
        return (self.width, self.height)


def plan_size(width: int, height: int, *, target_width=None, target_height=None, scale=None,
              target_pixels=None, max_dimension=None, preserve_aspect: bool = True,
              max_pixels: Optional[int] = None) -> Optional[SizePlan]:
    """The output size for an input of ``width`` x ``height``; ``None`` if no size target.

    ``max_pixels`` (optional) is the largest output the targets may ask for: enlarging
    targets (``scale``, ``target_width``, ``target_height``) above it are refused before any
    pixel is allocated (``scale=1e300`` was an ``OverflowError``, ``scale=100`` of a photo a
    ``MemoryError`` or worse).

    Raises
    ------
    TypeError, ValueError
        For non-positive or non-numeric targets.
    ImageTooLargeError
        The targets ask for more than ``max_pixels`` output pixels (a ``ValueError``).
    """
    tw = check_positive_int(target_width, "target_width")
    th = check_positive_int(target_height, "target_height")
    scale = check_positive_number(scale, "scale")
    target_pixels = check_positive_int(target_pixels, "target_pixels")
    max_dimension = check_positive_int(max_dimension, "max_dimension")
    if tw is None and th is None and scale is None and target_pixels is None and max_dimension is None:
        return None

    exact = None
    if tw is not None and th is not None:
        exact = (float(tw), float(th))
    elif tw is not None:
        exact = (float(tw), height * tw / width if preserve_aspect else float(height))
    elif th is not None:
        exact = (width * th / height if preserve_aspect else float(width), float(th))
    base = exact or (float(width), float(height))

    # (area, w, h, is_cap) candidates, all in the base's aspect
    candidates = []
    if exact is not None:
        candidates.append((exact[0] * exact[1], exact[0], exact[1], False))
    if scale is not None:
        area = width * height * scale * scale
        f = math.sqrt(area / (base[0] * base[1]))
        candidates.append((area, base[0] * f, base[1] * f, False))
    # a cap binds when it is below the input (or exact) size or below an enlarging scale
    largest = max([base[0] * base[1]] + [c[0] for c in candidates])
    if target_pixels is not None and largest > target_pixels:
        f = math.sqrt(target_pixels / (base[0] * base[1]))
        candidates.append((target_pixels, base[0] * f, base[1] * f, True))
    longest = max(base) * math.sqrt(largest / (base[0] * base[1]))
    if max_dimension is not None and longest > max_dimension:
        f = max_dimension / max(base)
        candidates.append((base[0] * base[1] * f * f, base[0] * f, base[1] * f, True))
    if not candidates:  # only caps, already satisfied
        return SizePlan(int(round(base[0])), int(round(base[1])))
    _, cw, ch, is_cap = min(candidates, key=lambda c: c[0])
    # far over the limit (or infinite): refused before rounding to integers
    _check_output_pixels(cw, ch, 2 * max_pixels if max_pixels else None, target_width,
                         target_height, scale, max_pixels)
    if is_cap:
        out_w, out_h = _fit_caps(cw, ch, target_pixels, max_dimension)
    else:
        out_w, out_h = max(1, int(round(cw))), max(1, int(round(ch)))
        out_w, out_h = _fit_caps(out_w, out_h, target_pixels, max_dimension)
    _check_output_pixels(out_w, out_h, max_pixels, target_width, target_height, scale,
                         max_pixels)
    # a free shape removes lines: only where the output is smaller than the input (enlarged,
    # the shape chosen was the input's own size: scale=1.7 wrote the input unchanged)
    free = (_leaves_shape_free(exact is not None, scale, target_pixels, preserve_aspect)
            and out_w * out_h < width * height)
    return SizePlan(out_w, out_h, free_shape=free, max_dimension=max_dimension if free else None)


def _leaves_shape_free(side_given: bool, scale, target_pixels, preserve_aspect: bool) -> bool:
    """Whether the targets ask for an area and leave its shape to the caller: a scale or an
    area, no side, without ``preserve_aspect`` (:func:`plan_size` takes the free shape only
    where the output is smaller than the input)."""
    return (not preserve_aspect and not side_given
            and (scale is not None or target_pixels is not None))


def may_change_aspect(*, target_width=None, target_height=None, scale=None, target_pixels=None,
                      max_dimension=None, preserve_aspect: bool = True) -> bool:
    """Whether :func:`plan_size` may give some input an output of another aspect than its
    own, or a free shape: a width and a height (an aspect of their own), one side without
    ``preserve_aspect`` (the other side kept), or an area target without ``preserve_aspect``
    that makes some input smaller (a scale below 1, an area, or a largest side). Decided
    without an input's size (what a batch of pictures is planned by); where it is false,
    every input keeps its aspect within the one pixel of rounding."""
    side_given = target_width is not None or target_height is not None
    if target_width is not None and target_height is not None:
        return True
    if side_given:
        return not preserve_aspect
    return _leaves_shape_free(False, scale, target_pixels, preserve_aspect) and (
        target_pixels is not None or max_dimension is not None or scale < 1)


def _check_output_pixels(w: float, h: float, limit: Optional[int], target_width,
                         target_height, scale, max_pixels: Optional[int]) -> None:
    """:class:`ImageTooLargeError` naming the enlarging targets when ``w * h`` is over
    ``limit`` (or not finite)."""
    if limit is None or w * h <= limit:  # (False for inf and NaN)
        return
    given = ", ".join(f"{name}={value!r}" for name, value in (
        ("scale", scale), ("target_width", target_width), ("target_height", target_height))
        if value is not None)
    raise ImageTooLargeError(
        f"the size targets ({given}) ask for an output of {w:,.0f} x {h:,.0f} pixels, more than "
        f"the limit of {max_pixels:,} (max_pixels); ask for a smaller size, or raise max_pixels")


def _fit_caps(w: float, h: float, target_pixels, max_dimension) -> Tuple[int, int]:
    """Round down so that every cap holds, keeping the aspect within a pixel (a side already at
    one pixel stays there and the other one gives way: a 9 x 1 strip capped at 1 pixel is
    1 x 1, not 3 x 1)."""
    out_w, out_h = max(1, int(math.floor(w + 1e-9))), max(1, int(math.floor(h + 1e-9)))
    if max_dimension is not None:
        out_w, out_h = min(out_w, max_dimension), min(out_h, max_dimension)
    while target_pixels is not None and out_w * out_h > target_pixels:
        if out_h == 1 or out_w == 1:  # the other side takes the whole cap
            out_w, out_h = min(out_w, target_pixels), min(out_h, target_pixels)
            break
        # shrink the side whose loss distorts the aspect least
        if out_w / max(w, 1e-9) >= out_h / max(h, 1e-9):
            out_w -= 1
        else:
            out_h -= 1
    return out_w, out_h


def working_size(width: int, height: int, target: Tuple[int, int],
                 oversample: float, min_side: int = 1) -> Optional[Tuple[int, int]]:
    """The size an input of ``width`` x ``height`` is reduced to (aspect kept) before a geometry
    that ends in a resampling to ``target`` works on it: ``oversample`` times the target along
    the side that needs more, so at least that many input pixels per output pixel along each
    side, and a long side of ``min_side`` at least (what the energy's own analysis needs: the
    face detector searches a copy of 448 px); None when reducing to that would not halve the
    input's pixels at least (a resampling of its own is not worth less: the input is used as
    it is).

    A crop, a seam or a squeeze decided on the input reduced so is the same decision at twice
    the output's resolution; deciding it on a 24-megapixel photo for a 256-pixel thumbnail
    was the same work twenty times over (BENCHMARKS.md, "Large photos").
    """
    tw, th = target
    f = max(float(oversample) * max(tw / float(width), th / float(height)),
            min_side / float(max(width, height)))
    if f * f > 0.5:
        return None
    return (min(width, max(1, round(width * f))), min(height, max(1, round(height * f))))


#: How far a free shape's aspect ratio moves from the input's, either way, on the energy proxy
#: alone. The proxy scores rows and columns separately, so on a photo whose importance is spread
#: it picks extremes on small differences: the astronaut (512 x 512) at a quarter of each side
#: got 256 x 64, a strip of the face (the proxy kept 0.106 of the energy there, 0.088 square).
FREE_SHAPE_MAX_ASPECT_CHANGE = 2.0
#: A shape beyond that is taken only where it keeps this many times the energy of the best shape
#: within it: content in a band (a standing figure in an empty street) loses only empty lines.
FREE_SHAPE_EXTREME_GAIN = 1.25
#: Any shape other than the input's aspect must keep this many times the energy that aspect
#: keeps: the astronaut (a square portrait) at a quarter of its pixels became 304 x 215 for
#: 0.8% more of the proxy's energy, with the top of the hair against the edge and the hands
#: cut, where 256 x 256 kept everything (visual review 19, finding 5).
FREE_SHAPE_MIN_GAIN = 1.05


def free_shape(energy: np.ndarray, area: int, steps: int = 5,
               max_dimension: Optional[int] = None,
               max_aspect_change: float = FREE_SHAPE_MAX_ASPECT_CHANGE) -> Tuple[int, int]:
    """Shape of at most ``area`` pixels, no side over ``max_dimension``, that keeps the most
    energy when lines are removed.

    Candidates run from "remove only columns" to "remove only rows" (``width = W * f**t``,
    ``height = H * f**(1-t)`` with ``f**2 = area / (W*H)``). Each is scored by the energy left
    after dropping its share of the lowest-energy columns and rows (a cheap proxy for what seam
    carving keeps). The best of ``steps`` shapes whose aspect ratio is within
    ``max_aspect_change`` times the input's wins, ties to the balanced shape (``t = 0.5``),
    unless one of ``steps`` shapes over the whole range keeps ``FREE_SHAPE_EXTREME_GAIN`` times
    its energy; the input's aspect (``t = 0.5``) stays unless the winner keeps
    ``FREE_SHAPE_MIN_GAIN`` times its energy.
    """
    check_stretch(max_aspect_change, "max_aspect_change")
    h, w = energy.shape
    area = max(1, min(int(area), w * h))
    f2 = area / float(w * h)
    longest = max_dimension or max(w, h)
    # the aspect changes by f2 ** (2t - 1): within the bound while |2t - 1| * -ln f2 <= ln bound
    half = 0.5 if f2 >= 1.0 else min(0.5, math.log(max_aspect_change) / (2.0 * -math.log(f2)))
    col_order = np.argsort(energy.sum(axis=0), kind="stable")[::-1]
    row_order = np.argsort(energy.sum(axis=1), kind="stable")[::-1]

    def best_of(low: float, high: float):
        best = None
        for k in range(steps if high > low else 1):
            t = low + (high - low) * k / (steps - 1)
            # at least one row stays, so no more columns than the area (a 300 x 31 strip given
            # 8 pixels was 300 x 1)
            cw = max(1, min(w, longest, area, int(round(w * f2 ** t))))
            ch = max(1, min(h, longest, area // cw))
            kept = float(energy[np.ix_(np.sort(row_order[:ch]), np.sort(col_order[:cw]))].sum())
            if best is None or (kept, -abs(t - 0.5)) > best[:2]:
                best = (kept, -abs(t - 0.5), (cw, ch))
        return best

    balanced = best_of(0.5, 0.5)
    within = best_of(0.5 - half, 0.5 + half)
    if half < 0.5:
        anywhere = best_of(0.0, 1.0)
        if anywhere[0] >= FREE_SHAPE_EXTREME_GAIN * within[0] > 0.0:
            within = anywhere
    return within[2] if within[0] >= FREE_SHAPE_MIN_GAIN * balanced[0] else balanced[2]
