"""Semantic Compress: shrink photos while keeping what matters in them.

Public API (everything else is private)::

    from compress_core import SemanticCompressor, compress_image, SeamCarver
    result = SemanticCompressor().compress("photo.jpg", scale=0.5)
    result.save("photo_small.jpg")
"""
from ._version import __version__
from .compressor import CompressionResult, FailedCompression, SemanticCompressor, compress_image
from .energy import (
    DeepEnergyFunction,
    EnergyFunction,
    GradientEnergyFunction,
    HybridEnergyFunction,
    SaliencyEnergyFunction,
    make_energy,
)
from .errors import (
    ImageDecodeError,
    ImageReadError,
    ImageTooLargeError,
    SemanticCompressError,
    TargetUnreachableError,
    UnsupportedImageError,
    WeightsNotFoundError,
)
from .hybrid import HybridPolicy
from .images import load_image
from .options import ImageFormat, Method
from .seams import CarveResult, SeamCarver, remove_object

__all__ = [
    "__version__",
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
    "HybridEnergyFunction",
    "make_energy",
    "HybridPolicy",
    "Method",
    "ImageFormat",
    "load_image",
    "SemanticCompressError",
    "ImageDecodeError",
    "ImageReadError",
    "ImageTooLargeError",
    "UnsupportedImageError",
    "TargetUnreachableError",
    "WeightsNotFoundError",
]
