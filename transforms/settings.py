"""The job's settings: what it does to every image (a Beam-free module).

:class:`CompressSettings` is a :class:`compress_core.request.CompressRequest` (the library's one
validated home of the options) plus what the job's DoFns need from it: ``compress()``'s keyword
arguments, the key of the shared compress engine, the manifest's common columns.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict

from compress_core.request import OPTIONS, CompressRequest

__all__ = ["CompressSettings"]

#: Settings that configure the SemanticCompressor (the engine) rather than compress().
_ENGINE_FIELDS = tuple(o.name for o in OPTIONS if o.scope == "engine")


@dataclass(frozen=True)
class CompressSettings(CompressRequest):
    """What the job does to every image: a :class:`compress_core.request.CompressRequest`
    (validated on construction, the same options and checks as the library), plus what the
    job's DoFns need from it.

    Two settings with the same :meth:`params` give the same output names (:meth:`params_hash`).
    Per-image masks are not batch settings (ValueError).
    """

    def __post_init__(self):
        super().__post_init__()
        for name in (o.name for o in OPTIONS if not o.batch):
            if getattr(self, name) is not None:
                raise ValueError(f"{name} is a per-image option; a batch job cannot take it")
        unused = self.unused_engine_options()
        if unused:
            raise ValueError("; ".join(unused) + " (drop it: it would change nothing but the "
                             "output names)")

    def compress_kwargs(self) -> Dict[str, Any]:
        """Keyword arguments for :meth:`SemanticCompressor.compress` (no progress bars)."""
        kwargs = super().compress_kwargs()
        kwargs["show_progress"] = False
        return kwargs

    def engine_key(self) -> str:
        """What the compress engine depends on, for sharing it between DoFn instances."""
        return ":".join(str(getattr(self, f)) for f in _ENGINE_FIELDS)

    def row_columns(self) -> Dict[str, Any]:
        """The manifest columns every row of these settings shares."""
        return {"method": self.method, "energy": self.energy, "model": self.model,
                "params": self.params_json()}
