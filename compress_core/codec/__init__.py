"""Encoding: JPEG, WebP, PNG, AVIF and JPEG XL; quality searches; format choice; archive mode.

Quality scales: JPEG 1-100 (default 85), WebP 1-100 (default 80), AVIF 1-100 (default 60),
JPEG XL 1-100 (default 80); PNG is lossless and has no quality. The ICC profile, EXIF block
and XMP packet of the input are written where the format supports them, its IPTC record into
JPEGs.

* :mod:`.formats`: names, suffixes, quality ranges, optional packages.
* :mod:`.encoders`: pixels -> bytes (jpegli + mozjpeg scans for JPEG when installed; small
  JPEGs baseline where that is smaller).
* :mod:`.coefficients`: a JPEG's quantised coefficients read and written again without loss.
* :mod:`.semantic`: ``allocation="semantic"`` (dead zones in unimportant blocks' coefficients).
* :mod:`.search`: :func:`fit_budget` (``target_bytes``) and :func:`encode_to_score`
  (``quality="auto"``: smallest encoding reaching a SSIMULACRA2 score).
* :mod:`.content`: ``format="auto"`` by content (photo -> lossy, graphic/alpha -> lossless).
* :mod:`.archive`: lossless JPEG <-> JPEG XL recompression (bit-exact).
* :mod:`.jpeg_markers`: a JPEG's marker segments (frame type, components, scan headers).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..pixels import has_transparency
from ..options import ImageFormat
from .archive import jpeg_to_jxl, jxl_to_jpeg
from .content import PALETTE_SIZE, colour_count, encode_lossless, is_photo, keep_palette
from .encoders import (JXL_EXACT_ALPHA, decode_pixels, encode, flatten_for, jpeg_encoder,
                       lowest_quality)
from .formats import (
    MAX_SIDE,
    OPTIONAL_PACKAGES,
    QUALITY_RANGE,
    check_quality,
    check_side,
    default_quality,
    extension,
    format_from_suffix,
    holds,
    lossless_at,
    parse_format,
    pil_name,
    require_encoder,
    supported_formats,
    unwritable_suffix,
)
from .search import (
    DEFAULT_TARGET_QUALITY,
    check_target_quality,
    encode_to_score,
    fit_budget,
    predict_quality,
)

__all__ = [
    "resolve_format", "lossy_format", "encode", "decode_pixels", "fit_budget", "default_quality",
    "supported_formats", "extension", "format_from_suffix", "unwritable_suffix", "QUALITY_RANGE", "check_quality",
    "encode_to_score", "DEFAULT_TARGET_QUALITY", "check_target_quality", "predict_quality",
    "encode_lossless", "is_photo", "colour_count", "keep_palette", "PALETTE_SIZE", "has_transparency",
    "jpeg_to_jxl", "jxl_to_jpeg",
    "jpeg_encoder", "flatten_for", "lowest_quality", "JXL_EXACT_ALPHA", "pil_name",
    "require_encoder", "OPTIONAL_PACKAGES", "LOSSY_FORMATS", "MAX_SIDE", "holds", "check_side",
    "lossless_at",
]

#: Formats ``format="auto"`` may use for photos (``photo_format``).
LOSSY_FORMATS = (ImageFormat.JPEG, ImageFormat.WEBP, ImageFormat.AVIF, ImageFormat.JXL)


def resolve_format(requested, input_format: Optional[str] = None, has_alpha: bool = False,
                   pixels: Optional[np.ndarray] = None, photo_format="jpeg",
                   lossy_input: bool = False) -> ImageFormat:
    """The concrete output format.

    ``"auto"`` decides by content, not by the input's name: graphics
    (:func:`~compress_core.codec.content.is_photo` false) get ``PNG`` -- meaning lossless:
    :func:`encode_lossless` then keeps the smaller of PNG and lossless WebP; photos get
    ``photo_format`` (JPEG by default, for compatibility). A photo with transparency (an alpha
    channel not all 255: an opaque one hides nothing) is lossless too where ``photo_format``
    has no alpha (JPEG), and in ``photo_format`` with its alpha where it has (WebP, AVIF,
    JPEG XL: a cut-out astronaut at 256 px took 6.1-9.0 KB at a score of 71 against 65 KB
    lossless), and in WebP with its alpha where the input file was lossy (``lossy_input``:
    :func:`~compress_core.containers.lossy_encoding`; written exactly, a 34 KB AVIF cut-out
    became a 248 KB lossless WebP, a 26 KB lossy WebP at half size 81 KB: formats review 41).
    Without ``pixels``, ``has_alpha`` decides (lossless), and every image without alpha
    counts as a photo. ``input_format`` is accepted for compatibility and unused.

    Raises
    ------
    ValueError, TypeError
        Unknown format name (the message lists the accepted ones), or a ``photo_format`` that
        is not lossy.
    EncoderUnavailableError
        The format (or ``photo_format``) needs an optional package that is missing.
    """
    fmt = parse_format(requested)
    if fmt is not ImageFormat.AUTO:
        return require_encoder(fmt)
    photo = parse_format(photo_format)
    if photo not in LOSSY_FORMATS:
        raise ValueError(f"photo_format must be one of "
                         f"{', '.join(repr(f.value) for f in LOSSY_FORMATS)}; got {photo_format!r}")
    if pixels is None:
        return ImageFormat.PNG if has_alpha else lossy_format(None, photo)
    if (photo is ImageFormat.JPEG and not lossy_input and has_transparency(pixels)
            or not is_photo(pixels)):
        return ImageFormat.PNG
    return lossy_format(pixels, photo)


def lossy_format(pixels: Optional[np.ndarray], photo_format="jpeg",
                 graphic: bool = False) -> ImageFormat:
    """The lossy format ``"auto"`` writes ``pixels`` in (a photo, or a graphic whose lossless
    encoding misses a byte budget): ``photo_format``, or WebP where it is JPEG and they are
    transparent (JPEG has no alpha) or a ``graphic``: sharp edges on flat colour ring in JPEG's
    8 x 8 blocks at the few bytes such a budget leaves (a chart whose lossless file is 868 B
    scored -31.5 as a 694 B JPEG of 87 x 54 and +23.0 as a WebP of 272 x 170; a screenshot,
    a line drawing 10-57 points more; bytes review 38).
    Where that format cannot hold the picture (:data:`~.formats.MAX_SIDE`: WebP 16383 pixels a
    side, AVIF 32768, JPEG 65500), the first that can: transparent pixels AVIF, then JPEG XL;
    opaque ones JPEG, then JPEG XL, then AVIF (a 17000 x 40 transparent strip under a byte
    budget failed with WebP's "exceeds WebP limit of 16383 pixels", and a 70000-pixel-wide photo
    with jpegli's "Input image too big")."""
    photo = parse_format(photo_format)
    alpha = pixels is not None and has_transparency(pixels)
    fmt = ImageFormat.WEBP if (alpha or graphic) and photo is ImageFormat.JPEG else photo
    if pixels is not None and not holds(fmt, pixels.shape[1], pixels.shape[0]):
        order = ((ImageFormat.AVIF, ImageFormat.JXL) if alpha else
                 (ImageFormat.JPEG, ImageFormat.JXL, ImageFormat.AVIF))
        held = [f for f in order if holds(f, pixels.shape[1], pixels.shape[0])]  # JXL: any
        # the first installed; else the first (its error names the package to install)
        fmt = next((f for f in held if f in supported_formats()), held[0])
    return require_encoder(fmt)
