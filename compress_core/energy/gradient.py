"""Gradient (backward) energy: L1 norm of the Sobel or Scharr derivatives of the luma."""
from __future__ import annotations

from enum import Enum

import numpy as np
from scipy import ndimage

from ..options import parse_option
from .base import CarvingTerms, EnergyFunction

__all__ = ["GradientEnergyFunction", "luma_u8", "sobel_l1"]

#: Luma weights used by li-plus seam-carving (ITU-R BT.709); kept identical so that our
#: backward-energy seams can be compared with that package pixel for pixel.
LUMA_WEIGHTS = np.array([0.2125, 0.7154, 0.0721], dtype=np.float32)


class GradientOperator(str, Enum):
    SOBEL = "sobel"
    SCHARR = "scharr"


def luma_u8(rgb: np.ndarray) -> np.ndarray:
    """8-bit luma of an RGB uint8 image (truncated like li-plus seam-carving), shape (H, W)."""
    return (rgb[..., :3] @ LUMA_WEIGHTS).astype(np.uint8)


def sobel_l1(gray: np.ndarray) -> np.ndarray:
    """``|Sobel_x| + |Sobel_y|`` of a 2-D array with reflected borders, float32.

    8-bit input goes through the seam kernels' own Sobel (one pass, rows in parallel; the
    values are exactly scipy.ndimage.sobel's, which the tests check); other dtypes use scipy.
    """
    gray = np.asarray(gray)
    if gray.dtype == np.uint8 and gray.ndim == 2:
        from .._threading_layer import parallel_region
        from ..seams.kernels import sobel_l1_image

        out = np.empty(gray.shape, dtype=np.float32)
        with parallel_region():
            sobel_l1_image(np.ascontiguousarray(gray), out)
        return out
    gray = gray.astype(np.float32)
    return np.abs(ndimage.sobel(gray, axis=1)) + np.abs(ndimage.sobel(gray, axis=0))


def _scharr_l1(gray: np.ndarray) -> np.ndarray:
    gray = np.asarray(gray, dtype=np.float32)
    smooth = np.array([3.0, 10.0, 3.0], dtype=np.float32)
    deriv = np.array([1.0, 0.0, -1.0], dtype=np.float32)
    gx = ndimage.correlate1d(ndimage.correlate1d(gray, deriv, axis=1), smooth, axis=0)
    gy = ndimage.correlate1d(ndimage.correlate1d(gray, deriv, axis=0), smooth, axis=1)
    return np.abs(gx) + np.abs(gy)


class GradientEnergyFunction(EnergyFunction):
    """Classic seam-carving energy (Avidan & Shamir 2007): ``|dI/dx| + |dI/dy|`` of the luma.

    Parameters
    ----------
    operator : {"sobel", "scharr"}
        Derivative filter. ``"sobel"`` is what the seam kernel updates incrementally near each
        removed seam; ``"scharr"`` is more rotation-invariant and is carved as a static map.

    Raises
    ------
    ValueError
        If ``operator`` is not one of the accepted values.
    """

    name = "gradient"

    def __init__(self, operator: str = "sobel"):
        self.operator = parse_option(GradientOperator, operator, "operator")

    def compute(self, rgb: np.ndarray) -> np.ndarray:
        gray = luma_u8(rgb)
        if self.operator is GradientOperator.SOBEL:
            return sobel_l1(gray)
        return _scharr_l1(gray)

    def params(self):
        return {"operator": self.operator.value}

    def carving_terms(self, rgb: np.ndarray) -> CarvingTerms:
        if self.operator is GradientOperator.SOBEL:
            # Exactly the kernel's dynamic term: nothing static, updated near each seam.
            return CarvingTerms(static=None, gradient_weight=1.0)
        return self.terms_from_map(self.compute(rgb))

    def terms_from_map(self, energy: np.ndarray) -> CarvingTerms:
        if self.operator is GradientOperator.SOBEL:
            return CarvingTerms(static=None, gradient_weight=1.0)
        return CarvingTerms(static=np.asarray(energy, dtype=np.float32), gradient_weight=0.0)
