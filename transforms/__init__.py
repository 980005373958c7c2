"""Apache Beam transforms over :mod:`compress_core`: matching, compression, manifests.

Public names: :class:`CompressImages` (the composite), :class:`CompressSettings`,
:class:`MatchImages`, :class:`WriteManifest`, :class:`WriteDeadLetters`, :class:`RunJournal`
(which input each output is written for, until the manifest says it), and the manifest schema
:data:`MANIFEST_SCHEMA`. They load on first access (PEP 562), so that a Beam-free module of this
package (the manifest schema and rows, :mod:`transforms.manifest`, which the report reads with)
imports without Beam.
"""
import importlib

_EXPORTS = {
    "CompressImages": "compress",
    "CompressSettings": "settings",
    "MatchImages": "matching",
    "InputFile": "matching",
    "Failure": "failures",
    "WriteManifest": "manifest_writer",
    "WriteDeadLetters": "dead_letters",
    "RunJournal": "journal",
    "MANIFEST_SCHEMA": "manifest",
    "SCHEMA_VERSION": "manifest",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
