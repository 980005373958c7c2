"""A manifest the job wrote, read as analysts read it: pyarrow.parquet (what pandas calls),
pyarrow.dataset, DuckDB; and a manifest folder that mixes runs of earlier versions (parts that
hold a ``run_id`` column) with new ones, read by the report and by ``--skip_existing``."""
import glob
import json
import os

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from pipeline import report
from transforms.manifest import MANIFEST_SCHEMA

FAST = ["--method", "hybrid", "--energy", "gradient", "--scale", "0.5",
        "--direct_running_mode=in_memory", "--direct_num_workers=1"]


def _parts(manifest, run_id):
    return sorted(glob.glob(os.path.join(manifest, f"run_id={run_id}", "*.parquet")))


def _as_earlier_version(manifest, run_id, without=()):
    """Rewrite a run's parts as releases before manifest schema 4 wrote them: with a
    ``run_id`` column (MANIFEST_SCHEMA) equal to the folder's key, and without the columns
    ``without`` (added by later schemas)."""
    schema = pa.schema([f for f in MANIFEST_SCHEMA if f.name not in without])
    for part in _parts(manifest, run_id):
        table = pq.read_table(part, partitioning=None)
        table = table.add_column(1, "run_id", pa.array([run_id] * table.num_rows, pa.string()))
        pq.write_table(table.select(schema.names).cast(schema), part)


def test_a_job_manifest_reads_with_pyarrow_pandas_and_duckdb(tmp_path, input_dir, run_job):
    """``pq.read_table(root)`` and ``pd.read_parquet(root)`` (which calls it) refused every
    manifest: run_id was a column of each part and its folder's Hive key ("Unable to merge:
    Field run_id has incompatible types: string vs dictionary")."""
    duckdb = pytest.importorskip("duckdb")
    out = tmp_path / "out"
    base = ["--input", str(input_dir / "*.jpg"), "--output", str(out), *FAST]
    _, s1 = run_job([*base, "--run_id", "first"])
    _, s2 = run_job([*base, "--run_id", "second", "--skip_existing"])
    # (the three damaged files are skipped too: failed before, the same files)
    assert (s1.ok, s1.failed, s2.skipped, s2.failed, s2.failed_before) == (2, 3, 5, 0, 3)
    manifest = str(out / "_manifest")
    want = {"first": 5, "second": 5}

    def counts(run_ids):
        got = {}
        for r in run_ids:
            got[r] = got.get(r, 0) + 1
        return got

    assert counts(pq.read_table(manifest).column("run_id").to_pylist()) == want
    hive = ds.dataset(manifest, format="parquet", partitioning="hive").to_table()
    assert counts(hive.column("run_id").to_pylist()) == want
    rows = duckdb.sql(f"select run_id from read_parquet('{manifest}/*/*.parquet', "
                      f"hive_partitioning=true)").fetchall()
    assert counts(r[0] for r in rows) == want
    for run in ("first", "second"):
        for part in _parts(manifest, run):
            assert "run_id" not in pq.read_schema(part).names   # the folder's name holds it


def test_a_folder_mixing_earlier_and_new_runs(tmp_path, input_dir, run_job, read_manifest,
                                              capsys):
    """Parts written before schema 4 hold run_id; new ones do not. The report, --skip_existing
    (which inputs own the outputs) and the tests' reader read both, and the documented
    ``ds.dataset`` form with a string partitioning too (numeric run ids stay text)."""
    out = tmp_path / "out"
    base = ["--input", str(input_dir / "*.jpg"), "--output", str(out), *FAST]
    run_job([*base, "--run_id", "20261204"])
    manifest = str(out / "_manifest")
    _as_earlier_version(manifest, "20261204")
    assert "run_id" in pq.read_schema(_parts(manifest, "20261204")[0]).names
    _, s2 = run_job([*base, "--run_id", "20261205", "--skip_existing"])
    # the earlier run's rows were read: its outputs are recorded for these inputs, and its
    # failures (the damaged files, skipped as failed before)
    assert (s2.skipped, s2.unrecorded, s2.failed_before) == (5, 0, 3)

    rows = read_manifest(manifest)
    assert sorted({r["run_id"] for r in rows}) == ["20261204", "20261205"] and len(rows) == 10
    status = report.main([manifest, "--json"])
    by_run = json.loads(capsys.readouterr().out)["by_run"]
    assert status == 0
    assert {k: (v["ok"], v["skipped"], v["error"], v["skipped_failed_before"])
            for k, v in by_run.items()} == {"20261204": (2, 0, 3, 0), "20261205": (0, 5, 0, 3)}
    typed = ds.partitioning(pa.schema([("run_id", pa.string())]), flavor="hive")
    table = ds.dataset(manifest, format="parquet", partitioning=typed).to_table()
    assert sorted(set(table.column("run_id").to_pylist())) == ["20261204", "20261205"]
    assert pq.read_table(manifest, partitioning=typed).num_rows == 10


def test_columns_added_since_the_oldest_run_are_read_as_documented(tmp_path, input_dir,
                                                                   run_job):
    """A reader that takes the columns from one part file (pyarrow's and DuckDB's discovery:
    the first file, the oldest run) dropped every column added since, in every run: after an
    upgrade, ``skip_reason`` was gone from all rows (compat review 27). The documented forms
    give the schema (pyarrow, pandas, polars) or unite the files' columns (DuckDB)."""
    from transforms.manifest import run_partitioning

    duckdb = pytest.importorskip("duckdb")
    out = tmp_path / "out"
    base = ["--input", str(input_dir / "*.jpg"), "--output", str(out), *FAST]
    run_job([*base, "--run_id", "2026-11-01"])
    manifest = str(out / "_manifest")
    _as_earlier_version(manifest, "2026-11-01", without=["skip_reason"])   # (schema 5's)
    _, s2 = run_job([*base, "--run_id", "2026-12-05", "--skip_existing"])
    assert s2.failed_before == 3

    def reasons(table):
        return sorted(r for r in table.column("skip_reason").to_pylist() if r)

    plain = ds.dataset(manifest, format="parquet", partitioning=run_partitioning()).to_table()
    assert "skip_reason" not in plain.column_names   # (why the schema is given)
    rows = ds.dataset(manifest, format="parquet", partitioning=run_partitioning(),
                      schema=MANIFEST_SCHEMA).to_table()
    assert rows.num_rows == 10 and reasons(rows) == ["failed before"] * 3
    assert pq.read_table(manifest, partitioning=run_partitioning(),
                         schema=MANIFEST_SCHEMA).num_rows == 10   # (pd.read_parquet's call)
    united = duckdb.sql(f"""select run_id, skip_reason from read_parquet(
        '{manifest}/*/*.parquet', hive_partitioning=true, hive_types={{'run_id': 'VARCHAR'}},
        union_by_name=true)""").fetchall()
    assert sorted(r for _, r in united if r) == ["failed before"] * 3
