"""Issue 12 kinds through the seam carver: arrays that reach the Numba kernels, ownership of the
caller's arrays, gray in / gray out, explicit seam orders, mask shapes.

Every kind runs in one child process, one JSON line per kind, so that a kind that crashes the
interpreter (a wrong-shape energy map used to corrupt the heap and abort Python) shows as a
crash row in the table instead of killing the test run.
"""
import json
import subprocess
import sys
import textwrap

import pytest

_SECTION = "Bad inputs: seam carver (issue 12)"

#: kind -> decided outcome; the child prints {"kind", "got", "ok"} for each.
_CHILD = textwrap.dedent(r'''
    import json, sys
    import numpy as np
    import seam_carving
    from PIL import Image
    from skimage import data
    from compress_core.energy import EnergyFunction
    from compress_core.energy.base import CarvingTerms
    from compress_core.errors import SemanticCompressError
    from compress_core.seams import SeamCarver, remove_object

    img = np.asarray(Image.fromarray(data.chelsea()).resize((80, 60), Image.LANCZOS))
    gray = np.asarray(Image.fromarray(data.camera()).resize((80, 60), Image.LANCZOS))
    ramp = (np.add.outer(np.arange(60), 3 * np.arange(80)) % 97 * 20).astype(np.float32)

    class WrongTerms(EnergyFunction):
        name = "wrong"
        def compute(self, rgb):
            return np.zeros(rgb.shape[:2], np.float32)
        def carving_terms(self, rgb):
            return CarvingTerms(np.zeros((5, 5), np.float32), 1.0)

    class InfMap(EnergyFunction):
        name = "inf"
        def compute(self, rgb):
            e = np.ones(rgb.shape[:2], np.float32)
            e[0, 0] = np.inf
            return e

    class Caching(EnergyFunction):
        name = "caching"
        def compute(self, rgb):
            return ramp
        def carving_terms(self, rgb):
            return CarvingTerms(ramp, 0.05)

    def err(fn, cls, words):
        def run():
            try:
                out = fn()
            except Exception as exc:
                got = f"{type(exc).__name__}: {exc}"
                typed = isinstance(exc, (ValueError, TypeError, SemanticCompressError))
                return got, isinstance(exc, cls) and words in str(exc), not typed
            return f"ok {getattr(out, 'shape', out)}", False, False
        return run

    def ok(fn, check):
        def run():
            try:
                out = fn()
            except Exception as exc:
                typed = isinstance(exc, (ValueError, TypeError, SemanticCompressError))
                return f"{type(exc).__name__}: {exc}", False, not typed
            good, text = check(out)
            return text, good, False
        return run

    def unchanged_map():
        m = ramp.copy()
        SeamCarver().carve(img, target_width=60, energy_terms=CarvingTerms(m, 0.05))
        SeamCarver().carve(img, target_width=100, energy_terms=CarvingTerms(m, 0.05))
        return m

    def twice():
        c = SeamCarver(energy_function=Caching())
        return c.resize(img, target_width=60), c.resize(img, target_width=60)

    def height_first():
        c = SeamCarver(order="height_first")
        both = c.resize(img, target_width=70, target_height=75)
        seq = c.resize(c.resize(img, target_height=75), target_width=70)
        return both, seq

    def gray_parity():
        ours = SeamCarver(order="width_first").resize(gray, target_width=64, target_height=50)
        return ours, seam_carving.resize(gray, (64, 50), order="width-first")

    kinds = [
        ("energy map 5x5 on a 60x80 image (used to abort Python)", "error `ValueError`",
         err(lambda: SeamCarver().carve(img, target_width=60, energy_terms=CarvingTerms(
             np.zeros((5, 5), np.float32), 1.0)), ValueError, "energy_terms.static")),
        ("energy map 60x79 on a 60x80 image (used to pass silently)", "error `ValueError`",
         err(lambda: SeamCarver().carve(img, target_width=60, energy_terms=CarvingTerms(
             np.zeros((60, 79), np.float32), 1.0)), ValueError, "shape")),
        ("EnergyFunction.carving_terms of the wrong shape", "error `ValueError`",
         err(lambda: SeamCarver(energy_function=WrongTerms()).resize(img, target_width=60),
             ValueError, "WrongTerms.carving_terms()")),
        ("all-NaN static map (used to crop the left columns)", "error `ValueError`",
         err(lambda: SeamCarver().carve(img, target_width=60, energy_terms=CarvingTerms(
             np.full((60, 80), np.nan, np.float32), 0.0)), ValueError, "NaN")),
        ("inf in an energy function's map", "error `ValueError`",
         err(lambda: SeamCarver(energy_function=InfMap()).resize(img, target_width=60),
             ValueError, "InfMap")),
        ("NaN gradient_weight", "error `ValueError`",
         err(lambda: SeamCarver().carve(img, target_width=60, energy_terms=CarvingTerms(
             None, float("nan"))), ValueError, "gradient_weight")),
        ("caller's static map after carving and insertion", "ok, map unchanged",
         ok(unchanged_map, lambda m: (bool(np.array_equal(m, ramp)),
                                      "unchanged" if np.array_equal(m, ramp) else "CHANGED"))),
        ("energy function caching its map, two resizes", "ok, same result",
         ok(twice, lambda r: (bool(np.array_equal(*r)),
                              "same" if np.array_equal(*r) else "DIFFERENT"))),
        ("float64 array holding 0..255", "error `UnsupportedImageError`",
         err(lambda: SeamCarver().resize(img.astype(np.float64), target_width=60),
             SemanticCompressError, "[0, 1]")),
        ("gray 2-D array vs seam-carving 1.1.0", "ok 2-D, identical",
         ok(gray_parity, lambda r: (r[0].shape == (50, 64) and bool(np.array_equal(*r)),
                                    f"ok {r[0].shape}, identical: {np.array_equal(*r)}"))),
        ("height_first, height grows and width shrinks", "ok, rows inserted first",
         ok(height_first, lambda r: (bool(np.array_equal(*r)),
                                     f"ok {r[0].shape}, same as height then width: "
                                     f"{np.array_equal(*r)}"))),
        ("3-channel keep_mask", "error `ValueError`",
         err(lambda: SeamCarver(keep_mask=np.ones((60, 80, 3), bool)).resize(
             img, target_width=60), ValueError, "keep_mask must be a 2-D array")),
        ("remove_object with an empty mask of the wrong shape", "error `ValueError` (shape)",
         err(lambda: remove_object(img, np.zeros((5, 5), bool)), ValueError,
             "mask must be a 2-D array with the image's shape")),
        ("1x1 image enlarged to 3x2", "ok 2x3x3",
         ok(lambda: SeamCarver().resize(img[:1, :1], target_width=3, target_height=2),
            lambda out: (out.shape == (2, 3, 3), f"ok {out.shape}"))),
    ]
    for name, expected, run in kinds:
        got, good, crash = run()
        print(json.dumps({"kind": name, "expected": expected, "got": got[:160], "ok": bool(good),
                          "crash": bool(crash)}), flush=True)
''')


def test_seam_carver_edge_kinds(reliability_log):
    run = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True,
                         timeout=600)
    rows = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    for r in rows:
        reliability_log.add(_SECTION, "library (SeamCarver)", r["kind"], 1, r["expected"],
                            r["got"], r["ok"])
        reliability_log.tally("crashes", r["crash"])
    if run.returncode != 0:  # the child died: the kind after the last row crashed it
        reliability_log.add(_SECTION, "library (SeamCarver)", "child process", 1,
                            "exit 0", f"exit {run.returncode}: {run.stderr[-120:]}", False)
        reliability_log.tally("crashes", 1)
    assert run.returncode == 0, run.stderr[-3000:]
    assert len(rows) == 14
    assert all(r["ok"] for r in rows), [r for r in rows if not r["ok"]]
