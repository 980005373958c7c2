"""16-bit pictures whose 8-bit reading loses them: read again from their 16-bit samples.

Pillow reads 16-bit RGB and RGBA PNGs and TIFFs as 8-bit samples (the high byte of each). For
most files that is what an 8-bit output keeps anyway. Two kinds lose more:

* **Another tone curve.** A picture whose colour description says sRGB's primaries with a tone
  curve other than sRGB's (linear light: a PNG's gAMA chunk of 1.0, as renderers and measuring
  tools write them, or an embedded profile such as the linear sRGB that GIMP and Krita embed in
  PNGs and TIFFs; gamma 1.8) is brought to sRGB for its output (:mod:`compress_core.metadata`).
  Cut to 8 bits first, its shadows hold few levels: skimage's astronaut stored in linear light
  kept 6 levels where its sRGB original has 40 below level 40, and its output was off by up to
  12 levels there, banded. Converted from the 16-bit samples, it is off by at most one level.
* **A transparent colour.** A tRNS chunk on a 16-bit RGB PNG names one 16-bit colour as
  transparent; Pillow compares it with its 8-bit samples, so that colour was written opaque.

:func:`deep_pixels` reads such a file again (PNGs with ``imagecodecs``: libpng, every bit depth,
interlacing and tRNS; TIFF pages with ``tifffile``) and gives its 8-bit pixels: converted to
sRGB channel by channel through the profile's curves (:func:`compress_core.colour.srgb_curves`;
in a PNG an iCCP or sRGB chunk rules over gAMA, as the PNG specification says, and gAMA/cHRM
make a profile through :func:`compress_core.nclx.png_gamma_icc`), else rounded to 8 bits.
Curves on other primaries (Adobe RGB, Display P3) and table-based profiles keep the 8-bit way:
their profile travels with the output. Where the package is missing (an install without it) or
cannot read the file, a warning says so and Pillow's reading is kept.
"""
from __future__ import annotations

import logging
import struct
from typing import Optional, Tuple

import numpy as np
from PIL import Image

from .colour import srgb_curves
from .containers import _TO_8_BITS, hidden_default_image, page_samples
from .nclx import png_gamma_icc

__all__ = ["deep_pixels", "PNG16_PACKAGE"]

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


def deep_pixels(img: Image.Image, data: bytes, name: str
                ) -> Optional[Tuple[np.ndarray, bool]]:
    """For ``img`` (opened from ``data``, loaded) a 16-bit PNG or TIFF page that Pillow's 8-bit
    reading loses (see the module's text): its pixels read from the 16-bit samples, uint8
    (H, W, 3|4) as stored (not turned by an orientation), and whether they were converted to
    sRGB (then the file's colour description no longer describes them). None for every other
    picture, and where its samples cannot be read (a warning: Pillow's reading stays)."""
    if hidden_default_image(img):
        # (its IDAT is no picture shown: the frame Pillow composes is; security review 46)
        return None
    if img.format == "PNG" and _bit_depth(data) == 16:
        info = img.info
        icc = info.get("icc_profile")
        if not icc and "srgb" not in info:   # (an iCCP or sRGB chunk rules over gAMA)
            icc = png_gamma_icc(info.get("gamma"), info.get("chromaticity"))
        curves = srgb_curves(icc) if icc else None
        keyed = img.mode == "RGB" and "transparency" in info
        if curves is None and not keyed:
            return None
        samples = _png_samples(data, name, img.size)
    elif img.format == "TIFF" and _rgb16_page(img):
        curves = srgb_curves(img.info.get("icc_profile") or b"")
        if curves is None:
            return None
        samples = _tiff_samples(data, name, img)
    else:
        return None
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


def _rgb16_page(img: Image.Image) -> bool:
    """Whether ``img`` is at a TIFF page of 16-bit unsigned RGB samples, with no alpha or an
    unassociated one (premultiplied alpha keeps Pillow's reading)."""
    tags = img.tag_v2
    bits = tags.get(258) or ()
    bits = bits if isinstance(bits, tuple) else (bits,)
    extra = tags.get(338) or ()
    extra = extra if isinstance(extra, tuple) else (extra,)
    formats = tags.get(339) or (1,)
    formats = formats if isinstance(formats, tuple) else (formats,)
    return (tags.get(262) == 2 and tags.get(277, 1) in (3, 4) and bits
            and all(b == 16 for b in bits) and all(f == 1 for f in formats)
            and (tags.get(277) == 3 or tuple(extra) == (2,)))


def _tiff_samples(data: bytes, name: str, img: Image.Image) -> Optional[np.ndarray]:
    """The 16-bit samples of the TIFF page ``img`` stands at, (H, W, 3|4) as stored; None
    (warned) where tifffile cannot read them or they are not that page's picture."""
    try:
        samples = page_samples(data, img.tell())
    except Exception as exc:  # noqa: BLE001 - tifffile raises many types on odd files
        _LOG.warning("%s: its 16-bit samples cannot be read (%s: %s); read at 8 bits",
                     name, type(exc).__name__, exc)
        return None
    stored = (img.tag_v2.get(257), img.tag_v2.get(256))
    return _checked(samples, name, stored)


def _png_samples(data: bytes, name: str, size) -> Optional[np.ndarray]:
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
    return _checked(samples, name, size[::-1])


def _checked(samples: np.ndarray, name: str, shape) -> Optional[np.ndarray]:
    """``samples`` as (H, W, channels) where they are 16-bit and of the picture's ``shape``
    ((height, width)); else None (warned)."""
    if samples.ndim == 2:
        samples = samples[:, :, None]
    if (samples.dtype != np.uint16 or samples.ndim != 3 or samples.shape[2] not in (1, 2, 3, 4)
            or samples.shape[:2] != tuple(shape)):
        _LOG.warning("%s: its 16-bit samples read as %s %s, not its %s picture; read at "
                     "8 bits", name, samples.dtype, samples.shape, "x".join(map(str, shape[::-1])))
        return None
    return samples


def _srgb_levels(curves: np.ndarray) -> np.ndarray:
    """:func:`compress_core.colour.srgb_curves`'s light as 8-bit sRGB levels, (3, 65536)."""
    srgb = np.where(curves <= 0.0031308, curves * 12.92,
                    1.055 * np.power(curves, 1.0 / 2.4) - 0.055)
    return np.round(np.clip(srgb, 0.0, 1.0) * 255.0).astype(np.uint8)
