"""The manifest: one Parquet row per input image and run, whatever happened to it.

A run writes its rows under ``<manifest>/run_id=<id>/part-*.parquet`` (Hive-style partitions),
so that one folder holds every run and pyarrow.dataset, pandas, DuckDB and BigQuery external
tables read it directly. A row has the columns of :data:`MANIFEST_SCHEMA`; a part file holds
them less ``run_id`` (:data:`PART_SCHEMA`): the partition key lives in the folder name only, as
Spark and ``pyarrow.parquet.write_to_dataset`` write it, and readers take it from there
(:func:`run_partitioning`). Parts written before schema version 4 also hold a ``run_id``
column, equal to their folder's key; a part file of version 4 read alone gives no run id: it
is the ``<id>`` of its folder's name. The ``schema_version`` column says which version of the
schema wrote the row (bump :data:`SCHEMA_VERSION` when the schema changes). Rows as read with
:func:`run_partitioning` (:data:`MANIFEST_SCHEMA`) only ever gain nullable columns: add, never
rename, retype or remove one. The part files changed once otherwise: version 4 took ``run_id``
out of them.

Rows are plain ``dict`` objects, built here by
:func:`ok_row`, :func:`skipped_row` and :func:`error_row` so that every row has every column;
:class:`transforms.manifest_writer.WriteManifest` writes them. This module needs pyarrow only,
not Beam: the report (``python -m pipeline.report``) reads manifests with it.
"""
from __future__ import annotations

import datetime as _dt
import re
from typing import Any, Dict, Iterable, Mapping, Optional, Tuple

import pyarrow as pa

from compress_core.request import canonical_json

__all__ = [
    "SCHEMA_VERSION",
    "MANIFEST_SCHEMA",
    "PART_SCHEMA",
    "run_partitioning",
    "part_table",
    "STATUS_OK",
    "STATUS_SKIPPED",
    "STATUS_ERROR",
    "STATUSES",
    "empty_row",
    "ok_row",
    "skipped_row",
    "error_row",
    "params_json",
    "conform_row",
    "manifest_prefix",
    "is_manifest_part",
    "stopped_launches",
    "RUN_ID",
]

#: A run id the job takes (``--run_id``): it becomes the folder name ``run_id=<id>``.
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")

#: Version of :data:`MANIFEST_SCHEMA`, stored in every row.
SCHEMA_VERSION = 5  # 2: quality_score (SSIMULACRA2 reached by quality="auto" or a byte
#                        budget), stretch, faces
#                     3: input_modified, input_etag (which file the input URI held)
#                     4: run_id in the partition folder's name only, no longer in the part
#                        files (a removal from the files; the rows read keep it)
#                     5: skip_reason (a skip against an output no earlier row named)

STATUS_OK = "ok"
STATUS_SKIPPED = "skipped"
STATUS_ERROR = "error"
STATUSES = (STATUS_OK, STATUS_SKIPPED, STATUS_ERROR)
#: ``skip_reason`` of a skip against an output that no earlier ``ok`` row names for its input
#: (a run stopped before writing its manifest): the row adopts that output for the input, with
#: the input's identity then, so that a later rerun sees the input replaced.
SKIP_UNRECORDED = "unrecorded output"
#: ``skip_reason`` of a skip (``--skip_existing``) of an input that an earlier run failed, the
#: same file, with the same settings and library build, by an error that the same bytes
#: always give (a damaged picture): its ``error_type`` and ``error_message`` are that run's.
SKIP_FAILED_BEFORE = "failed before"

_CROP_BOX = pa.struct(
    [("left", pa.int32()), ("top", pa.int32()), ("right", pa.int32()), ("bottom", pa.int32())]
)

#: The manifest schema (docs/pipeline.md, "The manifest"). Column order is stable;
#: new columns go at the end. ``input_modified`` and ``input_etag`` say which file the input's
#: URI held when it was listed (:mod:`transforms.identity`; null where the store or the
#: listing gave none, and in rows of schema versions before 3).
MANIFEST_SCHEMA = pa.schema(
    [
        pa.field("schema_version", pa.int16(), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("input_uri", pa.string(), nullable=False),
        pa.field("output_uri", pa.string()),
        pa.field("status", pa.string(), nullable=False),
        pa.field("error_type", pa.string()),
        pa.field("error_message", pa.string()),
        pa.field("input_sha256", pa.string()),
        pa.field("input_format", pa.string()),
        pa.field("input_width", pa.int32()),
        pa.field("input_height", pa.int32()),
        pa.field("input_bytes", pa.int64()),
        pa.field("output_format", pa.string()),
        pa.field("output_width", pa.int32()),
        pa.field("output_height", pa.int32()),
        pa.field("output_bytes", pa.int64()),
        pa.field("pixel_ratio", pa.float64()),
        pa.field("byte_ratio", pa.float64()),
        pa.field("method", pa.string()),
        pa.field("energy", pa.string()),
        pa.field("model", pa.string()),
        pa.field("params", pa.string()),
        pa.field("quality", pa.int32()),
        pa.field("quality_score", pa.float64()),
        pa.field("energy_mean", pa.float64()),
        pa.field("energy_std", pa.float64()),
        pa.field("energy_p50", pa.float64()),
        pa.field("energy_p95", pa.float64()),
        pa.field("high_importance_ratio", pa.float64()),
        pa.field("retained_energy_ratio", pa.float64()),
        pa.field("stretch", pa.float64()),
        pa.field("faces", pa.int32()),
        pa.field("seams_vertical", pa.int32()),
        pa.field("seams_horizontal", pa.int32()),
        pa.field("crop_box", _CROP_BOX),
        pa.field("decode_ms", pa.float64()),
        pa.field("energy_ms", pa.float64()),
        pa.field("resize_ms", pa.float64()),
        pa.field("encode_ms", pa.float64()),
        pa.field("total_ms", pa.float64()),
        pa.field("library_version", pa.string()),
        pa.field("processed_at", pa.timestamp("us", tz="UTC")),
        pa.field("input_modified", pa.timestamp("us", tz="UTC")),
        pa.field("input_etag", pa.string()),
        pa.field("skip_reason", pa.string()),
    ],
    metadata={
        b"semantic_compress.schema_version": str(SCHEMA_VERSION).encode(),
        b"semantic_compress.doc": (b"One row per input image and run; see docs/pipeline.md, "
                                   b"The manifest."),
    },
)

#: Longest error message kept in a row (the dead-letter record keeps the full traceback).
MAX_ERROR_MESSAGE = 2000


#: Canonical JSON of the compress parameters (sorted keys, no spaces): stable across runs.
params_json = canonical_json


#: The schema of a part file: :data:`MANIFEST_SCHEMA` less ``run_id``, which is the Hive
#: partition key (``run_id=<id>/``) and lives in the folder name only. A file that held it too
#: made pyarrow's own discovery (``pq.read_table``, ``pd.read_parquet``) refuse the folder:
#: "Unable to merge: Field run_id has incompatible types: string vs dictionary".
PART_SCHEMA = MANIFEST_SCHEMA.remove(MANIFEST_SCHEMA.get_field_index("run_id"))


def run_partitioning():
    """The manifest's Hive partitioning for ``pyarrow.dataset``: ``run_id`` from the folder
    name, as text (a numeric run id such as ``20261205`` stays a string, whose inference would
    make an integer, and it matches the ``run_id`` column of parts from before version 4)."""
    import pyarrow.dataset as ds

    return ds.partitioning(pa.schema([MANIFEST_SCHEMA.field("run_id")]), flavor="hive")


def part_table(rows) -> pa.Table:
    """Manifest rows (dicts with every column) as the table a part file holds
    (:data:`PART_SCHEMA`: their ``run_id`` is the partition folder's name)."""
    return pa.Table.from_pylist(list(rows), schema=PART_SCHEMA)


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def library_version() -> Optional[str]:
    """The build of compress_core this job runs (every row's ``library_version``): its version
    and a fingerprint of its code and codec packages (:func:`compress_core.build_id`)."""
    try:
        from compress_core import build_id
    except Exception:  # pragma: no cover - compress_core always ships with the package
        return None
    return build_id()


def empty_row(run_id: str, input_uri: str, status: str, **common: Any) -> Dict[str, Any]:
    """A row with every column of :data:`MANIFEST_SCHEMA`, all ``None`` but the given ones.

    Parameters
    ----------
    run_id : str
        The run that wrote the row.
    input_uri : str
        The input image's URI.
    status : {"ok", "skipped", "error"}
        What happened to the input.
    **common
        Any other column (``method``, ``energy``, ``model``, ``params``, ``output_uri`` ...).

    Raises
    ------
    ValueError
        If ``status`` or a column name is unknown.
    """
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}; got {status!r}")
    row: Dict[str, Any] = dict.fromkeys(MANIFEST_SCHEMA.names)
    row.update(
        schema_version=SCHEMA_VERSION,
        run_id=run_id,
        input_uri=input_uri,
        status=status,
        library_version=library_version(),
        processed_at=_now(),
    )
    unknown = set(common) - set(row)
    if unknown:
        raise ValueError(f"unknown manifest columns: {sorted(unknown)}")
    row.update(common)
    return row


def _num(value, cast=float):
    if value is None:
        return None
    try:
        return cast(value)
    except (TypeError, ValueError):
        return None


def _crop_box(box) -> Optional[Dict[str, int]]:
    if box is None:
        return None
    left, top, right, bottom = (int(v) for v in box)
    return {"left": left, "top": top, "right": right, "bottom": bottom}


def ok_row(run_id: str, input_uri: str, output_uri: str, result, input_sha256: str,
           **common: Any) -> Dict[str, Any]:
    """The row of an image that was compressed and written.

    Parameters
    ----------
    run_id, input_uri, output_uri : str
        Where the row belongs, what was read and where the output now is.
    result : compress_core.CompressionResult
        The library's result (duck-typed: only its documented attributes are read).
    input_sha256 : str
        SHA-256 (hex) of the input bytes.
    **common
        ``method``, ``energy``, ``model``, ``params`` and any other column to set.
    """
    original_size = getattr(result, "original_size", None) or (None, None)
    size = getattr(result, "size", None) or (None, None)
    stats = getattr(result, "energy_stats", None) or {}
    seams = getattr(result, "seams", None) or {}
    operations = getattr(result, "operations", None) or {}
    timings = getattr(result, "timings", None) or {}
    original_bytes = _num(getattr(result, "original_bytes", None), int)
    compressed_bytes = _num(getattr(result, "compressed_bytes", None), int)
    ratio = _num(getattr(result, "compression_ratio", None))
    if ratio is None and original_bytes and compressed_bytes is not None:
        ratio = compressed_bytes / original_bytes
    row = empty_row(run_id, input_uri, STATUS_OK, **common)
    row.update(
        output_uri=output_uri,
        input_sha256=input_sha256,
        input_format=getattr(result, "input_format", None),
        input_width=_num(original_size[0], int),
        input_height=_num(original_size[1], int),
        input_bytes=original_bytes,
        output_format=getattr(result, "format", None),
        output_width=_num(size[0], int),
        output_height=_num(size[1], int),
        output_bytes=compressed_bytes,
        pixel_ratio=_num(getattr(result, "pixel_ratio", None)),
        byte_ratio=ratio,
        quality=_num(getattr(result, "quality", None), int),
        quality_score=_num((getattr(result, "operations", None) or {}).get("quality_score")),
        energy_mean=_num(stats.get("mean_energy")),
        energy_std=_num(stats.get("std_energy")),
        energy_p50=_num(stats.get("p50")),
        energy_p95=_num(stats.get("p95")),
        high_importance_ratio=_num(stats.get("high_importance_ratio")),
        retained_energy_ratio=_num(getattr(result, "retained_energy_ratio", None)),
        stretch=_num(getattr(result, "stretch", None)),
        faces=_num(operations.get("faces"), int),
        seams_vertical=_num(seams.get("vertical"), int),
        seams_horizontal=_num(seams.get("horizontal"), int),
        crop_box=_crop_box(getattr(result, "crop_box", None)),
        decode_ms=_num(timings.get("decode_ms")),
        energy_ms=_num(timings.get("energy_ms")),
        resize_ms=_num(timings.get("resize_ms")),
        encode_ms=_num(timings.get("encode_ms")),
        total_ms=_num(timings.get("total_ms")),
    )
    return row


def skipped_row(run_id: str, input_uri: str, output_uri: Optional[str],
                input_bytes: Optional[int] = None, output_bytes: Optional[int] = None,
                output_format: Optional[str] = None, skip_reason: Optional[str] = None,
                **common: Any) -> Dict[str, Any]:
    """The row of an input whose output already existed (``--skip_existing``): no work done
    (``skip_reason``: :data:`SKIP_UNRECORDED` where no earlier row named that output); or,
    :data:`SKIP_FAILED_BEFORE`, of an input whose earlier failure it would meet again (no
    output; ``error_type`` and ``error_message`` in ``common``, that failure's).
    ``byte_ratio`` is set where both sizes are known, as on an ``ok`` row."""
    input_bytes, output_bytes = _num(input_bytes, int), _num(output_bytes, int)
    return empty_row(
        run_id, input_uri, STATUS_SKIPPED, output_uri=output_uri,
        input_bytes=input_bytes, output_bytes=output_bytes,
        byte_ratio=output_bytes / input_bytes if input_bytes and output_bytes is not None
        else None,
        output_format=output_format, skip_reason=skip_reason, **common,
    )


def error_row(run_id: str, input_uri: str, error_type: str, error_message: str,
              **columns: Any) -> Dict[str, Any]:
    """The row of an input that failed; ``error_message`` is cut to :data:`MAX_ERROR_MESSAGE`."""
    message = str(error_message)
    if len(message) > MAX_ERROR_MESSAGE:
        message = message[: MAX_ERROR_MESSAGE - 3] + "..."
    return empty_row(run_id, input_uri, STATUS_ERROR, error_type=error_type,
                     error_message=message, **columns)


def conform_row(row: Mapping[str, Any]) -> Dict[str, Any]:
    """Check that ``row`` converts to :data:`MANIFEST_SCHEMA` and return it as a plain dict.

    Raises
    ------
    ValueError
        If a column is missing, unknown, or has a value of the wrong type.
    """
    names = MANIFEST_SCHEMA.names
    missing = [n for n in names if n not in row]
    unknown = [n for n in row if n not in names]
    if missing or unknown:
        raise ValueError(f"manifest row: missing columns {missing}, unknown columns {unknown}")
    try:
        pa.Table.from_pylist([dict(row)], schema=MANIFEST_SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
        raise ValueError(f"manifest row does not fit the schema: {exc}") from exc
    return dict(row)


def manifest_prefix(manifest_root: str, run_id: str) -> str:
    """The folder of one run's part files: ``<manifest_root>/run_id=<run_id>``."""
    return f"{manifest_root.rstrip('/')}/run_id={run_id}"


#: A part's name as the job writes it: its index, the number of parts its launch wrote, the
#: launch's tag (:mod:`transforms.files`).
_PART_NAME = re.compile(r"part-(\d+)-of-(\d+)-([0-9a-f]+)\.parquet")


def stopped_launches(names: Iterable[str]) -> Dict[str, Tuple[int, int]]:
    """``{launch tag: (parts there, parts it wrote)}`` of the launches whose parts among
    ``names`` (a run folder's files) are fewer than their names say
    (``part-SSSSS-of-NNNNN-<tag>.parquet``): a launch stopped while Beam moved its parts into
    place, one at a time (an object store copies each: 3 of 8 were there after a SIGKILL on
    S3, and the run read as finished with its rows partial; S3 review 49)."""
    found: Dict[str, set] = {}
    wrote: Dict[str, int] = {}
    for name in names:
        match = _PART_NAME.fullmatch(name.rstrip("/").rsplit("/", 1)[-1])
        if match:
            index, total, tag = int(match.group(1)), int(match.group(2)), match.group(3)
            found.setdefault(tag, set()).add(index)
            wrote[tag] = max(wrote.get(tag, 0), total)
    return {tag: (len(found[tag]), wrote[tag]) for tag in sorted(found)
            if len(found[tag]) < wrote[tag]}


def is_manifest_part(name: str) -> bool:
    """Whether a file name (a path's last part) is a manifest part as the job names them,
    ``part-SSSSS-of-NNNNN-<tag>.parquet``: other Parquet files in a run folder (a filtered
    export saved beside the parts) are not its rows (read as parts, they counted twice)."""
    base = name.rstrip("/").rsplit("/", 1)[-1]
    return base.startswith("part-") and base.endswith(".parquet")
