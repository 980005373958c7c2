"""Reading the manifests: run partitions and the report's columns, with pyarrow.dataset.

``run_id`` comes from each part's folder name (``run_id=<id>/``, the Hive partition key); parts
written before manifest schema 4 also hold it as a column, with the same value, and read alike.
No Beam import: the schema comes from :mod:`transforms.manifest` (pyarrow only).
"""
from __future__ import annotations

import json
import logging
import os
import posixpath
import re
from typing import Dict, List, Optional, Sequence, Tuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from compress_core.errors import exception_line
from compress_core.storage import for_terminal
from transforms.manifest import (RUN_ID, MANIFEST_SCHEMA, is_manifest_part, run_partitioning,
                                 stopped_launches)

_LOG = logging.getLogger("pipeline.report")

__all__ = ["ManifestError", "COLUMNS", "RUNS_METADATA", "PARTS_LEFT_OUT_METADATA",
           "RUNS_WITHOUT_PARTS_METADATA", "list_runs", "runs_and_stopped", "unknown_runs",
           "load_manifest", "runs_read", "parts_left_out", "runs_without_parts"]

#: Manifest columns the report reads (the rest are never loaded).
COLUMNS = [
    "schema_version", "run_id", "input_uri", "status", "error_type", "error_message",
    "input_bytes", "output_bytes", "pixel_ratio", "byte_ratio", "method", "energy", "model",
    "energy_mean", "retained_energy_ratio", "decode_ms", "energy_ms", "resize_ms", "encode_ms",
    "total_ms", "processed_at", "quality", "quality_score", "stretch", "faces", "output_uri",
    "params", "output_format", "skip_reason",
]

#: Schema metadata key of the tables :func:`load_manifest` returns: the JSON list of the runs
#: read (runs without rows included).
RUNS_METADATA = b"semantic_compress.runs"
#: ... and the JSON list of the parts that could not be read (:func:`parts_left_out`).
PARTS_LEFT_OUT_METADATA = b"semantic_compress.parts_left_out"
#: ... and of the runs whose folders hold no part (:func:`runs_without_parts`).
RUNS_WITHOUT_PARTS_METADATA = b"semantic_compress.runs_without_parts"


class ManifestError(Exception):
    """The manifest folder or a requested run is missing (the command exits with status 2)."""


def _filesystem(uri: str, storage_options: Optional[Dict] = None):
    from fsspec.implementations.local import LocalFileSystem

    from compress_core.storage import get_filesystem

    fs, path = get_filesystem(uri, storage_options)
    try:
        fs.invalidate_cache()
    except Exception:  # pragma: no cover - not every file system caches
        pass
    return fs, path.rstrip("/") or path, isinstance(fs, LocalFileSystem)


def list_runs(uri: str, storage_options: Optional[Dict] = None) -> List[str]:
    """The run ids with a partition (``run_id=<id>/``) under the manifest folder ``uri``.

    Raises
    ------
    ManifestError
        If ``uri`` is not an existing folder.
    """
    return runs_and_stopped(uri, storage_options)[0]


def runs_and_stopped(uri: str, storage_options: Optional[Dict] = None
                     ) -> Tuple[List[str], Dict[str, str]]:
    """:func:`list_runs` of ``uri``, and ``{run id: leftover}`` of the runs stopped there while
    their manifest was written (none of its runs), from one listing."""
    fs, path, _ = _filesystem(uri, storage_options)
    entries = _entries(fs, path, uri)
    runs = _runs(entries)
    return runs, {run: left for run, left in _stopped_runs(entries).items() if run not in runs}


def unknown_runs(unknown: Sequence[str], where: str, available: str,
                 stopped: Dict[str, str]) -> ManifestError:
    """The error for run ids asked for that ``where`` lacks: the ``available`` runs, and what
    became of a run stopped while its manifest was written (``stopped``: its leftover)."""
    said = [f"{run} stopped while writing its manifest ({stopped[run]}: its rows were never "
            "written)" for run in unknown if run in stopped]
    return ManifestError(f"unknown run id(s) {', '.join(map(repr, unknown))} in {where}; "
                         f"available runs: {available}" + (f"; {'; '.join(said)}" if said else ""))


def _entries(fs, path: str, uri: str) -> List[str]:
    """The names in the manifest folder ``path`` (``uri`` as given), folders with a trailing
    ``/``; a ManifestError where it is not a folder or cannot be asked."""
    try:   # (isdir says False of a store it cannot reach: "not found" of a folder that is there)
        info = fs.info(path)
    except (FileNotFoundError, NotADirectoryError):   # (nothing there; below a file)
        info = None
    except Exception as exc:  # noqa: BLE001 - unreachable, refused, no credentials: said
        raise ManifestError(f"manifest folder {uri} cannot be read: "
                            f"{for_terminal(exception_line(exc, 300))}") from None
    if (info is None or info.get("type") != "directory") and not fs.isdir(path):
        raise ManifestError(f"manifest folder not found: {uri}{_what_exists(fs, path)}")
    return [posixpath.basename(entry["name"].rstrip("/"))
            + ("/" if entry.get("type") == "directory" else "")
            for entry in fs.ls(path, detail=True)]


def _runs(entries: Sequence[str]) -> List[str]:
    """The run ids of a manifest folder's ``entries`` (:func:`_entries`): folders
    ``run_id=<id>/`` of an id the job takes (:data:`~transforms.manifest.RUN_ID`). Another
    one (``run_id=r1 copy/``, what a file manager's copy of a run is named) is no run: named
    in a warning, not read (operator review 39: its rows counted twice)."""
    runs = []
    for name in entries:
        if name.startswith("run_id=") and name.endswith("/"):
            run = name[len("run_id="):-1]
            if RUN_ID.fullmatch(run):
                runs.append(run)
            else:
                _LOG.warning("%s is not a run folder the job writes (run ids hold letters, "
                             "digits, '.', '_' and '-'; a copy?): not read", name.rstrip("/"))
    return sorted(runs)


#: What a run stopped while Beam wrote its manifest leaves in the manifest folder.
_STOPPED = re.compile(r"_beam_temp-run_id=(.+)-[0-9a-f]{6,}/?")


def _stopped_runs(entries: Sequence[str]) -> Dict[str, str]:
    """``{run id: leftover}`` of the runs stopped while their manifest was written
    (``_beam_temp-run_id=<id>-<hex>/`` among ``entries``; second diff review 38: beside other
    runs they went unnamed, and ``--run <id>`` said "unknown run id" alone)."""
    found = {}
    for name in sorted(entries):
        match = _STOPPED.fullmatch(name)
        if match:
            found.setdefault(match.group(1), name.rstrip("/"))
    return found


def _what_exists(fs, path: str) -> str:
    """A hint for a manifest folder that is not there: the nearest folder above it that
    exists, and the manifest folders in it (``_manifest``, or a job output's: the first 50
    entries are asked), else nothing."""
    try:
        if fs.exists(path):  # a file (fs.isdir said no)
            return f" ({_shown(fs, path)} is a file, not a folder)"
    except Exception:  # noqa: BLE001 - a store that cannot be asked: no hint
        return ""
    missing = posixpath.basename(path)
    parent = posixpath.dirname(path)
    while parent and parent != path:
        try:
            if fs.isdir(parent):
                break
            if fs.exists(parent):   # below a file
                return f" ({_shown(fs, parent)} is a file, not a folder)"
        except Exception:  # noqa: BLE001 - a store that cannot be asked: no hint
            return ""
        path, missing, parent = parent, posixpath.basename(parent), posixpath.dirname(parent)
    else:
        return ""
    try:
        below = sorted(posixpath.basename(e.rstrip("/")) for e in fs.ls(parent, detail=False))
    except Exception:  # noqa: BLE001
        return ""
    manifests = [n if n == "_manifest" else f"{n}/_manifest" for n in below[:50]  # (asks)
                 if n == "_manifest" or fs.isdir(f"{parent}/{n}/_manifest")]
    found = (f"; manifest folders there: {', '.join(manifests[:5])}" if manifests else
             "; no manifest folder in it" if below else "; it is empty")
    return f" ({_shown(fs, parent)} exists, {missing} not there{found})"


def _shown(fs, path: str) -> str:
    """``path`` of ``fs`` as the user spells a URI: with its protocol on a store
    (``memory://bucket``, not ``/bucket``), as it is on the local disk."""
    from fsspec.implementations.local import LocalFileSystem

    return path if isinstance(fs, LocalFileSystem) else fs.unstrip_protocol(path)


def _where_the_runs_are(uri: str, fs, path: str, entries: Sequence[str]) -> str:
    """A hint for a folder that is not the manifest folder: the job's output folder (its
    manifest is ``_manifest/`` in it), one run's partition (its parent is), or a folder that
    holds only what a run stopped while writing its manifest left."""
    name = posixpath.basename(path)
    if name.startswith("run_id="):
        parent = uri.rstrip("/").rsplit("/", 1)[0]
        return f"; {name} is a run of the manifest folder {parent} (add --run {name[7:]})"
    if fs.isdir(f"{path}/_manifest"):
        return f"; this looks like the job's --output: its manifest is {uri.rstrip('/')}/_manifest"
    stopped = sorted(_stopped_runs(entries).values())
    if stopped:   # (manifest review 38: a run killed while its manifest was written)
        return (f"; {stopped[0]} is what a run stopped while writing its manifest leaves: "
                "its rows were never written (a --skip_existing rerun adopts its outputs)")
    return ""


def load_manifest(uri: str, runs: Optional[Sequence[str]] = None,
                  storage_options: Optional[Dict] = None,
                  columns: Optional[Sequence[str]] = None) -> pa.Table:
    """Read the report's columns of a manifest (every run, or ``runs``) with pyarrow.dataset.

    Parameters
    ----------
    uri : str
        The manifest folder (any fsspec URI).
    runs : sequence of str, optional
        Run ids to keep; all runs when empty or None.
    storage_options : dict, optional
        ``{protocol: {fsspec kwarg: value}}`` as for the pipeline's ``--storage_options``.
    columns : sequence of str, optional
        Manifest columns to read (default :data:`COLUMNS`).

    Returns
    -------
    pyarrow.Table
        Those columns (missing ones in older files read as nulls); its schema metadata lists
        the runs read, those without rows too (:func:`runs_read`).

    Raises
    ------
    ManifestError
        If the folder is missing, holds no run, or a requested run is not in it (the message
        lists the available runs).
    """
    fs, path, local = _filesystem(uri, storage_options)
    entries = _entries(fs, path, uri)   # (listed once: the runs and any stopped run's leftover)
    available = _runs(entries)
    if not available:
        raise ManifestError(f"no runs in manifest folder {uri} (expected run_id=<id>/ folders)"
                            + _where_the_runs_are(uri, fs, path, entries))
    wanted = list(dict.fromkeys(runs or []))
    unknown = [r for r in wanted if r not in available]
    stopped = {run: left for run, left in _stopped_runs(entries).items()
               if run not in available}
    if unknown:
        raise unknown_runs(unknown, uri, ", ".join(available), stopped)
    files = _part_files(fs, path, wanted or available)
    hint = "" if files else _no_parts_hint(fs, path, wanted or available)
    if hint:   # the dead letters given for the manifest (four runs of 0 images, exit 0)
        raise ManifestError(f"no manifest parts (*.parquet) in the run folders of {uri}{hint}")
    # every run the job writes has a part (an empty run a schema-only one): a run folder
    # without one is a run stopped while writing it, or one whose parts were removed; it is
    # named (runs_without_parts), not shown as a run of no images alone
    held = {posixpath.relpath(name, path).split("/", 1)[0] for name in files}
    partless = [run for run in wanted or available if f"run_id={run}" not in held]
    for run in partless:
        _LOG.warning("run %s of %s has no manifest part (*.parquet): nothing of it is read",
                     run, uri)
    if not wanted:   # (a run stopped before its run folder was made: named too)
        partless += sorted(stopped)
    if local:  # pyarrow's own local file system reads faster than through fsspec
        import pyarrow.fs as pafs

        fs, path = pafs.LocalFileSystem(), os.path.abspath(path)
    columns = list(columns or COLUMNS)
    if "run_id" not in columns:
        columns.append("run_id")
    schema = pa.schema([MANIFEST_SCHEMA.field(c) for c in columns])
    partitioning = run_partitioning()   # run_id from the folder (parts of schema >= 4 lack it)
    dataset = ds.dataset(files, filesystem=fs, format="parquet", partitioning=partitioning,
                         partition_base_dir=path, schema=schema)
    flt = ds.field("run_id").isin(wanted) if wanted else None
    try:
        table = dataset.to_table(columns=columns, filter=flt)
    except (pa.ArrowInvalid, OSError):  # a part that cannot be read: read the others
        readable = _readable(files, fs, schema, columns)
        left_out = [name for name in files if name not in set(readable)]
        dataset = ds.dataset(readable, filesystem=fs, format="parquet",
                             partitioning=partitioning, partition_base_dir=path, schema=schema)
        table = dataset.to_table(columns=columns, filter=flt)
    else:
        left_out = []
    if "status" in columns and table.column("status").null_count:
        # (every row the job writes has a status: a Parquet file of another schema named like
        # a part read as rows of nulls, a run of images of no status; job review 47)
        foreign = [fragment.path for fragment in dataset.get_fragments()
                   if "status" not in fragment.physical_schema.names]
        if foreign:
            for name in foreign:
                _LOG.warning("manifest part %s holds no status column (not a part the job "
                             "wrote), left out of the report", name)
            left_out += foreign
            # (their rows are those of no status: filtered out of what was read, not read
            # again, which had doubled the report's time while such a file stayed; diff
            # review 47)
            table = table.filter(pc.is_valid(table.column("status")))
    # the runs read, rows or not: a run that matched nothing has none, and is still a run
    return table.replace_schema_metadata({**(table.schema.metadata or {}),
                                          RUNS_METADATA: json.dumps(wanted or available),
                                          PARTS_LEFT_OUT_METADATA: json.dumps(left_out),
                                          RUNS_WITHOUT_PARTS_METADATA: json.dumps(partless)})


def _no_parts_hint(fs, path: str, runs: Sequence[str]) -> str:
    """Why run folders hold no part: a dead-letter folder (JSON lines, beside the manifest
    folder) given for the manifest (manifest review 38: its four runs reported as 0 images,
    exit 0), else nothing."""
    for run in runs:   # (the first run folder holding files says what they are)
        try:
            found = fs.find(f"{path}/run_id={run}")
        except Exception:  # noqa: BLE001 - a hint only
            return ""
        if found:
            if any(name.endswith((".jsonl", ".json")) for name in found):
                return (" (JSON files: this looks like the job's dead letters; the manifest "
                        "is the _manifest folder beside it)")
            return ""
    return ""


def _part_files(fs, path: str, runs: Sequence[str]) -> List[str]:
    """The Parquet parts of ``runs`` under the manifest folder ``path``: the job's
    ``part-*.parquet`` files of ``run_id=<id>/``, those in hidden folders (``.x``, ``_x``)
    left out. Anything else a folder holds (a README, a copy tool's ``part-0.parquet.tmp``)
    is not a part: read as Parquet, it stopped the report with a traceback; another Parquet
    file (a filtered export saved beside the parts) is named in a warning, not read (manifest
    review 38: its rows counted twice)."""
    files, foreign = [], []
    for run in runs:
        folder = f"{path}/run_id={run}"
        mine = []
        for found in fs.find(folder):
            rel = posixpath.relpath(found, folder)
            if any(part.startswith((".", "_")) for part in rel.split("/")):
                continue
            if is_manifest_part(rel):
                mine.append(found)
            elif rel.endswith(".parquet"):
                foreign.append(found)
        for tag, (there, wrote) in stopped_launches(mine).items():
            # (read as a whole run, its figures partial: S3 review 49)
            _LOG.warning("run %s of %s: %d of the %d manifest parts of its launch %s are there "
                         "(stopped while writing them): its figures are partial; a retry under "
                         "its --run_id writes them whole", run, path, there, wrote, tag)
        files += mine
    for name in sorted(foreign):
        _LOG.warning("%s is not a manifest part (the job writes part-*.parquet): not read",
                     name)
    return sorted(files)


def _readable(files: Sequence[str], fs, schema: pa.Schema, columns: Sequence[str]) -> List[str]:
    """``files`` less those whose ``columns`` cannot be read (a zero-byte part left by an
    interrupted copy or a full disk, a part with corrupt pages: they stopped the report with
    pyarrow's traceback; the job itself reads past such a part), each named in a warning.
    Each part is read whole here: only after the whole manifest failed to read."""
    kept = []
    for name in files:
        try:
            ds.dataset([name], filesystem=fs, format="parquet", schema=schema).to_table(
                columns=[c for c in columns if c != "run_id"])
        except (pa.ArrowInvalid, OSError) as exc:
            _LOG.warning("manifest part %s cannot be read, left out of the report (%s)", name,
                         exc)
        else:
            kept.append(name)
    return kept


def table_metadata(table: pa.Table, key: bytes, default):
    """The JSON value the report's readers stored under ``key`` in ``table``'s schema
    metadata, or ``default``."""
    raw = (table.schema.metadata or {}).get(key)
    return json.loads(raw) if raw else default


def parts_left_out(table: pa.Table) -> List[str]:
    """The manifest parts :func:`load_manifest` could not read (cut short, corrupt) and left
    out of ``table``: the report names them (a warning on stderr alone had shown a run of
    five images as a run of none, manifest review 38)."""
    return list(table_metadata(table, PARTS_LEFT_OUT_METADATA, []))


def runs_without_parts(table: pa.Table) -> List[str]:
    """The runs :func:`load_manifest` found with no part in their folders (a run stopped while
    writing its manifest, or its parts removed): named by the report (a stderr warning alone
    had let such a run pass as a run of no images, diff review 38)."""
    return list(table_metadata(table, RUNS_WITHOUT_PARTS_METADATA, []))


def runs_read(table: pa.Table) -> List[str]:
    """The runs :func:`load_manifest` read into ``table`` (with no rows too), or ``[]`` for a
    table that did not come from it."""
    return list(table_metadata(table, RUNS_METADATA, []))
