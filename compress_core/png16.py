"""16-bit PNGs whose 8-bit reading loses the picture: read again from their 16-bit samples.

Pillow reads a 16-bit RGB or RGBA PNG as 8-bit samples (the high byte of each). For most files
that is what an 8-bit output keeps anyway. Two kinds lose more:

* **Another tone curve.** A PNG whose colour description says sRGB's primaries with a tone
  curve other than sRGB's (linear light: a gAMA chunk of 1.0, as renderers and measuring tools
  write them, or an iCCP profile such as the linear sRGB that GIMP and Krita embed; gamma 1.8)
  is brought to sRGB for its output (:mod:`compress_core.metadata`). Cut to 8 bits first, its
  shadows hold few levels: skimage's astronaut stored in linear light kept 6 levels where its
  sRGB original has 40 below level 40, and its output was off by up to 12 levels there,
  banded. Converted from the 16-bit samples, it is off by at most one level.
* **A transparent colour.** A tRNS chunk on 16-bit RGB names one 16-bit colour as transparent;
  Pillow compares it with its 8-bit samples, so that colour was written opaque.

:func:`deep_png_pixels` reads such a file again with ``imagecodecs`` (libpng: every bit depth,
interlacing and tRNS) and gives its 8-bit pixels: converted to sRGB channel by channel through
the profile's curves (:func:`compress_core.colour.srgb_curves`; an iCCP or sRGB chunk rules
over gAMA, as the PNG specification says, and gAMA/cHRM make a profile through
:func:`compress_core.nclx.png_gamma_icc`), else rounded to 8 bits. Curves on other primaries
(Adobe RGB, Display P3) and table-based profiles keep the 8-bit way: their profile travels with
the output. Without ``imagecodecs`` (an install without it), a warning names it and Pillow's
reading is kept.
"""
from __future__ import annotations

import logging
import struct
from typing import Optional, Tuple

import numpy as np
from PIL import Image

from .colour import srgb_curves
from .containers import _TO_8_BITS
from .nclx import png_gamma_icc

__all__ = ["deep_png_pixels", "PNG16_PACKAGE"]

_LOG = logging.getLogger(__name__)

#: The package that reads 16-bit PNG samples (PyPI name).
PNG16_PACKAGE = "imagecodecs"

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: A PNG's first chunk after the signature: length, "IHDR", width, height, bit depth, colour type.
_IHDR = struct.Struct(">I4sIIBB")


def _bit_depth(data: bytes) -> Optional[int]:
    if len(data) < 8 + _IHDR.size or not data.startswith(_SIGNATURE):
        return None
    _, tag, _, _, depth, _ = _IHDR.unpack_from(data, 8)
    return depth if tag == b"IHDR" else None


def deep_png_pixels(img: Image.Image, data: bytes, name: str
                    ) -> Optional[Tuple[np.ndarray, bool]]:
    """For ``img`` (opened from ``data``) a 16-bit PNG that Pillow's 8-bit reading loses (see
    the module's text): its pixels read from the 16-bit samples, uint8 (H, W, 3|4) as stored
    (not turned by an EXIF orientation), and whether they were converted to sRGB (then the
    file's colour description, its iCCP chunk or gAMA and cHRM chunks, no longer describes
    them). None for every other picture, and where ``imagecodecs`` is missing or cannot read
    the file (a warning: Pillow's reading stays)."""
    if img.format != "PNG" or _bit_depth(data) != 16:
        return None
    info = img.info
    icc = info.get("icc_profile")
    if not icc and "srgb" not in info:   # (an iCCP or sRGB chunk rules over gAMA)
        icc = png_gamma_icc(info.get("gamma"), info.get("chromaticity"))
    curves = srgb_curves(icc) if icc else None
    keyed = img.mode == "RGB" and "transparency" in info
    if curves is None and not keyed:
        return None
    samples = _samples(data, name, img.size)
    if samples is None:
        return None
    colours = samples.shape[2] - (samples.shape[2] in (2, 4))
    if curves is None:
        colour = _TO_8_BITS[samples[..., :colours]]
    else:
        tables = _srgb_levels(curves)
        colour = np.empty(samples.shape[:2] + (colours,), np.uint8)
        for c in range(colours):
            colour[..., c] = tables[c][samples[..., c]]
    if colours == 1:
        colour = np.repeat(colour, 3, axis=2)
    if colours < samples.shape[2]:
        colour = np.concatenate([colour, _TO_8_BITS[samples[..., colours:]]], axis=2)
    return np.ascontiguousarray(colour), curves is not None


def _samples(data: bytes, name: str, size) -> Optional[np.ndarray]:
    """The PNG's 16-bit samples, (H, W, channels), tRNS made alpha; None (warned) where they
    cannot be read or are not the picture Pillow opened."""
    try:
        import imagecodecs
    except ImportError:
        _LOG.warning("%s: a 16-bit PNG read at 8 bits, its shadows or its transparent colour "
                     "may be lost: install %s to read its 16-bit samples", name, PNG16_PACKAGE)
        return None
    try:
        samples = imagecodecs.png_decode(data)
    except Exception as exc:  # noqa: BLE001 - imagecodecs raises its own and libpng's errors
        _LOG.warning("%s: its 16-bit samples cannot be read (%s: %s); read at 8 bits",
                     name, type(exc).__name__, exc)
        return None
    if samples.ndim == 2:
        samples = samples[:, :, None]
    if (samples.dtype != np.uint16 or samples.ndim != 3 or samples.shape[2] not in (1, 2, 3, 4)
            or samples.shape[1::-1] != tuple(size)):
        _LOG.warning("%s: its 16-bit samples read as %s %s, not its %dx%d picture; read at "
                     "8 bits", name, samples.dtype, samples.shape, *size)
        return None
    return samples


def _srgb_levels(curves: np.ndarray) -> np.ndarray:
    """:func:`compress_core.colour.srgb_curves`'s light as 8-bit sRGB levels, (3, 65536)."""
    srgb = np.where(curves <= 0.0031308, curves * 12.92,
                    1.055 * np.power(curves, 1.0 / 2.4) - 0.055)
    return np.round(np.clip(srgb, 0.0, 1.0) * 255.0).astype(np.uint8)
