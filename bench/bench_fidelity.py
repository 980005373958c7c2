"""Fidelity on the Kodak photos, on two axes: meaning kept and geometry kept.

Tasks users ask for (each from landscape and portrait photos): square thumbnails, 16:9 banners,
3:1 strips, 4:5 and 9:16 portraits, width to 50% (continuity with earlier tables), and a
free-aspect 50% of the pixels (plain Lanczos is the bar). Per output:

* **meaning** (``fidelity_judge``): a judge classifier that is not the energy's backbone
  (EfficientNet-Lite1, 240x240 letterbox) classifies original and output; ``KL`` is
  KL(p_original || p_output), ``kept`` p_output(c) / p_original(c) for the original's top class;
* **geometry** (``fidelity_geometry``): subject stretch (exp of the importance-weighted mean
  |log| of the local anisotropy of the original -> output mapping, estimated from SIFT matches
  and local affine fits), its 90th percentile, the background's stretch, the break rate and the
  coverage of the importance; the importance is the judge's own top-5 CAM max-combined with
  MTCNN face boxes. For our methods the same is also computed exactly from
  ``CompressionResult.source_map`` when the library provides it.

Methods, all measured in the same run: the Lanczos squeeze (reference), a centre crop, libvips
``thumbnail(crop="attention")`` and ``crop="entropy"``, smartcrop.py, li-plus seam carving
(forward energy, after a uniform scale that covers the target), an *oracle crop* (the judge's
favourite of 11 windows of the target aspect: the ceiling of pure cropping), and ours: the
default ``SemanticCompressor().compress(...)`` (hybrid), ``method="smart_crop"`` and
``method="seam_carving"``. Zero-stretch baselines of the goal check: centre crop, vips
attention / entropy, smartcrop.py.

The judge's per-original outputs (probabilities, CAM, faces) and every per-output result are
cached under ``--out``/cache; baselines are recomputed when the metric modules change, ours when
the library files that shape the pixels (:data:`LIBRARY_FILES`) change.

Usage::

    .venv/bin/python bench/bench_fidelity.py [--tasks square,banner,...] [--photos N]
        [--kodak DIR] [--out bench/out] [--sheets docs/fidelity]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

import fidelity_geometry as geometry
from fidelity_judge import FaceDetector, Judge, compare, importance_map

log = logging.getLogger("bench_fidelity")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_KODAK = ROOT.parent / "shared" / "data" / "kodak"
#: Bump when a baseline's implementation changes (their cached results are then recomputed).
BASELINE_VERSION = "1"
#: A photo whose subject stretch exceeds this breaks the issue's limit.
STRETCH_LIMIT = 1.10
#: Photos shown on the contact sheets when they are in the run (faces, parrots, airplane, caps).
SHEET_PHOTOS = ("kodim04", "kodim15", "kodim18", "kodim23", "kodim20", "kodim03")


# ------------------------------------------------------------------------------------ tasks
def _fixed(tw, th):
    return lambda w, h: (tw, th)


#: name -> (label, target size from (w, h), free aspect)
TASKS = {
    "square": ("square 320x320", _fixed(320, 320), False),
    "banner": ("banner 16:9 512x288", _fixed(512, 288), False),
    "portrait": ("portrait 4:5 320x400", _fixed(320, 400), False),
    "story": ("story 9:16 288x512", _fixed(288, 512), False),
    # a band of the picture: where a banner's window rises to the subjects' tops
    # (crop.BANNER_RISE; visual review 38)
    "strip": ("strip 3:1 600x200", _fixed(600, 200), False),
    "width50": ("width 50%", lambda w, h: (round(w * 0.5), h), False),
    "free50": ("free aspect, 50% of the pixels",
               lambda w, h: (round(w * math.sqrt(0.5)), round(h * math.sqrt(0.5))), True),
    # a sixteenth of the photo's height or less: the library decides on the photo reduced to
    # twice the output's size (384 x 256), where every task above decides on the whole photo
    "thumb": ("thumbnail 128x128", _fixed(128, 128), False),
}


# ---------------------------------------------------------------------------------- methods
def lanczos(img, tw, th):
    return np.asarray(Image.fromarray(np.ascontiguousarray(img)).resize(
        (tw, th), Image.Resampling.LANCZOS))


def crop_box(img, box, tw, th):
    left, top, right, bottom = box
    return lanczos(np.ascontiguousarray(img[top:bottom, left:right]), tw, th)


def aspect_window(w, h, tw, th, share=1.0):
    """Size ``(cw, ch)`` of the largest window of the target aspect, times ``share``."""
    f = min(w / tw, h / th) * share
    return min(w, round(tw * f)), min(h, round(th * f))


def centre_crop(img, tw, th):
    h, w = img.shape[:2]
    cw, ch = aspect_window(w, h, tw, th)
    left, top = (w - cw) // 2, (h - ch) // 2
    return crop_box(img, (left, top, left + cw, top + ch), tw, th)


def vips(crop):
    def run(img, tw, th):
        import pyvips

        h, w = img.shape[:2]
        image = pyvips.Image.new_from_memory(np.ascontiguousarray(img).tobytes(), w, h, 3,
                                             "uchar")
        out = image.thumbnail_image(tw, height=th, crop=crop, size="both")
        arr = np.ndarray(buffer=out.write_to_memory(), dtype=np.uint8,
                         shape=(out.height, out.width, out.bands))
        return arr if arr.shape[:2] == (th, tw) else lanczos(arr, tw, th)
    return run


def smartcrop_py(img, tw, th):
    import smartcrop

    box = smartcrop.SmartCrop().crop(Image.fromarray(img), tw, th)["top_crop"]
    x, y = box["x"], box["y"]
    return crop_box(img, (x, y, x + box["width"], y + box["height"]), tw, th)


def li_plus(img, tw, th):
    """li-plus seam carving 1.1.0 (forward energy) after a uniform Lanczos scale to the smallest
    size that covers the target, so seams remove only the aspect change."""
    import seam_carving

    h, w = img.shape[:2]
    f = min(1.0, max(tw / w, th / h))
    scaled = lanczos(img, max(tw, round(w * f)), max(th, round(h * f))) if f < 1 else img
    return seam_carving.resize(scaled, (tw, th), energy_mode="forward", order="width-first")


#: Oracle windows: (share of the largest window of the target aspect, placements).
ORACLE_WINDOWS = ((1.0, ((0.0, 0.5), (0.25, 0.5), (0.5, 0.5), (0.75, 0.5), (1.0, 0.5),
                         (0.5, 0.0), (0.5, 0.25), (0.5, 0.75), (0.5, 1.0))),
                  (0.8, ((0.5, 0.5), (0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0))),
                  (0.64, ((0.5, 0.5),)))


def oracle_boxes(w, h, tw, th):
    """The distinct windows of the target aspect (11 for any aspect change: the largest at 5
    places along its free axis, 0.8 of it at the centre and the corners, 0.64 at the centre)."""
    boxes = []
    for share, places in ORACLE_WINDOWS:
        cw, ch = aspect_window(w, h, tw, th, share)
        for fx, fy in places:
            left, top = round((w - cw) * fx), round((h - ch) * fy)
            box = (left, top, left + cw, top + ch)
            if box not in boxes:
                boxes.append(box)
    return boxes


def resampling_map(w, h, tw, th):
    """Flat source map of a plain resampling of the whole ``w x h`` input to ``tw x th``
    (nearest input pixel of each output pixel centre)."""
    ys = np.minimum(((np.arange(th) + 0.5) * (h / th)).astype(np.int64), h - 1)
    xs = np.minimum(((np.arange(tw) + 0.5) * (w / tw)).astype(np.int64), w - 1)
    return ys[:, None] * w + xs[None, :]


class Ours:
    """``SemanticCompressor().compress`` with a target size; returns the pixels, the source map
    (``CompressionResult.source_map``, which is None when only resampling happened: then the
    map of that resampling) and what the library says it did."""

    def __init__(self, compressor, method):
        self.compressor, self.method = compressor, method.split(":")[0]

    def __call__(self, img, tw, th):
        result = self.compressor.compress(img, method=self.method, target_width=tw,
                                          target_height=th, show_progress=False, format="png")
        if not hasattr(result, "source_map"):  # a library without source maps
            return result.pixels, None, {}
        source_map = result.source_map
        if source_map is None:
            h, w = img.shape[:2]
            source_map = resampling_map(w, h, tw, th)
        said = {"library_stretch": getattr(result, "stretch", None),
                "operations": json.loads(json.dumps(result.operations, default=str))}
        return result.pixels, source_map, said


ZERO_STRETCH = ("centre crop", "vips attention", "vips entropy", "smartcrop.py")
DEFAULT = "ours: hybrid (default)"
ORACLE = "oracle crop (judge)"


OURS = {"hybrid": DEFAULT, "smart_crop": "ours: smart_crop", "seam_carving": "ours: seam_carving",
        # the default deciding on the whole photo whatever the output's size (the library
        # before the working size; HybridPolicy(working_oversample=None))
        "hybrid:whole": "ours: hybrid on the whole photo",
        # the carve of these 768 px photos planned on a 256 px copy, as a 24-megapixel photo's
        # is on 768 px (HybridPolicy(plan_side=256); the default does not plan them)
        "hybrid:plan256": "ours: hybrid, carve planned on a 256 px copy"}


def make_methods(free, ours=tuple(OURS)):
    from compress_core import HybridPolicy, SemanticCompressor

    compressor = SemanticCompressor()
    variants = {"whole": SemanticCompressor(policy=HybridPolicy(working_oversample=None)),
                "plan256": SemanticCompressor(policy=HybridPolicy(plan_side=256))}
    if free:
        return {"Lanczos": lanczos, DEFAULT: Ours(compressor, "hybrid")}
    methods = {
        "squeeze (Lanczos)": lanczos,
        "centre crop": centre_crop,
        "vips attention": vips("attention"),
        "vips entropy": vips("entropy"),
        "smartcrop.py": smartcrop_py,
        "li-plus seams (scaled)": li_plus,
        ORACLE: None,  # needs the judge: see run_photo_task
    }
    methods.update({OURS[m]: Ours(variants[m.split(":")[1]] if ":" in m else compressor, m)
                    for m in ours})
    return methods


# ------------------------------------------------------------------------------------ cache
def _digest(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else str(p).encode())
    return h.hexdigest()[:16]


def _sources(*paths) -> bytes:
    return b"".join(Path(p).read_bytes() for p in paths)


METRIC_KEY = _digest(_sources(HERE / "fidelity_geometry.py", HERE / "fidelity_judge.py"))
#: The library files that shape our outputs' pixels (not the encoders, reports, CLI).
LIBRARY_FILES = ("compressor.py", "result.py", "hybrid.py", "crop.py", "targets.py",
                 "request.py", "images.py", "energy/*.py", "seams/*.py")
LIBRARY_KEY = _digest(_sources(*sorted(p for pattern in LIBRARY_FILES
                                       for p in (ROOT / "compress_core").glob(pattern))))


def _slug(text):
    return "".join(c if c.isalnum() else "_" for c in text).strip("_")


class Cache:
    def __init__(self, root: Path):
        self.root = root

    def original(self, path: Path, pixels, judge, faces):
        file = self.root / "originals" / f"{path.stem}.npz"
        key = _digest(METRIC_KEY, path.read_bytes())
        if file.exists():
            data = np.load(file)
            if str(data["key"]) == key:
                return data["probs"], data["cam"], data["boxes"]
        probs = judge.probs([pixels])[0]
        cam = judge.cam(pixels, probs)
        boxes = faces.boxes(pixels)
        file.parent.mkdir(parents=True, exist_ok=True)
        np.savez(file, key=key, probs=probs, cam=cam, boxes=boxes)
        return probs, cam, boxes

    def _file(self, task, method, photo):
        return self.root / "results" / _slug(task) / _slug(method) / f"{photo}.json"

    @staticmethod
    def key(method):
        return _digest(METRIC_KEY, LIBRARY_KEY if method.startswith("ours") else BASELINE_VERSION)

    def result(self, task, method, photo):
        file = self._file(task, method, photo)
        if file.exists():
            row = json.loads(file.read_text())
            if row.get("key") == self.key(method):
                return row
        return None

    def store(self, row, output=None):
        file = self._file(row["task"], row["method"], row["photo"])
        file.parent.mkdir(parents=True, exist_ok=True)
        if output is not None:
            Image.fromarray(np.ascontiguousarray(output[..., :3])).save(file.with_suffix(".png"))
        file.write_text(json.dumps(dict(row, key=self.key(row["method"]))))

    def image(self, task, method, photo):
        file = self._file(task, method, photo).with_suffix(".png")
        return np.asarray(Image.open(file).convert("RGB")) if file.exists() else None


# -------------------------------------------------------------------------------------- run
def run_photo_task(name, pixels, task, methods, judge, probs, importance, features, cache,
                   keep_image):
    """Results of every method on one photo and task (cached ones are reused)."""
    label, size, _ = TASKS[task]
    h, w = pixels.shape[:2]
    tw, th = size(w, h)
    rows, todo = [], {}
    for method, fn in methods.items():
        row = cache.result(label, method, name)
        if row is not None and (not keep_image or cache.image(label, method, name) is not None):
            rows.append(row)
            continue
        t = time.perf_counter()
        source_map, said = None, {}
        if method == ORACLE:
            boxes = oracle_boxes(w, h, tw, th)
            cands = [crop_box(pixels, b, tw, th) for b in boxes]
            kls = [compare(probs, p)["KL"] for p in judge.probs(cands)]
            out = cands[int(np.argmin(kls))]
        else:
            out = fn(pixels, tw, th)
            if isinstance(out, tuple):
                out, source_map, said = out
        seconds = time.perf_counter() - t
        if out.shape[:2] != (th, tw):
            raise AssertionError(f"{method} on {name}: {out.shape[:2]} instead of {(th, tw)}")
        row = dict(task=label, method=method, photo=name, orientation="portrait" if h > w
                   else "landscape", size=[tw, th], seconds=seconds)
        row.update(geometry.estimate_geometry(pixels, out, importance, features).as_dict())
        if source_map is not None:
            sx, sy = geometry.source_coordinates(source_map, w)
            exact = geometry.exact_geometry(sx, sy, (h, w), importance)
            row.update(exact_stretch=exact.stretch, exact_coverage=exact.coverage,
                       exact_break_rate=exact.break_rate)
        row.update(said)
        todo[method] = (row, out)
    if todo:
        for (row, out), p in zip(todo.values(), judge.probs([o for _, o in todo.values()])):
            row.update(compare(probs, p))
            cache.store(row, out if keep_image else None)
            rows.append(row)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kodak", default=str(DEFAULT_KODAK))
    parser.add_argument("--photos", type=int, default=24, help="first N photos")
    parser.add_argument("--tasks", default=",".join(TASKS),
                        help=f"comma list of {', '.join(TASKS)}")
    parser.add_argument("--ours", default=",".join(m for m in OURS if ":" not in m),
                        help=f"comma list of our methods to run: {', '.join(OURS)}")
    parser.add_argument("--out", default=str(HERE / "out"))
    parser.add_argument("--sheets", default=str(HERE / "out" / "sheets"),
                        help="folder for the contact sheets (docs/fidelity for the record)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("pyvips").setLevel(logging.WARNING)
    import torch

    torch.set_num_threads(min(2, torch.get_num_threads()))

    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    unknown = sorted(set(tasks) - set(TASKS))
    if unknown:
        raise SystemExit(f"unknown --tasks {unknown}; choose from {', '.join(TASKS)}")
    files = sorted(Path(args.kodak).glob("kodim*.png"))[: args.photos]
    if not files:
        raise SystemExit(f"no Kodak photos in {args.kodak}")
    judge, faces, cache = Judge(), FaceDetector(), Cache(Path(args.out) / "cache")
    sheet_names = [f.stem for f in files if f.stem in SHEET_PHOTOS] or [f.stem for f in files[:4]]
    ours = [m.strip() for m in args.ours.split(",") if m.strip()]
    if set(ours) - set(OURS):
        raise SystemExit(f"unknown --ours {sorted(set(ours) - set(OURS))}; choose from "
                         f"{', '.join(OURS)}")
    methods = {t: make_methods(TASKS[t][2], ours) for t in tasks}
    results = []
    t0 = time.time()
    for path in files:
        pixels = np.asarray(Image.open(path).convert("RGB"))
        probs, cam, boxes = cache.original(path, pixels, judge, faces)
        importance = importance_map(pixels.shape, cam, boxes)
        features = geometry.OriginalFeatures(pixels)
        for task in tasks:
            results += run_photo_task(path.stem, pixels, task, methods[task], judge, probs,
                                      importance, features, cache, path.stem in sheet_names)
        log.info("%s done (%.0f s)", path.stem, time.time() - t0)
        done = 1 + files.index(path)
        if done % 4 == 0 and done < len(files):  # a partial table to read while it runs
            Path(args.out, "fidelity_partial.md").write_text(
                report(results, [TASKS[t][0] for t in tasks], done))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "fidelity.json").write_text(json.dumps(results))
    text = report(results, [TASKS[t][0] for t in tasks], len(files))
    (out / "fidelity.md").write_text(text)
    Path(args.sheets).mkdir(parents=True, exist_ok=True)
    for task in tasks:
        label = TASKS[task][0]
        contact_sheet(files, sheet_names, label, list(methods[task]), results, cache,
                      Path(args.sheets) / f"contact_{_slug(label)}.jpg")
    print(text)


# ---------------------------------------------------------------------------------- report
def _mean(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None and np.isfinite(r[key])]
    return float(np.mean(vals)) if vals else float("nan")


def _fmt(v, digits=3):
    return "-" if v is None or not np.isfinite(v) else f"{v:.{digits}f}"


def library_commit() -> str:
    """The commit the measured library is at (``+changes`` when compress_core/ differs from it)."""
    import subprocess

    def git(*args):
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True,
                              text=True).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("+changes" if git("status", "--porcelain", "--", "compress_core") else "")


def report(results, labels, n):
    lines = [f"Library at {library_commit()}. "
             f"Judge: EfficientNet-Lite1 (ImageNet), {n} Kodak photos. Stretch: subject stretch "
             "(1.00 = none; mean / max over photos; p90: mean of the per-photo 90th "
             f"percentiles); > {STRETCH_LIMIT:.2f}: photos above the limit; background: the "
             "stretch weighted by 1 - importance; exact: stretch / coverage from the library's "
             "source map.", ""]
    for label in labels:
        rows = [r for r in results if r["task"] == label]
        if not rows:
            continue
        by = {}
        for r in rows:
            by.setdefault(r["method"], []).append(r)
        n_land = len({r["photo"] for r in rows if r["orientation"] == "landscape"})
        lines += [f"**{label}** ({n_land} landscape, {len({r['photo'] for r in rows}) - n_land} "
                  "portrait photos)", "",
                  "| method | mean KL | prob. kept | stretch mean | stretch max | p90 "
                  f"| > {STRETCH_LIMIT:.2f} | background | coverage | break rate | exact |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for method, rs in sorted(by.items(), key=lambda kv: _mean(kv[1], "KL")):
            stretches = [r["stretch"] for r in rs if np.isfinite(r["stretch"])]
            exact = "-"
            if any("exact_stretch" in r for r in rs):
                exact = f"{_fmt(_mean(rs, 'exact_stretch'))} / {_fmt(_mean(rs, 'exact_coverage'))}"
            lines.append(
                f"| {method} | {_fmt(_mean(rs, 'KL'))} | {_fmt(_mean(rs, 'kept'))} | "
                f"{_fmt(_mean(rs, 'stretch'))} | {_fmt(max(stretches) if stretches else None)} "
                f"| {_fmt(_mean(rs, 'stretch_p90'))} "
                f"| {sum(s > STRETCH_LIMIT for s in stretches)} "
                f"| {_fmt(_mean(rs, 'background_stretch'))} | {_fmt(_mean(rs, 'coverage'))} "
                f"| {_fmt(_mean(rs, 'break_rate'))} | {exact} |")
        lines += ["", goal_line(by), ""]
    lines += agreement(results)
    return "\n".join(lines)


def agreement(results):
    """How the SIFT estimate agrees with the exact source-map geometry, per method of ours, and
    the stretch the library records against both."""
    lines = []
    for method in dict.fromkeys(r["method"] for r in results if r.get("exact_stretch") is not None):
        rows = [r for r in results if r["method"] == method and r.get("exact_stretch") is not None
                and np.isfinite(r["exact_stretch"]) and np.isfinite(r["stretch"])]
        if not rows:
            continue
        ds = np.array([abs(r["stretch"] - r["exact_stretch"]) for r in rows])
        dc = np.array([abs(r["coverage"] - r["exact_coverage"]) for r in rows])
        text = (f"Estimate vs exact source map, {method} ({len(rows)} outputs): |stretch "
                f"difference| mean {ds.mean():.3f}, 95th percentile {np.percentile(ds, 95):.3f}, "
                f"max {ds.max():.3f}; |coverage difference| mean {dc.mean():.3f}, 95th "
                f"percentile {np.percentile(dc, 95):.3f}.")
        said = [r for r in rows if r.get("library_stretch") is not None]
        if said:
            worst = max(said, key=lambda r: r["exact_stretch"])
            recorded = max(r["library_stretch"] for r in said)
            text += (f" Stretch recorded by the library: max {recorded:.3f}; largest exact "
                     f"subject stretch {worst['exact_stretch']:.3f} ({worst['task']}, "
                     f"{worst['photo']}).")
        lines += [text, ""]
    return lines


def goal_line(by, draws=10000, seed=0):
    """The issue's check: default's mean KL / best zero-stretch baseline's (paired bootstrap
    95% interval), probability kept against it, photos above the stretch limit, the oracle."""
    if DEFAULT not in by:
        return ""
    photos = sorted(r["photo"] for r in by[DEFAULT])

    def col(method, key):
        rows = {r["photo"]: r.get(key, np.nan) for r in by.get(method, [])}
        return np.array([rows.get(p, np.nan) for p in photos])

    ours = col(DEFAULT, "KL")
    stretch = col(DEFAULT, "stretch")
    above = int(np.sum(stretch > STRETCH_LIMIT))
    bases = [m for m in ZERO_STRETCH if m in by]
    if not bases:
        lanczos_kl = col("Lanczos", "KL")
        return (f"Goal check: default mean KL {np.nanmean(ours):.3f} vs Lanczos "
                f"{np.nanmean(lanczos_kl):.3f} (difference {np.nanmean(ours - lanczos_kl):+.3f}; "
                "bar: within 0.02).")
    best = min(bases, key=lambda m: np.nanmean(col(m, "KL")))
    base = col(best, "KL")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(ours), size=(draws, len(ours)))
    ratios = np.nanmean(ours[idx], axis=1) / np.maximum(np.nanmean(base[idx], axis=1), 1e-12)
    low, high = np.percentile(ratios, [2.5, 97.5])
    text = (f"Goal check: default mean KL / best zero-stretch baseline ({best}) = "
            f"**{np.nanmean(ours) / np.nanmean(base):.2f}** (95% interval {low:.2f}-{high:.2f}; "
            f"goal <= 0.80; lower KL on {int(np.sum(ours < base))}/{len(ours)} photos); prob. "
            f"kept {np.nanmean(col(DEFAULT, 'kept')):.3f} vs {np.nanmean(col(best, 'kept')):.3f}; "
            f"photos above stretch {STRETCH_LIMIT:.2f}: **{above}**")
    if any("exact_stretch" in r for r in by[DEFAULT]):
        exact = col(DEFAULT, "exact_stretch")
        text += f" (exact: {int(np.sum(exact > STRETCH_LIMIT))})"
    if np.isnan(stretch).any():
        text += f", not measurable on {int(np.isnan(stretch).sum())}"
    if ORACLE in by:
        oracle = np.nanmean(col(ORACLE, "KL")) / np.nanmean(base)
        text += f"; oracle crop / best baseline = {oracle:.2f}"
    return text + "."


def contact_sheet(files, names, label, methods, results, cache, path, cell=180):
    """Originals (first column) and each method's output, labelled with KL and stretch."""
    rows = {(r["method"], r["photo"]): r for r in results if r["task"] == label}
    font = ImageFont.load_default(size=12)
    head, caption = 44, 16
    sheet = Image.new("RGB", (cell * (len(methods) + 1), head + (cell + caption) * len(names)),
                      "white")
    draw = ImageDraw.Draw(sheet)
    for j, title in enumerate(["original"] + methods):
        words = title.replace("ours: ", "ours:\n").replace(" (", "\n(")
        draw.multiline_text((cell * j + 4, 1), words, fill="black", font=font, spacing=1)
    originals = {f.stem: f for f in files}
    for i, name in enumerate(names):
        y = head + i * (cell + caption)
        draw.text((4, y + cell), name, fill="black", font=font)
        pics = [np.asarray(Image.open(originals[name]).convert("RGB"))]
        pics += [cache.image(label, m, name) for m in methods]
        for j, pic in enumerate(pics):
            if pic is None:
                continue
            im = Image.fromarray(pic)
            im.thumbnail((cell - 6, cell - 6), Image.Resampling.LANCZOS)
            sheet.paste(im, (cell * j + (cell - im.width) // 2, y + (cell - im.height) // 2))
            if j:
                r = rows.get((methods[j - 1], name))
                if r:
                    colour = "red" if r["stretch"] > STRETCH_LIMIT else "black"
                    draw.text((cell * j + 4, y + cell), f"KL {r['KL']:.2f}  stretch "
                              f"{r['stretch']:.2f}", fill=colour, font=font)
    sheet.save(path, quality=82, optimize=True)


if __name__ == "__main__":
    main()
