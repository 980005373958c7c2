"""The fidelity judge on camera-sized outputs: the default hybrid policy against another
``HybridPolicy`` (by default ``plan_side=None``: every seam carved, the library before the carve
was planned on a 768 px copy), on the same 24-megapixel photos and targets.

``bench_fidelity.py`` judges the policy on the Kodak photos at 768 x 512; what only happens on
large pictures (the working size, the planned carve) is judged here, the same way: the judge
(EfficientNet-Lite1, the whole output letterboxed) gives KL(original || output) and the
probability kept of the original's top class; the subject's stretch and coverage are exact,
from the result's source map, weighted by the judge's importance (its top-5 CAM, with MTCNN
faces found on a 1536 px copy of the photo). Inputs are ``bench_large.py``'s (Kodak enlarged to
24 megapixels with a sensor's noise, JPEG quality 92), made in ``--inputs`` when missing.

Usage::

    .venv/bin/python bench/bench_large_judge.py --inputs <folder>
    .venv/bin/python bench/bench_large_judge.py --photos 2 --targets 1080x1920 --versus carve_density=0
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]  # the benchmarks' modules, the library

#: social and web sizes that change a 3:2 photo's aspect: square, 16:9, 9:16, link preview, 4:5
TARGETS = "640x640,1920x1080,1080x1920,1200x630,1080x1350"


def policy_kwargs(text: str) -> dict:
    """``"plan_side=None,carve_density=0.5"`` -> keyword arguments (Python literals)."""
    out = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, _, value = item.partition("=")
        out[key.strip()] = ast.literal_eval(value.strip())
    return out


def judge_photo(path, targets, compressors, judge, faces):
    """Rows (photo, target, setting, figures) for one photo and every target and setting."""
    import fidelity_geometry as geometry
    from fidelity_judge import compare, importance_map
    from PIL import Image

    pixels = np.asarray(Image.open(path).convert("RGB"))
    h, w = pixels.shape[:2]
    probs = judge.probs([pixels])[0]
    f = 1536 / max(h, w)
    copy = np.asarray(Image.fromarray(pixels).resize((round(w * f), round(h * f)),
                                                     Image.Resampling.LANCZOS))
    importance = importance_map((h, w), judge.cam(pixels, probs), faces.boxes(copy) / f)
    rows = []
    for tw, th in targets:
        for setting, compressor in compressors.items():
            t0 = time.process_time()
            result = compressor.compress(path, target_width=tw, target_height=th,
                                         show_progress=False)
            seconds = time.process_time() - t0
            sx, sy = geometry.source_coordinates(result.source_map, w)
            exact = geometry.exact_geometry(sx, sy, (h, w), importance)
            row = compare(probs, judge.probs([result.pixels])[0])
            row.update(stretch=exact.stretch, coverage=exact.coverage, seconds=seconds,
                       digest=hashlib.sha256(result.pixels.tobytes()).hexdigest())
            rows.append((os.path.basename(path), f"{tw}x{th}", setting, row))
    return rows


def report(rows, settings) -> str:
    a, b = settings
    lines = [f"| target | outputs with the same pixels | mean KL ({a}; {b}) | prob. kept | "
             f"subject stretch mean (max) | coverage | CPU s per photo |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    targets = list(dict.fromkeys(r[1] for r in rows))
    for target in targets + ["all"]:
        pick = {s: [r[3] for r in rows if target in ("all", r[1]) and r[2] == s] for s in settings}
        ra, rb = pick[a], pick[b]
        same = sum(x["digest"] == y["digest"] for x, y in zip(ra, rb))

        def pair(key, fmt=".3f"):
            return "; ".join(format(np.mean([r[key] for r in rs]), fmt) for rs in (ra, rb))

        stretch = "; ".join(f"{np.mean([r['stretch'] for r in rs]):.3f} "
                            f"({max(r['stretch'] for r in rs):.3f})" for rs in (ra, rb))
        lines.append(f"| {target} | {same}/{len(ra)} | {pair('KL')} | {pair('kept')} | "
                     f"{stretch} | {pair('coverage')} | {pair('seconds', '.1f')} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kodak", default=os.path.join(HERE, "..", "..", "shared", "data", "kodak"))
    ap.add_argument("--photos", type=int, default=4, help="the first N Kodak photos")
    ap.add_argument("--targets", default=TARGETS, help="comma list of WxH")
    ap.add_argument("--versus", default="plan_side=None",
                    help="HybridPolicy keyword arguments of the other setting")
    ap.add_argument("--inputs", default=None, help="folder for the 24 MP inputs (kept)")
    args = ap.parse_args(argv)
    targets = [tuple(int(v) for v in t.lower().split("x")) for t in args.targets.split(",")]
    from bench_large import make_inputs  # (holds this process to one thread, as it times)
    from fidelity_judge import FaceDetector, Judge

    from compress_core import HybridPolicy, SemanticCompressor

    versus = policy_kwargs(args.versus)
    compressors = {"default": SemanticCompressor(),
                   args.versus: SemanticCompressor(policy=HybridPolicy(**versus))}
    folder = args.inputs or tempfile.mkdtemp(prefix="bench_large_")
    # make_inputs adds a warm-up photo first (bench_large times without it): judge all of them
    paths = make_inputs(args.kodak, args.photos - 1, folder, "jpeg")
    judge, faces = Judge(), FaceDetector()
    rows = []
    for path in paths:
        rows += judge_photo(path, targets, compressors, judge, faces)
        for name, target, setting, row in rows[-len(targets) * 2:]:
            print(f"{name} {target} {setting}: KL {row['KL']:.3f} stretch {row['stretch']:.3f} "
                  f"coverage {row['coverage']:.3f} {row['seconds']:.1f} s", flush=True)
    print()
    print(report(rows, list(compressors)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
