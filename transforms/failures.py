"""Failures as data: the record every failed input becomes (manifest row and dead letter).

Every step of the job runs its DoFn through :class:`CatchFailures` (Beam's
``with_exception_handling()``): an exception on an element becomes a :class:`Failure` on the
``failed`` output, never a failed bundle, whatever the step. The elements describe themselves
(``failure_fields()``) so that the failure knows the input, its size and hash, and the output
it would have had.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Dict, NamedTuple, Optional, Sequence, Tuple

import apache_beam as beam

from compress_core.flags import in_flags

__all__ = ["FAILED", "Failure", "CatchFailures", "failure_from_dead_letter", "element_fields",
           "exception_message"]

#: Name of the failures output of :class:`CatchFailures`.
FAILED = "failed"
_DEAD_LETTER = "dead_letter"


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
    input_modified : datetime.datetime or None
        The input's modification time, when its listing gave one (:mod:`transforms.identity`).
    input_etag : str or None
        The store's content token of the input, when its listing gave one.
    failed_before : bool
        An earlier run failed on this same file (:func:`transforms.plan.failed_before`).
    """

    input_uri: str
    stage: str
    error_type: str
    error_message: str
    traceback: str = ""
    output_uri: Optional[str] = None
    input_bytes: Optional[int] = None
    input_sha256: Optional[str] = None
    input_modified: Optional[dt.datetime] = None
    input_etag: Optional[str] = None
    failed_before: bool = False


def element_fields(element: Any) -> Dict[str, Any]:
    """What a failed element tells about its input: ``input_uri`` and, when known,
    ``output_uri``, ``input_bytes``, ``input_sha256``, ``input_modified`` and ``input_etag``.

    Elements describe themselves with a ``failure_fields()`` method; a plain string is the
    input URI (a pattern or list file)."""
    describe = getattr(element, "failure_fields", None)
    if callable(describe):
        return dict(describe())
    return {"input_uri": str(element)}


def exception_message(exc_type: type, exc_repr: str, tb_lines: Sequence[str]) -> str:
    """``str(exc)`` recovered from a formatted traceback (Beam's dead letters carry the type,
    ``repr(exc)`` and ``traceback.format_exception``); ``repr(exc)`` when the message is empty."""
    name = exc_type.__qualname__
    module = exc_type.__module__
    shown = name if module in ("builtins", "__main__") else f"{module}.{name}"
    for line in reversed(list(tb_lines)):
        if line.startswith(shown + ": "):
            return line[len(shown) + 2:].rstrip("\n") or exc_repr
        if line.rstrip("\n") == shown:
            return exc_repr
    return exc_repr


def failure_from_dead_letter(dead_letter: Tuple[Any, Tuple[type, str, Sequence[str]]],
                             stage: str) -> Failure:
    """A :class:`Failure` from one element of Beam's ``with_exception_handling`` dead-letter
    output: ``(element, (exception type, repr(exception), traceback lines))``."""
    element, (exc_type, exc_repr, tb_lines) = dead_letter
    fields = element_fields(element)
    # said in the job's flags (``--max_seconds_per_image``, ``--target_bytes 150``), as the
    # command line says its own: they named compress()'s parameters (README review 39)
    uri = str(fields.pop("input_uri"))
    message = exception_message(exc_type, exc_repr, tb_lines)
    # (the input's own name as it is: x.jpg?format=webp&quality=80 had become
    # "x.jpg?--format webp&quality=80", render quality=80.jpg "render --quality 80.jpg")
    message = uri.join(in_flags(part, "job") for part in message.split(uri)) if uri else \
        in_flags(message, "job")
    return Failure(input_uri=uri, stage=stage,
                   error_type=exc_type.__name__, error_message=message,
                   traceback="".join(tb_lines), **fields)


class CatchFailures(beam.PTransform):
    """``ParDo(fn)`` whose exceptions become :class:`Failure` records instead of failed bundles.

    Beam's ``with_exception_handling()`` catches every ``Exception`` an element raises (the
    element's outputs are dropped: ``partial=False``); each is turned into a :class:`Failure`
    of ``stage``. The one failure path of every step of the job.

    Parameters
    ----------
    fn : apache_beam.DoFn
    stage : str
        Recorded in each failure (``match``, ``plan``, ``read``, ``compress``, ``write``).
    tags : str
        Extra tagged outputs of ``fn`` (e.g. ``"skipped"``).
    main : str
        Name of the main output in the result.

    Returns
    -------
    dict
        ``{main: PCollection, tag: PCollection ..., FAILED: PCollection of Failure}``.
    """

    def __init__(self, fn: beam.DoFn, stage: str, *tags: str, main: str = "ok"):
        super().__init__()
        self._fn = fn
        self._stage = stage
        self._tags = tags
        self._main = main

    def expand(self, pcoll):
        # every output typed Any, as without hints, and declared (Beam warns about undeclared
        # tags once the dead-letter output is typed)
        pardo = beam.ParDo(self._fn).with_output_types(Any, **{tag: Any for tag in self._tags})
        result = pcoll | "Process" >> pardo.with_outputs(
            *self._tags, main=self._main).with_exception_handling(dead_letter_tag=_DEAD_LETTER)
        failures = result[_DEAD_LETTER] | "ToFailures" >> beam.Map(
            failure_from_dead_letter, self._stage)
        out = {tag: result[tag] for tag in (self._main, *self._tags)}
        out[FAILED] = failures
        return out
