"""Semantic Compress: shrink photos while keeping what matters in them.

Public API (everything else is private)::

    from compress_core import SemanticCompressor, compress_image, SeamCarver
    result = SemanticCompressor().compress("photo.jpg", scale=0.5)
    result.save("photo_small.jpg")
"""
import logging as _logging
import os as _os

# a library's loggers say nothing unless the application configures logging (Python's
# "last resort" printed this library's warnings to a service's stderr: integrator review 26)
_logging.getLogger(__name__).addHandler(_logging.NullHandler())

# OpenMP threads (torch's and Numba's) spin for a long time at every barrier by default; on a
# shared or busy machine that starves the other threads and a 30 ms CNN pass takes over a
# second. A short spin keeps the idle-machine speed (measured: 31 -> 35 ms) and the busy-machine
# speed sane (1.2-1.6 s -> 0.12 s). Only effective when set before torch / Numba start OpenMP;
# an explicit setting wins.
_os.environ.setdefault("GOMP_SPINCOUNT", "10000")

from ._numba_cache import use_a_writable_cache as _use_a_writable_cache  # noqa: E402

_use_a_writable_cache()   # before any kernel is compiled (a read-only package and home)

from ._version import __version__, build_id  # noqa: E402
from .compressor import CompressionResult, FailedCompression, SemanticCompressor, compress_image
from .energy import (  # DeepEnergyFunction: on first access (torch), see __getattr__
    BlendEnergyFunction,
    EnergyFunction,
    GradientEnergyFunction,
    HybridEnergyFunction,
    SaliencyEnergyFunction,
    make_energy,
)
from .errors import (
    CompressionTimeoutError,
    EncoderUnavailableError,
    EncodingError,
    ImageDecodeError,
    NotAnImageError,
    ImageReadError,
    BrokenLinkError,
    InvalidWeightsError,
    ImageTooLargeError,
    SemanticCompressError,
    TargetUnreachableError,
    UnsupportedImageError,
    WeightsNotFoundError,
)
from .hybrid import HybridPolicy
from .images import load_image
from .options import ImageFormat, Method
from .request import CompressRequest
from .seams import CarveResult, SeamCarver, remove_object

__all__ = [
    "__version__",
    "build_id",
    "SemanticCompressor",
    "CompressionResult",
    "FailedCompression",
    "compress_image",
    "SeamCarver",
    "CarveResult",
    "remove_object",
    "EnergyFunction",
    "GradientEnergyFunction",
    "SaliencyEnergyFunction",
    "DeepEnergyFunction",
    "BlendEnergyFunction",
    "HybridEnergyFunction",
    "make_energy",
    "HybridPolicy",
    "Method",
    "ImageFormat",
    "CompressRequest",
    "load_image",
    "SemanticCompressError",
    "ImageDecodeError",
    "NotAnImageError",
    "ImageReadError",
    "BrokenLinkError",
    "InvalidWeightsError",
    "ImageTooLargeError",
    "UnsupportedImageError",
    "TargetUnreachableError",
    "WeightsNotFoundError",
    "CompressionTimeoutError",
    "EncoderUnavailableError",
    "EncodingError",
]


def __getattr__(name):
    if name == "DeepEnergyFunction":  # imported when asked for (energy/__init__)
        from . import energy

        globals()[name] = energy.DeepEnergyFunction
        return energy.DeepEnergyFunction
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
