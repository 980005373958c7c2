"""Thumbnails of rows of people: what a crop that leaves a face out keeps of that person.

A portrait or square thumbnail of a row of people holds one or two of them; the others are
left out. Since session 34 a face left out leaves its head and then its person out where a
window can (``energy.faces.person_box``); before, a window beside the left-out face's head
kept a strip of that person's shoulders at the frame's edge.

The rows are composed: tiles of skimage's astronaut (head and shoulders) and cameraman on a
blurred copy of skimage's coffee, eight rows (different counts, sizes, gaps). Each row goes to
five sizes (180x320, 256x256, 200x250, 100x400, 320x180) by ``hybrid`` and ``smart_crop``,
the library's defaults otherwise. For each thumbnail and each tile, through ``source_map``:
``in`` (its detected face held), ``out`` (no pixel of the tile), ``strip N`` (N pixels of the
tile of a face the thumbnail does not hold), ``noface N`` (pixels of a tile whose face the
detector does not find: no rule can know it). Prints one line per thumbnail and the totals;
``--sheet DIR`` writes the thumbnails there.

Usage::

    .venv/bin/python bench/bench_people_rows.py
"""
from __future__ import annotations

import one_thread  # noqa: F401 -- first: one thread per library, as one worker has

import argparse  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image, ImageFilter  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from compress_core import SemanticCompressor  # noqa: E402
from compress_core.energy.faces import FaceDetector  # noqa: E402

SIZES = ((180, 320), (256, 256), (200, 250), (100, 400), (320, 180))


def tiles():
    """The astronaut's head and shoulders, and the cameraman's, as RGB pictures."""
    from skimage import data

    astronaut = Image.fromarray(data.astronaut()).crop((110, 0, 340, 280))
    camera = Image.fromarray(np.dstack([data.camera()] * 3)).crop((150, 20, 420, 330))
    return astronaut, camera


def row(people, width=1000, height=400, tall=110, step=190, left=60, top=150):
    """A row of ``people`` (tiles), ``tall`` px high, ``step`` apart, on a blurred ground;
    returns the picture and each tile's box."""
    from skimage import data

    ground = Image.fromarray(data.coffee()).resize((width, height), Image.Resampling.LANCZOS)
    ground = ground.filter(ImageFilter.GaussianBlur(6))
    boxes = []
    for i, tile in enumerate(people):
        tile = tile.resize((round(tile.width * tall / tile.height), tall),
                           Image.Resampling.LANCZOS)
        x = left + i * step
        ground.paste(tile, (x, top))
        boxes.append((x, top, x + tile.width, top + tile.height))
    return np.asarray(ground), boxes


def rows():
    a, c = tiles()
    yield "five", row([a] * 5)
    yield "five, mixed", row([a, c, a, c, a])
    yield "four, wide gaps", row([a] * 4, step=240)
    yield "five, taller", row([a] * 5, tall=130, step=185)
    yield "five, 140 px", row([a] * 5, tall=140, step=185)
    yield "four, 140 px", row([a] * 4, width=775, tall=140, step=185, left=40)
    yield "two, far apart", row([a] * 2, tall=200, step=600, left=80, top=120)
    yield "three, to the bottom", row([a] * 3, tall=250, step=330, left=40)


def verdicts(result, faces, boxes, width):
    """Each tile's verdict in one thumbnail (see the module's docstring)."""
    ys, xs = np.divmod(result.source_map, width)
    out = []
    for l, t, r, b in boxes:
        face = [f for f in faces if l <= (f.box[0] + f.box[2]) / 2 < r]
        n = int(((xs >= l) & (xs < r) & (ys >= t) & (ys < b)).sum())
        if not face:
            out.append("out" if n == 0 else f"noface {n}")
            continue
        fl, ft, fr, fb = face[0].box
        if ((xs >= fl) & (xs < fr) & (ys >= ft) & (ys < fb)).any():
            out.append("in")
        else:
            out.append("out" if n == 0 else f"strip {n}")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sheet", help="folder for the thumbnails (PNG)")
    args = parser.parse_args()
    if args.sheet:
        os.makedirs(args.sheet, exist_ok=True)
    compressor, detector = SemanticCompressor(), FaceDetector()
    strips, pixels, total = {}, {}, 0
    for name, (picture, boxes) in rows():
        faces = detector.detect(picture)
        for width, height in SIZES:
            for method in ("hybrid", "smart_crop"):
                result = compressor.compress(picture, target_width=width,
                                             target_height=height, method=method,
                                             format="png", show_progress=False)
                tiles_seen = verdicts(result, faces, boxes, picture.shape[1])
                print(f"{name:22s} {len(faces)} faces {width}x{height} {method:10s} "
                      f"crop {result.crop_box}: {', '.join(tiles_seen)}", flush=True)
                found = [int(v.split()[1]) for v in tiles_seen if v.startswith("strip")]
                total += 1
                strips[method] = strips.get(method, 0) + bool(found)
                pixels.setdefault(method, []).extend(found)
                if args.sheet:
                    result.image.save(os.path.join(
                        args.sheet, f"{name.replace(', ', '_').replace(' ', '_')}"
                                    f"_{method}_{width}x{height}.png"))
    for method in ("hybrid", "smart_crop"):
        found = pixels.get(method, [])
        print(f"{method}: {strips.get(method, 0)} of {total // 2} thumbnails keep a strip of a "
              f"person left out" + (f" ({min(found)}-{max(found)} px)" if found else ""))


if __name__ == "__main__":
    main()
