"""Weighted combination of several energy functions: :class:`BlendEnergyFunction`
(``make_energy("blend")``).

``HybridEnergyFunction`` and the energy name ``"hybrid"`` are the former names, kept as aliases:
"hybrid" is also the retargeting method (``method="hybrid"``, crop, carve and scale), a
different thing.

Each member's map is first brought to a common scale, [0, 1] by its 99.5th percentile
(:func:`~compress_core.energy.base.normalize_map`), so that a weight means a share of importance
whatever the member's units (Sobel 0..2040, deep 0..1). The result is
``sum_i w_i * map_i / sum_i w_i``.

Adaptive weights
----------------
With ``adaptive_weights=True`` the weights are set per image: each configured weight is
multiplied by ``concentration_i + 0.05`` and the products renormalised to sum to 1.
``concentration`` (:func:`concentration`) is how much of a map's total sits in the brightest
10% of the frame, measured on a 16 x 16 grid of cell averages and rescaled so that a map spread
evenly scores 0 and one with everything in 10% of the frame scores 1::

    concentration = (top_decile_cell_share - 0.1) / 0.9

A member that points at a few regions (a subject) then counts more than one that lights up the
whole frame (gradient energy on foliage or fabric); the 0.05 floor keeps every member in play.
Cell averages, not pixels, because a thin edge map is sparse pixel by pixel even when its
edges cover the whole frame. On the six test photos the rule moves the default blend's
weights by a few points either way (it is neutral on the subject/background box contrast);
it matters on photos where one member is flat or fills the frame.

The weights used for the most recent image are in :attr:`BlendEnergyFunction.last_weights`
as ``{member name: weight}`` (and :meth:`BlendEnergyFunction.compute_with_weights` returns
them with the map, for callers that share one instance between threads), so results and
manifests can record them.
"""
from __future__ import annotations

import math
import threading
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..pixels import as_rgb_array
from ..options import check_flag
from .base import (ENERGY_UNIT, CarvingTerms, EnergyFunction, Importance, map_percentile,
                   normalize_map)
from .gradient import GradientEnergyFunction, GradientOperator

__all__ = ["BlendEnergyFunction", "HybridEnergyFunction", "concentration"]

#: Cells per side of the grid the concentration statistic is computed on.
_CONCENTRATION_GRID = 16
#: Floor added to every concentration so that no member's weight falls to zero.
_CONCENTRATION_FLOOR = 0.05
#: Dynamic gradient weight used when no Sobel gradient member carries one (see deep.py).
_TIE_BREAK_GRADIENT_WEIGHT = 0.15


def concentration(energy: np.ndarray, grid: int = _CONCENTRATION_GRID) -> float:
    """Spatial concentration of a map: 0 = spread evenly over the frame, 1 = all in 10% of it.

    The map is averaged over a ``grid`` x ``grid`` partition of the frame; the result is
    ``(share of the total in the brightest 10% of cells - 0.1) / 0.9``, clipped to [0, 1]. An
    all-zero map scores 0. Averaging over cells first measures *where* the energy is, not how
    thin it is: an edge map of foliage is sparse pixel by pixel but spread over the frame.
    """
    import torch  # imported on first use: ``import compress_core`` stays free of torch
    import torch.nn.functional as F

    energy = np.asarray(energy, dtype=np.float32)
    if energy.ndim != 2 or energy.size == 0:
        return 0.0
    g = (min(grid, energy.shape[0]), min(grid, energy.shape[1]))
    cells = F.adaptive_avg_pool2d(torch.from_numpy(np.ascontiguousarray(energy))[None, None], g)
    cells = cells.flatten().double().numpy()
    total = float(cells.sum())
    if total <= 0 or not math.isfinite(total):
        return 0.0
    k = max(1, int(round(0.1 * cells.size)))
    share = float(np.sort(cells)[-k:].sum()) / total
    even = k / cells.size  # the share of an even map (0.1 up to rounding)
    if even >= 1.0:
        return 0.0
    return float(min(1.0, max(0.0, (share - even) / (1.0 - even))))


def _unique_names(energies: Sequence[EnergyFunction]) -> Tuple[str, ...]:
    names: List[str] = []
    for e in energies:
        name, k = e.name, 2
        while name in names:
            name, k = f"{e.name}_{k}", k + 1
        names.append(name)
    return tuple(names)


def _is_sobel(energy: EnergyFunction) -> bool:
    return isinstance(energy, GradientEnergyFunction) and energy.operator is GradientOperator.SOBEL


class BlendEnergyFunction(EnergyFunction):
    """Weighted sum of normalised energy maps (see the module docstring).

    Parameters
    ----------
    energies : sequence of EnergyFunction
        The members (at least one).
    weights : sequence of float, optional
        One non-negative weight per member, not all zero; default equal weights. They are
        normalised to sum to 1.
    adaptive_weights : bool
        Re-weight per image by each map's concentration (module docstring).

    Raises
    ------
    ValueError
        Empty ``energies``, a member that is not an EnergyFunction, or ``weights`` of the wrong
        length, negative, non-finite or all zero.

    Attributes
    ----------
    member_names : tuple of str
        The members' names (``"deep"``, ``"gradient"`` ...; repeats get ``_2``, ``_3``).
    last_weights : dict or None
        ``{member name: weight}`` used for the most recent image (per image when adaptive),
        normalised to sum to 1; ``None`` before the first image.
    """

    name = "blend"

    def __init__(self, energies: Sequence[EnergyFunction],
                 weights: Optional[Sequence[float]] = None, adaptive_weights: bool = False):
        if isinstance(energies, EnergyFunction) or not isinstance(energies, (list, tuple)):
            raise ValueError(
                f"energies must be a list or tuple of EnergyFunction; got {type(energies).__name__}"
            )
        if not energies:
            raise ValueError("energies must hold at least one EnergyFunction; got an empty list")
        for i, e in enumerate(energies):
            if not isinstance(e, EnergyFunction):
                raise ValueError(
                    f"energies[{i}] must be an EnergyFunction; got {type(e).__name__}"
                )
        self.energies: Tuple[EnergyFunction, ...] = tuple(energies)
        self.weights: Tuple[float, ...] = self._check_weights(weights, len(self.energies))
        self.adaptive_weights = check_flag(adaptive_weights, "adaptive_weights")
        self.member_names: Tuple[str, ...] = _unique_names(self.energies)
        self.last_weights: Optional[Dict[str, float]] = None
        self._local = threading.local()

    @staticmethod
    def _check_weights(weights, n: int) -> Tuple[float, ...]:
        if weights is None:
            return tuple([1.0 / n] * n)
        try:
            values = [float(w) for w in weights]
        except (TypeError, ValueError):
            raise ValueError(
                f"weights must be a sequence of {n} numbers; got {weights!r}"
            ) from None
        if len(values) != n:
            raise ValueError(f"weights must have one value per energy ({n}); got {len(values)}")
        if any(not math.isfinite(w) or w < 0 for w in values) or sum(values) <= 0:
            raise ValueError(
                f"weights must be finite, >= 0 and not all zero; got {list(weights)!r}"
            )
        total = sum(values)
        return tuple(w / total for w in values)

    # -- combination -----------------------------------------------------------------------

    def weights_for(self, maps: Sequence[np.ndarray]) -> List[float]:
        """The normalised weights for these member maps (adaptive or configured)."""
        if not self.adaptive_weights:
            return list(self.weights)
        raw = [w * (concentration(m) + _CONCENTRATION_FLOOR) for w, m in zip(self.weights, maps)]
        total = sum(raw)
        if total <= 0:
            return list(self.weights)
        return [r / total for r in raw]

    def compute_with_weights(self, image) -> Tuple[np.ndarray, Dict[str, float]]:
        """The combined map and the weights used for it (safe to share between threads).

        Returns
        -------
        energy : ndarray of float32, shape (H, W)
            In [0, 1].
        weights : dict
            ``{member name: normalised weight}``, in member order.
        """
        out, named, _ = self._combine(image)
        return out, dict(named)

    def importance(self, image) -> Importance:
        """The combined map and every member's faces (a deep member's face term), so that
        crops keep faces whole with a blend as they do with the deep energy alone."""
        out, named, (faces, sought) = self._combine(image)
        return Importance(out, faces, sought, dict(named))

    def _combine(self, image) -> Tuple[np.ndarray, Dict[str, float], Tuple]:
        rgb = as_rgb_array(image, drop_alpha=True)
        members = [e.importance(rgb) for e in self.energies]
        raw = [m.map for m in members]
        faces = (tuple(f for m in members for f in m.faces),   # and whether any looked
                 any(m.faces_sought for m in members))
        maps = [normalize_map(r) for r in raw]
        weights = self.weights_for(maps)
        out = np.zeros(rgb.shape[:2], dtype=np.float32)
        for w, m in zip(weights, maps):
            if w > 0:
                out += np.float32(w) * m
        named = {n: float(w) for n, w in zip(self.member_names, weights)}
        self.last_weights = named
        # Kept (per thread) until the next image, so that terms_from_map(out) can split the
        # map into the kernel's static and dynamic parts without recomputing the members.
        self._local.last = (out, raw, maps, weights)
        return out, named, faces

    def compute(self, rgb: np.ndarray) -> np.ndarray:
        return self.compute_with_weights(rgb)[0]

    # -- seam kernel -----------------------------------------------------------------------

    def carving_terms(self, rgb: np.ndarray) -> CarvingTerms:
        """Static map of the non-Sobel members; a Sobel member's share goes to the dynamic term.

        The kernel's dynamic term is the raw Sobel L1 of the luma, which the combined map uses
        divided by its 99.5th percentile ``p``; weight ``w`` of that member therefore becomes
        ``gradient_weight = w * ENERGY_UNIT / p``, so carving sees the same energy as
        :meth:`__call__` but keeps the gradient term up to date near each removed seam. Without
        a Sobel member the dynamic term gets a small tie-breaking weight (0.15).
        """
        return self.terms_from_map(self(rgb))

    def terms_from_map(self, energy: np.ndarray) -> CarvingTerms:
        """:class:`CarvingTerms` for a map this instance just computed (see :meth:`carving_terms`).

        The split needs the member maps, which are kept per thread from the most recent
        image; for any other map the whole map is static, with the tie-breaking gradient weight.
        """
        last = getattr(self._local, "last", None)
        energy = np.asarray(energy)
        if last is None or last[0].shape != energy.shape or not np.shares_memory(last[0], energy):
            static = normalize_map(energy) * np.float32(ENERGY_UNIT)
            return CarvingTerms(static=static, gradient_weight=_TIE_BREAK_GRADIENT_WEIGHT)
        _, raw, maps, weights = last
        static = np.zeros(energy.shape, dtype=np.float32)
        gradient_weight = 0.0
        has_static = False
        for e, w, r, m in zip(self.energies, weights, raw, maps):
            if w <= 0:
                continue
            if _is_sobel(e):
                top = float(map_percentile(r, 99.5))
                if top <= 0:
                    top = float(r.max())
                if top > 0:
                    gradient_weight += w * ENERGY_UNIT / top
            else:
                static += np.float32(w * ENERGY_UNIT) * m
                has_static = True
        if not any(_is_sobel(e) for e in self.energies):
            gradient_weight = _TIE_BREAK_GRADIENT_WEIGHT
        return CarvingTerms(static=static if has_static else None,
                            gradient_weight=float(gradient_weight))

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_local", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._local = threading.local()

    # -- description -----------------------------------------------------------------------

    def params(self) -> Dict[str, Any]:
        params: Dict[str, Any] = {
            "energies": [e.describe() for e in self.energies],
            "weights": [round(w, 6) for w in self.weights],
            "adaptive_weights": self.adaptive_weights,
        }
        return params

    def describe(self) -> Dict[str, Any]:
        """Configuration only (stable across images); per-image weights: :meth:`weight_stats`."""
        return {"name": self.name, **self.params()}

    def weight_stats(self) -> Dict[str, Any]:
        """The weights used for the most recent image, for results and manifests.

        Returns
        -------
        dict
            ``{"weights": {member name: weight, ...} or None, "adaptive_weights": bool}``.
        """
        weights = None if self.last_weights is None else {
            n: round(w, 6) for n, w in self.last_weights.items()
        }
        return {"weights": weights, "adaptive_weights": self.adaptive_weights}

    def __repr__(self) -> str:
        members = ", ".join(repr(e) for e in self.energies)
        return (f"BlendEnergyFunction([{members}], weights={list(self.weights)!r}, "
                f"adaptive_weights={self.adaptive_weights!r})")


#: The former name of :class:`BlendEnergyFunction` (documented alias, the same class).
HybridEnergyFunction = BlendEnergyFunction
