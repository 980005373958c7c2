"""Faces the detector keeps: MTCNN's first look and the second look at small faces.

Since session 33 a face MTCNN finds under ``CONFIRM_SIDE`` (64) pixels across in the detector's
448 px copy stands only where a second look (a square three times its size cut from the picture
itself, scaled so that the face is 64, then 80 px across) finds it again with the detector's
``min_probability`` (0.9): the first look took textures for faces (kodim11's rusty pier at
0.99), and a face, even a false one, moves every thumbnail's window and is counted in the
manifest's ``faces``.

For each photo (the 24 Kodak photos of ``../shared/data/kodak``; skimage's astronaut, camera,
chelsea, coffee and rocket; scikit-learn's china and flower) it prints each face of the first
look (box, size in the detection copy, probability), the second look's probability for the
small ones and whether the face stands, and the CPU time of ``FaceDetector.detect`` with the
second look, and of ``FaceDetector.first_look`` (the detector before), each the best of three,
in the same process. ``--sheet FILE`` draws every face of the first look with its verdict.

Usage::

    .venv/bin/python bench/bench_faces.py
    .venv/bin/python bench/bench_faces.py --sheet /tmp/faces.png
"""
from __future__ import annotations

import one_thread  # noqa: F401 -- first: one thread per library, as one worker has

import argparse  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from PIL import Image, ImageDraw  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
SKIMAGE = ("astronaut", "camera", "chelsea", "coffee", "rocket")

from compress_core.energy import faces  # noqa: E402
from photo_sets import kodak_photos, skimage_photos, sklearn_photos  # noqa: E402


def photos():
    yield from kodak_photos()
    yield from skimage_photos(SKIMAGE)
    yield from sklearn_photos()


def cpu_ms(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sheet", help="draw each face of the first look with its verdict")
    args = parser.parse_args()
    detector = faces.FaceDetector().load()
    tiles, with_ms, without_ms, counts = [], 0.0, 0.0, [0, 0, 0]
    print(f"{'photo':10s} {'face box':24s} {'copy px':>7s} {'first':>6s} {'second':>6s}  verdict")
    for name, rgb in photos():
        first = detector.first_look(rgb)
        kept = detector.detect(rgb)
        scale = min(1.0, faces.DETECT_SIDE / max(rgb.shape[:2]))
        for face in first:
            l, t, r, b = face.box
            seen = max(r - l, b - t) * scale
            small = faces.needs_second_look(face, rgb.shape[:2])
            again = detector.second_look(rgb, [face])[0] if small else None
            stands = any(k.box == face.box for k in kept)
            counts[0] += 1
            counts[1] += small
            counts[2] += stands
            print(f"{name:10s} {str(face.box):24s} {seen:7.0f} {face.probability:6.3f} "
                  f"{'' if again is None else f'{again:.3f}':>6s}  "
                  f"{'stands' if stands else 'dropped'}{'' if small else ' (large: one look)'}")
            pad = r - l
            tile = Image.fromarray(rgb).crop((l - pad, t - pad, r + pad, b + pad)) \
                .resize((150, 150), Image.Resampling.BILINEAR)
            draw = ImageDraw.Draw(tile)
            draw.text((3, 3), name, fill=(255, 255, 0))
            draw.text((3, 135), f"{face.probability:.3f} "
                      f"{'' if again is None else f'{again:.3f} '}"
                      f"{'stands' if stands else 'DROPPED'}", fill=(255, 255, 0))
            tiles.append(tile)
        without_ms += cpu_ms(lambda: detector.first_look(rgb))
        with_ms += cpu_ms(lambda: detector.detect(rgb))
    print(f"\nfaces of the first look: {counts[0]}; small (a second look): {counts[1]}; "
          f"standing: {counts[2]}")
    print(f"CPU of detect() over the photos (best of three each): without the second look "
          f"{without_ms:.0f} ms, with it {with_ms:.0f} ms ({with_ms / without_ms:.2f}x)")
    if args.sheet and tiles:
        cols = 6
        sheet = Image.new("RGB", (cols * 152, -(-len(tiles) // cols) * 152))
        for i, tile in enumerate(tiles):
            sheet.paste(tile, ((i % cols) * 152, (i // cols) * 152))
        sheet.save(args.sheet)
        print(f"sheet: {args.sheet}")


if __name__ == "__main__":
    main()
