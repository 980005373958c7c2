"""Benchmark: ``python -m pipeline.report`` over a large synthetic manifest.

Writes N synthetic manifest rows (default 1,000,000; several runs, several part files per run,
~3% errors, ~5% skipped) as the job writes them: part files of
:data:`transforms.manifest.PART_SCHEMA` (``run_id`` in the ``run_id=<id>/`` folder's name only)
with the ``params`` JSON the job writes for each setting (about 330-350 bytes), then times the
report command end to end in a fresh process (import, read, compute, HTML) and the same with
``--format md``. Target (issue 7): under 30 s for 1,000,000 rows.

    python bench/bench_report.py                  # 1,000,000 rows in a temporary folder
    python bench/bench_report.py --rows 200000 --keep /tmp/manifest
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from transforms.manifest import PART_SCHEMA, SCHEMA_VERSION  # noqa: E402
from transforms.settings import CompressSettings  # noqa: E402

ERROR_TYPES = np.array(["ImageDecodeError", "TargetUnreachableError", "FileNotFoundError",
                        "DecompressionBombError", "UnsupportedModeError"], dtype=object)
#: The settings of the synthetic rows: method, energy, model and params as the job writes them
#: (:meth:`transforms.settings.CompressSettings.row_columns`).
CONFIGS = [CompressSettings(**kw).row_columns() for kw in (
    dict(method="hybrid", energy="deep", scale=0.5),
    dict(method="hybrid", energy="gradient", scale=0.5),
    dict(method="seam_carving", energy="saliency", scale=0.5),
    dict(method="smart_crop", energy="deep", scale=0.5),
    dict(method="jpeg"))]


def synthetic_table(n: int, seed: int = 0, start: int = 0) -> pa.Table:
    """``n`` plausible manifest rows of one run as a part file holds them
    (:data:`~transforms.manifest.PART_SCHEMA`: no ``run_id``), built with NumPy (no per-row
    Python)."""
    rng = np.random.default_rng(seed)
    idx = np.arange(start, start + n)
    status = rng.choice(np.array(["ok", "error", "skipped"], dtype=object), n, p=[0.92, 0.03, 0.05])
    ok = status == "ok"
    err = status == "error"
    cfg = rng.integers(0, len(CONFIGS), n)
    auto = rng.random(n) < 0.4  # quality="auto" rows: a score reached, a quality searched
    w = rng.integers(300, 4000, n).astype(np.int32)
    h = rng.integers(300, 3000, n).astype(np.int32)
    in_bytes = (w.astype(np.int64) * h * rng.uniform(0.1, 0.6, n)).astype(np.int64)
    byte_ratio = np.clip(rng.lognormal(np.log(0.3), 0.5, n), 0.01, 2.0)
    out_bytes = (in_bytes * byte_ratio).astype(np.int64)
    byte_ratio = out_bytes / np.maximum(in_bytes, 1)
    pixel_ratio = rng.uniform(0.2, 0.3, n)
    total_ms = rng.lognormal(np.log(120), 0.6, n)
    uris = pa.array(np.char.add("gs://photos/2026/img_", idx.astype(str)).astype(object))
    base = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    when = (np.datetime64(base.replace(tzinfo=None), "us")
            + (idx * 1000).astype("timedelta64[ms]"))

    def masked(values, mask, typ):
        return pa.array(values, type=typ, mask=~mask)

    has_out = ~err
    cols = {
        "schema_version": pa.array(np.full(n, SCHEMA_VERSION, np.int16)),
        "input_uri": uris,
        "output_uri": masked(np.char.add("gs://archive/2026/img_", idx.astype(str)).astype(object),
                             has_out, pa.string()),
        "status": pa.array(status, pa.string()),
        "error_type": masked(ERROR_TYPES[rng.integers(0, len(ERROR_TYPES), n)], err, pa.string()),
        "error_message": masked(np.full(n, "cannot identify image file", dtype=object), err,
                                pa.string()),
        "input_sha256": masked(np.full(n, "0" * 64, dtype=object), ok, pa.string()),
        "input_format": masked(np.full(n, "JPEG", dtype=object), ok, pa.string()),
        "input_width": masked(w, ok, pa.int32()),
        "input_height": masked(h, ok, pa.int32()),
        "input_bytes": masked(in_bytes, has_out, pa.int64()),
        "output_format": masked(np.full(n, "JPEG", dtype=object), has_out, pa.string()),
        "output_width": masked((w * 0.5).astype(np.int32), ok, pa.int32()),
        "output_height": masked((h * 0.5).astype(np.int32), ok, pa.int32()),
        "output_bytes": masked(out_bytes, has_out, pa.int64()),
        "pixel_ratio": masked(pixel_ratio, ok, pa.float64()),
        "byte_ratio": masked(byte_ratio, ok, pa.float64()),
        **{k: pa.array([c[k] for c in CONFIGS], pa.string()).take(cfg)
           for k in ("method", "energy", "model", "params")},
        "quality": masked(np.where(auto, rng.integers(55, 91, n), 85).astype(np.int32), ok,
                          pa.int32()),
        "quality_score": masked(np.clip(rng.normal(72.0, 1.5, n), 70.0, 90.0), ok & auto,
                                pa.float64()),
        "energy_mean": masked(rng.uniform(0.05, 0.6, n), ok, pa.float64()),
        "energy_std": masked(rng.uniform(0.01, 0.3, n), ok, pa.float64()),
        "energy_p50": masked(rng.uniform(0.05, 0.5, n), ok, pa.float64()),
        "energy_p95": masked(rng.uniform(0.5, 1.0, n), ok, pa.float64()),
        "high_importance_ratio": masked(rng.uniform(0, 0.4, n), ok, pa.float64()),
        "retained_energy_ratio": masked(rng.beta(8, 2, n), ok, pa.float64()),
        "stretch": masked(rng.uniform(1.0, 1.05, n), ok, pa.float64()),
        "faces": masked(rng.poisson(0.3, n).astype(np.int32), ok, pa.int32()),
        "seams_vertical": masked(rng.integers(0, 300, n).astype(np.int32), ok, pa.int32()),
        "seams_horizontal": masked(rng.integers(0, 300, n).astype(np.int32), ok, pa.int32()),
        "crop_box": pa.nulls(n, PART_SCHEMA.field("crop_box").type),
        "decode_ms": masked(total_ms * 0.1, ok, pa.float64()),
        "energy_ms": masked(total_ms * 0.5, ok, pa.float64()),
        "resize_ms": masked(total_ms * 0.3, ok, pa.float64()),
        "encode_ms": masked(total_ms * 0.1, ok, pa.float64()),
        "total_ms": masked(total_ms, ok, pa.float64()),
        "library_version": pa.array(["0.1.0"] * n, pa.string()),
        "processed_at": pa.array(when, pa.timestamp("us", tz="UTC")),
        # which file each input was (the report reads neither): a disk's mtime, no token
        "input_modified": pa.array(when - np.timedelta64(1, "D"), pa.timestamp("us", tz="UTC")),
        "input_etag": pa.nulls(n, pa.string()),
        "skip_reason": pa.nulls(n, pa.string()),
    }
    return pa.table(cols, schema=PART_SCHEMA)


def write_manifest(root: str, rows: int, runs: int = 4, parts: int = 4) -> None:
    """``rows`` synthetic rows split over ``runs`` runs of ``parts`` part files each."""
    per_run = [rows // runs + (1 if i < rows % runs else 0) for i in range(runs)]
    start = 0
    for r, n in enumerate(per_run):
        run_id = f"bench-{r:02d}"
        table = synthetic_table(n, seed=r, start=start)
        folder = os.path.join(root, f"run_id={run_id}")
        os.makedirs(folder, exist_ok=True)
        step = -(-n // parts) if n else 1
        for p in range(parts):
            pq.write_table(table.slice(p * step, step), os.path.join(
                folder, f"part-{p:05d}-of-{parts:05d}.parquet"), compression="snappy")
        start += n


def _time(cmd) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return elapsed


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=4)
    p.add_argument("--keep", help="write the manifest and reports here (kept)")
    p.add_argument("--no-md", action="store_true", help="skip the --format md timing")
    args = p.parse_args(argv)
    work = args.keep or tempfile.mkdtemp(prefix="bench_report_")
    manifest = os.path.join(work, "manifest")
    t0 = time.perf_counter()
    write_manifest(manifest, args.rows, runs=args.runs)
    print(f"wrote {args.rows:,} rows ({args.runs} runs) in {time.perf_counter() - t0:.1f} s: "
          f"{manifest}")
    py = sys.executable
    cmd = [py, "-m", "pipeline.report", manifest, "-o", os.path.join(work, "report.html")]
    t = _time(cmd)
    size = os.path.getsize(os.path.join(work, "report.html"))
    print(f"html report: {t:.1f} s wall (fresh process), {size / 1024:.0f} KiB  "
          f"[{' '.join(cmd[1:])}]")
    if not args.no_md:
        cmd = [py, "-m", "pipeline.report", manifest, "--format", "md",
               "-o", os.path.join(work, "report.md")]
        print(f"md report:   {_time(cmd):.1f} s wall (fresh process)")
    print(f"target < 30 s for 1,000,000 rows: {'met' if t < 30 else 'MISSED'} ({t:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
