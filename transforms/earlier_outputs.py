"""Which input owns each output name, by the manifest of the earlier runs.

Output names are made from the input's path relative to its base, so two runs with different
inputs can name two files alike: a scheduled job over ``incoming/2026-12-01/`` and, the next
day, ``incoming/2026-12-02/`` (cameras count ``IMG_0001.JPG`` again and again) into one
``--output`` with the same settings. The second run replaced the first run's output (both rows
``ok``, one file), or with ``--skip_existing`` skipped the new photo against the old one's
output (``skipped``, the new photo never compressed).

The manifest knows who wrote what. :class:`EarlierOutputs` reads the ``ok`` rows of every
earlier run (not this run's): for each output name of these settings under this ``--output``,
the input that owns it is the input of the latest ``ok`` row (it wrote the file last; before
this, two inputs could write one name). ``skipped`` rows are not read: they name a file an
``ok`` row wrote, and a scheduled ``--skip_existing`` job over a whole bucket writes one for
every finished input in every run, so the rows to read follow the outputs written, not the
number of runs (the status and the settings' tag are filtered in Arrow, before any row becomes
a Python object). The exception is the skip against an output that no row named for its input
(``skip_reason`` :data:`~transforms.manifest.SKIP_UNRECORDED`: a run stopped before writing its
manifest had written it): that row adopts the output for the input, with the input's size,
time and content token then, so that a later rerun compresses the input again once it is
replaced (before, such an input's rows were all ``skipped``, and a replaced photo kept its
old output for good). One such row per adopted output: the next rerun finds it recorded.
The ``error`` rows of these settings are read too, apart (:data:`FAILURES`): the latest
failure of each input, which ``--skip_existing`` need not try again where the file, the
settings and the library are the same (:class:`EarlierFailure`). The names written are also
given keyed by their inputs (:data:`WRITTEN`): a run that names an input otherwise than the
run that wrote its output (``--input`` spelled from another folder) writes a second copy, and
says so.
A run deleted from the manifest is forgotten: the names it wrote can be
taken again. :class:`~transforms.distinct_inputs.DistinctInputs` keeps each name for its owner
and sets any other input apart with its digest, as it does for two inputs of one run.

Names are compared by :func:`~compress_core.storage.output_stem`: the output name without its
extension (``format auto`` picks the extension by content), case-folded. Rows of other
settings (another tag in the name), other output folders, and ``error`` rows (nothing written)
own nothing. A manifest part that cannot be read, or a manifest folder that cannot be listed,
is logged and counted (``earlier_parts_unreadable``); its names are not kept for their inputs,
and the run goes on.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import posixpath
from typing import Iterator, Mapping, NamedTuple, Optional, Tuple

import apache_beam as beam
from apache_beam.metrics import Metrics

from compress_core.images import DEFAULT_MAX_PIXELS
from compress_core.storage import get_filesystem, is_output_name, path_below

from .distinct_inputs import file_key, input_key, name_key, once_apart
from .identity import epoch_us, utc_time
from .manifest import (RUN_ID, SKIP_UNRECORDED, STATUS_ERROR, STATUS_OK, STATUS_SKIPPED,
                       is_manifest_part)
from .metrics import EARLIER_PARTS_UNREADABLE, METRICS_NAMESPACE

__all__ = ["EarlierOwner", "EarlierFailure", "EarlierOutputs", "stem_of_output",
           "UNREADABLE", "CLAIMS", "FAILURES", "WRITTEN"]

_LOG = logging.getLogger(__name__)

#: The metric counting manifest parts (or manifest folders) that could not be read or listed.
UNREADABLE = EARLIER_PARTS_UNREADABLE
#: :class:`EarlierOutputs`' outputs: the claims on output names, the inputs' failures, and the
#: names written for the inputs.
CLAIMS, FAILURES, WRITTEN = "claims", "failures", "written"


class EarlierOwner(NamedTuple):
    """The input an earlier run wrote an output name for. Tuples order by the row's time
    (``max`` picks the last writer, whose output the file holds)."""

    processed_at: str    # ISO time of the row ("" when the manifest has none)
    owner: str           # :func:`input_key` of its input
    input_uri: str
    run_id: str
    input_bytes: Optional[int] = None   # the input's size when that run read it
    extension: str = ""                 # the output's extension (``.jpg``; format auto)
    twice: bool = False                 # keyed by the name set apart once (``once_apart``)
    input_modified: Optional[int] = None   # the input's mtime (schema 3), us since the epoch
    input_etag: str = ""                # the store's content token of the input, or ""
    input_sha256: str = ""              # the SHA-256 of the input's bytes then, or ""
    output_bytes: Optional[int] = None  # the output's size as written (or adopted), if known


class EarlierFailure(NamedTuple):
    """An ``error`` row of an earlier run, these settings, this output folder: the input's
    failure then. Tuples order by the row's time (``max`` picks the latest)."""

    processed_at: str    # ISO time of the row ("" when the manifest has none)
    input_uri: str
    run_id: str
    error_type: str
    error_message: str = ""
    input_bytes: Optional[int] = None
    input_modified: Optional[int] = None   # us since the epoch
    input_etag: str = ""
    library_version: str = ""
    max_pixels: Optional[int] = None   # that run's pixel limit (its default filled in), if known


def _pixel_limit_of(params) -> Optional[int]:
    """The ``max_pixels`` a row's ``params`` (JSON) record, the default where they record None;
    None where they do not say (no such column or key, or not JSON)."""
    try:
        recorded = json.loads(params)
    except (TypeError, ValueError):
        return None
    if not isinstance(recorded, dict) or "max_pixels" not in recorded:
        return None
    limit = recorded["max_pixels"]
    if limit is None:
        return DEFAULT_MAX_PIXELS
    return limit if isinstance(limit, int) and not isinstance(limit, bool) else None


def stem_of_output(output_uri: str, output: str, tag: str) -> Optional[str]:
    """:func:`~compress_core.storage.output_stem` of the input that ``output_uri`` was written
    for, when it is an output of the settings ``tag`` in the folder ``output``; ``None``
    otherwise. Any spelling of the folder is the folder (``file://``, ``//``, ``s3a://``, a
    symbolic link to it: :func:`~compress_core.storage.path_below`), so an earlier run that
    spelled it otherwise still keeps its names."""
    relative = path_below(output_uri, output)
    if relative is None or not is_output_name(posixpath.basename(relative), tag):
        return None
    return posixpath.splitext(relative)[0]     # is_output_name: it ends .<tag>.<extension>


class _ListParts(beam.DoFn):
    """Manifest root -> the part files of its runs (``run_id=<id>/part-*.parquet``), this run's
    excepted. A missing folder has none; one that cannot be listed (a service account that may
    write but not list) is logged and counted, and the run goes on without its names."""

    def __init__(self, run_id: str, storage_options: Optional[Mapping]):
        self._run_id = run_id
        self._storage_options = dict(storage_options or {})
        self._unreadable = Metrics.counter(METRICS_NAMESPACE, UNREADABLE)

    def process(self, manifest: str) -> Iterator[str]:
        try:
            parts = list(self._parts(manifest))
        except FileNotFoundError:
            return
        except Exception as exc:  # noqa: BLE001 - see the class docstring
            self._unreadable.inc()
            _LOG.warning("the manifest %s cannot be listed (%s: %s); output names of earlier "
                         "runs are not kept for their inputs", manifest, type(exc).__name__, exc)
            return
        yield from parts

    def _parts(self, manifest: str) -> Iterator[str]:
        fs, path = get_filesystem(manifest, self._storage_options)
        try:
            fs.invalidate_cache()
        except Exception:  # noqa: BLE001 - not every file system caches
            pass
        this_run = f"run_id={self._run_id}"
        for entry in fs.ls(path.rstrip("/"), detail=True):
            name = posixpath.basename(entry["name"].rstrip("/"))
            if entry.get("type") != "directory" or not name.startswith("run_id=") \
                    or name == this_run or not RUN_ID.fullmatch(name[len("run_id="):]):
                continue   # (a file manager's 'run_id=r1 copy' is no run: the report's rule)
            for part in fs.ls(entry["name"], detail=True):
                base = posixpath.basename(part["name"])
                if part.get("type") == "file" and is_manifest_part(base):
                    yield fs.unstrip_protocol(part["name"])


class _ReadOwners(beam.DoFn):
    """Manifest part -> ``(name key, EarlierOwner)`` for each row that wrote an output name of
    these settings under ``output``, and the same name tagged :data:`WRITTEN` as ``(input key,
    EarlierName's fields)``; and, tagged :data:`FAILURES`, ``(input key, EarlierFailure)`` for
    each ``error`` row of an input planned there."""

    #: read where present: parts of older schemas lack the later ones (``input_modified``
    #: and ``input_etag`` before version 3), whose claims then compare sizes only
    _COLUMNS = ("input_uri", "output_uri", "status", "processed_at", "input_bytes",
                "input_modified", "input_etag", "input_sha256", "skip_reason", "error_type",
                "error_message", "library_version", "params", "output_bytes")

    def __init__(self, output: str, tag: str, storage_options: Optional[Mapping]):
        self._output = output
        self._tag = tag
        self._storage_options = dict(storage_options or {})
        self._unreadable = Metrics.counter(METRICS_NAMESPACE, UNREADABLE)

    def process(self, part: str) -> Iterator[Tuple[str, EarlierOwner]]:
        run_id = posixpath.basename(posixpath.dirname(part))[len("run_id="):]
        try:
            for row in self._rows(part):
                if row["status"] == STATUS_ERROR:
                    failed = self._failed(row, run_id)
                    if failed is not None:
                        yield beam.pvalue.TaggedOutput(FAILURES, failed)
                    continue
                owned = self._owned(row, run_id)
                if owned is not None:
                    stem, owner = owned
                    key = name_key(stem)
                    yield key, owner
                    once = once_apart(key)          # the input set apart twice meets it there
                    if once is not None:
                        yield once, owner._replace(twice=True)
                    # (a plain tuple, an EarlierName's fields: a named tuple costs 4.3 us per
                    # coding round trip, a tuple 0.9, and this is one more per earlier row)
                    yield beam.pvalue.TaggedOutput(WRITTEN, (file_key(owner.input_uri), (
                        owner.processed_at, stem, run_id)))
        except Exception as exc:  # noqa: BLE001 - see the module docstring
            self._unreadable.inc()
            _LOG.warning("earlier manifest part %s cannot be read (%s: %s); the output names "
                         "of its rows are not kept for their inputs", part,
                         type(exc).__name__, exc)

    def _rows(self, part: str) -> Iterator[dict]:
        """The part's ``ok`` and ``error`` rows, and ``skipped`` rows that adopted an
        unrecorded output, whose output name has these settings' tag (columns as other tools
        may rewrite them: dictionary-encoded strings are decoded first)."""
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        fs, path = get_filesystem(part, self._storage_options)
        with fs.open(path, "rb", block_size=_READ_BLOCK) as fh:
            parquet = pq.ParquetFile(fh)
            columns = [c for c in self._COLUMNS if c in parquet.schema_arrow.names]
            groups = [i for i in range(parquet.num_row_groups)
                      if _may_own(parquet.metadata.row_group(i))]
            if not groups:
                return
            for batch in parquet.iter_batches(columns=columns, row_groups=groups):
                batch = pa.RecordBatch.from_arrays(
                    [_as_read(name, c) for name, c in zip(batch.schema.names, batch.columns)],
                    names=batch.schema.names)
                wrote = pc.is_in(batch.column("status"),
                                 value_set=pa.array([STATUS_OK, STATUS_ERROR]))
                if "skip_reason" in batch.schema.names:  # (schema 5) and the adopted outputs
                    wrote = pc.or_kleene(wrote, pc.and_(
                        pc.equal(batch.column("status"), STATUS_SKIPPED),
                        pc.equal(batch.column("skip_reason"), SKIP_UNRECORDED)))
                wrote = pc.and_(wrote, pc.match_substring(batch.column("output_uri"),
                                                          f".{self._tag}."))
                kept = batch.filter(pc.fill_null(wrote, False))
                if "params" in kept.schema.names:   # (read of the error rows alone: the
                    at = kept.schema.get_field_index("params")   # pixel limit they failed at)
                    params = kept.column(at)
                    kept = kept.set_column(at, "params", pc.if_else(
                        pc.equal(kept.column("status"), STATUS_ERROR), params,
                        pa.scalar(None, params.type)))
                yield from kept.to_pylist()

    def _failed(self, row: dict, run_id: str) -> Optional[Tuple[str, EarlierFailure]]:
        if not row.get("output_uri") or not row.get("input_uri") or not row.get("error_type") \
                or stem_of_output(row["output_uri"], self._output, self._tag) is None:
            return None
        text = lambda name: row.get(name) if isinstance(row.get(name), str) else ""  # noqa: E731
        return file_key(row["input_uri"]), EarlierFailure(
            _time_text(row.get("processed_at")), row["input_uri"], run_id, row["error_type"],
            text("error_message"), _size(row.get("input_bytes")),
            _modified_us(row.get("input_modified")), text("input_etag"),
            text("library_version"), _pixel_limit_of(row.get("params")))

    def _owned(self, row: dict, run_id: str) -> Optional[Tuple[str, EarlierOwner]]:
        """The row's output stem (:func:`stem_of_output`) and its claim; None for a row that
        wrote no output of these settings into this folder."""
        if not row.get("output_uri") or not row.get("input_uri"):
            return None
        stem = stem_of_output(row["output_uri"], self._output, self._tag)
        if stem is None:
            return None
        etag, sha256 = row.get("input_etag"), row.get("input_sha256")
        return stem, EarlierOwner(
            _time_text(row.get("processed_at")), input_key(row["input_uri"]), row["input_uri"],
            run_id, _size(row.get("input_bytes")), posixpath.splitext(row["output_uri"])[1],
            input_modified=_modified_us(row.get("input_modified")),
            input_etag=etag if isinstance(etag, str) else "",
            input_sha256=sha256 if isinstance(sha256, str) else "",
            output_bytes=_size(row.get("output_bytes")))


#: Bytes fetched per read of a manifest part on a store (fsspec's block; s3fs reads 5 MiB
#: ahead by default, so that a part was downloaded whole for the few columns read).
_READ_BLOCK = 1 << 18


def _may_own(row_group) -> bool:
    """Whether a row group of a part may hold a row that owns an output name or records a
    failure: not where its statistics say that every ``status`` is ``skipped`` with no
    ``skip_reason`` but ``failed before`` (none adopts an output). A scheduled ``--skip_existing`` job writes a part of skipped rows for
    every finished input at every run: those row groups are not read (stores review 23: each
    rerun downloaded every earlier part whole, 30 KB more per earlier run of 300 photos)."""
    stats = {}
    for j in range(row_group.num_columns):
        column = row_group.column(j)
        if column.path_in_schema in ("status", "skip_reason"):
            stats[column.path_in_schema] = column.statistics
    status = stats.get("status")
    if status is None or not status.has_min_max:
        return True
    low, high = _bounds(status)
    if low != high or low != STATUS_SKIPPED:
        return True
    reason = stats.get("skip_reason", False)
    if reason is False:         # (a part of schema 4 or before: no adopted outputs)
        return False
    if reason is None:
        return True
    if reason.has_null_count and reason.null_count == row_group.num_rows:
        return False            # plain skips only
    if not reason.has_min_max:
        return True
    low, high = _bounds(reason)
    # skips that adopted an output may be there; those of inputs that failed before read
    # nothing new (their failure's own row is read), as a nightly part of them would be
    return low <= SKIP_UNRECORDED <= high


def _bounds(statistics) -> Tuple[str, str]:
    """A string column's smallest and largest value in a row group, as text."""
    return tuple(v.decode("utf-8", "replace") if isinstance(v, bytes) else v
                 for v in (statistics.min, statistics.max))


def _as_read(name: str, column):
    """A column of a part as :meth:`_ReadOwners._rows` reads it: dictionary-encoded strings
    decoded; ``input_modified`` as int64 microseconds since the epoch when it is a timestamp
    (made into Python objects, timezone-aware datetimes cost 2.9 us a row, ints 0.03-0.2)."""
    import pyarrow as pa

    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if name == "input_modified" and pa.types.is_timestamp(column.type):
        column = column.cast(pa.timestamp("us", tz="UTC"), safe=False).cast(pa.int64())
    return column


def _modified_us(value) -> Optional[int]:
    """A row's ``input_modified`` as microseconds since the epoch: as read from a timestamp
    column (:func:`_as_read`), or from text a tool rewrote it as; ``None`` when it has none."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    when = utc_time(value)
    return epoch_us(when) if when is not None else None


def _size(value) -> Optional[int]:
    """A row's ``input_bytes`` as an int (a tool may have rewritten the column as text or
    floats: ``"3473"`` and ``3473.0`` are 3473), ``None`` when it is not a size."""
    if isinstance(value, str):
        value = value.strip()
        return int(value) if value.isascii() and value.isdigit() else None
    if isinstance(value, float):
        return int(value) if value.is_integer() and value >= 0 else None
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value >= 0 else None
    return None


def _time_text(when) -> str:
    """A row's ``processed_at`` as ISO text, by which claims order: a timestamp (as written), or
    text that a tool rewriting the manifest left (``2026-12-01 08:01:00Z`` reads as the same
    time), in UTC (text compares in time order only in one offset); ``""`` when there is none."""
    if when is None:
        return ""
    if isinstance(when, str):
        try:
            when = dt.datetime.fromisoformat(when.strip().replace("Z", "+00:00"))
        except ValueError:
            return when
    return (when.astimezone(dt.timezone.utc) if getattr(when, "tzinfo", None) else when
            ).isoformat()


class EarlierOutputs(beam.PTransform):
    """PBegin -> ``{CLAIMS: (name key, EarlierOwner), FAILURES: (input key, EarlierFailure),
    WRITTEN: (input key, EarlierName's fields)}``: each claim on an output name that earlier
    runs of the manifest wrote with these settings into ``output``, one per ``ok`` row, the
    latest claim on a name (``max``) being its owner (module docstring); each failure of an
    input planned there, one per ``error`` row; and the claims again, keyed by their inputs
    (:class:`~transforms.distinct_inputs.EarlierName`'s fields, a plain tuple). None is
    combined here: :class:`~transforms.distinct_inputs.DistinctInputs` groups them
    with the run's names and inputs anyway (a combine before that made a row cost 52 us
    instead of 35 on the DirectRunner).

    Parameters
    ----------
    manifest : str
        Manifest root (``<manifest>/run_id=<id>/part-*.parquet``).
    output : str
        The job's output folder.
    tag : str
        The settings' tag in output names (``CompressSettings.params_hash()``).
    run_id : str
        This run (its own partition, if any, is not read).
    storage_options : dict, optional
        ``{protocol: fsspec kwargs}``.
    """

    def __init__(self, manifest: str, output: str, tag: str, run_id: str,
                 storage_options: Optional[Mapping] = None):
        super().__init__()
        self.manifest = manifest
        self.output = output
        self.tag = tag
        self.run_id = run_id
        self._storage_options = dict(storage_options or {})

    def expand(self, pbegin):
        read = (pbegin
                | "ManifestRoot" >> beam.Create([self.manifest], reshuffle=False)
                | "ListParts" >> beam.ParDo(_ListParts(self.run_id, self._storage_options))
                | "SpreadParts" >> beam.Reshuffle()
                | "ReadOwners" >> beam.ParDo(_ReadOwners(self.output, self.tag,
                                                         self._storage_options)
                                             ).with_outputs(FAILURES, WRITTEN, main=CLAIMS))
        return {CLAIMS: read[CLAIMS], FAILURES: read[FAILURES], WRITTEN: read[WRITTEN]}
