"""The job's plan: which output each input gets, and whether it is compressed or skipped.

:class:`PlanOutput` (the ``PlanOutputs`` step of :class:`~transforms.compress.CompressImages`)
turns each :class:`~transforms.matching.InputFile` into a :class:`PlannedImage` (its output URI
decided: the settings' hash in its name, :func:`compress_core.storage.output_name`), or into a
``skipped`` row (tagged :data:`SKIPPED`) before anything is read: with ``skip_existing``, an
input whose output exists already, unless the file under the input's URI is not the one that
output was made from (another size, content token or modification time than the manifest
recorded: :mod:`transforms.identity`; a file whose time alone changed is read and kept skipped
when its SHA-256 is the recorded one), and an input that failed before and would fail again
(:func:`fails_again`). A match that is an output of these settings in the output folder (the
output folder is the input folder) is no input.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
from typing import Any, Dict, Iterator, Mapping, NamedTuple, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam.metrics import Metrics

from compress_core.errors import (BrokenLinkError, ImageDecodeError, ImageTooLargeError,
                                  NotAnImageError, TargetUnreachableError)
from compress_core.images import DEFAULT_MAX_PIXELS, named_like_a_picture
from compress_core.storage import (file_size, file_sizes, for_terminal, is_output_name,
                                   join_under, output_name, output_source, path_below,
                                   read_bytes, set_apart)

from . import manifest
from . import metrics
from .distinct_inputs import input_key, same_input
from .identity import (FileIdentity, comparable, from_epoch_us, identity_columns,
                       identity_differs, may_be_same_bytes, stat_identity, stated)
from .journal import JournalReader
from .matching import InputFile
from .metrics import METRICS_NAMESPACE
from .settings import CompressSettings

__all__ = ["PlanOutput", "PlannedImage", "SKIPPED", "FAILS_THE_SAME", "OVER_ITS_LIMIT",
           "failed_before", "fails_again"]

_LOG = logging.getLogger(__name__)

#: The tag of the plan's ``skipped`` rows.
SKIPPED = "skipped"


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


class PlanOutput(beam.DoFn):
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
            item = stated(item, self._storage_options)
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
