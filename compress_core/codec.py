"""Encoding: JPEG, WebP, PNG and AVIF through Pillow, and the search for a byte budget.

Quality scales: JPEG 1-95 (default 85), WebP 1-100 (default 80), AVIF 1-100 (default 60); PNG is
lossless (optimised, compression level 9) and has no quality. JPEG cannot store alpha: RGBA
pixels are composited over white first. The ICC profile and EXIF block of the input are
written where the format supports them.

``target_bytes``: :func:`fit_budget` binary-searches the largest quality whose encoding fits;
:class:`~compress_core.errors.TargetUnreachableError` says when even the lowest quality is too
big (the caller then tries fewer pixels).
"""
from __future__ import annotations

import io
from typing import Optional, Tuple

import numpy as np
from PIL import Image, features

from . import deadline
from .errors import TargetUnreachableError
from .images import to_pil
from .options import ImageFormat, parse_option

__all__ = [
    "resolve_format", "encode", "decode_pixels", "fit_budget", "default_quality",
    "supported_formats", "extension", "format_from_suffix", "QUALITY_RANGE", "check_quality",
]

QUALITY_RANGE = {
    ImageFormat.JPEG: (1, 95, 85),
    ImageFormat.WEBP: (1, 100, 80),
    ImageFormat.AVIF: (1, 100, 60),
}
_PIL_NAME = {ImageFormat.JPEG: "JPEG", ImageFormat.WEBP: "WEBP", ImageFormat.PNG: "PNG",
             ImageFormat.AVIF: "AVIF"}
_EXTENSION = {ImageFormat.JPEG: ".jpg", ImageFormat.WEBP: ".webp", ImageFormat.PNG: ".png",
              ImageFormat.AVIF: ".avif"}
_SUFFIXES = {".jpg": ImageFormat.JPEG, ".jpeg": ImageFormat.JPEG, ".jpe": ImageFormat.JPEG,
             ".webp": ImageFormat.WEBP, ".png": ImageFormat.PNG, ".avif": ImageFormat.AVIF}


def supported_formats():
    """Output formats this Pillow build can write (AVIF needs Pillow's AVIF plug-in)."""
    out = [ImageFormat.JPEG, ImageFormat.PNG]
    if features.check("webp"):
        out.append(ImageFormat.WEBP)
    if features.check("avif"):
        out.append(ImageFormat.AVIF)
    return out


def extension(fmt) -> str:
    """File suffix for a format (``".jpg"`` ...)."""
    return _EXTENSION[parse_option(ImageFormat, fmt, "format")]


def format_from_suffix(path: str) -> Optional[ImageFormat]:
    """The format a file name's suffix asks for, or None when unknown."""
    lower = str(path).lower()
    for suffix, fmt in _SUFFIXES.items():
        if lower.endswith(suffix):
            return fmt
    return None


def resolve_format(requested, input_format: Optional[str] = None,
                   has_alpha: bool = False) -> ImageFormat:
    """The concrete output format.

    ``"auto"`` keeps the input's format when it is JPEG, PNG, WebP or AVIF; otherwise (GIF, BMP,
    TIFF, arrays, PIL images) it is JPEG, or WebP when the pixels have alpha (JPEG would flatten
    the transparency).

    Raises
    ------
    ValueError
        Unknown format name, or a format this Pillow build cannot write.
    """
    fmt = parse_option(ImageFormat, requested, "format")
    if fmt is ImageFormat.AUTO:
        by_name = {"JPEG": ImageFormat.JPEG, "MPO": ImageFormat.JPEG, "PNG": ImageFormat.PNG,
                   "WEBP": ImageFormat.WEBP, "AVIF": ImageFormat.AVIF}
        fallback = ImageFormat.WEBP if has_alpha else ImageFormat.JPEG
        fmt = by_name.get((input_format or "").upper(), fallback)
        if fmt not in supported_formats():
            fmt = ImageFormat.PNG if has_alpha else ImageFormat.JPEG
    if fmt not in supported_formats():
        raise ValueError(f"format {fmt.value!r} is not supported by this Pillow build; "
                         f"supported: {', '.join(f.value for f in supported_formats())}")
    return fmt


def default_quality(fmt) -> Optional[int]:
    """Default quality of a format (None for PNG)."""
    fmt = parse_option(ImageFormat, fmt, "format")
    return QUALITY_RANGE[fmt][2] if fmt in QUALITY_RANGE else None


def check_quality(fmt, quality) -> Optional[int]:
    """``quality`` validated for ``fmt`` (its default when None; None for PNG).

    Raises
    ------
    ValueError
        Out of the format's range or not an integer.
    """
    fmt = parse_option(ImageFormat, fmt, "format")
    if fmt not in QUALITY_RANGE:
        return None
    lo, hi, default = QUALITY_RANGE[fmt]
    if quality is None:
        return default
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not lo <= quality <= hi:
        raise ValueError(f"quality for {fmt.value} must be an integer in {lo}..{hi}; got {quality!r}")
    return int(quality)


def encode(pixels: np.ndarray, fmt, quality: Optional[int] = None,
           icc_profile: Optional[bytes] = None, exif: Optional[bytes] = None) -> bytes:
    """Encode uint8 (H, W, 3|4) pixels.

    Raises
    ------
    ValueError
        Unknown format or quality out of the format's range.
    """
    fmt = resolve_format(fmt)
    quality = check_quality(fmt, quality)
    img = to_pil(pixels)
    if fmt is ImageFormat.JPEG and img.mode == "RGBA":
        background = Image.new("RGB", img.size, (255, 255, 255))
        background.paste(img, mask=img.getchannel("A"))
        img = background
    kwargs = {}
    if icc_profile:
        kwargs["icc_profile"] = icc_profile
    if exif:
        kwargs["exif"] = exif
    if fmt is ImageFormat.JPEG:
        kwargs.update(quality=quality, optimize=True)
    elif fmt is ImageFormat.WEBP:
        kwargs.update(quality=quality, method=4)
    elif fmt is ImageFormat.AVIF:
        kwargs.update(quality=quality, speed=8)
    else:
        kwargs.update(optimize=True, compress_level=9)
    buf = io.BytesIO()
    img.save(buf, format=_PIL_NAME[fmt], **kwargs)
    return buf.getvalue()


def decode_pixels(data: bytes) -> np.ndarray:
    """Decode encoded bytes to a uint8 RGB(A) array (for scoring candidates)."""
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        return np.asarray(img.convert("RGBA" if "A" in img.getbands() else "RGB"))


def fit_budget(pixels: np.ndarray, fmt, target_bytes: int, max_quality: Optional[int] = None,
               icc_profile: Optional[bytes] = None, exif: Optional[bytes] = None
               ) -> Tuple[bytes, Optional[int]]:
    """Largest quality (at most ``max_quality``) whose encoding is at most ``target_bytes``.

    Returns
    -------
    data : bytes
    quality : int or None (PNG)

    Raises
    ------
    TargetUnreachableError
        Even the lowest quality is larger than ``target_bytes``; ``exc.smallest_bytes`` holds
        the size at the lowest quality.
    """
    fmt = resolve_format(fmt)
    meta = dict(icc_profile=icc_profile, exif=exif)
    if fmt not in QUALITY_RANGE:
        data = encode(pixels, fmt, **meta)
        if len(data) > target_bytes:
            raise _unreachable(len(data), target_bytes, pixels, fmt, None)
        return data, None
    lo, hi, default = QUALITY_RANGE[fmt]
    hi = check_quality(fmt, max_quality) if max_quality is not None else default
    data = encode(pixels, fmt, hi, **meta)
    if len(data) <= target_bytes:
        return data, hi
    best = None
    low_q = lo
    high_q = hi - 1
    smallest = None
    while low_q <= high_q:
        deadline.check("an encoding of the quality search")
        mid = (low_q + high_q) // 2
        candidate = encode(pixels, fmt, mid, **meta)
        if mid == lo:
            smallest = len(candidate)
        if len(candidate) <= target_bytes:
            best = (candidate, mid)
            low_q = mid + 1
        else:
            high_q = mid - 1
    if best is None:
        if smallest is None:
            smallest = len(encode(pixels, fmt, lo, **meta))
        raise _unreachable(smallest, target_bytes, pixels, fmt, lo)
    return best


def _unreachable(smallest: int, target: int, pixels, fmt, quality) -> TargetUnreachableError:
    q = "" if quality is None else f" at quality {quality}"
    exc = TargetUnreachableError(
        f"target_bytes={target} is below the smallest {fmt.value.upper()} encoding of "
        f"{pixels.shape[1]}x{pixels.shape[0]} pixels{q}: {smallest} bytes")
    exc.smallest_bytes = smallest
    return exc
