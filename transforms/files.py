"""Beam file outputs (the manifest's parts) that leave nothing else behind.

:class:`WriteFiles` is ``fileio.WriteToFiles`` (Beam's public file sink API) pointed at a hidden
temporary folder of the run: each file is written there and renamed to
``<path>/<prefix>-SSSSS-of-NNNNN-<tag><suffix>`` when complete, so a file appears complete or
not at all; when every file is in place the temporary folder is removed. The tag (8 hex digits,
new for each :class:`WriteFiles`, so for each launch of a job) keeps the files of two jobs
apart that write one folder at once (two runs under one ``--run_id``, which the launch check
cannot refuse while neither has written yet): with Beam's names alone, the second's
``part-00000-of-00001.parquet`` replaced the first's. A finished run leaves only
its files (none when there was nothing to write, not even a folder); a failed run may leave the
hidden folder, which dataset readers and globs on the suffix skip.
"""
from __future__ import annotations

import logging
import shutil
import uuid
from typing import Callable, List, Mapping, Optional

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.options.value_provider import StaticValueProvider

__all__ = ["WriteFiles", "temp_folder", "remove_folder", "remove_stopped_files", "new_tag"]

_LOG = logging.getLogger(__name__)


def new_tag() -> str:
    """A fresh tag for file names (8 hex digits)."""
    return uuid.uuid4().hex[:8]


def temp_folder(parent: str, run_id: str) -> str:
    """A new hidden temporary folder of a run: ``<parent>/_beam_temp-run_id=<id>-<uuid>``."""
    return f"{parent.rstrip('/')}/_beam_temp-run_id={run_id}-{uuid.uuid4().hex}"


def remove_folder(folder: str) -> None:
    """Delete ``folder`` and what is left in it (local disk or object store); nothing there is
    fine, a failure is logged."""
    from apache_beam.io.filesystem import BeamIOError
    from apache_beam.io.filesystems import FileSystems

    from compress_core.storage import local_path

    path = local_path(folder)
    try:
        if path is not None:
            # (by its name: Beam's local delete globs it, and a folder named with '[' or '*'
            # was "no files found" and stayed behind at every run; edge review 37)
            shutil.rmtree(path)
        else:   # on object stores, what is left under the prefix ("/": recursive)
            FileSystems.delete([folder.rstrip("/") + "/"])
    except FileNotFoundError:
        pass
    except (BeamIOError, OSError) as exc:
        if FileSystems.exists(folder):   # else there was nothing to remove
            _LOG.warning("could not remove the temporary folder %s: %s", folder, exc)


def remove_stopped_files(folder: str, pick: Callable[[List[str]], List[str]], what: str,
                         storage_options: Optional[Mapping] = None) -> int:
    """Remove the files a stopped launch left in a run's ``folder``: those ``pick`` chooses
    among the folder's names (listed afresh: :func:`compress_core.storage.fresh_listing`);
    how many were removed. The launch that calls it writes them again: kept, each would stand
    twice. ``what`` names them in the log (``"manifest parts"``). Best effort: nothing there
    is 0, what cannot be listed or removed a warning (and 0)."""
    from compress_core.storage import fresh_listing, get_filesystem

    try:
        stale = pick(fresh_listing(folder.rstrip("/"), storage_options))
        fs, _ = get_filesystem(folder.rstrip("/"), storage_options)
        for name in stale:
            fs.rm_file(name)
    except FileNotFoundError:
        return 0
    except Exception as exc:  # noqa: BLE001 - the report names what stands twice
        _LOG.warning("the %s a stopped launch left in %s could not be removed (%s: %s): they "
                     "may stand twice there", what, folder, type(exc).__name__, exc)
        return 0
    if stale:
        _LOG.info("%d %s of a stopped launch removed from %s: this launch writes them again",
                  len(stale), what, folder)
    return len(stale)


def _done(count: int, folder: str) -> int:
    remove_folder(folder)
    return count


def _in_place(result, path: str, temp_dir: str):
    """``result`` (a ``fileio.FileResult``) once its file is at its final name in ``path``.

    Beam's ``WriteToFiles`` swallows a failed rename of its temporary files into ``path`` (a
    ``BeamIOError``, logged at DEBUG level: "may be due to a bundle being retried") and reports
    the files as written; the temporary folder, which still held them, was then removed, and a
    run whose manifest part could not be moved (an object store's copy refused at the end)
    ended with status 0, its summary naming a manifest that did not exist, and its journal
    forgotten. A retried bundle finds its files in place and passes."""
    from apache_beam.io.filesystems import FileSystems

    final = FileSystems.join(path, result.file_name)
    if not FileSystems.exists(final):
        raise IOError(f"{final} was not written: its temporary file could not be moved there "
                      f"(what was written is left in {temp_dir})")
    return result


class WriteFiles(beam.PTransform):
    """Write a PCollection with a ``fileio.FileSink`` through a temporary folder (module doc).

    Parameters
    ----------
    path : str
        The folder of the files (any scheme Beam's FileSystems know).
    temp_dir : str
        The run's temporary folder (:func:`temp_folder`), removed at the end.
    prefix, suffix : str
        File names are ``<prefix>-SSSSS-of-NNNNN-<tag><suffix>``.
    sink : type
        A ``fileio.FileSink`` subclass (default: Beam's ``TextSink``, one line per element).
    shards : int
        At most this many files (0: one per bundle, as the runner splits the work).
    tag : str, optional
        The files' tag (default :func:`new_tag`).

    Returns
    -------
    PCollection of int
        One element, the number of files written, once they are all in place.
    """

    def __init__(self, path: str, temp_dir: str, prefix: str, suffix: str,
                 sink: type = fileio.TextSink, shards: int = 0, tag: Optional[str] = None):
        super().__init__()
        self._path = path.rstrip("/")
        self._temp_dir = temp_dir
        self.tag = tag or new_tag()
        self._naming = fileio.default_file_naming(prefix, f"-{self.tag}{suffix}")
        self._sink = sink
        self._shards = int(shards)

    def expand(self, pcoll):
        sharded = {"shards": self._shards, "max_writers_per_bundle": 0} if self._shards > 0 \
            else {}
        files = pcoll | "WriteToFiles" >> fileio.WriteToFiles(
            path=self._path, file_naming=self._naming, sink=self._sink,
            temp_directory=StaticValueProvider(str, self._temp_dir), **sharded)
        return (files
                | "CheckInPlace" >> beam.Map(_in_place, self._path, self._temp_dir)
                | "CountFiles" >> beam.combiners.Count.Globally()
                | "RemoveTemporaryFolder" >> beam.Map(_done, self._temp_dir))
