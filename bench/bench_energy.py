"""Energy-function speed and memory: every energy at 1024 and 4000 px wide.

For each energy: the best of ``--repeat`` wall times per image (after one warm-up call, so
Numba compilation and the model load are excluded; the minimum, like ``timeit``, because this
2-core machine is shared and other work only ever adds time; before each timed call the
script also waits, up to ``--max-wait`` seconds, for other processes to leave the CPUs) on a photo upscaled (Lanczos) to 1024 x 683 and 4000 x 2667;
EfficientNet-Lite0 also batched (``energy_batch`` of 8 photos of the same size, time per
image). In a fresh process per energy: the model load time (cold: imports excluded, weights
read from disk and the graph built) and the peak RSS of computing the 4000 px map once, next
to the RSS just before that call (interpreter, imports -- torch alone is ~500 MiB --, model
and the photo). The kernel's peak-RSS mark is reset right before the call
(``/proc/self/clear_refs``), so the peak is the call's own.

Targets (issue 4): deep energy with efficientnet_lite0 under 0.3 s per image whatever the
size; spectral saliency under 50 ms at 4000 px.

Usage::

    .venv/bin/python bench/bench_energy.py               # full run (about a minute)
    .venv/bin/python bench/bench_energy.py --repeat 3 --json out.json

"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

from proc_memory import proc_status_mb, reset_peak_rss

log = logging.getLogger("bench_energy")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

WIDTHS = (1024, 4000)

#: label -> (make_energy name, keyword arguments)
ENERGIES = {
    "gradient (sobel)": ("gradient", {}),
    "saliency spectral": ("saliency", {"method": "spectral"}),
    "saliency fine_grained": ("saliency", {"method": "fine_grained"}),
    "deep lite0 cam_contrast": ("deep", {}),
    "deep lite0 cam": ("deep", {"aggregate_method": "cam"}),
    "deep lite0 weighted": ("deep", {"aggregate_method": "weighted"}),
    "blend (deep + gradient + saliency)": ("blend", {}),
}


def photo(width: int) -> np.ndarray:
    from skimage import data

    src = data.coffee()
    height = round(src.shape[0] * width / src.shape[1])
    return np.asarray(Image.fromarray(src).resize((width, height), Image.Resampling.LANCZOS))


def cpu_busy(interval: float = 0.5) -> float:
    """Fraction of all CPUs busy over ``interval`` seconds (from ``/proc/stat``)."""

    def sample():
        with open("/proc/stat") as fh:
            values = [int(v) for v in fh.readline().split()[1:]]
        return values[3] + values[4], sum(values)  # idle + iowait, total

    idle0, total0 = sample()
    time.sleep(interval)
    idle1, total1 = sample()
    return 1.0 - (idle1 - idle0) / max(1, total1 - total0)


def wait_for_idle(max_wait: float, threshold: float = 0.15) -> float:
    """Wait until other work leaves the CPUs (at most ``max_wait`` s); returns the last load.

    This 2-core machine is shared: with one other busy process, PyTorch's two OpenMP threads
    spin at every barrier and the deep energy runs 20-50 times slower, which measures the
    neighbour, not the code.
    """
    deadline = time.monotonic() + max_wait
    busy = cpu_busy()
    while busy > threshold and time.monotonic() < deadline:
        time.sleep(2.0)
        busy = cpu_busy()
    if busy > threshold:
        log.warning("measuring with the CPUs %.0f%% busy with other work", 100 * busy)
    return busy


def time_per_image(fn, image, repeat: int, max_wait: float = 0.0) -> float:
    fn(image)  # warm-up: Numba compile / model load / allocator
    times = []
    for _ in range(repeat):
        if max_wait:
            wait_for_idle(max_wait)
        t = time.perf_counter()
        fn(image)
        times.append(time.perf_counter() - t)
    return min(times)


def child(label: str, photo_path: str) -> None:
    """Fresh process: load time and peak RSS of one energy on the 4000 px photo."""
    from compress_core.energy import make_energy
    from compress_core.energy.deep import DeepEnergyFunction

    image = np.load(photo_path)
    name, kwargs = ENERGIES[label]
    fn = make_energy(name, **kwargs)
    deep = fn if isinstance(fn, DeepEnergyFunction) else next(
        (e for e in getattr(fn, "energies", ()) if isinstance(e, DeepEnergyFunction)), None)
    load_s = None
    if deep is not None:
        t = time.perf_counter()
        deep.load()
        load_s = time.perf_counter() - t
    reset = reset_peak_rss()
    before = proc_status_mb("VmRSS")  # interpreter, imports, model, the photo
    t = time.perf_counter()
    fn(image)
    first_s = time.perf_counter() - t
    peak = proc_status_mb("VmHWM") if reset else resource.getrusage(
        resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"rss_before_mb": before, "peak_rss_mb": peak, "load_s": load_s,
                      "first_call_s": first_s}))


def run_child(label: str, photo_path: str) -> dict:
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", label,
                          "--photo", photo_path], capture_output=True, text=True, check=True,
                         cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed calls per cell (best of)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--max-wait", type=float, default=120.0,
                        help="seconds to wait for other work to leave the CPUs before each "
                        "timed call (0: never wait)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--photo", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.photo)
        return 0
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    import torch

    from compress_core.energy import make_energy

    log.info("machine: %s, %d CPUs, torch %s with %d threads, Python %s", platform.processor()
             or platform.machine(), os.cpu_count(), torch.__version__, torch.get_num_threads(),
             platform.python_version())
    images = {w: photo(w) for w in WIDTHS}
    tmp = tempfile.mkdtemp(prefix="bench_energy_")
    photo_path = os.path.join(tmp, "photo_4000.npy")
    np.save(photo_path, images[4000])
    rows = []
    for label, (name, kwargs) in ENERGIES.items():
        fn = make_energy(name, **kwargs)
        row = {"energy": label}
        for w in WIDTHS:
            row[f"{w}px_s"] = time_per_image(fn, images[w], args.repeat, args.max_wait)
        log.info("timed %s", label)
        if args.max_wait:
            wait_for_idle(args.max_wait)
        row.update(run_child(label, photo_path))
        rows.append(row)

    deep = make_energy("deep")
    batch = {}
    for w in WIDTHS:
        imgs = [images[w]] * 8
        deep.energy_batch(imgs[:2])
        best = float("inf")
        for _ in range(max(1, args.repeat // 2)):
            if args.max_wait:
                wait_for_idle(args.max_wait)
            t = time.perf_counter()
            deep.energy_batch(imgs)
            best = min(best, time.perf_counter() - t)
        batch[w] = best / len(imgs)
    rows.append({"energy": "deep lite0 cam_contrast, batch of 8",
                 **{f"{w}px_s": batch[w] for w in WIDTHS}})

    shutil.rmtree(tmp, ignore_errors=True)
    header = (f"| {'energy':38s} | {'1024 px':>9s} | {'4000 px':>9s} | {'model load':>10s} "
              f"| {'RSS before call':>15s} | {'peak RSS 4000 px':>16s} |")
    lines = [header, "|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|"]
    for r in rows:
        load = f"{r['load_s']:.2f} s" if r.get("load_s") is not None else "-"
        rss0 = f"{r['rss_before_mb']:.0f} MiB" if "rss_before_mb" in r else "-"
        peak = f"{r['peak_rss_mb']:.0f} MiB" if "peak_rss_mb" in r else "-"
        lines.append(f"| {r['energy']:38s} | {r['1024px_s'] * 1000:6.1f} ms | "
                     f"{r['4000px_s'] * 1000:6.1f} ms | {load:>10s} | {rss0:>15s} | {peak:>16s} |")
    print("\n".join(lines))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"rows": rows, "cpus": os.cpu_count(),
                       "torch_threads": torch.get_num_threads()}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
