"""Writing the manifest in the job: rows -> ``<root>/run_id=<id>/part-SSSSS-of-NNNNN-<tag>.parquet``.

:class:`WriteManifest` is :class:`~transforms.files.WriteFiles` (Beam's ``fileio.WriteToFiles``)
with :class:`ManifestSink`, a Parquet ``fileio.FileSink``; the schema and the rows are in
:mod:`transforms.manifest`.
"""
from __future__ import annotations

import posixpath
from typing import List, Mapping, Optional, Tuple

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes

from compress_core.storage import fresh_listing

from .files import WriteFiles, new_tag, remove_folder, remove_stopped_files, temp_folder
from .manifest import PART_SCHEMA, manifest_prefix, part_table, stopped_launches

__all__ = ["ManifestSink", "WriteManifest", "stopped_parts", "clear_stopped_parts"]


class ManifestSink(fileio.FileSink):
    """Manifest rows (dicts) -> one Parquet file with :data:`~transforms.manifest.PART_SCHEMA`
    (every column but ``run_id``, which the partition folder's name holds).

    A :class:`apache_beam.io.fileio.FileSink` for ``fileio.WriteToFiles``: rows are buffered
    and written as row groups of :attr:`ROW_GROUP_ROWS`; ``flush()`` writes the rest and the
    Parquet footer (Beam calls it once, just before closing the file).
    """

    ROW_GROUP_ROWS = 10_000

    def create_metadata(self, destination, full_file_name):
        return fileio.FileMetadata(mime_type="application/vnd.apache.parquet",
                                   compression_type=CompressionTypes.UNCOMPRESSED)

    def open(self, fh):
        self._fh = fh
        self._writer = pq.ParquetWriter(fh, PART_SCHEMA, compression="snappy",
                                        use_compliant_nested_type=True)
        self._rows = []

    def write(self, record):
        self._rows.append(record)
        if len(self._rows) >= self.ROW_GROUP_ROWS:
            self._write_rows()

    def flush(self):
        self._write_rows()
        self._writer.close()   # the footer; the file handle is Beam's to close
        self._fh.flush()

    def _write_rows(self):
        if self._rows:
            self._writer.write_table(part_table(self._rows))
            self._rows = []


def _empty_part_if_none(part_count: int, prefix: str, temp_dir: str, tag: str) -> int:
    """The schema-only part of a run without rows (so that every run is visible to readers),
    written in ``temp_dir`` and renamed into the partition."""
    from apache_beam.io.filesystems import FileSystems

    if part_count:
        return part_count
    temp = FileSystems.join(temp_dir, "empty-part.parquet")
    with FileSystems.create(temp, mime_type="application/vnd.apache.parquet",
                            compression_type=CompressionTypes.UNCOMPRESSED) as fh:
        pq.write_table(PART_SCHEMA.empty_table(), fh, compression="snappy",
                       use_compliant_nested_type=True)
    try:
        FileSystems.mkdirs(prefix)   # local disks: the folder the part is renamed into
    except IOError:
        pass   # exists already, or a store without folders
    FileSystems.rename([temp], [FileSystems.join(prefix, f"part-00000-of-00001-{tag}.parquet")])
    remove_folder(temp_dir)
    return 1


class WriteManifest(beam.PTransform):
    """Write manifest rows to ``<root>/run_id=<id>/part-SSSSS-of-NNNNN-<tag>.parquet``.

    :class:`~transforms.files.WriteFiles` (Beam's ``fileio.WriteToFiles``) with
    :class:`ManifestSink`: parts are written to a hidden ``<root>/_beam_temp-run_id=<id>-<uuid>/``
    folder, renamed into the partition when complete (a part appears complete or not at all; a
    failed run leaves nothing in its partition), and the folder is removed at the end. A run
    with no rows still writes one part (the schema alone), so every run is visible to readers.

    Parameters
    ----------
    manifest_root : str
        The manifest folder (any scheme Beam's FileSystems know: local, gs://, s3://, ...).
    run_id : str
        The run's partition value.
    num_shards : int
        At most this many part files (0: one per bundle, as the runner splits the work).

    Returns
    -------
    PCollection of int
        One element, the number of parts written, once the run's manifest is complete.
    """

    def __init__(self, manifest_root: str, run_id: str, num_shards: int = 0):
        super().__init__()
        root = manifest_root.rstrip("/")
        self._prefix = manifest_prefix(root, run_id)
        self._root = root
        self._run_id = run_id
        self._num_shards = int(num_shards)

    def expand(self, rows):
        tag = new_tag()   # one launch's parts: another job under this run id keeps its own
        parts = rows | "WriteParts" >> WriteFiles(
            self._prefix, temp_folder(self._root, self._run_id), "part", ".parquet",
            sink=ManifestSink, shards=self._num_shards, tag=tag)
        return parts | "EmptyRun" >> beam.Map(
            _empty_part_if_none, self._prefix, temp_folder(self._root, self._run_id), tag)


def stopped_parts(prefix: str, storage_options: Optional[Mapping] = None
                  ) -> Tuple[List[str], List[str]]:
    """``(parts of stopped launches, every file)`` in a run's manifest folder ``prefix``,
    listed afresh: the parts of launches stopped while Beam moved their parts into place
    (:func:`stopped_launch_parts`). Raises ``FileNotFoundError`` where there is no such
    folder, and what the store raises."""
    names = fresh_listing(prefix.rstrip("/"), storage_options)
    return stopped_launch_parts(names), names


def stopped_launch_parts(names: List[str]) -> List[str]:
    """Those of a manifest folder's file ``names`` written by launches stopped while Beam
    moved their parts into place (:func:`~transforms.manifest.stopped_launches`; on an object
    store one copy each, so a SIGTERM or SIGKILL there left 2-3 of 8)."""
    stopped = stopped_launches(names)
    return [name for name in names
            if any(posixpath.basename(name).endswith(f"-{tag}.parquet") for tag in stopped)]


def clear_stopped_parts(prefix: str, storage_options: Optional[Mapping] = None) -> int:
    """Remove the parts a stopped launch left in a run's manifest folder ``prefix`` (a retry
    under its ``--run_id`` writes every row again: kept, its rows would count twice); how many
    were removed. Best effort (:func:`~transforms.files.remove_stopped_files`)."""
    return remove_stopped_files(prefix, stopped_launch_parts, "manifest parts",
                                storage_options)
