"""String enums for every option, validated once at the public edge.

Each enum accepts its plain string value (``Method("hybrid")``); :func:`parse_option` turns
a bad value into a ``ValueError`` that names the parameter and the accepted values.
"""
from enum import Enum
from typing import Type, TypeVar

import numpy as np

__all__ = ["Method", "EnergyMode", "SeamOrder", "ImageFormat", "Allocation", "Metadata",
           "parse_option", "check_flag", "given"]


class Method(str, Enum):
    """How the pixel budget is reached."""

    SEAM_CARVING = "seam_carving"
    SMART_CROP = "smart_crop"
    HYBRID = "hybrid"
    JPEG = "jpeg"


class EnergyMode(str, Enum):
    """Seam cost: backward (energy of removed pixels) or forward (energy inserted by removal)."""

    BACKWARD = "backward"
    FORWARD = "forward"


class SeamOrder(str, Enum):
    """Order of vertical and horizontal seams when both sides shrink.

    ``width_first`` / ``height_first`` remove all seams of one direction first (as li-plus
    seam-carving does); ``auto`` removes seams in blocks, each block in the direction whose
    cheapest seam costs least per pixel (a greedy version of Avidan & Shamir's optimal order).
    """

    AUTO = "auto"
    WIDTH_FIRST = "width_first"
    HEIGHT_FIRST = "height_first"


class ImageFormat(str, Enum):
    """Output encodings. ``auto`` decides by content (see :func:`compress_core.codec.resolve_format`)."""

    AUTO = "auto"
    JPEG = "jpeg"
    WEBP = "webp"
    PNG = "png"
    AVIF = "avif"
    JXL = "jxl"

    @classmethod
    def aliases(cls):
        """Other names accepted: ``"jpg"``, the JPEG files' usual suffix."""
        return {"jpg": cls.JPEG}


class Allocation(str, Enum):
    """How a JPEG's bytes are spread over the picture.

    ``uniform``: the same quantisation everywhere. ``semantic``: blocks whose pixels all matter
    little (by the energy map, carried to the output) lose their smallest coefficients
    (:func:`compress_core.codec.semantic.requantize_jpeg`); the rest is coded as ``uniform``.
    """

    UNIFORM = "uniform"
    SEMANTIC = "semantic"


class Metadata(str, Enum):
    """What an output carries of the input's EXIF block, colour profile, XMP packet and IPTC
    record (:mod:`compress_core.metadata`).

    ``compact``: the EXIF block without the camera's maker notes and values over 1 KiB, the
    colour profile unless it describes sRGB (what viewers assume without one), the XMP
    packet's descriptive and rights properties, the IPTC record. ``public``: compact without
    the GPS position and what identifies the camera or its owner (serial numbers, owner
    name), for pictures to publish. ``keep``: all as they came (the XMP without what the
    output makes false). ``none``: nothing; the pixels are converted to sRGB from the
    profile. Either way orientation is applied to the pixels, and a CMYK or grey profile is
    applied to them.
    """

    COMPACT = "compact"
    PUBLIC = "public"
    KEEP = "keep"
    NONE = "none"


E = TypeVar("E", bound=Enum)


def parse_option(enum_cls: Type[E], value, name: str) -> E:
    """Return ``value`` as a member of ``enum_cls``.

    Parameters
    ----------
    enum_cls : Enum subclass
        The accepted values.
    value : str or enum_cls
        What the caller passed; case and ``-`` vs ``_`` are forgiven, and former names listed
        by the enum's ``aliases()`` classmethod (if it has one) are accepted.
    name : str
        The parameter name, used in the error message.

    Raises
    ------
    TypeError
        If ``value`` is neither a string nor a member.
    ValueError
        If ``value`` is not one of the accepted values.
    """
    if isinstance(value, enum_cls):
        return value
    accepted = ", ".join(repr(m.value) for m in enum_cls)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {accepted}; got {value!r}")
    key = value.strip().lower().replace("-", "_")
    for member in enum_cls:
        if member.value == key:
            return member
    aliases = enum_cls.aliases() if callable(getattr(enum_cls, "aliases", None)) else {}
    if key in aliases:
        return aliases[key]
    also = "".join(f" (or {a!r}, an alias of {m.value!r})" for a, m in aliases.items())
    raise ValueError(f"{name} must be one of {accepted}{also}; got {value!r}")


def given(value) -> str:
    """What a refused argument was, for its error message: a class passed where an instance
    belongs says so and how to make one (``GradientEnergyFunction`` for
    ``GradientEnergyFunction()`` was refused as "got ABCMeta"), anything else its type."""
    if isinstance(value, type):
        return f"the class {value.__name__} (pass an instance: {value.__name__}())"
    return type(value).__name__


def check_flag(value, name: str) -> bool:
    """``value`` as a bool: True, False or NumPy's bool; else a ``TypeError`` naming ``name``
    (``show_progress="no"`` showed the bars: a string is true)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be True or False; got {value!r}")
