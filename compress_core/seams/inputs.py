"""What reaches the seam carver's kernels, checked once at its edge, and the mask terms.

Pixels, keep / remove masks and energy terms are validated here before any Numba kernel sees
them (shape, dtype, finiteness, float32 headroom); masks become static energy terms
(:func:`with_masks`). Nothing here writes to a caller's array.
"""
from __future__ import annotations

import math
import os
from typing import Optional

import numpy as np

from ..energy.base import CarvingTerms

__all__ = ["KEEP_ENERGY", "REMOVE_ENERGY", "check_mask", "check_masks_apart", "check_terms",
           "check_pixels", "with_masks", "kept_pixels", "is_gray_2d", "rgb_view"]

#: Static energy added on keep-mask pixels and subtracted on remove-mask pixels (per pixel).
#: Larger than any seam's ordinary cost on images up to ~50 MP (Sobel L1 <= 2040 per pixel),
#: small enough that float32 cumulative costs keep integer precision of the gradient term.
KEEP_ENERGY = np.float32(1e5)
REMOVE_ENERGY = np.float32(1e5)


def check_mask(mask, shape, name) -> Optional[np.ndarray]:
    """``mask`` as a bool (H, W) array of the image's shape, or None.

    Accepted: a 2-D array (bool, integers or finite floats; non-zero means set) whose shape is
    the image's ``(H, W)``; ``shape`` None: any 2-D shape (what a request can check before an
    image is decoded: a batch refuses a mask no image could take once, before the first).
    Anything else (3-D masks, file names) raises.

    Raises
    ------
    ValueError
        Wrong shape, NaN or infinite values.
    TypeError
        Not an array of numbers.
    """
    if mask is None:
        return None
    if isinstance(mask, (str, bytes, os.PathLike)):
        raise TypeError(f"{name} must be an array of bool or numbers, not a file name or "
                        f"bytes ({type(mask).__name__}): read the mask first, such as "
                        "np.asarray(PIL.Image.open(path).convert('L')) > 0 (the command "
                        "line's mask options take files)")
    try:
        mask = np.asarray(mask)
    except ValueError as exc:   # (rows of unequal lengths)
        raise ValueError(f"{name} must be a 2-D array of bool or numbers: {exc}") from None
    if not (mask.dtype == np.bool_ or np.issubdtype(mask.dtype, np.integer)
            or np.issubdtype(mask.dtype, np.floating)):
        raise TypeError(f"{name} must be an array of bool or numbers; got dtype {mask.dtype}")
    if shape is None:
        if mask.ndim != 2:
            raise ValueError(f"{name} must be a 2-D array (the image's rows and columns); "
                             f"got shape {mask.shape}")
    elif mask.shape != tuple(shape):
        # (rows, columns), and width x height as a mask drawn in an image file is seen
        seen = (lambda s: f" ({s[1]}x{s[0]} pixels)" if len(s) == 2 else "")
        turned = (" (the picture turned? an EXIF-rotated PIL image is used upright, as it is "
                  "shown: draw the mask on that)" if mask.shape == tuple(shape)[::-1] else "")
        raise ValueError(
            f"{name} must be a 2-D array with the image's shape {tuple(shape)}{seen(shape)}; "
            f"got {mask.shape}{seen(mask.shape)}{turned}"
        )
    if np.issubdtype(mask.dtype, np.floating) and not np.isfinite(mask).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return mask.astype(bool)


#: Largest energy per pixel (static + gradient term) whose cumulative seam cost stays finite in
#: float32 on any image side: the kernels compare float32 sums along a whole seam.
_MAX_ENERGY_SUM = 1e36


def check_terms(terms, shape, name: str) -> CarvingTerms:
    """Validate the :class:`CarvingTerms` of an image of ``shape`` (H, W) before any kernel.

    The static map must be a finite real 2-D array of exactly ``shape``; the gradient weight a
    finite number >= 0; together small enough that a seam's cost stays finite in float32.
    Returns the terms with the static map as float32 (not copied when it already is: the
    kernels' working arrays are copies).

    Raises
    ------
    TypeError
        ``terms`` is not a CarvingTerms, or the map / weight is not numeric.
    ValueError
        Wrong shape, NaN / infinite values, negative or too large weights.
    """
    if not isinstance(terms, CarvingTerms):
        raise TypeError(f"{name} must be a CarvingTerms; got {type(terms).__name__}")
    gw = terms.gradient_weight
    if isinstance(gw, (bool, np.bool_)) or not isinstance(gw, (int, float, np.integer,
                                                                np.floating)):
        raise TypeError(f"{name}.gradient_weight must be a number; got {gw!r}")
    gw = float(gw)
    if not math.isfinite(gw) or gw < 0:
        raise ValueError(f"{name}.gradient_weight must be finite and >= 0; got {gw}")
    static = terms.static
    peak = 0.0
    if static is not None:
        static = np.asarray(static)
        if not (np.issubdtype(static.dtype, np.floating) or np.issubdtype(static.dtype, np.integer)
                or static.dtype == np.bool_):
            raise TypeError(f"{name}.static must be a real numeric array; got dtype {static.dtype}")
        if static.shape != tuple(shape):
            raise ValueError(f"{name}.static must have the image's shape {tuple(shape)}; "
                             f"got {static.shape}")
        static = np.asarray(static, dtype=np.float32)
        if not np.isfinite(static).all():
            raise ValueError(f"{name}.static contains NaN or infinite values (after float32 "
                             "conversion)")
        peak = float(np.abs(static).max()) if static.size else 0.0
    if (peak + 2040.0 * gw) * max(shape) > _MAX_ENERGY_SUM:
        raise ValueError(f"{name}: static map (max |value| {peak:g}) and gradient_weight {gw:g} "
                         f"are too large: a seam's cost would overflow float32")
    return CarvingTerms(static=static, gradient_weight=gw)


def check_pixels(pixels, name="pixels") -> np.ndarray:
    """A uint8 (H, W, C) C-contiguous array, H, W, C >= 1 (kernel input)."""
    if not isinstance(pixels, np.ndarray) or pixels.dtype != np.uint8 or pixels.ndim != 3 \
            or min(pixels.shape) < 1:
        raise ValueError(f"{name} must be a uint8 array of shape (H, W, C) with H, W, C >= 1; "
                         f"got {getattr(pixels, 'dtype', type(pixels).__name__)} "
                         f"{getattr(pixels, 'shape', '')}")
    return np.ascontiguousarray(pixels)


def is_gray_2d(image) -> bool:
    """A 2-D array or a PIL gray image: the result is 2-D too (gray in, gray out)."""
    if isinstance(image, np.ndarray):
        return image.ndim == 2
    mode = getattr(image, "mode", None)
    return mode in ("1", "L", "I;16", "I;16B", "I;16L", "I;16N", "I", "F") and \
        "transparency" not in getattr(image, "info", {})


def rgb_view(pixels: np.ndarray) -> np.ndarray:
    """The RGB view energy functions take: gray repeated, alpha dropped."""
    if pixels.shape[2] == 1:
        return np.repeat(pixels, 3, axis=2)
    return pixels[..., :3]


def check_masks_apart(keep: Optional[np.ndarray], remove: Optional[np.ndarray]) -> None:
    """``ValueError`` when checked ``keep`` and ``remove`` masks share pixels: their energies
    cancel there (+KEEP_ENERGY - REMOVE_ENERGY), so such an object was neither removed nor
    protected (851 of 900 pixels of a masked block left, silently)."""
    if keep is not None and remove is not None:
        both = int(np.count_nonzero(keep & remove))
        if both:
            raise ValueError(f"keep_mask and remove_mask overlap on {both} pixels: a pixel "
                             "cannot be both kept and removed")


def kept_pixels(static: np.ndarray) -> np.ndarray:
    """The pixels a keep mask holds in a static map made by :func:`with_masks` (over half
    :data:`KEEP_ENERGY`: no energy of a picture comes near it), bool of its shape."""
    return static > KEEP_ENERGY / 2


def with_masks(static, keep, remove, shape):
    """Static map with +KEEP_ENERGY on keep pixels and -REMOVE_ENERGY on remove pixels
    (``ValueError`` where they overlap, :func:`check_masks_apart`)."""
    if keep is None and remove is None:
        return static
    check_masks_apart(keep, remove)
    out = np.zeros(shape, dtype=np.float32) if static is None else static.astype(np.float32, copy=True)
    if keep is not None:
        out[keep] += KEEP_ENERGY
    if remove is not None:
        out[remove] -= REMOVE_ENERGY
    return out
