"""Small NumPy <-> torch helpers shared by the energy functions (private)."""
from __future__ import annotations

from typing import Tuple

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["rgb_tensor", "resize_rgb", "upsample_map"]


def rgb_tensor(rgb: np.ndarray) -> torch.Tensor:
    """An RGB uint8 (H, W, 3) array as a (1, 3, H, W) uint8 tensor in channels-last layout.

    No copy is made of a writable array; a read-only one (decoded images often are) is
    copied, which torch wraps without its warning (turned into an error by a host's "error"
    filter, the warning had failed every compression there: diff review 26).
    """
    rgb = np.ascontiguousarray(rgb)
    t = torch.from_numpy(rgb if rgb.flags.writeable else rgb.copy())
    return t.permute(2, 0, 1)[None]


def resize_rgb(rgb: np.ndarray, size: Tuple[int, int]) -> torch.Tensor:
    """Antialiased bilinear resize of an RGB uint8 array to ``size=(h, w)``: (1, 3, h, w) uint8.

    The uint8 channels-last path of ``torch.nn.functional.interpolate`` reduces a 12-megapixel
    photo in a few milliseconds.
    """
    x = rgb_tensor(rgb).contiguous(memory_format=torch.channels_last)
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", antialias=True, align_corners=False)


def upsample_map(small: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """Bilinear resize (half-pixel centres, like OpenCV and PIL) of a 2-D float map to ``shape``."""
    t = torch.from_numpy(np.ascontiguousarray(small, dtype=np.float32))[None, None]
    if tuple(t.shape[-2:]) == tuple(shape):
        return t[0, 0].numpy().copy()
    return F.interpolate(t, size=tuple(shape), mode="bilinear", align_corners=False)[0, 0].numpy()
