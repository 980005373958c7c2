"""transforms/manifest_writer.py: WriteManifest writes parts (at most N), a schema-only part for a
run without rows, and nothing else."""
import os
import re

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline

from transforms import manifest
from transforms.manifest_writer import WriteManifest


def _write(root, rows, shards=0):
    with BeamTestPipeline(runner="FnApiRunner") as p:
        _ = p | beam.Create(rows) | WriteManifest(str(root), "r", num_shards=shards)


def _tree(root):
    return sorted(os.path.relpath(os.path.join(d, f), root)
                  for d, _, fs in os.walk(root) for f in fs)


def test_write_manifest_parts_and_nothing_else(tmp_path):
    rows = [manifest.error_row("r", f"in/{i}.jpg", "ImageDecodeError", "bad") for i in range(25)]
    _write(tmp_path / "m", rows, shards=3)
    parts = _tree(tmp_path / "m")
    assert 1 <= len(parts) <= 3 and all(
        re.fullmatch(rf"run_id=r/part-0000\d-of-0000{len(parts)}-[0-9a-f]{{8}}\.parquet", f)
        for f in parts)
    tables = [pq.read_table(tmp_path / "m" / f, partitioning=None) for f in parts]
    assert all(t.schema.equals(manifest.PART_SCHEMA) for t in tables)   # run_id: the folder's
    uris = [u for t in tables for u in t.column("input_uri").to_pylist()]
    assert sorted(uris) == sorted(r["input_uri"] for r in rows)
    assert os.listdir(tmp_path / "m") == ["run_id=r"]        # no temporary folder left


def test_write_manifest_of_a_run_without_rows_is_one_schema_only_part(tmp_path):
    _write(tmp_path / "m", [])
    [name] = _tree(tmp_path / "m")
    assert re.fullmatch(r"run_id=r/part-00000-of-00001-[0-9a-f]{8}\.parquet", name)
    part = pq.read_table(tmp_path / "m" / name, partitioning=None)
    assert part.num_rows == 0 and part.schema.equals(manifest.PART_SCHEMA)


def test_two_writes_of_one_run_keep_both_parts(tmp_path):
    """Two jobs started at once under one --run_id (a cron's ``--run_id $(date +%F)`` and a
    manual run, or day folders run side by side) both pass the launch check (neither run's
    partition exists yet), then named their parts alike (part-00000-of-00001.parquet): the
    second rename replaced the first run's rows, both exiting 0 (the first run's outputs then
    named by no row). Each write names its parts with its own tag now."""
    day1 = [manifest.error_row("r", f"d1/{i}.jpg", "ImageDecodeError", "bad") for i in range(3)]
    day2 = [manifest.error_row("r", f"d2/{i}.jpg", "ImageDecodeError", "bad") for i in range(2)]
    _write(tmp_path / "m", day1)
    _write(tmp_path / "m", day2)
    _write(tmp_path / "m", [])
    parts = _tree(tmp_path / "m")
    assert len(parts) == 3
    uris = [u for f in parts for u in pq.read_table(tmp_path / "m" / f, partitioning=None).column("input_uri")
            .to_pylist()]
    assert sorted(uris) == sorted(r["input_uri"] for r in day1 + day2)


def test_clearing_a_stopped_launchs_parts_removes_only_them(tmp_path, caplog):
    """A retry under a stopped launch's --run_id removes the parts it left (2 of 8 on S3, S3
    review 49) and keeps a finished launch's, a part without a tag and other files; nothing
    there is 0, a folder that cannot be listed a warning and 0."""
    from transforms.manifest_writer import clear_stopped_parts

    folder = tmp_path / "m" / "run_id=r"
    folder.mkdir(parents=True)
    stopped = [f"part-0000{k}-of-00008-1a2b3c4d.parquet" for k in (0, 5)]
    kept = ["part-00000-of-00002-00ff00ff.parquet", "part-00001-of-00002-00ff00ff.parquet",
            "part-00000-of-00001.parquet", "export.parquet"]
    for name in stopped + kept:
        (folder / name).write_bytes(b"PAR1")
    assert clear_stopped_parts(str(folder)) == 2
    assert sorted(os.listdir(folder)) == sorted(kept)
    assert clear_stopped_parts(str(folder)) == 0
    assert clear_stopped_parts(str(tmp_path / "m" / "run_id=none")) == 0
    (tmp_path / "file").write_text("x")     # a file where the folder is: cannot be listed
    with caplog.at_level("WARNING"):
        assert clear_stopped_parts(str(tmp_path / "file" / "run_id=r")) == 0
    assert "manifest parts a stopped launch left" in caplog.text, caplog.text
