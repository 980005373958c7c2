"""Pictures in memory as the library's arrays: what NumPy arrays and PIL images a caller
passes are taken as (:func:`as_pixel_array`, :func:`as_rgb_array`: dtypes, value ranges,
gray kept or made RGB), the checks at encoders' and scores' doors (:func:`check_rgb8`), and
small facts of an RGB(A) uint8 array (:func:`has_transparency`, :func:`clear_hidden`,
:func:`to_pil`). Files and bytes are decoded by :mod:`compress_core.images`, which re-exports
these names.
"""
from __future__ import annotations

import os

import numpy as np
from PIL import Image

from .errors import UnsupportedImageError

__all__ = ["check_rgb8", "has_transparency", "clear_hidden", "image_list", "as_rgb_array",
           "as_pixel_array", "to_pil"]


def check_rgb8(pixels, name: str = "pixels") -> np.ndarray:
    """``pixels`` as encoders and scores take them: a non-empty uint8 NumPy array (H, W, 3|4);
    else a ``TypeError`` (not an array) or ``ValueError`` naming ``name`` (gray, 16-bit and float
    pictures go through :func:`as_rgb_array` first)."""
    if not isinstance(pixels, np.ndarray):
        raise TypeError(f"{name} must be a uint8 NumPy array of shape (H, W, 3) or (H, W, 4); "
                        f"got {type(pixels).__name__}")
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] not in (3, 4) \
            or 0 in pixels.shape:
        raise ValueError(f"{name} must be a non-empty uint8 array of shape (H, W, 3) or "
                         f"(H, W, 4); got {pixels.dtype} {pixels.shape}")
    return pixels


def has_transparency(pixels: np.ndarray) -> bool:
    """Whether ``pixels`` (H, W, 3|4) hide anything: an alpha channel not 255 everywhere (an
    opaque one hides nothing, and a photo with it stays a photo)."""
    return pixels.ndim == 3 and pixels.shape[2] == 4 and bool((pixels[..., 3] < 255).any())


def clear_hidden(pixels: np.ndarray) -> np.ndarray:
    """``pixels`` with black under fully transparent pixels (their colour shows nowhere);
    ``pixels`` itself where there is nothing to clear. Encoders store that colour (lossless
    WebP and PNG exactly): cut-out photos kept it for 12-67% more bytes as lossless WebP,
    more the larger their transparent share."""
    if pixels.ndim != 3 or pixels.shape[2] != 4:
        return pixels
    hidden = pixels[..., 3] == 0
    if not hidden.any() or not pixels[hidden, :3].any():
        return pixels
    out = pixels.copy()
    out[hidden, :3] = 0
    return out


def image_list(images, one: str) -> list:
    """``images``, an iterable of images, as a list; a ``TypeError`` naming ``images`` for one
    image (a path, bytes, a PIL image, a file object, an array other than a stack (N, H, W, C)),
    which iterating would cut into characters, bytes or rows (an (H, W, 3) array made H gray
    "images" of W x 3 pixels; edge review 37 found the deep energy's batch doing so), and for
    what is not iterable. ``one``: what to call for a single image, said in the message."""
    if isinstance(images, (str, bytes, bytearray, memoryview, os.PathLike)) \
            or (isinstance(images, np.ndarray) and images.ndim != 4) \
            or hasattr(images, "getpixel") or hasattr(images, "read"):
        raise TypeError(f"images must be an iterable of images (a list, ...); got one "
                        f"{type(images).__name__}: pass [image], or call {one}")
    try:
        return list(images)
    except TypeError:
        raise TypeError(f"images must be an iterable of images (a list, ...); got "
                        f"{type(images).__name__}") from None


def as_rgb_array(image, drop_alpha: bool = False) -> np.ndarray:
    """Return ``image`` (array or PIL) as a contiguous uint8 array of shape (H, W, 3|4).

    Gray inputs become three equal channels (see :func:`as_pixel_array` to keep one).

    Parameters
    ----------
    image : ndarray or PIL.Image.Image
        Gray (H, W) or (H, W, 1), RGB (H, W, 3) or RGBA (H, W, 4); see :func:`as_pixel_array`
        for the accepted dtypes and value ranges.
    drop_alpha : bool
        Return RGB even when the input has alpha.

    Raises
    ------
    UnsupportedImageError
        Empty arrays, unsupported shapes or dtypes, values outside the dtype's accepted range,
        or non-finite float values.
    TypeError
        Neither an array nor a PIL image.
    """
    arr = as_pixel_array(image)
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    if drop_alpha and arr.shape[2] == 4:
        arr = np.ascontiguousarray(arr[:, :, :3])
    return arr


#: Float images hold values in [0, 1]; up to half an 8-bit level outside is rounding noise
#: (it rounds to 0 or 255), anything further is an error, not a silent clip.
_FLOAT_TOLERANCE = 0.5 / 255.0

_GRAY_PIL_MODES = ("1", "L", "I;16", "I;16B", "I;16L", "I;16N", "I", "F")


def as_pixel_array(image) -> np.ndarray:
    """Return ``image`` as a contiguous uint8 array of shape (H, W, 1|3|4), gray kept gray.

    Parameters
    ----------
    image : ndarray or PIL.Image.Image
        Shapes: gray (H, W) or (H, W, 1), RGB (H, W, 3), RGBA (H, W, 4); H, W >= 1.
        Arrays by dtype:

        * ``uint8``: as is; ``bool``: False -> 0, True -> 255;
        * ``uint16``: 16-bit data, scaled by 65535 (the PNG / TIFF convention);
        * other integers (``int8`` ... ``int64``, ``uint32``, ``uint64``): values in 0..255;
        * floats (``float16``, ``float32``, ``float64``): values in [0, 1] (scaled by 255 and
          rounded), all finite.

        Anything else raises: a float array holding 0..255 is refused rather than clipped to
        white. A PIL image is decoded as
        :func:`~compress_core.images.load_image` decodes it (upright by its EXIF
        orientation, a grey or CMYK picture through its colour profile; an RGB profile is not
        applied), at the frame it stands at (an animation's frame, a TIFF's page); its gray
        modes (``1``, ``L``, 16-bit, ``I``, ``F``) stay gray.

    Raises
    ------
    UnsupportedImageError
        Empty arrays, unsupported shapes or dtypes, out-of-range or non-finite values.
    ImageDecodeError
        A PIL image whose file is damaged, cut short or closed.
    TypeError
        Neither an array nor a PIL image.
    """
    if isinstance(image, Image.Image):
        # decoded as load_image decodes it (compress() takes the same picture): upright by its
        # EXIF orientation, grey and CMYK profiles applied, a damaged or closed file an
        # ImageDecodeError (a carver given an Image.open() of a phone's JPEG carved it
        # sideways, and a truncated one raised Pillow's OSError; edge review 37)
        from .images import pil_image_pixels   # (images imports this module)

        arr = pil_image_pixels(image)
        if image.mode in _GRAY_PIL_MODES and "transparency" not in image.info:
            arr = np.ascontiguousarray(arr[:, :, :1])
        return arr
    if isinstance(image, np.ndarray):
        return _array_to_u8(image)
    raise TypeError(f"image must be a numpy array or PIL image; got {type(image).__name__}")


def _array_to_u8(arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise UnsupportedImageError(
            f"image array must have shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); got {arr.shape}"
        )
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise UnsupportedImageError(f"image array is empty: shape {arr.shape}")
    if not arr.dtype.isnative and arr.dtype.kind in "uif":  # e.g. big-endian '>u2' from a file
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if arr.dtype == np.uint8:
        out = arr
    elif arr.dtype == np.bool_:
        out = arr.astype(np.uint8) * 255
    elif np.issubdtype(arr.dtype, np.floating):
        # float64 stays float64 (its 0..255 mistakes must be seen); smaller floats go to float32
        work = arr.astype(np.float64 if arr.dtype.itemsize > 4 else np.float32)
        if not np.isfinite(work).all():
            raise UnsupportedImageError("image array contains NaN or infinite values")
        lo, hi = float(work.min()), float(work.max())
        if lo < -_FLOAT_TOLERANCE or hi > 1.0 + _FLOAT_TOLERANCE:
            hint = " (for 0..255 data pass uint8: arr.astype(np.uint8))" if 2.0 < hi <= 255.5 else ""
            raise UnsupportedImageError(
                f"float image array of dtype {arr.dtype} must hold values in [0, 1]; got "
                f"{lo:g}..{hi:g}{hint}. Accepted: uint8 0..255, uint16 0..65535, other integers "
                "0..255, bool, float 0..1"
            )
        out = np.clip(np.rint(work * 255.0), 0, 255).astype(np.uint8)
    elif np.issubdtype(arr.dtype, np.integer):
        info = np.iinfo(arr.dtype)
        if arr.dtype == np.uint16:
            out = (arr.astype(np.uint32) * 255 + 32767) // 65535
            out = out.astype(np.uint8)
        elif arr.min() >= 0 and arr.max() <= 255:
            out = arr.astype(np.uint8)
        else:
            raise UnsupportedImageError(
                f"integer image array of dtype {arr.dtype} must hold values in 0..255 "
                f"(got {arr.min()}..{arr.max()}; range of the dtype {info.min}..{info.max}). "
                "Accepted: uint8 0..255, uint16 0..65535, other integers 0..255, bool, float 0..1"
            )
    else:
        raise UnsupportedImageError(
            f"unsupported image array dtype {arr.dtype}; accepted: uint8, uint16, other "
            "integers (0..255), bool, float16/32/64 (0..1)"
        )
    return np.ascontiguousarray(out)


def to_pil(pixels: np.ndarray) -> Image.Image:
    """PIL image (``RGB`` or ``RGBA``) of a uint8 (H, W, 3|4) array."""
    return Image.fromarray(np.ascontiguousarray(pixels), "RGBA" if pixels.shape[2] == 4 else "RGB")
