"""CPU cost of one default ``compress()`` per photo on one thread, per task (issue 11's budget:
at most 0.25 s per Kodak photo per core with the face term and the no-stretch policy).

Torch, MKL, OpenMP and Numba are held to one thread, as each of two workers sharing two cores
would be. Each task first runs once on the first photo, untimed (model and detector loads,
kernel compilation: a warm-up at scale 0.5 loads no CNN since session 29, and the first
thumbnail had paid the loads, 2.7 s: benchmark review 39); then every photo is timed with
``time.process_time`` around one ``compress()``
(decode, importance map with faces, geometry, encode with the default quality), and the
library's own stage timings are averaged beside it.

Usage::

    .venv/bin/python bench/bench_cost.py                     # 24 Kodak photos, every task
    .venv/bin/python bench/bench_cost.py --tasks scale50 --photos 6
"""
from __future__ import annotations

import one_thread  # noqa: F401 -- first: one thread per library, as one worker has

import os  # noqa: E402

import argparse  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
KODAK = os.path.join(ROOT, "..", "shared", "data", "kodak")

#: task name -> compress() keyword arguments (the job's defaults otherwise)
TASKS = {
    "scale50": dict(scale=0.5),
    "thumb256": dict(target_width=256, target_height=256),
    "square320": dict(target_width=320, target_height=320),
    "banner512x288": dict(target_width=512, target_height=288),
}
STAGES = ("decode_ms", "energy_ms", "resize_ms", "encode_ms")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kodak", default=KODAK)
    ap.add_argument("--photos", type=int, default=24)
    ap.add_argument("--tasks", default=",".join(TASKS))
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from compress_core import SemanticCompressor

    names = sorted(f for f in os.listdir(args.kodak) if f.endswith(".png"))[:args.photos]
    paths = [os.path.join(args.kodak, n) for n in names]
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    compressor = SemanticCompressor()
    print(f"library at {commit}; {len(paths)} photos from {args.kodak}; one thread\n")
    print("| task | CPU s per photo (mean) | max | " + " | ".join(STAGES) + " | KiB per output |")
    print("|---|---:|---:|" + "---:|" * (len(STAGES) + 1))
    for task in args.tasks.split(","):
        kwargs = TASKS[task]
        compressor.compress(paths[0], show_progress=False, **kwargs)  # loads, compiles
        cpu, stages, size = [], {s: 0.0 for s in STAGES}, 0
        for path in paths:
            t0 = time.process_time()
            result = compressor.compress(path, show_progress=False, **kwargs)
            cpu.append(time.process_time() - t0)
            for s in STAGES:
                stages[s] += result.timings[s]
            size += result.compressed_bytes
        n = len(paths)
        cells = " | ".join(f"{stages[s] / n:.0f}" for s in STAGES)
        print(f"| {task} | {sum(cpu) / n:.3f} | {max(cpu):.3f} | {cells} | {size / n / 1024:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
