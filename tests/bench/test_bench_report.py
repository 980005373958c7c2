"""The report benchmark's synthetic manifest (bench/bench_report.py) is a valid manifest of the
current schema, and the benchmark runs end to end on a small one."""
import json
import subprocess
import sys

import pyarrow.parquet as pq

from bench import bench_report
from pipeline import report
from transforms.manifest import MANIFEST_SCHEMA


def test_synthetic_rows_have_every_manifest_column(tmp_path):
    bench_report.write_manifest(str(tmp_path), 2000, runs=2, parts=2)
    parts = sorted(tmp_path.glob("run_id=*/*.parquet"))
    assert len(parts) == 4
    for part in parts:
        assert pq.read_schema(part).remove_metadata() == MANIFEST_SCHEMA.remove_metadata()
    rep = report.build_report(report.load_manifest(str(tmp_path)))
    t = rep.totals
    assert t["images"] == 2000 and t["ok"] + t["error"] + t["skipped"] == 2000
    # the columns schema 2 added carry plausible values (they were missing: a KeyError)
    assert 0 < t["scored"] < t["ok"] and 70 <= t["lowest_quality_score"] <= t["median_quality_score"]
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
