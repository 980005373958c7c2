"""Helpers for end-to-end runs of the batch job."""
from __future__ import annotations

import pytest


@pytest.fixture
def run_job():
    """``run_job(argv) -> (result, summary)``: run ``pipeline.main.run`` and read its metrics."""
    from pipeline.main import run, summarize_metrics
    from pipeline.options import parse_args

    def _run(argv):
        result = run(list(argv), save_main_session=False)
        job, _ = parse_args(list(argv))
        return result, summarize_metrics(result, job)

    return _run


@pytest.fixture
def read_manifest():
    """``read_manifest(root, storage_options=None, run_id=None) -> list of dict``.

    Reads the Hive-partitioned manifest with pyarrow.dataset over fsspec, as an analyst would.
    """
    import pyarrow.dataset as ds

    from transforms.io import get_filesystem

    def _read(root, storage_options=None, run_id=None):
        fs, path = get_filesystem(root, storage_options)
        fs.invalidate_cache()
        dataset = ds.dataset(path, filesystem=fs, format="parquet", partitioning="hive")
        table = dataset.to_table(filter=(ds.field("run_id") == run_id) if run_id else None)
        return sorted(table.to_pylist(), key=lambda r: (r["run_id"], r["input_uri"]))

    return _read
