"""Apache Beam transforms over :mod:`compress_core`: matching, compression, manifests.

Public names: :class:`CompressImages` (the composite), :class:`CompressSettings`,
:class:`MatchImages`, :class:`WriteManifest`, :class:`WriteDeadLetters`, and the manifest schema
:data:`MANIFEST_SCHEMA`.
"""
from .compress import CompressImages, CompressSettings
from .io import Failure, InputFile, MatchImages, WriteDeadLetters
from .manifest import MANIFEST_SCHEMA, SCHEMA_VERSION, WriteManifest

__all__ = [
    "CompressImages",
    "CompressSettings",
    "MatchImages",
    "InputFile",
    "Failure",
    "WriteManifest",
    "WriteDeadLetters",
    "MANIFEST_SCHEMA",
    "SCHEMA_VERSION",
]
