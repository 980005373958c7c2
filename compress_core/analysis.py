"""Energy statistics and content analysis.

Every statistic is computed on the energy map normalised to [0, 1] by its 99.5th percentile
(:func:`~compress_core.energy.base.normalize_map`), so that maps of different energy functions
and images of different sizes compare. Percentiles of maps over a megapixel are estimated on an
evenly strided subsample of about a million pixels (:func:`~compress_core.energy.base.
map_percentile`).

``high_importance_ratio`` is the fraction of pixels whose normalised energy is at least
:data:`HIGH_IMPORTANCE_THRESHOLD` (0.5): half of the map's (robust) peak.

The *important region* (:func:`important_region`) is the bounding box of the pixels at or above
that threshold, with the outermost 1% of their energy trimmed on each side so that a few stray
hot pixels do not stretch it; the *centre of mass* is the energy-weighted mean position.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import numpy as np

from .energy.base import as_energy_map, map_percentile, normalize_map

__all__ = [
    "energy_statistics",
    "retained_energy_ratio",
    "center_of_mass",
    "important_region",
    "content_summary",
    "HIGH_IMPORTANCE_THRESHOLD",
]

HIGH_IMPORTANCE_THRESHOLD = 0.5

#: Share of the thresholded energy trimmed from each side of the important region.
_REGION_TRIM = 0.01


def _as_map(energy) -> np.ndarray:
    return as_energy_map(energy, "energy")


def energy_statistics(energy: np.ndarray) -> Dict[str, float]:
    """Summary statistics of an energy map, on the map normalised to [0, 1].

    Returns
    -------
    dict
        ``mean_energy``, ``std_energy``, ``p05``, ``p25``, ``p50``, ``p75``, ``p95``,
        ``high_importance_ratio``.

    Raises
    ------
    ValueError
        If ``energy`` is not a non-empty 2-D array.
    """
    norm = normalize_map(_as_map(energy))
    p05, p25, p50, p75, p95 = (float(v) for v in map_percentile(norm, [5, 25, 50, 75, 95]))
    return {
        "mean_energy": float(norm.mean()),
        "std_energy": float(norm.std()),
        "p05": p05,
        "p25": p25,
        "p50": p50,
        "p75": p75,
        "p95": p95,
        "high_importance_ratio": float((norm >= HIGH_IMPORTANCE_THRESHOLD).mean()),
    }


def retained_energy_ratio(energy: np.ndarray, kept: np.ndarray) -> float:
    """Share of the total energy that sits on kept pixels (1.0 = nothing important lost).

    Parameters
    ----------
    energy : ndarray (H, W)
        Energy of the original image.
    kept : ndarray of bool (H, W)
        Which original pixels appear in the output (for scaled outputs, a fractional weight).
    """
    energy = _as_map(energy)
    kept = np.asarray(kept)
    if kept.shape != energy.shape or not (kept.dtype == np.bool_
                                          or np.issubdtype(kept.dtype, np.number)):
        raise ValueError(f"kept must be a bool or numeric array of the energy's shape "
                         f"{energy.shape}; got {kept.dtype} {kept.shape}")
    total = float(energy.astype(np.float64).sum())
    if total <= 0:
        return 1.0
    return float((energy.astype(np.float64) * kept).sum() / total)


def center_of_mass(energy: np.ndarray) -> Tuple[float, float]:
    """Energy-weighted mean position ``(x, y)`` in pixels (the image centre for a zero map).

    Raises
    ------
    ValueError
        If ``energy`` is not a non-empty 2-D array.
    """
    norm = normalize_map(_as_map(energy)).astype(np.float64)
    h, w = norm.shape
    total = norm.sum()
    if total <= 0:
        return ((w - 1) / 2.0, (h - 1) / 2.0)
    x = float(norm.sum(axis=0) @ np.arange(w) / total)
    y = float(norm.sum(axis=1) @ np.arange(h) / total)
    return (x, y)


def _trimmed_span(profile: np.ndarray, trim: float) -> Tuple[int, int]:
    """First and last index inside the central ``1 - 2 * trim`` of a non-negative profile."""
    cum = np.cumsum(profile)
    total = cum[-1]
    start = int(np.searchsorted(cum, trim * total, side="right"))
    stop = int(np.searchsorted(cum, (1.0 - trim) * total, side="left"))
    return start, max(start, min(stop, profile.size - 1))


def important_region(energy: np.ndarray, threshold: float = HIGH_IMPORTANCE_THRESHOLD
                     ) -> Optional[Tuple[int, int, int, int]]:
    """Bounding box ``(left, top, right, bottom)`` of the important pixels (PIL convention:
    right and bottom exclusive), or ``None`` when no pixel reaches ``threshold``.

    Parameters
    ----------
    energy : ndarray (H, W)
        Any energy map.
    threshold : float
        Normalised energy (0..1] a pixel needs to count as important.

    Raises
    ------
    ValueError
        If ``energy`` is not a non-empty 2-D array or ``threshold`` is not in (0, 1].
    """
    if not 0.0 < float(threshold) <= 1.0:
        raise ValueError(f"threshold must be in (0, 1]; got {threshold!r}")
    norm = normalize_map(_as_map(energy)).astype(np.float64)
    weight = np.where(norm >= threshold, norm, 0.0)
    if not weight.any():
        return None
    x0, x1 = _trimmed_span(weight.sum(axis=0), _REGION_TRIM)
    y0, y1 = _trimmed_span(weight.sum(axis=1), _REGION_TRIM)
    return (x0, y0, x1 + 1, y1 + 1)


def content_summary(energy: np.ndarray) -> Dict[str, Any]:
    """Everything ``analyze_content`` reports about an energy map.

    Returns
    -------
    dict
        The keys of :func:`energy_statistics`, plus ``high_importance_threshold`` (0.5),
        ``center_of_mass`` ``(x, y)`` and ``center_of_mass_relative`` (fractions of width and
        height), ``important_region`` ``(left, top, right, bottom)`` or ``None``,
        ``important_region_ratio`` (its area over the image's), ``width`` and ``height``.
    """
    energy = _as_map(energy)
    h, w = energy.shape
    stats: Dict[str, Any] = dict(energy_statistics(energy))
    cx, cy = center_of_mass(energy)
    box = important_region(energy)
    stats.update(
        high_importance_threshold=HIGH_IMPORTANCE_THRESHOLD,
        center_of_mass=(cx, cy),
        # (a one-pixel side's only position is its middle: 0.5, as for a flat map)
        center_of_mass_relative=(cx / (w - 1) if w > 1 else 0.5,
                                 cy / (h - 1) if h > 1 else 0.5),
        important_region=box,
        important_region_ratio=(
            0.0 if box is None else (box[2] - box[0]) * (box[3] - box[1]) / float(w * h)
        ),
        width=w,
        height=h,
    )
    return stats
