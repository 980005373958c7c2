"""Output formats: names, suffixes, quality ranges, and which ones this installation can write."""
from __future__ import annotations

import importlib.util
from typing import Optional

import numpy as np
from PIL import features

from ..containers import HEIF_SUFFIXES
from ..errors import EncoderUnavailableError, EncodingError
from ..options import ImageFormat, parse_option
from ..raw import RAW_SUFFIXES, UNREAD_RAW_SUFFIXES

__all__ = ["QUALITY_RANGE", "OPTIONAL_PACKAGES", "supported_formats", "extension", "installed",
           "format_from_suffix", "unwritable_suffix", "default_quality", "check_quality",
           "pil_name", "MAX_SIDE", "holds", "check_side",
           "require_encoder", "parse_format", "lossless_at"]

#: (lowest, highest, default) encoder quality per lossy format. PNG has no quality. The one
#: table every check reads (library, command line, batch job); JPEG goes to 100 (the encoders
#: accept it; archive users ask for 95-100).
QUALITY_RANGE = {
    ImageFormat.JPEG: (1, 100, 85),
    ImageFormat.WEBP: (1, 100, 80),
    ImageFormat.AVIF: (1, 100, 60),
    ImageFormat.JXL: (1, 100, 80),
}
#: The longest side each format holds (pixels); the others hold any size this library takes.
#: JPEG: libjpeg's and jpegli's 65500 ("Input image too big"); WebP: 16383 ("exceeds WebP limit
#: of 16383 pixels"); AVIF: 32768, where libavif's decoder stops by default (Pillow encoded a
#: 32769-pixel-wide AVIF that no decoder of this stack opens).
MAX_SIDE = {
    ImageFormat.JPEG: 65500,
    ImageFormat.WEBP: 16383,
    ImageFormat.AVIF: 32768,
}
#: The optional package each format needs: (import name, PyPI name and pinned version).
OPTIONAL_PACKAGES = {
    ImageFormat.JXL: ("pillow_jxl", "pillow-jxl-plugin==1.3.8"),
}
_PIL_NAME = {ImageFormat.JPEG: "JPEG", ImageFormat.WEBP: "WEBP", ImageFormat.PNG: "PNG",
             ImageFormat.AVIF: "AVIF", ImageFormat.JXL: "JXL"}
_EXTENSION = {ImageFormat.JPEG: ".jpg", ImageFormat.WEBP: ".webp", ImageFormat.PNG: ".png",
              ImageFormat.AVIF: ".avif", ImageFormat.JXL: ".jxl"}
_SUFFIXES = {".jpg": ImageFormat.JPEG, ".jpeg": ImageFormat.JPEG, ".jpe": ImageFormat.JPEG,
             ".webp": ImageFormat.WEBP, ".png": ImageFormat.PNG, ".avif": ImageFormat.AVIF,
             ".jxl": ImageFormat.JXL}
_PILLOW_FEATURE = {ImageFormat.WEBP: "webp", ImageFormat.AVIF: "avif"}


def installed(module: str) -> bool:
    """Whether the package ``module`` (an import name) can be imported here (False also where
    looking for it fails: an import hook or a broken parent package, whose error had come out
    as the image's "No module named ..." instead of the message naming the package to
    install: new-user review 42)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def parse_format(fmt) -> ImageFormat:
    """``fmt`` as an :class:`ImageFormat` (``ValueError`` / ``TypeError`` listing the names)."""
    return parse_option(ImageFormat, fmt, "format")


def _missing(fmt: ImageFormat) -> Optional[str]:
    """Why ``fmt`` cannot be written here (None when it can)."""
    if fmt in _PILLOW_FEATURE and not features.check(_PILLOW_FEATURE[fmt]):
        return f"this Pillow build has no {fmt.value.upper()} support (Pillow >= 12 wheels have it)"
    if fmt in OPTIONAL_PACKAGES:
        module, package = OPTIONAL_PACKAGES[fmt]
        if not installed(module):
            return f"it needs the package {package.split('==')[0]}: pip install {package}"
    return None


def supported_formats():
    """Output formats this installation can write, in the enum's order (``auto`` excluded)."""
    return [f for f in ImageFormat if f is not ImageFormat.AUTO and _missing(f) is None]


def require_encoder(fmt) -> ImageFormat:
    """``fmt`` parsed, or :class:`EncoderUnavailableError` naming the missing package."""
    fmt = parse_format(fmt)
    reason = _missing(fmt) if fmt is not ImageFormat.AUTO else None
    if reason is not None:
        raise EncoderUnavailableError(f"format {fmt.value!r} cannot be written: {reason}")
    return fmt


def extension(fmt) -> str:
    """File suffix for a format (``".jpg"`` ...)."""
    return _EXTENSION[parse_format(fmt)]


def pil_name(fmt) -> str:
    """Pillow's name of a format (``"JPEG"``, ``"WEBP"``, ``"PNG"``, ``"AVIF"``, ``"JXL"``)."""
    return _PIL_NAME[parse_format(fmt)]


def _suffix(path: str) -> str:
    """A file name's suffix, lower case, with its dot (``""`` when it has none)."""
    name = str(path).replace("\\", "/").rsplit("/", 1)[-1]
    return "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""


def format_from_suffix(path: str) -> Optional[ImageFormat]:
    """The format a file name's suffix asks for, or None when unknown: ours (``.jpg`` ...)
    and every other suffix Pillow gives one of the formats written (``.jfif`` and ``.jpe``
    for JPEG, ``.apng`` for PNG, ``.avifs`` for AVIF). Those others were unknown, so format
    auto wrote a graphic as WebP under ``thumb.jfif``."""
    from PIL import Image

    suffix = _suffix(path)
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    named = Image.registered_extensions().get(suffix)
    ours = {name: fmt for fmt, name in _PIL_NAME.items()}
    return ours.get(named) if named is not None else None


#: Suffixes of image formats that neither Pillow registers nor the library reads (vector
#: graphics, JPEG XR, OpenEXR): a file so named holds one of those, not a JPEG.
_OTHER_IMAGE_SUFFIXES = {".svg": "SVG", ".svgz": "SVG", ".jxr": "JPEG XR", ".wdp": "JPEG XR",
                         ".hdp": "JPEG XR", ".exr": "OpenEXR"}


def unwritable_suffix(path: str) -> Optional[str]:
    """The name of the image format a file name's suffix names when the library does not write
    it: Pillow's name for the formats it registers (``"GIF"`` for ``x.gif``, ``"TIFF"``,
    ``"BMP"`` ...), ``"HEIF"`` and ``"camera RAW (DNG)"`` ... for the pictures the library reads
    through plug-ins, ``"SVG"``, ``"JPEG XR"``, ``"OpenEXR"``; None for ours, a spelling of one
    (``.jfif`` for JPEG), or a suffix that names no image format (``.bin``: the caller's
    choice). Writing another format's bytes under such a name would mislabel the file
    (``-o thumb.heic`` held a JPEG: edge review 35)."""
    from PIL import Image

    suffix = _suffix(path)
    if format_from_suffix(path) is not None:
        return None
    named = Image.registered_extensions().get(suffix)
    if named is not None:
        return named if named not in _PIL_NAME.values() else None
    if suffix in HEIF_SUFFIXES:
        return "HEIF"
    if suffix in RAW_SUFFIXES or suffix in UNREAD_RAW_SUFFIXES:
        return f"camera RAW ({suffix[1:].upper()})"
    return _OTHER_IMAGE_SUFFIXES.get(suffix)


def default_quality(fmt) -> Optional[int]:
    """Default quality of a format (None for PNG)."""
    fmt = parse_format(fmt)
    return QUALITY_RANGE[fmt][2] if fmt in QUALITY_RANGE else None


def check_quality(fmt, quality) -> Optional[int]:
    """``quality`` validated for ``fmt`` (its default when None; None for PNG).

    Raises
    ------
    ValueError
        Out of the format's range or not an integer (an integral float is one).
    """
    fmt = parse_format(fmt)
    if fmt not in QUALITY_RANGE:
        return None
    lo, hi, default = QUALITY_RANGE[fmt]
    if quality is None:
        return default
    if isinstance(quality, (float, np.floating)) and float(quality).is_integer():
        quality = int(quality)   # (85.0, as the size targets take 90.0; edge review 37)
    if (isinstance(quality, bool) or not isinstance(quality, (int, np.integer))
            or not lo <= quality <= hi):
        raise ValueError(f"quality for {fmt.value} must be an integer in {lo}..{hi}; "
                         f"got {quality!r}")
    return int(quality)


def lossless_at(fmt, quality) -> bool:
    """Whether ``fmt`` encodes losslessly at the quality ``quality``: libjxl's quality 100 is
    its mathematically lossless mode (WebP's and AVIF's 100 are not; PNG has no quality)."""
    return parse_format(fmt) is ImageFormat.JXL and quality == 100


def holds(fmt, width: int, height: int) -> bool:
    """Whether format ``fmt`` can hold a ``width`` x ``height`` picture (:data:`MAX_SIDE`)."""
    limit = MAX_SIDE.get(parse_format(fmt))
    return limit is None or max(width, height) <= limit


def check_side(fmt, width: int, height: int) -> None:
    """Raise :class:`~compress_core.errors.EncodingError` where ``fmt`` cannot hold a
    ``width`` x ``height`` picture; the message names the limit and the formats that can."""
    fmt = parse_format(fmt)
    if holds(fmt, width, height):
        return
    others = [repr(f.value) for f in ImageFormat
              if f is not ImageFormat.AUTO and f is not fmt and holds(f, width, height)]
    raise EncodingError(f"{fmt.value.upper()} holds at most {MAX_SIDE[fmt]} pixels a side; the "
                        f"output is {width}x{height}: use format {', '.join(others[:-1])} or "
                        f"{others[-1]}, or a size target")
