"""Benchmark: what reading the earlier runs' manifest costs a run.

Every run reads the ``input_uri``, ``output_uri`` and ``status`` of all earlier rows of its
manifest, and ``processed_at``, ``input_bytes``, ``input_modified`` and ``input_etag`` of the
``ok`` ones (all filled in the synthetic history; :mod:`transforms.earlier_outputs`), so that
no input takes a name an earlier run wrote for another one. The cost grows with the history,
not with the run. This script runs the job (DirectRunner, in_memory, the default settings)
over the same photos into output folders whose manifest holds 0, then N synthetic earlier
rows of the same settings in 20 runs, of two kinds: *all ok* (every row wrote a file: 20 runs
over new folders) and *skip reruns* (20 runs of a scheduled ``--skip_existing`` job over one
bucket: the first writes every output, the other 19 skip them), and prints the wall time of
each and the extra time per earlier row.

Usage (from the repository root)::

    .venv/bin/python bench/bench_earlier_manifest.py                   # ../shared/data/kodak
    .venv/bin/python bench/bench_earlier_manifest.py --rows 100000,1000000 --parts 20
    .venv/bin/python bench/bench_earlier_manifest.py --rows "" --inputs 100000

``--inputs N`` also times the naming step alone (``DistinctInputs``) over N synthetic inputs
(``day<k>/IMG_<i>.JPG``, 50 folders), with no manifest and with an earlier run that wrote
every other name for another input (half the inputs set apart), against the within-run step
without the manifest (``DistinctInputs()``) in the same process.
"""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
DEFAULT_DATA = os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "kodak"))
DIRECT = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]


def write_history(output: str, tag: str, rows: int, parts: int, reruns: bool) -> None:
    """``rows`` earlier rows of the settings ``tag`` in ``parts`` runs of ``<output>/_manifest``
    (part files as the job writes them, every column of ``PART_SCHEMA``, ``run_id`` in the
    folder's name; names no input of the benchmark has): each run
    ``ok`` over its own folder, or (``reruns``) every run over the same inputs, the first
    ``ok``, the others ``skipped``."""
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    from compress_core.storage import output_name
    from transforms.manifest import PART_SCHEMA, SCHEMA_VERSION

    per = max(1, rows // parts)
    for p in range(parts):
        names = [f"day{0 if reruns else p:04d}/IMG_{i:07d}.JPG" for i in range(per)]
        status = "skipped" if reruns and p else "ok"
        given = {
            "schema_version": pa.array([SCHEMA_VERSION] * per, pa.int16()),
            "input_uri": pa.array([f"/archive/in/{n}" for n in names]),
            "output_uri": pa.array([f"{output}/{output_name(n, tag, '.jpg')}" for n in names]),
            "status": pa.array([status] * per),
            "processed_at": pa.array([dt.datetime(2026, 1, 1 + p, tzinfo=dt.timezone.utc)] * per,
                                     pa.timestamp("us", tz="UTC")),
            # which file each input was (schema 3), both known: the most an ok row costs
            "input_bytes": pa.array([100_000 + i for i in range(per)], pa.int64()),
            "input_modified": pa.array(
                [dt.datetime(2025, 12, 31, 8, 0, i % 60, i, tzinfo=dt.timezone.utc)
                 for i in range(per)], pa.timestamp("us", tz="UTC")),
            "input_etag": pa.array([f"etag:{i:032x}" for i in range(per)]),
        }
        table = pa.table({f.name: given.get(f.name, pa.nulls(per, f.type))
                          for f in PART_SCHEMA}, schema=PART_SCHEMA)   # run_id: the folder
        folder = os.path.join(output, "_manifest", f"run_id=old{p}")
        os.makedirs(folder)
        pq.write_table(table, os.path.join(folder, "part-00000-of-00001.parquet"))


def timed_run(data: str, output: str) -> float:
    from pipeline.main import run

    start = time.perf_counter()
    run(["--input", data, "--output", output, *DIRECT], save_main_session=False)
    return time.perf_counter() - start


def time_names(inputs: int, work: str, tag: str) -> None:
    """Print the naming step's time over ``inputs`` synthetic inputs (module docstring)."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from transforms.distinct_inputs import DistinctInputs
    from transforms.earlier_outputs import EarlierOutputs
    from transforms.matching import InputFile

    files = [InputFile(f"/in/day{i % 50}/IMG_{i:07d}.JPG", f"day{i % 50}/IMG_{i:07d}.JPG",
                       1000 + i) for i in range(inputs)]
    output = os.path.join(work, "names")
    _claim_every_other(output, tag, files)

    def once(distinct) -> float:
        start = time.perf_counter()
        with beam.Pipeline("DirectRunner", options=PipelineOptions(DIRECT)) as p:
            _ = (p | beam.Create(files, reshuffle=False) | distinct
                 | beam.combiners.Count.Globally())
        return time.perf_counter() - start

    base = min(once(DistinctInputs()) for _ in range(2))
    print(f"\n{inputs:,} inputs, naming step alone (DistinctInputs), best of 2\n")
    print("| manifest | s | vs no manifest read | per input |")
    print("|---|---:|---:|---:|")
    print(f"| not read (within the run only) | {base:.1f} | 1.00x | {base / inputs * 1e6:.0f} us |")
    for label, manifest in (("none yet", os.path.join(work, "no_manifest")),
                            (f"{inputs // 2:,} names of others",
                             os.path.join(output, "_manifest"))):
        took = min(once(DistinctInputs(EarlierOutputs(manifest, output, tag, "now")))
                   for _ in range(2))
        print(f"| {label} | {took:.1f} | {took / base:.2f}x | {took / inputs * 1e6:.0f} us |")


def _claim_every_other(output: str, tag: str, files) -> None:
    """One earlier run that wrote every other input's name for another input."""
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    from compress_core.storage import output_name

    taken = files[::2]
    folder = os.path.join(output, "_manifest", "run_id=other")
    os.makedirs(folder, exist_ok=True)
    pq.write_table(pa.table({
        "input_uri": [f"/elsewhere/{f.relpath}" for f in taken],
        "output_uri": [f"{output}/{output_name(f.relpath, tag, '.jpg')}" for f in taken],
        "status": ["ok"] * len(taken),
        "processed_at": pa.array([dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)] * len(taken),
                                 pa.timestamp("us", tz="UTC")),
        "input_bytes": [1] * len(taken),
        "input_modified": pa.array([dt.datetime(2025, 12, 31, tzinfo=dt.timezone.utc)] * len(taken),
                                   pa.timestamp("us", tz="UTC")),
        "input_etag": [f"etag:{i:032x}" for i in range(len(taken))]}),
        os.path.join(folder, "part-00000-of-00001.parquet"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=DEFAULT_DATA)
    p.add_argument("--rows", default="100000,1000000", help="earlier rows, comma-separated")
    p.add_argument("--parts", type=int, default=20, help="earlier runs (one part each)")
    p.add_argument("--inputs", type=int, default=0,
                   help="also time the naming step alone over this many inputs")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from pipeline.options import parse_args

    job, _ = parse_args(["--input", args.data, "--output", "x"])
    tag = job.settings.params_hash()
    images = len([f for f in os.listdir(args.data)
                  if f.lower().endswith((".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff"))])
    work = tempfile.mkdtemp(prefix="bench_earlier_")
    try:
        if args.inputs:
            time_names(args.inputs, work, tag)
        if not args.rows:
            return 0
        timed_run(args.data, os.path.join(work, "warm"))       # model loaded once, off the clock
        base = timed_run(args.data, os.path.join(work, "none"))
        print(f"{images} photos, default settings, DirectRunner in_memory\n")
        print("| earlier rows | history | run (s) | vs no history | extra (s) | per earlier row |")
        print("|---:|---|---:|---:|---:|---:|")
        print(f"| 0 | | {base:.1f} | 1.00x | | |")
        for rows in (int(r) for r in args.rows.split(",")):
            for reruns in (False, True):
                out = os.path.join(work, f"rows{rows}-{reruns}")
                write_history(out, tag, rows, args.parts, reruns)
                took = timed_run(args.data, out)
                kind = f"skip reruns ({rows // args.parts:,} ok)" if reruns else "all ok"
                print(f"| {rows:,} | {kind} | {took:.1f} | {took / base:.2f}x | "
                      f"{took - base:.1f} | {(took - base) / rows * 1e6:.1f} us |")
                shutil.rmtree(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
