"""Pictures of what the library sees: energy heat maps and seam overlays.

No plotting library is needed: colour maps are built-in 256-entry lookup tables.

* ``"inferno"``: matplotlib's perceptually uniform map, interpolated from its eleven decile
  colours (``#000004`` ... ``#fcffa4``), within a few levels of the original everywhere.
* ``"turbo"``: Google's improved rainbow map (Mikhailov 2019), from the widely used
  fifth-order polynomial fit of it.
* ``"gray"``.
"""
from __future__ import annotations

from enum import Enum
from typing import Sequence

import numpy as np

from .energy.base import as_energy_map, normalize_map
from .pixels import as_rgb_array
from .options import parse_option

__all__ = ["Colormap", "colormap_lut", "energy_heatmap", "overlay_energy", "draw_seams"]


class Colormap(str, Enum):
    """Built-in colour maps."""

    INFERNO = "inferno"
    TURBO = "turbo"
    GRAY = "gray"


_INFERNO_DECILES = [
    "000004", "160b39", "420a68", "6a176e", "932667", "bc3754",
    "dd513a", "f37819", "fca50a", "f6d746", "fcffa4",
]


def _inferno() -> np.ndarray:
    anchors = np.array([[int(h[i:i + 2], 16) for i in (0, 2, 4)] for h in _INFERNO_DECILES],
                       dtype=np.float64)
    t = np.linspace(0.0, 1.0, 256)
    xs = np.linspace(0.0, 1.0, len(anchors))
    return np.stack([np.interp(t, xs, anchors[:, c]) for c in range(3)], axis=1)


def _turbo() -> np.ndarray:
    x = np.linspace(0.0, 1.0, 256)
    powers = np.stack([x ** k for k in range(6)], axis=1)  # 1, x, ..., x^5
    coeffs = np.array([
        [0.13572138, 4.61539260, -42.66032258, 132.13108234, -152.94239396, 59.28637943],
        [0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604],
        [0.10667330, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973],
    ])
    return np.clip(powers @ coeffs.T, 0.0, 1.0) * 255.0


def colormap_lut(colormap: str = "inferno") -> np.ndarray:
    """The 256 x 3 uint8 lookup table of a built-in colour map.

    Raises
    ------
    ValueError
        If ``colormap`` is not one of the accepted values.
    """
    cmap = parse_option(Colormap, colormap, "colormap")
    if cmap is Colormap.INFERNO:
        table = _inferno()
    elif cmap is Colormap.TURBO:
        table = _turbo()
    else:
        table = np.repeat(np.arange(256, dtype=np.float64)[:, None], 3, axis=1)
    return np.clip(np.rint(table), 0, 255).astype(np.uint8)


def energy_heatmap(energy: np.ndarray, colormap: str = "inferno") -> np.ndarray:
    """Colour picture of an energy map, uint8 (H, W, 3).

    The map is normalised to [0, 1] by its 99.5th percentile first.

    Raises
    ------
    ValueError
        If ``energy`` is not a non-empty 2-D array of finite numbers, or ``colormap`` is
        unknown.
    """
    lut = colormap_lut(colormap)
    energy = as_energy_map(energy, "energy")
    index = np.rint(normalize_map(energy) * 255.0).astype(np.uint8)
    return lut[index]


def overlay_energy(image, energy: np.ndarray, alpha: float = 0.6,
                   colormap: str = "inferno") -> np.ndarray:
    """An energy heat map blended over the photo, uint8 (H, W, 3).

    Parameters
    ----------
    image : ndarray or PIL.Image.Image
        The photo (any input :func:`~compress_core.pixels.as_rgb_array` accepts).
    energy : ndarray (H, W)
        Its energy map (same height and width).
    alpha : float
        Opacity of the heat map, 0 (photo only) to 1 (heat map only).
    colormap : {"inferno", "turbo", "gray"}
        Colour map.

    Raises
    ------
    ValueError
        Mismatched shapes, a map with NaN / inf, ``alpha`` outside [0, 1], or an unknown
        colour map.
    TypeError
        A map or ``alpha`` that is not numeric.
    """
    rgb = as_rgb_array(image, drop_alpha=True)
    energy = as_energy_map(energy, "energy", rgb.shape[:2])
    if isinstance(alpha, (bool, np.bool_)) or not isinstance(alpha, (int, float, np.number)):
        raise TypeError(f"alpha must be a number in [0, 1]; got {alpha!r}")
    alpha = float(alpha)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1]; got {alpha!r}")
    heat = energy_heatmap(energy, colormap).astype(np.float32)
    out = rgb.astype(np.float32) * (1.0 - alpha) + heat * alpha
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _check_seams(seams, length: int, limit: int, name: str) -> np.ndarray:
    arr = np.asarray(seams)
    if arr.ndim == 1 and arr.size == length:
        arr = arr[None]
    if arr.size == 0:
        return np.zeros((0, length), dtype=np.int64)
    if arr.ndim != 2 or arr.shape[1] != length:
        raise ValueError(f"{name} must have shape (k, {length}); got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must hold integer pixel indices; got dtype {arr.dtype}")
    if arr.min() < 0 or arr.max() >= limit:
        raise ValueError(f"{name} indices must be in [0, {limit}); got {arr.min()}..{arr.max()}")
    return arr.astype(np.int64, copy=False)


def draw_seams(image, seams_vertical=None, seams_horizontal=None,
               color: Sequence[int] = (255, 0, 0), width: int = 1) -> np.ndarray:
    """Draw seams over a copy of the photo, uint8 (H, W, 3).

    Parameters
    ----------
    image : ndarray or PIL.Image.Image
        The original photo, (H, W).
    seams_vertical : array of int, shape (k, H), optional
        ``seams_vertical[i, y]`` is the column of seam ``i`` in row ``y``, in original image
        coordinates (what the carver returns). One seam may be given as shape (H,).
    seams_horizontal : array of int, shape (k, W), optional
        ``seams_horizontal[i, x]`` is the row of seam ``i`` in column ``x``.
    color : (int, int, int)
        RGB colour of the seams.
    width : int
        Line width in pixels (1..50), grown symmetrically across the seam, so that seams stay
        visible on large photos.

    Raises
    ------
    ValueError
        Seams of the wrong shape or outside the image, a bad colour or width.
    """
    rgb = as_rgb_array(image, drop_alpha=True).copy()
    h, w = rgb.shape[:2]
    try:
        colour = np.array([int(c) for c in color], dtype=np.int64)
    except (TypeError, ValueError):
        raise ValueError(f"color must be three integers in 0..255; got {color!r}") from None
    if colour.shape != (3,) or colour.min() < 0 or colour.max() > 255:
        raise ValueError(f"color must be three integers in 0..255; got {color!r}")
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or not 1 <= width <= 50:
        raise ValueError(f"width must be an integer in [1, 50]; got {width!r}")
    colour = colour.astype(np.uint8)
    offsets = np.arange(width) - (width - 1) // 2
    if seams_vertical is not None:
        cols = _check_seams(seams_vertical, h, w, "seams_vertical")
        rows = np.broadcast_to(np.arange(h), cols.shape)
        for off in offsets:
            rgb[rows, np.clip(cols + off, 0, w - 1)] = colour
    if seams_horizontal is not None:
        rows = _check_seams(seams_horizontal, w, h, "seams_horizontal")
        cols = np.broadcast_to(np.arange(w), rows.shape)
        for off in offsets:
            rgb[np.clip(rows + off, 0, h - 1), cols] = colour
    return rgb
