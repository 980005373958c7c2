"""Benchmark: a long-running service's memory, one ``SemanticCompressor`` called many times.

A web service keeps one compressor and calls ``compress(bytes, **options)`` for each request:
varied photos (each Kodak photo and crops of it, ``bench_pipeline.stage_inputs(...,
varied=True)``, sent as bytes) and ten option sets in turn (half-size copies, thumbnails of
other aspects that compute the deep map, WebP and PNG, a byte budget, smart crop,
seam carving, a re-encode), one request in 97 a corrupt payload. One fresh process per
configuration, resident MB and its anonymous part (the heap) every 100 calls:

* ``default``: the library as it runs: glibc's freed heap handed back every 32 compressions
  of the process (``compress_core.heap``, session 49);
* ``untrimmed``: never handed back (the library before session 49; the job's workers trimmed
  since session 27).

Usage (from the repository root)::

    .venv/bin/python bench/bench_service_memory.py                  # 2,000 calls each
    .venv/bin/python bench/bench_service_memory.py --calls 300
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_DATA = os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "kodak"))
EVERY = 100
OPTIONS = [
    dict(scale=0.5),
    dict(target_width=256, target_height=256),
    dict(max_dimension=300, format="webp", quality="auto"),
    dict(target_bytes=15000),
    dict(scale=0.7, format="png"),
    dict(target_width=200, target_height=120, format="webp"),
    dict(scale=0.5, quality="auto", photo_format="webp"),
    dict(target_width=160, target_height=240, method="smart_crop"),
    dict(target_width=300, method="seam_carving", preserve_aspect=False),
    dict(method="jpeg", quality=60),
]


def _memory_mb() -> str:
    with open("/proc/self/status") as fh:
        kb = {line.split(":")[0]: int(line.split()[1]) for line in fh
              if line.startswith(("VmRSS", "RssAnon"))}
    return f"{kb['VmRSS'] // 1024}/{kb['RssAnon'] // 1024}"


def child(folder: str, calls: int, untrimmed: bool) -> dict:
    from compress_core import SemanticCompressor, heap

    if untrimmed:
        heap.TRIM_EVERY = 10 ** 12
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder))
    rng = random.Random(7)
    compressor = SemanticCompressor()
    series, failed, start = [], 0, time.perf_counter()
    for i in range(calls):
        path = files[rng.randrange(len(files))]
        with open(path, "rb") as fh:
            data = fh.read() if i % 97 != 13 else b"\xff\xd8\xff\xe0garbage" * 50
        try:
            compressor.compress(data, show_progress=False, **OPTIONS[i % len(OPTIONS)])
        except Exception:  # noqa: BLE001 - a service answers the request with the error
            failed += 1
        if (i + 1) % EVERY == 0:
            series.append(_memory_mb())
    return {"calls": calls, "failed": failed, "seconds": time.perf_counter() - start,
            "rss_mb": series}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=DEFAULT_DATA)
    p.add_argument("--calls", type=int, default=2000)
    p.add_argument("--repeat", type=int, default=20, help="photos per Kodak photo (crops)")
    p.add_argument("--_child", help=argparse.SUPPRESS)
    p.add_argument("--_untrimmed", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._child:
        print(json.dumps(child(args._child, args.calls, args._untrimmed)))
        return 0

    sys.path.insert(0, HERE)
    from bench_pipeline import stage_inputs

    print(f"| configuration | calls | failed | seconds | resident MB / of which anonymous, every "
          f"{EVERY} calls |")
    print("|---|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory(prefix="bench-service-") as staged:
        folder = stage_inputs(args.data, args.repeat, staged, varied=True)
        for name in ("default", "untrimmed"):
            cmd = [sys.executable, os.path.abspath(__file__), "--_child", folder,
                   "--calls", str(args.calls)] + (["--_untrimmed"] if name == "untrimmed" else [])
            done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                                  env={**os.environ, "PYTHONPATH": ROOT})
            if done.returncode:
                print(done.stderr, file=sys.stderr)
                return done.returncode
            res = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"| {name} | {res['calls']} | {res['failed']} | {res['seconds']:.1f} | "
                  f"{', '.join(res['rss_mb'])} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
