"""Camera-sized photos: CPU time and peak memory of one default ``compress()`` per photo, with
the geometry deciding on the photo reduced to twice the output's size (the default), the same
with every seam carved at that size (``HybridPolicy(plan_side=None)``: the library before the
carve was planned on a 768 px copy), and on the whole photo, seam by seam
(``HybridPolicy(working_oversample=None, plan_side=None)``: the library before the working
size), in the same run.

Inputs: Kodak photos enlarged with Lanczos to a camera's 24 megapixels (6000 x 4000, portraits
4000 x 6000) with a sensor's noise added (Gaussian, 1.5 levels, seeded: without it an enlarged
photo is as smooth as a graphic, and ``format="auto"`` tried it losslessly first), written as a
camera writes them (JPEG, quality 92: decoded at a DCT scale when a thumbnail needs less) and
as PNG (no scaled decoding: decoded whole, then reduced). Enlarged photos have no finer detail
than the originals; the time of decoding, energy and carving depends on the pixel count, not
on the detail, and the fidelity of deciding on a reduced photo
is measured on the real photos by ``bench_fidelity.py --tasks thumb --ours hybrid,hybrid:whole``.
The ``reencode_*`` tasks re-encode at the photo's own size (``method="jpeg"``), once each:
``quality="auto"``'s search (the default) and one encode at a fixed quality 85. ``budget50k``
(no size target: the byte budget's search over smaller pixel sizes) runs once too.

Each setting, format and task runs in a child process on one thread (Torch, OpenMP, MKL and
Numba held to one, as each of two workers sharing two cores would be); its first photo warms up
(model and detector loads, kernel compilation) and is not counted. Per photo: CPU seconds
(``time.process_time``) around one ``compress()`` with the job's defaults, the library's own
stage timings, and the child's peak resident memory.

Usage::

    .venv/bin/python bench/bench_large.py                       # 3 photos, every task, both formats
    .venv/bin/python bench/bench_large.py --photos 2 --tasks thumb256 --formats jpeg
"""
from __future__ import annotations

import one_thread  # noqa: F401 -- first: one thread per library, as one worker has

import os  # noqa: E402

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from proc_memory import peak_mib  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
KODAK = os.path.join(ROOT, "..", "shared", "data", "kodak")

#: task name -> compress() keyword arguments (the job's defaults otherwise)
TASKS = {
    "thumb256": dict(target_width=256, target_height=256),
    "square640": dict(target_width=640, target_height=640),
    "hd1920x1080": dict(target_width=1920, target_height=1080),
    "story1080x1920": dict(target_width=1080, target_height=1920),  # 9:16, mostly from 3:2
    "long1024": dict(max_dimension=1024),
    "half": dict(scale=0.5),   # the job's default size: the whole picture scaled, no map
    # re-encoding at the photo's own size (no geometry: one row each): quality="auto"'s search
    # (the default) against one fixed-quality encode
    "reencode_auto": dict(method="jpeg"),
    "reencode_q85": dict(method="jpeg", quality=85),
    # a byte budget and nothing else: the budget's search over smaller pixel sizes
    "budget50k": dict(target_bytes=50_000),
}
#: setting -> HybridPolicy keyword arguments: the default; every seam carved at the working size;
#: every seam carved on the whole photo
SETTINGS = {"reduced": {}, "unplanned": dict(plan_side=None),
            "whole": dict(working_oversample=None, plan_side=None)}
WHERE = {"reduced": "photo reduced", "unplanned": "photo reduced, carve not planned",
         "whole": "whole photo"}
STAGES = ("decode_ms", "energy_ms", "resize_ms", "encode_ms")
CAMERA_SIDES = (6000, 4000)


def make_inputs(kodak: str, photos: int, folder: str, fmt: str):
    """The first ``photos`` Kodak photos at 24 megapixels, as ``fmt`` files in ``folder``."""
    import numpy as np
    from PIL import Image

    names = sorted(f for f in os.listdir(kodak) if f.endswith(".png"))[:photos + 1]
    paths = []
    for name in names:
        img = Image.open(os.path.join(kodak, name)).convert("RGB")
        long, short = CAMERA_SIDES
        size = (long, short) if img.width >= img.height else (short, long)
        path = os.path.join(folder, name.replace(".png", "." + fmt))
        if not os.path.exists(path):
            big = np.asarray(img.resize(size, Image.Resampling.LANCZOS), dtype=np.float32)
            noise = np.random.default_rng(len(paths)).normal(0.0, 1.5, big.shape)
            big = Image.fromarray(np.clip(np.rint(big + noise), 0, 255).astype(np.uint8))
            big.save(path, "JPEG" if fmt == "jpeg" else "PNG",
                     **({"quality": 92} if fmt == "jpeg" else {"compress_level": 1}))
        paths.append(path)
    return paths


def child(setting: str, task: str, paths) -> dict:
    """One setting and task over ``paths`` (the first warms up), in this process."""
    import torch

    torch.set_num_threads(1)
    from compress_core import HybridPolicy, SemanticCompressor

    compressor = SemanticCompressor(policy=HybridPolicy(**SETTINGS[setting]))
    kwargs = TASKS[task]
    compressor.compress(paths[0], show_progress=False, **kwargs)  # loads, compiles
    cpu, stages, size, working = [], {s: 0.0 for s in STAGES}, 0, []
    for path in paths[1:]:
        t0 = time.process_time()
        result = compressor.compress(path, show_progress=False, **kwargs)
        cpu.append(time.process_time() - t0)
        for s in STAGES:
            stages[s] += result.timings[s]
        size += result.compressed_bytes
        size_worked = result.operations.get("working_size")
        working.append("x".join(map(str, size_worked)) if size_worked else "whole")
    n = len(cpu)
    return {"cpu": cpu, "stages": {s: v / n for s, v in stages.items()}, "kib": size / n / 1024,
            "working": working, "peak_mib": peak_mib()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kodak", default=KODAK)
    ap.add_argument("--photos", type=int, default=3, help="photos timed (one more warms up)")
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--formats", default="jpeg,png")
    ap.add_argument("--settings", default=",".join(SETTINGS),
                    help="geometry settings to run (tasks with geometry): "
                         + ", ".join(SETTINGS) + "; the last one is the ratio's base")
    ap.add_argument("--inputs", default=None, help="folder for the 24 MP inputs (kept)")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.child[2:])))
        return 0

    settings = args.settings.split(",")
    if not settings or set(settings) - set(SETTINGS):
        raise SystemExit(f"--settings: choose from {', '.join(SETTINGS)}")
    folder = args.inputs or tempfile.mkdtemp(prefix="bench_large_")
    os.makedirs(folder, exist_ok=True)
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    print(f"library at {commit}; {args.photos} photos (+1 warm-up) from {args.kodak} at "
          f"{CAMERA_SIDES[0]}x{CAMERA_SIDES[1]}; one thread; a child process per row\n")
    print("| input | task | geometry on | working size (each photo) | CPU s per photo (mean) | max | "
          + " | ".join(STAGES) + " | peak RSS MiB | KiB per output | CPU vs the last setting |")
    print("|---|---|---|---|---:|---:|" + "---:|" * (len(STAGES) + 3))
    for fmt in args.formats.split(","):
        paths = make_inputs(args.kodak, args.photos, folder, fmt)
        for task in args.tasks.split(","):
            rows = {}
            geometry = (TASKS[task].get("method") != "jpeg"
                        and "target_bytes" not in TASKS[task])
            for setting in settings if geometry else settings[:1]:
                out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child",
                                      setting, task, *paths], capture_output=True, text=True)
                if out.returncode != 0:
                    raise SystemExit(f"{fmt} {task} {setting} failed:\n{out.stderr[-3000:]}")
                rows[setting] = json.loads(out.stdout.strip().splitlines()[-1])
            base = rows[settings[-1]]["cpu"] if geometry else None
            for setting, row in rows.items():
                mean = sum(row["cpu"]) / len(row["cpu"])
                where = WHERE[setting] if geometry else "(no geometry)"
                working = ", ".join(row["working"]) if setting != "whole" else "-"
                cells = " | ".join(f"{row['stages'][s]:.0f}" for s in STAGES)
                ratio = f"{mean / (sum(base) / len(base)):.3f}x" if geometry else "-"
                print(f"| {fmt} 24 MP | {task} | {where} | {working} | {mean:.2f} | "
                      f"{max(row['cpu']):.2f} | {cells} | {row['peak_mib']:.0f} | "
                      f"{row['kib']:.1f} | {ratio} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
