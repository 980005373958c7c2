"""Apache Beam transforms over :mod:`compress_core`: matching, compression, manifests.

Public names: :class:`CompressImages` (the composite), :class:`CompressSettings`,
:class:`MatchImages`, :class:`WriteManifest`, :class:`WriteDeadLetters`, and the manifest schema
:data:`MANIFEST_SCHEMA`.
"""
from .compress import CompressImages, CompressSettings
from .dead_letters import WriteDeadLetters
from .failures import Failure
from .matching import InputFile, MatchImages
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
