"""Compress images in Beam: plan outputs, read, compress (model once per worker), write.

The public composite is :class:`CompressImages`; its steps are small DoFns named by role:

``PlanOutputs`` (:class:`_PlanOutput`)
    Deterministic output URI per input; with ``skip_existing``, inputs whose output already
    exists become ``skipped`` rows without any further work, unless the file under the
    input's URI is not the one that output was made from (another size, content token or
    modification time than the manifest recorded: :mod:`transforms.identity`; a file whose
    time alone changed is read and kept skipped when its SHA-256 is the recorded one). A match
    that is an output of these settings in the output folder (the output folder is the input
    folder) is no input.
``ReadImages`` (:class:`_ReadImage`)
    The input's bytes through fsspec (a listed URI, which no listing described, is first
    asked which file it holds: one metadata request).
``CompressImage`` (:class:`_CompressImage`)
    :meth:`compress_core.SemanticCompressor.compress` on the bytes. The energy function (and
    its CNN) is built for the first image that reaches the step, shared by every DoFn
    instance of a worker process through :class:`apache_beam.utils.shared.Shared`, so a
    process loads the model at most once, and a run whose inputs are all skipped not at all;
    each load is counted by the ``model_loads`` metric and logged.
``WriteImages`` (:class:`_WriteImage`)
    Atomic write of the encoded bytes (:func:`compress_core.storage.write_atomic`), then the
    ``ok`` row.

Every step runs through :class:`~transforms.failures.CatchFailures` (Beam's
``with_exception_handling()``): any exception on an element becomes a
:class:`~transforms.failures.Failure` (never a crashed bundle), then an ``error`` row in the
manifest and a dead letter. A worker that cannot build the compress engine fails each of its
images with the reason.
"""
from __future__ import annotations

import datetime as dt
import functools
import gc
import hashlib
import io
import logging
import os
import sys
import threading
import time
import traceback
from typing import Any, Dict, Iterator, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.utils.shared import Shared

from compress_core.deadline import call_within
from compress_core.errors import (BrokenLinkError, ImageDecodeError, ImageTooLargeError,
                                  NotAnImageError, TargetUnreachableError)
from compress_core.flags import in_flags
from compress_core.heap import release_freed_heap
from compress_core.images import DEFAULT_MAX_PIXELS, largest_file, named_like_a_picture
from compress_core.storage import (file_size, file_sizes, for_terminal, is_output_name,
                                   join_under, output_name, output_source, path_below,
                                   read_bytes, set_apart, write_atomic)
from compress_core.warm_up import warm_up

from . import manifest
from .distinct_inputs import input_key, same_input
from .failures import FAILED, CatchFailures, Failure
from .identity import (FileIdentity, comparable, from_epoch_us, identity_columns,
                       identity_differs, may_be_same_bytes, stat_identity)
from .journal import JournalReader, RunJournal, journal_columns
from .matching import NAME_NOT_UTF8, InputFile
from . import metrics
from .metrics import METRICS_NAMESPACE
from .settings import CompressSettings

__all__ = [
    "CompressSettings",
    "PlannedImage",
    "ImageBytes",
    "CompressedImage",
    "CompressImages",
    "failure_row",
    "model_load_count",
]

_LOG = logging.getLogger(__name__)

SKIPPED = "skipped"
# Loads of the compress engine in this process (tests and benchmarks read it).
_LOADS_LOCK = threading.Lock()
_LOADS_IN_PROCESS = 0


def model_load_count() -> int:
    """How many times this process built a compress engine (re-encoding ones too: the
    ``model_loads`` metric counts those with an energy function)."""
    return _LOADS_IN_PROCESS


class PlannedImage(NamedTuple):
    """An input with its output URI decided (``identity``: its listing's modification time
    and content token, ``None`` for a listed URI not asked yet; :mod:`transforms.identity`)."""

    uri: str
    relpath: str
    size: Optional[int]
    output_uri: str
    identity: Optional[FileIdentity] = None
    failed_before: bool = False     # (:func:`failed_before`: an earlier run failed on it)

    def failure_fields(self) -> Dict[str, Any]:
        """What a failure of this input records (:class:`~transforms.failures.Failure`)."""
        return {"input_uri": self.uri, "output_uri": self.output_uri, "input_bytes": self.size,
                "failed_before": self.failed_before, **identity_columns(self.identity)}


class ImageBytes(NamedTuple):
    """An input's bytes, read (``identity``: which file they came from, recorded in its row)."""

    uri: str
    relpath: str
    output_uri: str
    data: bytes
    identity: Optional[FileIdentity] = None
    failed_before: bool = False     # (as PlannedImage's)

    def failure_fields(self) -> Dict[str, Any]:
        """What a failure of this input records (:class:`~transforms.failures.Failure`)."""
        return {"input_uri": self.uri, "output_uri": self.output_uri,
                "input_bytes": len(self.data),
                "input_sha256": hashlib.sha256(self.data).hexdigest(),
                "failed_before": self.failed_before, **identity_columns(self.identity)}


class CompressedImage(NamedTuple):
    """An encoded output waiting to be written, with its (almost complete) manifest row."""

    uri: str
    output_uri: str
    data: bytes
    row: Dict[str, Any]

    def failure_fields(self) -> Dict[str, Any]:
        """What a failure of this input records (:class:`~transforms.failures.Failure`)."""
        return {"input_uri": self.uri, "output_uri": self.output_uri,
                "input_bytes": self.row.get("input_bytes"),
                "input_sha256": self.row.get("input_sha256"),
                "input_modified": self.row.get("input_modified"),
                "input_etag": self.row.get("input_etag")}


def failure_row(failure: Failure, run_id: str, settings: CompressSettings) -> Dict[str, Any]:
    """The manifest row (``status="error"``) of a failure."""
    return manifest.error_row(
        run_id, failure.input_uri, failure.error_type, failure.error_message,
        output_uri=failure.output_uri, input_bytes=failure.input_bytes,
        input_sha256=failure.input_sha256, input_modified=failure.input_modified,
        input_etag=failure.input_etag, **settings.row_columns())


#: The errors that the same file meets again with the same settings and library build: a
#: ``--skip_existing`` run does not try such an input again (a damaged photo failed every
#: nightly run, and a quiet night's run exited 1 on it alone). Any other failure is tried
#: again at every run: a read, a time budget, weights or an encoder missing on a worker, a
#: decoder's optional package missing (``UnsupportedImageError``), an encoder's failure
#: (``EncodingError`` wraps any, out of memory or a full disk too); a picture over
#: ``--max_pixels`` (:data:`OVER_ITS_LIMIT`) where the limit is now larger than it was.
FAILS_THE_SAME = frozenset(error.__name__ for error in (
    ImageDecodeError, NotAnImageError, TargetUnreachableError, BrokenLinkError))
#: A picture over ``--max_pixels``: met again at the same limit or a smaller one (the limit is
#: not in the settings' tag: raising it is the way out, and the picture is tried again). Tried
#: at every run, one such file made every quiet ``--skip_existing`` night exit 1 ("every image
#: failed"; edge review 37).
OVER_ITS_LIMIT = ImageTooLargeError.__name__


def _pixel_limit(max_pixels: Optional[int]) -> int:
    return DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels


def failed_before(item: InputFile, max_pixels: Optional[int] = None,
                  unknown_is_same: bool = False) -> bool:
    """Whether an earlier run failed on this same file (the same size, and the same content
    token, or else modification time, known on both sides) with an error it meets again:
    one of :data:`FAILS_THE_SAME`, by any library build, or :data:`OVER_ITS_LIMIT` where the
    job's ``max_pixels`` now (None: the default) is no larger than that run's.

    ``unknown_is_same``: an earlier row that records neither a time nor a token (manifest
    schema 1 and 2, releases before 2026-12-03) is the same file at the same size, as for
    outputs ("what either side does not know counts as unchanged"). Only for counting a
    failure ``failed again`` (the file is read either way); never for skipping unread."""
    failed = item.earlier_failure
    if failed is None or item.size is None or item.size != failed.input_bytes:
        return False
    if failed.error_type not in FAILS_THE_SAME and not (
            failed.error_type == OVER_ITS_LIMIT and failed.max_pixels is not None
            and _pixel_limit(max_pixels) <= failed.max_pixels):
        return False
    then = FileIdentity(
        from_epoch_us(failed.input_modified) if failed.input_modified is not None else None,
        failed.input_etag or None)
    if unknown_is_same and failed.input_modified is None and not failed.input_etag:
        return True
    return comparable(item.identity, then) and not identity_differs(item.identity, then)


def fails_again(item: InputFile, max_pixels: Optional[int] = None) -> bool:
    """Whether ``item``'s earlier failure (``earlier_failure``) would be met again: it
    :func:`failed_before` (at the job's ``max_pixels``), by this library build
    (:func:`compress_core.build_id`). Another build may read the file: it is tried again (and,
    failing, counted ``failed again``)."""
    return (failed_before(item, max_pixels)
            and item.earlier_failure.library_version == manifest.library_version())


class _NotesOfABundle:
    """One kind of per-image note, logged once per bundle: how many, and the first (a line per
    image was 1,200 lines for a rerun of 1,200 photos, a million for a bucket: perf review
    27); each image's own line at DEBUG. ``text`` holds ``{n}`` and ``{first}``."""

    def __init__(self, text: str):
        self._text = text
        self.clear()

    def clear(self) -> None:
        self._n, self._first = 0, None

    def add(self, line: str, *args) -> None:
        """One image's note (a logging format and its arguments)."""
        _LOG.debug(line, *args)
        self._n += 1
        if self._first is None:
            self._first = line % tuple(for_terminal(a) if isinstance(a, str) else a
                                       for a in args)

    def say(self) -> None:
        if self._n:
            _LOG.info("%s", self._text.format(n=self._n, first=self._first))
        self.clear()


class _PlanOutput(beam.DoFn):
    """InputFile -> PlannedImage, or a ``skipped`` row when the output exists already, or
    (``--skip_existing``) the input failed before and would fail again (:func:`fails_again`)."""

    def __init__(self, settings: CompressSettings, output: str, run_id: str,
                 skip_existing: bool, storage_options: Optional[Mapping] = None,
                 journal: Optional[JournalReader] = None, job_folders: Sequence[str] = ()):
        self._settings = settings
        self._journal = journal
        self._job_folders = tuple(f.rstrip("/") for f in job_folders)
        self._output = output
        self._run_id = run_id
        self._skip_existing = bool(skip_existing)
        self._storage_options = dict(storage_options or {})
        self._tag = settings.params_hash()
        self._skipped = Metrics.counter(METRICS_NAMESPACE, metrics.IMAGES_SKIPPED)
        self._replaced = Metrics.counter(METRICS_NAMESPACE, metrics.IMAGES_REPLACED)
        self._unrecorded = Metrics.counter(METRICS_NAMESPACE, metrics.SKIPPED_UNRECORDED)
        self._not_adopted = Metrics.counter(METRICS_NAMESPACE, metrics.UNRECORDED_NOT_ADOPTED)
        self._verified = Metrics.counter(METRICS_NAMESPACE, metrics.IMAGES_UNCHANGED_BY_SHA256)
        self._failed_before = Metrics.counter(METRICS_NAMESPACE, metrics.SKIPPED_FAILED_BEFORE)
        self._damaged = Metrics.counter(METRICS_NAMESPACE, metrics.OUTPUTS_DAMAGED)
        self._own_outputs = _NotesOfABundle(
            "{n} files in the output folder are outputs of this job, not inputs (the first: "
            "{first})")
        self._unrecorded_skips = _NotesOfABundle(
            "{n} inputs skipped against outputs that no earlier run's manifest row names for "
            "them (a run stopped before writing its manifest, or another --manifest; the "
            "first: {first})")
        self._written_for_others = _NotesOfABundle(
            "{n} inputs compressed again: the outputs of their names that a stopped run wrote "
            "were made from other files, as its journal says (the first: {first})")
        # (a line each was every sidecar .xmp of a folder every night: job review 46)
        self._failed_again = _NotesOfABundle(
            "{n} inputs skipped: an earlier run failed them, the same files, settings and "
            "library build (the first: {first})")

    def _notes(self):
        return (self._own_outputs, self._unrecorded_skips, self._written_for_others,
                self._failed_again)

    def start_bundle(self):
        for notes in self._notes():
            notes.clear()

    def finish_bundle(self):
        for notes in self._notes():
            notes.say()

    def _own_output(self, item: InputFile) -> Optional[Tuple[str, bool]]:
        """Why ``item`` is an output this job wrote earlier into its output folder, matched
        again because that folder is the input folder, and whether its name alone says so;
        or ``None``. Such a file is never an input: a rerun would compress its own thumbnails
        (``x.jpg.<tag>.jpg.<tag>.jpg``, one more generation each time). An output of these
        settings is known by its tag; one of other settings (an earlier run at another
        ``--scale``) by a tag-like part after a picture's name (``x.jpg.<other tag>.jpg``),
        whether ``x.jpg`` is still there or not (operator review 24: once the photo was
        deleted, its old thumbnails were compressed as new photos), or after another name
        where a file of that name lies beside it (``frame.1718000000.jpg`` beside ``frame``:
        a photo may be named so, hence a warning), or after a name set apart by a digest
        (``a?.jpg``, ``b.JPG`` beside ``b.jpg``: ``a_.jpg~<12 hex>.<tag>.jpg``; operator
        review 39: each change of settings compressed the earlier ones' outputs of these as
        photos, one more generation each time)."""
        source = output_source(item.uri)   # (the name first: most inputs end here)
        if source is None or path_below(item.uri, self._output) is None:  # any spelling
            return None
        if is_output_name(item.uri, self._tag):
            return "an output of these settings", True
        if named_like_a_picture(source) or set_apart(source):
            return f"an output of other settings, made from {source}", True
        if file_size(f"{item.uri.rsplit('/', 1)[0]}/{source}" if "/" in item.uri else source,
                     self._storage_options) is not None:
            return f"an output of other settings, made from {source} beside it", False
        return None

    def _identity_needed(self, item: InputFile, existing: Optional[int]) -> bool:
        """Whether the plan of ``item`` reads which file its URI holds: to compare it with
        what the manifest recorded of its existing output, to adopt an unrecorded output for
        it, or to tell whether it is the file that failed before."""
        if existing is not None:
            return _recorded(item) or item.earlier_extension is None
        # (without --skip_existing too: whether it failed before counts if it fails again)
        return item.earlier_failure is not None

    def _failed_before_row(self, item: InputFile) -> Dict[str, Any]:
        """The ``skipped`` row of an input that :func:`fails_again` (with that failure's
        error), counted and logged."""
        failed = item.earlier_failure
        self._skipped.inc()
        self._failed_before.inc()
        self._failed_again.add("%s skipped: run %s failed it (%s)", item.uri, failed.run_id,
                               failed.error_type)
        return manifest.skipped_row(
            self._run_id, item.uri, None, input_bytes=item.size,
            skip_reason=manifest.SKIP_FAILED_BEFORE, error_type=failed.error_type,
            error_message=failed.error_message, **identity_columns(item.identity),
            **self._settings.row_columns())

    def _uri(self, item: InputFile, extension: str) -> str:
        return join_under(self._output, output_name(item.relpath, self._tag, extension))

    def _same_bytes(self, item: InputFile) -> bool:
        """Whether a file whose modification time alone changed (same size, no content token
        to decide), or whose S3 ETag did where one is a multipart upload's
        (:func:`~transforms.identity.may_be_same_bytes`), still holds the bytes the manifest
        recorded the SHA-256 of: read once and hashed, so that a file touched, copied without
        its time or synced again in parts is not compressed again. A file that cannot be read
        counts as changed (its read in the job reports why)."""
        then = item.earlier_identity
        if (then is None or then.sha256 is None or _size_differs(item) or item.size is None
                or not may_be_same_bytes(item.identity, then)):
            return False
        try:
            data = read_bytes(item.uri, self._storage_options)
        except Exception:  # noqa: BLE001 - compressed again: the read there says why
            return False
        return hashlib.sha256(data).hexdigest() == then.sha256

    def _written_by_this_launch(self, item: InputFile, out: str) -> bool:
        """Whether this launch's own journal names the unrecorded output ``out`` as made from
        ``item``'s URI: a retried bundle (a worker lost before its bundle committed) meets the
        output its first attempt wrote, and had counted it skipped against an unrecorded output,
        its row without the compression's columns (Dataflow review 45). Compressed again: the
        same bytes, and the run's own row."""
        if self._journal is None:
            return False
        entry = self._journal.own_entry(path_below(out, self._output) or out)
        return entry is not None and same_input(input_key(entry.input_uri), input_key(item.uri))

    def _made_from_another(self, item: InputFile, out: str, written
                           ) -> Tuple[bool, Optional[str]]:
        """``(not adopted, why replaced)``: whether the journal of the stopped run that wrote
        the unrecorded output ``out`` (modified at ``written``) says it was made from another
        input, or from another file under the input's URI (:mod:`transforms.journal`; no
        journal: ``False``, adopted by name and time), and in the latter case how the file
        differs (the input is compressed again: :meth:`process` counts it). A backfill of
        another folder's photos of the same names adopted a stopped run's outputs, and its
        photos were never compressed (operator review 39)."""
        if self._journal is None:
            return False, None
        found = self._journal.writer_of(path_below(out, self._output) or out, written)
        entry = found.entry
        if entry is None:
            if found.named:   # (rewritten since its entries: another --manifest's run)
                self._not_adopted.inc()
                self._written_for_others.add(
                    "%s: its output %s was written again after the journal's entries for it "
                    "(by a run under another --manifest?)", item.uri, out)
            return found.named, None
        if not same_input(input_key(entry.input_uri), input_key(item.uri)):
            self._not_adopted.inc()
            self._written_for_others.add("%s: its output %s was written for %s by run %s",
                                         item.uri, out, entry.input_uri, entry.run_id)
            return True, None
        if (entry.input_bytes is not None and item.size is not None
                and entry.input_bytes != item.size) \
                or identity_differs(item.identity, entry.identity):
            return True, (f"is not the file its unrecorded output {out} was made from by run "
                          f"{entry.run_id} (its size, time or content token then: "
                          f"{entry.input_bytes}, {entry.identity.modified}, "
                          f"{entry.identity.etag})")
        return False, None

    def _fails_again(self, item: InputFile) -> bool:
        """Whether a --skip_existing run skips ``item`` as failed before (:func:`fails_again`)."""
        return self._skip_existing and fails_again(item, self._settings.max_pixels)

    def process(self, item: InputFile) -> Iterator:
        own = self._own_output(item)
        if own is not None:
            why, by_name = own  # (told by a file beside it: a warning, so that a photo named
            # like an output, frame.1718000000.jpg beside a file 'frame', is seen)
            if by_name:
                self._own_outputs.add("%s is %s", item.uri, why)
            else:
                _LOG.warning("not an input: %s is %s in the output folder", item.uri, why)
            return
        candidates = self._settings.output_extensions()
        planned = out, out_ext = self._uri(item, candidates[0]), candidates[0]
        held = _job_folder_holding(out, self._job_folders)
        if held is not None:
            # (security review 45: an upload at <input>/_manifest/run_id=night-2/x.jpg, under
            # a '**' glob, was written into the manifest's run folder, and the scheduled run
            # 'night-2' was then refused as one that had run)
            raise ValueError(
                f"{item.uri}: its output {out} would lie in {held}, a folder of the job's own "
                "(its manifest, journal or dead letters): not written; move the input out of "
                "a folder of that name, or give --manifest (or --output) elsewhere")
        existing = None
        replaced = None   # why an earlier output of the input is set aside (the file changed)
        if self._skip_existing:
            # the manifest's last output of this input, else the first suffix found (one
            # listing of the output's name on S3 and GCS: storage.file_sizes)
            suffixes = (item.earlier_extension,) if item.earlier_extension else candidates
            uris = [self._uri(item, ext) for ext in suffixes]
            for uri, ext, size in zip(uris, suffixes, file_sizes(uris, self._storage_options)):
                if size is not None:
                    existing, out, out_ext = size, uri, ext
                    break
        damaged = None
        if existing is not None and (existing == 0 or item.earlier_output_bytes not in (
                None, existing)):
            # emptied, cut short or replaced since it was written: skipped, it stayed so at
            # every run, and its rows recorded the damaged size (edge review 37); no picture
            # is 0 bytes, recorded or not (said below, where it is written again)
            damaged = (out, existing)
            existing, (out, out_ext) = None, planned
        if item.identity is None and self._identity_needed(item, existing):
            # a listed URI: one metadata request (to compare with the record, to record what
            # an unrecorded output is adopted for, or to tell a file that failed before)
            item = _stat(item, self._storage_options)
        if existing is not None and item.earlier_extension is None \
                and self._written_by_this_launch(item, out):
            existing, (out, out_ext) = None, planned
        if existing is not None and item.earlier_extension is None:
            written = _modified(out, self._storage_options)  # (an unrecorded output: one
            # metadata request) modified before the input was: not made from this file
            now = item.identity.modified if item.identity is not None else None
            if written is not None and now is not None and now > written:
                replaced = (f"was modified ({now.isoformat()}) after its unrecorded output "
                            f"{out} was written ({written.isoformat()})")
                existing, (out, out_ext) = None, planned
            else:
                another, replaced = self._made_from_another(item, out, written)
                if another:
                    existing, (out, out_ext) = None, planned
        if existing is not None and _replaced(item):
            if self._same_bytes(item):
                _LOG.info("%s was modified (%s) but holds the bytes its output %s was made from "
                          "(SHA-256): skipped", item.uri, _what_changed(item), out)
                self._verified.inc()
            else:
                replaced = (f"is not the file its output {out} was made from "
                            f"({_what_changed(item)})")
                existing, (out, out_ext) = None, planned
        if existing is None and self._fails_again(item):
            yield beam.pvalue.TaggedOutput(SKIPPED, self._failed_before_row(item))
            return
        if damaged is not None:   # (and written again: not skipped as failed before above)
            recorded = item.earlier_output_bytes
            _LOG.warning("%s: the output %s holds %d bytes%s: written again", item.uri,
                         damaged[0], damaged[1], f", not the {recorded} its row recorded"
                         if recorded not in (None, damaged[1]) else "")
            self._damaged.inc()
        if existing is not None:
            self._skipped.inc()
            if item.earlier_extension is None:     # no ok row of the manifest names it for it
                self._unrecorded.inc()
                self._unrecorded_skips.add("%s skipped against %s", item.uri, out)
            yield beam.pvalue.TaggedOutput(SKIPPED, manifest.skipped_row(
                self._run_id, item.uri, out, input_bytes=item.size, output_bytes=existing,
                output_format=out_ext.lstrip(".").upper().replace("JPG", "JPEG"),
                skip_reason=(manifest.SKIP_UNRECORDED if item.earlier_extension is None
                             else None),
                **identity_columns(item.identity), **self._settings.row_columns()))
            return
        if replaced is not None:
            # (counted here, where the input goes on to be compressed: not where it is then
            # skipped as failed before, a photo damaged after its output was written, which
            # was said "compressed again" and counted replaced at every quiet night; scale
            # review 49, diff review 2)
            _LOG.info("%s %s: compressed again", item.uri, replaced)
            self._replaced.inc()
        yield PlannedImage(item.uri, item.relpath, item.size, out, item.identity,
                           failed_before(item, self._settings.max_pixels,
                                         unknown_is_same=True))


#: What the job writes below a manifest's or the dead letters' root: the runs' folders, the
#: journal, the launches' leases (:mod:`pipeline.lease`) and Beam's temporary folders.
_JOB_FOLDER_PARTS = ("run_id=", "_journal", "_live", "_beam_temp-")


def _job_folder_holding(out: str, folders: Sequence[str]) -> Optional[str]:
    """The folder of the job's own (a manifest's or the dead letters' root) whose run, journal,
    lease or temporary folders would hold ``out`` (``<folder>/run_id=<id>/...``, ...); else
    None. An output elsewhere below such a folder is no run's (an ``--output`` inside
    ``--manifest``, or equal to it, writes every output below the manifest's root: diff review
    45, every image had become an error row)."""
    for folder in folders:
        below = path_below(out, folder)
        if below and below.split("/", 1)[0].startswith(_JOB_FOLDER_PARTS):
            return folder.rstrip("/")
    return None


def _recorded(item: InputFile) -> bool:
    """Whether the manifest recorded anything to compare the file under the input's URI with."""
    return item.earlier_size is not None or item.earlier_identity is not None


def _stat(item, storage_options):
    """``item`` (an InputFile or PlannedImage of a listed URI, which no listing described) with
    its size and identity asked of the store (:func:`~transforms.identity.stat_identity`);
    as it is when the store does not answer (the read reports it)."""
    found = stat_identity(item.uri, storage_options)
    if found is None:
        return item
    size, identity = found
    return item._replace(size=size if size is not None else item.size, identity=identity)


def _modified(uri: str, storage_options) -> Optional[dt.datetime]:
    """The modification time of the file at ``uri``, or ``None`` (no answer, no time)."""
    found = stat_identity(uri, storage_options)
    return found[1].modified if found is not None else None


def _size_differs(item: InputFile) -> bool:
    return item.size is not None and item.earlier_size is not None \
        and item.size != item.earlier_size


def _replaced(item: InputFile) -> bool:
    """Whether the file under the input's URI is not the one its existing output was made from:
    its size differs from the size the manifest recorded when that output was written, or its
    content token or modification time does (:func:`~transforms.identity.identity_differs`;
    what either side does not know counts as unchanged)."""
    return _size_differs(item) or identity_differs(item.identity, item.earlier_identity)


def _what_changed(item: InputFile) -> str:
    """Why :func:`_replaced` said so, for the log."""
    if _size_differs(item):
        return f"{item.size} bytes, {item.earlier_size} then"
    now, then = item.identity, item.earlier_identity
    if now.etag and then.etag and now.etag != then.etag:
        return f"content token {now.etag}, {then.etag} then"
    return (f"modified {now.modified.isoformat()}, {then.modified.isoformat()} then, "
            f"{item.size} bytes as then")


class _ReadImage(beam.DoFn):
    """PlannedImage -> ImageBytes (fsspec read; a listed URI is asked which file it is first;
    a file larger than a picture of ``--max_pixels`` can be is refused, unread)."""

    def __init__(self, storage_options: Optional[Mapping] = None,
                 max_bytes: Optional[int] = None):
        self._storage_options = dict(storage_options or {})
        self._max_bytes = max_bytes
        self._read = Metrics.counter(METRICS_NAMESPACE, metrics.BYTES_READ)

    def process(self, item: PlannedImage) -> Iterator:
        if item.identity is None:
            # a listed URI: which file it holds is asked before the read (a row that recorded
            # it after would vouch for a file replaced in between)
            item = _stat(item, self._storage_options)
        if self._max_bytes is not None and (item.size or 0) > self._max_bytes:
            raise ImageTooLargeError(f"{item.uri}: {item.size:,} bytes, more than a picture of "
                                     f"--max_pixels holds ({self._max_bytes:,}); not read")
        # (and while reading: a file grows, or is replaced, after it is listed)
        data = read_bytes(item.uri, self._storage_options, self._max_bytes)
        self._read.inc(len(data))
        if item.size is not None and len(data) != item.size:
            # changed since it was listed (truncated, replaced): its row records the file
            # read, not the listing's time or token beside the bytes' size and SHA-256 (a
            # truncated photo failed again unrecognised each night, exit status 1; a replaced
            # one was read again every run: fault review 28); where the file is not of the
            # size read either (changed again), the listing's stays (a rerun reads it again)
            restated = _stat(item, self._storage_options)
            if restated.size == len(data):
                item = restated
        yield ImageBytes(item.uri, item.relpath, item.output_uri, data, item.identity,
                         item.failed_before)


def _named(item: ImageBytes) -> io.BytesIO:
    """``item``'s bytes as a file named by its URI: the library's errors name the input (a
    dead letter says ``gs://b/x.jpg: empty file``, not ``<bytes>: empty file``)."""
    data = io.BytesIO(item.data)
    data.name = item.uri
    return data


class _Engine:
    """A compressor with its energy function (and CNN) loaded; one per worker process."""

    def __init__(self, settings: CompressSettings, worker_threads: Optional[int]):
        global _LOADS_IN_PROCESS
        start = time.perf_counter()
        from compress_core import SemanticCompressor
        from compress_core.images import let_pillow_open

        let_pillow_open(settings.max_pixels)   # (this worker's process is the job's)
        self.compressor = SemanticCompressor.from_request(settings)
        # re-encoding reads no importance map (no CNN), unless allocation="semantic" spreads its
        # bytes by one, nor does the hybrid method where every picture keeps its aspect (the
        # default scale 0.5: the whole picture scaled); else loaded here, not inside the first
        # image's time budget
        uses_energy = settings.computes_maps
        self.loads_model = uses_energy  # (what the model_loads metric counts)
        if uses_energy:
            _preload(self.compressor.energy_function)   # (a CNN's: torch is imported here)
        if worker_threads:   # (after the load: where torch is not imported, nothing to set)
            _limit_torch_threads(worker_threads)
        warm = time.perf_counter()
        warm_up(self.compressor, settings)
        self.seconds = time.perf_counter() - start
        with _LOADS_LOCK:
            _LOADS_IN_PROCESS += 1
            count = _LOADS_IN_PROCESS
        # method jpeg reads no map: naming a CNN there said it was loaded when it was not
        what = (f"energy={settings.energy} model={settings.model}" if uses_energy
                else "re-encoding only (no importance map)" if not settings.reads_importance
                else "whole pictures scaled (no importance map)")
        _LOG.info("compress engine loaded: %s in %.2f s, %.2f s of it warming up (pid %d, "
                  "load #%d in this process)", what, self.seconds, time.perf_counter() - warm,
                  os.getpid(), count)


def _preload(energy) -> None:
    """Load the CNN of an energy function (or of a hybrid's members) now, not on first use."""
    load = getattr(energy, "load", None)
    if callable(load):
        load()
    for member in getattr(energy, "energies", ()) or ():
        _preload(member)


def _peak_rss_mb() -> int:
    """Peak resident set size of this process in MiB (Linux: ru_maxrss is in KiB)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak / 1024) if not sys.platform == "darwin" else int(peak / 1024 / 1024)


def _limit_torch_threads(n: int) -> None:
    """``torch.set_num_threads`` (per thread under OpenMP: call it on the computing thread).
    Where torch is not imported it is not imported for this: settings that compute no
    importance map never import it (1.4 s and about 470 MB per process), and a bundle after
    one whose picture did (:meth:`_CompressImage.start_bundle`) sets its threads."""
    torch = sys.modules.get("torch")
    if torch is None:
        return
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def _limit_numba_threads(n: int) -> None:
    """``numba.set_num_threads`` is per thread: call it on the thread that runs the bundle."""
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency
        return
    n = max(1, min(int(n), numba.config.NUMBA_NUM_THREADS))
    if numba.get_num_threads() != n:
        numba.set_num_threads(n)


def _grace(seconds: float) -> float:
    """How long past its budget a compression may take to notice it and stop by itself."""
    return max(1.0, 0.25 * seconds)


def _call_with_budget(fn, seconds: float, worker_threads: Optional[int] = None,
                      grace: float = 0.0):
    """``fn()`` on a daemon thread; :class:`TimeoutError` if it takes longer than ``seconds``.

    The compression itself is given the budget (``compress(max_seconds=)``) and stops at its
    next step with :class:`~compress_core.errors.CompressionTimeoutError`. Python cannot stop a
    thread from outside, so a call that does not return even then (stuck in one native step) is
    *abandoned*: its result is dropped when it ends, and it keeps its CPU until then (the row is
    a ``TimeoutError`` error now; the worker goes on with the next image).
    """
    def limited():
        if worker_threads:
            _limit_torch_threads(worker_threads)
            _limit_numba_threads(worker_threads)
        return fn()

    try:
        return call_within(seconds + grace, limited, name="compress-with-budget")
    except TimeoutError as exc:
        if not getattr(exc, "abandoned", False):   # (fn's own TimeoutError, as it is)
            raise
        late = TimeoutError(f"compressing took longer than the per-image budget of {seconds:g} "
                            "s (--max_seconds_per_image); the image was abandoned")
        late.thread = exc.thread   # (still running: :meth:`_CompressImage._settle` joins it)
        raise late from None


@functools.lru_cache(maxsize=None)
def job_code() -> str:
    """The code the workers run, as :func:`compress_core._version.code_id` of the library's
    and these transforms' modules (the codec packages' versions left out: a launcher installed
    from version ranges need not share them with an image built from the pins)."""
    import compress_core
    import transforms
    from compress_core._version import code_id

    return code_id(*(os.path.dirname(os.path.abspath(package.__file__))
                     for package in (compress_core, transforms)))


def _say_another_build(launched_by: Optional[str]) -> None:
    """An error in the worker's log where its code (:func:`job_code`) is not ``launched_by``,
    the launcher's: a container image built from older code ran the new launcher's settings
    and names without a word, and only the rows' ``library_version`` told it afterwards
    (Dataflow review 31). The rows keep saying the worker's build."""
    worker = job_code()
    if launched_by and worker != launched_by:
        _LOG.error("this worker's code (compress_core and transforms: %s; build %s) is not the "
                   "launcher's (%s): its outputs and rows are this worker's (rebuild the "
                   "container image from the launcher's code, tagged with its build: "
                   "docs/pipeline.md, Dataflow)", worker, manifest.library_version(),
                   launched_by)


class _CompressImage(beam.DoFn):
    """ImageBytes -> CompressedImage; the engine is built lazily, once per worker process, on
    the first image that reaches it (a rerun whose every input is skipped loads no CNN: that
    cost 7-16 s per worker), before that image's time budget starts."""

    def __init__(self, settings: CompressSettings, run_id: str,
                 worker_threads: Optional[int] = None, shared: Optional[Shared] = None,
                 max_seconds: Optional[float] = None, launched_by: Optional[str] = None):
        self._settings = settings
        self._launched_by = launched_by   # the launcher's code (job_code)
        self._max_seconds = max_seconds if max_seconds is not None else settings.max_seconds
        self._run_id = run_id
        self._worker_threads = worker_threads
        self._shared = shared or Shared()
        self._engine: Optional[_Engine] = None
        self._build_error: Optional[BaseException] = None
        self._loads = Metrics.counter(METRICS_NAMESPACE, metrics.MODEL_LOADS)
        self._load_ms = Metrics.distribution(METRICS_NAMESPACE, metrics.MODEL_LOAD_MS)
        self._compress_ms = Metrics.distribution(METRICS_NAMESPACE, metrics.COMPRESS_MS)
        self._peak_rss = Metrics.distribution(METRICS_NAMESPACE, metrics.WORKER_PEAK_RSS_MB)
        self._missed = Metrics.counter(METRICS_NAMESPACE, metrics.QUALITY_TARGET_MISSED)
        self._larger = Metrics.counter(METRICS_NAMESPACE, metrics.OUTPUTS_LARGER_THAN_INPUT)
        self._abandoned: List[threading.Thread] = []  # compressions past their budget, running

    def _build_engine(self) -> None:
        """The shared engine, built by the first DoFn instance of this process that needs it
        (its load reported in the metrics), or the reason it cannot be built."""
        built = []

        def build():
            _say_another_build(self._launched_by)   # (once per worker process)
            engine = _Engine(self._settings, self._worker_threads)
            built.append(engine)
            return engine

        try:
            self._engine = self._shared.acquire(build, tag=self._settings.engine_key())
        except Exception as exc:  # noqa: BLE001 - every element will report it
            _LOG.error("cannot build the compress engine (energy=%s, model=%s): %s: %s",
                       self._settings.energy, self._settings.model, type(exc).__name__, exc)
            self._build_error = exc
            return
        if built and built[0].loads_model:  # (re-encoding only loads no model)
            self._loads.inc()
            self._load_ms.update(int(built[0].seconds * 1000.0))

    def start_bundle(self):
        if self._worker_threads:
            # Both settings are per thread (OpenMP's nthreads ICV, numba's thread mask): apply
            # them on the thread that runs this bundle.
            _limit_torch_threads(self._worker_threads)
            _limit_numba_threads(self._worker_threads)

    def finish_bundle(self):
        # Peak resident memory of this worker process so far (the distribution's max is the
        # largest worker's peak).
        self._peak_rss.update(_peak_rss_mb())

    def _settle(self) -> None:
        """Wait for the compressions abandoned at their budget to stop, before the next image.

        An abandoned compression stops at its next step (``CompressionTimeoutError``) but
        keeps its pictures until then: a 45-megapixel re-encode's step is one encode of 2-4 s.
        Started beside them, the next images had several full-size compressions in memory at
        once (a process at 9.1 GiB with ``--max_seconds_per_image 3`` against 3.8 GiB without;
        large-photo review 29). Each is waited for once, at most one more budget and grace; one
        still running then (stuck in a native step) is left, with a warning, and not waited
        for again."""
        if not self._abandoned:
            return
        end = time.monotonic() + self._max_seconds + _grace(self._max_seconds)
        for thread in self._abandoned:
            thread.join(max(0.0, end - time.monotonic()))
        stuck = sum(thread.is_alive() for thread in self._abandoned)
        if stuck:
            _LOG.warning("%d compression(s) abandoned at --max_seconds_per_image %g s still run "
                         "after %g s more; the next images start beside them", stuck,
                         self._max_seconds, self._max_seconds + _grace(self._max_seconds))
        self._abandoned = []

    def _compressed(self, item: ImageBytes):
        """The library's result for ``item``, within ``--max_seconds_per_image``."""
        compress = self._engine.compressor.compress
        kwargs = self._settings.compress_kwargs()
        if self._max_seconds:
            # the library stops itself at the budget (CompressionTimeoutError); a step that
            # cannot check the clock (a hung decoder) is abandoned after a grace period
            kwargs["max_seconds"] = self._max_seconds
            try:
                return _call_with_budget(lambda: compress(_named(item), **kwargs),
                                         self._max_seconds, self._worker_threads,
                                         grace=_grace(self._max_seconds))
            except TimeoutError as exc:
                if getattr(exc, "thread", None) is not None:
                    self._abandoned.append(exc.thread)
                raise
        return compress(_named(item), **kwargs)

    def process(self, item: ImageBytes) -> Iterator:
        self._settle()
        if self._engine is None and self._build_error is None:
            self._build_engine()
        if self._engine is None:
            # the reason the engine could not be built (e.g. weights missing on this worker)
            raise self._build_error or RuntimeError("compress engine not built")
        try:
            result = self._compressed(item)
        except MemoryError as exc:
            ran_out = " ".join(str(exc).split())
            where = "".join(traceback.format_tb(exc.__traceback__)[-4:])   # (text: no frames)
        else:
            ran_out = None
        if ran_out is not None:
            # raised again here, past the handler: the first one's traceback held the call's
            # frames and with them the picture's arrays, alive while Beam pickled the failure
            # (the input's bytes) beside them; that ran out of memory again outside any
            # image's error handling, and the whole run stopped, at every rerun (job review 43)
            gc.collect()   # (any cycle that still holds them)
            release_freed_heap()
            error = MemoryError("the worker ran out of memory compressing this picture"
                                + (f" ({ran_out})" if ran_out else "") + ": workers with more "
                                "memory, or a lower --max_pixels (such pictures refused "
                                "unread), keep it from failing")
            error.add_note(f"where it ran out (the first error's last frames):\n{where}")
            raise error
        output_uri = item.output_uri
        if not output_uri.endswith(result.extension):
            # The name lied about the content (e.g. a PNG named .jpg): use the real suffix.
            output_uri = output_uri.rsplit(".", 1)[0] + result.extension
        # (the library hashed the same bytes: item.data, read whole from the file object)
        digest = result.input_sha256 or hashlib.sha256(item.data).hexdigest()
        row = manifest.ok_row(self._run_id, item.uri, output_uri, result, digest,
                              **identity_columns(item.identity),
                              **self._settings.row_columns())
        total = (result.timings or {}).get("total_ms")
        if total is not None:
            self._compress_ms.update(int(total))
        missed = result.missed_target()
        if missed:  # written all the same (the format's best), as the command line does
            self._missed.inc()
            _LOG.warning("%s: %s (its row says quality_score)", item.uri,
                         in_flags(missed, "job"))
        if result.compressed_bytes > len(item.data):
            # written all the same (the pixels asked for); an archive should hear of it
            self._larger.inc()
            _LOG.warning("%s: the output (%s, %d bytes) is larger than the input (%d bytes): "
                         "byte_ratio %.3f", item.uri, result.format, result.compressed_bytes,
                         len(item.data), result.compressed_bytes / max(1, len(item.data)))
        out = CompressedImage(item.uri, output_uri, bytes(result.data), row)
        # (the result holds the picture's pixels at every stage: a worker near its memory's
        # end ran out of it while Beam sized the element yielded beside them, outside any
        # image's error handling, and the whole run stopped at each rerun: job review 43)
        del result
        yield out


class _WriteImage(beam.DoFn):
    """CompressedImage -> its ``ok`` manifest row, after an atomic write of the bytes."""

    def __init__(self, storage_options: Optional[Mapping] = None, output: Optional[str] = None,
                 journal: Optional[RunJournal] = None):
        self._storage_options = dict(storage_options or {})
        self._output = output   # (no symbolic link below it is written through)
        self._journal = journal   # (told first which input the output is written for)
        self._ok = Metrics.counter(METRICS_NAMESPACE, metrics.IMAGES_OK)
        self._bytes_in = Metrics.counter(METRICS_NAMESPACE, metrics.BYTES_IN)
        self._bytes_out = Metrics.counter(METRICS_NAMESPACE, metrics.BYTES_OUT)

    def process(self, item: CompressedImage) -> Iterator:
        if self._journal is not None and self._output is not None:
            self._journal.record(path_below(item.output_uri, self._output) or item.output_uri,
                                 **journal_columns(item.row))
        write_atomic(item.output_uri, item.data, self._storage_options, within=self._output)
        self._ok.inc()
        self._bytes_in.inc(int(item.row.get("input_bytes") or 0))
        self._bytes_out.inc(len(item.data))
        yield item.row


class _FailureToRow(beam.DoFn):
    """Failure -> ``error`` manifest row (and the ``images_failed`` metric; inputs that are
    no picture, :class:`~compress_core.errors.NotAnImageError`, also ``inputs_not_images``;
    other pictures that an earlier run failed on, ``images_failed_again``; files whose name
    is not UTF-8, ``inputs_named_not_utf8``; failures to write an output,
    ``outputs_unwritten``: see :func:`pipeline.main.exit_status`)."""

    def __init__(self, settings: CompressSettings, run_id: str):
        self._settings = settings
        self._run_id = run_id
        self._failed = Metrics.counter(METRICS_NAMESPACE, metrics.IMAGES_FAILED)
        self._not_images = Metrics.counter(METRICS_NAMESPACE, metrics.INPUTS_NOT_IMAGES)
        self._failed_again = Metrics.counter(METRICS_NAMESPACE, metrics.IMAGES_FAILED_AGAIN)
        self._not_utf8 = Metrics.counter(METRICS_NAMESPACE, metrics.INPUTS_NAMED_NOT_UTF8)
        self._unwritten = Metrics.counter(METRICS_NAMESPACE, metrics.OUTPUTS_UNWRITTEN)

    def process(self, failure: Failure) -> Iterator[Dict[str, Any]]:
        self._failed.inc()
        if failure.stage == "write":   # (the storage's failure, not the picture's)
            self._unwritten.inc()
        elif failure.stage == "match" and NAME_NOT_UTF8 in failure.error_message:
            self._not_utf8.inc()   # (never read, and no run can until it is renamed)
        elif failure.error_type == NotAnImageError.__name__:
            self._not_images.inc()
        elif failure.failed_before and (failure.error_type in FAILS_THE_SAME
                                        or failure.error_type == OVER_ITS_LIMIT):
            # (a failure that may pass, a read or a new build's own error, is not excused)
            self._failed_again.inc()
        _LOG.warning("failed %s at %s: %s: %s", failure.input_uri, failure.stage,
                     failure.error_type, failure.error_message)
        yield failure_row(failure, self._run_id, self._settings)


class CompressImages(beam.PTransform):
    """Compress a PCollection of :class:`~transforms.matching.InputFile` into outputs and rows.

    The input is that PCollection, or a dict ``{"files": ..., "failures": ...}`` (what
    :class:`~transforms.matching.MatchImages` returns) whose earlier failures join the rows and the
    failures of this transform.

    Parameters
    ----------
    settings : CompressSettings
        What to do to every image.
    output : str
        Output prefix (local folder or fsspec URI); outputs go to
        ``<output>/<relpath>.<params hash><ext>``, the input's extension kept in the name
        (:func:`compress_core.storage.output_name`).
    run_id : str
        Stored in every row.
    skip_existing : bool
        Inputs whose output exists already become ``skipped`` rows, with no read or compute,
        unless the manifest says that output was made from another file under the input's URI
        (another size, content token or modification time).
    storage_options : dict, optional
        ``{protocol: fsspec kwargs}``.
    worker_threads : int, optional
        Threads per worker process for torch and the numba kernels (``None``: library defaults).
    max_seconds_per_image : float, optional
        Time budget of one image's compression; a longer one becomes an ``error`` row with
        ``error_type="TimeoutError"`` (``None``: no budget).
    journal : RunJournal, optional
        Each output is journalled there before it is written, and the journals of stopped
        launches say which input their unrecorded outputs were made from
        (:mod:`transforms.journal`; the caller calls its ``forget()`` once the manifest is in
        place). ``None``: no journal.
    job_folders : sequence of str, optional
        Folders below ``output`` that are the job's own (the manifest's, the dead letters'):
        an input whose output would lie in one is an ``error`` row, not written there.

    Returns
    -------
    dict
        ``rows``: manifest rows (dicts, one per input: ok, skipped or error);
        ``failures``: :class:`~transforms.failures.Failure` records for the dead-letter output.
    """

    def __init__(self, settings: CompressSettings, output: str, run_id: str,
                 skip_existing: bool = False, storage_options: Optional[Mapping] = None,
                 worker_threads: Optional[int] = None,
                 max_seconds_per_image: Optional[float] = None,
                 journal: Optional[RunJournal] = None, job_folders: Sequence[str] = ()):
        super().__init__()
        self._job_folders = tuple(job_folders)
        self._max_seconds = max_seconds_per_image
        self._journal = journal
        self._settings = settings
        self._output = output.rstrip("/")
        self._run_id = run_id
        self._skip_existing = skip_existing
        self._storage_options = dict(storage_options or {})
        self._worker_threads = worker_threads

    def expand(self, inputs):
        if isinstance(inputs, dict):
            files, earlier = inputs["files"], inputs.get("failures")
        else:
            files, earlier = inputs, None
        s, run_id, so = self._settings, self._run_id, self._storage_options
        planned = files | "PlanOutputs" >> CatchFailures(
            _PlanOutput(s, self._output, run_id, self._skip_existing, so,
                        journal=self._journal.reader() if self._journal else None,
                        job_folders=self._job_folders),
            "plan", SKIPPED)
        read = planned["ok"] | "ReadImages" >> CatchFailures(
            _ReadImage(so, largest_file(s.max_pixels or DEFAULT_MAX_PIXELS)), "read")
        compressed = read["ok"] | "CompressImage" >> CatchFailures(
            _CompressImage(s, run_id, self._worker_threads, max_seconds=self._max_seconds,
                           launched_by=job_code()),
            "compress")
        written = compressed["ok"] | "WriteImages" >> CatchFailures(
            _WriteImage(so, self._output, journal=self._journal), "write")
        failure_parts = [step[FAILED] for step in (planned, read, compressed, written)]
        if earlier is not None:
            failure_parts.append(earlier)
        failures = tuple(failure_parts) | "CollectFailures" >> beam.Flatten()
        error_rows = failures | "ErrorRows" >> beam.ParDo(_FailureToRow(s, run_id))
        rows = (written["ok"], planned[SKIPPED], error_rows) | "CollectRows" >> beam.Flatten()
        return {"rows": rows, "failures": failures}
