"""Dead letters: every failure as one JSON line under ``<output>/_dead_letters/run_id=<id>/``.

They are written beside the outputs, where a failure to write (the output's disk full, its
store gone: the very failures they record) is likely; so writing them is best effort. Each
bundle's failures go to one file written atomically (complete or absent, through
:func:`compress_core.storage.write_atomic`), named by a digest of its lines, so a bundle
that a runner retries with the same failures writes the same file again (a retry whose
failures differ, an image that failed at another step or passed, leaves a second file: the
manifest, which Beam's sink writes once, is the record); a file that cannot be written is a
warning and a count (``dead_letters_unwritten``), and the run goes on to write its manifest,
whose error rows say the same. Through Beam's ``fileio.WriteToFiles`` one such write stopped the
whole run, and a manifest on another, healthy disk was never written (operator review 28).
"""
from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import json
import logging
import posixpath
from typing import Any, Dict, List, Mapping, Optional

import apache_beam as beam
from apache_beam.metrics import Metrics

from compress_core.storage import join_under, write_atomic

from .failures import Failure
from .files import remove_stopped_files
from .metrics import DEAD_LETTERS_UNWRITTEN, METRICS_NAMESPACE

__all__ = ["failure_record", "WriteDeadLetters", "clear_stopped_letters"]

_LOG = logging.getLogger(__name__)


def failure_record(failure: Failure, run_id: str) -> Dict[str, Any]:
    """The dead-letter record (a JSON object) of a failure."""
    record = failure._asdict()
    record["run_id"] = run_id
    return record


def _json_value(value) -> str:
    """A value JSON has no type for: a time in ISO 8601 (``2026-12-07T12:59:44.000096+00:00``,
    as the report's JSON and the journal write it; ``str`` had a space for the ``T``: analyst
    review 48), anything else as its text."""
    return value.isoformat() if isinstance(value, (dt.datetime, dt.date)) else str(value)


def clear_stopped_letters(prefix: str, storage_options: Optional[Mapping] = None) -> int:
    """Remove the dead-letter files (``failures-*.jsonl``) under ``prefix``, a run's folder
    that a launch stopped before its manifest left (the launch's checks refuse a finished
    run's id); how many were removed. Its retry tries every input again and writes the
    failures it meets: the stopped launch's, kept, were each failure twice (in bundles made
    apart, named apart) and a failure since mended still said failed (analyst review 48).
    Best effort (:func:`~transforms.files.remove_stopped_files`)."""
    # (listed, not globbed: an --output of "cams [1]" globbed "cams 1"'s dead letters and
    # not its own; diff review 48)
    return remove_stopped_files(
        prefix, lambda names: [name for name in names if fnmatch.fnmatchcase(
            posixpath.basename(name), "failures-*.jsonl")],
        "dead-letter files", storage_options)


class _WriteBundleOfLetters(beam.DoFn):
    """Failures -> one ``failures-<16 hex>.jsonl`` file per bundle (module doc)."""

    def __init__(self, prefix: str, run_id: str, storage_options: Optional[Mapping] = None,
                 within: Optional[str] = None, journal=None):
        self._prefix = prefix
        self._run_id = run_id
        self._storage_options = dict(storage_options or {})
        self._within = within
        self._journal = journal
        self._marked = False
        self._unwritten = Metrics.counter(METRICS_NAMESPACE, DEAD_LETTERS_UNWRITTEN)
        self._lines: List[str] = []

    def start_bundle(self):
        self._lines = []

    def process(self, failure: Failure):
        self._lines.append(json.dumps(failure_record(failure, self._run_id), sort_keys=True,
                                      default=_json_value))

    def finish_bundle(self):
        if not self._lines:
            return
        if self._journal is not None and not self._marked:
            # (the launch is marked in its journal before its first dead letters: a launch
            # stopped before its manifest that wrote no output, a night of skips and failures,
            # was refused at every retry under its --run_id, its dead letters taken for a
            # finished run's; analyst review 48)
            self._marked = True
            try:
                self._journal.begin()
            except Exception as exc:  # noqa: BLE001 - best effort, as the letters
                _LOG.warning("the journal of run %s cannot be marked (%s: %s)", self._run_id,
                             type(exc).__name__, exc)
        data = ("\n".join(sorted(self._lines)) + "\n").encode("utf-8")
        uri = join_under(self._prefix,
                         f"failures-{hashlib.sha256(data).hexdigest()[:16]}.jsonl")
        try:
            write_atomic(uri, data, self._storage_options, within=self._within)
        except Exception as exc:  # noqa: BLE001 - best effort: the manifest holds them too
            self._unwritten.inc(len(self._lines))
            _LOG.warning("the dead letters of %d failures were not written to %s (%s: %s); the "
                         "manifest's error rows record them", len(self._lines), uri,
                         type(exc).__name__, exc)
        self._lines = []


class WriteDeadLetters(beam.PTransform):
    """Write failures as JSON lines under ``<prefix>/failures-<16 hex>.jsonl``, best effort
    (module doc; nothing when there are none: no file, no folder).

    Parameters
    ----------
    prefix : str
        Folder URI, e.g. ``<output>/_dead_letters/run_id=<id>``.
    run_id : str
        Stored in each record.
    storage_options : dict, optional
        fsspec options per protocol (the outputs' store).
    within : str, optional
        The job's ``--output``: no symbolic link below it is written through (as for the
        outputs: :func:`~compress_core.storage.write_atomic`; a link planted at
        ``<output>/_dead_letters`` had the dead letters written where it pointed).
    journal : transforms.journal.RunJournal, optional
        The launch's journal, marked (:meth:`~transforms.journal.RunJournal.begin`) before
        the first letters are written.
    """

    def __init__(self, prefix: str, run_id: str, storage_options: Optional[Mapping] = None,
                 within: Optional[str] = None, journal=None):
        super().__init__()
        self._prefix = prefix.rstrip("/")
        self._run_id = run_id
        self._storage_options = dict(storage_options or {})
        self._within = within
        self._journal = journal

    def expand(self, failures):
        return failures | "WriteJsonLines" >> beam.ParDo(
            _WriteBundleOfLetters(self._prefix, self._run_id, self._storage_options,
                                  self._within, self._journal))
