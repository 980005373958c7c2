"""Quick scan of hybrid-policy variants on the Kodak photos (how the no-stretch default was chosen).

Each variant compresses every photo to each task's size; the fidelity judge (EfficientNet-Lite1,
``fidelity_judge.Judge``) scores mean KL against the original, reported as a ratio to the centre
crop measured in the same run (lower is better). Task sizes keep about 35% of the photo's area
at the task's aspect (``--share``). The full two-axis benchmark (stretch, coverage, baselines)
is ``bench_fidelity.py``; this scan only compares policy settings on the judge's KL.

``--windows`` also scores 9 crop windows of the target aspect per photo: chosen by the default
energy's own backbone (EfficientNet-Lite0, least KL against its view of the original), and by
the judge itself (the oracle).

Usage (from the repository root)::

    .venv/bin/python bench/bench_policy_scan.py --tasks square,story [--photos 24] [--windows]
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from fidelity_judge import Judge, compare  # noqa: E402

DEFAULT_KODAK = HERE.parent.parent / "shared" / "data" / "kodak"
ASPECTS = {"square": (1, 1), "banner": (16, 9), "portrait": (4, 5), "story": (9, 16)}


def target_size(task: str, w: int, h: int, share: float):
    a, b = ASPECTS[task]
    th = int(round((w * h * share * b / a) ** 0.5))
    return int(round(th * a / b)), th


def lanczos(img, tw, th):
    return np.asarray(Image.fromarray(np.ascontiguousarray(img)).resize(
        (tw, th), Image.Resampling.LANCZOS))


def window(img, tw, th, k, n=9):
    """The k-th of n windows of the target aspect at the largest scale, then scaled."""
    h, w = img.shape[:2]
    f = min(w / tw, h / th)
    cw, ch = round(tw * f), round(th * f)
    left, top = round((w - cw) * k / (n - 1)), round((h - ch) * k / (n - 1))
    return lanczos(img[top:top + ch, left:left + cw], tw, th)


def variants():
    from compress_core import HybridPolicy, SemanticCompressor
    from compress_core.energy import DeepEnergyFunction

    cam = lambda: DeepEnergyFunction(aggregate_method="cam")  # noqa: E731
    return {
        "default hybrid": (SemanticCompressor(), "hybrid"),
        "cam energy": (SemanticCompressor(cam()), "hybrid"),
        "smart_crop, cam energy": (SemanticCompressor(cam()), "smart_crop"),
        "carve_density 1.0": (SemanticCompressor(policy=HybridPolicy(carve_density=1.0)),
                              "hybrid"),
        "cam + carve_density 1.0": (SemanticCompressor(cam(), policy=HybridPolicy(
            carve_density=1.0)), "hybrid"),
        "smart_crop (default energy)": (SemanticCompressor(), "smart_crop"),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--kodak", default=str(DEFAULT_KODAK))
    p.add_argument("--photos", type=int, default=24)
    p.add_argument("--tasks", default=",".join(ASPECTS))
    p.add_argument("--share", type=float, default=0.35)
    p.add_argument("--windows", action="store_true")
    args = p.parse_args(argv)
    files = sorted(f for f in os.listdir(args.kodak) if f.endswith(".png"))[:args.photos]
    photos = [np.asarray(Image.open(os.path.join(args.kodak, f)).convert("RGB")) for f in files]
    judge = Judge("lite1")
    p0 = judge.probs(photos)

    def mean_kl(outs):
        p = judge.probs(outs)
        return float(np.mean([compare(p0[i], p[i])["KL"] for i in range(len(outs))]))

    helper = Judge("lite0") if args.windows else None
    h0 = helper.probs(photos) if helper else None
    chosen = variants()
    print(f"{len(photos)} photos; KL / centre crop's KL (lower is better)")
    for task in args.tasks.split(","):
        sizes = [target_size(task, im.shape[1], im.shape[0], args.share) for im in photos]
        centre = mean_kl([window(im, *s, k=4) for im, s in zip(photos, sizes)])
        cells = [f"centre crop {centre:.3f}"]
        for name, (compressor, method) in chosen.items():
            outs = [compressor.compress(im, target_width=s[0], target_height=s[1], method=method,
                                        show_progress=False).pixels
                    for im, s in zip(photos, sizes)]
            cells.append(f"{name} {mean_kl(outs) / centre:.2f}x")
        if helper:
            picked, oracle = [], []
            for i, (im, s) in enumerate(zip(photos, sizes)):
                cands = [window(im, *s, k=k) for k in range(9)]
                by_lite0 = [compare(h0[i], q)["KL"] for q in helper.probs(cands)]
                picked.append(cands[int(np.argmin(by_lite0))])
                oracle.append(min(compare(p0[i], q)["KL"] for q in judge.probs(cands)))
            cells.append(f"Lite0-chosen window {mean_kl(picked) / centre:.2f}x")
            cells.append(f"judge's best window (oracle) {np.mean(oracle) / centre:.2f}x")
        print(f"{task}: " + "; ".join(cells), flush=True)


if __name__ == "__main__":
    main()
