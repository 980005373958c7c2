"""Several manifest folders in one report (this week's ``--output`` and last week's): their runs
read into one table, each run labelled by its folder so that runs of one id in two folders
stay apart."""
from __future__ import annotations

import json
import os
from typing import Dict, List, Optional, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from compress_core.storage import folder_uri, store_protocol

from .reading import (PARTS_LEFT_OUT_METADATA, RUNS_METADATA, RUNS_WITHOUT_PARTS_METADATA,
                      load_manifest, parts_left_out, runs_and_stopped, runs_read,
                      runs_without_parts, table_metadata, unknown_runs)

__all__ = ["distinct_folders", "folder_labels", "load_manifests", "folders_read",
           "folders_skipped", "FOLDERS_METADATA", "SKIPPED_METADATA"]

#: Schema metadata of :func:`load_manifests`'s table: ``{label: URI}`` of the folders read,
#: and the URIs of those left out (none of the runs asked for).
FOLDERS_METADATA = b"semantic_compress.folders"
SKIPPED_METADATA = b"semantic_compress.folders_skipped"


def distinct_folders(uris: Sequence[str]) -> List[str]:
    """``uris`` with each folder once, as first spelled: spellings of one folder
    (``out/_manifest``, ``out/_manifest/``, ``./out/_manifest``, its absolute path,
    ``file://`` ...; ``s3a://`` and ``s3://``) are one folder
    (:func:`compress_core.storage.folder_uri`), read once."""
    seen: Dict[str, str] = {}
    for uri in uris:
        seen.setdefault(folder_uri(uri), os.fspath(uri))
    return list(seen.values())


def _parts(uri: str) -> List[str]:
    """The path components of ``uri`` (normalised: :func:`~compress_core.storage.folder_uri`,
    protocol dropped) that name it, a trailing ``_manifest`` (the job's default folder inside
    ``--output``) left out."""
    path = folder_uri(uri).split("://", 1)[-1]
    parts = [p for p in path.split("/") if p]
    if len(parts) > 1 and parts[-1] == "_manifest":
        parts = parts[:-1]
    return parts or [uri]


def _shortest(names: Dict[str, List[str]], prefix: Dict[str, str]) -> Optional[Dict[str, str]]:
    """``prefix + the fewest trailing components`` that tell ``names`` apart, or None."""
    for k in range(1, max(len(p) for p in names.values()) + 1):
        labels = {u: prefix[u] + "/".join(p[-k:]) for u, p in names.items()}
        if len(set(labels.values())) == len(labels):
            return labels
    return None


def folder_labels(uris: Sequence[str]) -> Dict[str, str]:
    """A short, distinct label per manifest folder (give each folder once:
    :func:`distinct_folders`): the fewest trailing path components that tell the folders apart
    (``a/out1/_manifest`` and ``b/out2/_manifest``: ``out1`` and ``out2``; ``./`` and ``..``
    resolved first). Where only the file system does (``s3://b/out`` and ``gs://b/out``), the
    protocol goes first: ``s3:out`` and ``gs:out`` (``file:`` for a local folder); the whole
    URI where nothing does."""
    parts = {u: _parts(u) for u in uris}
    labels = _shortest(parts, {u: "" for u in uris})
    if labels is None:
        labels = _shortest(parts, {u: f"{store_protocol(u) or 'file'}:" for u in uris})
    return labels or {u: u for u in uris}


def folders_read(table: pa.Table) -> Dict[str, str]:
    """``{label: URI}`` of the folders :func:`load_manifests` read into ``table`` (several),
    or ``{}``."""
    return dict(table_metadata(table, FOLDERS_METADATA, {}))


def folders_skipped(table: pa.Table) -> List[str]:
    """The folders :func:`load_manifests` did not read into ``table``: none of the runs asked
    for is in them."""
    return list(table_metadata(table, SKIPPED_METADATA, []))


def _pick(run: str, available: Dict[str, list], labels: Dict[str, str]):
    """``(folder, run id)`` that ``--run run`` names: ``(None, run)`` for a run id of some
    folder (each folder that has it), ``(folder, id)`` for a run as the report labels it,
    ``<folder label>/<run id>`` (a run of one id in two folders: the report named it so and
    refused that name; edge review 36); ``(None, None)`` for neither."""
    if any(run in found for found in available.values()):
        return None, run
    label, _, run_id = run.rpartition("/")
    for uri, mine in labels.items():
        if mine == label and run_id in available[uri]:
            return uri, run_id
    return None, None


def load_manifests(uris: Sequence[str], runs: Optional[Sequence[str]] = None,
                   storage_options: Optional[Dict] = None,
                   columns: Optional[Sequence[str]] = None) -> pa.Table:
    """:func:`~pipeline.report.load_manifest` over several manifest folders.

    Each folder is read once, however often and however spelled ``uris`` names it
    (:func:`distinct_folders`). One folder reads as :func:`~pipeline.report.load_manifest`
    does (run ids as they are). With several, every ``run_id`` becomes
    ``<folder label>/<run id>`` (:func:`folder_labels`) and ``runs`` picks a run id in each
    folder that has it, or, so labelled, the run of one folder; the folders read and those
    without any of ``runs`` are in the table's metadata (:func:`folders_read`,
    :func:`folders_skipped`).

    Raises
    ------
    ManifestError
        If a folder is missing or holds no run, or a requested run is in none of them.
    """
    uris = distinct_folders(uris)
    if len(uris) == 1:
        return load_manifest(uris[0], runs, storage_options, columns)
    wanted = list(dict.fromkeys(runs or []))
    listed = {u: runs_and_stopped(u, storage_options) for u in uris}
    available = {u: runs for u, (runs, _) in listed.items()}
    labels = folder_labels(uris)
    picks = [_pick(r, available, labels) for r in wanted]
    unknown = [r for r, (_, run) in zip(wanted, picks) if run is None]
    if unknown:
        # (what became of a run stopped while its manifest was written, as for one folder)
        stopped = {run: left for _, (_, stops) in listed.items() for run, left in stops.items()}
        raise unknown_runs(unknown, ", ".join(uris), "; ".join(
            f"{u}: {', '.join(found) or 'none'}" for u, found in available.items()), stopped)
    tables, read, folders, skipped, left_out, partless = [], [], {}, [], [], []
    for uri in uris:
        mine = list(dict.fromkeys(run for folder, run in picks
                                  if folder == uri or (folder is None
                                                       and run in available[uri])))
        if wanted and not mine:
            skipped.append(uri)
            continue
        table = load_manifest(uri, mine, storage_options, columns)
        label = labels[uri]
        index = table.schema.get_field_index("run_id")
        table = table.set_column(index, "run_id",
                                 pc.binary_join_element_wise(label, table["run_id"], "/"))
        read += [f"{label}/{run}" for run in runs_read(table)]
        left_out += parts_left_out(table)
        partless += [f"{label}/{run}" for run in runs_without_parts(table)]
        folders[label] = uri
        tables.append(table.replace_schema_metadata(None))
    table = pa.concat_tables(tables)
    return table.replace_schema_metadata({RUNS_METADATA: json.dumps(read),
                                          FOLDERS_METADATA: json.dumps(folders),
                                          SKIPPED_METADATA: json.dumps(skipped),
                                          PARTS_LEFT_OUT_METADATA: json.dumps(left_out),
                                          RUNS_WITHOUT_PARTS_METADATA: json.dumps(partless)})
