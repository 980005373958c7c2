"""Several manifest folders in one report (this week's ``--output`` and last week's): their runs
read into one table, each run labelled by its folder so that runs of one id in two folders
stay apart."""
from __future__ import annotations

import json
from typing import Dict, List, Optional, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from .reading import RUNS_METADATA, ManifestError, list_runs, load_manifest, runs_read

__all__ = ["folder_labels", "load_manifests"]


def _parts(uri: str) -> List[str]:
    """The path components of ``uri`` (protocol dropped) that name it, a trailing
    ``_manifest`` (the job's default folder inside ``--output``) left out."""
    path = uri.split("://", 1)[-1].rstrip("/")
    parts = [p for p in path.split("/") if p]
    if len(parts) > 1 and parts[-1] == "_manifest":
        parts = parts[:-1]
    return parts or [uri]


def folder_labels(uris: Sequence[str]) -> Dict[str, str]:
    """A short, distinct label per manifest folder: the fewest trailing path components that
    tell the folders apart (``a/out1/_manifest`` and ``b/out2/_manifest``: ``out1`` and
    ``out2``), the whole URI where none do."""
    parts = {u: _parts(u) for u in uris}
    longest = max(len(p) for p in parts.values())
    for k in range(1, longest + 1):
        labels = {u: "/".join(p[-k:]) for u, p in parts.items()}
        if len(set(labels.values())) == len(labels):
            return labels
    return {u: u for u in uris}


def load_manifests(uris: Sequence[str], runs: Optional[Sequence[str]] = None,
                   storage_options: Optional[Dict] = None,
                   columns: Optional[Sequence[str]] = None) -> pa.Table:
    """:func:`~pipeline.report.load_manifest` over several manifest folders.

    One folder reads as :func:`~pipeline.report.load_manifest` does (run ids as they are).
    With several, every ``run_id`` becomes ``<folder label>/<run id>`` (:func:`folder_labels`)
    and ``runs`` picks a run id in each folder that has it.

    Raises
    ------
    ManifestError
        If a folder is missing or holds no run, or a requested run is in none of them.
    """
    uris = list(dict.fromkeys(uris))
    if len(uris) == 1:
        return load_manifest(uris[0], runs, storage_options, columns)
    wanted = list(dict.fromkeys(runs or []))
    available = {u: list_runs(u, storage_options) for u in uris}
    unknown = [r for r in wanted if not any(r in found for found in available.values())]
    if unknown:
        listed = "; ".join(f"{u}: {', '.join(found) or 'none'}" for u, found in available.items())
        raise ManifestError(f"unknown run id(s) {', '.join(map(repr, unknown))} in "
                            f"{', '.join(uris)}; available runs: {listed}")
    labels = folder_labels(uris)
    tables, read = [], []
    for uri in uris:
        mine = [r for r in wanted if r in available[uri]]
        if wanted and not mine:
            continue
        table = load_manifest(uri, mine, storage_options, columns)
        label = labels[uri]
        index = table.schema.get_field_index("run_id")
        table = table.set_column(index, "run_id",
                                 pc.binary_join_element_wise(label, table["run_id"], "/"))
        read += [f"{label}/{run}" for run in runs_read(table)]
        tables.append(table.replace_schema_metadata(None))
    table = pa.concat_tables(tables)
    return table.replace_schema_metadata({RUNS_METADATA: json.dumps(read)})
