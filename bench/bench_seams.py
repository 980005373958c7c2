"""Seam-carving speed: our SeamCarver against li-plus ``seam-carving`` 1.1.0, in one run.

Tasks on skimage photos upscaled (Lanczos) to 1024 and 2048 px wide: width to 50%, and both
sides to 80%, with backward and forward energy. Both libraries run the same task on the same
pixels; the ratio is theirs / ours. Numba compile time is excluded from the timings (one warm-up
call) and reported separately: cold (empty cache) and warm (loaded from the on-disk cache) in
fresh processes. Also: a 12 MP photo carved to 50% width (peak RSS of that process) and smart
crop + gradient energy on a 12 MP photo (best of 3, kernels loaded first).

Usage::

    .venv/bin/python bench/bench_seams.py            # full run (several minutes)
    .venv/bin/python bench/bench_seams.py --quick    # 1024 px only, one mode
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image
from skimage import data

log = logging.getLogger("bench_seams")

PHOTOS = {"chelsea": data.chelsea, "coffee": data.coffee}


def upscale(img: np.ndarray, width: int) -> np.ndarray:
    height = round(img.shape[0] * width / img.shape[1])
    return np.asarray(Image.fromarray(img).resize((width, height), Image.Resampling.LANCZOS))


def time_call(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def run_speed(widths, modes, photos):
    import seam_carving

    from compress_core.seams import SeamCarver

    rows = []
    # warm-up: compile (or load from cache) every kernel used below
    warm = upscale(data.chelsea(), 64)
    for mode in modes:
        SeamCarver(energy_mode=mode, order="width_first").resize(warm, target_width=40, target_height=40)
    for name in photos:
        src = PHOTOS[name]()
        for width in widths:
            img = upscale(src, width)
            h, w = img.shape[:2]
            tasks = {"width 50%": (w // 2, h), "both 80%": (round(w * 0.8), round(h * 0.8))}
            for task, (tw, th) in tasks.items():
                for mode in modes:
                    ours_fn = lambda: SeamCarver(energy_mode=mode, order="width_first").resize(  # noqa: E731
                        img, target_width=tw, target_height=th)
                    theirs_fn = lambda: seam_carving.resize(  # noqa: E731
                        img, (tw, th), energy_mode=mode, order="width-first")
                    ours_out = ours_fn()
                    t_ours = time_call(ours_fn, repeat=2)
                    t0 = time.perf_counter()
                    theirs_out = theirs_fn()
                    t_theirs = time.perf_counter() - t0
                    same = bool(np.array_equal(ours_out, theirs_out))
                    row = dict(photo=name, size=f"{w}x{h}", task=task, mode=mode,
                               ours_s=round(t_ours, 3), seam_carving_s=round(t_theirs, 2),
                               speedup=round(t_theirs / t_ours, 1), identical=same)
                    log.info("%s", row)
                    rows.append(row)
    return rows


_COMPILE_SNIPPET = """
import time, numpy as np
t = time.perf_counter()
from compress_core.seams import SeamCarver
img = (np.random.default_rng(0).random((40, 50, 3)) * 255).astype(np.uint8)
for mode in ("backward", "forward"):
    SeamCarver(energy_mode=mode).resize(img, target_width=30, target_height=30)
    SeamCarver(energy_mode=mode).resize(img, target_width=60)
print(time.perf_counter() - t)
"""


def run_compile_times():
    """First-call time in fresh processes: empty cache, then the cache it wrote."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        out = {}
        for label in ("cold_cache_s", "warm_cache_s"):
            res = subprocess.run([sys.executable, "-c", _COMPILE_SNIPPET], env=env,
                                 capture_output=True, text=True, check=True)
            out[label] = round(float(res.stdout.strip().splitlines()[-1]), 2)
    return out


_LARGE_SNIPPET = """
import json, resource, time, numpy as np
from PIL import Image
from skimage import data
from compress_core.seams import SeamCarver
from compress_core.energy import GradientEnergyFunction
from compress_core.crop import smart_crop
img = np.asarray(Image.fromarray(data.coffee()).resize((4000, 3000), Image.Resampling.LANCZOS))
SeamCarver().resize(img[:64, :64], target_width=40)  # load kernels (compile time excluded)
GradientEnergyFunction()(img[:64, :64])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
crop_s = float("inf")
for _ in range(3):
    t = time.perf_counter()
    energy = GradientEnergyFunction()(img)
    out, box = smart_crop(img, energy, 2000, 1500)
    crop_s = min(crop_s, time.perf_counter() - t)
t = time.perf_counter()
out = SeamCarver().resize(img, target_width=2000)
carve_s = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps(dict(megapixels=12.0, smart_crop_gradient_s=round(crop_s, 3),
                      carve_50pct_width_s=round(carve_s, 1), peak_rss_mb=round(peak / 1024),
                      rss_before_carve_mb=round(base / 1024), out_shape=list(out.shape))))
"""


def run_large():
    res = subprocess.run([sys.executable, "-c", _LARGE_SNIPPET], capture_output=True, text=True,
                         check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def markdown(rows, compile_times, large) -> str:
    lines = ["| photo | size | task | mode | ours (s) | seam-carving 1.1.0 (s) | speed-up | identical |",
             "|---|---|---|---|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['photo']} | {r['size']} | {r['task']} | {r['mode']} | {r['ours_s']:.3f} "
                     f"| {r['seam_carving_s']:.2f} | {r['speedup']:.1f}x | {r['identical']} |")
    if compile_times:
        lines.append("")
        lines.append(f"Numba first call in a fresh process: {compile_times['cold_cache_s']} s with an "
                     f"empty cache (compilation), {compile_times['warm_cache_s']} s with the cache.")
    if large:
        lines.append("")
        lines.append(f"12 MP (4000x3000) photo: carve to 50% width {large['carve_50pct_width_s']} s, "
                     f"peak RSS {large['peak_rss_mb']} MB (process incl. Python, NumPy, Numba); "
                     f"smart crop + gradient energy {large['smart_crop_gradient_s']} s.")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1024 px, backward only, one photo")
    parser.add_argument("--no-large", action="store_true", help="skip the 12 MP runs")
    parser.add_argument("--large-only", action="store_true", help="only the 12 MP runs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    widths = (1024,) if args.quick else (1024, 2048)
    modes = ("backward",) if args.quick else ("backward", "forward")
    photos = ("chelsea",) if args.quick else ("chelsea", "coffee")
    if args.large_only:
        print(markdown([], None, run_large()))
        return
    compile_times = run_compile_times()
    rows = run_speed(widths, modes, photos)
    large = None if (args.quick or args.no_large) else run_large()
    print(markdown(rows, compile_times, large))
    worst = {w: min(r["speedup"] for r in rows if r["size"].startswith(str(w))) for w in widths}
    print("\nslowest speed-up per width: " + ", ".join(f"{w}px {s:.1f}x" for w, s in worst.items()))


if __name__ == "__main__":
    main()
