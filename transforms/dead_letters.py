"""Dead letters: every failure as one JSON line under ``<output>/_dead_letters/run_id=<id>/``."""
from __future__ import annotations

import json
from typing import Any, Dict

import apache_beam as beam

from .failures import Failure
from .files import WriteFiles, temp_folder

__all__ = ["failure_record", "WriteDeadLetters"]


def failure_record(failure: Failure, run_id: str) -> Dict[str, Any]:
    """The dead-letter record (a JSON object) of a failure."""
    record = failure._asdict()
    record["run_id"] = run_id
    return record


class WriteDeadLetters(beam.PTransform):
    """Write failures as JSON lines under ``<prefix>/failures-*.jsonl`` (nothing when none:
    no file, no folder).

    Through :class:`~transforms.files.WriteFiles`: the files appear complete or not at all, and
    the temporary folder (``_beam_temp-run_id=...`` beside ``prefix``) is removed at the end.

    Parameters
    ----------
    prefix : str
        Folder URI, e.g. ``<output>/_dead_letters/run_id=<id>``.
    run_id : str
        Stored in each record.
    """

    def __init__(self, prefix: str, run_id: str):
        super().__init__()
        self._prefix = prefix.rstrip("/")
        self._run_id = run_id

    def expand(self, failures):
        run_id = self._run_id
        parent = self._prefix.rsplit("/", 1)[0] if "/" in self._prefix else "."
        return (failures
                | "ToJson" >> beam.Map(lambda f: json.dumps(failure_record(f, run_id), sort_keys=True,
                                                            default=str))
                | "WriteJsonLines" >> WriteFiles(self._prefix, temp_folder(parent, run_id),
                                                 "failures", ".jsonl"))
