"""Encoders: pixels -> bytes for every output format, and back for scoring.

* **JPEG**: jpegli (PyPI ``pyjpegli``, Google's libjpeg-compatible encoder with adaptive
  quantisation) followed by mozjpeg's lossless scan optimisation (PyPI
  ``mozjpeg-lossless-optimization``: progressive scans and optimal Huffman tables, the pixels
  unchanged); each is used when installed. Measured on Kodak at equal SSIMULACRA2: see
  BENCHMARKS.md. Without pyjpegli, Pillow's libjpeg-turbo (``optimize=True``). Standard JPEG
  either way (any decoder reads it). jpegli writes no metadata, so the EXIF (APP1), XMP
  (APP1; over 64 KiB as extended XMP, in pieces), ICC (APP2, chunked as the ICC spec says)
  and IPTC (APP13; one over 64 KiB is not carried, with a warning) segments are inserted
  after the SOI marker here.
* **WebP** (method 6), **AVIF** (speed 6, libaom tuned for SSIMULACRA2 where it can be) and
  **PNG** (level 9) through Pillow; ``lossless=True`` gives lossless WebP (method 5, effort 90:
  :data:`WEBP_LOSSLESS_METHOD`).
* **JPEG XL** through ``pillow-jxl-plugin`` (effort 7; quality 100 is lossless; with
  transparency at least quality :data:`JXL_EXACT_ALPHA`, :func:`lowest_quality`). The plug-in
  cannot store an ICC profile: pixels with one are converted to sRGB first (Little CMS via
  ``PIL.ImageCms``). The EXIF block is given to it with the 4-byte offset the format's
  ``Exif`` box starts with (:func:`_jxl_exif_box`).

JPEG cannot store alpha: RGBA pixels are composited over white first.
"""
from __future__ import annotations

import io
import logging
import os
import struct
import zlib
from typing import Optional, Tuple

import numpy as np
from PIL import Image, PngImagePlugin

from ..colour import rgb_to_srgb
from ..errors import EncodingError, SemanticCompressError
from ..exif_edit import unoriented_in_place
from ..pixels import check_rgb8, has_transparency, to_pil
from ..metadata import exif_within
from ..options import ImageFormat
from ..xmp import extended_xmp
from .coefficients import coefficients_missing, rewrite_jpeg
from .formats import (QUALITY_RANGE, check_quality, check_side, installed, lossless_at, pil_name,
                      require_encoder)
from .jpeg_markers import APP0
from .jpeg_markers import segments as segments_of

__all__ = ["as_shown", "encode", "decode_pixels", "flatten_for", "jxl_srgb", "jpeg_encoder",
           "lowest_quality", "JXL_EXACT_ALPHA",
           "stored_bytes", "optimize_scans", "BASELINE_BELOW", "WEBP_METHOD",
           "WEBP_LOSSLESS_METHOD", "WEBP_LOSSLESS_EFFORT", "AVIF_SPEED", "AVIF_TUNE",
           "AVIF_ALPHA_FLOOR", "JXL_EFFORT"]

_LOG = logging.getLogger(__name__)

WEBP_METHOD = 6
#: Lossless WebP's method and effort (Pillow's ``quality`` in lossless mode). Method 6 at effort
#: 100 took 20x the CPU for 1.7% fewer bytes on graphics and photos with transparency (57 s
#: instead of 2.8 s over 9 pictures; 14 s for one 768x512 photo with transparency):
#: BENCHMARKS.md, "Lossless WebP settings".
WEBP_LOSSLESS_METHOD = 5
WEBP_LOSSLESS_EFFORT = 90
AVIF_SPEED = 6
#: libaom's rate-distortion tuning for the AVIF encoder (libaom >= 3.13): it spends the bits the
#: way SSIMULACRA2, the score ``quality="auto"`` targets, weighs them. 1.5-4% fewer bytes than
#: libavif's default ``iq`` tuning at equal score on Kodak (BENCHMARKS.md, "Bytes").
AVIF_TUNE = "ssimulacra2"
#: The lowest quality an AVIF's alpha plane is coded at (libaom's quantiser for it through
#: libavif's ``a:`` options). libavif codes alpha at the colour's quality, and a flat graphic
#: reaches its score at quality 1: a red disc on a transparent ground, resampled to half size,
#: came out with its transparent pixels up to alpha 74 around it (a grey halo; alpha up to 119
#: levels off) in 940 bytes; at quality 40 its alpha is at most 31 off, transparent pixels at
#: most 11, in 1,259 bytes. Photos' colour searches end at qualities 40-55, whose alpha is
#: unchanged; under a byte budget a soft-edged cut-out pays 2-12% (quality 30-1) for it
#: (BENCHMARKS.md, "AVIF alpha").
AVIF_ALPHA_FLOOR = 40
#: Fewest encoder threads an AVIF is made with. libaom codes a picture one way on one thread and
#: another way on two or more (row-based multithreading), the same for 2 to 16 threads: Pillow's
#: default, the CPUs the process may run on, made every AVIF of a one-CPU worker (a pod or VM of
#: one vCPU, ``taskset -c 0``) other bytes than a laptop's, and ``quality="auto"`` chose another
#: quality (kodim23 at scale 0.5: 48 on one CPU, 46 on two; 7,083 and 6,799 bytes).
AVIF_MIN_THREADS = 2
JXL_EFFORT = 7
#: Files smaller than this (after mozjpeg's progressive scans) are also tried as baseline JPEGs
#: with optimised Huffman tables (:func:`optimize_scans`), which are smaller on small pictures:
#: BENCHMARKS.md, "Small JPEGs: baseline or progressive".
BASELINE_BELOW = 8192
_ICC_CHUNK = 65519  # 65535 - 2 (length) - 12 ("ICC_PROFILE\0") - 2 (sequence, count)
_SEGMENT_MAX = 65533
_XMP_NAMESPACE = b"http://ns.adobe.com/xap/1.0/\x00"  # an APP1 segment holding an XMP packet
_XMP_EXTENSION = b"http://ns.adobe.com/xmp/extension/\x00"  # a piece of an extended packet
_PHOTOSHOP = b"Photoshop 3.0\x00"  # an APP13 segment of Photoshop image resources
_IPTC_RESOURCE = 0x0404


_AVIF_TUNE_OK: Optional[bool] = None


def _avif_threads() -> int:
    """Threads for the AVIF encoder: the CPUs this process may use, at least
    :data:`AVIF_MIN_THREADS` (the same bytes on every machine)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not on Linux
        cpus = os.cpu_count() or 1
    return max(AVIF_MIN_THREADS, cpus)


def _avif_tune_accepted() -> bool:
    """Whether Pillow's AVIF encoder (libavif + libaom) knows ``tune=`` :data:`AVIF_TUNE`.

    Older libaom builds reject the option ("Invalid codec-specific option"); they then encode
    with libavif's default tuning. Probed once per process on an 8x8 image.
    """
    global _AVIF_TUNE_OK
    if _AVIF_TUNE_OK is None:
        try:
            Image.new("RGB", (8, 8)).save(io.BytesIO(), "AVIF", quality=50, speed=AVIF_SPEED,
                                          advanced={"tune": AVIF_TUNE})
            _AVIF_TUNE_OK = True
        except ValueError:
            _AVIF_TUNE_OK = False
    return _AVIF_TUNE_OK


def jpeg_encoder() -> str:
    """The JPEG encoder this installation uses: ``"jpegli"`` or ``"libjpeg-turbo"`` (Pillow),
    with ``"+mozjpeg-scans"`` when mozjpeg's lossless optimisation is installed."""
    name = "jpegli" if installed("pyjpegli") else "libjpeg-turbo"
    return name + ("+mozjpeg-scans" if installed("mozjpeg_lossless_optimization") else "")


def _segment(marker: int, body: bytes, what: str) -> bytes:
    if len(body) > _SEGMENT_MAX:
        raise ValueError(f"{what} of {len(body)} bytes does not fit a JPEG segment (at most "
                         f"{_SEGMENT_MAX}); metadata='compact' carries a smaller one")
    return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body


def _jpeg_exif(exif: Optional[bytes]) -> Optional[bytes]:
    """``exif`` as a JPEG's APP1 segment holds it: a block over 64 KiB (a PNG's, TIFF's, WebP's
    or HEIF's, which have no such limit) without its largest values
    (:func:`compress_core.metadata.exif_within`), or left out where none fits, with a warning;
    it failed the JPEG encoding under every ``metadata`` value (security review 47)."""
    most = _SEGMENT_MAX - len(b"Exif\x00\x00")
    if not exif or len(exif) - (6 if exif.startswith(b"Exif\x00\x00") else 0) <= most:
        return exif
    fitted = exif_within(exif[6:] if exif.startswith(b"Exif\x00\x00") else exif, most)
    _LOG.warning("an EXIF block of %d bytes does not fit a JPEG segment (at most %d bytes): %s",
                 len(exif), _SEGMENT_MAX, "not carried" if fitted is None else
                 f"carried without its largest values ({len(fitted)} bytes)")
    return fitted


def _jpeg_segments(icc_profile: Optional[bytes] = None, exif: Optional[bytes] = None,
                   xmp: Optional[bytes] = None, iptc: Optional[bytes] = None) -> bytes:
    """APP1 (EXIF), APP1 (XMP), APP2 (ICC, chunked) and APP13 (IPTC) segments."""
    out = b""
    exif = _jpeg_exif(exif)
    if exif:
        body = exif if exif.startswith(b"Exif\x00\x00") else b"Exif\x00\x00" + exif
        out += _segment(0xE1, body, "EXIF block")
    if xmp and len(_XMP_NAMESPACE) + len(xmp) > _SEGMENT_MAX:
        out += _extended_xmp_segments(xmp)
    elif xmp:
        out += _segment(0xE1, _XMP_NAMESPACE + xmp, "XMP packet")
    if icc_profile:
        chunks = [icc_profile[i:i + _ICC_CHUNK] for i in range(0, len(icc_profile), _ICC_CHUNK)]
        if len(chunks) > 255:
            raise ValueError(f"ICC profile of {len(icc_profile)} bytes is too large for JPEG")
        for number, chunk in enumerate(chunks, 1):
            body = b"ICC_PROFILE\x00" + bytes([number, len(chunks)]) + chunk
            out += b"\xff\xe2" + struct.pack(">H", len(body) + 2) + body
    if iptc:
        # a Photoshop image resource block holding the IPTC-NAA record (resource 0x0404, an
        # empty name padded to two bytes, the data padded to an even length)
        resource = (b"8BIM" + struct.pack(">H", _IPTC_RESOURCE) + b"\x00\x00"
                    + struct.pack(">I", len(iptc)) + iptc + b"\x00" * (len(iptc) % 2))
        if len(_PHOTOSHOP + resource) <= _SEGMENT_MAX:
            out += _segment(0xED, _PHOTOSHOP + resource, "IPTC record")
        else:  # no reader joins a record split over segments; the tools that write IPTC
            # write its fields to the XMP packet too, and the other formats carry no IPTC
            _LOG.warning("an IPTC record of %d bytes does not fit a JPEG segment (at most %d "
                         "bytes): not carried", len(iptc), _SEGMENT_MAX)
    return out


def _extended_xmp_segments(xmp: bytes) -> bytes:
    """APP1 segments of an XMP packet over 64 KiB (:func:`compress_core.xmp.extended_xmp`):
    the standard packet, then the extended one in pieces, each after its GUID, the whole's
    length and the piece's offset (4 bytes each, big-endian)."""
    standard, guid, extended = extended_xmp(xmp)
    out = _segment(0xE1, _XMP_NAMESPACE + standard, "XMP packet")
    head = _XMP_EXTENSION + guid
    piece = _SEGMENT_MAX - len(head) - 8
    for at in range(0, len(extended), piece):
        out += _segment(0xE1, head + struct.pack(">II", len(extended), at)
                        + extended[at:at + piece], "extended XMP")
    return out


def attached_for(fmt, icc_profile: Optional[bytes] = None, exif: Optional[bytes] = None,
                 xmp: Optional[bytes] = None, iptc: Optional[bytes] = None) -> dict:
    """The metadata keyword arguments of :func:`encode` for ``fmt``, without what that format
    has no place for (an IPTC record outside JPEG), so that what a search counts as carried
    bytes is what its files hold."""
    jpeg = ImageFormat(fmt) is ImageFormat.JPEG
    return dict(icc_profile=icc_profile, exif=_jpeg_exif(exif) if jpeg else exif, xmp=xmp,
                iptc=iptc if jpeg else None)


def stored_bytes(fmt, meta: dict) -> int:
    """Bytes of the metadata keyword arguments ``meta`` (:func:`attached_for`) that an encoding
    in ``fmt`` holds: all, but a JPEG XL's profile (its pixels are converted to sRGB, the
    profile is not stored) and a PNG's, stored zlib-compressed in its iCCP chunk (counted
    whole, a 3,144-byte sRGB profile of 2,600 compressed bytes made a byte budget's message say
    that every candidate carried more than the smallest PNG held: edge review 42)."""
    fmt = ImageFormat(fmt)
    total = 0
    for key, value in meta.items():
        if not value or (key == "icc_profile" and fmt is ImageFormat.JXL):
            continue
        # (an iCCP chunk: 12 bytes of chunk, Pillow's name "ICC Profile", its NUL and method)
        total += (25 + len(zlib.compress(value)) if key == "icc_profile" and fmt is ImageFormat.PNG
                  else len(value))
    return total


def _with_segments(data: bytes, segments: bytes) -> bytes:
    """``segments`` inserted into the JPEG ``data``: after its JFIF (APP0) segment, which must
    come first, or else after the start-of-image marker."""
    if not segments:
        return data
    first = next(segments_of(data), None)
    at = first[2] if first is not None and first[0] == APP0 else 2
    return data[:at] + segments + data[at:]


def _over_white(img: Image.Image) -> Image.Image:
    """An RGBA picture composited over white (what a JPEG of it shows); others unchanged."""
    if img.mode != "RGBA":
        return img
    background = Image.new("RGB", img.size, (255, 255, 255))
    background.paste(img, mask=img.getchannel("A"))
    return background


def flatten_for(pixels: np.ndarray, fmt) -> np.ndarray:
    """The pixels an encoding of ``fmt`` stores: RGBA composited over white for JPEG (it has
    no alpha), anything else as given. Encoding the result gives the same bytes as encoding
    ``pixels``, so a search can flatten once and score against what the decoder shows."""
    if ImageFormat(fmt) is ImageFormat.JPEG and pixels.shape[2] == 4:
        return np.asarray(_over_white(to_pil(pixels)))
    return pixels


def as_shown(pixels: np.ndarray) -> np.ndarray:
    """The RGB picture a viewer sees of (H, W, 3|4) ``pixels``: RGBA over white (as a JPEG of
    it shows it), RGB as it is. Importance maps read this, never the colour that fully
    transparent pixels hide: one cut-out, the same to the eye with a photo, black, white or
    green hidden, had been framed four ways at ``scale=0.5`` (colour review 26)."""
    return flatten_for(pixels, ImageFormat.JPEG)


def _encode_jpeg(img: Image.Image, quality: int, attached: dict, scans: bool,
                 full_chroma: bool) -> bytes:
    img = _over_white(img)
    if not _by_jpegli(full_chroma):
        data = _pillow_jpeg(img, quality, dict(subsampling=0) if full_chroma else {})
        data = _with_segments(data, _jpeg_segments(**attached))
        return optimize_scans(data) if scans else data
    rgb = img if img.mode == "RGB" else img.convert("RGB")  # convert() copies even then
    return _jpegli_file(rgb.tobytes(), img.width, img.height, quality, attached, scans)


def _by_jpegli(full_chroma: bool) -> bool:
    """Whether a JPEG is written by jpegli (4:2:0, where installed) rather than by Pillow
    (4:4:4 is Pillow's: jpegli's bindings have no such switch)."""
    return not full_chroma and installed("pyjpegli")


def _jpegli_file(samples: bytes, width: int, height: int, quality: int, attached: dict,
                 scans: bool) -> bytes:
    """A JPEG file of 8-bit RGB ``samples`` through jpegli (4:2:0), with ``attached``'s
    metadata segments and, ``scans``, mozjpeg's smallest scans."""
    import pyjpegli

    data = _with_segments(pyjpegli.encode(samples, width, height, quality),
                          _jpeg_segments(**attached))
    return optimize_scans(data) if scans else data


def _pillow_jpeg(img: Image.Image, quality: int, meta: dict) -> bytes:
    """A JPEG through Pillow (libjpeg-turbo) with optimised Huffman tables where it can.

    Pillow gives an optimised JPEG an output buffer of width x height bytes (twice that from
    quality 95, at least 64 KiB), and libjpeg cannot flush it while it writes optimised tables:
    a larger output fails with "broken data stream" (noise; film grain: a photo with grain of
    sigma 25 takes 1.2 bytes a pixel in 4:4:4 at quality 90, 2.7 at 99, so that
    ``quality="auto"`` could not retry it in 4:4:4). Such a picture is written again with the
    standard tables, which libjpeg can flush (the mozjpeg pass of :func:`optimize_scans`, where
    installed, optimises them afterwards)."""
    buf = io.BytesIO()
    try:
        img.save(buf, format="JPEG", quality=quality, optimize=True, **meta)
    except OSError:  # the buffer; any other failure comes back from the second try
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=quality, optimize=False, **meta)
    return buf.getvalue()


def optimize_scans(data: bytes, baseline: bool = True) -> bytes:
    """The smallest lossless rewrite of a JPEG's entropy coding (same pixels, same markers):
    mozjpeg's progressive scans and Huffman tables where ``mozjpeg-lossless-optimization`` is
    installed; for a file under :data:`BASELINE_BELOW` bytes, also a baseline JPEG with
    optimised Huffman tables where ``jpeglib`` is (each progressive scan has its own header and
    tables, which a small file pays for); ``data`` itself when neither is smaller.
    ``baseline=False``: ``data`` is such a baseline file already
    (:func:`~compress_core.codec.coefficients.rewrite_jpeg`'s), not written a second time."""
    best = data
    if installed("mozjpeg_lossless_optimization"):
        import mozjpeg_lossless_optimization as mozjpeg

        best = min(best, mozjpeg.optimize(data, copy=mozjpeg.COPY_MARKERS.ALL), key=len)
    if baseline and len(best) < BASELINE_BELOW and coefficients_missing() is None:
        try:
            best = min(best, rewrite_jpeg(data), key=len)
        except (ValueError, EncodingError) as exc:  # an optimisation: what we have is valid
            _LOG.debug("small JPEG kept as it was, the baseline rewrite failed: %s", exc)
    return best


def jxl_srgb(pixels: np.ndarray, icc_profile: Optional[bytes]) -> np.ndarray:
    """The pixels a JPEG XL encoding of ``pixels`` with ``icc_profile`` stores: converted to
    sRGB, since the plug-in cannot store a profile (``pixels`` itself without a profile, or
    with one Little CMS cannot read or apply, with a warning: viewers ignore such a profile and
    show the pixels as sRGB, which is what the JPEG, WebP and AVIF outputs, carrying the profile
    as it is, look like too; refusing it lost the picture). Encoding the result *without* the
    profile gives the same bytes, so a search converts once and scores against what the
    decoder shows."""
    if not icc_profile:
        return pixels
    converted = rgb_to_srgb(pixels, icc_profile)
    if converted is None:
        _LOG.warning("an ICC profile of %d bytes cannot be used: the %dx%d pixels are written "
                     "to JPEG XL as sRGB, as viewers show them", len(icc_profile),
                     pixels.shape[1], pixels.shape[0])
        return pixels
    return converted


#: The lowest JPEG XL quality that keeps a picture's alpha exact: under it (a distance over
#: about 7.7) libjxl stores the alpha at half resolution, and a cut-out's edges came back up to
#: 126 levels off, a grey halo over white (mostly transparent pictures, whose quality searches
#: go that low: quality 10 for a score of 70; bytes review 40). Measured on four cut-outs:
#: exact at 19-100, 2 to 126 levels off at 8-18.
JXL_EXACT_ALPHA = 19


def lowest_quality(fmt, pixels: Optional[np.ndarray] = None) -> int:
    """The lowest quality of ``fmt`` for ``pixels``: the format's (``QUALITY_RANGE``), but
    :data:`JXL_EXACT_ALPHA` for a JPEG XL of pixels with transparency (README: alpha is kept
    exactly in WebP and JPEG XL)."""
    fmt = ImageFormat(fmt)
    lo = QUALITY_RANGE[fmt][0]
    if fmt is ImageFormat.JXL and pixels is not None and has_transparency(pixels):
        return max(lo, JXL_EXACT_ALPHA)
    return lo


def encode(pixels: np.ndarray, fmt, quality: Optional[int] = None,
           icc_profile: Optional[bytes] = None, exif: Optional[bytes] = None,
           lossless: bool = False, full_chroma: bool = False, _scans: bool = True, *,
           _draft_alpha: bool = False,
           xmp: Optional[bytes] = None, iptc: Optional[bytes] = None) -> bytes:
    """Encode uint8 (H, W, 3|4) pixels.

    Parameters
    ----------
    pixels : ndarray
        RGB or RGBA uint8.
    fmt : {"jpeg", "webp", "png", "avif", "jxl"}
    quality : int, optional
        In the format's range (its default when None); ignored by PNG and lossless encodings.
        A JPEG XL with transparency is written at :func:`lowest_quality` at least (its alpha
        exact); the callers that report a quality ask for no less.
    icc_profile, exif, xmp : bytes, optional
        Colour profile, EXIF block and XMP packet, written where the format can store them
        (JPEG XL stores no profile: its pixels are converted to sRGB).
    iptc : bytes, optional
        An IPTC-IIM record, written into JPEGs (an APP13 segment); the other formats have no
        place for it.
    lossless : bool
        Lossless WebP or JPEG XL (PNG is always lossless; JPEG and AVIF cannot).
    full_chroma : bool
        JPEG and AVIF without chroma subsampling (4:4:4; JPEG through libjpeg-turbo, since
        jpegli's bindings have no such switch). Saturated small pictures need it to reach high
        scores: a 200x200 astronaut scores 63 at JPEG 95 and 64 at AVIF 100 in 4:2:0.
    _scans : bool
        Private to the searches: False skips the JPEG scan optimisation (same pixels; the
        searches apply :func:`optimize_scans` once to the encoding they keep).
    _draft_alpha : bool
        Private to the searches: a lossy WebP's alpha plane coded at its lowest quality, fast
        (:class:`~compress_core.codec.search.AlphaDrafts`); its colour is the same bitstream.

    Raises
    ------
    ValueError, TypeError
        Unknown format, quality out of the format's range, ``lossless`` for a format
        without a lossless mode, or ``pixels`` that are not uint8 RGB(A).
    EncoderUnavailableError
        The format's optional package is missing (the message names it).
    EncodingError
        The encoder itself failed (too large for the format, bad metadata ...).
    """
    fmt = require_encoder(fmt)
    if fmt is ImageFormat.AUTO:
        raise ValueError("encode() needs a concrete format; resolve 'auto' first")
    if lossless and fmt not in (ImageFormat.WEBP, ImageFormat.JXL, ImageFormat.PNG):
        raise ValueError(f"format {fmt.value!r} has no lossless mode; use 'png', 'webp' or 'jxl'")
    quality = check_quality(fmt, quality)
    check_rgb8(pixels)
    check_side(fmt, pixels.shape[1], pixels.shape[0])
    if fmt is ImageFormat.JXL and not lossless and quality < JXL_EXACT_ALPHA:
        quality = max(quality, lowest_quality(fmt, pixels))
    try:
        attached = dict(icc_profile=icc_profile, exif=exif, xmp=xmp, iptc=iptc)
        if fmt is ImageFormat.JPEG and pixels.shape[2] == 3 and _by_jpegli(full_chroma):
            # (the samples themselves to jpegli: a PIL image made and packed back were two
            # full-size copies per encode of the quality search; speed review 45)
            return _jpegli_file(np.ascontiguousarray(pixels).tobytes(), pixels.shape[1],
                                pixels.shape[0], quality, attached, _scans)
        return _encode(to_pil(pixels), fmt, quality, attached, lossless, full_chroma, _scans,
                       _draft_alpha)
    except SemanticCompressError:
        raise
    except Exception as exc:  # the encoder's own failure: say which encoding failed, and why
        h, w = np.shape(pixels)[:2]
        raise EncodingError(f"{fmt.value.upper()} encoding of {w}x{h} pixels failed"
                            f"{'' if quality is None else f' at quality {quality}'}: "
                            f"{type(exc).__name__}: {exc}") from exc


def _gray_if_gray(img: Image.Image) -> Image.Image:
    """``img`` as ``L`` (``LA``) where its three colour channels are equal everywhere, else
    ``img``: a gray picture in a PNG takes one channel, not three (skimage's camera at 256 px:
    39,458 B instead of 66,300; kodim05 in gray 79,199 B instead of 146,649)."""
    if img.mode not in ("RGB", "RGBA"):
        return img
    pixels = np.asarray(img)
    if not (np.array_equal(pixels[..., 0], pixels[..., 1])
            and np.array_equal(pixels[..., 1], pixels[..., 2])):
        return img
    return img.convert("LA" if img.mode == "RGBA" else "L")


def _without_opaque_alpha(img: Image.Image) -> Image.Image:
    """``img`` without its alpha channel where that is 255 everywhere (``RGBA`` -> ``RGB``,
    ``LA`` -> ``L``), else ``img``: an opaque PNG kept it for 10-11% more bytes (a photo at
    384 x 256: 54,630 B instead of 49,213; a chart 2,751 B instead of 2,494; bytes review 38),
    the pictures shown the same; in a JPEG XL likewise (an opaque animated WebP, read as RGBA,
    became an RGBA JPEG XL: edge review 43). WebP, AVIF and JPEG drop it themselves."""
    if img.mode not in ("RGBA", "LA") or img.getchannel("A").getextrema()[0] < 255:
        return img
    return img.convert(img.mode[:-1])


def _palette_if_few(img: Image.Image) -> Tuple[Image.Image, Optional[bytes]]:
    """``img`` as an exact palette image (``P``, with each entry's alpha where it has one)
    where it holds at most 256 colours, and the alpha of its entries (None without alpha);
    else ``img``, None. A PNG codes an index a pixel where the colours take 3 or 4 bytes: a
    16-colour logo of 256 x 256 took 20,256 B in place of 59,331 B; a chart 2,494 B -> 1,437."""
    if img.mode not in ("RGB", "RGBA"):
        return img, None
    colours = img.getcolors(256)
    if colours is None:
        return img, None
    channels = len(img.mode)
    # the entries: the translucent ones first (the PNG's tRNS chunk stops at the last of
    # them), each kind by frequency
    entries = sorted(colours, key=lambda c: (channels == 4 and c[1][3] == 255, -c[0]))
    table = np.array([colour for _, colour in entries], dtype=np.uint32)
    keys = _packed(table)
    order = np.argsort(keys)
    pixels = np.asarray(img).reshape(-1, channels).astype(np.uint32)
    index = order[np.searchsorted(keys[order], _packed(pixels))].astype(np.uint8)
    palette = Image.fromarray(index.reshape(img.height, img.width), "P")
    palette.putpalette(table[:, :3].astype(np.uint8).tobytes(), "RGB")
    translucent = int(np.count_nonzero(table[:, 3] < 255)) if channels == 4 else 0
    return palette, (table[:translucent, 3].astype(np.uint8).tobytes() if translucent
                     else None)


def _packed(colours: np.ndarray) -> np.ndarray:
    """(N, 3|4) uint32 colours as one uint32 each."""
    packed = colours[:, 0] << 24 | colours[:, 1] << 16 | colours[:, 2] << 8
    return packed | colours[:, 3] if colours.shape[1] == 4 else packed


def _encode(img, fmt, quality, attached: dict, lossless, full_chroma, _scans,
            draft_alpha=False) -> bytes:
    if fmt is ImageFormat.JPEG:
        return _encode_jpeg(img, quality, attached, _scans, full_chroma)
    icc_profile, exif, xmp = attached["icc_profile"], attached["exif"], attached["xmp"]
    kwargs = {}
    if icc_profile and fmt is not ImageFormat.JXL:
        kwargs["icc_profile"] = icc_profile
    if exif and fmt is ImageFormat.JXL:
        kwargs["exif"] = _jxl_exif_box(exif)
    elif exif and fmt is ImageFormat.AVIF:
        # (Pillow's AVIF writer rewrites a block that has an orientation, to move it into
        # the container: a camera's maker note then read other bytes under keep)
        kwargs["exif"] = unoriented_in_place(exif) or exif
    elif exif:
        kwargs["exif"] = exif
    if xmp and fmt is ImageFormat.PNG:  # an iTXt chunk, as Pillow reads it back
        kwargs["pnginfo"] = PngImagePlugin.PngInfo()
        kwargs["pnginfo"].add_itxt("XML:com.adobe.xmp", xmp.decode("utf-8", "replace"))
    elif xmp:
        kwargs["xmp"] = xmp
    if fmt is ImageFormat.WEBP:
        if lossless:
            kwargs.update(lossless=True, exact=True, quality=WEBP_LOSSLESS_EFFORT,
                          method=WEBP_LOSSLESS_METHOD)
        else:
            kwargs.update(quality=quality, method=WEBP_METHOD)
            if draft_alpha:
                kwargs["alpha_quality"] = 0
    elif fmt is ImageFormat.AVIF:
        kwargs.update(quality=quality, speed=AVIF_SPEED, max_threads=_avif_threads())
        if full_chroma:
            kwargs["subsampling"] = "4:4:4"
        if quality < 100 and _avif_tune_accepted():  # (quality 100 is lossless: no tuning)
            kwargs["advanced"] = {"tune": AVIF_TUNE}
            if quality < AVIF_ALPHA_FLOOR and img.mode == "RGBA":
                # libavif's quality -> quantiser mapping, for the floor's quality
                alpha_q = ((100 - AVIF_ALPHA_FLOOR) * 63 + 50) // 100
                kwargs["advanced"].update({"a:end-usage": "q", "a:cq-level": str(alpha_q)})
    elif fmt is ImageFormat.JXL:
        import pillow_jxl  # noqa: F401  (registers the JXL plug-in with Pillow)

        img = _without_opaque_alpha(img)
        if icc_profile:
            img = to_pil(jxl_srgb(np.asarray(img), icc_profile))
        # (a mode of its own for the plug-in)
        lossless = lossless or lossless_at(fmt, quality)
        kwargs.update(lossless=True) if lossless else kwargs.update(quality=quality)
        kwargs.update(effort=JXL_EFFORT, lossless_jpeg=False)
    else:
        kwargs.update(optimize=True, compress_level=9)
        img = _without_opaque_alpha(img)
        if not icc_profile:  # (an RGB profile cannot describe a gray PNG)
            img = _gray_if_gray(img)
        img, transparency = _palette_if_few(img)
        if transparency is not None:
            kwargs["transparency"] = transparency
    buf = io.BytesIO()
    img.save(buf, format=pil_name(fmt), **kwargs)
    return buf.getvalue()


def _jxl_exif_box(exif: bytes) -> bytes:
    """The content of a JPEG XL file's ``Exif`` box for an EXIF block: the offset of its TIFF
    header (4 bytes, big-endian: 0), then the block (ISO/IEC 18181-2; libjxl, exiftool and
    exifread skip those 4 bytes). pillow-jxl-plugin writes the bytes it is given as the box
    and strips only a leading ``Exif\0\0``: given the block alone, readers took its
    ``MM\0*`` for the offset and found no EXIF."""
    if exif.startswith(b"Exif\x00\x00"):
        exif = exif[6:]
    return b"\x00\x00\x00\x00" + exif


def decode_pixels(data: bytes) -> np.ndarray:
    """Decode encoded bytes to a uint8 RGB(A) array (for scoring candidates)."""
    if data[:2] == b"\xff\x0a" or data[4:8] == b"JXL ":
        import pillow_jxl  # noqa: F401
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        # (a palette PNG's alpha is its tRNS chunk: ``transparency``, not a band)
        mode = "RGBA" if "A" in img.getbands() or "transparency" in img.info else "RGB"
        return np.asarray(img if img.mode == mode else img.convert(mode))
