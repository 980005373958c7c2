"""The damaged-JPEG check (compress_core.codec.jpeg_scans): its time against Pillow's decode of
the same file, measured in the same run, and what it finds in damaged files.

    .venv/bin/python bench/bench_jpeg_damage.py [--photos N]

Timing: Kodak photos enlarged to 3, 12 and 24 megapixels, written by Pillow (libjpeg) at
quality 92 as baseline and progressive files (at 24 MP also quality 98 without subsampling:
more bytes a pixel, and the walk's time follows the bytes); the best of 3 runs of ``damage()`` and of
``Image.open().load()`` (the full decode; thumbnails decode at a DCT scale, faster). Finding:
for each photo at 768 x 512, 10 places in its compressed data of each kind of damage: 200 bytes
changed (formats review 41's way), one byte changed, the file cut there and ended with an EOI
marker; counted where Pillow decodes the file without an error (where it raises, the check is
not reached).
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import one_thread  # noqa: E402,F401  (before NumPy and Numba)

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from compress_core.codec.jpeg_scans import damage  # noqa: E402
from photo_sets import kodak_photos  # noqa: E402


def _jpeg(img: Image.Image, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", **kwargs)
    return buf.getvalue()


def _best(fn, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _damaged(data: bytes, at: int, kind: str) -> bytes:
    out = bytearray(data)
    if kind == "200 bytes":
        for i in range(at, min(at + 200, len(out) - 2)):
            out[i] = (out[i] * 7 + 13) & 0xFF if out[i] != 0xFF else 0
    elif kind == "1 byte":
        out[at] ^= 0x5A
    else:
        out = out[:at] + b"\xff\xd9"
    return bytes(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=6)
    args = parser.parse_args()
    photos = [Image.fromarray(a) for _, a in kodak_photos()][:args.photos]
    damage(_jpeg(photos[0].resize((64, 48))))   # (compiled first)
    print("| picture | file | check s | decode s | check / decode |")
    print("|---|---:|---:|---:|---:|")
    photo = photos[0]
    for megapixels in (3, 12, 24):
        side = (megapixels * 1e6 / 6) ** 0.5
        big = photo.resize((int(side * 3), int(side * 2)), Image.LANCZOS)
        settings = [dict(quality=92, progressive=p) for p in (False, True)]
        if megapixels == 24:   # dense: more bytes a pixel, more time a pixel
            settings += [dict(quality=98, subsampling=0, progressive=p) for p in (False, True)]
        for kwargs in settings:
            data = _jpeg(big, **kwargs)
            assert damage(data) is None
            check = _best(lambda: damage(data))
            decode = _best(lambda: Image.open(io.BytesIO(data)).load())
            kind = ("progressive" if kwargs["progressive"] else "baseline") + (
                f" q{kwargs['quality']}" + (" 4:4:4" if kwargs.get("subsampling") == 0 else ""))
            print(f"| {big.width} x {big.height} {kind} | {len(data):,} | {check:.3f} | "
                  f"{decode:.3f} | {check / decode:.2f} |")
    rng = np.random.default_rng(41)
    found = {}
    for img in photos:
        for progressive in (False, True):
            data = _jpeg(img, quality=90, progressive=progressive)
            start = data.find(b"\xff\xda")
            for kind in ("200 bytes", "1 byte", "cut, EOI"):
                for at in rng.integers(start + 20, len(data) - 210, 10):
                    bad = _damaged(data, int(at), kind)
                    try:
                        Image.open(io.BytesIO(bad)).load()
                    except Exception:   # noqa: BLE001 -- Pillow's own error comes first
                        continue
                    key = (kind, "progressive" if progressive else "baseline")
                    seen, said = found.get(key, (0, 0))
                    found[key] = (seen + 1, said + (damage(bad) is not None))
    print()
    print("| damage | file | decoded by Pillow without an error | found |")
    print("|---|---|---:|---:|")
    for (kind, frame), (seen, said) in sorted(found.items()):
        print(f"| {kind} | {frame} | {seen} | {said} ({100 * said / max(seen, 1):.0f}%) |")


if __name__ == "__main__":
    main()
