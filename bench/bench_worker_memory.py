"""Benchmark: a worker's memory over a long run of photos of varied sizes, and what bounds it.

One fresh process per configuration compresses the same photos one after another into
256x256 thumbnails with the default settings (``SemanticCompressor().compress(path,
target_width=256, target_height=256)``: the deep energy, torch and the face detector; until
session 39 it asked ``scale=0.5``, which computes no importance map since session 29, so it
measured no CNN at all: benchmark review 39) and reports its resident memory (and the anonymous part of it: the heap) every 60 photos and
its time:

* ``default``: as the library runs: glibc's freed heap handed back every 32 compressions of
  the process (``compress_core.heap``; the job's workers did it since session 27, every
  user of the library since session 49; without it, on the perf review's 1,200 photos, a
  worker grew 30 MB per 100 photos);
* ``untrimmed``: the heap never handed back (the library before session 49 outside the job);
* ``onednn64``: ``ONEDNN_PRIMITIVE_CACHE_CAPACITY=64`` (torch's oneDNN keeps a compiled
  primitive per input shape, up to 1,024; every photo of another size is another shape for
  the CNN and the face detector's pyramid).

The photos: ``bench_pipeline.stage_inputs(..., varied=True)``, each Kodak photo and
``repeat - 1`` crops of it (60-100% of each side).

Usage (from the repository root)::

    .venv/bin/python bench/bench_worker_memory.py                 # 24 x 20 = 480 photos
    .venv/bin/python bench/bench_worker_memory.py --repeat 5 --rounds 1
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_DATA = os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "kodak"))
CONFIGS = {"default": {}, "untrimmed": {},
           "onednn64": {"ONEDNN_PRIMITIVE_CACHE_CAPACITY": "64"}}
EVERY = 60


def _memory_mb() -> str:
    """Resident MB and, after a slash, its anonymous part (the heap; the rest is mapped files,
    mostly torch's libraries, which a worker's processes share)."""
    with open("/proc/self/status") as fh:
        kb = {line.split(":")[0]: int(line.split()[1]) for line in fh
              if line.startswith(("VmRSS", "RssAnon"))}
    return f"{kb['VmRSS'] // 1024}/{kb['RssAnon'] // 1024}"


def child(folder: str, untrimmed: bool) -> dict:
    from compress_core import SemanticCompressor, heap

    import torch

    if untrimmed:
        heap.TRIM_EVERY = 10 ** 12
    compressor = SemanticCompressor()
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder))
    series, start = [], time.perf_counter()
    for i, path in enumerate(files, 1):
        compressor.compress(path, target_width=256, target_height=256, show_progress=False)
        if i % EVERY == 0:
            series.append(_memory_mb())
    return {"images": len(files), "seconds": time.perf_counter() - start, "rss_mb": series,
            "torch": torch.__version__}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=DEFAULT_DATA)
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--rounds", type=int, default=2, help="each configuration this many times, "
                   "alternating (the time's spread)")
    p.add_argument("--_child", help=argparse.SUPPRESS)
    p.add_argument("--_untrimmed", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._child:
        print(json.dumps(child(args._child, args._untrimmed)))
        return 0

    sys.path.insert(0, HERE)
    from bench_pipeline import stage_inputs

    folder = stage_inputs(args.data, args.repeat, tempfile.mkdtemp(prefix="bench-memory-"),
                          varied=True)
    print(f"| configuration | images | seconds | resident MB / of which anonymous, every "
          f"{EVERY} photos |")
    print("|---|---:|---:|---|")
    for _ in range(args.rounds):
        for name, env in CONFIGS.items():
            cmd = [sys.executable, os.path.abspath(__file__), "--_child", folder]
            if name == "untrimmed":
                cmd.append("--_untrimmed")
            done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True,
                                  env={**os.environ, **env, "PYTHONPATH": ROOT})
            res = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"| {name} | {res['images']} | {res['seconds']:.1f} | "
                  f"{', '.join(res['rss_mb'])} |", flush=True)
    print(f"torch {res['torch']} (a CUDA build maps more of its libraries than the CPU build "
          "the worker image installs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
