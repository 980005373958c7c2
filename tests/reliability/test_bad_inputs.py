"""The bad-input corpus through the library and through one run of the batch job.

Each kind of input has one decided outcome (``_reliability_corpus.py``): a typed error with a
clear message, or a correct result (size, mode, format). The library is called on every kind;
the batch job runs once over every file kind mixed with real photos and must give every input
exactly one manifest row: the decided error as an ``error`` row (``error_type``, no output
file), every other input ``ok`` with a complete output.
"""
import io
import json
import os
import subprocess
import sys
import textwrap

import pytest
from PIL import Image

from _reliability_corpus import SCALE, array_kinds, exif_oriented, file_kinds
from compress_core.errors import SemanticCompressError

FAST = ["--method", "hybrid", "--energy", "gradient", "--scale", str(SCALE),
        "--direct_running_mode=in_memory", "--direct_num_workers=1"]

#: Peak resident memory allowed for compressing an 8000x6000 JPEG (48 Mpx) with the gradient
#: energy at scale 0.5 in a fresh process (measured about 2.2 GiB on the 2-core dev machine:
#: the RGB pixels are 137 MiB; decode, energy, DP tables and the carved copies add up to ~16x).
LARGE_PHOTO_RSS_LIMIT_MIB = 3072

#: A library call "crashes" when it raises anything but the documented typed errors
#: (the library's own classes, and ValueError / TypeError for invalid parameters).
_TYPED = (SemanticCompressError, ValueError, TypeError)


@pytest.fixture(scope="module")
def compressor():
    from compress_core import SemanticCompressor, make_energy

    return SemanticCompressor(energy_function=make_energy("gradient"))


@pytest.fixture(scope="module")
def corpus(sample_photos):
    return file_kinds(sample_photos["astronaut"])


def _check_result(result, expect):
    assert result.size == expect.size
    if expect.mode:
        assert result.image.mode == expect.mode
    if expect.formats():
        assert result.format in expect.formats()
    with Image.open(__import__("io").BytesIO(result.data)) as im:
        assert im.size == expect.size
        im.load()  # complete, decodable


def test_corpus_has_at_least_30_kinds(corpus, sample_photos):
    assert len(corpus) + len(array_kinds(sample_photos["astronaut"])) >= 30
    assert len({k.filename for k in corpus}) == len(corpus)


def _run_kind(compressor, image, kwargs, exp, error_matches, reliability_log, name):
    """Compress one corpus kind; log the outcome; return a mismatch or None.

    ``error_matches(exc)`` decides whether a raised error is the decided one.
    """
    try:
        result = compressor.compress(image, show_progress=False, **kwargs)
    except Exception as exc:  # noqa: BLE001 - compared with the decision below
        got = f"{type(exc).__name__}: {exc}"
        reliability_log.tally("crashes", not isinstance(exc, _TYPED))
        ok = (exp.status == "error" and error_matches(exc)
              and exp.words.lower() in str(exc).lower())
    else:
        got = f"ok {result.size[0]}x{result.size[1]} {result.image.mode} {result.format}"
        try:
            ok = exp.status == "ok"
            if ok:
                _check_result(result, exp)
        except AssertionError:
            ok = False
    reliability_log.add("Bad inputs: library", "library", name, 1, exp.describe(), got[:160], ok)
    return None if ok else (name, exp.describe(), got)


def test_library_on_every_file_kind(compressor, corpus, reliability_log):
    wrong = []
    for kind in corpus:
        exp = kind.expect
        named = io.BytesIO(kind.data)
        named.name = kind.filename  # (as a path would be: its errors name the file)
        miss = _run_kind(compressor, named, {"scale": SCALE, **kind.kwargs}, exp,
                         lambda exc: type(exc) is exp.error and len(str(exc)) > 10,
                         reliability_log, kind.name)
        if miss:
            wrong.append(miss)
    assert not wrong, wrong


def test_library_on_arrays_masks_and_impossible_targets(compressor, sample_photos,
                                                        reliability_log):
    wrong = []
    for kind in array_kinds(sample_photos["astronaut"]):
        exp = kind.expect
        miss = _run_kind(compressor, kind.image, kind.kwargs, exp,
                         lambda exc: isinstance(exc, exp.error)
                         and (exp.error is not ValueError or type(exc) is ValueError),
                         reliability_log, kind.name)
        if miss:
            wrong.append(miss)
    assert not wrong, wrong


def test_pipeline_on_the_whole_corpus_with_real_photos(tmp_path, corpus, photo_files, write_tree,
                                                       run_job, read_manifest, reliability_log):
    kinds = [k for k in corpus if not k.kwargs]   # per-image arguments cannot go through one run
    files = {f"bad/{k.filename}": k.data for k in kinds}
    files.update({f"photos/{n}": d for n, d in photo_files.items()})
    inp, out = tmp_path / "in", tmp_path / "out"
    write_tree(inp, files)
    _, summary = run_job(["--input", str(inp), "--output", str(out), "--run_id", "corpus", *FAST])

    rows = read_manifest(str(out / "_manifest"), run_id="corpus")
    by_rel = {}
    for r in rows:
        rel = os.path.relpath(r["input_uri"], str(inp))
        by_rel.setdefault(rel, []).append(r)
    assert sorted(by_rel) == sorted(files), "every input exactly one row, no extra rows"
    assert all(len(v) == 1 for v in by_rel.values()), {k: len(v) for k, v in by_rel.items()}

    wrong = []
    expected_files = set()
    for kind in kinds:
        r = by_rel[f"bad/{kind.filename}"][0]
        exp = kind.expect
        if r["status"] == "error":
            # the message names the input (shown relative to the run's input folder)
            got = (f"error row `{r['error_type']}`: "
                   f"{r['error_message'].replace(str(inp) + os.sep, '')}")
            ok = (exp.status == "error" and r["error_type"] == exp.error.__name__
                  and r["error_message"].startswith(r["input_uri"] + ": ")
                  and r["output_bytes"] is None
                  and not os.path.exists(r["output_uri"] or "/nonexistent"))
        else:
            got = f"{r['status']} row {r['output_width']}x{r['output_height']} {r['output_format']}"
            ok = exp.status == "ok" and r["status"] == "ok"
            if ok:
                expected_files.add(r["output_uri"])
                try:
                    assert (r["output_width"], r["output_height"]) == exp.size
                    assert os.path.getsize(r["output_uri"]) == r["output_bytes"]
                    with Image.open(r["output_uri"]) as im:
                        assert im.size == exp.size
                        assert im.format == r["output_format"]
                        if exp.formats():
                            assert im.format in exp.formats()
                        im.load()
                except AssertionError:
                    ok = False
        reliability_log.add("Bad inputs: pipeline (one DirectRunner run)", "pipeline", kind.name,
                            1, exp.describe() + (" row" if exp.status == "ok" else " row"),
                            got[:160], ok)
        if not ok:
            wrong.append((kind.filename, exp.describe(), got))
    for name in photo_files:
        r = by_rel[f"photos/{name}"][0]
        assert r["status"] == "ok", r
        assert os.path.getsize(r["output_uri"]) == r["output_bytes"]
        expected_files.add(r["output_uri"])
    reliability_log.add("Bad inputs: pipeline (one DirectRunner run)", "pipeline",
                        "real photos mixed in", len(photo_files), "ok rows",
                        f"{sum(by_rel[f'photos/{n}'][0]['status'] == 'ok' for n in photo_files)} ok",
                        True)
    assert not wrong, wrong

    # nothing else in the output folder: no temporary or partial files
    written = {os.path.join(d, f) for d, _, fs in os.walk(out) for f in fs
               if not os.path.relpath(d, out).startswith("_")}
    assert written == expected_files
    n_err = sum(k.expect.status == "error" for k in kinds)
    assert (summary.ok, summary.failed, summary.skipped) == (len(files) - n_err, n_err, 0)
    reliability_log.tally("partial outputs", len(written - expected_files))
    reliability_log.tally("images lost", sum(1 for v in by_rel.values() if not v))


def test_every_exif_orientation_decodes_upright(sample_photos, reliability_log):
    """Not only the size: the pixels of all 8 orientations match the upright picture."""
    import numpy as np

    from compress_core import load_image

    upright = sample_photos["astronaut"].convert("RGB").resize((96, 64), Image.LANCZOS)
    ref = np.asarray(upright, dtype=np.float64)
    worst = 0.0
    for o in range(1, 9):
        loaded = load_image(exif_oriented(upright, o))
        assert loaded.size == (96, 64), o
        diff = float(np.abs(loaded.pixels.astype(np.float64) - ref).mean())
        worst = max(worst, diff)
        assert diff < 4.0, (o, diff)       # JPEG noise only; a wrong rotation gives ~50
        assert loaded.exif                  # kept, with the tag reset so that viewers do not
        exif = Image.Exif()                 # rotate the output again
        exif.load(loaded.exif)
        assert exif.get(0x0112, 1) == 1 and exif.get(0x010F) == "ReliabilityCam", (o, dict(exif))
    reliability_log.add("Bad inputs: library", "library", "EXIF orientations 1-8: pixels upright",
                        8, "all decode to the upright picture",
                        f"mean abs difference to the upright picture <= {worst:.2f} / 255", True)


def test_large_legal_photo_has_bounded_memory(tmp_path, reliability_log):
    """An 8000x6000 JPEG in a fresh process: a correct result and a bounded peak RSS."""
    script = textwrap.dedent("""
        import io, json, resource, time
        from PIL import Image

        def peak_rss_mib():
            # VmHWM: this process's own high-water mark. ru_maxrss is not: on Linux it keeps
            # the RSS of the parent at fork, so under a 4 GB pytest process it read 4163 MiB.
            try:
                with open("/proc/self/status") as fh:
                    for line in fh:
                        if line.startswith("VmHWM:"):
                            return int(line.split()[1]) / 1024
            except OSError:
                pass
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        from skimage import data
        photo = Image.fromarray(data.astronaut()).resize((8000, 6000), Image.BILINEAR)
        buf = io.BytesIO(); photo.save(buf, "JPEG", quality=85); jpg = buf.getvalue()
        del photo, buf
        before = peak_rss_mib()
        from compress_core import SemanticCompressor, make_energy
        c = SemanticCompressor(energy_function=make_energy("gradient"))
        t = time.perf_counter()
        r = c.compress(jpg, scale=0.5, show_progress=False)
        print(json.dumps({"bytes": len(jpg), "size": r.size, "format": r.format,
                          "out_bytes": len(r.data), "seconds": time.perf_counter() - t,
                          "rss_before_mib": before, "peak_rss_mib": peak_rss_mib()}))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = json.loads(proc.stdout.strip().splitlines()[-1])
    ok = tuple(m["size"]) == (4000, 3000) and m["format"] == "JPEG" \
        and m["peak_rss_mib"] < LARGE_PHOTO_RSS_LIMIT_MIB
    reliability_log.add("Limits", "library (subprocess)", "large legal photo 8000x6000 JPEG",
                        1, f"ok 4000x3000, peak RSS < {LARGE_PHOTO_RSS_LIMIT_MIB} MiB",
                        f"ok {m['size'][0]}x{m['size'][1]} in {m['seconds']:.1f} s, "
                        f"peak RSS {m['peak_rss_mib']:.0f} MiB", ok)
    reliability_log.figure("peak RSS, 8000x6000 photo (gradient energy, scale 0.5)",
                           f"{m['peak_rss_mib']:.0f} MiB (bound {LARGE_PHOTO_RSS_LIMIT_MIB} MiB)")
    assert tuple(m["size"]) == (4000, 3000) and m["format"] == "JPEG", m
    assert m["peak_rss_mib"] < LARGE_PHOTO_RSS_LIMIT_MIB, m


def test_default_pixel_limit_is_pillows(reliability_log):
    from compress_core.images import DEFAULT_MAX_PIXELS

    assert DEFAULT_MAX_PIXELS == Image.MAX_IMAGE_PIXELS == 89_478_485
    reliability_log.figure("default max_pixels (Pillow's MAX_IMAGE_PIXELS)", f"{DEFAULT_MAX_PIXELS:,}")
