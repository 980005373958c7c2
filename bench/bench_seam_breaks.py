"""Seams that step strong edges in thumbnails: the hybrid policy with and without its break check.

Since session 32 the hybrid method retries its carve with fewer seams (the most of its first
carve that step less, found by bisection) while the seams it keeps step strong, straight edges
at ``compress_core.hybrid.MAX_SEAM_BREAKS`` junctions or more
(``compress_core.seams.breaks.seam_breaks``: an edge that runs straight on both sides of a
junction, displaced there by an output pixel or more; counted as at two input pixels per output
pixel), or bend a long line along them (``seam_bends``, since session 34: a horizon that seams
cross one by one), or leave a contour in a smooth gradient where they bunch
(``compress_core.seams.bands.seam_bands``, since session 35: its length in output pixels, only
contours that show). Session 31's review of thumbnails without faces saw such steps at 1x in a
saucer's rim and mortar lines; visual review 34 a bent horizon in kodim06 at 600x314 and a
banded sky in kodim21 at 600x314.

For each photo (14 Kodak photos without people from ``../shared/data/kodak``, skimage's chelsea,
coffee, rocket, brick, colorwheel, clock, page, coins and text, scikit-learn's china and flower:
25; ``--kodak all`` takes all 24 Kodak photos, people included) at four aspect-changing sizes,
the default compressor (hybrid, deep energy) runs twice in the same process, photo by photo:
with the check, and without it (the policy before: no field made, nothing measured; with
``--baseline edges``, the check without the contours: session 34's policy).
For each it prints the outputs that differ, their seams and stretch, the breaks the output
keeps (stepped junctions, bent points and the contours' pixels, summed as the policy sums them;
on the kept seams; measured after the timing for the output without the check), and the CPU
time per thumbnail of each;
``--sheet FILE`` draws each changed output without and with the check, twice enlarged.

Usage::

    .venv/bin/python bench/bench_seam_breaks.py
    .venv/bin/python bench/bench_seam_breaks.py --kodak all --sheet /tmp/breaks.png
    .venv/bin/python bench/bench_seam_breaks.py --kodak all --sizes 600x314,288x512
    .venv/bin/python bench/bench_seam_breaks.py --kodak all --baseline edges
"""
from __future__ import annotations

import one_thread  # noqa: F401 -- first: one thread per library, as one worker has

import argparse  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from photo_sets import kodak_photos, skimage_photos, sklearn_photos  # noqa: E402

KODAK_WITHOUT_PEOPLE = ("01", "02", "03", "06", "08", "09", "11", "13", "19", "20", "21", "22",
                        "23", "24")
SKIMAGE = ("chelsea", "coffee", "rocket", "brick", "colorwheel", "clock", "page", "coins", "text")
SIZES = ((256, 256), (320, 180), (180, 320), (400, 100))


def photos(which: str):
    yield from kodak_photos(None if which == "all" else KODAK_WITHOUT_PEOPLE)
    yield from skimage_photos(SKIMAGE)
    yield from sklearn_photos()


def one(compressor, pixels, size):
    t = time.process_time()
    r = compressor.compress(pixels, target_width=size[0], target_height=size[1],
                            show_progress=False, format="png")
    return r, time.process_time() - t


def steps_kept(result, pixels, size) -> float:
    """The breaks ``result``'s seams keep (stepped junctions, bent points, contour pixels),
    measured as the policy measures them."""
    from compress_core.hybrid import resample
    from compress_core.seams.meter import StepMeter

    source = result.source_before_resampling
    if source is None or not sum(result.seams.values()):
        return 0.0
    work = result.operations.get("working_size")
    vertical = result.seams["vertical"] > 0
    scale = source.shape[0] / size[1] if vertical else source.shape[1] / size[0]
    return StepMeter(pixels if work is None else resample(pixels, *work))(source, vertical, scale)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kodak", choices=("without_people", "all"), default="without_people")
    ap.add_argument("--sheet", help="draw the changed outputs (off | on) into this PNG")
    ap.add_argument("--baseline", choices=("none", "edges"), default="none",
                    help="the policy compared with: no check (default), or the steps and bends "
                    "only (no contours)")
    ap.add_argument("--sizes", help="comma-separated WxH (default: "
                    + ",".join(f"{w}x{h}" for w, h in SIZES) + ")")
    args = ap.parse_args()
    sizes = SIZES if not args.sizes else tuple(
        tuple(int(v) for v in size.split("x")) for size in args.sizes.split(","))

    from compress_core import SemanticCompressor
    from compress_core import hybrid
    from compress_core.seams import meter as step_meter

    compressor = SemanticCompressor()
    check = hybrid.MAX_SEAM_BREAKS
    meter, candidates = hybrid.StepMeter, step_meter.band_candidates
    compressor.compress(np.zeros((64, 96, 3), np.uint8), target_width=32, target_height=32,
                        show_progress=False)  # the model and kernels loaded before timing
    rows, cpu, tiles = [], {"off": 0.0, "on": 0.0}, []
    for name, pixels in photos(args.kodak):
        for size in sizes:
            results = {}
            for mode in ("off", "on"):
                if mode == "off" and args.baseline == "none":  # no field made, nothing measured
                    hybrid.StepMeter = lambda picture: (lambda *args: 0.0)
                elif mode == "off":  # no pair read for a contour, no shade made
                    step_meter.band_candidates = lambda *args: ()
                results[mode], seconds = one(compressor, pixels, size)
                hybrid.StepMeter, step_meter.band_candidates = meter, candidates
                cpu[mode] += seconds
            off, on = results["off"], results["on"]
            off.operations["seam_breaks"] = steps_kept(off, pixels, size)
            changed = not np.array_equal(off.pixels, on.pixels)
            rows.append((name, size, off, on, changed))
            if changed:
                print(f"{name:10s} {size[0]}x{size[1]}: seams {sum(off.seams.values()):3d} -> "
                      f"{sum(on.seams.values()):3d}, breaks "
                      f"{off.operations['seam_breaks']:.1f} -> {on.operations['seam_breaks']:.1f}, "
                      f"stretch {off.stretch:.3f} -> {on.stretch:.3f}", flush=True)
                if args.sheet:
                    tiles.append((f"{name} {size[0]}x{size[1]}", off.image, on.image))
    n = len(rows)
    without = "without the check" if args.baseline == "none" else "without the contours"
    carved = sum(1 for *_, off, on, _c in rows if sum(off.seams.values()))
    changed = sum(1 for *_, c in rows if c)
    stepped_off = sum(1 for *_, off, on, _c in rows
                      if off.operations.get("seam_breaks", 0) >= check)
    stepped_on = sum(1 for *_, on, _c in rows if on.operations.get("seam_breaks", 0) >= check)
    print(f"\n{n} thumbnails ({n // len(sizes)} photos x {len(sizes)} sizes), {carved} carved "
          f"{without}; changed by it: {changed}")
    print(f"outputs with breaks >= {check}: {without} {stepped_off}, "
          f"with it {stepped_on}")
    bins = ((0, 1), (1, 2), (2, check), (check, float("inf")))
    for label, k in ((without, 2), ("with it", 3)):
        counts = [r[k].operations.get("seam_breaks", 0) for r in rows]
        print(f"outputs by breaks {label}: " + ", ".join(
            f"[{lo:g}, {hi:g}): {sum(1 for c in counts if lo <= c < hi and c > 0)}"
            for lo, hi in bins))
    worst = max(on.stretch for *_, on, _c in rows)
    print(f"largest stretch with the check: {worst:.3f}")
    print(f"CPU per thumbnail: {without} {cpu['off'] / n * 1000:.0f} ms, with it "
          f"{cpu['on'] / n * 1000:.0f} ms ({cpu['on'] / cpu['off']:.3f}x)")
    if args.sheet and tiles:
        scale = 2
        widths = [2 * t[1].width * scale + 10 for t in tiles]
        heights = [t[1].height * scale + 16 for t in tiles]
        sheet = Image.new("RGB", (max(widths), sum(heights) + 4 * len(tiles)), "grey")
        y = 0
        for (label, a, b), h in zip(tiles, heights):
            a, b = (im.convert("RGB").resize((im.width * scale, im.height * scale),
                                             Image.Resampling.LANCZOS) for im in (a, b))
            sheet.paste(a, (0, y + 16))
            sheet.paste(b, (a.width + 10, y + 16))
            ImageDraw.Draw(sheet).text((2, y + 2), f"{label}: {without} | with it",
                                       fill=(255, 255, 255))
            y += h + 4
        sheet.save(args.sheet)
        print(f"sheet: {args.sheet}")


if __name__ == "__main__":
    main()
