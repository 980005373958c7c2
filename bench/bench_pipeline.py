"""Benchmark: the Beam pipeline against a plain Python loop over the same photos.

Modes, each in a fresh Python process (model load and start-up included in its time):

(a) ``loop``              read bytes, ``SemanticCompressor.compress``, write the output, one by one
(a') ``loop_1thread``     the same loop with torch, MKL and Numba on one thread (what one of
                          several workers sharing the machine gets; bounds what (c) can reach)
(b) ``in_memory``         ``python -m pipeline`` logic on the DirectRunner, in_memory mode
(c) ``multi_processing``  the same with ``--direct_running_mode multi_processing`` and N workers

Same settings everywhere: the defaults (``--method hybrid --energy deep --model
efficientnet_lite0 --scale 0.5``, format auto). Reported: wall seconds, images/s, speed-up
against (a), model loads (and worker processes), peak RSS of the largest worker process.

Usage (from the repository root)::

    .venv/bin/python bench/bench_pipeline.py                  # ../shared/data/kodak, all modes
    .venv/bin/python bench/bench_pipeline.py --data DIR --workers 2 --modes loop,in_memory
    .venv/bin/python bench/bench_pipeline.py --repeat 8   # 192 images: start-up amortised
    .venv/bin/python bench/bench_pipeline.py --modes in_memory --repeat 20 --varied  # memory

Prints a Markdown table (for BENCHMARKS.md) and writes the raw numbers as JSON under
``bench/out/pipeline/``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA = os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "kodak"))
MODES = ("loop", "loop_1thread", "in_memory", "multi_processing")
#: Environment of the one-thread loop: torch (OpenMP), MKL and Numba each on one thread.
ONE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}


def _images(folder):
    exts = (".png", ".jpg", ".jpeg", ".webp")
    return sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.lower().endswith(exts))


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def stage_inputs(data: str, repeat: int, folder: str, varied: bool = False) -> str:
    """The benchmark's input folder: ``data`` itself, or its photos copied ``repeat`` times
    under distinct names (to amortise start-up costs). ``varied``: each copy after the first
    is another crop of the photo (60-100% of each side at a seeded random place, mirrored
    every other time; a JPEG at quality 90), so that the sizes vary from image to image as in
    a real bucket (the same 24 sizes over and over hid a worker's heap growth)."""
    if repeat <= 1:
        return data
    import random

    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    rng = random.Random(27)
    for path in _images(data):
        stem, ext = os.path.splitext(os.path.basename(path))
        for k in range(repeat):
            cropped = varied and k > 0
            target = os.path.join(folder, f"{stem}_{k:03d}{'.jpg' if cropped else ext}")
            if os.path.exists(target):
                continue
            if not cropped:
                os.symlink(os.path.abspath(path), target)
                continue
            with Image.open(path) as im:
                im = im.convert("RGB")
                w, h = im.size
                cw, ch = int(w * rng.uniform(0.6, 1.0)), int(h * rng.uniform(0.6, 1.0))
                x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
                crop = im.crop((x, y, x + cw, y + ch))
                if k % 2:
                    crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
                crop.save(target, quality=90)
    return folder


def child_loop(data: str, out: str) -> dict:
    """(a): the library in a loop, as a script would use it."""
    start = time.perf_counter()
    from compress_core import SemanticCompressor
    from compress_core.energy.registry import make_energy

    energy = make_energy("deep", model="efficientnet_lite0")
    energy.load()
    compressor = SemanticCompressor(energy_function=energy)
    loaded = time.perf_counter()
    n = 0
    for path in _images(data):
        with open(path, "rb") as fh:
            raw = fh.read()
        result = compressor.compress(raw, scale=0.5, method="hybrid", show_progress=False)
        stem = os.path.splitext(os.path.basename(path))[0]
        result.save(os.path.join(out, stem + result.extension))
        n += 1
    end = time.perf_counter()
    return {"images": n, "ok": n, "wall_s": end - start, "model_load_s": loaded - start,
            "model_loads": 1, "processes": 1, "peak_rss_mb": _peak_rss_mb()}


def child_pipeline(data: str, out: str, mode: str, workers: int) -> dict:
    """(b) / (c): the real pipeline's run() on the DirectRunner."""
    start = time.perf_counter()
    from apache_beam.metrics.metric import MetricsFilter

    from pipeline.main import run, summarize_metrics
    from pipeline.options import parse_args

    listing = os.path.join(out, "_inputs.txt")
    with open(listing, "w") as fh:
        fh.write("\n".join(_images(data)) + "\n")  # exactly the loop's files
    argv = ["--input_list", listing, "--output", out, "--run_id", f"bench-{mode}",
            f"--direct_running_mode={mode}",
            f"--direct_num_workers={workers if mode == 'multi_processing' else 1}"]
    result = run(argv, save_main_session=False)
    end = time.perf_counter()
    job, _ = parse_args(argv)
    summary = summarize_metrics(result, job)
    dists = result.metrics().query(
        MetricsFilter().with_namespace("semantic_compress").with_name("worker_peak_rss_mb")
    )["distributions"]
    worker_rss = max((d.committed.max for d in dists if d.committed), default=None)
    peak = _peak_rss_mb() if mode != "multi_processing" else worker_rss
    return {"images": summary.total, "ok": summary.ok, "failed": summary.failed,
            "wall_s": end - start, "model_loads": summary.model_loads,
            "processes": workers if mode == "multi_processing" else 1,
            "peak_rss_mb": peak, "launcher_rss_mb": _peak_rss_mb()}


def run_child(mode: str, data: str, workers: int) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"bench-{mode}-") as out:
        out = os.path.join(out, "out")
        os.makedirs(out)
        cmd = [sys.executable, os.path.abspath(__file__), "--_child", mode, "--data", data,
               "--workers", str(workers), "--_out", out]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        env = dict(os.environ, **(ONE_THREAD_ENV if mode == "loop_1thread" else {}))
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
        process_wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise RuntimeError(f"{mode} failed:\n{proc.stderr[-4000:]}")
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        # CPU seconds of the mode's process and every process it waited for (Beam workers)
        res["cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        res["process_wall_s"] = process_wall
        return res


def table(results: dict, workers: int) -> str:
    base = results.get("loop", {}).get("wall_s")
    lines = ["| mode | images | wall s | images/s | vs (a) | model loads / processes | "
             "peak RSS per worker | CPU s | cores busy |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    label = {"loop": "(a) Python loop", "loop_1thread": "(a') the loop on one thread",
             "in_memory": "(b) DirectRunner in_memory",
             "multi_processing": f"(c) DirectRunner multi_processing, {workers} workers"}
    for mode, r in results.items():
        speed = f"{base / r['wall_s']:.2f}x faster" if base else ""
        if mode == "loop":
            speed = "1.00x"
        elif base and r["wall_s"] > base:
            speed = f"{r['wall_s'] / base:.2f}x the time"
        rss = f"{r['peak_rss_mb']:.0f} MiB" if r.get("peak_rss_mb") else "n/a"
        lines.append(f"| {label[mode]} | {r['ok']}/{r['images']} | {r['wall_s']:.1f} | "
                     f"{r['ok'] / r['wall_s']:.2f} | {speed} | {r['model_loads']} / "
                     f"{r['processes']} | {rss} | {r['cpu_s']:.1f} | "
                     f"{r['cpu_s'] / r['process_wall_s']:.2f} |")
    lines.append("")
    lines.append("CPU s: user + system time of the mode's process and of the workers it waited "
                 "for, start-up included; cores busy: CPU s / that process's wall time.")
    loop, single = results.get("loop"), results.get("loop_1thread")
    if loop and single:
        cpus = os.cpu_count() or 1
        bound = min(workers, cpus) * loop["wall_s"] / single["wall_s"]
        lines.append("")
        lines.append(
            f"Bound for (c): {min(workers, cpus)} one-thread workers on this {cpus}-core machine "
            f"can at best each run the one-thread loop's pace ({single['wall_s']:.1f} s for all "
            f"images), i.e. at most {bound:.2f}x faster than (a), before their own start-up.")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=DEFAULT_DATA, help="folder of photos (default: %(default)s)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--repeat", type=int, default=1,
                   help="use every photo this many times (distinct names), to amortise start-up")
    p.add_argument("--varied", action="store_true",
                   help="with --repeat: each copy another crop of the photo (varied sizes)")
    p.add_argument("--_child", choices=MODES, help=argparse.SUPPRESS)
    p.add_argument("--_out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args._child:
        import logging

        logging.basicConfig(level=logging.WARNING)
        if args._child in ("loop", "loop_1thread"):
            res = child_loop(args.data, args._out)
        else:
            res = child_pipeline(args.data, args._out, args._child, args.workers)
        print(json.dumps(res))
        return 0

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    staging = tempfile.mkdtemp(prefix="bench-inputs-")
    args.data = stage_inputs(args.data, args.repeat, staging, args.varied)
    n = len(_images(args.data))
    print(f"{n} images from {args.data}; {os.cpu_count()} CPUs; Python "
          f"{platform.python_version()}; modes {modes}", file=sys.stderr)
    results = {}
    for mode in modes:
        print(f"running {mode} ...", file=sys.stderr)
        results[mode] = run_child(mode, args.data, args.workers)
        print(f"  {mode}: {results[mode]['wall_s']:.1f} s", file=sys.stderr)
    shutil.rmtree(staging, ignore_errors=True)
    md = table(results, args.workers)
    print(md)
    out_dir = os.path.join(ROOT, "bench", "out", "pipeline")
    os.makedirs(out_dir, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    with open(os.path.join(out_dir, f"bench_pipeline-{stamp}.json"), "w") as fh:
        json.dump({"data": args.data, "repeat": args.repeat, "images": n, "cpus": os.cpu_count(),
                   "workers": args.workers, "results": results, "table": md}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
