"""Image quality metrics used to choose among encodings that fit a byte budget.

``perceptual`` is SSIM (Wang et al. 2004) on the luma, with an 11x11 Gaussian window
(sigma 1.5) and the usual constants ``K1=0.01, K2=0.03``; ``psnr`` is the peak signal-to-noise
ratio in dB. Both compare a candidate resampled (Lanczos) to the reference's size.
"""
from __future__ import annotations

from enum import Enum

import numpy as np
from PIL import Image
from scipy import ndimage

from .options import parse_option

__all__ = ["QualityMetric", "score", "ssim", "psnr"]


class QualityMetric(str, Enum):
    PERCEPTUAL = "perceptual"
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


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB between two same-size uint8 images (``inf`` when identical)."""
    mse = float(np.mean((a[..., :3].astype(np.float64) - b[..., :3].astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0 ** 2 / mse)


def score(candidate: np.ndarray, reference: np.ndarray, metric="perceptual") -> float:
    """Similarity of ``candidate`` to ``reference`` (higher is better), resampling if needed."""
    metric = parse_option(QualityMetric, metric, "quality_metric")
    if candidate.shape[:2] != reference.shape[:2]:
        mode = "RGBA" if candidate.shape[2] == 4 else "RGB"
        candidate = np.asarray(Image.fromarray(candidate, mode).resize(
            (reference.shape[1], reference.shape[0]), Image.Resampling.LANCZOS))
    if metric is QualityMetric.PERCEPTUAL:
        return ssim(candidate, reference)
    return psnr(candidate, reference)
