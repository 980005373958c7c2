"""Semantic bit allocation for standard decoders: dead zones in a JPEG's coefficients, and
energy-weighted pre-filtering.

:func:`requantize_jpeg` is the one the library offers (``allocation="semantic"``): a JPEG's
8x8 blocks whose pixels all matter little lose their smallest AC coefficients (those of one
quantisation step, set to zero; :data:`DEAD_ZONES`), blocks that hold anything important keep
every coefficient. The file stays a standard JPEG with the same quantisation tables, so any decoder
reads it; what matters is coded exactly as before, and the background costs fewer bytes (zero
runs are what JPEG's entropy coding makes cheap). Measured in BENCHMARKS.md ("Semantic bit
allocation"): about a fifth fewer bytes at the same quality, the background losing its finest
detail.

:func:`prefilter` (measured, not offered: it loses more of the whole picture than it saves):
JPEG, WebP and AVIF spend bytes on high-frequency detail wherever it is. Before a standard
encoder, :func:`prefilter` replaces each pixel by a blend of itself and a Gaussian blur of the
image, weighted by the importance (energy) map: where the energy is high (the subject) the
pixels are kept exactly, where it is low (flat sky, walls, busy but unimportant backgrounds) the
fine detail the encoder would pay for is smoothed away. The weight map is itself smoothed, so
no edge appears between the two. Any decoder reads the result; the encoder's quality then buys
more fidelity where it matters for the same bytes. Measured in BENCHMARKS.md ("Bytes").
"""
from __future__ import annotations

import functools
from typing import Sequence, Tuple

import numpy as np
from scipy import ndimage

from ..energy.base import resize_map  # noqa: F401 -- part of this module's API
from ..errors import EncoderUnavailableError
from .coefficients import COEFFICIENTS_PACKAGE, coefficients_missing, rewrite_jpeg
from .encoders import optimize_scans

__all__ = ["requantize_jpeg", "resize_map", "DEAD_ZONES", "ALLOCATION_PACKAGE",
           "allocation_missing",
           "prefilter", "allocation_weights"]

#: Dead zones by importance, most important first: a block whose most important pixel reaches
#: the level (a fraction of the map's maximum) has its AC coefficients of at most that many
#: quantisation steps set to zero. Blocks at half the maximum or more keep everything, the
#: others lose their +-1 coefficients: on the Kodak photos at quality="auto"'s quality, 19%
#: fewer bytes, the whole picture's SSIMULACRA2 70.7 -> 61.4; zones of 2 or 4 steps further
#: down save 22-26% at 56 or 47 (BENCHMARKS.md, "Semantic bit allocation").
DEAD_ZONES: Tuple[Tuple[float, int], ...] = ((0.5, 0), (0.0, 1))

#: The package that reads and writes a JPEG's quantised coefficients (PyPI name==tested version).
ALLOCATION_PACKAGE = COEFFICIENTS_PACKAGE


def allocation_missing():
    """Why semantic allocation cannot run here (its package is missing), or None."""
    return coefficients_missing("allocation='semantic'")


def _check_map(importance) -> np.ndarray:
    """``importance`` as a float32 (H, W) map, finite and >= 0 (``ValueError`` otherwise)."""
    importance = np.asarray(importance, dtype=np.float32)
    if importance.ndim != 2 or not np.all(np.isfinite(importance)) or (
            importance.size and importance.min() < 0):
        raise ValueError(f"importance must be a finite (H, W) map >= 0; got shape "
                         f"{importance.shape}")
    return importance


def _dead_zones(dead_zones) -> Tuple[Tuple[float, int], ...]:
    zones = tuple((float(level), int(steps)) for level, steps in dead_zones)
    levels = [level for level, _ in zones]
    if not zones or levels != sorted(levels, reverse=True) or levels[-1] != 0.0 or any(
            not 0.0 <= level <= 1.0 for level in levels) or any(s < 0 for _, s in zones):
        raise ValueError("dead_zones must be (level, steps) pairs with levels in 0..1 from "
                         f"highest to lowest, the last 0.0, and steps >= 0; got {dead_zones!r}")
    return zones


def _block_steps(importance: np.ndarray, block_h: int, block_w: int, blocks: Tuple[int, int],
                 zones) -> np.ndarray:
    """Dead zone (steps) of each block of a component: by the block's most important pixel."""
    rows, cols = blocks
    h, w = rows * block_h, cols * block_w
    padded = np.zeros((h, w), np.float32)
    ih, iw = min(h, importance.shape[0]), min(w, importance.shape[1])
    padded[:ih, :iw] = importance[:ih, :iw]
    peak = padded.reshape(rows, block_h, cols, block_w).max(axis=(1, 3))
    steps = np.full(blocks, zones[-1][1], np.int32)
    for level, zone in reversed(zones[:-1]):
        steps[peak >= level] = zone
    return steps


def _zero_small(coefficients: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """AC coefficients with ``|c| <= steps`` of their block set to zero (DC kept)."""
    small = np.abs(coefficients.astype(np.int32)) <= steps[:, :, None, None]
    small[:, :, 0, 0] = False
    return np.where(small, 0, coefficients).astype(coefficients.dtype)


def _apply_dead_zones(coded, importance: np.ndarray, zones) -> None:
    """Zero the small AC coefficients of the unimportant blocks of jpeglib's ``coded`` JPEG,
    component by component (each block judged by the pixels it covers)."""
    if importance.shape != (coded.height, coded.width):
        raise ValueError(f"importance must have the JPEG's shape "
                         f"{(coded.height, coded.width)}; got {importance.shape}")
    factors = np.asarray(coded.samp_factor).reshape(-1, 2)  # (vertical, horizontal) each
    v_max, h_max = int(factors[:, 0].max()), int(factors[:, 1].max())
    for index, name in enumerate(("Y", "Cb", "Cr", "K")[:len(factors)]):
        coefficients = getattr(coded, name)
        if coefficients is None:
            continue
        v, h = int(factors[index, 0]), int(factors[index, 1])
        steps = _block_steps(importance, 8 * v_max // v, 8 * h_max // h,
                             coefficients.shape[:2], zones)
        setattr(coded, name, _zero_small(coefficients, steps))


def requantize_jpeg(data: bytes, importance: np.ndarray,
                    dead_zones: Sequence[Tuple[float, int]] = DEAD_ZONES) -> bytes:
    """``data`` (a JPEG) with the small coefficients of its unimportant blocks set to zero.

    Parameters
    ----------
    data : bytes
        A JPEG file (baseline or progressive, any chroma subsampling, grey or colour).
    importance : ndarray, float (H, W), finite and >= 0
        An energy map of the picture's pixels, the JPEG's height and width; read as fractions
        of its maximum (a map that is zero everywhere leaves every block to the last zone).
    dead_zones : sequence of (level, steps)
        See :data:`DEAD_ZONES`.

    Returns
    -------
    bytes
        A JPEG with the same quantisation tables, markers (ICC, EXIF) and size, written by
        :func:`compress_core.codec.coefficients.rewrite_jpeg` (baseline, optimised Huffman
        tables) and then :func:`compress_core.codec.encoders.optimize_scans` (mozjpeg's
        progressive scans where they are smaller). Never larger than ``data``: where that
        would be (nothing worth dropping), ``data`` itself.

    Raises
    ------
    EncoderUnavailableError
        ``jpeglib`` is not installed.
    ValueError
        ``importance`` of another shape, or not finite or negative; bad ``dead_zones``;
        ``data`` not a JPEG, or one libjpeg cannot read.
    EncodingError
        No writable temporary folder (jpeglib reads and writes files).
    """
    missing = allocation_missing()
    if missing:
        raise EncoderUnavailableError(missing)
    zones = _dead_zones(dead_zones)
    importance = _check_map(importance)
    peak = float(importance.max()) if importance.size else 0.0
    if peak > 0:
        importance = importance / np.float32(peak)

    allocated = optimize_scans(rewrite_jpeg(data, functools.partial(
        _apply_dead_zones, importance=importance, zones=zones)), baseline=False)
    # where nothing is worth dropping (every block important) the rewrite can only add bytes
    return allocated if len(allocated) < len(data) else bytes(data)


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
