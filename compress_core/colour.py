"""Colour profiles: what an embedded ICC profile means for the pixels, and whether it must travel.

Outputs are RGB(A). A profile of another colour space (a CMYK JPEG's, a grey scan's) cannot be
carried on them: :func:`device_to_srgb` applies it to the pixels when they are decoded. An RGB
profile that describes sRGB (:func:`describes_srgb`: the 3,144-byte ``sRGB IEC61966-2.1`` that
cameras and editors embed) says nothing a viewer does not assume of an untagged picture, so an
output may drop it; any other RGB profile (Display P3, Adobe RGB) changes how the pixels look and
travels unless the pixels are converted to sRGB (:func:`rgb_to_srgb`). A profile with sRGB's
primaries and other tone curves (:func:`has_srgb_primaries`: a linear-light PNG's gAMA 1.0) holds
no colour that sRGB lacks: converted, nothing is lost but the rounding of 8-bit levels.

Conversions go through Little CMS (Pillow's ``ImageCms``).
"""
from __future__ import annotations

import hashlib
import io
import logging
import struct
from typing import Callable, Dict, Optional, Tuple

import numpy as np
from PIL import Image, ImageCms

__all__ = ["profile_space", "describes_srgb", "has_srgb_primaries", "rgb_to_srgb", "srgb_view",
           "device_to_srgb", "srgb_curves"]

_LOG = logging.getLogger(__name__)
_SRGB = ImageCms.createProfile("sRGB")
_SRGB_PROFILE = ImageCms.ImageCmsProfile(_SRGB).profile

#: Image modes a profile of each colour space describes (Pillow's mode, the alpha band apart).
#: 16-bit grey (scanners' 16-bit grey TIFFs and PNGs) goes through Little CMS at 16 bits.
_MODES_OF_SPACE = {"RGB": ("RGB", "RGBA"), "CMYK": ("CMYK",),
                   "GRAY": ("L", "LA", "I;16", "I;16L", "I;16B"), "LAB": ("LAB",)}
#: Modes of pixels that are not RGB (no RGB profile describes them).
_NOT_RGB_MODES = frozenset(("1", "I", "F") + _MODES_OF_SPACE["CMYK"] + _MODES_OF_SPACE["GRAY"]
                           + _MODES_OF_SPACE["LAB"])


#: Tags of ICC v4's floating-point pipelines (multiProcessElements: D2B0-3, B2D0-3), which Little
#: CMS reads before the A2B/B2A tables and evaluates element by element for each of the 35,937
#: points it samples building a transform. Their elements are addressed through a position table,
#: 8 bytes an element however many point at the same bytes: a 1 MiB profile of 131,000 elements
#: (2.3 KB in a PNG's iCCP chunk) took ~9 minutes a transform and 0.5 GB (security review 46).
#: Profiles are read without them, as Chrome's skcms reads every profile (it ignores them too).
_FLOAT_PIPELINES = frozenset([b"D2B0", b"D2B1", b"D2B2", b"D2B3",
                              b"B2D0", b"B2D1", b"B2D2", b"B2D3"])


def _without_float_pipelines(icc: bytes) -> bytes:
    """``icc`` with its :data:`_FLOAT_PIPELINES` tags renamed to private signatures (their data
    stays where it is; Little CMS ignores tags it does not know)."""
    if len(icc) < 132:
        return icc
    count = struct.unpack_from(">I", icc, 128)[0]
    end = 132 + 12 * min(count, (len(icc) - 132) // 12)
    out = None
    for at in range(132, end, 12):
        if icc[at:at + 4] in _FLOAT_PIPELINES:
            out = bytearray(icc) if out is None else out
            out[at:at + 4] = icc[at:at + 4].lower()
    if out is not None:   # (its Profile ID, an MD5 of the profile as it was, no longer holds:
        out[84:100] = bytes(16)   # zero says none was computed; diff review 47)
    return icc if out is None else bytes(out)


def _read(icc: bytes):
    try:
        return ImageCms.ImageCmsProfile(io.BytesIO(_without_float_pipelines(icc)))
    except (ImageCms.PyCMSError, OSError, ValueError):
        return None


def _space(profile) -> Optional[str]:
    return None if profile is None else profile.profile.xcolor_space.strip()


def profile_space(icc: Optional[bytes]) -> Optional[str]:
    """The colour space ``icc`` describes (``"RGB"``, ``"CMYK"``, ``"GRAY"``, ``"LAB"`` ...);
    None without a profile or for bytes Little CMS cannot read."""
    if not icc:
        return None
    return _space(_read(icc))


def _test_colours() -> np.ndarray:
    levels = np.linspace(0, 255, 9).round().astype(np.uint8)
    grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1).reshape(-1, 3)
    ramp = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    return np.concatenate([grid, ramp])[None]


def describes_srgb(icc: bytes) -> bool:
    """Whether ``icc`` is an RGB profile that maps every colour to itself in sRGB, within one
    8-bit level (9x9x9 colours and the grey ramp, relative colorimetric): the profile changes
    nothing a viewer shows. The ICC's own sRGB, Little CMS's, libvips' and the cameras' are;
    Display P3 (off by up to 96 levels) and Adobe RGB (128) are not. The answer is cached by
    the profile's SHA-256 (the last :data:`_KNOWN_PROFILES`; a batch meets few profiles)."""
    return _known("describes_srgb", lambda: _maps_to_itself(icc), icc)


def has_srgb_primaries(icc: bytes) -> bool:
    """Whether ``icc`` is an RGB matrix profile whose red, green and blue colorants are sRGB's
    (within :data:`_SAME_COLORANT` in CIE xy): it may differ from sRGB in its tone curves
    (gamma 1.0, 1.8) and white point only, so every colour it describes is one sRGB shows.
    Adobe RGB (its green) and Display P3 are not; a profile without colorants (a table-based
    one) is not either. Cached as :func:`describes_srgb`."""
    return _known("has_srgb_primaries", lambda: _same_primaries(icc), icc)


def _known(question: str, answer: Callable[[], bool], icc: bytes) -> bool:
    key = (question, hashlib.sha256(icc).digest())
    known = _KNOWN.get(key)
    if known is None:
        known = _KNOWN[key] = answer()
        while len(_KNOWN) > _KNOWN_PROFILES:
            _KNOWN.pop(next(iter(_KNOWN)), None)
    return known


#: How many profiles' answers :func:`describes_srgb` and :func:`has_srgb_primaries` keep (by
#: digest: 32 bytes each, not the profile, which can weigh a megabyte).
_KNOWN_PROFILES = 256
_KNOWN: Dict[Tuple[str, bytes], bool] = {}
#: How far (CIE xy) a colorant may lie from sRGB's and be taken as the same: profiles store
#: them as s15Fixed16 numbers after adaptation to D50 (sRGB's own differ by 1e-5 between
#: writers), and the nearest other primaries in use (Adobe RGB's green) are 0.09 away.
_SAME_COLORANT = 0.002


def _same_primaries(icc: bytes) -> bool:
    profile = _read(icc)
    if _space(profile) != "RGB":
        return False
    theirs = [getattr(profile.profile, f"{c}_colorant", None) for c in ("red", "green", "blue")]
    ours = [getattr(_SRGB_PROFILE, f"{c}_colorant") for c in ("red", "green", "blue")]
    try:
        return all(abs(a - b) <= _SAME_COLORANT
                   for t, o in zip(theirs, ours) for a, b in zip(t[1][:2], o[1][:2]))
    except (TypeError, IndexError):   # (no colorant tags)
        return False


def _maps_to_itself(icc: bytes) -> bool:
    profile = _read(icc)
    if _space(profile) != "RGB":
        return False
    colours = _test_colours()
    try:
        shown = ImageCms.profileToProfile(
            Image.fromarray(colours), profile, _SRGB, outputMode="RGB",
            renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return False
    return int(np.abs(np.asarray(shown, dtype=np.int16) - colours).max()) <= 1


def rgb_to_srgb(pixels: np.ndarray, icc: bytes) -> Optional[np.ndarray]:
    """``pixels`` (uint8, (H, W, 3|4), in ``icc``'s RGB space) as sRGB, alpha untouched; None
    when Little CMS cannot read ``icc`` or apply it to RGB pixels (the caller decides)."""
    convert = _converter(icc)
    try:
        return None if convert is None else convert(pixels)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return None


def srgb_view(icc: Optional[bytes]) -> Optional[Callable[[np.ndarray], np.ndarray]]:
    """How pixels carrying ``icc`` look, as sRGB: a function of uint8 (H, W, 3|4) pixels (the
    transform built once, for a search that converts many candidates), or None where nothing
    is to convert: no profile, one that :func:`describes_srgb`, or one Little CMS cannot apply
    to RGB (viewers show those pixels as they are)."""
    if not icc or describes_srgb(icc):
        return None
    return _converter(icc)


def _converter(icc: bytes) -> Optional[Callable[[np.ndarray], np.ndarray]]:
    profile = _read(icc)
    if profile is None:
        return None
    try:
        transform = ImageCms.buildTransform(profile, _SRGB, "RGB", "RGB")
    except (ImageCms.PyCMSError, OSError, ValueError):
        return None

    def convert(pixels: np.ndarray) -> np.ndarray:
        rgb = Image.fromarray(np.ascontiguousarray(pixels[..., :3]))
        converted = np.asarray(ImageCms.applyTransform(rgb, transform))
        if pixels.shape[2] == 4:
            return np.ascontiguousarray(np.dstack([converted, pixels[..., 3]]))
        return np.ascontiguousarray(converted)

    return convert


def device_to_srgb(img: Image.Image, icc: Optional[bytes],
                   name: str) -> Tuple[Image.Image, Optional[bytes]]:
    """A decoded picture and the profile its output may carry.

    An RGB profile (or none) is returned with ``img`` as it was read: without the float
    pipelines Little CMS is never given (:func:`_without_float_pipelines`). A profile of
    another colour space cannot describe the RGB output: when it describes ``img``'s mode (a
    CMYK profile on a CMYK JPEG, a grey one on an 8- or 16-bit grey picture) ``img`` comes back
    converted through it to sRGB (alpha kept), as colour-managed viewers show it; otherwise (of
    another space than the pixels, or one Little CMS cannot read on pixels that are not RGB) it
    is dropped with a warning naming ``name`` and the pixels are converted as without a
    profile. An unreadable profile on RGB pixels is returned as it is.
    """
    if not icc:
        return img, icc
    profile = _read(icc)  # (read once: a CMYK profile can weigh a megabyte)
    space = _space(profile)
    if (space == "RGB" and img.mode not in _NOT_RGB_MODES) or (
            space is None and img.mode in ("RGB", "RGBA")):
        # (an unreadable one as well: viewers ignore it, the output may keep it). An RGB
        # profile on grey or CMYK pixels describes none of them: libpng refuses it, Chrome
        # ignores it; carried to the RGB output, a linear-light one lifted a grey JPEG's mean
        # from 129 to 175 (security review 48): dropped below with a warning
        return img, _without_float_pipelines(icc)
    if space is not None and img.mode in _MODES_OF_SPACE.get(space, ()):
        alpha = img.getchannel("A") if img.mode == "LA" else None
        colour = img.convert("L") if alpha is not None else img
        try:
            converted = ImageCms.profileToProfile(colour, profile, _SRGB, outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError) as exc:
            _LOG.warning("%s: its %s colour profile cannot be applied (%s); the pixels are "
                         "converted to RGB without it", name, space, exc)
            return img, None
        if alpha is not None:
            converted.putalpha(alpha)
        return converted, None
    if space == "RGB" and describes_srgb(icc):   # (grey pixels read as sRGB already: what
        # sharp and libvips write on grey JPEGs; a warning per picture said nothing: diff
        # review 48)
        _LOG.debug("%s: an sRGB profile on %s pixels is not carried", name, img.mode)
        return img, None
    _LOG.warning("%s: a colour profile of %d bytes (%s) does not describe its %s pixels; it is "
                 "not carried to the RGB output", name, len(icc), space or "unreadable",
                 img.mode)
    return img, None


def srgb_curves(icc: bytes) -> Optional[np.ndarray]:
    """For a matrix profile with sRGB's primaries and tone curves other than sRGB's (the
    profiles :func:`has_srgb_primaries` finds that do not :func:`describes_srgb`: linear light,
    gamma 1.8): the light of each of its red, green and blue curves at 65,536 evenly spaced
    values in 0..1, shape (3, 65536), float64; the pixels' sRGB colours are sRGB's curve of
    them, channel by channel. For 16-bit samples, which Little CMS takes only through Pillow's
    8-bit RGB modes. None for every other profile, one whose lookup tables (``A2B0``) rule over
    its curves, curves of a type the ICC does not define (``curv`` and ``para`` are read), and
    curves whose black is above zero (Little CMS maps it to black: such a profile stays with
    it, at 8 bits)."""
    if not icc or not has_srgb_primaries(icc) or describes_srgb(icc):
        return None
    tags = _tag_table(icc)
    if tags is None or any(t in tags for t in (b"A2B0", b"A2B1", b"A2B2")):
        return None
    x = np.arange(65536, dtype=np.float64) / 65535.0
    curves = []
    for sig in (b"rTRC", b"gTRC", b"bTRC"):
        place = tags.get(sig)
        light = None if place is None else _tone_curve(icc[place[0]:place[0] + place[1]], x)
        if light is None:
            return None
        if light[0] > 1.0 / 65535:
            # a black above zero: Little CMS, which converts the 8-bit pictures, maps the
            # profile's black to sRGB's (perceptual intent) where this would lift it, milky
            # (up to 39 levels for a black at 2% light: diff review 42)
            return None
        curves.append(np.clip(light, 0.0, 1.0))
    return np.stack(curves)


def _tag_table(icc: bytes) -> Optional[Dict[bytes, Tuple[int, int]]]:
    """An ICC profile's tags: signature -> (offset, size), each within the profile."""
    if len(icc) < 132:
        return None
    count = struct.unpack_from(">I", icc, 128)[0]
    if len(icc) < 132 + 12 * count:
        return None
    tags = {}
    for i in range(count):
        sig, offset, size = struct.unpack_from(">4sII", icc, 132 + 12 * i)
        if offset + size <= len(icc):
            tags[sig] = (offset, size)
    return tags


#: Parameters of each ``para`` curve function type read (ICC.1:2010 10.18). Not type 2: Little
#: CMS, which converts every 8-bit picture, does not add its offset ``c`` as the ICC writes it
#: (38 levels apart at black on a test curve); such profiles stay with Little CMS at 8 bits.
_PARA_PARAMETERS = {0: 1, 1: 3, 3: 5, 4: 7}


def _tone_curve(tag: bytes, x: np.ndarray) -> Optional[np.ndarray]:
    """An ICC ``curv`` or ``para`` tag evaluated at ``x`` (0..1); None for another type."""
    kind = tag[:4]
    if kind == b"curv" and len(tag) >= 12:
        n = struct.unpack_from(">I", tag, 8)[0]
        if n == 0:
            return x.copy()
        if len(tag) < 12 + 2 * n:
            return None
        if n == 1:
            return x ** (struct.unpack_from(">H", tag, 12)[0] / 256.0)
        table = np.frombuffer(tag, dtype=">u2", count=n, offset=12).astype(np.float64) / 65535.0
        return np.interp(x * (n - 1), np.arange(n), table)
    if kind == b"para" and len(tag) >= 12:
        function = struct.unpack_from(">H", tag, 8)[0]
        count = _PARA_PARAMETERS.get(function)
        if count is None or len(tag) < 12 + 4 * count:
            return None
        params = [v / 65536.0 for v in struct.unpack_from(f">{count}i", tag, 12)]
        g, a, b, c, d, e, f = params + [0.0] * (7 - count)
        if function == 0:
            return x ** g
        base = np.maximum(a * x + b, 0.0) ** g
        if function == 1:
            return np.where(x >= (-b / a if a else np.inf), base, 0.0)
        if function == 3:
            return np.where(x >= d, base, c * x)
        return np.where(x >= d, base + e, c * x + f)
    return None
