"""The aspect kept: what cropping "nearly empty" margins before scaling bought, and its cost.

Until session 29 the hybrid method, where the target keeps the picture's aspect (the job's
default ``scale=0.5``, ``max_dimension``), cropped margins whose importance density was under a
quarter of the mean (``HybridPolicy(free_crop_density=0.25)``) before scaling, so the default
job computed the deep importance map (CNN + face search) of every photo. Now the whole picture
is scaled and no map is computed (``free_crop_density=None``, the default).

For each picture (the 24 Kodak photos, skimage's and scikit-learn's colour photos, and
``--crops`` random crops of each, 45-100% of each side, seeded: framings with and without
margins), at ``scale=0.5`` and ``max_dimension=256``, this counts the pictures whose margins the
old policy crops, with the default deep map and with the gradient map (the cheap alternative),
and prints each such crop; ``--sheet FILE`` draws them (red: deep map, cyan: gradient map).
Then CPU time per ``compress()`` at ``scale=0.5`` on the Kodak photos, one thread, the policies
alternating photo by photo in the same run: the old policy with the deep map against the
default.

Usage::

    .venv/bin/python bench/bench_margin_crop.py                  # 8 crops per photo
    .venv/bin/python bench/bench_margin_crop.py --crops 2 --sheet /tmp/margins.png
"""
from __future__ import annotations

import one_thread  # noqa: F401 -- first: one thread per library, as one worker has

import argparse  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
KODAK = os.path.join(ROOT, "..", "shared", "data", "kodak")
SKIMAGE = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field",
           "immunohistochemistry", "cat", "retina")
TARGETS = (("scale 0.5", dict(scale=0.5)), ("max_dimension 256", dict(max_dimension=256)))
OLD = 0.25  # free_crop_density before session 29


def pictures(kodak: str, crops: int):
    import skimage.data
    from sklearn.datasets import load_sample_images

    whole = [(n, np.asarray(Image.open(os.path.join(kodak, n)).convert("RGB")))
             for n in sorted(f for f in os.listdir(kodak) if f.endswith(".png"))]
    whole += [(n, getattr(skimage.data, n)()) for n in SKIMAGE]
    whole += [(f"sklearn{i}", a) for i, a in enumerate(load_sample_images().images)]
    whole = [(n, a) for n, a in whole if a.ndim == 3 and a.shape[2] == 3]
    rng = np.random.default_rng(0)
    out = list(whole)
    for name, a in whole:
        h, w = a.shape[:2]
        for j in range(crops):
            cw, ch = int(w * rng.uniform(0.45, 1.0)), int(h * rng.uniform(0.45, 1.0))
            x, y = rng.integers(0, w - cw + 1), rng.integers(0, h - ch + 1)
            out.append((f"{name} crop {j}", np.ascontiguousarray(a[y:y + ch, x:x + cw])))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kodak", default=KODAK)
    ap.add_argument("--crops", type=int, default=8, help="random crops per photo (default 8)")
    ap.add_argument("--sheet", default=None, help="draw the cropped pictures into this PNG")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from compress_core import HybridPolicy, SemanticCompressor
    from compress_core.energy.registry import make_energy

    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    items = pictures(args.kodak, args.crops)
    old = HybridPolicy(free_crop_density=OLD)
    deep_old = SemanticCompressor(policy=old)
    gradient_old = SemanticCompressor(make_energy("gradient"), policy=old)
    default = SemanticCompressor()
    print(f"library at {commit}; {len(items)} pictures ({args.crops} crops of each photo)\n")

    drawn = []
    print("| target | old policy, deep map: cropped | old policy, gradient map: cropped | "
          "default: cropped |")
    print("|---|---:|---:|---:|")
    listed = []
    for label, target in TARGETS:
        counts = [0, 0, 0]
        for name, a in items:
            boxes = []
            for i, c in enumerate((deep_old, gradient_old, default)):
                r = c.compress(a, show_progress=False, quality=85, **target)
                box = r.operations.get("margin_crop")
                counts[i] += box is not None
                boxes.append(box)
            if boxes[0] or boxes[1]:
                listed.append(f"- {label}, {name} ({a.shape[1]}x{a.shape[0]}): deep map "
                              f"{boxes[0] or 'none'}, gradient map {boxes[1] or 'none'}")
                if label == TARGETS[0][0]:
                    drawn.append((a, boxes[0], boxes[1]))
        n = len(items)
        print(f"| {label} | {counts[0]} of {n} | {counts[1]} of {n} | {counts[2]} of {n} |")
    print("\nCrops (left, top, right, bottom, in the picture's pixels):")
    print("\n".join(listed))

    kodak = [a for n, a in items if n.endswith(".png")]
    default.compress(kodak[0], scale=0.5, show_progress=False)
    cpu = {"old": [], "default": []}
    stages = {"old": 0.0, "default": 0.0}
    for a in kodak:
        for key, c in (("old", deep_old), ("default", default)):
            t0 = time.process_time()
            r = c.compress(a, scale=0.5, show_progress=False)
            cpu[key].append(time.process_time() - t0)
            stages[key] += r.timings["energy_ms"]
    n = len(kodak)
    print(f"\nCPU per compress(scale=0.5), {n} Kodak photos, one thread, alternating:")
    print("| policy | CPU s per photo (mean) | max | energy ms (mean) |")
    print("|---|---:|---:|---:|")
    for key, label in (("old", f"old (free_crop_density={OLD}, deep map)"),
                       ("default", "default (whole picture, no map)")):
        print(f"| {label} | {np.mean(cpu[key]):.3f} | {max(cpu[key]):.3f} | "
              f"{stages[key] / n:.1f} |")
    print(f"speed-up: {np.mean(cpu['old']) / np.mean(cpu['default']):.2f}x")

    if args.sheet and drawn:
        tiles = []
        for a, deep_box, gradient_box in drawn:
            img = Image.fromarray(a)
            img.thumbnail((300, 300))
            f = img.width / a.shape[1]
            draw = ImageDraw.Draw(img)
            for box, colour in ((deep_box, (255, 0, 0)), (gradient_box, (0, 255, 255))):
                if box:
                    draw.rectangle([box[0] * f, box[1] * f, box[2] * f - 1, box[3] * f - 1],
                                   outline=colour, width=2)
            tiles.append(img)
        cols = 5
        sheet = Image.new("RGB", (cols * 310, 310 * ((len(tiles) + cols - 1) // cols)), "white")
        for i, t in enumerate(tiles):
            sheet.paste(t, ((i % cols) * 310, (i // cols) * 310))
        sheet.save(args.sheet)
        print(f"\ncontact sheet: {args.sheet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
