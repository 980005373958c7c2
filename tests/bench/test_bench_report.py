"""The benchmarks' synthetic manifests (bench/bench_report.py, bench/bench_earlier_manifest.py)
are what the job writes (part files of PART_SCHEMA, run_id in the folder name, the job's params
JSON), and the report benchmark runs end to end on a small one."""
import json
import subprocess
import sys

import pyarrow.parquet as pq

from bench import bench_earlier_manifest, bench_report
from pipeline import report
from transforms.manifest import PART_SCHEMA
from transforms.settings import CompressSettings


def test_synthetic_rows_have_every_manifest_column(tmp_path):
    bench_report.write_manifest(str(tmp_path), 2000, runs=2, parts=2)
    parts = sorted(tmp_path.glob("run_id=*/*.parquet"))
    assert len(parts) == 4
    for part in parts:   # what the job writes (review s22 #9: the old layout with run_id)
        assert pq.read_schema(part) == PART_SCHEMA
        assert pq.read_schema(part).metadata == PART_SCHEMA.metadata
    params = set(pq.read_table(parts[0], columns=["params"])["params"].to_pylist())
    job = CompressSettings(method="hybrid", energy="deep", scale=0.5).params_json()
    assert job in params and min(map(len, params)) > 300   # real params, not '{"scale":0.5}'
    rep = report.build_report(report.load_manifest(str(tmp_path)))
    assert rep.runs == ["bench-00", "bench-01"] and len(rep.by_config) == 5
    t = rep.totals
    assert t["images"] == 2000 and t["ok"] + t["error"] + t["skipped"] == 2000
    # the columns schema 2 added carry plausible values (they were missing: a KeyError)
    assert 0 < t["scored"] < t["ok"]
    assert 70 <= t["lowest_quality_score"] <= t["median_quality_score"]
    assert 1.0 <= t["max_stretch"] <= 1.05 and 0 < t["images_with_faces"] < t["ok"]
    assert len(rep.lowest_scores) == 10 and "quality_score" in rep.plots


def test_the_benchmark_runs_end_to_end(tmp_path):
    proc = subprocess.run([sys.executable, "bench/bench_report.py", "--rows", "3000",
                           "--keep", str(tmp_path)], capture_output=True, text=True,
                          cwd=bench_report.ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "html report:" in proc.stdout and "md report:" in proc.stdout
    assert (tmp_path / "report.html").stat().st_size > 10_000
    out = subprocess.run([sys.executable, "-m", "pipeline.report", str(tmp_path / "manifest"),
                          "--json"], capture_output=True, text=True, cwd=bench_report.ROOT,
                         timeout=300)
    assert json.loads(out.stdout)["totals"]["images"] == 3000


def test_the_earlier_manifest_benchmark_writes_the_jobs_part_files(tmp_path):
    bench_earlier_manifest.write_history(str(tmp_path), "c0ffee", 40, 2, reruns=True)
    parts = sorted((tmp_path / "_manifest").glob("run_id=*/*.parquet"))
    assert [p.parent.name for p in parts] == ["run_id=old0", "run_id=old1"]
    for part in parts:
        assert pq.read_schema(part) == PART_SCHEMA
    table = report.load_manifest(str(tmp_path / "_manifest"))
    assert sorted(set(table["run_id"].to_pylist())) == ["old0", "old1"] and table.num_rows == 40
