"""A run id names one run: refuse to start a run whose id already has a manifest or dead letters.

Parts are named ``part-SSSSS-of-NNNNN.parquet`` in ``<manifest>/run_id=<id>/``: a second run
under the same ``--run_id`` would add its parts beside the first run's (one run of mixed rows
in every report), or, with as many parts, replace them (the first run's rows lost). A fresh id
(the default) never collides; an explicit ``--run_id`` can.
"""
from __future__ import annotations

import logging
from typing import Dict, List, Optional

from compress_core.storage import get_filesystem
from transforms.manifest import manifest_prefix

__all__ = ["earlier_run_folders", "reused_run_id_problem"]

_LOG = logging.getLogger(__name__)


def earlier_run_folders(manifest: str, dead_letters: str, run_id: str,
                        storage_options: Optional[Dict] = None) -> List[str]:
    """The run's manifest partition and dead-letter folder that exist already (none for a new
    run). A store that cannot be asked (no credentials at launch, no fsspec driver) counts as
    empty: the run starts, as it did without this check."""
    found = []
    for folder in (manifest_prefix(manifest, run_id), dead_letters):
        try:
            fs, path = get_filesystem(folder, storage_options)
            try:
                fs.invalidate_cache(path)
            except Exception:  # noqa: BLE001 - cache invalidation is best effort
                pass
            if fs.exists(path):
                found.append(folder)
        except Exception as exc:  # noqa: BLE001 - see the docstring
            _LOG.debug("cannot check whether %s exists: %s", folder, exc)
    return found


def reused_run_id_problem(manifest: str, dead_letters: str, run_id: str,
                          storage_options: Optional[Dict] = None) -> Optional[str]:
    """Why the run cannot start under ``run_id`` (one line naming ``--run_id``), or None."""
    found = earlier_run_folders(manifest, dead_letters, run_id, storage_options)
    if not found:
        return None
    return (f"--run_id {run_id!r}: an earlier run has this id ({found[0]} exists); give "
            "another --run_id, or none for a fresh one")
