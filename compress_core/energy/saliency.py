"""Classical visual-saliency energies: spectral residual and fine-grained centre-surround.

``"spectral"``: spectral residual (Hou & Zhang, CVPR 2007). The luma is reduced to 64 x 64
(like OpenCV's ``StaticSaliencySpectralResidual``), its log-amplitude spectrum minus the
3 x 3 local mean of that spectrum (the "residual") is recombined with the original phase and
transformed back; the squared magnitude, smoothed, is the saliency. Because it always works on
64 x 64 pixels its cost hardly depends on the image size.

``"fine_grained"``: centre-surround intensity contrast on an integral image (Montabone & Soto,
Image and Vision Computing 2010), as OpenCV's ``StaticSaliencyFineGrained`` computes it: the
luma is smoothed twice with a 3 x 3 Gaussian; for surround half-sizes 12, 24, 48, 28, 56 and
112 px, the on-centre (pixel brighter than the mean of its surround) and off-centre (darker)
differences are summed over the scales; each sum is normalised by its maximum and the two are
added and normalised again.

Differences from OpenCV (measured in tests/compress_core/energy/test_saliency.py: Pearson
correlation with OpenCV's maps >= 0.9 on four real photos):

* Spectral: the 64 x 64 reduction is area-averaged (antialiased). OpenCV's ``INTER_LINEAR``
  reads only the 2 x 2 pixels nearest each sample, so on large photos its result depends on
  the sampling phase (aliasing); averaging is what "reduce the resolution" means in the paper.
  The output is upsampled with bilinear interpolation, as OpenCV does.
* Fine-grained: every intermediate stays in floating point, where OpenCV truncates to 8 bits
  after each stage (which makes its map coarsely quantised); scales and neighbourhood windows
  are OpenCV's, including its asymmetric window ``[x - n + 1, x + n]``.
"""
from __future__ import annotations

from enum import Enum
from typing import Any, Dict

import numpy as np
import scipy.fft
from numba import njit, prange
from scipy import ndimage

from .._threading_layer import parallel_region
from ..options import parse_option
from .base import EnergyFunction

__all__ = ["SaliencyEnergyFunction", "SaliencyMethod", "spectral_residual", "fine_grained"]

#: Size of the image the spectral residual is computed on (OpenCV: 64 x 64).
SPECTRAL_SIZE = 64
#: Surround half-sizes of the fine-grained saliency, in pixels (OpenCV's values).
FINE_GRAINED_SCALES = np.array([12, 24, 48, 28, 56, 112], dtype=np.int64)
#: ITU-R BT.601 luma, what OpenCV's RGB -> gray conversion uses.
_LUMA_601 = np.array([0.299, 0.587, 0.114], dtype=np.float32)


class SaliencyMethod(str, Enum):
    """Which saliency model :class:`SaliencyEnergyFunction` computes."""

    SPECTRAL = "spectral"
    FINE_GRAINED = "fine_grained"


def spectral_residual(rgb: np.ndarray, size: int = SPECTRAL_SIZE) -> np.ndarray:
    """Spectral-residual saliency of an RGB uint8 image, float32 (H, W) in [0, 1].

    Parameters
    ----------
    rgb : ndarray of uint8, shape (H, W, 3)
        The image.
    size : int
        Side of the square image the spectrum is computed on.
    """
    from ._tensor import resize_rgb, upsample_map  # torch: imported on first use

    h, w = rgb.shape[:2]
    small = resize_rgb(rgb, (size, size))[0].permute(1, 2, 0).float().numpy() @ _LUMA_601
    gray = small.astype(np.float64)
    spectrum = scipy.fft.fft2(gray)
    amplitude = np.abs(spectrum)
    log_amp = np.log(np.maximum(amplitude, 1e-12))
    # OpenCV's BORDER_DEFAULT (reflect-101) is scipy's "mirror".
    residual = log_amp - ndimage.uniform_filter(log_amp, size=3, mode="mirror")
    phase = spectrum / np.maximum(amplitude, 1e-12)
    recon = scipy.fft.ifft2(np.exp(residual) * phase)
    sal = np.abs(recon)
    # 5 x 5 Gaussian of sigma 8 (OpenCV's kernel), then squared, as OpenCV orders them.
    sal = ndimage.gaussian_filter(sal, sigma=8.0, radius=2, mode="mirror") ** 2
    top = sal.max()
    sal = sal / top if top > 0 and np.isfinite(top) else np.zeros_like(sal)
    return upsample_map(sal.astype(np.float32), (h, w))


@njit(cache=True, parallel=True)
def _center_surround(integral, gray, scales, on_sum, off_sum):  # pragma: no cover - numba
    """Add the on/off-centre contrast of every scale to ``on_sum``/``off_sum`` (in place).

    For half-size ``n`` the surround of pixel (y, x) is the window ``[y - n + 1, y + n] x
    [x - n + 1, x + n]`` clipped to the image, without the pixel itself (OpenCV's windows).
    """
    height, width = gray.shape
    x1s = np.empty(width, dtype=np.int64)
    x2s = np.empty(width, dtype=np.int64)
    for s in range(scales.shape[0]):
        n = scales[s]
        for x in range(width):
            x1s[x] = min(max(x - n + 1, 0), width)
            x2s[x] = min(max(x + n + 1, 0), width)
        for y in prange(height):
            y1 = min(max(y - n + 1, 0), height)
            y2 = min(max(y + n + 1, 0), height)
            top = integral[y1]
            bottom = integral[y2]
            for x in range(width):
                x1 = x1s[x]
                x2 = x2s[x]
                area = (x2 - x1) * (y2 - y1) - 1
                if area <= 0:
                    continue
                center = gray[y, x]
                total = bottom[x2] + top[x1] - bottom[x1] - top[x2]
                diff = center - (total - center) / area
                if diff > 0:
                    on_sum[y, x] += diff
                else:
                    off_sum[y, x] -= diff


@njit(cache=True, parallel=True)
def _smooth_121(gray):  # pragma: no cover - numba
    """3 x 3 Gaussian ``[1, 2, 1] / 4`` in both directions, reflect-101 borders."""
    height, width = gray.shape
    tmp = np.empty_like(gray)
    out = np.empty_like(gray)
    for y in prange(height):
        for x in range(width):
            xl = x - 1 if x > 0 else min(1, width - 1)
            xr = x + 1 if x < width - 1 else max(width - 2, 0)
            tmp[y, x] = 0.25 * gray[y, xl] + 0.5 * gray[y, x] + 0.25 * gray[y, xr]
    for y in prange(height):
        yu = y - 1 if y > 0 else min(1, height - 1)
        yd = y + 1 if y < height - 1 else max(height - 2, 0)
        for x in range(width):
            out[y, x] = 0.25 * tmp[yu, x] + 0.5 * tmp[y, x] + 0.25 * tmp[yd, x]
    return out


@njit(cache=True)
def _integral(gray):  # pragma: no cover - numba
    """Summed-area table with a zero first row and column, float64 (H + 1, W + 1)."""
    height, width = gray.shape
    out = np.zeros((height + 1, width + 1), dtype=np.float64)
    for y in range(height):
        row = 0.0
        for x in range(width):
            row += gray[y, x]
            out[y + 1, x + 1] = out[y, x + 1] + row
    return out


def fine_grained(rgb: np.ndarray) -> np.ndarray:
    """Fine-grained centre-surround saliency of an RGB uint8 image, float32 (H, W) in [0, 1]."""
    gray = rgb.astype(np.float32) @ _LUMA_601
    on_sum = np.zeros(gray.shape, dtype=np.float32)
    off_sum = np.zeros(gray.shape, dtype=np.float32)
    with parallel_region():
        for _ in range(2):  # "smooth at least twice, as done by Frintrop and Itti"
            gray = _smooth_121(gray)
        _center_surround(_integral(gray), gray, FINE_GRAINED_SCALES, on_sum, off_sum)
    on_max, off_max = float(on_sum.max()), float(off_sum.max())
    if on_max > 0:
        on_sum *= np.float32(1.0 / on_max)
    if off_max > 0:
        off_sum *= np.float32(1.0 / off_max)
    # OpenCV divides the sum by the larger of the two maxima, which is 1 after the per-part
    # normalisation; where both parts are high the sum exceeds 1 and is clipped.
    on_sum += off_sum
    return np.clip(on_sum, 0.0, 1.0, out=on_sum)


class SaliencyEnergyFunction(EnergyFunction):
    """Visual-attention energy without machine learning (see the module docstring).

    Parameters
    ----------
    method : {"spectral", "fine_grained"}
        ``"spectral"``: spectral residual (Hou & Zhang 2007), fast at any size, smooth map of
        where the eye goes. ``"fine_grained"``: multi-scale centre-surround contrast
        (Montabone & Soto 2010), full-resolution, follows object outlines.

    Raises
    ------
    ValueError
        If ``method`` is not one of the accepted values.
    """

    name = "saliency"

    def __init__(self, method: str = "spectral"):
        self.method = parse_option(SaliencyMethod, method, "method")

    def compute(self, rgb: np.ndarray) -> np.ndarray:
        if self.method is SaliencyMethod.SPECTRAL:
            return spectral_residual(rgb)
        return fine_grained(rgb)

    def params(self) -> Dict[str, Any]:
        return {"method": self.method.value}
