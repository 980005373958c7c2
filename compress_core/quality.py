"""Image quality metrics used to choose among encodings that fit a byte budget.

``perceptual`` is SSIMULACRA2 (:mod:`compress_core.perceptual`, 0..100, the score quality
targets are expressed in); ``ssim`` is SSIM (Wang et al. 2004) on the luma, with an 11x11
Gaussian window (sigma 1.5) and the usual constants ``K1=0.01, K2=0.03``; ``psnr`` is the peak
signal-to-noise ratio in dB. All compare a candidate resampled (Lanczos) to the reference's size. References
over a megapixel are scored on four full-resolution 384x384 tiles (centred in the quadrants),
resampling only those regions of the candidate: compression artefacts stay visible and a 12 MP
score costs ~0.05 s instead of ~2 s.
"""
from __future__ import annotations

from enum import Enum

import numpy as np
from PIL import Image
from scipy import ndimage

from .pixels import check_rgb8
from .options import parse_option

__all__ = ["QualityMetric", "score", "ssim", "psnr"]


class QualityMetric(str, Enum):
    PERCEPTUAL = "perceptual"
    SSIM = "ssim"
    PSNR = "psnr"


def _luma(pixels: np.ndarray) -> np.ndarray:
    rgb = pixels[..., :3].astype(np.float64)
    return rgb @ np.array([0.299, 0.587, 0.114])


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of the lumas of two same-size RGB(A) uint8 images."""
    x, y = _luma(a), _luma(b)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    blur = lambda z: ndimage.gaussian_filter(z, 1.5, truncate=3.5)  # noqa: E731 (11x11 window)
    mx, my = blur(x), blur(y)
    sxx = blur(x * x) - mx * mx
    syy = blur(y * y) - my * my
    sxy = blur(x * y) - mx * my
    num = (2 * mx * my + c1) * (2 * sxy + c2)
    den = (mx * mx + my * my + c1) * (sxx + syy + c2)
    return float(np.mean(num / den))


def _ssimulacra2(candidate: np.ndarray, reference: np.ndarray) -> float:
    from .perceptual import ssimulacra2

    channels = min(candidate.shape[2], reference.shape[2])
    return ssimulacra2(np.ascontiguousarray(reference[..., :channels]),
                       np.ascontiguousarray(candidate[..., :channels]))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB between two same-size uint8 images (``inf`` when identical)."""
    mse = float(np.mean((a[..., :3].astype(np.float64) - b[..., :3].astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0 ** 2 / mse)


_TILE = 384
_TILED_ABOVE = 1024 * 1024


def _tiles(height: int, width: int):
    """Four tile boxes (left, top, right, bottom), centred in the image's quadrants."""
    th, tw = min(_TILE, height // 2), min(_TILE, width // 2)
    boxes = []
    for cy in (height // 4, 3 * height // 4):
        for cx in (width // 4, 3 * width // 4):
            top, left = max(0, cy - th // 2), max(0, cx - tw // 2)
            boxes.append((left, top, left + tw, top + th))
    return boxes


def score(candidate: np.ndarray, reference: np.ndarray, metric="perceptual") -> float:
    """Similarity of ``candidate`` to ``reference`` (higher is better), resampling if needed.

    Both are uint8 (H, W, 3|4) arrays (:func:`compress_core.pixels.check_rgb8`: a float 0..1
    image would otherwise be compared as near-black).
    """
    metric = parse_option(QualityMetric, metric, "quality_metric")
    candidate = check_rgb8(candidate, "candidate")
    reference = check_rgb8(reference, "reference")
    fn = {QualityMetric.PERCEPTUAL: _ssimulacra2, QualityMetric.SSIM: ssim,
          QualityMetric.PSNR: psnr}[metric]
    h, w = reference.shape[:2]
    if h * w > _TILED_ABOVE:
        mode = "RGBA" if candidate.shape[2] == 4 else "RGB"
        img = Image.fromarray(np.ascontiguousarray(candidate), mode)
        sx, sy = candidate.shape[1] / w, candidate.shape[0] / h
        values = []
        for left, top, right, bottom in _tiles(h, w):
            ref_tile = reference[top:bottom, left:right]
            if (sx, sy) == (1.0, 1.0):
                cand_tile = candidate[top:bottom, left:right]
            else:
                cand_tile = np.asarray(img.resize(
                    (right - left, bottom - top), Image.Resampling.LANCZOS,
                    box=(left * sx, top * sy, right * sx, bottom * sy)))
            values.append(fn(cand_tile, ref_tile))
        return float(np.mean(values))
    if candidate.shape[:2] != reference.shape[:2]:
        mode = "RGBA" if candidate.shape[2] == 4 else "RGB"
        candidate = np.asarray(Image.fromarray(candidate, mode).resize(
            (reference.shape[1], reference.shape[0]), Image.Resampling.LANCZOS))
    return fn(candidate, reference)
