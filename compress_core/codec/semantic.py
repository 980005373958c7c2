"""Semantic bit allocation for standard decoders: energy-weighted pre-filtering.

JPEG, WebP and AVIF spend bytes on high-frequency detail wherever it is. Before a standard
encoder, :func:`prefilter` replaces each pixel by a blend of itself and a Gaussian blur of the
image, weighted by the importance (energy) map: where the energy is high (the subject) the
pixels are kept exactly, where it is low (flat sky, walls, busy but unimportant backgrounds) the
fine detail the encoder would pay for is smoothed away. The weight map is itself smoothed, so
no edge appears between the two. Any decoder reads the result; the encoder's quality then buys
more fidelity where it matters for the same bytes. Measured in BENCHMARKS.md ("Bytes").
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["prefilter", "allocation_weights"]


def _check(pixels: np.ndarray, importance: np.ndarray) -> np.ndarray:
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise ValueError(f"pixels must be uint8 (H, W, 3|4); got {pixels.dtype} {pixels.shape}")
    importance = np.asarray(importance, dtype=np.float32)
    if importance.shape != pixels.shape[:2]:
        raise ValueError(f"importance must have the pixels' shape {pixels.shape[:2]}; "
                         f"got {importance.shape}")
    if not np.all(np.isfinite(importance)) or importance.min() < 0:
        raise ValueError("importance must be finite and >= 0")
    return importance


def allocation_weights(importance: np.ndarray, keep_share: float = 0.35,
                       smooth: float = 0.02) -> np.ndarray:
    """Per-pixel weight of the original (1 = kept, 0 = fully smoothed), float32 in 0..1.

    The most important ``keep_share`` of the pixels get weight 1; below, the weight falls in
    proportion to the importance; the map is then blurred by ``smooth`` times the image's
    diagonal so that kept and smoothed regions blend.
    """
    if not 0.0 < keep_share <= 1.0:
        raise ValueError(f"keep_share must be in (0, 1]; got {keep_share!r}")
    importance = np.asarray(importance, dtype=np.float32)
    level = float(np.quantile(importance, 1.0 - keep_share))
    if level <= 0:
        return np.ones_like(importance)
    weights = np.clip(importance / level, 0.0, 1.0)
    sigma = smooth * float(np.hypot(*importance.shape))
    if sigma > 0:
        weights = ndimage.gaussian_filter(weights, sigma, mode="nearest")
    return np.clip(weights, 0.0, 1.0).astype(np.float32)


def prefilter(pixels: np.ndarray, importance: np.ndarray, keep_share: float = 0.35,
              sigma: float = 1.5) -> np.ndarray:
    """``pixels`` with their low-importance regions smoothed (Gaussian ``sigma`` pixels).

    Parameters
    ----------
    pixels : ndarray, uint8 (H, W, 3|4)
    importance : ndarray, float (H, W), >= 0
        An energy map (e.g. the compressor's energy function's output).
    keep_share : float
        Share of the pixels (the most important) kept exactly.
    sigma : float
        Gaussian blur of the unimportant regions, in pixels.

    Returns
    -------
    ndarray, uint8, like ``pixels`` (alpha untouched).

    Raises
    ------
    ValueError
        Bad shapes, dtypes or parameters.
    """
    importance = _check(pixels, importance)
    if not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a positive number of pixels; got {sigma!r}")
    weights = allocation_weights(importance, keep_share)[..., None]
    rgb = pixels[..., :3].astype(np.float32)
    blurred = ndimage.gaussian_filter(rgb, (sigma, sigma, 0), mode="nearest")
    out = pixels.copy()
    out[..., :3] = np.clip(np.rint(weights * rgb + (1.0 - weights) * blurred), 0, 255)
    return out
