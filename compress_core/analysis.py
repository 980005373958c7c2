"""Energy statistics and content analysis.

``high_importance_ratio`` is the fraction of pixels whose energy, normalised by the map's
99.5th percentile, is at least :data:`HIGH_IMPORTANCE_THRESHOLD` (0.5).
"""
from __future__ import annotations

from typing import Dict

import numpy as np

from .energy.base import normalize_map

__all__ = ["energy_statistics", "retained_energy_ratio", "HIGH_IMPORTANCE_THRESHOLD"]

HIGH_IMPORTANCE_THRESHOLD = 0.5


def energy_statistics(energy: np.ndarray) -> Dict[str, float]:
    """Summary statistics of an energy map, on the map normalised to [0, 1].

    Returns
    -------
    dict
        ``mean_energy``, ``std_energy``, ``p05``, ``p25``, ``p50``, ``p75``, ``p95``,
        ``high_importance_ratio``.
    """
    norm = normalize_map(energy)
    p05, p25, p50, p75, p95 = (float(v) for v in np.percentile(norm, [5, 25, 50, 75, 95]))
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
    total = float(np.asarray(energy, dtype=np.float64).sum())
    if total <= 0:
        return 1.0
    return float((np.asarray(energy, dtype=np.float64) * kept).sum() / total)
