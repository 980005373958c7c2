"""Failures as data: the record every failed input becomes (manifest row and dead letter)."""
from __future__ import annotations

import traceback
from typing import NamedTuple, Optional

__all__ = ["Failure"]


class Failure(NamedTuple):
    """A failed input, carried as data to the manifest and the dead-letter files.

    Attributes
    ----------
    input_uri : str
        The input (or the pattern / list file, for ``stage="match"``).
    stage : str
        Where it failed: ``match``, ``plan``, ``read``, ``setup``, ``compress`` or ``write``.
    error_type : str
        The exception's class name (``ImageDecodeError`` ...).
    error_message : str
        The exception's message.
    traceback : str
        The formatted traceback (dead letters only).
    output_uri : str or None
        The output it would have had, when known.
    input_bytes : int or None
        Size of the input, when known.
    input_sha256 : str or None
        Hash of the input bytes, when they were read.
    """

    input_uri: str
    stage: str
    error_type: str
    error_message: str
    traceback: str = ""
    output_uri: Optional[str] = None
    input_bytes: Optional[int] = None
    input_sha256: Optional[str] = None

    @classmethod
    def from_exception(cls, exc: BaseException, input_uri: str, stage: str, **fields) -> "Failure":
        """Build a failure from a caught exception (type name, message, traceback)."""
        message = str(exc) or repr(exc)
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return cls(input_uri=str(input_uri), stage=stage, error_type=type(exc).__name__,
                   error_message=message, traceback=tb, **fields)
