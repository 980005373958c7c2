"""End-to-end runs of the batch job on local files (DirectRunner in_memory and multi_processing)."""
import io
import json
import logging
import os
import re
import stat
import subprocess
import sys
import time

import pytest
from PIL import Image

from transforms.compress import CompressSettings
from pipeline.report.summary import format_summary
from transforms.distinct_inputs import name_apart

#: Fast runs: the gradient energy and the hybrid method on the DirectRunner.
FAST = ["--method", "hybrid", "--energy", "gradient", "--scale", "0.5"]
IN_MEMORY = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
TAG = CompressSettings(method="hybrid", energy="gradient", scale=0.5).params_hash()

PHOTOS = {"astronaut.jpg", "coffee.jpg", "chelsea.png", "china.jpg", "flower.jpg"}
BAD = {"corrupt.jpg", "truncated.jpg", "empty.jpg", "notes.png"}


def _files(root):
    return sorted(os.path.relpath(os.path.join(d, f), root)
                  for d, _, fs in os.walk(root) for f in fs)


def _check_batch(rows, out_dir, input_dir):
    """Every photo ok with a correct output; every bad file an error row. Each row records the
    input's mtime from the listing (which file the URI held), error rows too."""
    by_name = {os.path.basename(r["input_uri"]): r for r in rows}
    assert set(by_name) == PHOTOS | BAD
    for r in rows:
        mtime = os.stat(os.path.join(input_dir, r["input_uri"])).st_mtime
        assert abs(r["input_modified"].timestamp() - mtime) < 1e-6 and r["input_etag"] is None
    for name in PHOTOS:
        r = by_name[name]
        assert r["status"] == "ok", (name, r["error_type"], r["error_message"])
        assert r["output_uri"].startswith(str(out_dir) + "/")
        assert os.path.getsize(r["output_uri"]) == r["output_bytes"]
        assert r["input_bytes"] == os.path.getsize(os.path.join(input_dir, r["input_uri"]))
        assert r["byte_ratio"] == pytest.approx(r["output_bytes"] / r["input_bytes"])
        assert r["output_width"] == round(r["input_width"] * 0.5) or \
            abs(r["output_width"] - r["input_width"] * 0.5) <= 1
        assert r["pixel_ratio"] == pytest.approx(0.25, abs=0.02)
        with Image.open(r["output_uri"]) as im:
            assert im.size == (r["output_width"], r["output_height"])
            assert im.format == r["output_format"]
        assert r["energy"] == "gradient" and r["method"] == "hybrid" and r["model"] is None
        assert json.loads(r["params"])["scale"] == 0.5
        assert r["total_ms"] > 0 and len(r["input_sha256"]) == 64
    for name in BAD:
        r = by_name[name]
        assert r["status"] == "error" and r["error_type"] == "ImageDecodeError", r
        assert r["error_message"] and r["output_bytes"] is None


def test_local_batch_with_bad_files_then_skip_existing_rerun(tmp_path, input_dir, run_job,
                                                             read_manifest, caplog):
    out = tmp_path / "out"
    args = ["--input", str(input_dir), "--output", str(out), *FAST, *IN_MEMORY]
    old_umask = os.umask(0o022)
    try:
        with caplog.at_level(logging.INFO, logger="pipeline.main"):
            _, s1 = run_job([*args, "--run_id", "first"])
    finally:
        os.umask(old_umask)
    # every picture keeps its aspect (scale 0.5): scaled whole, no map, no energy engine
    assert (s1.ok, s1.failed, s1.skipped, s1.model_loads) == (5, 4, 0, 0)
    assert s1.bytes_in > s1.bytes_out > 0
    assert "run first: 9 images: 5 ok, 4 failed, 0 skipped" in caplog.text

    rows = read_manifest(str(out / "_manifest"), run_id="first")
    _check_batch(rows, out, input_dir)
    assert sum(r["output_bytes"] for r in rows if r["status"] == "ok") == s1.bytes_out
    # a finished run leaves only its outputs, manifest parts and dead letters (issue 12 item
    # 10: Beam's temporary folder used to stay behind as an empty _manifest/_beam_temp/)
    tag = CompressSettings(**{"method": "hybrid", "energy": "gradient", "scale": 0.5}).params_hash()
    left = _files(out)
    assert all(re.fullmatch(r"_manifest/run_id=first/part-\d{5}-of-\d{5}-[0-9a-f]{8}\.parquet|"
                            r"_dead_letters/run_id=first/failures-[0-9a-f]{16}\.jsonl", f)
               for f in left if f.startswith("_")), left
    assert sorted(os.listdir(out)) == sorted(
        {"_dead_letters", "_manifest"} | {f.split("/")[0] for f in left if not f.startswith("_")})
    assert os.listdir(out / "_manifest") == ["run_id=first"]
    assert [d for d, ds, fs in os.walk(out) if not ds and not fs] == []   # no empty folders
    # every file follows the umask (0644 under 022), like the library's save() and the CLI
    assert {f: oct(stat.S_IMODE(os.stat(out / f).st_mode)) for f in left} == \
        {f: oct(0o644) for f in left}

    images = [f for f in _files(out) if not f.startswith("_")]
    # chelsea.png is a photo: format auto writes it as JPEG (graphics and alpha stay lossless)
    assert images == sorted([f"astronaut.jpg.{tag}.jpg", f"chelsea.png.{tag}.jpg",
                             f"coffee.jpg.{tag}.jpg", f"trips/china.jpg.{tag}.jpg",
                             f"trips/flower.jpg.{tag}.jpg"])
    letters = [json.loads(line) for f in _files(out / "_dead_letters" / "run_id=first")
               for line in open(out / "_dead_letters" / "run_id=first" / f)]
    assert sorted(os.path.basename(d["input_uri"]) for d in letters) == sorted(BAD)
    assert all(d["run_id"] == "first" and "Traceback" in d["traceback"] for d in letters)

    mtimes = {f: os.stat(out / f).st_mtime_ns for f in images}
    old_umask = os.umask(0o077)
    caplog.clear()
    try:
        with caplog.at_level(logging.INFO, logger="transforms.plan"):
            _, s2 = run_job([*args, "--run_id", "second", "--skip_existing"])
    finally:
        os.umask(old_umask)
    # one line for the files that failed before, not one each (every sidecar of a folder, every
    # night: job review 46)
    said = [r.getMessage() for r in caplog.records if "an earlier run failed them" in
            r.getMessage()]
    assert len(said) == 1 and said[0].startswith("4 inputs skipped"), said
    second = [f for f in _files(out) if "run_id=second" in f]
    assert second and {oct(stat.S_IMODE(os.stat(out / f).st_mode)) for f in second} == {"0o600"}
    # the damaged files too: failed before, the same files (session 24)
    assert (s2.ok, s2.failed, s2.skipped, s2.failed_before) == (0, 0, 9, 4)
    assert {f: os.stat(out / f).st_mtime_ns for f in images} == mtimes  # nothing rewritten
    rows2 = read_manifest(str(out / "_manifest"), run_id="second")
    skipped = [r for r in rows2 if r["status"] == "skipped" and r["skip_reason"] is None]
    assert {os.path.basename(r["input_uri"]) for r in skipped} == PHOTOS
    failed_before = {os.path.basename(r["input_uri"]): r["error_type"] for r in rows2
                     if r["skip_reason"] == "failed before"}
    assert failed_before == {name: "ImageDecodeError" for name in BAD}
    first_out = {r["input_uri"]: (r["output_uri"], r["output_bytes"]) for r in rows
                 if r["status"] == "ok"}
    assert {r["input_uri"]: (r["output_uri"], r["output_bytes"]) for r in skipped} == first_out
    assert all(r["input_bytes"] for r in skipped)
    first_ratio = {r["input_uri"]: r["byte_ratio"] for r in rows if r["status"] == "ok"}
    assert {r["input_uri"]: r["byte_ratio"] for r in skipped} == pytest.approx(first_ratio)

    # one dataset holds both runs; pyarrow and DuckDB agree on the totals
    import duckdb

    both = read_manifest(str(out / "_manifest"))
    assert len(both) == 18
    glob = str(out / "_manifest" / "*" / "*.parquet")
    duck = duckdb.sql(f"select run_id, status, count(*), sum(output_bytes) "
                      f"from read_parquet('{glob}', hive_partitioning=true) "
                      f"group by all order by all").fetchall()
    mine = {}
    for r in both:
        key = (r["run_id"], r["status"])
        n, b = mine.get(key, (0, None))
        mine[key] = (n + 1, (b or 0) + r["output_bytes"] if r["output_bytes"] is not None else b)
    assert [(k[0], k[1], v[0], v[1]) for k, v in sorted(mine.items())] == duck


def test_changed_params_give_new_outputs(tmp_path, input_dir, run_job):
    out = tmp_path / "out"
    base = ["--input", str(input_dir / "*.jpg"), "--output", str(out), "--energy", "gradient",
            *IN_MEMORY, "--skip_existing"]
    _, s1 = run_job([*base, "--scale", "0.5"])
    _, s2 = run_job([*base, "--scale", "0.4"])
    _, s3 = run_job([*base, "--scale", "0.5"])
    assert (s1.ok, s2.ok, s3.ok) == (2, 2, 0) and (s3.skipped, s3.failed_before) == (5, 3)


def test_a_folder_reached_through_a_link_one_night_and_by_its_path_the_next_is_skipped(
        tmp_path, write_tree, photo_files, run_job, read_manifest):
    """Operator review 39: --input through a symbolic link to the folder one night, by the
    folder's own path the next: every photo was compressed again as a second copy under a
    name set apart ("names set apart: 9"). One file under two spellings is one input."""
    root, out = tmp_path / "photos", tmp_path / "out"
    write_tree(root, {"coffee.jpg": photo_files["coffee.jpg"],
                      "trips/china.jpg": photo_files["trips/china.jpg"]})
    os.symlink(root, tmp_path / "link")
    common = ["--output", str(out), *FAST, *IN_MEMORY, "--skip_existing"]
    _, first = run_job(["--input", str(tmp_path / "link"), *common, "--run_id", "by-link"])
    assert first.ok == 2
    _, second = run_job(["--input", str(root), *common, "--run_id", "by-path"])
    assert (second.ok, second.skipped, second.set_apart) == (0, 2, 0)
    assert not [f for f in _files(out) if "~" in f]
    # named in an --input_list by its own path, its output written for the link's spelling
    # (listed inputs carry no size or time to compare; second diff review 39: a second copy)
    listing = tmp_path / "list.txt"
    listing.write_text(f"{root / 'coffee.jpg'}\n")
    _, listed = run_job(["--input_list", str(listing), "--input_base", str(root),
                         *common, "--run_id", "listed"])
    assert (listed.ok, listed.skipped, listed.set_apart) == (0, 1, 0)
    assert not [f for f in _files(out) if "~" in f]
    # the link re-pointed to another folder whose photo has the same name: another file, set
    # apart; the first one's output is kept (diff review 39: adopted, and replaced)
    kept = (out / f"coffee.jpg.{TAG}.jpg").read_bytes()
    write_tree(tmp_path / "2025", {"coffee.jpg": photo_files["astronaut.jpg"]})
    os.remove(tmp_path / "link")
    os.symlink(tmp_path / "2025", tmp_path / "link")
    _, third = run_job(["--input", str(tmp_path / "2025"), *common, "--run_id", "relinked"])
    assert (third.ok, third.skipped, third.set_apart) == (1, 0, 1)
    assert (out / f"coffee.jpg.{TAG}.jpg").read_bytes() == kept


def test_a_folder_named_by_its_path_and_through_a_link_is_one_input(
        tmp_path, write_tree, photo_files, run_job, caplog):
    """Paths review 42: with two --input patterns, names start from their common folder, so a
    folder reached through a link is part of them. In one run naming the folder and the link,
    every photo was compressed twice; by its path one night and through the link the next
    (with another folder each night), a second copy of each was written without a word."""
    write_tree(tmp_path / "photos", {"coffee.jpg": photo_files["coffee.jpg"]})
    write_tree(tmp_path / "other", {"china.jpg": photo_files["trips/china.jpg"]})
    os.symlink(tmp_path / "photos", tmp_path / "current")
    out = tmp_path / "out"
    common = ["--output", str(out), *FAST, *IN_MEMORY, "--skip_existing"]
    _, both = run_job(["--input", str(tmp_path / "photos"), "--input", str(tmp_path / "current"),
                       "--output", str(tmp_path / "once"), *FAST, *IN_MEMORY])
    assert both.ok == 1
    assert len([f for f in _files(tmp_path / "once") if "_manifest" not in f]) == 1
    _, night1 = run_job(["--input", str(tmp_path / "photos"), "--input", str(tmp_path / "other"),
                         *common, "--run_id", "night1"])
    assert night1.ok == 2
    _, night2 = run_job(["--input", str(tmp_path / "current"), "--input",
                         str(tmp_path / "other"), *common, "--run_id", "night2"])
    assert (night2.ok, night2.skipped, night2.named_otherwise) == (1, 1, 1)
    assert "or name a folder through another link" in caplog.text


def test_a_broken_link_is_skipped_as_failed_before_until_it_is_mended(
        tmp_path, write_tree, photo_files, run_job, read_manifest):
    """Operator review 39: a link to a deleted photo was "no such file", a read error that may
    pass, so it was tried every night and every quiet night exited 1 ("every image failed").
    It is a BrokenLinkError, skipped as failed before while the link is unchanged; once its
    target is back, it is compressed."""
    from pipeline.main import exit_status

    root, out = tmp_path / "in", tmp_path / "out"
    write_tree(root, {"coffee.jpg": photo_files["coffee.jpg"]})
    os.symlink("gone.jpg", root / "linked.jpg")
    args = ["--input", str(root), "--output", str(out), *FAST, *IN_MEMORY, "--skip_existing"]
    _, first = run_job([*args, "--run_id", "first"])
    assert (first.ok, first.failed) == (1, 1)
    (row,) = [r for r in read_manifest(str(out / "_manifest"), run_id="first")
              if r["status"] == "error"]
    assert row["error_type"] == "BrokenLinkError"
    assert row["error_message"].endswith("linked.jpg: a symbolic link to gone.jpg, which does "
                                         "not exist")
    _, quiet = run_job([*args, "--run_id", "quiet"])
    assert (quiet.ok, quiet.failed, quiet.skipped, quiet.failed_before) == (0, 0, 2, 1)
    assert exit_status(quiet) == 0
    write_tree(root, {"gone.jpg": photo_files["astronaut.jpg"]})   # the target is back
    _, mended = run_job([*args, "--run_id", "mended"])
    assert (mended.ok, mended.failed) == (2, 0)   # (gone.jpg and the link to it)


def test_a_picture_over_max_pixels_is_skipped_as_failed_before_until_the_limit_is_raised(
        tmp_path, write_tree, photo_files, run_job, read_manifest):
    """A picture over --max_pixels fails the same at the same limit: a --skip_existing rerun
    skips it (failed before) and exits 0; tried at every run, it made every quiet night exit 1
    ("every image failed"; edge review 37). A larger limit tries it again."""
    from pipeline.main import exit_status

    root, out = tmp_path / "in", tmp_path / "out"
    write_tree(root, {"coffee.jpg": photo_files["coffee.jpg"],       # 256 x 171: 43,776
                      "astronaut.jpg": photo_files["astronaut.jpg"]})   # 256 x 256: 65,536
    args = ["--input", str(root), "--output", str(out), *FAST, *IN_MEMORY, "--skip_existing"]
    _, first = run_job([*args, "--max_pixels", "50000", "--run_id", "first"])
    assert (first.ok, first.failed) == (1, 1)
    _, quiet = run_job([*args, "--max_pixels", "50000", "--run_id", "quiet"])
    assert (quiet.ok, quiet.failed, quiet.skipped, quiet.failed_before) == (0, 0, 2, 1)
    assert exit_status(quiet) == 0
    rows = {os.path.basename(r["input_uri"]): r
            for r in read_manifest(str(out / "_manifest"), run_id="quiet")}
    assert (rows["astronaut.jpg"]["skip_reason"], rows["astronaut.jpg"]["error_type"]) == \
        ("failed before", "ImageTooLargeError")
    _, smaller = run_job([*args, "--max_pixels", "45000", "--run_id", "smaller"])
    assert (smaller.failed, smaller.failed_before) == (0, 1)   # (coffee: written before)
    _, raised = run_job([*args, "--max_pixels", "70000", "--run_id", "raised"])
    assert (raised.ok, raised.failed, raised.skipped, raised.failed_before) == (1, 0, 1, 0)


def test_max_pixels_above_pillows_own_limit_is_let_through(tmp_path, input_dir, run_job,
                                                           monkeypatch):
    """A worker's process is the job's: --max_pixels lifts Pillow's own limit too, which
    refuses pictures over twice PIL.Image.MAX_IMAGE_PIXELS whatever --max_pixels says (every
    photo of a larger limit was an error row naming a limit it was under)."""
    from PIL import Image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)
    _, s = run_job(["--input", str(input_dir / "*.jpg"), "--output", str(tmp_path / "out"),
                    "--energy", "gradient", *IN_MEMORY, "--scale", "0.5",
                    "--max_pixels", "10000000"])
    assert (s.ok, s.failed) == (2, 3)   # (the 3 damaged .jpg files fail as before)


@pytest.mark.slow
def test_multi_processing_two_workers(tmp_path, input_dir, run_job, read_manifest):
    out = tmp_path / "out"
    _, s = run_job(["--input", str(input_dir), "--output", str(out), *FAST, "--run_id", "mp",
                    "--direct_running_mode=multi_processing", "--direct_num_workers=2"])
    assert (s.ok, s.failed, s.skipped) == (5, 4, 0)
    assert s.model_loads == 0  # scale 0.5: no map (once per worker process where there is)
    _check_batch(read_manifest(str(out / "_manifest")), out, input_dir)
    assert not [f for f in _files(out) if f.endswith(".tmp")]


@pytest.mark.slow
def test_default_method_and_deep_energy(tmp_path, write_tree, photo_files, run_job,
                                        read_manifest):
    """The product's defaults: hybrid method, deep energy (EfficientNet-Lite0), scale 0.5,
    which keeps every photo's aspect: the whole photo is scaled, no map is computed and no CNN
    loaded (the deep map had taken 90 of 125 ms of CPU per photo); a thumbnail that changes the
    aspect loads the CNN once and computes the map."""
    write_tree(tmp_path / "in", {k: photo_files[k] for k in ("astronaut.jpg", "trips/china.jpg")})
    out = tmp_path / "out"
    _, s = run_job(["--input", str(tmp_path / "in"), "--output", str(out), *IN_MEMORY])
    assert (s.ok, s.failed, s.model_loads) == (2, 0, 0)
    rows = read_manifest(str(out / "_manifest"))
    for r in rows:
        assert (r["method"], r["energy"], r["model"]) == ("hybrid", "deep", "efficientnet_lite0")
        assert json.loads(r["params"])["model"] == "efficientnet_lite0"
        assert r["retained_energy_ratio"] == 1.0 and r["crop_box"] is None
        assert r["faces"] is None and r["energy_mean"] is None
        assert r["pixel_ratio"] == pytest.approx(0.25, abs=0.02)
    thumbs = tmp_path / "thumbs"
    _, s = run_job(["--input", str(tmp_path / "in"), "--output", str(thumbs), *IN_MEMORY,
                    "--target_width", "160", "--target_height", "100"])
    assert (s.ok, s.failed, s.model_loads) == (2, 0, 1)   # once per worker process
    for r in read_manifest(str(thumbs / "_manifest")):
        assert 0 < r["retained_energy_ratio"] < 1 and r["energy_ms"] > 0
        assert r["faces"] == (1 if r["input_uri"].endswith("astronaut.jpg") else 0)


@pytest.mark.slow
def test_square_thumbnails_stay_within_the_stretch_limit(tmp_path, write_tree, photo_files,
                                                          run_job, read_manifest):
    """The job's --max_stretch reaches the policy; the manifest records the stretch used and
    the faces kept (the astronaut's face, in a 4:3 crop of her square photo), and retained
    energy drops below 1 (content cut). A picture whose aspect stays is scaled whole: no map,
    faces unknown (null), every pixel's content kept (retained energy 1)."""
    from PIL import Image

    with Image.open(io.BytesIO(photo_files["astronaut.jpg"])) as im:
        w, h = im.size
        wide = io.BytesIO()
        im.crop((0, 0, w, h * 3 // 4)).save(wide, "JPEG", quality=92)  # 4:3, the face in it
    write_tree(tmp_path / "in", {"astronaut.jpg": wide.getvalue(),
                                 "trips/china.jpg": photo_files["trips/china.jpg"],
                                 "square.jpg": photo_files["astronaut.jpg"]})
    for limit in (None, "1.0"):
        out = tmp_path / f"out-{limit}"
        flags = [] if limit is None else ["--max_stretch", limit]
        _, s = run_job(["--input", str(tmp_path / "in"), "--output", str(out), *IN_MEMORY,
                        "--target_width", "128", "--target_height", "128", *flags])
        assert (s.ok, s.failed) == (3, 0)
        rows = {os.path.basename(r["input_uri"]): r for r in read_manifest(str(out / "_manifest"))}
        for r in rows.values():
            assert (r["output_width"], r["output_height"]) == (128, 128)
            assert 1.0 <= r["stretch"] <= (1.05 if limit is None else 1.0) + 1e-9
            assert json.loads(r["params"])["max_stretch"] == (1.05 if limit is None else 1.0)
        assert rows["astronaut.jpg"]["faces"] == 1 and rows["china.jpg"]["faces"] == 0
        assert rows["china.jpg"]["retained_energy_ratio"] < 0.95  # 3:2 -> 1:1 cuts content
        square = rows["square.jpg"]   # 1:1 -> 1:1: scaled whole
        assert square["faces"] is None and square["energy_mean"] is None
        assert square["retained_energy_ratio"] == 1.0 and square["crop_box"] is None


def test_inputs_that_differ_only_by_extension_get_their_own_outputs(tmp_path, write_tree,
                                                                     sample_photos, run_job,
                                                                     read_manifest):
    """format auto writes photos of any format as JPEG: photo.gif, photo.png, photo.webp and
    photo.jpg used to share photo.<hash>.jpg, four ok rows for one file (each overwrote the
    last; with --skip_existing, the first one written made the other three "skipped")."""
    import io

    def encoded(fmt):
        buf = io.BytesIO()
        sample_photos["coffee"].save(buf, format=fmt)
        return buf.getvalue()

    formats = {"photo.gif": "GIF", "photo.png": "PNG", "photo.webp": "WEBP", "photo.jpg": "JPEG"}
    write_tree(tmp_path / "in", {name: encoded(fmt) for name, fmt in formats.items()})
    out = tmp_path / "out"
    args = ["--input", str(tmp_path / "in"), "--output", str(out), *FAST, *IN_MEMORY]
    _, s1 = run_job([*args, "--run_id", "first"])
    assert (s1.ok, s1.failed, s1.skipped) == (4, 0, 0)
    rows = {os.path.basename(r["input_uri"]): r
            for r in read_manifest(str(out / "_manifest"), run_id="first")}
    assert set(rows) == set(formats) and {r["status"] for r in rows.values()} == {"ok"}
    tag = CompressSettings(**{"method": "hybrid", "energy": "gradient", "scale": 0.5}).params_hash()
    for name, r in rows.items():
        ext = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}[r["output_format"]]
        assert r["output_uri"] == str(out / f"{name}.{tag}{ext}")
        assert os.path.getsize(r["output_uri"]) == r["output_bytes"]
        with Image.open(r["output_uri"]) as im:
            assert im.format == r["output_format"]
            assert im.size == (r["output_width"], r["output_height"])
    assert len({r["output_uri"] for r in rows.values()}) == 4
    assert sorted(f for f in _files(out) if not f.startswith("_")) == \
        sorted(os.path.basename(r["output_uri"]) for r in rows.values())
    assert sum(r["output_format"] == "JPEG" for r in rows.values()) >= 3  # the photo ones

    mtimes = {r["output_uri"]: os.stat(r["output_uri"]).st_mtime_ns for r in rows.values()}
    _, s2 = run_job([*args, "--run_id", "second", "--skip_existing"])
    assert (s2.ok, s2.failed, s2.skipped) == (0, 0, 4)
    assert s2.model_loads == 0  # nothing to compress: no CNN loaded (it took 7-16 s)
    again = {os.path.basename(r["input_uri"]): r
             for r in read_manifest(str(out / "_manifest"), run_id="second")}
    assert {n: (r["status"], r["output_uri"], r["output_bytes"]) for n, r in again.items()} == \
        {n: ("skipped", r["output_uri"], r["output_bytes"]) for n, r in rows.items()}
    assert {u: os.stat(u).st_mtime_ns for u in mtimes} == mtimes  # nothing rewritten


def _chart_png() -> bytes:
    """A bar chart (a graphic: format auto writes it losslessly), PNG-encoded."""
    import io

    from PIL import ImageDraw

    chart = Image.new("RGB", (320, 240), "white")
    draw = ImageDraw.Draw(chart)
    for i, colour in enumerate(("navy", "crimson", "seagreen", "orange")):
        draw.rectangle((30 + 70 * i, 200 - 40 * (i + 1), 80 + 70 * i, 200), fill=colour)
    draw.line((20, 200, 300, 200), fill="black", width=2)
    buf = io.BytesIO()
    chart.save(buf, format="PNG")
    return buf.getvalue()


def test_a_name_that_lies_about_its_content_is_skipped_on_a_rerun(tmp_path, write_tree,
                                                                  run_job, read_manifest):
    """format auto decides by content: a PNG graphic named scan.jpg is written losslessly
    (scan.jpg.<hash>.png or .webp), and a --skip_existing rerun finds that output."""
    write_tree(tmp_path / "in", {"scan.jpg": _chart_png()})
    out = tmp_path / "out"
    args = ["--input", str(tmp_path / "in"), "--output", str(out), *FAST, *IN_MEMORY]
    _, s1 = run_job([*args, "--run_id", "first"])
    (row,) = read_manifest(str(out / "_manifest"), run_id="first")
    assert row["status"] == "ok" and row["output_format"] in ("PNG", "WEBP"), row
    assert row["output_uri"].endswith((f"scan.jpg.{TAG}.png", f"scan.jpg.{TAG}.webp"))
    mtime = os.stat(row["output_uri"]).st_mtime_ns
    _, s2 = run_job([*args, "--run_id", "second", "--skip_existing"])
    assert (s2.ok, s2.failed, s2.skipped) == (0, 0, 1)
    (again,) = read_manifest(str(out / "_manifest"), run_id="second")
    assert (again["status"], again["output_uri"]) == ("skipped", row["output_uri"])
    assert os.stat(row["output_uri"]).st_mtime_ns == mtime


def test_input_list_with_unreadable_uris(tmp_path, write_tree, photo_files, run_job,
                                         read_manifest):
    write_tree(tmp_path / "in", {k: photo_files[k] for k in ("astronaut.jpg", "trips/china.jpg")})
    listing = tmp_path / "inputs.txt"
    listing.write_text("\n".join([
        "# two photos, a missing file, a folder and an unknown protocol",
        str(tmp_path / "in" / "astronaut.jpg"),
        str(tmp_path / "in" / "trips" / "china.jpg"),
        str(tmp_path / "in" / "missing.jpg"),
        str(tmp_path / "in" / "trips"),
        "nosuchprotocol://bucket/x.jpg",
    ]))
    out = tmp_path / "out"
    _, s = run_job(["--input_list", str(listing), "--input_base", str(tmp_path / "in"),
                    "--output", str(out), *FAST, *IN_MEMORY])
    assert (s.ok, s.failed) == (2, 3)
    rows = {r["input_uri"]: r for r in read_manifest(str(out / "_manifest"))}
    assert rows[str(tmp_path / "in" / "trips" / "china.jpg")]["output_uri"].startswith(
        str(out / "trips" / "china.jpg."))
    for uri in (str(tmp_path / "in" / "missing.jpg"), str(tmp_path / "in" / "trips"),
                "nosuchprotocol://bucket/x.jpg"):
        assert rows[uri]["status"] == "error" and rows[uri]["error_type"] == "ImageReadError"


def test_missing_list_and_empty_glob_still_write_a_manifest(tmp_path, run_job, read_manifest):
    out = tmp_path / "out"
    _, s = run_job(["--input", str(tmp_path / "nothing" / "*.jpg"),
                    "--input_list", str(tmp_path / "no-list.txt"),
                    "--output", str(out), *FAST, *IN_MEMORY, "--run_id", "empty"])
    assert (s.ok, s.failed, s.skipped) == (0, 1, 0)
    rows = read_manifest(str(out / "_manifest"))
    assert [(r["input_uri"], r["status"], r["error_type"]) for r in rows] == \
        [(str(tmp_path / "no-list.txt"), "error", "ImageReadError")]


def test_a_named_input_that_does_not_exist_is_an_error_row(tmp_path, write_tree, photo_files,
                                                           run_job, read_manifest):
    """A mistyped folder or file ended the run with 0 images and exit status 0, as an empty
    glob does; a named input now fails as a missing --input_list does, and the rest finish."""
    write_tree(tmp_path / "photos", {"astronaut.jpg": photo_files["astronaut.jpg"]})
    (tmp_path / "empty").mkdir()
    out = tmp_path / "out"
    _, s = run_job(["--input", str(tmp_path / "photso"), "--input", str(tmp_path / "x.jpg"),
                    "--input", str(tmp_path / "empty"), "--input", str(tmp_path / "photos"),
                    "--output", str(out), *FAST, *IN_MEMORY])
    assert (s.ok, s.failed, s.skipped) == (1, 2, 0)
    rows = read_manifest(str(out / "_manifest"))
    assert sorted((r["input_uri"], r["status"], r["error_type"]) for r in rows) == [
        (str(tmp_path / "photos" / "astronaut.jpg"), "ok", None),
        (str(tmp_path / "photso"), "error", "ImageReadError"),
        (str(tmp_path / "x.jpg"), "error", "ImageReadError")]
    assert all("no such file or folder" in r["error_message"] for r in rows if r["error_type"])


def test_an_empty_glob_and_an_empty_list_say_so(tmp_path, run_job, read_manifest, caplog):
    """A list of comments and blank lines ended the run with 0 images and not a word (an empty
    glob logged a warning)."""
    listing = tmp_path / "list.txt"
    listing.write_text("# nothing yet\n\n   \n")
    with caplog.at_level(logging.WARNING, logger="transforms.matching"):
        _, s = run_job(["--input", str(tmp_path / "nothing" / "*.jpg"), "--input_list",
                        str(listing), "--output", str(tmp_path / "out"), *FAST, *IN_MEMORY])
    assert (s.ok, s.failed, s.skipped) == (0, 0, 0)
    assert read_manifest(str(tmp_path / "out" / "_manifest")) == []
    assert f"Input pattern {tmp_path / 'nothing' / '*.jpg'} matched no files" in caplog.text
    assert f"Input list {listing} names no files" in caplog.text
    # a folder that is not there is said, with the nearest one that is (a glob below a disk
    # not mounted was a quiet night like any other: edge review 37); one that is, is not
    assert (f"its folder {tmp_path / 'nothing'} does not exist (the nearest folder that does: "
            f"{tmp_path};") in caplog.text
    (tmp_path / "empty").mkdir()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="transforms.matching"):
        run_job(["--input", str(tmp_path / "empty" / "**" / "*.jpg"), "--output",
                 str(tmp_path / "out"), *FAST, *IN_MEMORY])
    assert "matched no files" in caplog.text and "does not exist" not in caplog.text
    assert "links to folders" not in caplog.text
    # a glob through links to folders matches nothing there: said, with the folder input that
    # takes them (operator review 39: "matched no files" alone)
    (tmp_path / "months" / "2019").mkdir(parents=True)
    (tmp_path / "months" / "2019" / "a.jpg").write_bytes(b"x")
    os.symlink(tmp_path / "months" / "2019", tmp_path / "empty" / "2019")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="transforms.matching"):
        run_job(["--input", str(tmp_path / "empty" / "**" / "*.jpg"), "--output",
                 str(tmp_path / "out"), *FAST, *IN_MEMORY])
    assert (f"matched no files; a glob does not go through links to folders "
            f"({tmp_path / 'empty' / '2019'} links to {tmp_path / 'months' / '2019'}): give the "
            f"folder as --input (--input {tmp_path / 'empty'}), which does") in caplog.text
    # a glob of folders takes no files: said, with the glob that takes what is below them (a
    # scheduled 'days/2026-12-*' did nothing with a quiet night's words: job review 46)
    for day in ("d-1", "d-2"):
        (tmp_path / "days" / day).mkdir(parents=True)
        (tmp_path / "days" / day / "a.jpg").write_bytes(b"x")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="transforms.matching"):
        run_job(["--input", str(tmp_path / "days" / "d-*"), "--output",
                 str(tmp_path / "out"), *FAST, *IN_MEMORY])
    assert (f"matched no files; it matched 2 folder(s) ({tmp_path / 'days' / 'd-1'}, ...): end "
            f"it in '/' ({tmp_path / 'days' / 'd-*'}/) to take the files below them"
            ) in caplog.text


def test_output_inside_the_input_folder_is_never_read_back(tmp_path, write_tree, photo_files,
                                                           run_job):
    root = tmp_path / "photos"
    write_tree(root, {"astronaut.jpg": photo_files["astronaut.jpg"]})
    args = ["--input", str(root), "--output", str(root / "small"), *FAST, *IN_MEMORY]
    _, s1 = run_job(args)
    _, s2 = run_job(args)
    assert (s1.ok, s2.ok, s2.skipped, s2.failed) == (1, 1, 0, 0)
    assert len([d for d in os.listdir(root / "small" / "_manifest") if d.startswith("run_id=")]) == 2


def test_a_file_larger_than_a_picture_of_max_pixels_is_an_error_row_unread(
        tmp_path, write_tree, photo_files, run_job, read_manifest, monkeypatch):
    """A 4 GB upload was read whole into memory and the job died of it (MemoryError, no
    manifest: security review 26). A file larger than a picture of --max_pixels can be
    (compress_core.images.largest_file; here made small) is an error row, never read."""
    import transforms.compress as compress_transforms

    monkeypatch.setattr(compress_transforms, "largest_file", lambda max_pixels: 40_000)
    root = tmp_path / "in"
    write_tree(root, {"coffee.jpg": photo_files["coffee.jpg"]})
    big = root / "big.jpg"
    big.write_bytes(b"\xff\xd8" + b"\0" * 50_000)
    _, s = run_job(["--input", str(root), "--output", str(tmp_path / "out"), *FAST, *IN_MEMORY])
    rows = {os.path.basename(r["input_uri"]): r
            for r in read_manifest(str(tmp_path / "out" / "_manifest"))}
    assert len(photo_files["coffee.jpg"]) <= 40_000 and rows["coffee.jpg"]["status"] == "ok"
    assert (rows["big.jpg"]["status"], rows["big.jpg"]["error_type"]) == \
        ("error", "ImageTooLargeError")
    assert "50,002 bytes, more than a picture of --max_pixels holds (40,000); not read" in \
        rows["big.jpg"]["error_message"]


def test_links_planted_in_an_output_folder_that_is_the_input_are_not_written_through(
        tmp_path, write_tree, photo_files, run_job, read_manifest):
    """--output = the input folder, which uploaders fill: a link planted at an output's name
    had the job write over the file it named, a folder link the outputs below it into the
    folder it named (security review 26). Each is an error row now, the rest written."""
    root, victim, elsewhere = tmp_path / "photos", tmp_path / "victim.txt", tmp_path / "else"
    write_tree(root, {"coffee.jpg": photo_files["coffee.jpg"],
                      "astronaut.jpg": photo_files["astronaut.jpg"]})
    (tmp_path / "real_sub").mkdir()
    (tmp_path / "real_sub" / "china.jpg").write_bytes(photo_files["trips/china.jpg"])
    victim.write_bytes(b"keep me")
    elsewhere.mkdir()
    (root / f"coffee.jpg.{TAG}.jpg").symlink_to(victim)
    (root / "sub").symlink_to(tmp_path / "real_sub", target_is_directory=True)
    # (the input follows folder links, as find -L; its output below sub/ would go through it)
    _, s = run_job(["--input", str(root), "--output", str(root), *FAST, *IN_MEMORY,
                    "--run_id", "planted"])
    rows = {os.path.relpath(r["input_uri"], root): r
            for r in read_manifest(str(root / "_manifest"))}
    assert {name: r["status"] for name, r in rows.items()} == {
        "astronaut.jpg": "ok", "coffee.jpg": "error", "sub/china.jpg": "error"}
    assert all("is a symbolic link" in rows[n]["error_message"]
               for n in ("coffee.jpg", "sub/china.jpg"))
    assert victim.read_bytes() == b"keep me"
    assert os.listdir(tmp_path / "real_sub") == ["china.jpg"]


def test_output_folder_that_is_the_input_folder_never_takes_its_outputs_for_inputs(
        tmp_path, write_tree, photo_files, run_job, read_manifest):
    """--output = the input folder: the outputs lie beside the photos. A rerun used to compress
    the first run's outputs as new inputs (coffee.jpg.<tag>.jpg.<tag>.jpg ... one more
    generation per run, each row ok), even with --skip_existing."""
    root = tmp_path / "photos"
    write_tree(root, {"coffee.jpg": photo_files["coffee.jpg"],
                      "trips/china.jpg": photo_files["trips/china.jpg"]})
    args = ["--input", str(root), "--output", str(root), *FAST, *IN_MEMORY]
    _, s1 = run_job([*args, "--run_id", "first"])
    assert (s1.ok, s1.failed, s1.skipped) == (2, 0, 0)
    after_first = _files(root)
    assert [f for f in after_first if not f.startswith("_")] == sorted(
        ["coffee.jpg", f"coffee.jpg.{TAG}.jpg", "trips/china.jpg",
         f"trips/china.jpg.{TAG}.jpg"])
    _, s2 = run_job([*args, "--run_id", "second", "--skip_existing"])
    assert (s2.ok, s2.failed, s2.skipped) == (0, 0, 2)
    _, s3 = run_job([*args, "--run_id", "third"])
    assert (s3.ok, s3.failed, s3.skipped) == (2, 0, 0)
    os.symlink(root, tmp_path / "link")       # the same folder, reached through a link
    _, s_link = run_job(["--input", str(root), "--output", str(tmp_path / "link"), *FAST,
                         *IN_MEMORY, "--run_id", "link", "--skip_existing"])
    assert (s_link.ok, s_link.failed, s_link.skipped) == (0, 0, 2)
    assert [f for f in _files(root) if not f.startswith("_")] == \
        [f for f in after_first if not f.startswith("_")]
    rows = read_manifest(str(root / "_manifest"))
    assert sorted({os.path.relpath(r["input_uri"], root) for r in rows}) == \
        ["coffee.jpg", "trips/china.jpg"]
    # review 21: other settings' outputs there were inputs too (a rerun at another --scale
    # made coffee.jpg.<tag>.jpg.<other tag>.jpg); an output of any settings is not one, while
    # a photo whose name merely looks like an output's, beside no file of its stem, is
    gradient = [*args[:-len(FAST) - len(IN_MEMORY)], "--method", "hybrid", "--energy",
                "gradient", *IN_MEMORY]
    _, s4 = run_job([*gradient, "--scale", "0.4", "--run_id", "fourth"])
    assert (s4.ok, s4.failed, s4.skipped) == (2, 0, 0)
    write_tree(root, {"frame.1718000000.jpg": photo_files["coffee.jpg"]})
    _, s5 = run_job([*gradient, "--scale", "0.3", "--run_id", "fifth"])
    assert (s5.ok, s5.failed, s5.skipped) == (3, 0, 0)
    twice = [f for f in _files(root) if f.count(".") > 2 and not f.startswith("_")
             and f.startswith("frame")]
    assert twice == [f"frame.1718000000.jpg.{twice[0].split('.')[-2]}.jpg"]
    # operator review 24: once a photo is gone, its outputs of every settings stay outputs
    # (they were compressed as new photos: coffee.jpg.<tag>.jpg.<other tag>.jpg)
    os.remove(root / "coffee.jpg")
    _, s6 = run_job([*gradient, "--scale", "0.25", "--run_id", "sixth"])
    assert (s6.ok, s6.failed, s6.skipped) == (2, 0, 0)  # trips/china.jpg and frame...jpg
    assert not [f for f in _files(root) if f.startswith("coffee.jpg.") and f.count(".") > 3]
    # operator review 39: an output whose name is set apart by a digest (a?b.jpg written as
    # a_b.jpg~<12 hex>.<tag>.jpg) was an input at the next change of settings, the photo
    # still there
    write_tree(root, {"a?b.jpg": photo_files["coffee.jpg"]})
    _, s7 = run_job([*gradient, "--scale", "0.2", "--run_id", "seventh"])
    assert (s7.ok, s7.failed, s7.skipped) == (3, 0, 0)
    assert [f for f in _files(root) if "~" in f and not f.startswith("_")]
    _, s8 = run_job([*gradient, "--scale", "0.15", "--run_id", "eighth"])
    assert (s8.ok, s8.failed, s8.skipped) == (3, 0, 0)
    assert not [r for r in read_manifest(str(root / "_manifest"), run_id="eighth")
                if "~" in r["input_uri"]]


def test_a_glob_over_the_output_folder_never_takes_the_dead_letters_for_inputs(
        tmp_path, write_tree, photo_files, run_job, read_manifest):
    """--output = the input folder and a '**' glob: each rerun matched the earlier runs'
    dead letters (<output>/_dead_letters/run_id=<id>/failures-*.jsonl) as inputs, an error
    row and a new dead letter each: one more failure per run, for ever. The manifest folder
    was left out, the dead-letter folder was not."""
    root = tmp_path / "photos"
    write_tree(root, {"coffee.jpg": photo_files["coffee.jpg"], "empty.jpg": b""})
    args = ["--input", str(root / "**"), "--output", str(root), *FAST, *IN_MEMORY,
            "--skip_existing"]
    summaries = [run_job([*args, "--run_id", run])[1] for run in ("first", "second", "third")]
    # (the empty file, the same file, is skipped as failed before after the first run)
    assert [(s.ok, s.failed, s.skipped, s.failed_before) for s in summaries] == \
        [(1, 1, 0, 0), (0, 0, 2, 1), (0, 0, 2, 1)]
    assert (root / "_dead_letters" / "run_id=first").is_dir()
    rows = read_manifest(str(root / "_manifest"))
    assert sorted({os.path.relpath(r["input_uri"], root) for r in rows}) == \
        ["coffee.jpg", "empty.jpg"]


def test_an_upload_in_a_folder_named_like_the_jobs_own_is_an_error_row_not_written_there(
        tmp_path, write_tree, photo_files, run_job, read_manifest):
    """Security review 45: with a '**' glob, an upload at <input>/_manifest/run_id=night-2/x.jpg
    was written into <output>/_manifest/run_id=night-2/, and the scheduled run 'night-2' was
    then refused ("an earlier run has this id"); the same through _dead_letters/. Such an
    input is now an error row saying why, and the run ids stay free."""
    root = tmp_path / "uploads"
    write_tree(root, {"coffee.jpg": photo_files["coffee.jpg"],
                      "_manifest/run_id=night-2/x.jpg": photo_files["coffee.jpg"],
                      "_dead_letters/run_id=night-3/y.jpg": photo_files["coffee.jpg"]})
    out = tmp_path / "out"
    args = ["--input", str(root / "**"), "--output", str(out), *FAST, *IN_MEMORY]
    _, first = run_job([*args, "--run_id", "night-1"])
    assert (first.ok, first.failed) == (1, 2)
    rows = {os.path.relpath(r["input_uri"], root): r
            for r in read_manifest(str(out / "_manifest"), run_id="night-1")}
    for name, folder in (("_manifest/run_id=night-2/x.jpg", "_manifest"),
                         ("_dead_letters/run_id=night-3/y.jpg", "_dead_letters")):
        assert rows[name]["status"] == "error"
        assert f"would lie in {out / folder}, a folder of the job's own" in \
            rows[name]["error_message"]
    assert sorted(os.listdir(out / "_manifest")) == ["run_id=night-1"]
    assert sorted(os.listdir(out / "_dead_letters")) == ["run_id=night-1"]
    for run in ("night-2", "night-3"):   # (refused before: an earlier run had this id)
        _, summary = run_job([*args, "--run_id", run])
        assert (summary.ok, summary.failed) == (1, 2)


@pytest.mark.parametrize("where", ["parent", "equal"])
def test_a_manifest_folder_that_holds_the_output_folder_takes_no_output_for_its_own(
        tmp_path, write_tree, photo_files, run_job, read_manifest, where):
    """--manifest equal to --output, or a folder --output lies in: every output lies below the
    manifest's root, and the job-folder check (security review 45) made every input an error
    row. Only the manifest's run_id=/ and _journal/ folders are the job's own."""
    root = tmp_path / "in"
    write_tree(root, {"coffee.jpg": photo_files["coffee.jpg"]})
    manifest = tmp_path / "jobs"
    out = manifest / "out" if where == "parent" else manifest
    _, summary = run_job(["--input", str(root), "--output", str(out), "--manifest",
                          str(manifest), "--run_id", "r1", *FAST, *IN_MEMORY])
    assert (summary.ok, summary.failed) == (1, 0)


def test_an_input_list_of_the_output_folder_takes_its_files(tmp_path, write_tree, photo_files,
                                                           run_job, read_manifest):
    """--input_list naming photos of the folder that is also --output: every listed file was
    dropped as 'under the output folder' (0 images, exit status 0). A list that also names the
    outputs of a sub-folder --output keeps leaving those out."""
    root = tmp_path / "photos"
    write_tree(root, {"coffee.jpg": photo_files["coffee.jpg"],
                      "trips/china.jpg": photo_files["trips/china.jpg"]})
    listing = tmp_path / "list.txt"
    listing.write_text(f"{root / 'coffee.jpg'}\n{root / 'trips' / 'china.jpg'}\n")
    args = ["--input_list", str(listing), "--output", str(root), *FAST, *IN_MEMORY]
    _, s1 = run_job([*args, "--run_id", "first"])
    assert (s1.ok, s1.failed, s1.skipped) == (2, 0, 0)
    _, s2 = run_job([*args, "--run_id", "second", "--skip_existing"])
    assert (s2.ok, s2.failed, s2.skipped) == (0, 0, 2)
    # a list of the folder and of its outputs' sub-folder: those outputs are not inputs
    small = root / "small"
    _, s3 = run_job(["--input_list", str(listing), "--output", str(small), *FAST, *IN_MEMORY,
                     "--run_id", "third"])
    assert s3.ok == 2
    outputs = sorted(str(small / f) for f in _files(small) if not f.startswith("_"))
    listing.write_text("\n".join([str(root / "coffee.jpg"), *outputs]) + "\n")
    _, s4 = run_job(["--input_list", str(listing), "--output", str(small), *FAST, *IN_MEMORY,
                     "--run_id", "fourth"])
    assert (s4.ok, s4.failed) == (1, 0)
    rows = read_manifest(str(small / "_manifest"), run_id="fourth")
    assert [r["input_uri"] for r in rows] == [str(root / "coffee.jpg")]


def test_a_file_name_that_is_not_utf8_is_an_error_row_not_a_crashed_job(
        tmp_path, write_tree, photo_files, run_job, read_manifest):
    """A Linux file name in Latin-1 (b'caf\\xe9.jpg') stopped the whole job: Beam's coders
    cannot encode its name (UnicodeEncodeError: surrogates not allowed), so no manifest, no
    other image's row, exit status 1."""
    write_tree(tmp_path / "in", {"ok.jpg": photo_files["coffee.jpg"]})
    with open(os.path.join(os.fsencode(tmp_path / "in"), b"caf\xe9.jpg"), "wb") as fh:
        fh.write(photo_files["astronaut.jpg"])
    out = tmp_path / "out"
    _, s = run_job(["--input", str(tmp_path / "in"), "--output", str(out), *FAST, *IN_MEMORY,
                    "--run_id", "latin1"])
    assert (s.ok, s.failed, s.skipped) == (1, 1, 0)
    rows = {os.path.basename(r["input_uri"]): r for r in read_manifest(str(out / "_manifest"))}
    assert rows["ok.jpg"]["status"] == "ok"
    bad = rows["caf\\xe9.jpg"]
    assert (bad["status"], bad["error_type"]) == ("error", "ImageReadError")
    assert bad["error_message"].startswith(str(tmp_path / "in" / "caf\\xe9.jpg") +
                                           ": the file name is not UTF-8")
    assert bad["input_bytes"] == len(photo_files["astronaut.jpg"])
    letters = [json.loads(line) for f in _files(out / "_dead_letters" / "run_id=latin1")
               for line in open(out / "_dead_letters" / "run_id=latin1" / f)]
    assert [(d["input_uri"], d["stage"]) for d in letters] == [(bad["input_uri"], "match")]
    # listed: the line fails alone (the whole list failed with a UnicodeDecodeError)
    listing = tmp_path / "list.txt"
    listing.write_bytes(os.fsencode(tmp_path / "in") + b"/caf\xe9.jpg\n" +
                        os.fsencode(tmp_path / "in" / "ok.jpg") + b"\n")
    _, s2 = run_job(["--input_list", str(listing), "--output", str(out), *FAST, *IN_MEMORY,
                     "--run_id", "listed"])
    assert (s2.ok, s2.failed, s2.skipped) == (1, 1, 0)
    rows = {os.path.basename(r["input_uri"]): (r["status"], r["error_type"])
            for r in read_manifest(str(out / "_manifest"), run_id="listed")}
    assert rows == {"ok.jpg": ("ok", None), "caf\\xe9.jpg": ("error", "ImageReadError")}
    # a quiet night's rerun: the name fails again, unread, beside the skip (docs review 28:
    # every --skip_existing rerun exited 1, "every image failed")
    from pipeline.main import exit_status

    _, s3 = run_job(["--input", str(tmp_path / "in"), "--output", str(out), *FAST, *IN_MEMORY,
                     "--run_id", "quiet", "--skip_existing"])
    assert (s3.ok, s3.failed, s3.skipped, s3.not_utf8, exit_status(s3)) == (0, 1, 1, 1, 0)
    assert "failed, names not UTF-8: 1" in format_summary(s3)


def test_command_line_entry_point(tmp_path, write_tree, photo_files):
    write_tree(tmp_path / "in", {"coffee.jpg": photo_files["coffee.jpg"]})
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "--input", str(tmp_path / "in" / "*.jpg"),
         "--output", str(tmp_path / "out"), *FAST, "--run_id", "cli", "--runner", "DirectRunner"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "run cli: 1 images: 1 ok, 0 failed, 0 skipped" in proc.stderr
    # the summary keeps its lines (review 27: one line with literal \n after review 26's fix)
    assert [line for line in proc.stderr.splitlines() if line.startswith("  bytes in ")]
    assert os.path.isdir(tmp_path / "out" / "_manifest" / "run_id=cli")
    bad = subprocess.run([sys.executable, "-m", "pipeline", "--input", "x", "--output", "y",
                          "--method", "resize"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "invalid choice: 'resize'" in bad.stderr
    # every image failed: exit status 1, so that a scheduler sees it (review 13, O7: it was 0)
    # (a name with a line break forged a log line: security review 26)
    forged = "bad\n2026-12-05 00:00:00,000 INFO pipeline.main: run forged: 9 images.jpg"
    erasing = "esc\x1b[2K\x07.jpg"   # (erased its log line, rang the bell: review 27)
    write_tree(tmp_path / "broken", {"notes.jpg": b"not a picture", erasing: b"",
                                     forged: b"not a picture either"})
    failed = subprocess.run(
        [sys.executable, "-m", "pipeline", "--input", str(tmp_path / "broken"),
         "--output", str(tmp_path / "out2"), *FAST, "--run_id", "all-failed",
         "--runner", "DirectRunner"], capture_output=True, text=True, timeout=300)
    assert failed.returncode == 1, failed.stderr[-3000:]
    assert "run all-failed: 3 images: 0 ok, 3 failed, 0 skipped" in failed.stderr
    assert "every image failed (3), nothing was written: exit status 1" in failed.stderr
    assert "bad\\n2026-12-05" in failed.stderr
    assert not [line for line in failed.stderr.splitlines() if line.startswith("2026-12-05 00")]
    assert "esc\\x1b[2K\\x07.jpg" in failed.stderr and "\x1b" not in failed.stderr


def test_ctrl_c_is_one_line_and_exit_status_130(monkeypatch, capsys, caplog):
    """Operator review 24: Ctrl-C printed the runner's 269 lines of tracebacks and exited 1,
    the status of a run whose every image failed. The runner raises its own RuntimeError for
    an interrupted step; its chain holds the KeyboardInterrupt."""
    import pipeline.__main__ as entry

    def stopped(argv, progress=None):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            logging.getLogger("apache_beam.runners.common").error(
                "KeyboardInterrupt [while running 'CompressImage']", exc_info=True)
            raise RuntimeError("KeyboardInterrupt [while running 'CompressImage']")

    assert _main_running(monkeypatch, stopped) == entry.INTERRUPTED == 130
    err = capsys.readouterr().err
    assert err.startswith("interrupted: the run stopped before writing its manifest")
    assert "Traceback" not in err and not [r for r in caplog.records if r.exc_info]

    def broken(argv, progress=None):
        raise RuntimeError("a step failed")

    monkeypatch.setattr(entry, "run", broken)  # any other error is raised as it was
    with pytest.raises(RuntimeError, match="a step failed"):
        entry.main([])


def _main_running(monkeypatch, fake_run) -> int:
    """``pipeline.__main__.main([])`` with ``fake_run`` in place of the run (main's logging
    set-up would point the root logger at this test's captured stderr, closed after it; the
    filter it adds to Beam's logger is taken off after the test)."""
    import pipeline.__main__ as entry

    monkeypatch.setattr(logging, "basicConfig", lambda **kwargs: None)
    steps = logging.getLogger("apache_beam.runners.common")
    monkeypatch.setattr(steps, "filters", list(steps.filters))
    monkeypatch.setattr(entry, "run", fake_run)
    return entry.main([])


def _sigterm_this_process():
    import signal

    os.kill(os.getpid(), signal.SIGTERM)
    for _ in range(100):   # (the signal is handled between two steps of this loop)
        time.sleep(0.05)
    raise AssertionError("SIGTERM did not stop the run")


def test_sigterm_stops_the_run_as_ctrl_c_does_with_exit_status_143(monkeypatch, capsys):
    """Fault review 28: SIGTERM (what timeout, systemd and Kubernetes send) ended the job
    without a word, exit status 143 from the shell. It is said as Ctrl-C is, and the handler
    of before is back after the run."""
    import signal

    import pipeline.__main__ as entry

    def terminated(argv, progress=None):
        _sigterm_this_process()

    before = signal.getsignal(signal.SIGTERM)
    assert _main_running(monkeypatch, terminated) == entry.TERMINATED == 143
    err = capsys.readouterr().err
    assert err.startswith("terminated (SIGTERM): the run stopped before writing its manifest")
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_sigterm_that_beams_clean_up_swallows_is_sent_again(monkeypatch, capsys):
    """Diff review 44: in multi_processing mode Beam's clean-up after the interrupt joined a
    worker's thread that never ended, and one SIGTERM left the launcher hung for good (its
    lease written on); a second one ended it. The launcher sends itself the same again every
    NUDGE_SECONDS until the interrupt is said."""
    import pipeline.__main__ as entry

    monkeypatch.setattr(entry, "NUDGE_SECONDS", 0.3)

    def stuck(argv, progress=None):
        try:
            _sigterm_this_process()
        except KeyboardInterrupt:   # (Beam's clean-up, waiting on a thread that never ends)
            for _ in range(200):
                time.sleep(0.05)
            raise AssertionError("the launcher was not nudged")

    started = time.monotonic()
    assert _main_running(monkeypatch, stuck) == entry.TERMINATED
    assert time.monotonic() - started < 5
    assert capsys.readouterr().err.startswith("terminated (SIGTERM): the run stopped before")


def test_an_interrupt_once_the_manifest_is_written_says_so(tmp_path, monkeypatch, capsys):
    """Job review 44: a SIGTERM in the run's last fraction of a second (Beam had moved the
    manifest's parts into place and not yet returned: 0.1 s in_memory, 1.7 s with
    multi_processing) was said as "the run stopped before writing its manifest ... a
    --skip_existing rerun resumes it", whose retry under the same id is then refused. It says
    the manifest was written, and where."""
    from types import SimpleNamespace

    import pipeline.__main__ as entry

    manifest = str(tmp_path / "out" / "_manifest")
    job = SimpleNamespace(manifest=manifest, run_id="late", output=str(tmp_path / "out"),
                          dead_letters=str(tmp_path / "out" / "_dead_letters" / "run_id=late"))

    def ending(argv, progress=None):
        progress.update(job=job, storage=None)
        os.makedirs(os.path.join(manifest, "run_id=late"))   # (Beam's parts moved in)
        open(os.path.join(manifest, "run_id=late", "part-00000-of-00001.parquet"), "wb").close()
        _sigterm_this_process()

    assert _main_running(monkeypatch, ending) == entry.TERMINATED
    err = capsys.readouterr().err
    assert err.startswith("terminated (SIGTERM): run late was stopped as it ended: its "
                          f"manifest was written ({manifest}/run_id=late); python -m "
                          f"pipeline.report {manifest} says what it did"), err


@pytest.mark.parametrize("delay", [0.0, 0.3])
def test_sigterm_after_the_run_finished_keeps_its_exit_status(tmp_path, write_tree,
                                                              photo_files, delay):
    """README review 39: Python's own exit after the summary (0.5-1.5 s shutting Beam's and
    torch's modules down, its signal handlers reset) let a scheduler's SIGTERM end a finished
    run with status 143 and no word. It exits with the run's own status."""
    import signal

    write_tree(tmp_path / "in", {"coffee.jpg": photo_files["coffee.jpg"]})
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "--input", str(tmp_path / "in"), "--output",
         str(tmp_path / "out"), *FAST, "--run_id", "done"],
        stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        if line.strip().startswith("manifest:"):
            break
    time.sleep(delay)
    proc.send_signal(signal.SIGTERM)
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 0, rest
    assert "terminated" not in rest


_INTERRUPT_IN_THE_SAMPLER = """
import runpy, sys, threading, traceback
start, seen = threading.Thread.start, [0]
def start_then_interrupt(self):   # (a Ctrl-C or SIGTERM landing right after the sampler's
    start(self)                   # thread started, before Beam marks it started)
    if any("statesampler" in frame.filename for frame in traceback.extract_stack()):
        seen[0] += 1
        if seen[0] == 3:
            raise KeyboardInterrupt
threading.Thread.start = start_then_interrupt
sys.argv = ["python -m pipeline", *sys.argv[1:]]
runpy.run_module("pipeline", run_name="__main__", alter_sys=True)
"""


def test_an_interrupt_inside_beams_state_sampler_still_ends_the_process(tmp_path, write_tree,
                                                                        photo_files):
    """Job review 44: an interrupt that landed in Beam's ``StateSampler.start()``, between
    starting its sampling thread (no daemon) and marking it started, left that thread running:
    the launcher said "interrupted" and then never exited (Python's exit waited on the thread;
    SIGTERM and Ctrl-C were ignored by then). It ends at once with status 130."""
    write_tree(tmp_path / "in", {"coffee.jpg": photo_files["coffee.jpg"]})
    proc = subprocess.run(
        [sys.executable, "-c", _INTERRUPT_IN_THE_SAMPLER, "--input", str(tmp_path / "in"),
         "--output", str(tmp_path / "out"), *FAST], capture_output=True, text=True,
        timeout=150)
    assert proc.returncode == 130, proc.stderr[-2000:]
    assert "interrupted: the run stopped before writing its manifest" in proc.stderr


class _SubmittedJob:
    """A stand-in for a job that runs elsewhere (Dataflow's result: ``run()`` returned while
    the job runs on; the service cannot be reached here): waiting is interrupted at once, and
    ``cancel()`` answers ``answer`` (a state, or an exception to raise)."""

    def __init__(self, answer="CANCELLING"):
        self.cancelled, self.answer = 0, answer

    def job_id(self):
        return "2026-12-05_01_02_03-123"

    def wait_until_finish(self, duration=None):
        raise KeyboardInterrupt   # (SIGTERM becomes one: pipeline.__main__)

    def cancel(self):
        self.cancelled += 1
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


_JOB = "DataflowRunner job 2026-12-05_01_02_03-123"


@pytest.mark.parametrize("answer, said", [
    ("CANCELLING", f"interrupted: run r1: {_JOB} was cancelled before it wrote its manifest "
                   "(the runner took the cancel; its workers stop within minutes); each output "
                   "it wrote is whole"),
    (OSError("the service could not be reached"),
     f"interrupted: run r1: {_JOB} may still be running: the cancel failed (OSError: the "
     "service could not be reached); it will write its outputs and manifest unless you cancel "
     "it (gcloud dataflow jobs cancel 2026-12-05_01_02_03-123 --region REGION)"),
    (KeyboardInterrupt(), f"interrupted: run r1: {_JOB} may still be running: the cancel "
                          "failed (a second interrupt stopped the cancel)"),
    ("DONE", f"interrupted: run r1: {_JOB} had finished (DONE) before the cancel; its manifest "
             "says what it did"),
    ("FAILED", f"interrupted: run r1: {_JOB} had ended (FAILED) before the cancel; the "
               "runner's log says why, and a --skip_existing rerun resumes it")])
def test_an_interrupted_launcher_cancels_the_job_that_runs_elsewhere(monkeypatch, capsys,
                                                                     answer, said):
    """Dataflow review 31: a scheduler's timeout (SIGTERM) or Ctrl-C while the launcher waited
    for a Dataflow job said "the run stopped before writing its manifest ... a --skip_existing
    rerun resumes it" while the job ran on (Beam's wait does not cancel): a retry ran a second
    job over the same outputs. The job is cancelled through the runner's result; where that
    fails or a second interrupt stops it (Beam retries the service for minutes), the line
    names the job that may still run and how to cancel it (the diff review had the old line
    back on a second Ctrl-C); a job that had ended is said as ended. (A dry run: the service
    is not asked; run() is the stand-in's.)"""
    import apache_beam as beam

    import pipeline.__main__ as entry

    job = _SubmittedJob(answer)
    monkeypatch.setattr(beam.Pipeline, "run", lambda self, *a, **k: job)
    monkeypatch.setattr(logging, "basicConfig", lambda **kwargs: None)
    steps = logging.getLogger("apache_beam.runners.common")
    monkeypatch.setattr(steps, "filters", list(steps.filters))
    assert entry.main([
        "--input", "gs://photos/2026/*.jpg", "--output", "gs://archive/2026", "--run_id", "r1",
        "--runner", "DataflowRunner", "--project", "my-project", "--region", "europe-west1",
        "--temp_location", "gs://my-bucket/tmp", "--dry_run=True"]) == entry.INTERRUPTED
    err = capsys.readouterr().err
    assert job.cancelled == 1
    assert err.startswith(said), err
    assert ("--skip_existing rerun resumes it" in err) == (answer in ("CANCELLING", "FAILED"))


def test_an_interrupted_launcher_cancels_a_cluster_job_too(tmp_path, monkeypatch, capsys):
    """The second diff review: Flink's and Spark's jobs run on their cluster after run()
    returns, as Dataflow's: they are cancelled the same way, and a failed cancel points at the
    cluster's own tools (gcloud is Dataflow's)."""
    import apache_beam as beam

    import pipeline.__main__ as entry

    for answer, said in (("CANCELLING", "interrupted: run r2: FlinkRunner job "
                                        "2026-12-05_01_02_03-123 was cancelled"),
                         (OSError("no job server"), "unless you cancel it (the cluster's own "
                                                    "tools)")):
        job = _SubmittedJob(answer)
        monkeypatch.setattr(beam.Pipeline, "run", lambda self, *a, **k: job)
        monkeypatch.setattr(logging, "basicConfig", lambda **kwargs: None)
        steps = logging.getLogger("apache_beam.runners.common")
        monkeypatch.setattr(steps, "filters", list(steps.filters))
        assert entry.main(["--input", str(tmp_path / "*.jpg"), "--output", str(tmp_path / "o"),
                           "--run_id", "r2", "--runner", "FlinkRunner",
                           "--flink_master", "localhost:8081"]) == entry.INTERRUPTED
        err = capsys.readouterr().err
        assert job.cancelled == 1 and said in err, err


def test_a_runner_that_cannot_start_the_job_stops_at_launch(tmp_path, monkeypatch, capsys):
    """Docs review 34: Flink's job server, whose jar cannot be fetched offline, raised in run()
    before any step ran; the job said "stopped: a step failed (...)", exit status 3, its cause
    cut in the middle of the URL. A runner that runs the job elsewhere and cannot start it is
    a launch's error: one line with the whole cause, exit status 2, nothing written."""
    import apache_beam as beam

    import pipeline.__main__ as entry

    cause = ("Unable to fetch remote job server jar at https://repo.maven.apache.org/maven2/org/"
             "apache/beam/beam-runners-flink-2.2-job-server/2.77.0/beam-runners-flink-2.2-job-"
             "server-2.77.0.jar: <urlopen error [Errno -2] Name or service not known>. Also "
             "failed to fetch from Google Maven mirror at https://maven-central.storage-"
             "download.googleapis.com/maven2/org/apache/beam/x.jar: <urlopen error>.\n"
             "If no Internet access at runtime, stage the jar at /root/.apache_beam/x.jar")

    def refused(self, *args, **kwargs):
        raise RuntimeError(cause)

    monkeypatch.setattr(beam.Pipeline, "run", refused)
    monkeypatch.setattr(logging, "basicConfig", lambda **kwargs: None)
    (tmp_path / "a.jpg").write_bytes(b"x")
    with pytest.raises(SystemExit) as stop:
        entry.main(["--input", str(tmp_path / "*.jpg"), "--output", str(tmp_path / "o"),
                    "--runner", "FlinkRunner", "--flink_master", "localhost:8081"])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "python -m pipeline: error: --runner FlinkRunner: the job was not started: "
        "RuntimeError: " + " ".join(cause.split())], err
    assert not (tmp_path / "o").exists()


def test_an_interrupted_local_run_asks_no_cancel(tmp_path, input_dir, monkeypatch, capsys):
    """A local runner ran the job inside run(): an interrupt after it is said as before, and
    nothing is cancelled."""
    import apache_beam as beam

    import pipeline.__main__ as entry

    done = _SubmittedJob("DONE")
    monkeypatch.setattr(beam.Pipeline, "run", lambda self, *a, **k: done)
    monkeypatch.setattr(logging, "basicConfig", lambda **kwargs: None)
    steps = logging.getLogger("apache_beam.runners.common")
    monkeypatch.setattr(steps, "filters", list(steps.filters))
    assert entry.main(["--input", str(input_dir), "--output", str(tmp_path / "out"),
                       *FAST]) == entry.INTERRUPTED
    assert capsys.readouterr().err.startswith("interrupted: the run stopped before writing")
    assert done.cancelled == 0


def test_a_failed_runs_error_line_tells_the_skips_apart():
    """Review 2 of session 24: beside skips of inputs that failed before, the error line said
    '(1 skipped, written before)'."""
    from pipeline.main import _skips_said
    from pipeline.report.summary import RunSummary

    def said(skipped, failed_before):
        return _skips_said(RunSummary(run_id="r", ok=0, failed=1, skipped=skipped, bytes_in=0,
                                      bytes_out=0, failed_before=failed_before))

    assert said(0, 0) == ""
    assert said(3, 0) == " (3 skipped, written before)"
    assert said(1, 1) == " (1 skipped, failed before)"
    assert said(5, 2) == " (3 skipped, written before; 2 skipped, failed before)"


def test_exit_status_is_1_only_when_every_image_failed():
    from pipeline.main import exit_status
    from pipeline.report.summary import RunSummary

    def summary(ok, failed, skipped, not_images=0, failed_again=0, not_utf8=0):
        return RunSummary(run_id="r", ok=ok, failed=failed, skipped=skipped, bytes_in=0,
                          bytes_out=0, not_images=not_images, failed_again=failed_again,
                          not_utf8=not_utf8)

    assert exit_status(summary(0, 3, 0)) == 1
    # skipped inputs are not read: every image read failed (a --skip_existing run exited 0)
    assert exit_status(summary(0, 3, 2)) == 1
    # files that are no images fail every rerun: beside skips they alone exit 0 (review 21),
    # alone (nothing skipped: a wrong folder) or with another failure, 1
    assert exit_status(summary(0, 1, 3, not_images=1)) == 0
    assert exit_status(summary(0, 2, 0, not_images=2)) == 1
    assert exit_status(summary(0, 3, 3, not_images=2)) == 1
    # pictures an earlier run failed on, failing again (after an upgrade): likewise
    assert exit_status(summary(0, 2, 3, not_images=1, failed_again=1)) == 0
    assert exit_status(summary(0, 1, 3, not_utf8=1)) == 0   # (a name no run can read)
    assert exit_status(summary(0, 2, 3, not_utf8=1)) == 1
    assert exit_status(summary(0, 1, 0, not_utf8=1)) == 1   # alone
    assert exit_status(summary(0, 2, 0, failed_again=2)) == 1
    assert exit_status(summary(0, 3, 3, not_images=1, failed_again=1)) == 1
    for counts in ((1, 3, 0), (1, 3, 2), (0, 0, 0), (0, 0, 5), (4, 0, 0)):
        assert exit_status(summary(*counts)) == 0, counts
    # an output that could not be written: 1 however many were (operator review 39)
    assert exit_status(RunSummary(run_id="r", ok=8, failed=7, skipped=0, bytes_in=0,
                                  bytes_out=0, unwritten=7)) == 1


def test_an_output_that_cannot_be_written_makes_the_exit_status_1(
        tmp_path, write_tree, photo_files, run_job, read_manifest, monkeypatch, caplog):
    """Operator review 39: a night whose disk filled up after 8 of 15 outputs exited 0, the
    status of a run with a damaged photo among good ones. A failure to write is the storage's:
    counted (outputs_unwritten), said in the summary, exit status 1."""
    import transforms.compress as compress_step
    from pipeline.main import exit_status
    from pipeline.report.summary import format_summary

    real = compress_step.write_atomic

    def full_for_coffee(uri, *args, **kwargs):
        if "coffee" in str(uri):
            raise OSError(28, "No space left on device")
        return real(uri, *args, **kwargs)

    monkeypatch.setattr(compress_step, "write_atomic", full_for_coffee)
    write_tree(tmp_path / "in", {"coffee.jpg": photo_files["coffee.jpg"],
                                 "astronaut.jpg": photo_files["astronaut.jpg"]})
    with caplog.at_level(logging.ERROR, logger="pipeline.main"):
        _, s = run_job(["--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"),
                        *FAST, *IN_MEMORY, "--run_id", "full"])
    assert (s.ok, s.failed, s.unwritten) == (1, 1, 1)
    said = [r.getMessage() for r in caplog.records if r.name == "pipeline.main"]
    assert said == ["run full: 1 output(s) could not be written (a full disk, a folder the job "
                    "may not write: see the failures and the log): exit status 1"], said
    assert exit_status(s) == 1
    assert "  failed to write: 1 (compressed, but the output could not be written" \
        in format_summary(s)
    (row,) = [r for r in read_manifest(str(tmp_path / "out" / "_manifest"))
              if r["status"] == "error"]
    assert "No space left on device" in row["error_message"]


def test_a_sidecar_in_a_folder_input_does_not_fail_every_rerun(tmp_path, write_tree,
                                                              photo_files, read_manifest):
    """Review 21: a folder with photos and one .xmp sidecar (a folder input takes every
    file): the first run exited 0 (1 failed beside 1 ok); every --skip_existing rerun after it
    exited 1 ('every image failed') though nothing new had come. Now a new sidecar beside
    skips alone does not fail the run, and the summary says what the file is; the reruns
    after it skip it (failed before, the same file: session 24)."""
    def rerun(run_id):
        return subprocess.run(
            [sys.executable, "-m", "pipeline", "--input", str(tmp_path / "in"),
             "--output", str(tmp_path / "out"), *FAST, "--run_id", run_id, "--skip_existing",
             "--runner", "DirectRunner"], capture_output=True, text=True, timeout=300)

    sidecar = b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>"
    write_tree(tmp_path / "in", {"coffee.jpg": photo_files["coffee.jpg"]})
    codes = [rerun("first").returncode]
    write_tree(tmp_path / "in", {"coffee.xmp": sidecar})
    proc = rerun("second")
    codes.append(proc.returncode)
    assert "run second: 2 images: 0 ok, 1 failed, 1 skipped" in proc.stderr
    assert "failed, not images: 1 (no decoder recognises them" in proc.stderr
    proc = rerun("quiet")
    codes.append(proc.returncode)
    assert codes == [0, 0, 0], proc.stderr[-3000:]
    assert "run quiet: 2 images: 0 ok, 0 failed, 2 skipped" in proc.stderr
    assert "skipped, failed before: 1" in proc.stderr
    # a new photo that fails (cut short in its upload) still fails the run (diff review 21:
    # every ImageDecodeError had counted as a sidecar)
    write_tree(tmp_path / "in", {"new.jpg": photo_files["coffee.jpg"][:200]})
    proc = rerun("third")
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "run third: 3 images: 0 ok, 1 failed, 2 skipped" in proc.stderr
    # a .jpg whose bytes no decoder recognises is a damaged photo, not a stray file (docs
    # review 23: it counted as "not an image" and the run exited 0)
    os.remove(tmp_path / "in" / "new.jpg")
    write_tree(tmp_path / "in", {"garbage.jpg": bytes(range(256)) * 8, "other.xmp": sidecar})
    proc = rerun("fourth")
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "run fourth: 4 images: 0 ok, 2 failed, 2 skipped" in proc.stderr
    assert "failed, not images: 1 (" in proc.stderr  # the new sidecar alone
    # the manifest tells the stray file from the damaged photo
    rows = read_manifest(str(tmp_path / "out" / "_manifest"), run_id="fourth")
    assert {os.path.basename(r["input_uri"]): r["error_type"] for r in rows
            if r["status"] == "error"} == {"other.xmp": "NotAnImageError",
                                           "garbage.jpg": "ImageDecodeError"}
    assert {os.path.basename(r["input_uri"]): r["error_type"] for r in rows
            if r["skip_reason"] == "failed before"} == {"coffee.xmp": "NotAnImageError"}


@pytest.mark.slow
def test_run_local_script(tmp_path):
    """./run_local.sh writes the sample photos, runs the job and prints a summary (its
    defaults: scale 0.5, the whole picture scaled, no CNN loaded)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, SEMANTIC_COMPRESS_LOCAL=str(tmp_path / "local"))
    proc = subprocess.run([os.path.join(root, "run_local.sh"), "--run_id", "script"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "run script: 7 images: 7 ok, 0 failed, 0 skipped" in proc.stdout
    assert "model loads: 0" in proc.stdout + proc.stderr
    assert "changes nothing here" not in proc.stderr
    assert "astronaut.jpg" in proc.stdout and ", pixel ratio 0.250\n" in proc.stdout
    assert os.path.isdir(tmp_path / "local" / "output" / "_manifest" / "run_id=script")
    assert len(os.listdir(tmp_path / "local" / "input")) == 6  # 5 photos + sklearn/
    report = proc.stdout.split("report: ", 1)[1].split()[0]
    assert os.path.isfile(report) and report.endswith(".html")


def test_run_local_script_help_is_the_jobs_usage_once(tmp_path):
    """New user's review 30: ./run_local.sh --help printed the job's usage three times (455
    lines: the job, then the summary and report steps parsed the flags again), and wrote the
    sample photos first."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, SEMANTIC_COMPRESS_LOCAL=str(tmp_path / "local"))
    proc = subprocess.run([os.path.join(root, "run_local.sh"), "--help"], capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("usage:") == 1 and "--skip_existing" in proc.stdout
    proc = subprocess.run([os.path.join(root, "run_local.sh"), "--version"], capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == 0 and proc.stdout.startswith("python -m pipeline 0.")
    assert proc.stdout.count("\n") == 1   # (diff review 30: three times, as --help had been)
    assert not (tmp_path / "local").exists()


def test_two_inputs_with_the_same_file_names(tmp_path, write_tree, photo_files, run_job):
    write_tree(tmp_path / "in", {"2025/x.jpg": photo_files["coffee.jpg"],
                                 "2026/x.jpg": photo_files["astronaut.jpg"]})
    out = tmp_path / "out"
    _, s = run_job(["--input", str(tmp_path / "in" / "2025"), "--input",
                    str(tmp_path / "in" / "2026" / "*.jpg"), "--output", str(out), *FAST,
                    *IN_MEMORY])
    assert s.ok == 2
    assert sorted(os.path.dirname(f) for f in _files(out) if not f.startswith("_")) == \
        ["2025", "2026"]


def test_an_unreachable_target_is_an_error_row(tmp_path, write_tree, photo_files, run_job,
                                              read_manifest):
    write_tree(tmp_path / "in", {"astronaut.jpg": photo_files["astronaut.jpg"]})
    out = tmp_path / "out"
    _, s = run_job(["--input", str(tmp_path / "in"), "--output", str(out), "--energy",
                    "gradient", "--target_bytes", "150", *IN_MEMORY])
    assert (s.ok, s.failed) == (0, 1)
    (row,) = read_manifest(str(out / "_manifest"))
    assert row["error_type"] == "TargetUnreachableError"
    assert "--target_bytes 150" in row["error_message"]  # the flag typed (README review 39)
    assert not [f for f in _files(out) if not f.startswith("_")]  # nothing half-written


def test_direct_runner_runs_the_job_on_the_fn_api_runner_without_prism(
        tmp_path, write_tree, photo_files, run_job, monkeypatch):
    """``--runner DirectRunner`` (public) and no hand-made runner: checked against
    apache-beam 2.77.0, whose DirectRunner sends a pipeline to the Prism runner (a Go binary
    downloaded from GitHub on first use, which ignores ``--direct_running_mode``) unless it has a
    step Prism does not support; Beam's ``with_exception_handling()`` is such a step in 2.77.0,
    and every step of the job uses it (transforms.failures.CatchFailures), so the DirectRunner
    runs the job on its FnApiRunner, as it did before Prism. A Beam release that changes this
    fails here: then pass ``--runner`` explicitly or revisit docs/pipeline.md's runner section."""
    import apache_beam
    from apache_beam.runners.portability import prism_runner
    from apache_beam.runners.portability.fn_api_runner import fn_runner

    calls = {"prism": 0, "fn_api": []}
    real_fn_api = fn_runner.FnApiRunner.run_pipeline

    def prism(self, pipeline, options):
        calls["prism"] += 1
        raise RuntimeError("Prism must not be tried")

    def fn_api(self, pipeline, options):
        calls["fn_api"].append(options.get_all_options()["direct_running_mode"])
        return real_fn_api(self, pipeline, options)

    monkeypatch.setattr(prism_runner.PrismRunner, "run_pipeline", prism)
    monkeypatch.setattr(fn_runner.FnApiRunner, "run_pipeline", fn_api)
    write_tree(tmp_path / "in", {"coffee.jpg": photo_files["coffee.jpg"]})
    _, s = run_job(["--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"), *FAST,
                    "--runner", "DirectRunner", "--direct_running_mode=multi_threading"])
    assert s.ok == 1
    # no failures: no dead-letter folder, no empty folder (issue 12 item 10)
    assert sorted(d for d in os.listdir(tmp_path / "out") if d.startswith("_")) == ["_manifest"]
    assert [d for d, ds, fs in os.walk(tmp_path / "out") if not ds and not fs] == []
    assert (calls["prism"], calls["fn_api"]) == (0, ["multi_threading"]), \
        f"apache-beam {apache_beam.__version__} (checked against 2.77.0) tried Prism"


def test_an_input_matched_twice_is_compressed_once_and_two_inputs_never_share_an_output(
        tmp_path, write_tree, photo_files, run_job, read_manifest):
    """Overlapping patterns, a URI listed twice, and a pattern and a list (or two lists) that
    name two different files alike: every input used to be compressed once per match (two
    ``ok`` rows for one file), and ``in/a/x.jpg`` (matched by ``in/a/*``, named ``x.jpg``) and
    ``in/b/x.jpg`` (listed, named ``x.jpg`` too) were both reported ``ok`` with one output
    file, the last write winning."""
    write_tree(tmp_path / "in", {"a/x.jpg": photo_files["coffee.jpg"],
                                 "b/x.jpg": photo_files["astronaut.jpg"],
                                 "c/y.jpg": photo_files["trips/china.jpg"]})
    a, b, c = (str(tmp_path / "in" / f) for f in ("a/x.jpg", "b/x.jpg", "c/y.jpg"))
    listing = tmp_path / "list.txt"
    listing.write_text(f"{b}\n{b}\n")          # b twice: named x.jpg, as a is
    other = tmp_path / "other.txt"
    other.write_text(f"file://{c}\n{c}\n")     # one file, two spellings
    out = tmp_path / "out"
    args = ["--input", str(tmp_path / "in" / "a" / "*"), "--input", a, "--input_list",
            str(listing), "--input_list", str(other), "--output", str(out), *FAST, *IN_MEMORY]
    _, s = run_job([*args, "--run_id", "first"])
    assert (s.ok, s.failed, s.skipped) == (3, 0, 0)
    rows = read_manifest(str(out / "_manifest"), run_id="first")
    by_input = {r["input_uri"].replace("file://", ""): r for r in rows}
    assert by_input[c]["output_uri"] == str(out / f"y.jpg.{TAG}.jpg")   # unshared: its name
    assert {os.path.basename(by_input[u]["output_uri"]).split("~")[0] for u in (a, b)} == \
        {"x.jpg"}
    assert sorted(r["input_uri"].replace("file://", "") for r in rows) == [a, b, c]
    outputs = {r["output_uri"] for r in rows}
    assert len(outputs) == 3 and all(r["status"] == "ok" for r in rows)
    for r in rows:   # each output holds its own input's picture
        assert os.path.getsize(r["output_uri"]) == r["output_bytes"]
        with Image.open(r["output_uri"]) as im:
            assert im.size == (r["output_width"], r["output_height"])
        with Image.open(r["input_uri"].replace("file://", "")) as src:
            assert (r["input_width"], r["input_height"]) == src.size
    assert sorted(f for f in _files(out) if not f.startswith("_")) == \
        sorted(os.path.relpath(u, out) for u in outputs)
    # the names are stable: a --skip_existing rerun of the same inputs skips all three
    _, s2 = run_job([*args, "--run_id", "second", "--skip_existing"])
    assert (s2.ok, s2.failed, s2.skipped) == (0, 0, 3)
    again = read_manifest(str(out / "_manifest"), run_id="second")
    assert {r["output_uri"] for r in again} == outputs


def test_runs_over_new_folders_never_replace_earlier_outputs(tmp_path, write_tree, photo_files,
                                                             run_job, read_manifest):
    """A scheduled job over each day's folder into one --output: cameras count IMG_0001.JPG
    again every day, so day 2's photo was named as day 1's and replaced its output (both rows
    ``ok``, one file), or with --skip_existing was skipped against it (never compressed). The
    manifest says which input wrote a name: day 2's photo gets its digest, reruns of either
    day find their own outputs, and a run over both days keeps day 1's name for day 1 (from
    two lists; as two patterns, its new names are a second copy, which the run says)."""
    day1, day2 = tmp_path / "in" / "2026-12-01", tmp_path / "in" / "2026-12-02"
    write_tree(day1, {"IMG_0001.JPG": photo_files["coffee.jpg"],
                      "IMG_0002.JPG": photo_files["trips/flower.jpg"]})
    write_tree(day2, {"IMG_0001.JPG": photo_files["astronaut.jpg"],
                      "IMG_0003.JPG": photo_files["trips/china.jpg"]})
    out = tmp_path / "out"
    common = ["--output", str(out), "--skip_existing", *FAST, *IN_MEMORY]
    _, s1 = run_job(["--input", str(day1), "--run_id", "d1", *common])
    _, s2 = run_job(["--input", str(day2), "--run_id", "d2", *common])
    assert (s1.ok, s2.ok, s2.skipped) == (2, 2, 0)
    assert (s1.set_apart, s2.set_apart, s2.replaced) == (0, 1, 0)
    assert "names set apart: 1" in format_summary(s2)
    rows = read_manifest(str(out / "_manifest"))
    by_input = {r["input_uri"]: r for r in rows}
    assert len(by_input) == 4 and all(r["status"] == "ok" for r in rows)
    first, second = by_input[str(day1 / "IMG_0001.JPG")], by_input[str(day2 / "IMG_0001.JPG")]
    assert first["output_uri"] == str(out / f"IMG_0001.JPG.{TAG}.jpg")
    assert second["output_uri"] == str(
        out / f"{name_apart('IMG_0001.JPG', str(day2 / 'IMG_0001.JPG'))}.{TAG}.jpg")
    assert by_input[str(day2 / "IMG_0003.JPG")]["output_uri"] == \
        str(out / f"IMG_0003.JPG.{TAG}.jpg")                       # no one else's: its name
    for r in rows:   # every output file there, holding its own input's picture
        with Image.open(r["output_uri"]) as im, Image.open(r["input_uri"]) as src:
            assert im.size == (r["output_width"], r["output_height"])
            assert abs(im.size[0] - src.size[0] / 2) <= 1 and abs(im.size[1] - src.size[1] / 2) <= 1
    assert len([f for f in _files(out) if not f.startswith("_")]) == 4
    # reruns of each day, and a run over both days named alike (two lists), skip all of them
    _, s3 = run_job(["--input", str(day2), "--run_id", "d2-again", *common])
    _, s4 = run_job(["--input", str(day1), "--run_id", "d1-again", *common])
    lists = []
    for day in (day1, day2):      # one list a day: each names its files by their own folder
        lists += ["--input_list", str(tmp_path / f"{day.name}.txt")]
        (tmp_path / f"{day.name}.txt").write_text("".join(f"{day / n}\n"
                                                          for n in sorted(os.listdir(day))))
    _, s5 = run_job([*lists, "--run_id", "both", *common])
    assert [(s.ok, s.skipped) for s in (s3, s4, s5)] == [(0, 2), (0, 2), (0, 4)]
    again = read_manifest(str(out / "_manifest"), run_id="both")
    assert {r["input_uri"]: r["output_uri"] for r in again} == \
        {u: r["output_uri"] for u, r in by_input.items()}
    assert (s5.named_otherwise, "named otherwise" in format_summary(s5)) == (0, False)
    # both days as --input patterns: named by their common folder (2026-12-01/IMG_0001.JPG),
    # a second copy of each, which the run says
    _, s6 = run_job(["--input", str(day1), "--input", str(day2), "--run_id", "both-patterns",
                     *common])
    assert (s6.ok, s6.skipped, s6.named_otherwise) == (4, 0, 4)
    assert "named otherwise than before: 4 (" in format_summary(s6)


def test_skip_existing_compresses_a_file_replaced_under_its_name_again(
        tmp_path, write_tree, photo_files, run_job, read_manifest):
    """A photo edited and exported again under the same name: --skip_existing skipped it
    against its old output for ever. The manifest has its size when that output was written;
    a different size now (listed, or asked for when the input came from a list) means another
    file: it is compressed again, under its name (plain or set apart from an earlier day's),
    and its row records the new size."""
    day1, day2 = tmp_path / "in" / "d1", tmp_path / "in" / "d2"
    write_tree(day1, {"IMG_0001.JPG": photo_files["coffee.jpg"],
                      "IMG_0002.JPG": photo_files["trips/flower.jpg"]})
    write_tree(day2, {"IMG_0001.JPG": photo_files["astronaut.jpg"]})
    out = tmp_path / "out"
    common = ["--output", str(out), "--skip_existing", *FAST, *IN_MEMORY]
    run_job(["--input", str(day1), "--run_id", "d1", *common])
    run_job(["--input", str(day2), "--run_id", "d2", *common])
    first = {r["input_uri"]: r["output_uri"] for r in read_manifest(str(out / "_manifest"))}
    write_tree(day1, {"IMG_0001.JPG": photo_files["trips/china.jpg"]})      # replaced
    write_tree(day2, {"IMG_0001.JPG": photo_files["chelsea.png"]})          # replaced
    listing = tmp_path / "day2.txt"          # a listed URI: its size is asked for
    listing.write_text(f"{day2 / 'IMG_0001.JPG'}\n")
    _, s1 = run_job(["--input", str(day1), "--run_id", "again1", *common])
    _, s2 = run_job(["--input_list", str(listing), "--run_id", "again2", *common])
    assert [(s.ok, s.skipped, s.replaced) for s in (s1, s2)] == [(1, 1, 1), (1, 0, 1)]
    assert "replaced since their outputs: 1" in format_summary(s1)
    rows = {r["input_uri"]: r for r in read_manifest(str(out / "_manifest"))
            if r["run_id"].startswith("again")}
    assert {u: r["output_uri"] for u, r in rows.items()} == first       # the same names
    for uri, r in rows.items():
        assert r["status"] == ("skipped" if uri.endswith("d1/IMG_0002.JPG") else "ok")
        assert r["input_bytes"] == os.path.getsize(uri)
        with Image.open(r["output_uri"]) as im, Image.open(uri) as src:   # the new pictures
            assert abs(im.size[0] - src.size[0] / 2) <= 1 and abs(im.size[1] - src.size[1] / 2) <= 1
    _, s3 = run_job(["--input", str(day1), "--run_id", "after1", *common])
    _, s4 = run_job(["--input_list", str(listing), "--run_id", "after2", *common])
    assert [(s.ok, s.skipped) for s in (s3, s4)] == [(0, 2), (0, 1)]


def test_a_photo_damaged_after_its_output_is_not_said_replaced_at_every_night(
        tmp_path, write_tree, photo_files, run_job, read_manifest):
    """Scale review 49: a good photo replaced in place by a damaged upload fails once, then is
    skipped as failed before; every later quiet night still logged it "compressed again" and
    counted it in "replaced since their outputs: 1 (... each is counted ok or failed above)"
    beside "0 ok, 0 failed" (the images_replaced metric too)."""
    root, out = tmp_path / "in", tmp_path / "out"
    write_tree(root, {"coffee.jpg": photo_files["coffee.jpg"],
                      "astronaut.jpg": photo_files["astronaut.jpg"]})
    common = ["--input", str(root), "--output", str(out), "--skip_existing", *FAST, *IN_MEMORY]
    run_job([*common, "--run_id", "first"])
    (root / "coffee.jpg").write_bytes(photo_files["coffee.jpg"][:400])      # a damaged upload
    _, s = run_job([*common, "--run_id", "damaged"])
    assert (s.ok, s.failed, s.replaced) == (0, 1, 1)
    for night in ("quiet1", "quiet2"):
        _, s = run_job([*common, "--run_id", night])
        assert (s.ok, s.failed, s.failed_before, s.replaced) == (0, 0, 1, 0)
        assert "replaced since their outputs" not in format_summary(s)


def test_a_photo_damaged_after_a_stopped_runs_output_is_not_said_replaced_at_every_night(
        tmp_path, write_tree, photo_files, run_job, monkeypatch, caplog):
    """Diff review 2, 49: the same as above where the output is a stopped run's, unrecorded,
    and the damaged copy kept the photo's time (cp -p): the journal's entry tells it apart
    (transforms.plan.PlanOutput._made_from_another), which still logged it "compressed
    again" and counted it replaced at every quiet night."""
    root, out = tmp_path / "in", tmp_path / "out"
    write_tree(root, {"a.jpg": photo_files["coffee.jpg"],
                      "b.jpg": photo_files["astronaut.jpg"]})
    common = ["--input", str(root), "--output", str(out), "--skip_existing", *FAST, *IN_MEMORY]
    _stop_before_its_manifest(monkeypatch, run_job, [*common, "--run_id", "stopped"])
    (root / "a.jpg").write_bytes(photo_files["coffee.jpg"][:400])      # a damaged copy
    past = time.time() - 86400
    os.utime(root / "a.jpg", (past, past))                             # (cp -p)
    _, s = run_job([*common, "--run_id", "damaged"])
    assert (s.ok, s.failed, s.replaced) == (0, 1, 1)
    for night in ("quiet1", "quiet2"):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="transforms.plan"):
            _, s = run_job([*common, "--run_id", night])
        assert (s.ok, s.failed, s.failed_before, s.replaced) == (0, 0, 1, 0)
        assert "replaced since their outputs" not in format_summary(s)
        assert not [r for r in caplog.records if "compressed again" in r.getMessage()]


def test_skip_existing_writes_again_an_output_emptied_or_cut_short(
        tmp_path, write_tree, photo_files, run_job, read_manifest):
    """An output emptied or cut short since it was written was skipped at every rerun, and the
    rows recorded its damaged size (output_bytes 0, byte_ratio 0.0; edge review 37). Its size
    now differs from the one its row recorded: written again, and counted. An empty file at an
    output's name that no row records is no output either."""
    root, out = tmp_path / "in", tmp_path / "out"
    write_tree(root, {"coffee.jpg": photo_files["coffee.jpg"],
                      "astronaut.jpg": photo_files["astronaut.jpg"],
                      "china.jpg": photo_files["trips/china.jpg"]})
    common = ["--input", str(root), "--output", str(out), "--skip_existing", *FAST, *IN_MEMORY]
    run_job([*common, "--run_id", "first"])
    written = {os.path.basename(r["input_uri"]): r
               for r in read_manifest(str(out / "_manifest"), run_id="first")}
    coffee, astronaut = written["coffee.jpg"], written["astronaut.jpg"]
    open(coffee["output_uri"], "wb").close()                                  # emptied
    with open(astronaut["output_uri"], "r+b") as fh:                          # cut short
        fh.truncate(astronaut["output_bytes"] // 2)
    _, s = run_job([*common, "--run_id", "second"])
    assert (s.ok, s.skipped, s.damaged) == (2, 1, 2)
    assert "outputs damaged since written: 2" in format_summary(s)
    again = {os.path.basename(r["input_uri"]): r
             for r in read_manifest(str(out / "_manifest"), run_id="second")}
    for name in ("coffee.jpg", "astronaut.jpg"):
        assert (again[name]["status"], again[name]["output_uri"]) == \
            ("ok", written[name]["output_uri"])
        assert os.path.getsize(again[name]["output_uri"]) == again[name]["output_bytes"] > 0
    _, s = run_job([*common, "--run_id", "third"])
    assert (s.ok, s.skipped, s.damaged) == (0, 3, 0)
    # an empty file under an output's name, no row naming it (another --manifest): not adopted
    other = ["--manifest", str(tmp_path / "other_manifest")]
    open(written["china.jpg"]["output_uri"], "wb").close()
    _, s = run_job([*common, *other, "--run_id", "fourth"])
    assert (s.ok, s.skipped, s.damaged, s.unrecorded) == (1, 2, 1, 2)
    assert os.path.getsize(written["china.jpg"]["output_uri"]) > 0
    # a damaged output whose input became a damaged file too: tried once (it fails), then
    # skipped as failed before, and no longer said to be written again (diff review 37)
    open(coffee["output_uri"], "wb").close()
    (root / "coffee.jpg").write_bytes(b"\xff\xd8 not a picture any more")
    _, s = run_job([*common, "--run_id", "fifth"])
    assert (s.ok, s.failed, s.damaged) == (0, 1, 1)
    _, s = run_job([*common, "--run_id", "sixth"])
    assert (s.ok, s.failed, s.failed_before, s.damaged) == (0, 0, 1, 0)


def _padded(pictures):
    """The encoded ``pictures`` padded with zero bytes after their end to one byte size
    (decoders ignore what follows a JPEG's end-of-image marker): other photos, same size."""
    longest = max(len(data) for data in pictures)
    return [data + bytes(longest - len(data)) for data in pictures]


def _looks_like(output, picture) -> float:
    """Mean absolute difference (0-255) between an output file and ``picture`` (a PIL image)
    scaled to the output's size."""
    import numpy as np

    with Image.open(output) as im:
        got = np.asarray(im.convert("RGB"), dtype=np.float32)
        want = np.asarray(picture.resize(im.size, Image.LANCZOS), dtype=np.float32)
    return float(np.abs(got - want).mean())


def test_skip_existing_compresses_a_new_file_of_the_same_size_again(
        tmp_path, write_tree, sample_photos, run_job, read_manifest):
    """A drop folder: cameras write IMG_0001.JPG there every day, and yesterday's file is gone.
    Today's photo of the very same byte size was skipped against yesterday's output (the size
    was all the skip rule compared): the archive kept yesterday's picture, silently. The
    manifest now records the modification time from the listing (``input_modified``), and a
    file with another one is compressed again, listed or named by a --input_list (asked with
    one stat); an unchanged file is still skipped. The documented limit: a copy that keeps
    the modification time (cp -p, rsync -a) at the same size is not seen on a disk."""
    import datetime as dt
    import io

    def jpeg(name):
        buf = io.BytesIO()
        sample_photos[name].save(buf, "JPEG", quality=90)
        return buf.getvalue()

    coffee, astronaut, chelsea = _padded([jpeg("coffee"), jpeg("astronaut"), jpeg("chelsea")])
    drop = tmp_path / "in" / "incoming"
    photo, other = drop / "IMG_0001.JPG", drop / "IMG_0002.JPG"
    day = [dt.datetime(2026, 12, d, 8, 0, 0, 123456, tzinfo=dt.timezone.utc) for d in (1, 2, 3)]

    def put(path, data, when):
        write_tree(drop, {path.name: data})
        os.utime(path, (when.timestamp(), when.timestamp()))

    put(photo, coffee, day[0])
    put(other, jpeg("rocket"), day[0])
    out = tmp_path / "out"
    common = ["--output", str(out), "--skip_existing", *FAST, *IN_MEMORY]
    _, s1 = run_job(["--input", str(drop), "--run_id", "d1", *common])
    first = {r["input_uri"]: r for r in read_manifest(str(out / "_manifest"), run_id="d1")}
    assert s1.ok == 2
    assert {r["input_modified"] for r in first.values()} == {day[0]}   # to the microsecond
    assert {r["input_etag"] for r in first.values()} == {None}          # a disk has no token

    put(photo, astronaut, day[1])                   # today's photo, yesterday's name and size
    assert os.path.getsize(photo) == first[str(photo)]["input_bytes"]
    _, s2 = run_job(["--input", str(drop), "--run_id", "d2", *common])
    assert (s2.ok, s2.skipped, s2.replaced) == (1, 1, 1)
    rows = {r["input_uri"]: r for r in read_manifest(str(out / "_manifest"), run_id="d2")}
    new, kept = rows[str(photo)], rows[str(other)]
    assert (new["status"], new["input_modified"]) == ("ok", day[1])
    assert new["output_uri"] == first[str(photo)]["output_uri"]       # under its name
    assert new["input_bytes"] == first[str(photo)]["input_bytes"]
    assert (kept["status"], kept["input_modified"]) == ("skipped", day[0])
    # the output shows today's picture, not yesterday's
    assert _looks_like(new["output_uri"], sample_photos["astronaut"]) < 10
    assert _looks_like(new["output_uri"], sample_photos["coffee"]) > 40

    put(photo, chelsea, day[2])                     # named by a list: asked with one stat
    listing = tmp_path / "today.txt"
    listing.write_text(f"{photo}\n{other}\n")
    _, s3 = run_job(["--input_list", str(listing), "--run_id", "d3", *common])
    assert (s3.ok, s3.skipped, s3.replaced) == (1, 1, 1)
    rows = {r["input_uri"]: r for r in read_manifest(str(out / "_manifest"), run_id="d3")}
    assert rows[str(photo)]["input_modified"] == day[2]
    assert _looks_like(rows[str(photo)]["output_uri"], sample_photos["chelsea"]) < 10

    # the documented limit: a copy that keeps the modification time, at the same size
    put(photo, coffee, day[2])
    _, s4 = run_job(["--input", str(drop), "--run_id", "d4", *common])
    assert (s4.ok, s4.skipped, s4.replaced) == (0, 2, 0)
    assert _looks_like(rows[str(photo)]["output_uri"], sample_photos["chelsea"]) < 10


def test_skip_existing_keeps_skipping_a_file_whose_time_alone_changed(
        tmp_path, write_tree, photo_files, run_job, read_manifest):
    """A file touched, or copied again without its time (a nightly sync to a disk), has a new
    modification time and the same bytes: with the time in the skip rule it was compressed
    again every night. It is now read once and its SHA-256 compared with the one the manifest
    recorded: the same bytes stay skipped (counted, and said in the summary), other bytes of
    the same size and a new time are compressed again."""
    drop = tmp_path / "in"
    write_tree(drop, {"a.jpg": photo_files["coffee.jpg"], "b.jpg": photo_files["astronaut.jpg"]})
    out = tmp_path / "out"
    common = ["--output", str(out), "--skip_existing", *FAST, *IN_MEMORY]
    _, s1 = run_job(["--input", str(drop), "--run_id", "n1", *common])
    assert s1.ok == 2
    output = {r["input_uri"]: r["output_uri"]
              for r in read_manifest(str(out / "_manifest"), run_id="n1")}
    before = os.path.getmtime(output[str(drop / "a.jpg")])
    later = os.path.getmtime(drop / "a.jpg") + 3600
    os.utime(drop / "a.jpg", (later, later))            # touched: another time, same bytes
    data = bytearray((drop / "b.jpg").read_bytes())     # same size and a new time, other bytes
    data[data.index(b"JFIF\0") + 9] ^= 0x01             # (the pixel density: a byte of the
    # scan made the picture damaged, which the job now says: formats review 41)
    (drop / "b.jpg").write_bytes(bytes(data))
    os.utime(drop / "b.jpg", (later, later))
    _, s2 = run_job(["--input", str(drop), "--run_id", "n2", *common])
    assert (s2.ok, s2.skipped, s2.replaced, s2.same_bytes) == (1, 1, 1, 1)
    assert "modified but unchanged: 1" in format_summary(s2)
    rows = {r["input_uri"]: r for r in read_manifest(str(out / "_manifest"), run_id="n2")}
    assert rows[str(drop / "a.jpg")]["status"] == "skipped"
    assert rows[str(drop / "b.jpg")]["status"] == "ok"
    assert os.path.getmtime(output[str(drop / "a.jpg")]) == before    # not written again

def test_an_input_keeps_the_name_and_format_it_was_last_written_under(
        tmp_path, write_tree, photo_files, run_job, read_manifest):
    """Two x.jpg of one run are both set apart; a later run over one of them alone took the
    plain name (a second output of the same photo) instead of its own. Then that photo is
    replaced by a graphic under its name: format auto writes it losslessly, beside the old
    JPEG, and a later --skip_existing run skipped against the stale JPEG."""
    day1, day2 = tmp_path / "in" / "d1", tmp_path / "in" / "d2"
    write_tree(day1, {"x.jpg": photo_files["coffee.jpg"]})
    write_tree(day2, {"x.jpg": photo_files["astronaut.jpg"]})
    out = tmp_path / "out"
    common = ["--output", str(out), "--skip_existing", *FAST, *IN_MEMORY]
    _, s1 = run_job(["--input", str(day1), "--input", str(day2), "--input_base",
                     str(tmp_path / "elsewhere"), "--run_id", "both", *common])
    assert (s1.ok, s1.set_apart) == (2, 2)
    mine = name_apart("x.jpg", str(day1 / "x.jpg"))
    (written,) = [r for r in read_manifest(str(out / "_manifest"), run_id="both")
                  if r["input_uri"] == str(day1 / "x.jpg")]
    assert written["output_uri"] == str(out / f"{mine}.{TAG}.jpg")
    _, s2 = run_job(["--input", str(day1), "--run_id", "alone", *common])
    assert (s2.ok, s2.skipped, s2.set_apart) == (0, 1, 0)
    (row,) = read_manifest(str(out / "_manifest"), run_id="alone")
    assert row["output_uri"] == written["output_uri"]
    write_tree(day1, {"x.jpg": _chart_png()})                               # replaced
    _, s3 = run_job(["--input", str(day1), "--run_id", "graphic", *common])
    assert (s3.ok, s3.replaced) == (1, 1)
    (new,) = read_manifest(str(out / "_manifest"), run_id="graphic")
    assert new["output_format"] in ("PNG", "WEBP")
    assert new["output_uri"].startswith(str(out / f"{mine}.{TAG}."))
    _, s4 = run_job(["--input", str(day1), "--run_id", "after", *common])
    assert (s4.ok, s4.skipped) == (0, 1)
    (skipped,) = read_manifest(str(out / "_manifest"), run_id="after")
    assert skipped["output_uri"] == new["output_uri"]
    assert skipped["output_bytes"] == os.path.getsize(new["output_uri"])
    assert sorted(f for f in _files(out) if not f.startswith("_")) == sorted(
        [f"{name_apart('x.jpg', str(day2 / 'x.jpg'))}.{TAG}.jpg", f"{mine}.{TAG}.jpg",
         os.path.basename(new["output_uri"])])


def test_one_output_folder_however_it_is_spelled(tmp_path, write_tree, photo_files, run_job,
                                                 read_manifest):
    """--output and --manifest as file:// and local:// URIs (Beam's WriteToParquet stopped the
    job: it knows no file://), then the same folders spelled with a leading '//' (normpath
    keeps it) and reached through a symbolic link: each later run sees the names the earlier
    ones wrote, so every day's IMG_0001.JPG keeps its own output (the second day's replaced
    the first day's, the third day's was skipped against it), and a rerun of day 1 through the
    link finds its own output."""
    days = [tmp_path / "in" / f"d{i}" for i in (1, 2, 3)]
    for day, photo in zip(days, ("coffee.jpg", "astronaut.jpg", "trips/china.jpg")):
        write_tree(day, {"IMG_0001.JPG": photo_files[photo]})
    out, m = tmp_path / "out", tmp_path / "m"
    os.symlink(out, tmp_path / "link")
    spellings = [(f"file://{out}/", f"file://{m}"),
                 ("/" + str(out), f"local://{m}/"),
                 (str(tmp_path / "link"), f"{tmp_path}/./m")]
    common = ["--skip_existing", *FAST, *IN_MEMORY]
    summaries = [run_job(["--input", str(day), "--output", output, "--manifest", manifest,
                          "--run_id", f"d{i}", *common])[1]
                 for i, (day, (output, manifest)) in enumerate(zip(days, spellings), 1)]
    assert [(s.ok, s.skipped, s.set_apart) for s in summaries] == [(1, 0, 0), (1, 0, 1),
                                                                   (1, 0, 1)]
    rows = read_manifest(str(m))
    written = {r["input_uri"]: r["output_uri"] for r in rows}
    assert len(set(written.values())) == 3
    assert written[str(days[0] / "IMG_0001.JPG")] == str(out / f"IMG_0001.JPG.{TAG}.jpg")
    for uri, output in written.items():
        assert output.startswith(str(out) + "/") or output.startswith(str(tmp_path / "link"))
        with Image.open(output) as im, Image.open(uri) as src:      # its own picture
            assert abs(im.size[0] - src.size[0] / 2) <= 1 and abs(im.size[1] - src.size[1] / 2) <= 1
    assert len([f for f in _files(out) if not f.startswith("_")]) == 3
    assert sorted(os.listdir(m)) == ["run_id=d1", "run_id=d2", "run_id=d3"]
    _, again = run_job(["--input", str(days[0]), "--output", str(tmp_path / "link"),
                        "--manifest", f"file://{m}", "--run_id", "d1-again", *common])
    assert (again.ok, again.skipped) == (0, 1)


def test_skips_against_outputs_no_manifest_row_names_are_reported(
        tmp_path, write_tree, photo_files, run_job, read_manifest):
    """A run stopped before its end wrote outputs but no manifest (Beam writes it last): a
    --skip_existing run over the same inputs resumes its work by skipping them, and over
    another day's photos of the same names is skipped against them, silently before. Both are
    counted and reported; skips against recorded outputs are not."""
    import shutil

    day1, day2 = tmp_path / "in" / "d1", tmp_path / "in" / "d2"
    write_tree(day1, {"IMG_0001.JPG": photo_files["coffee.jpg"]})
    write_tree(day2, {"IMG_0001.JPG": photo_files["astronaut.jpg"]})
    out = tmp_path / "out"
    common = ["--output", str(out), "--skip_existing", *FAST, *IN_MEMORY]
    run_job(["--input", str(day1), "--run_id", "d1", *common])
    _, again = run_job(["--input", str(day1), "--run_id", "d1-again", *common])
    assert (again.skipped, again.unrecorded) == (1, 0)
    assert "unrecorded" not in format_summary(again)
    for run_id in ("d1", "d1-again"):              # as if d1 had been stopped before its end
        shutil.rmtree(out / "_manifest" / f"run_id={run_id}")
    _, s2 = run_job(["--input", str(day2), "--run_id", "d2", *common])
    assert (s2.ok, s2.skipped, s2.unrecorded) == (0, 1, 1)
    assert "skipped against unrecorded outputs: 1" in format_summary(s2)


def _stop_before_its_manifest(monkeypatch, run_job, argv):
    """Run ``argv`` as a run stopped before its manifest: its outputs (and their journal)
    written, then the manifest's store failing, as a kill or a lost worker leaves it."""
    from pipeline.main import RunStopped
    from transforms import manifest_writer

    def down(self, record):
        raise OSError(5, "Input/output error")

    with monkeypatch.context() as patched:
        patched.setattr(manifest_writer.ManifestSink, "write", down)
        with pytest.raises(RunStopped):
            run_job(argv)


def _a_stopped_run(tmp_path, write_tree, photo_files, run_job, monkeypatch):
    """A run over a.jpg and b.jpg stopped before its manifest (its outputs and journal
    written): ``(the --skip_existing arguments, the output folder)``."""
    write_tree(tmp_path / "in", {"a.jpg": photo_files["coffee.jpg"],
                                 "b.jpg": photo_files["astronaut.jpg"]})
    out = tmp_path / "out"
    common = ["--input", str(tmp_path / "in"), "--output", str(out), "--skip_existing",
              *FAST, *IN_MEMORY]
    _stop_before_its_manifest(monkeypatch, run_job, [*common, "--run_id", "stopped"])
    assert not (out / "_manifest" / "run_id=stopped").exists()
    (launch,) = (out / "_manifest" / "_journal" / "run_id=stopped").iterdir()
    assert launch.name.startswith("launch=") and len(os.listdir(launch)) == 2
    return common, out


def _manifest_not_moved(monkeypatch, run_job, argv, run_id):
    """Run ``argv`` with the manifest part's move into ``run_id=<run_id>/`` refused (a full
    disk), which stops the run (exit 3, transforms.files) after its outputs and dead letters."""
    from apache_beam.io import localfilesystem
    from apache_beam.io.filesystem import BeamIOError
    from pipeline.main import RunStopped

    real = localfilesystem.LocalFileSystem.rename

    def refused(self, sources, destinations):
        if any(f"_manifest/run_id={run_id}/" in d for d in destinations):
            raise BeamIOError("Rename operation failed",
                              {(s, d): OSError(28, "No space left on device")
                               for s, d in zip(sources, destinations)})
        return real(self, sources, destinations)

    with monkeypatch.context() as patched:
        patched.setattr(localfilesystem.LocalFileSystem, "rename", refused)
        with pytest.raises(RunStopped, match="manifest"):
            run_job(argv)


def test_a_manifest_part_beam_could_not_move_leaves_the_run_id_to_its_retry(
        tmp_path, write_tree, photo_files, run_job, read_manifest, monkeypatch):
    """A manifest part that could not be moved into the run's folder stops the run (exit 3,
    transforms.files); Beam had made the folder, empty, and the retry under the same
    --run_id (a scheduler's fixed id) was refused as an earlier run's (job review 46)."""
    write_tree(tmp_path / "in", {"a.jpg": photo_files["coffee.jpg"],
                                 "b.jpg": photo_files["astronaut.jpg"]})
    out = tmp_path / "out"
    argv = ["--input", str(tmp_path / "in"), "--output", str(out), "--skip_existing",
            "--run_id", "nightly", *FAST, *IN_MEMORY]
    _manifest_not_moved(monkeypatch, run_job, argv, "nightly")
    assert os.listdir(out / "_manifest" / "run_id=nightly") == []
    _, retry = run_job(argv)
    assert (retry.ok, retry.skipped, retry.unrecorded) == (0, 2, 2)
    assert len(read_manifest(str(out / "_manifest"), run_id="nightly")) == 2


def test_a_launch_stopped_while_moving_its_manifest_parts_leaves_the_run_id_to_its_retry(
        tmp_path, write_tree, photo_files, run_job, read_manifest, caplog):
    """Beam moves a run's manifest parts into its folder one at a time (an object store copies
    each): stopped there, 2 or 3 of 8 parts were in place, the launcher said the manifest was
    written, every retry under the --run_id was refused as a finished run's, and the report
    read the partial rows as the whole run (S3 review 49). Such a folder is no finished run:
    the retry removes the stopped launch's parts and writes the manifest whole."""
    from pipeline.report import load_manifest

    write_tree(tmp_path / "in", {"a.jpg": photo_files["coffee.jpg"],
                                 "b.jpg": photo_files["astronaut.jpg"]})
    out = tmp_path / "out"
    argv = ["--input", str(tmp_path / "in"), "--output", str(out), "--skip_existing",
            "--run_id", "nightly", *FAST, *IN_MEMORY]
    run_job(argv)
    partition = out / "_manifest" / "run_id=nightly"
    (part,) = os.listdir(partition)   # part-00000-of-00001-<tag>.parquet: as 1 of 3 in place
    stopped = part.replace("-of-00001-", "-of-00003-")
    os.rename(partition / part, partition / stopped)
    with caplog.at_level(logging.WARNING, logger="pipeline.report"):
        assert load_manifest(str(out / "_manifest")).num_rows == 2
    assert "1 of the 3 manifest parts of its launch" in caplog.text
    _, retry = run_job(argv)
    assert (retry.ok, retry.skipped) == (0, 2)
    assert stopped not in os.listdir(partition) and len(os.listdir(partition)) == 1
    assert len(read_manifest(str(out / "_manifest"), run_id="nightly")) == 2
    with pytest.raises(SystemExit):   # (now a finished run: its id is refused again)
        run_job(argv)


@pytest.mark.parametrize("mended", [False, True])
def test_a_stopped_night_of_skips_and_failures_leaves_the_run_id_to_its_retry(
        mended, tmp_path, write_tree, photo_files, run_job, read_manifest, monkeypatch):
    """A --skip_existing night with nothing new but a damaged upload, stopped before its
    manifest (exit 3 here; SIGTERM alike) after its dead letters were written: it wrote no
    output, so no journal entry, and its retry under the same --run_id (a scheduler's fixed
    id, "a --skip_existing rerun resumes it") was refused with exit status 2 as an earlier
    run's, at every retry (analyst review 48). The launch marks its journal before its first
    dead letters. The
    retry's dead letters are its own: the stopped launch's said a failure twice (bundles made
    apart) or one mended since (``mended``: the upload sent again whole) as failed."""
    from pipeline.preflight import launch_problem

    write_tree(tmp_path / "in", {"a.jpg": photo_files["coffee.jpg"]})
    out = tmp_path / "out"
    argv = ["--input", str(tmp_path / "in"), "--output", str(out), "--skip_existing",
            *FAST, *IN_MEMORY]
    run_job([*argv, "--run_id", "night1"])
    (tmp_path / "in" / "upload.jpg").write_bytes(photo_files["astronaut.jpg"][:2000])
    _manifest_not_moved(monkeypatch, run_job, [*argv, "--run_id", "night2"], "night2")
    assert os.listdir(out / "_dead_letters" / "run_id=night2")
    manifest = str(out / "_manifest")
    assert launch_problem(str(out), manifest, str(out / "_dead_letters" / "run_id=night2"),
                          "night2") is None
    letters = out / "_dead_letters" / "run_id=night2"
    (letters / "failures-0123456789abcdef.jsonl").write_text(   # (another bundle's file)
        (letters / os.listdir(letters)[0]).read_text())
    if mended:
        (tmp_path / "in" / "upload.jpg").write_bytes(photo_files["astronaut.jpg"])
    _, retry = run_job([*argv, "--run_id", "night2"])
    assert (retry.skipped, retry.failed) == ((1, 0) if mended else (1, 1))
    rows = read_manifest(manifest, run_id="night2")
    assert len(rows) == 2
    records = [json.loads(line) for name in (os.listdir(letters) if letters.exists() else [])
               for line in (letters / name).read_text().splitlines()]
    assert [r["input_uri"] for r in records] == [
        r["input_uri"] for r in rows if r["status"] == "error"] == (
        [] if mended else [str(tmp_path / "in" / "upload.jpg")])


def test_a_finished_run_leaves_no_journal(tmp_path, input_dir, run_job, read_manifest):
    """Each output is journalled before it is written (transforms.journal); once the manifest
    names them, the run's journal is removed, and its folder with it."""
    out = tmp_path / "out"
    _, summary = run_job(["--input", str(input_dir), "--output", str(out), *FAST, *IN_MEMORY,
                          "--run_id", "done"])
    rows = read_manifest(str(out / "_manifest"))
    assert summary.ok == sum(r["status"] == "ok" for r in rows) > 0
    assert sorted(os.listdir(out / "_manifest")) == ["run_id=done"]


def test_a_stopped_runs_outputs_are_adopted_only_for_their_own_inputs(
        tmp_path, write_tree, photo_files, run_job, read_manifest, monkeypatch):
    """Operator review 39: a run over day 1 stopped before its manifest, then a backfill of
    day 2's older photos of the same names (cp -p) into the same --output with --skip_existing
    adopted day 1's outputs for them: rows 'skipped', day 2's photos never compressed. The
    stopped run's journal says which input each output was written for: day 2's photo is
    compressed (its own picture in the output), and day 1's resume sets its own apart."""
    from PIL import Image

    day1, day2 = tmp_path / "in" / "d1", tmp_path / "in" / "d2"
    write_tree(day2, {"IMG_0001.JPG": photo_files["astronaut.jpg"]})   # (older)
    past = time.time() - 86400
    os.utime(day2 / "IMG_0001.JPG", (past, past))
    write_tree(day1, {"IMG_0001.JPG": photo_files["coffee.jpg"]})
    out = tmp_path / "out"
    common = ["--output", str(out), "--skip_existing", *FAST, *IN_MEMORY]
    _stop_before_its_manifest(monkeypatch, run_job, ["--input", str(day1), *common,
                                                     "--run_id", "d1"])
    # (under the stopped run's id, as a scheduler's retry: each launch has its journal)
    _, backfill = run_job(["--input", str(day2), *common, "--run_id", "d1"])
    assert (backfill.ok, backfill.skipped, backfill.unrecorded) == (1, 0, 0)
    assert backfill.not_adopted == 1 and "not adopted: 1 (" in format_summary(backfill)
    size = {day: Image.open(day / "IMG_0001.JPG").size for day in (day1, day2)}
    assert size[day1][0] / size[day1][1] != size[day2][0] / size[day2][1]
    (row,) = read_manifest(str(out / "_manifest"), run_id="d1")
    assert (row["input_width"], row["input_height"]) == size[day2]
    kept = (row["output_width"], row["output_height"])
    with Image.open(row["output_uri"]) as im:    # the astronaut, not the coffee
        assert im.size == kept
    _, resumed = run_job(["--input", str(day1), *common, "--run_id", "d1-resumed"])
    assert (resumed.ok, resumed.skipped) == (1, 0)
    (own,) = read_manifest(str(out / "_manifest"), run_id="d1-resumed")
    assert own["output_uri"] != row["output_uri"] and "~" in own["output_uri"]
    assert (own["input_width"], own["input_height"]) == size[day1]
    with Image.open(own["output_uri"]) as im:    # the coffee
        assert im.size == (own["output_width"], own["output_height"]) != kept
    with Image.open(row["output_uri"]) as im:    # day 2's output untouched
        assert im.size == kept
    # the stopped run's journal stays (it may name outputs no run has recorded yet);
    # the finished runs left none
    assert os.listdir(out / "_manifest" / "_journal") == ["run_id=d1"]


def test_an_output_written_again_under_another_manifest_is_not_adopted(
        tmp_path, write_tree, photo_files, run_job, read_manifest, monkeypatch):
    """Kill/resume review 40: day 1 stopped before its manifest; day 2 (same names) written
    into the same --output under another --manifest, over day 1's outputs; day 1's resume
    adopted day 2's pictures for all its photos (the journal's old entry for each name still
    'confirmed' it), exit 0. An output modified well after every entry naming it was written
    again by a run the journal does not know: compressed again."""
    from PIL import Image

    day1, day2 = tmp_path / "in" / "d1", tmp_path / "in" / "d2"
    write_tree(day1, {"IMG_0001.JPG": photo_files["coffee.jpg"]})
    write_tree(day2, {"IMG_0001.JPG": photo_files["astronaut.jpg"]})
    out = tmp_path / "out"
    common = ["--output", str(out), *FAST, *IN_MEMORY]
    _stop_before_its_manifest(monkeypatch, run_job, ["--input", str(day1), *common,
                                                     "--skip_existing", "--run_id", "d1"])
    (entry,) = (out / "_manifest" / "_journal" / "run_id=d1").glob("launch=*/*.json")
    past = time.time() - 60                  # (day 1 ran a minute before day 2)
    os.utime(entry, (past, past))
    _, other = run_job(["--input", str(day2), *common, "--manifest", str(tmp_path / "m2"),
                        "--run_id", "d2"])
    assert other.ok == 1
    _, resumed = run_job(["--input", str(day1), *common, "--skip_existing",
                          "--run_id", "d1-resumed"])
    assert (resumed.ok, resumed.skipped, resumed.unrecorded, resumed.not_adopted) == \
        (1, 0, 0, 1)
    (row,) = read_manifest(str(out / "_manifest"), run_id="d1-resumed")
    assert (row["input_width"], row["input_height"]) == Image.open(day1 / "IMG_0001.JPG").size
    with Image.open(row["output_uri"]) as im:    # day 1's picture, written again
        assert im.size == (row["output_width"], row["output_height"])


def test_per_image_notes_are_one_line_per_bundle(tmp_path, write_tree, photo_files, run_job,
                                                 caplog, monkeypatch):
    """A rerun that adopts unrecorded outputs, and one whose output folder is its input folder,
    logged a line per image (1,200 for 1,200 photos: perf review 27): one line per bundle now,
    with the count and the first; each image's own at DEBUG."""
    common, out = _a_stopped_run(tmp_path, write_tree, photo_files, run_job, monkeypatch)
    with caplog.at_level(logging.INFO, logger="transforms.plan"):
        run_job([*common, "--run_id", "resumed"])
    said = [r.getMessage() for r in caplog.records if r.name == "transforms.plan"
            and r.levelno == logging.INFO and "skipped against" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith(
        "2 inputs skipped against outputs that no earlier run's manifest row names for them"), \
        said
    assert "the first: " in said[0] and ".jpg skipped against " in said[0]
    caplog.clear()
    inside = ["--input", str(tmp_path / "in"), "--output", str(tmp_path / "in"), *FAST,
              *IN_MEMORY]
    run_job([*inside, "--run_id", "beside"])
    with caplog.at_level(logging.INFO, logger="transforms.plan"):
        _, rerun = run_job([*inside, "--run_id", "beside-again", "--skip_existing"])
    assert (rerun.ok, rerun.skipped) == (0, 2)
    said = [r.getMessage() for r in caplog.records if r.name == "transforms.plan"
            and r.levelno == logging.INFO and "outputs of this job" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith(
        "2 files in the output folder are outputs of this job, not inputs"), said


def test_an_input_replaced_after_a_stopped_run_is_compressed_again(
        tmp_path, write_tree, photo_files, run_job, read_manifest, monkeypatch):
    """Stores review 23: the outputs of a run stopped before its manifest were adopted by the
    next --skip_existing run with rows all 'skipped', which no later run read: a photo replaced
    under its name afterwards kept its old output for good. The skip against an unrecorded
    output now records the input (skip_reason), and a later rerun sees it replaced."""
    from PIL import Image

    common, out = _a_stopped_run(tmp_path, write_tree, photo_files, run_job, monkeypatch)
    _, resumed = run_job([*common, "--run_id", "resumed"])
    assert (resumed.ok, resumed.skipped, resumed.unrecorded) == (0, 2, 2)
    rows = read_manifest(str(out / "_manifest"), run_id="resumed")
    assert {r["skip_reason"] for r in rows} == {"unrecorded output"}
    assert all(r["input_bytes"] and r["input_modified"] for r in rows)
    _, again = run_job([*common, "--run_id", "again"])  # recorded now: plain skips
    assert (again.ok, again.skipped, again.unrecorded) == (0, 2, 0)
    assert {r["skip_reason"] for r in read_manifest(str(out / "_manifest"),
                                                    run_id="again")} == {None}
    write_tree(tmp_path / "in", {"a.jpg": photo_files["trips/china.jpg"]})  # replaced
    _, later = run_job([*common, "--run_id", "later"])
    assert (later.ok, later.skipped, later.replaced) == (1, 1, 1)
    (row,) = [r for r in read_manifest(str(out / "_manifest"), run_id="later")
              if r["status"] == "ok"]
    with Image.open(row["output_uri"]) as im:
        assert im.size == (row["output_width"], row["output_height"])
    assert (row["input_width"], row["input_height"]) == Image.open(
        tmp_path / "in" / "a.jpg").size


def test_an_input_replaced_between_a_stop_and_the_resume_is_compressed_again(
        tmp_path, write_tree, photo_files, run_job, read_manifest, monkeypatch):
    """Operator review 24: a photo replaced after a stopped run wrote its output, before the
    resume, was adopted with the new file's size and time beside the old picture's output,
    and skipped every night after. An input modified after its unrecorded output was written
    is not what that output was made from: compressed again."""
    import time

    from PIL import Image

    common, out = _a_stopped_run(tmp_path, write_tree, photo_files, run_job, monkeypatch)
    time.sleep(0.05)
    write_tree(tmp_path / "in", {"a.jpg": photo_files["trips/china.jpg"]})  # replaced
    _, resumed = run_job([*common, "--run_id", "resumed"])
    assert (resumed.ok, resumed.skipped, resumed.unrecorded, resumed.replaced) == (1, 1, 1, 1)
    rows = {os.path.basename(r["input_uri"]): r
            for r in read_manifest(str(out / "_manifest"), run_id="resumed")}
    assert rows["a.jpg"]["status"] == "ok" and rows["b.jpg"]["status"] == "skipped"
    with Image.open(rows["a.jpg"]["output_uri"]) as im:   # the new photo's picture
        assert im.size == (rows["a.jpg"]["output_width"], rows["a.jpg"]["output_height"])
    assert (rows["a.jpg"]["input_width"], rows["a.jpg"]["input_height"]) == Image.open(
        tmp_path / "in" / "a.jpg").size


def test_a_damaged_photo_is_not_tried_again_while_it_is_the_same_file(
        tmp_path, write_tree, photo_files, run_job, read_manifest, monkeypatch):
    """Operator review 24: a damaged photo failed every nightly --skip_existing run again (a
    new error row each night), and a night with nothing new exited 1 on it alone. An input
    that an earlier run failed, the same file, settings and library version, by an error the
    same bytes meet again, is skipped ('failed before', with its error); replaced, it is
    compressed; a run without --skip_existing tries it again."""
    from pipeline.main import exit_status
    from pipeline.report.summary import format_summary

    cut = photo_files["coffee.jpg"][:400]
    write_tree(tmp_path / "in", {"coffee.jpg": photo_files["coffee.jpg"], "cut.jpg": cut})
    out = tmp_path / "out"
    common = ["--input", str(tmp_path / "in"), "--output", str(out), *FAST, *IN_MEMORY]
    _, first = run_job([*common, "--skip_existing", "--run_id", "first"])
    assert (first.ok, first.failed, first.failed_before) == (1, 1, 0)
    _, quiet = run_job([*common, "--skip_existing", "--run_id", "quiet"])
    assert (quiet.ok, quiet.failed, quiet.skipped, quiet.failed_before) == (0, 0, 2, 1)
    assert exit_status(quiet) == 0 and quiet.model_loads == 0
    assert "skipped, failed before: 1" in format_summary(quiet)
    from pipeline.report import summarize_manifest, summary_report   # (run_local.sh's)
    assert summarize_manifest(str(out / "_manifest"), "quiet").failed_before == 1
    screen = summary_report(str(out / "_manifest"), "quiet")
    assert re.search(r"cut\.jpg +skipped, failed before: ImageDecodeError: the file is cut "
                     r"short", screen)
    rows = {os.path.basename(r["input_uri"]): r
            for r in read_manifest(str(out / "_manifest"), run_id="quiet")}
    failed = rows["cut.jpg"]
    assert (failed["status"], failed["skip_reason"], failed["error_type"]) == \
        ("skipped", "failed before", "ImageDecodeError")
    assert "cut.jpg" in failed["error_message"] and failed["output_uri"] is None
    assert failed["input_bytes"] == len(cut)
    assert rows["coffee.jpg"]["skip_reason"] is None
    # a listed URI, which no listing described, is asked which file it holds, then skipped
    (tmp_path / "list.txt").write_text(f"{tmp_path / 'in' / 'cut.jpg'}\n")
    _, listed = run_job(["--input_list", str(tmp_path / "list.txt"), *common[2:],
                         "--skip_existing", "--run_id", "listed"])
    assert (listed.ok, listed.failed, listed.failed_before) == (0, 0, 1)
    # another library build (an upgrade) may read it: tried again, and failing again beside
    # the skipped photo it does not fail the run (compat review 27: the first night after an
    # upgrade exited 1 on it alone)
    import transforms.manifest

    with monkeypatch.context() as upgraded_to:
        upgraded_to.setattr(transforms.manifest, "library_version", lambda: "0.1.0+0123456789ab")
        _, upgraded = run_job([*common, "--skip_existing", "--run_id", "upgraded"])
    assert (upgraded.ok, upgraded.failed, upgraded.skipped, upgraded.failed_again) == \
        (0, 1, 1, 1)
    assert exit_status(upgraded) == 0 and "failed again: 1 " in format_summary(upgraded)
    _, again = run_job([*common, "--run_id", "again"])   # without --skip_existing
    assert (again.ok, again.failed, again.failed_before, again.failed_again) == (1, 1, 0, 1)
    _, listed_again = run_job(["--input_list", str(tmp_path / "list.txt"), *common[2:],
                               "--run_id", "listed-again"])   # (asked which file it is)
    assert (listed_again.failed, listed_again.failed_again) == (1, 1)
    write_tree(tmp_path / "in", {"cut.jpg": photo_files["astronaut.jpg"]})   # replaced
    _, fixed = run_job([*common, "--skip_existing", "--run_id", "fixed"])
    assert (fixed.ok, fixed.failed, fixed.skipped, fixed.failed_before) == (1, 0, 1, 0)


def test_semantic_allocation_in_the_job(tmp_path, write_tree, photo_files, run_job,
                                        read_manifest, monkeypatch):
    """--allocation semantic: the photo's JPEG is smaller at the same quality and its row says
    so (params, the written picture's score); a graphic stays lossless. A worker without
    jpeglib writes an error row that names it, and the graphic still finishes."""
    write_tree(tmp_path / "in", {"astronaut.jpg": photo_files["astronaut.jpg"],
                                 "chart.png": _chart_png()})
    base = ["--input", str(tmp_path / "in"), *FAST, *IN_MEMORY]
    _, s = run_job([*base, "--output", str(tmp_path / "uniform")])
    _, t = run_job([*base, "--output", str(tmp_path / "semantic"), "--allocation", "semantic"])
    assert (s.ok, t.ok) == (2, 2)
    uniform = {os.path.basename(r["input_uri"]): r
               for r in read_manifest(str(tmp_path / "uniform" / "_manifest"))}
    semantic = {os.path.basename(r["input_uri"]): r
                for r in read_manifest(str(tmp_path / "semantic" / "_manifest"))}
    photo, plain = semantic["astronaut.jpg"], uniform["astronaut.jpg"]
    assert json.loads(photo["params"])["allocation"] == "semantic"
    assert "allocation" not in json.loads(plain["params"])
    assert (photo["output_format"], photo["quality"]) == ("JPEG", plain["quality"])
    assert photo["output_bytes"] < plain["output_bytes"]
    assert photo["quality_score"] < plain["quality_score"]
    assert semantic["chart.png"]["output_format"] in ("PNG", "WEBP")

    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "jpeglib" else real(name, *a))
    # where the job runs here, the launch says it (each image had failed after its map and
    # quality search: options review 48) ...
    with pytest.raises(SystemExit) as stopped:
        run_job([*base, "--output", str(tmp_path / "here"), "--allocation", "semantic"])
    assert stopped.value.code == 2 and not (tmp_path / "here").exists()
    # ... and a remote worker without it (its packages are not the launcher's) writes rows
    import pipeline.main

    monkeypatch.setattr(pipeline.main, "missing_encoder_problem", lambda runner, settings: None)
    _, u = run_job([*base, "--output", str(tmp_path / "without"), "--allocation", "semantic"])
    assert (u.ok, u.failed) == (1, 1)
    rows = {os.path.basename(r["input_uri"]): r
            for r in read_manifest(str(tmp_path / "without" / "_manifest"))}
    assert rows["astronaut.jpg"]["error_type"] == "EncoderUnavailableError"
    assert "pip install jpeglib==1.0.2" in rows["astronaut.jpg"]["error_message"]
    assert rows["chart.png"]["status"] == "ok"


def test_a_missed_quality_target_is_logged_counted_and_summarised(
        tmp_path, write_tree, photo_files, run_job, read_manifest, caplog):
    """--target_quality above what the format's best encoding reaches: the image is written
    with its score (as the command line does), but the job said nothing: an ok row whose
    quality_score is below the target, no log line, no count."""
    write_tree(tmp_path / "in", {"astronaut.jpg": photo_files["astronaut.jpg"]})
    base = ["--input", str(tmp_path / "in"), *FAST, *IN_MEMORY, "--format", "jpeg"]
    with caplog.at_level(logging.WARNING, logger="transforms.compress"):
        _, s = run_job([*base, "--output", str(tmp_path / "hi"), "--target_quality", "99"])
    (row,) = read_manifest(str(tmp_path / "hi" / "_manifest"))
    assert (row["status"], s.ok, s.missed) == ("ok", 1, 1)
    assert row["quality_score"] < 99
    assert "--target_quality 99 was not reached" in caplog.text
    assert "quality target missed: 1" in format_summary(s)
    _, t = run_job([*base, "--output", str(tmp_path / "lo"), "--target_quality", "60"])
    assert (t.ok, t.missed) == (1, 0)
    assert "quality target missed" not in format_summary(t)


def test_energy_options_a_target_that_keeps_the_aspect_does_not_use_are_warned_of(
        tmp_path, write_tree, photo_files, run_job, read_manifest, caplog):
    """New user's review 30: at a scale no importance map is computed, yet --energy gradient
    was taken in silence (and renamed the outputs). Said once at launch, not refused (a
    scheduled job keeps its names and runs); a width and a height use it and say nothing."""
    write_tree(tmp_path / "in", {"coffee.jpg": photo_files["coffee.jpg"]})
    base = ["--input", str(tmp_path / "in"), *IN_MEMORY]
    with caplog.at_level(logging.WARNING, logger="pipeline.main"):
        _, s = run_job([*base, "--output", str(tmp_path / "a"), *FAST])
    said = [r.getMessage() for r in caplog.records if r.name == "pipeline.main"]
    assert said == ["--energy gradient changes nothing here: these targets keep every "
                    "picture's aspect, so the whole picture is scaled and no importance map is "
                    "computed (they shape targets that change the aspect: a width and a height)"]
    assert s.ok == 1
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pipeline.main"):
        _, t = run_job([*base, "--output", str(tmp_path / "b"), "--energy", "gradient",
                        "--target_width", "64", "--target_height", "64"])
    assert t.ok == 1 and not [r for r in caplog.records if r.name == "pipeline.main"]


def test_a_glob_that_leaves_photos_out_by_case_says_so(tmp_path, write_tree, photo_files,
                                                       run_job, caplog):
    """--input 'photos/**/*.jpg' over a camera's IMG_0001.JPG and a phone's img_0002.jpg:
    one image, exit status 0, nothing said about the other."""
    root = tmp_path / "photos"
    write_tree(root, {"cam/IMG_0001.JPG": photo_files["coffee.jpg"],
                      "phone/img_0002.jpg": photo_files["astronaut.jpg"]})
    with caplog.at_level(logging.WARNING, logger="transforms.matching"):
        _, s = run_job(["--input", str(root / "**" / "*.jpg"), "--output",
                        str(tmp_path / "out"), *FAST, *IN_MEMORY, "--run_id", "case"])
    assert (s.ok, s.failed, s.skipped, s.missed_by_case) == (1, 0, 0, 1)
    assert f"{root / 'cam' / 'IMG_0001.JPG'}" in caplog.text
    assert "*.[jJ][pP][gG]" in caplog.text
    assert "left out by case: 1" in format_summary(s)


def test_outputs_larger_than_their_input_are_logged_counted_and_summarised(
        tmp_path, write_tree, sample_photos, run_job, read_manifest, caplog):
    """A JPEG saved at quality 20 and compressed with quality auto at scale 0.9 came out larger
    than it went in (byte_ratio 1.14 for the astronaut): written and reported ok, with no word
    (the summary said '-14% saved'). Still written (the pixels asked for), now logged, counted
    and summed up."""
    import io

    buf = io.BytesIO()
    sample_photos["astronaut"].save(buf, "JPEG", quality=20)
    write_tree(tmp_path / "in", {"q20.jpg": buf.getvalue()})
    args = ["--input", str(tmp_path / "in"), "--method", "hybrid", "--energy", "gradient",
            *IN_MEMORY, "--format", "jpeg"]
    with caplog.at_level(logging.WARNING, logger="transforms.compress"):
        _, s = run_job([*args, "--output", str(tmp_path / "big"), "--scale", "0.9"])
    (row,) = read_manifest(str(tmp_path / "big" / "_manifest"))
    assert row["status"] == "ok" and row["byte_ratio"] > 1
    assert (s.ok, s.larger) == (1, 1)
    assert f"{tmp_path / 'in' / 'q20.jpg'}: the output" in caplog.text
    assert "larger than their input: 1" in format_summary(s)
    _, t = run_job([*args, "--output", str(tmp_path / "small"), "--scale", "0.5"])
    assert (t.ok, t.larger) == (1, 0) and "larger than their input" not in format_summary(t)


def test_a_folder_the_job_cannot_list_is_an_error_row_not_a_quiet_night(
        tmp_path, photo_files, run_job, read_manifest, refuse_listing):
    """Operator review 28: with a day's folder unreadable, its photos had no row and the run
    exited 0; as the job's only input, "matched no files", exit status 0, as a night with no
    new photos. The folder is now an error row of the match step, the rest is compressed, and
    a run whose only input it is exits 1."""
    from pipeline.main import exit_status

    inputs = tmp_path / "in"
    for name, data in photo_files.items():   # trips/ is the folder that cannot be listed
        (inputs / name).parent.mkdir(parents=True, exist_ok=True)
        (inputs / name).write_bytes(data)
    refused = str(inputs / "trips")
    refuse_listing(refused)
    out = tmp_path / "out"
    _, summary = run_job(["--input", str(inputs), "--output", str(out), *FAST, *IN_MEMORY,
                          "--run_id", "whole"])
    rows = read_manifest(str(out / "_manifest"), run_id="whole")
    assert (summary.ok, summary.failed, exit_status(summary)) == (3, 1, 0)
    [error] = [r for r in rows if r["status"] == "error"]
    assert error["input_uri"] == refused and error["error_type"] == "ImageReadError"
    assert "cannot list (PermissionError: Permission denied)" in error["error_message"]
    _, alone = run_job(["--input", refused, "--output", str(out), *FAST, *IN_MEMORY,
                        "--run_id", "alone"])
    assert (alone.ok, alone.failed, exit_status(alone)) == (0, 1, 1)


def test_dead_letters_that_cannot_be_written_do_not_cost_the_manifest(
        tmp_path, input_dir, run_job, read_manifest, monkeypatch, caplog):
    """Operator review 28: with the output's disk full, writing the dead letters (beside the
    outputs) stopped the whole run, and its manifest, on a healthy disk, was never written:
    the images written had no row. Dead letters are best effort: a warning, a count, and the
    manifest's error rows."""
    import transforms.dead_letters as letters

    def full(uri, data, storage_options=None, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(letters, "write_atomic", full)
    out = tmp_path / "out"
    with caplog.at_level(logging.WARNING, logger="transforms.dead_letters"):
        result, summary = run_job(["--input", str(input_dir), "--output", str(out),
                                   "--manifest", str(tmp_path / "manifest"), *FAST,
                                   *IN_MEMORY, "--run_id", "full"])
    assert (summary.ok, summary.failed) == (5, 4)
    rows = read_manifest(str(tmp_path / "manifest"), run_id="full")
    assert sorted(r["status"] for r in rows) == ["error"] * 4 + ["ok"] * 5
    assert not (out / "_dead_letters").exists()
    assert "failures were not written" in caplog.text and "No space left" in caplog.text
    counters = {c.key.metric.name: c.committed
                for c in result.metrics().query()["counters"]}
    assert counters["dead_letters_unwritten"] == summary.letters_unwritten == 4
    from pipeline.main import exit_status
    assert exit_status(summary) == 1   # (the storage's failure: diff review 39)
    assert (f"dead letters: {out}/_dead_letters/run_id=full: not written for 4 (see the log; "
            "the manifest's error rows hold them)") in format_summary(summary)


def test_an_output_folder_named_with_glob_characters_is_left_clean(
        tmp_path, write_tree, photo_files, run_job, read_manifest):
    """--output 'Exports [2026]': Beam's local delete globs the name, so the run's temporary
    folder was "no files found" and stayed behind, with a warning, at every run (edge review
    37). A finished run leaves its outputs, its manifest parts and its dead letters only."""
    root, out = tmp_path / "in", tmp_path / "Exports [2026] *"
    write_tree(root, {"coffee.jpg": photo_files["coffee.jpg"], "bad.jpg": b"not a picture"})
    _, s = run_job(["--input", str(root), "--output", str(out), *FAST, *IN_MEMORY])
    assert (s.ok, s.failed) == (1, 1)
    left = [str(p.relative_to(out)) for p in out.rglob("*") if "_beam_temp" in p.name]
    assert left == []
    assert len(read_manifest(str(out / "_manifest"))) == 2


def test_a_stopped_runs_line_names_the_error_a_worker_relayed():
    """Diff review 28: in the multi-threaded and multi-process modes the runner relays a
    worker's traceback, and the line said "writing the manifest failed (Traceback (most recent
    call last):)"."""
    from pipeline.main import _stopped

    relayed = RuntimeError(
        "Traceback (most recent call last):\n  File \"x.py\", line 1, in write\n"
        "    fh.write(data)\nOSError: [Errno 27] File too large [while running "
        "'WriteManifest/Write/WriteToFiles/ParDo(_WriteUnshardedRecordsFn)']")
    stopped = _stopped("r", relayed)
    assert (stopped.step, stopped.cause) == ("WriteManifest", "OSError: [Errno 27] File too large")
    plain = _stopped("r", RuntimeError("OSError: [Errno 28] No space left on device "
                                       "[while running 'WriteDeadLetters/WriteJsonLines']"))
    assert (plain.step, plain.cause) == ("WriteDeadLetters",
                                         "OSError: [Errno 28] No space left on device")
    assert _stopped("r", ValueError("odd")).cause == "ValueError: odd"
    # a step named inside an exception's repr, its quotes escaped (an S3 endpoint down; the
    # line was cut at 300 characters inside the step's name: edge review 37)
    url = "http://127.0.0.1:1/b/out/_manifest/_beam_temp-run_id%3Ddn2-" + "7" * 60 + "?uploads"
    s3 = _stopped("r", RuntimeError(
        f"S3ClientError: ('Could not connect to the endpoint URL: \"{url}\" [while running "
        "\\'WriteManifest/WriteParts/WriteToFiles/ParDo(_WriteUnshardedRecordsFn)/"
        "ParDo(_WriteUnshardedRecordsFn)\\']', None)"))
    assert s3.step == "WriteManifest" and "while running" not in s3.cause
    assert s3.cause.startswith("S3ClientError: ('Could not connect") and url in s3.cause
    assert "writing the manifest failed" in str(s3)
    long = _stopped("r", RuntimeError("OSError: " + "word " * 100)).cause
    assert len(long) <= 304 and long.endswith("word ...")
    # a multi_processing worker killed (the OOM killer, kill -9): "a step failed (Channel
    # closed prematurely.)" named neither (job review 43)
    lost = _stopped("r", RuntimeError("Traceback (most recent call last):\n  File \"x.py\", "
                                      "line 1\nRuntimeError: Channel closed prematurely."))
    assert lost.cause.startswith("a worker process ended while it held images (killed: the "
                                 "system's out-of-memory killer, kill -9?)")
    # a long path is cut where it must be, not dropped back to the last space (diff review)
    path = "/data/" + "a" * 400 + ".jpg"
    cut = _stopped("r", RuntimeError(f"OSError: cannot write {path}")).cause
    assert cut.startswith("OSError: cannot write /data/aaaa") and len(cut) == 304


def test_a_run_the_runner_stops_is_one_line_and_exit_status_3(tmp_path, input_dir, monkeypatch,
                                                              capsys):
    """Operator review 28: a step that failed as a whole (its sink could not write: the
    output's disk full, a store gone) ended the job with 100-400 lines of tracebacks and exit
    status 1, the status of a run whose every image failed. It is one line naming the step
    and the cause, the traceback kept in a file, and exit status 3."""
    import pipeline.__main__ as entry
    from transforms import manifest_writer

    def full(self, record):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(manifest_writer.ManifestSink, "write", full)
    monkeypatch.setattr(logging, "basicConfig", lambda **kwargs: None)
    steps = logging.getLogger("apache_beam.runners.common")
    monkeypatch.setattr(steps, "filters", list(steps.filters))
    status = entry.main(["--input", str(input_dir), "--output", str(tmp_path / "out"), *FAST,
                         *IN_MEMORY, "--run_id", "stops"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert status == entry.STOPPED == 3
    assert err.startswith("error: run stops stopped: writing the manifest failed (OSError: "
                          "[Errno 28] No space left on device); its manifest was not written.")
    kept = err.rsplit("the runner's traceback: ", 1)[1]
    assert "Traceback" in open(kept).read()
    os.remove(kept)


def test_a_file_changed_between_listing_and_reading_is_recorded_as_read(
        tmp_path, photo_files, run_job, read_manifest, monkeypatch):
    """Fault review 28: a photo truncated after the listing got a row of the bytes read (their
    size and SHA-256) and the listing's modification time: the next --skip_existing run took
    it for another file, read it again, and exited 1 ("every image failed") instead of
    skipping it as failed before. The row records the file that was read."""
    import datetime as dt

    import transforms.compress as tc
    from pipeline.main import exit_status

    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "ok.jpg").write_bytes(photo_files["coffee.jpg"])
    cut = inputs / "cut.jpg"
    cut.write_bytes(photo_files["astronaut.jpg"])
    os.utime(cut, (1_700_000_000, 1_700_000_000))   # listed with this time
    read = tc.read_bytes

    def truncated_meanwhile(uri, *args, **kwargs):
        if uri.endswith("cut.jpg") and os.path.getsize(cut) == len(photo_files["astronaut.jpg"]):
            cut.write_bytes(photo_files["astronaut.jpg"][:2000])   # (a new time, a new size)
        return read(uri, *args, **kwargs)

    monkeypatch.setattr(tc, "read_bytes", truncated_meanwhile)
    out = tmp_path / "out"
    args = ["--input", str(inputs), "--output", str(out), *FAST, *IN_MEMORY]
    _, first = run_job([*args, "--run_id", "first"])
    assert (first.ok, first.failed) == (1, 1)
    [row] = [r for r in read_manifest(str(out / "_manifest")) if r["status"] == "error"]
    assert row["input_bytes"] == 2000 == os.path.getsize(cut)
    assert row["input_modified"].replace(tzinfo=dt.timezone.utc).timestamp() == \
        pytest.approx(os.path.getmtime(cut), abs=1e-3)
    monkeypatch.setattr(tc, "read_bytes", read)
    _, quiet = run_job([*args, "--run_id", "quiet", "--skip_existing"])
    assert (quiet.ok, quiet.failed, quiet.skipped, quiet.failed_before) == (0, 0, 2, 1)
    assert exit_status(quiet) == 0


def test_dead_letters_are_not_written_through_a_link_planted_in_the_output(
        tmp_path, input_dir, run_job, read_manifest, caplog):
    """Diff review 28: a link planted at <output>/_dead_letters had the dead letters written
    where it pointed; no output of the job is written through a link below --output."""
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "_dead_letters").symlink_to(elsewhere)
    with caplog.at_level(logging.WARNING, logger="transforms.dead_letters"):
        _, summary = run_job(["--input", str(input_dir), "--output", str(out), *FAST, *IN_MEMORY,
                              "--run_id", "planted"])
    assert (summary.ok, summary.failed, summary.letters_unwritten) == (5, 4, 4)
    assert list(elsewhere.iterdir()) == []
    assert "symbolic link" in caplog.text
    assert len(read_manifest(str(out / "_manifest"), run_id="planted")) == 9
