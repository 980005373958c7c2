"""The manifest report (``python -m pipeline.report``): numbers, formats, bad input, rendering."""
import glob
import html as htmllib
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from pipeline import report
from transforms.manifest import MANIFEST_SCHEMA, error_row, ok_row, part_table, skipped_row

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIGS = [("hybrid", "deep", "efficientnet_lite0"), ("seam_carving", "gradient", None),
           ("jpeg", None, None)]


def _result(i):
    """A stand-in for CompressionResult with the attributes ok_row reads."""
    in_bytes = 10_000 + 137 * i
    out_bytes = 2_000 + (i * 7919) % 6_000
    return SimpleNamespace(
        original_size=(800, 600), size=(400, 300), original_bytes=in_bytes,
        compressed_bytes=out_bytes, compression_ratio=out_bytes / in_bytes,
        pixel_ratio=0.25 + (i % 5) / 100, format="JPEG", quality=85,
        energy_stats={"mean_energy": 0.1 + (i % 13) / 30, "std_energy": 0.1, "p50": 0.1,
                      "p95": 0.9, "high_importance_ratio": 0.2},
        retained_energy_ratio=0.6 + (i % 17) / 50, seams={"vertical": 3, "horizontal": 0},
        crop_box=None, input_format="JPEG",
        timings={"decode_ms": 1.0, "energy_ms": 5.0 + i % 11, "resize_ms": 2.0,
                 "encode_ms": 1.5, "total_ms": 10.0 + (i * 37) % 250},
    )


def _rows(run_id, n, error_every=7, skip_every=11, offset=0):
    rows = []
    for k in range(n):
        i = k + offset
        method, energy, model = CONFIGS[i % len(CONFIGS)]
        common = dict(method=method, energy=energy, model=model, params='{"scale":0.5}')
        uri = f"/photos/{run_id}/img_{i:04d}.jpg"
        if k % error_every == 3:
            etype = ["ImageDecodeError", "TargetUnreachableError"][i % 2]
            rows.append(error_row(run_id, uri, etype, f"bad file <{i}> | pipe", **common))
        elif k % skip_every == 5:
            rows.append(skipped_row(run_id, uri, uri + ".out", input_bytes=5000,
                                    output_bytes=1000, output_format="JPEG", **common))
        else:
            rows.append(ok_row(run_id, uri, uri + ".out", _result(i), "ab" * 32, **common))
    return rows


def write_run(root, run_id, rows, parts=2):
    """Write rows as ``<root>/run_id=<id>/part-*.parquet`` (the job's layout and part schema:
    run_id in the folder name only)."""
    folder = os.path.join(root, f"run_id={run_id}")
    os.makedirs(folder, exist_ok=True)
    table = part_table(rows)
    step = max(1, -(-len(rows) // parts))
    for p in range(parts):
        pq.write_table(table.slice(p * step, step),
                       os.path.join(folder, f"part-{p:05d}-of-{parts:05d}.parquet"))


def read_parts(pattern):
    """The rows of the part files ``pattern`` matches, read one by one (pyarrow.parquet), each
    with the run_id of its folder (``run_id=<id>/``)."""
    rows = []
    for f in sorted(glob.glob(str(pattern))):
        run_id = os.path.basename(os.path.dirname(f))[len("run_id="):]
        rows += [{**r, "run_id": run_id}
                 for r in pq.read_table(f, partitioning=None).to_pylist()]
    return rows


def independent_totals(root, run_id=None):
    """Totals from the Parquet files read one by one (pyarrow.parquet), summed in Python."""
    rows = read_parts(os.path.join(root, "run_id=*", "*.parquet"))
    if run_id:
        rows = [r for r in rows if r["run_id"] == run_id]
    ok = [r for r in rows if r["status"] == "ok"]

    def med(xs):
        xs = [x for x in xs if x is not None]
        return statistics.median(xs) if xs else None

    def mean(xs):
        xs = [x for x in xs if x is not None]
        return sum(xs) / len(xs) if xs else None

    b_in = sum(r["input_bytes"] for r in ok)
    b_out = sum(r["output_bytes"] for r in ok)
    return {
        "images": len(rows), "ok": len(ok),
        "error": sum(r["status"] == "error" for r in rows),
        "skipped": sum(r["status"] == "skipped" for r in rows),
        "skipped_failed_before": sum(r.get("skip_reason") == "failed before" for r in rows),
        "skipped_unrecorded": sum(r.get("skip_reason") == "unrecorded output" for r in rows),
        "bytes_in": b_in, "bytes_out": b_out, "bytes_saved": b_in - b_out,
        "saved_fraction": (b_in - b_out) / b_in if b_in else None,
        "mean_byte_ratio": mean(r["byte_ratio"] for r in ok),
        "median_byte_ratio": med(r["byte_ratio"] for r in ok),
        "mean_pixel_ratio": mean(r["pixel_ratio"] for r in ok),
        "median_pixel_ratio": med(r["pixel_ratio"] for r in ok),
        "mean_retained_energy_ratio": mean(r["retained_energy_ratio"] for r in ok),
        "median_total_ms": med(r["total_ms"] for r in ok),
    }


def _check_totals(got, want):
    for key, value in want.items():
        if value is None:
            assert got[key] is None, key
        elif isinstance(value, int):
            assert got[key] == value, key
        else:
            assert got[key] == pytest.approx(value, rel=1e-12), key


def _run_main(argv, capsys):
    status = report.main([str(a) for a in argv])
    out = capsys.readouterr()
    return status, out.out, out.err


def _embedded(html_text):
    m = re.search(r'<script type="application/json" id="report-data">(.*?)</script>',
                  html_text, re.S)
    return json.loads(m.group(1).replace("<\\/", "</"))


@pytest.fixture
def two_runs(tmp_path):
    root = tmp_path / "manifest"
    write_run(root, "night-1", _rows("night-1", 230))
    write_run(root, "night-2", _rows("night-2", 170, error_every=5, offset=1000), parts=3)
    os.makedirs(root / "_beam_temp" / "run_id=x-leftover")  # hidden from readers
    return root


def test_totals_equal_independent_pyarrow_totals(two_runs, tmp_path, capsys):
    out = tmp_path / "r.html"
    status, stdout, _ = _run_main([two_runs, "-o", out, "--json"], capsys)
    assert status == 0
    data = json.loads(stdout)
    assert data["runs"] == ["night-1", "night-2"]
    _check_totals(data["totals"], independent_totals(two_runs))
    for run in ("night-1", "night-2"):
        _check_totals(data["by_run"][run], independent_totals(two_runs, run))
    # the HTML carries the same numbers, and shows them
    text = out.read_text()
    assert _embedded(text) == data
    want = independent_totals(two_runs)
    assert f"{want['images']:,}" in text and f"{want['bytes_in']:,} B" in text
    assert f"{want['median_byte_ratio']:.3f}" in text
    assert "Runs compared" in text and "Δ night-2 vs night-1" in text
    # the difference of bytes in the units of the rows above it (it was a bare count), and
    # what "failing" counts (manifest review 29)
    from pipeline.report.cells import fmt_bytes, fmt_delta

    one, two = data["by_run"]["night-1"], data["by_run"]["night-2"]
    change = two["bytes_out"] - one["bytes_out"]
    shown = fmt_delta(two["bytes_out"], one["bytes_out"], size=True)
    assert shown == ("+" if change >= 0 else "-") + fmt_bytes(abs(change))
    assert f"<td class=\"n\">{shown}</td>" in text and f"{change:+,}" not in text
    assert "failing: the share of a run&#x27;s rows that are errors or inputs skipped" in text


@pytest.mark.parametrize("name, fmt, message", [
    ("totals.json", [], "-o {out}: a html report is written as .html or .htm, not .json; "
                        "--json prints the totals as JSON on stdout"),
    ("plot.png", [], "-o {out}: a html report is written as .html or .htm, not .png"),
    ("r.html", ["--format", "md"], "-o {out}: a md report is written as .md or .markdown, "
                                   "not .html"),
])
def test_an_output_name_of_another_kind_is_refused(two_runs, tmp_path, capsys, name, fmt,
                                                    message):
    """Review 13, O9: ``-o totals.json`` (or ``.png``) received an HTML page."""
    out = tmp_path / name
    with pytest.raises(SystemExit) as stop:
        report.main([str(two_runs), "-o", str(out), *fmt])
    assert stop.value.code == 2   # one line, no usage (options review 41: five lines)
    assert capsys.readouterr().err == (f"python -m pipeline.report: error: "
                                       f"{message.format(out=out)}\n")
    assert not out.exists()
    assert _run_main([two_runs, "-o", tmp_path / "report"], capsys)[0] == 0  # no suffix: as is


@pytest.mark.parametrize("flag, meant", [("--storage-options", "--storage_options"),
                                         ("--jsno", "--json"), ("--ouput", "--output")])
def test_a_misspelt_flag_is_answered_with_the_flag_meant(two_runs, capsys, flag, meant):
    with pytest.raises(SystemExit) as stop:
        report.main([str(two_runs), flag, "{}"])
    assert stop.value.code == 2
    assert capsys.readouterr().err == (f"python -m pipeline.report: error: unrecognized "
                                       f"arguments: {flag} {{}} (did you mean {meant}?)\n")


def test_tables_plots_and_errors_in_the_html(two_runs, tmp_path, capsys):
    out = tmp_path / "r.html"
    assert _run_main([two_runs, "-o", out], capsys)[:2] == (0, f"{out}\n")
    text = out.read_text()
    for section in ("Totals", "By settings", "By output format", "Distributions",
                    "Processing time", "Slowest 10 images", "Highest byte ratios", "Errors"):
        assert section in text, section
    assert text.count("<svg") == 4
    # each plot's text alternative says what it shows, not only its title (manifest review
    # 29: the values were in <title> elements no screen reader exposes under role="img")
    labels = re.findall(r'<svg[^>]* aria-label="([^"]*)"', text)
    for title in ("Byte ratio (output / input bytes)", "Retained energy ratio",
                  "Energy mean vs byte ratio", "Processing time per image"):
        (label,) = [htmllib.unescape(x) for x in labels if htmllib.unescape(x).startswith(title)]
        assert re.search(r": [\d,]+ images, .+ (from|to) ", label), label
    scatter = next(htmllib.unescape(x) for x in labels if "vs byte ratio" in x)
    assert "correlation" in scatter
    # messages are escaped, never markup
    assert "bad file &lt;" in text and "bad file <" not in text
    # self-contained: nothing is fetched at view time
    assert not re.search(r"\b(src|href)=|url\(|@import", text)
    # the per-configuration table matches a group-by in Python
    rows = read_parts(two_runs / "run_id=*" / "*.parquet")
    rep = report.build_report(report.load_manifest(str(two_runs)))
    for g in rep.by_config:
        mine = [r for r in rows if (r["params"], r["method"], r["energy"], r["model"]) ==
                (g["params"], g["method"], g["energy"], g["model"])]
        ok = [r for r in mine if r["status"] == "ok"]
        assert g["images"] == len(mine) and g["ok"] == len(ok)
        assert g["bytes_out"] == sum(r["output_bytes"] for r in ok)
        # (skipped rows carry their input's and output's bytes: not this run's saving)
        assert g["bytes_in"] == sum(r["input_bytes"] for r in ok)
        assert g["mean_byte_ratio"] == pytest.approx(
            sum(r["byte_ratio"] for r in ok) / len(ok))
    assert sum(g["images"] for g in rep.by_config) == len(rows)
    errs = {e["error_type"]: e["count"] for e in rep.errors}
    assert errs == {t: sum(r["error_type"] == t for r in rows)
                    for t in ("ImageDecodeError", "TargetUnreachableError")}
    assert all(len(e["examples"]) == 3 for e in rep.errors)
    assert all(len({x["input_uri"] for x in e["examples"]}) == 3 for e in rep.errors)
    slow = [r["total_ms"] for r in rows if r["total_ms"] is not None]
    assert [r["total_ms"] for r in rep.slowest] == sorted(slow, reverse=True)[:10]


def _auto_rows(run_id, n):
    """ok rows of a quality="auto" run: each with the score it reached, a stretch and faces
    (as ok_row reads them from a CompressionResult), a few errors among them."""
    rows = []
    for i in range(n):
        method, energy, model = CONFIGS[i % len(CONFIGS)]
        common = dict(method=method, energy=energy, model=model, params='{"quality":"auto"}')
        uri = f"/photos/{run_id}/img_{i:04d}.jpg"
        if i % 9 == 4:
            rows.append(error_row(run_id, uri, "ImageDecodeError", "corrupt", **common))
            continue
        result = _result(i)
        result.quality = 55 + (i * 7) % 35
        result.operations = {"quality_score": 70.0 + ((i * 13) % 97) / 10, "faces": i % 3}
        result.stretch = 1.0 + (i % 6) / 100
        rows.append(ok_row(run_id, uri, uri + ".out", result, "ab" * 32, **common))
    return rows


def test_quality_scores_stretch_and_faces(tmp_path, capsys):
    """The score quality="auto" reached, the stretch and the faces kept are in the report:
    totals, per run, per configuration, a histogram and the lowest-scoring images, all equal
    to the same numbers computed in Python from the Parquet files."""
    root = tmp_path / "m"
    write_run(root, "fixed", _rows("fixed", 40), parts=1)  # no score: quality 85
    write_run(root, "auto", _auto_rows("auto", 120))
    rows = read_parts(root / "run_id=*" / "*.parquet")
    ok = [r for r in rows if r["status"] == "ok"]
    scored = [r for r in ok if r["quality_score"] is not None]
    assert len(scored) == sum(r["run_id"] == "auto" for r in ok) > 90
    data = json.loads(_run_main([root, "--json"], capsys)[1])
    t = data["totals"]
    assert t["scored"] == len(scored)
    assert t["median_quality_score"] == pytest.approx(
        statistics.median(r["quality_score"] for r in scored))
    assert t["lowest_quality_score"] == min(r["quality_score"] for r in scored)
    assert t["max_stretch"] == max(r["stretch"] for r in ok if r["stretch"] is not None)
    assert t["images_with_faces"] == sum(bool(r["faces"]) for r in ok)
    assert data["by_run"]["fixed"]["scored"] == 0
    assert data["by_run"]["fixed"]["median_quality_score"] is None
    rep = report.build_report(report.load_manifest(str(root)))
    for g in rep.by_config:
        key = (g["params"], g["method"], g["energy"], g["model"])
        mine = [r["quality_score"] for r in scored
                if (r["params"], r["method"], r["energy"], r["model"]) == key]
        if not mine:   # the fixed-quality setting: no score
            assert g["median_quality_score"] is None and g["params"] == '{"scale":0.5}'
            continue
        assert g["median_quality_score"] == pytest.approx(statistics.median(mine))
        assert g["lowest_quality_score"] == min(mine)
    lowest = sorted(scored, key=lambda r: (r["quality_score"], r["input_uri"]))[:10]
    assert [(r["input_uri"], r["quality"], r["quality_score"]) for r in rep.lowest_scores] == \
        [(r["input_uri"], r["quality"], r["quality_score"]) for r in lowest]
    # shown: a fifth plot and the lowest scores, in HTML and in Markdown
    assert _run_main([root, "-o", tmp_path / "r.html"], capsys)[0] == 0
    text = (tmp_path / "r.html").read_text()
    assert text.count("<svg") == 5 and "SSIMULACRA2 score reached (quality auto or a byte budget)" in text
    assert "Lowest quality scores (10 images, quality auto or a byte budget)" in text
    assert f"{lowest[0]['quality_score']:.1f}" in text and "median score" in text
    assert _run_main([root, "-o", tmp_path / "r.md"], capsys)[0] == 0
    text = (tmp_path / "r.md").read_text()
    assert len(re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)) == 5
    assert "### Lowest quality scores" in text
    # a manifest without scores shows neither (the two_runs tests count 4 plots)
    data = json.loads(_run_main([root, "--run", "fixed", "--json"], capsys)[1])
    assert data["totals"]["scored"] == 0 and data["totals"]["lowest_quality_score"] is None
    assert _run_main([root, "--run", "fixed", "-o", tmp_path / "f.html"], capsys)[0] == 0
    text = (tmp_path / "f.html").read_text()
    assert text.count("<svg") == 4 and "Lowest quality scores" not in text


def test_a_manifest_of_schema_1_reports_without_the_new_columns(tmp_path, capsys):
    """Manifests written before quality_score, stretch and faces (schema 1) still report."""
    root = tmp_path / "m"
    table = pa.Table.from_pylist(_rows("old", 30), schema=MANIFEST_SCHEMA)
    table = table.drop_columns(["quality_score", "stretch", "faces"])
    os.makedirs(root / "run_id=old")
    pq.write_table(table, root / "run_id=old" / "part-00000-of-00001.parquet")
    status, stdout, err = _run_main([root, "--json"], capsys)
    assert status == 0, err
    t = json.loads(stdout)["totals"]
    assert t["scored"] == 0 and t["max_stretch"] is None and t["images_with_faces"] == 0
    assert t["ok"] == sum(r["status"] == "ok" for r in _rows("old", 30))


def test_files_that_are_not_parts_are_not_read(two_runs, capsys):
    """A README or a copy tool's leftover in a run's folder is not a part: read as Parquet it
    stopped the report (ArrowInvalid: 'Parquet file size is 3 bytes ...')."""
    want = independent_totals(two_runs)
    (two_runs / "run_id=night-1" / "README.txt").write_text("hi\n")
    (two_runs / "run_id=night-1" / "part-00000-of-00002.parquet.tmp").write_bytes(b"PAR1")
    (two_runs / "run_id=night-2" / ".part-00000-of-00003.parquet.crc").write_bytes(b"x")
    status, stdout, err = _run_main([two_runs, "--json"], capsys)
    assert status == 0, err
    _check_totals(json.loads(stdout)["totals"], want)


def test_a_part_that_cannot_be_read_is_left_out_with_a_warning(two_runs, capsys, caplog):
    """Review 21: a zero-byte or junk part (an interrupted copy, a full disk) stopped the
    report with pyarrow's traceback, where the job reads past it. Now it is named in a
    warning and the other parts are reported."""
    want = independent_totals(two_runs, "night-1")
    for name, data in (("part-zero.parquet", b""), ("part-junk.parquet", b"PAR1x")):
        (two_runs / "run_id=night-2" / name).write_bytes(data)
    parts = sorted((two_runs / "run_id=night-2").glob("part-0*.parquet"))
    for part in parts[1:]:
        part.unlink()   # night-2 is left with its unreadable parts only
    # ... and one whose footer is whole but whose pages are not (diff review 21: its footer
    # alone was read to judge it, then the report died on its pages)
    data = bytearray(parts[0].read_bytes())
    footer = len(data) - 8 - int.from_bytes(data[-8:-4], "little")   # where the footer starts
    data[4:footer] = b"\xab" * (footer - 4)
    parts[0].write_bytes(bytes(data))
    assert pq.ParquetFile(parts[0]).metadata.num_rows > 0
    with caplog.at_level("WARNING", logger="pipeline.report"):
        status, stdout, err = _run_main([two_runs, "--json"], capsys)
    assert status == 0, err
    data = json.loads(stdout)
    _check_totals(data["totals"], want)
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 3 and all("cannot be read, left out of the report" in w
                                    for w in warned)
    assert {os.path.basename(w.split()[2]) for w in warned} == {
        "part-zero.parquet", "part-junk.parquet", parts[0].name}
    # the report names them too (manifest review 38: a warning on stderr alone, and the page
    # showed night-2 as a run of no images)
    names = {"part-zero.parquet", "part-junk.parquet", parts[0].name}
    assert {os.path.basename(p) for p in data["parts_left_out"]} == names
    # ... and on its own row of the runs compared (report review 42: it read as a run of no
    # images, as an empty run does)
    assert data["by_run"]["night-2"]["parts_left_out"] == 3
    assert "parts_left_out" not in data["by_run"]["night-1"]
    for out in (two_runs.parent / "r.html", two_runs.parent / "r.md"):
        assert _run_main([two_runs, "-o", out], capsys)[0] == 0
        text = out.read_text()
        assert "LEFT OUT, 3 part(s) that cannot be read" in text
        assert "night-2 (3 part(s) LEFT OUT)" in text
        assert all(name in text for name in names), out
    status, stdout, _ = _run_main([two_runs, "--run", "night-1", "--json"], capsys)
    assert status == 0 and "parts_left_out" not in json.loads(stdout)


def test_a_parquet_file_of_another_schema_named_like_a_part_is_left_out(two_runs, capsys,
                                                                      caplog):
    """Job review 47: a Parquet file of another schema at run_id=foreign/part-0.parquet, which
    the job's reading of earlier runs leaves out, was read by the report as a run of 2 images
    of no status (totals: 4 images = 1 ok + 1 skipped + 2 of nothing), named nowhere."""
    want = independent_totals(two_runs)
    (two_runs / "run_id=foreign").mkdir()
    pq.write_table(pa.table({"a": [1, 2], "input_uri": ["x", "y"]}),
                   two_runs / "run_id=foreign" / "part-0.parquet")
    with caplog.at_level("WARNING", logger="pipeline.report"):
        status, stdout, err = _run_main([two_runs, "--json"], capsys)
    assert status == 0, err
    data = json.loads(stdout)
    _check_totals(data["totals"], want)
    assert [os.path.basename(p) for p in data["parts_left_out"]] == ["part-0.parquet"]
    assert any("holds no status column" in r.getMessage() for r in caplog.records)


def test_a_parquet_file_of_another_schema_is_not_called_corrupt(two_runs, tmp_path, capsys):
    """Diff review 47: the file of another schema left out was named in the report as one of
    the "part(s) that cannot be read (cut short or corrupt ...)", of a file that reads well
    (its owner looked for damage in the manifest)."""
    pq.write_table(pa.table({"a": [1, 2], "input_uri": ["x", "y"]}),
                   two_runs / "run_id=night-1" / "part-9.parquet")
    out = tmp_path / "r.md"
    status, _, err = _run_main([two_runs, "--format", "md", "-o", out], capsys)
    assert status == 0, err
    line = next(line for line in out.read_text().splitlines() if "LEFT OUT" in line)
    assert "part-9.parquet" in line and "of another schema" in line


def test_a_store_that_cannot_be_asked_is_not_a_missing_folder(two_runs, capsys, monkeypatch):
    """Cloud review 38: with Cloud Storage down the report said "manifest folder not found"
    of a folder that is there (fsspec's isdir says False of what it cannot ask), and with S3
    down it ended in botocore's traceback: one line naming the cause, exit 2."""
    from fsspec.implementations.local import LocalFileSystem

    from pipeline.report import reading

    class Down(LocalFileSystem):
        def info(self, path, **kwargs):
            raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 9399)\nmore")

        def isdir(self, path):
            return False

    monkeypatch.setattr(reading, "_filesystem", lambda uri, options=None: (
        Down(), str(two_runs), False))
    status, stdout, err = _run_main([two_runs, "--json"], capsys)
    assert status == 2 and stdout == "" and err.count("\n") == 1, err
    assert err.startswith(f"python -m pipeline.report: error: manifest folder {two_runs} cannot be read: "
                          "ConnectionRefusedError: [Errno 111] Connect call failed"), err
    assert "not found" not in err


def test_run_folders_without_parts_are_said_not_reported_as_empty_runs(two_runs, tmp_path,
                                                                       capsys, caplog):
    """Manifest review 38: the dead-letter folder given for the manifest (run_id= folders of
    JSON lines) was reported as four runs of 0 images, "No errors.", exit 0; an emptied run
    folder as a run of no images. The first is one line naming the manifest folder, exit 2;
    the second named in --json and on the page (a run without rows has a schema-only part:
    a folder without one is a run stopped while writing its manifest, or its parts removed)."""
    letters = tmp_path / "out" / "_dead_letters"
    for run in ("r1", "r2"):
        (letters / f"run_id={run}").mkdir(parents=True)
        (letters / f"run_id={run}" / "failures-0123456789abcdef.jsonl").write_text("{}\n")
    status, stdout, err = _run_main([letters, "--json"], capsys)
    assert status == 2 and stdout == "" and err.count("\n") == 1
    assert err.startswith(f"python -m pipeline.report: error: no manifest parts (*.parquet) in the run folders of {letters} "
                          "(JSON files: this looks like the job's dead letters; the manifest "
                          "is the _manifest folder beside it)"), err
    (two_runs / "run_id=night-3").mkdir()
    with caplog.at_level("WARNING", logger="pipeline.report"):
        status, stdout, err = _run_main([two_runs, "--json"], capsys)
    data = json.loads(stdout)
    assert status == 0 and "night-3" in data["by_run"]
    assert data["runs_without_parts"] == ["night-3"]
    assert any(r.getMessage().startswith("run night-3 of ") and "has no manifest part" in
               r.getMessage() for r in caplog.records)
    out = tmp_path / "r.md"   # named on the page too (diff review 38: stderr alone)
    assert _run_main([two_runs, "-o", out], capsys)[0] == 0
    assert "NO PART for 1 run(s)" in out.read_text()
    # a folder of such runs alone: its runs shown with no rows and named, exit 0
    (tmp_path / "killed" / "run_id=k1").mkdir(parents=True)
    status, stdout, err = _run_main([tmp_path / "killed", "--json"], capsys)
    assert status == 0 and json.loads(stdout)["runs_without_parts"] == ["k1"]
    # a run stopped while Beam wrote its manifest, beside other runs: named too, and --run
    # says what became of it (second diff review 38)
    leftover = "_beam_temp-run_id=night-9-065b88040f7f43b7951830c2a56130b7"
    (two_runs / leftover).mkdir()
    status, stdout, err = _run_main([two_runs, "--json"], capsys)
    assert status == 0 and json.loads(stdout)["runs_without_parts"] == ["night-3", "night-9"]
    status, stdout, err = _run_main([two_runs, "--run", "night-9", "--json"], capsys)
    assert status == 2 and err.strip().endswith(
        f"night-9 stopped while writing its manifest ({leftover}: its rows were never "
        "written)"), err
    # the run folders' names are read below the manifest folder, not in its own path
    nested = tmp_path / "run_id=z" / "_manifest"
    (nested / "run_id=z").mkdir(parents=True)
    (nested / "run_id=y").mkdir()
    shutil.copy(next((two_runs / "run_id=night-1").glob("*.parquet")),
                nested / "run_id=y" / "part-0.parquet")
    status, stdout, err = _run_main([nested, "--json"], capsys)
    assert status == 0 and json.loads(stdout)["runs_without_parts"] == ["z"]
    # dead letters whose first run folder is empty: still the dead letters
    (letters / "run_id=a0").mkdir()
    assert _run_main([letters, "--json"], capsys)[0] == 2


def test_a_parquet_file_that_is_no_part_is_named_not_read(two_runs, caplog):
    """Manifest review 38: a user's filtered export saved beside a run's parts was read as
    rows (each row counted twice). Only the job's ``part-*.parquet`` files are parts; another
    Parquet file is named in a warning."""
    before = report.load_manifest(str(two_runs)).num_rows
    run = two_runs / "run_id=night-1"
    export = run / "failures-export.parquet"
    pq.write_table(pq.read_table(next(run.glob("part-*.parquet")), partitioning=None), export)
    with caplog.at_level("WARNING", logger="pipeline.report"):
        assert report.load_manifest(str(two_runs)).num_rows == before
    assert f"{export} is not a manifest part (the job writes part-*.parquet): not read" \
        in caplog.text
    # a file manager's copy of a run folder is no run (operator review 39: it doubled the
    # totals): its name holds what no run id does
    shutil.copytree(run, two_runs / "run_id=night-1 copy")
    caplog.clear()
    with caplog.at_level("WARNING", logger="pipeline.report"):
        table = report.load_manifest(str(two_runs))
    assert table.num_rows == before and json.loads(table.schema.metadata[b"semantic_compress.runs"]) == [
        "night-1", "night-2"]
    assert "run_id=night-1 copy is not a run folder the job writes" in caplog.text


def test_a_folder_holding_only_a_stopped_runs_leftover_says_so(tmp_path, capsys):
    """Manifest review 38: a manifest folder holding only what a run killed while writing its
    manifest leaves (``_beam_temp-run_id=<id>-<hex>/``) said "no runs ... (expected
    run_id=<id>/ folders)" alone."""
    folder = tmp_path / "_manifest"
    (folder / "_beam_temp-run_id=k1-065b88040f7f").mkdir(parents=True)
    (folder / "_beam_temp-run_id=k1-065b88040f7f" / "0_abc").write_bytes(b"")
    status, stdout, err = _run_main([folder, "--json"], capsys)
    assert status == 2 and stdout == "" and err.count("\n") == 1
    assert err.strip().endswith("; _beam_temp-run_id=k1-065b88040f7f is what a run stopped "
                                "while writing its manifest leaves: its rows were never "
                                "written (a --skip_existing rerun adopts its outputs)"), err


def test_a_report_that_cannot_be_written_is_one_line(two_runs, tmp_path, capsys):
    """Review 21: -o naming a folder printed a traceback (exit 1); now one line, exit 2."""
    (tmp_path / "folder.html").mkdir()
    status, stdout, err = _run_main([two_runs, "-o", str(tmp_path / "folder.html")], capsys)
    assert status == 2 and stdout == ""
    assert err.count("\n") == 1 and err.startswith("python -m pipeline.report: error: ") and "folder" in err
    assert "Traceback" not in err


def test_run_selection(two_runs, tmp_path, capsys):
    status, stdout, _ = _run_main([two_runs, "--run", "night-2", "--json"], capsys)
    assert status == 0
    data = json.loads(stdout)
    assert data["runs"] == ["night-2"] and list(data["by_run"]) == ["night-2"]
    _check_totals(data["totals"], independent_totals(two_runs, "night-2"))
    assert not (tmp_path / "report.html").exists()  # --json alone writes no file
    # given order is the comparison's order (first = baseline)
    status, stdout, _ = _run_main(["--run", "night-2", "--run", "night-1", two_runs, "--json"],
                                  capsys)  # (docs review 23: --run before the folder took it)
    assert json.loads(stdout)["runs"] == ["night-2", "night-1"]


def test_only_errors_and_empty_runs_still_report(tmp_path, capsys):
    root = tmp_path / "m"
    write_run(root, "bad", [error_row("bad", f"/x/{i}.jpg", "ImageDecodeError", "corrupt")
                            for i in range(4)], parts=1)
    write_run(root, "empty", [], parts=1)  # a run with nothing matched: schema-only part
    for fmt, name in (("html", "r.html"), ("md", "r.md")):
        status, _, err = _run_main([root, "-o", tmp_path / name, "--format", fmt, "--json"],
                                   capsys)
        assert status == 0, err
    data = json.loads(_run_main([root, "--json"], capsys)[1])
    # every run is in the report of every run, the empty one too (it was left out)
    assert data["runs"] == ["bad", "empty"] and list(data["by_run"]) == ["bad", "empty"]
    assert data["by_run"]["empty"]["images"] == 0
    assert data["totals"]["images"] == 4 and data["totals"]["ok"] == 0
    assert data["totals"]["error"] == 4 and data["totals"]["median_byte_ratio"] is None
    assert data["totals"]["bytes_in"] == 0 and data["totals"]["saved_fraction"] is None
    text = (tmp_path / "r.html").read_text()
    assert "No ok images." in text and "ImageDecodeError" in text and "no data" in text
    data = json.loads(_run_main([root, "--run", "empty", "--json"], capsys)[1])
    assert data["totals"]["images"] == 0 and data["runs"] == ["empty"]
    assert _run_main([root, "--run", "empty", "-o", tmp_path / "e.html"], capsys)[0] == 0


def test_the_output_folder_or_a_run_folder_for_the_manifest_says_where_it_is(two_runs,
                                                                            tmp_path, capsys):
    """``python -m pipeline.report out/`` (the job's --output, not its manifest) or
    ``.../run_id=x`` said only 'no runs in manifest folder'."""
    out = tmp_path / "out"
    shutil.copytree(two_runs, out / "_manifest")
    status, _, err = _run_main([out, "--json"], capsys)
    assert status == 2 and err.strip() == (
        f"python -m pipeline.report: error: no runs in manifest folder {out} (expected run_id=<id>/ folders); this looks "
        f"like the job's --output: its manifest is {out}/_manifest")
    status, _, err = _run_main([out / "_manifest" / "run_id=night-2", "--json"], capsys)
    assert status == 2 and err.strip().endswith(
        f"; run_id=night-2 is a run of the manifest folder {out / '_manifest'} "
        "(add --run night-2)")
    status, _, err = _run_main([tmp_path, "--json"], capsys)   # nothing to say: no hint
    assert status == 2 and err.strip().endswith("(expected run_id=<id>/ folders)")


def test_markdown_with_png_plots(two_runs, tmp_path, capsys):
    out = tmp_path / "sub" / "weekly.md"
    assert _run_main([two_runs, "-o", out], capsys)[0] == 0  # format from the suffix
    text = out.read_text()
    assert text.startswith("# Semantic Compress: manifest report")
    assert "## Runs compared" in text and "## Errors" in text
    # a | inside a cell is escaped, and so is a <: '<0>' (or '<img src=x onerror=...>' in a
    # file name) was raw HTML in the table, dropped or run by a Markdown viewer
    assert "bad file \\<" in text and "bad file <" not in text and "\\| pipe" in text
    from pipeline.report.markdown_page import _md_cell   # (a name is no link: review 27)
    assert _md_cell("[x](javascript:alert(1)).jpg *b* `c`\\") == \
        "\\[x\\](javascript:alert(1)).jpg \\*b\\* \\`c\\`\\\\"
    # an entity in a name is text: 'x&amp;y.jpg' showed as 'x&y.jpg' (manifest review 29)
    assert _md_cell("x&amp;y.jpg &lt;") == "x\\&amp;y.jpg \\&lt;"
    # a right-to-left override shows a name reversed ('photo<RLO>gpj.exe' as 'photoexe.jpg'):
    # written out in either page (operator review 39)
    from pipeline.report.html_page import _e
    assert _md_cell("photo\u202egpj.exe") == "photo\\\\u202egpj.exe"
    assert _e("photo\u202egpj.exe <b>") == "photo\\u202egpj.exe &lt;b&gt;"
    assert _e("nl\nline.jpg") == "nl\\nline.jpg" and _md_cell("nl\nline.jpg") == "nl\\\\nline.jpg"
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(links) == 4
    for link in links:
        assert link.startswith("weekly_files/")
        with Image.open(out.parent / link) as im:
            im.load()
            assert im.format == "PNG" and im.size == (560, 300)
            assert len(im.getcolors(1 << 16) or []) > 2


def test_a_run_asked_for_twice_is_one_run(tmp_path, two_runs, capsys):
    """--run night-1 --run night-1 said "2 run(s): night-1, night-1" (edge review 36)."""
    status, stdout, err = _run_main([two_runs, "--run", "night-1", "--run", "night-1", "--json",
                                     "-o", tmp_path / "r.md"], capsys)
    assert status == 0, err
    assert json.loads(stdout)["runs"] == ["night-1"]
    assert "· 1 run(s): night-1 ·" in (tmp_path / "r.md").read_text()


def test_bad_input_is_a_clear_error(tmp_path, two_runs, capsys):
    status, out, err = _run_main([tmp_path / "nope", "-o", tmp_path / "r.html"], capsys)
    assert status == 2 and out == ""
    assert err.strip() == (f"python -m pipeline.report: error: manifest folder not found: {tmp_path / 'nope'} "
                           f"({tmp_path} exists, nope not there; no manifest folder in it)")
    # (docs review 23: it said what exists only for an unknown run id) a folder misspelt
    os.makedirs(tmp_path / "job" / "_manifest" / "run_id=a")
    status, _, err = _run_main([tmp_path / "jobx" / "_manifest"], capsys)
    assert status == 2 and err.strip().endswith(
        f"({tmp_path} exists, jobx not there; manifest folders there: job/_manifest)")
    (tmp_path / "afile").write_text("x")   # (diff review 23: "afile not there")
    for given in (tmp_path / "afile", tmp_path / "afile" / "_manifest"):
        status, _, err = _run_main([given], capsys)
        assert status == 2 and err.strip().endswith(f"({tmp_path / 'afile'} is a file, not a "
                                                    "folder)")
    status, _, err = _run_main([two_runs, "--run", "night-9", "-o", tmp_path / "r.html"],
                               capsys)
    assert status == 2
    assert "unknown run id(s) 'night-9'" in err and "available runs: night-1, night-2" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r.html").exists()
    (tmp_path / "plain").mkdir()
    status, _, err = _run_main([tmp_path / "plain", "--json"], capsys)
    assert status == 2 and "no runs in manifest folder" in err


def test_command_line_and_file_uri(two_runs, tmp_path):
    """``python -m pipeline.report`` in a fresh process, manifest given as a file:// URI."""
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.report", f"file://{two_runs}", "--run", "night-1",
         "--json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    _check_totals(json.loads(proc.stdout)["totals"], independent_totals(two_runs, "night-1"))
    bad = subprocess.run([sys.executable, "-m", "pipeline.report", str(tmp_path / "none")],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and f"manifest folder not found: {tmp_path / 'none'} (" in \
        bad.stderr


def test_report_over_a_pipeline_written_manifest(tmp_path, input_dir, run_job, capsys):
    """The job's own manifest (5 photos, 4 bad files): report = pyarrow = DuckDB totals."""
    duckdb = pytest.importorskip("duckdb")
    out = tmp_path / "out"
    run_job(["--input", str(input_dir), "--output", str(out), "--method", "hybrid",
             "--energy", "gradient", "--scale", "0.5", "--direct_running_mode=in_memory",
             "--direct_num_workers=1", "--run_id", "r1"])
    manifest = out / "_manifest"
    status, stdout, _ = _run_main([manifest, "--json", "-o", tmp_path / "r.html"], capsys)
    assert status == 0
    got = json.loads(stdout)["totals"]
    want = independent_totals(manifest)
    assert (want["ok"], want["error"]) == (5, 4)
    _check_totals(got, want)
    con = duckdb.connect()
    n, ok, err, b_in, b_out, mean_ratio, med_ratio = con.execute(
        "select count(*), count(*) filter (status = 'ok'), count(*) filter (status = 'error'),"
        " sum(input_bytes) filter (status = 'ok'), sum(output_bytes) filter (status = 'ok'),"
        " avg(byte_ratio) filter (status = 'ok'), median(byte_ratio) filter (status = 'ok')"
        f" from read_parquet('{manifest}/*/*.parquet', hive_partitioning=true)").fetchone()
    assert (n, ok, err, b_in, b_out) == (got["images"], got["ok"], got["error"],
                                          got["bytes_in"], got["bytes_out"])
    assert mean_ratio == pytest.approx(got["mean_byte_ratio"])
    assert med_ratio == pytest.approx(got["median_byte_ratio"])


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.mark.skipif(_chromium() is None,
                    reason="headless Chromium not installed (Debian: apt-get install -y "
                           "chromium); .ci/run installs it")
def test_html_renders_in_headless_chromium(two_runs, tmp_path, capsys):
    page = tmp_path / "r.html"
    assert _run_main([two_runs, "-o", page], capsys)[0] == 0
    # every table scrolls in its own box: the runs compared, wider than a 1280 px window, made
    # the whole page scroll sideways and cut off their last columns (manifest review 29)
    text = page.read_text()
    assert ".scroll{overflow-x:auto" in text and text.count("<table>") >= 5
    assert text.count("<table>") == text.count('<div class="scroll"><table>')
    shot = tmp_path / "shot.png"
    proc = subprocess.run(
        [_chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--no-first-run", "--disable-extensions", f"--user-data-dir={tmp_path / 'profile'}",
         "--enable-logging=stderr", "--log-level=0", "--window-size=1280,2400",
         f"--screenshot={shot}", page.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], console
    with Image.open(shot) as im:
        im = im.convert("RGB")
        assert im.size == (1280, 2400)   # tall enough for the plots below the tables
        colors = im.getcolors(1 << 20)
        assert colors is not None and len(colors) > 50  # text, tables, bars: not blank
        white = max(colors)[0] / (im.size[0] * im.size[1])
        assert white < 0.95
        # the histogram bars' blue (#4c78a8) is on screen
        assert any(abs(r - 0x4C) + abs(g - 0x78) + abs(b - 0xA8) < 12 for _, (r, g, b) in colors)


def test_manifest_on_s3(two_runs, tmp_path, s3_bucket, s3_storage_options, capsys):
    """The same manifest uploaded to S3 (moto's server): same totals; the report can go there too."""
    import s3fs

    fs = s3fs.S3FileSystem(**s3_storage_options["s3"], skip_instance_cache=True)
    fs.put(str(two_runs), f"{s3_bucket}/archive/_manifest", recursive=True)
    uri = f"s3://{s3_bucket}/archive/_manifest"
    opts = json.dumps(s3_storage_options)
    status, stdout, err = _run_main([uri, "--storage_options", opts, "--json",
                                     "-o", f"s3://{s3_bucket}/reports/r.html"], capsys)
    assert status == 0, err
    data = json.loads(stdout)
    assert data["runs"] == ["night-1", "night-2"]
    _check_totals(data["totals"], independent_totals(two_runs))
    fs.invalidate_cache()
    assert _embedded(fs.cat(f"{s3_bucket}/reports/r.html").decode()) == data
    status, _, err = _run_main([uri + "_missing", "--storage_options", opts, "--json"], capsys)
    assert status == 2 and "manifest folder not found" in err


# --------------------------------------------------------------------------- no Beam
def test_the_report_command_imports_neither_beam_nor_torch(two_runs):
    """``python -m pipeline.report`` reads manifests without Beam (and its 'apitools not
    found' warning) or torch in the process (docs/pipeline.md: an analyst's machine needs the
    library and pyarrow, no runner, no model)."""
    code = ("import runpy, sys\n"
            f"sys.argv = ['pipeline.report', {str(two_runs)!r}, '--json']\n"
            "try:\n    runpy.run_module('pipeline.report', run_name='__main__')\n"
            "except SystemExit as exc:\n    assert exc.code in (0, None), exc.code\n"
            "print('IMPORTED' if any(m.split('.')[0] in ('apache_beam', 'torch') "
            "for m in sys.modules) else 'NEITHER')\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith("NEITHER") and "apitools" not in proc.stderr
    assert json.loads(proc.stdout.rsplit("NEITHER", 1)[0])["totals"]["images"] == 400


def test_a_reader_that_stops_reading_the_json_sees_no_traceback(two_runs):
    """``python -m pipeline.report ... --json | head -c1``: a BrokenPipeError's traceback and
    exit status 1 (compat review 27)."""
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.report", str(two_runs), "--json"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": ROOT})
    proc.stdout.close()                                 # the reader has gone
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_json_totals_lost_on_a_full_standard_output_are_an_error_of_the_report(two_runs):
    """``python -m pipeline.report ... --json > /dev/full``: the command line's say() (CLI
    review 47) said "semantic-compress: error: ... the images are still written" and the report
    exited 0, its totals lost (a traceback and 1 before; diff review 5, 47). Said in the
    report's name, exit status 2."""
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "pipeline.report", str(two_runs), "--json"],
                              cwd=ROOT, stdout=full, stderr=subprocess.PIPE, timeout=120,
                              env={**os.environ, "PYTHONPATH": ROOT})
    err = done.stderr.decode()
    assert done.returncode == 2, err
    assert "Traceback" not in err and "semantic-compress" not in err, err
    assert "python -m pipeline.report: error: cannot write the results to standard output" \
        in err, err


# --------------------------------------------------------------------------- run summary
def test_run_summary_from_the_manifest(two_runs):
    want = independent_totals(two_runs, "night-2")
    s = report.summarize_manifest(str(two_runs), "night-2")
    assert (s.ok, s.failed, s.skipped, s.bytes_in, s.bytes_out) == (
        want["ok"], want["error"], want["skipped"], want["bytes_in"], want["bytes_out"])
    assert s.mean_byte_ratio == pytest.approx(want["mean_byte_ratio"], rel=1e-12)
    assert s.mean_pixel_ratio == pytest.approx(want["mean_pixel_ratio"], rel=1e-12)
    rows = read_parts(os.path.join(two_runs, "run_id=night-2", "*.parquet"))
    errors = {}
    for r in rows:
        if r["status"] == "error":
            errors[r["error_type"]] = errors.get(r["error_type"], 0) + 1
    assert s.error_types == errors and sum(errors.values()) == s.failed
    assert s.manifest == f"{two_runs}/run_id=night-2"
    text = report.format_summary(s)
    assert text.splitlines()[0] == (f"run night-2: {len(rows)} images: {s.ok} ok, "
                                    f"{s.failed} failed, {s.skipped} skipped")
    assert "failures: ImageDecodeError x" in text


def test_summary_report_lists_errors_first(two_runs):
    text = report.summary_report(str(two_runs), "night-1", max_rows=5)
    lines = text.splitlines()
    listed = lines[lines.index(next(l for l in lines if l.strip().startswith("input"))) + 1:]
    assert [l.split()[1] for l in listed[:5]] == ["error"] * 5
    assert listed[-1].startswith("  ... and 225 more")
    assert "outputs in: /photos/night-1" in text
    # the two ratios on the bytes line (the pixel ratio was printed after the manifest's line)
    assert re.search(r"^  bytes in .* saved\); mean byte ratio \d\.\d{3}, pixel ratio \d\.\d{3}$",
                     text, re.M)


def test_the_run_summary_says_the_share_saved_and_names_dead_letters_only_of_failures():
    """The job's closing lines: the share of the input bytes saved (75% of 10 KB to 2.5 KB,
    not the 25% written), and the dead letters' folder only where some input failed (none
    are written otherwise: the folder named may not exist)."""
    from pipeline.report.summary import RunSummary

    clean = RunSummary(run_id="r", ok=2, failed=0, skipped=0, bytes_in=10_000, bytes_out=2_500,
                       dead_letters="/tmp/dead")
    text = report.format_summary(clean)
    assert "bytes in 10.0 KB -> out 2.5 KB (75% saved)" in text
    assert "dead letters" not in text
    failed = RunSummary(run_id="r", ok=2, failed=1, skipped=0, bytes_in=10_000,
                        bytes_out=2_500, dead_letters="/tmp/dead")
    assert "  dead letters: /tmp/dead" in report.format_summary(failed).splitlines()


def test_the_run_summary_from_the_manifest_counts_inputs_skipped_as_failed_before():
    """A --skip_existing night that skipped its damaged files: its closing lines say how many
    and why (the errors line alone reads "0 failed")."""
    from transforms.manifest import SKIP_FAILED_BEFORE

    rows = [skipped_row("n2", f"/in/{n}.jpg", None, 10, skip_reason=SKIP_FAILED_BEFORE,
                        error_type="ImageDecodeError", error_message="cut short")
            for n in ("cut", "notes")] + [skipped_row("n2", "/in/a.jpg", "/out/a.jpg", 10, 5,
                                                      "JPEG")]
    s = report.summarize_manifest("m", "n2",
                                  table=pa.Table.from_pylist(rows, schema=MANIFEST_SCHEMA))
    assert (s.failed, s.skipped, s.failed_before) == (0, 3, 2)
    assert "  skipped, failed before: 2 (an earlier run failed" in report.format_summary(s)


def test_the_runs_comparison_gives_each_difference_the_sign_of_the_later_run_less_the_first():
    """A night failing 3 of 10 inputs (1 an error, 2 skipped as failed before) after one that
    failed 1 of 10: its failing share is 20 points up, as its errors are 1 up."""
    from pipeline.report.cells import RUN_HEAD, delta_cells

    def run(run_id, error, failed_before, bytes_out):
        return {"run_id": run_id, "images": 10, "ok": 10 - error - failed_before,
                "error": error, "skipped": failed_before,
                "skipped_failed_before": failed_before, "bytes_in": 10_000,
                "bytes_out": bytes_out, "saved_fraction": 1 - bytes_out / 10_000,
                "mean_byte_ratio": None, "median_byte_ratio": None, "mean_pixel_ratio": None,
                "median_quality_score": None, "median_total_ms": None}

    cells = dict(zip(RUN_HEAD, delta_cells(run("n2", 1, 2, 3_000), run("n1", 1, 0, 2_000))))
    assert cells["run"] == "Δ n2 vs n1"
    assert (cells["error"], cells["skipped"], cells["bytes out"], cells["saved"],
            cells["failing"]) == ("+0", "+2", "+1.0 KB", "-10.0 pt", "+20.0 pt")


def test_the_run_screen_lists_each_status_by_input_name(tmp_path):
    """The rows of a run, written in the order its workers finished, are listed errors first
    and each status by input name."""
    names = ["/p/c.jpg", "/p/a.jpg", "/p/b.jpg"]
    rows = [ok_row("r", uri, uri + ".out", _result(i), "ab" * 32, method="hybrid",
                   energy="deep", model="lite0", params="{}") for i, uri in enumerate(names)]
    rows.insert(1, error_row("r", "/p/z.jpg", "ImageDecodeError", "damaged"))
    write_run(tmp_path / "manifest", "r", rows, parts=1)
    lines = report.summary_report(str(tmp_path / "manifest"), "r").splitlines()
    listed = lines[lines.index(next(l for l in lines if l.strip().startswith("input"))) + 1:]
    assert [line.split()[0] for line in listed] == ["z.jpg", "a.jpg", "b.jpg", "c.jpg"]


def test_the_run_screen_keeps_its_columns_with_wide_characters(tmp_path):
    """Names in Japanese, Chinese or with emoji take two terminal columns a character: padded
    by characters, they pushed the status, size and bytes of their lines out of line with the
    others (review 27). Padded and shortened by terminal columns."""
    from pipeline.report.summary import _columns, _shown_names

    assert _columns("北京の写真.jpg") == 14 and _columns("cafe\u0301.jpg") == 8
    assert _columns("📷.jpg") == 6
    long = "/p/旅行/二〇二六年/北京の夜景と天安門広場の写真.jpg"
    shown = _shown_names([long, "/p/x.jpg"])
    assert shown[0].startswith("...") and shown[0].endswith("写真.jpg")
    assert 26 <= _columns(shown[0]) <= 28
    names = ["/photos/n/北京の写真.jpg", "/photos/n/📷 holiday.jpg", "/photos/n/plain.jpg",
             long.replace("/p/", "/photos/n/"), "/photos/n/café.jpg"]
    rows = [ok_row("wide", uri, uri + ".out", _result(i), "ab" * 32, method="hybrid",
                   energy="deep", model="lite0", params="{}") for i, uri in enumerate(names)]
    write_run(tmp_path / "manifest", "wide", rows, parts=1)
    text = report.summary_report(str(tmp_path / "manifest"), "wide")
    lines = text.splitlines()
    listed = lines[lines.index(next(l for l in lines if l.strip().startswith("input"))) + 1:]
    assert len(listed) == 5
    for line in listed:   # "ok" starts at terminal column 2 + 28 + 1 on every line
        head = line[:line.index(" ok ") + 1]
        assert _columns(head) == 31, (line, _columns(head))


def test_the_run_screen_tells_inputs_of_two_folders_apart():
    """The run's screen named each input by its file name alone: two ``x.jpg`` of two folders
    read alike (analyst review 25). Names are below the inputs' deepest common folder."""
    from pipeline.report.summary import _shown_names

    assert _shown_names(["/p/trips/x.jpg", "/p/days/x.jpg", "/p/trips/a/b.png"]) == \
        ["trips/x.jpg", "days/x.jpg", "trips/a/b.png"]
    assert _shown_names(["/p/b/x.jpg", "/p/bc/y.jpg"]) == ["b/x.jpg", "bc/y.jpg"]
    assert _shown_names(["s3://bucket/2026/x.jpg"]) == ["x.jpg"]
    assert _shown_names(["/p/" + "d" * 40 + "/x.jpg", "/p/y.jpg"]) == \
        ["..." + ("d" * 40 + "/x.jpg")[-25:], "y.jpg"]
    assert _shown_names([]) == []
    # a name's control characters escaped (it recoloured and erased the screen: review 27)
    assert _shown_names(["/p/red\x1b[31m.jpg", "/p/cr\rok.jpg"]) == \
        ["red\\x1b[31m.jpg", "cr\\rok.jpg"]


@pytest.mark.parametrize("name, render", [("r.html", "render_html"), ("r.md", "render_markdown")])
def test_a_report_that_cannot_be_rendered_leaves_the_previous_one(two_runs, tmp_path, capsys,
                                                                  monkeypatch, name, render):
    """The file was opened (emptied) before the page was rendered: a rendering error left an
    empty report where the previous one was."""
    from pipeline.report import cli

    out = tmp_path / name
    assert _run_main([two_runs, "-o", out], capsys)[0] == 0
    before = out.read_bytes()

    def broken(*args, **kwargs):
        raise RuntimeError("cannot render")

    monkeypatch.setattr(cli, render, broken)
    with pytest.raises(RuntimeError, match="cannot render"):
        _run_main([two_runs, "-o", out], capsys)
    assert out.read_bytes() == before and len(before) > 1000
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_several_manifest_folders_in_one_report(tmp_path, capsys):
    """This week's --output and last week's in one report: runs of one id in both stay apart,
    named by folder; --run picks a run in every folder that has it; a wrong folder is one
    line, exit 2."""
    week1, week2 = tmp_path / "week1" / "_manifest", tmp_path / "week2" / "_manifest"
    write_run(week1, "nightly", _rows("nightly", 30))
    write_run(week1, "extra", _rows("extra", 12))
    write_run(week2, "nightly", _rows("nightly", 50, offset=7))
    status, stdout, err = _run_main([week1, week2, "--json", "-o", tmp_path / "r.html"], capsys)
    assert status == 0, err
    data = json.loads(stdout)
    assert data["folders"] == {"week1": str(week1), "week2": str(week2)}
    assert set(data["by_run"]) == {"week1/nightly", "week1/extra", "week2/nightly"}
    _check_totals(data["by_run"]["week1/nightly"], independent_totals(week1, "nightly"))
    _check_totals(data["by_run"]["week2/nightly"], independent_totals(week2, "nightly"))
    assert data["totals"]["images"] == 30 + 12 + 50
    page = (tmp_path / "r.html").read_text()
    assert "week2/nightly" in page and str(week2) in page

    status, stdout, _ = _run_main([week1, week2, "--run", "nightly", "--json"], capsys)
    assert status == 0
    assert set(json.loads(stdout)["by_run"]) == {"week1/nightly", "week2/nightly"}
    # one folder's run, by the name the report gives it (refused as unknown: edge review 36)
    status, stdout, err = _run_main([week1, week2, "--run", "week2/nightly", "--run", "extra",
                                     "--json"], capsys)
    assert status == 0, err
    data = json.loads(stdout)
    assert set(data["by_run"]) == {"week2/nightly", "week1/extra"}
    assert data["totals"]["images"] == 50 + 12

    status, _, err = _run_main([week1, tmp_path / "nowhere", "--json"], capsys)
    assert status == 2 and err.startswith(f"python -m pipeline.report: error: manifest folder not found: "
                                          f"{tmp_path / 'nowhere'} ({tmp_path} exists")
    status, _, err = _run_main([week1, week2, "--run", "weekly", "--json"], capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1
    assert "unknown run id(s) 'weekly'" in err and "week2" in err


def test_a_rerun_counts_its_outputs_once_in_what_is_stored_now(tmp_path, input_dir, run_job,
                                                               capsys):
    """A rerun with the same settings and no --skip_existing rewrites its outputs: the totals
    count them once per run (as before), 'stored now' once, equal to the files on disk."""
    out = tmp_path / "out"
    base = ["--input", str(input_dir / "*.jpg"), "--output", str(out), "--method", "hybrid",
            "--energy", "gradient", "--scale", "0.5", "--direct_running_mode=in_memory",
            "--direct_num_workers=1"]
    run_job([*base, "--run_id", "first"])
    run_job([*base, "--run_id", "again"])
    outputs = [f for f in glob.glob(str(out / "*")) if os.path.isfile(f)]
    on_disk = sum(os.path.getsize(f) for f in outputs)
    status, stdout, _ = _run_main([out / "_manifest", "--json", "-o", tmp_path / "r.md"], capsys)
    assert status == 0
    data = json.loads(stdout)
    first, again = data["by_run"]["first"], data["by_run"]["again"]
    assert data["totals"]["bytes_out"] == first["bytes_out"] + again["bytes_out"] == 2 * on_disk
    stored = data["stored_now"]
    assert (stored["outputs"], stored["bytes_out"]) == (len(outputs), on_disk) == (2, on_disk)
    assert stored["bytes_in"] == sum(os.path.getsize(f) for f in
                                     glob.glob(str(input_dir / "*.jpg")) if os.path.getsize(f)
                                     and not os.path.basename(f).startswith(("corrupt", "trunc")))
    text = (tmp_path / "r.md").read_text()
    assert f"| bytes out stored now | {report.cells.fmt_bytes(on_disk)} ({on_disk:,} B) |" in text
    # a run stopped before its manifest: its outputs are adopted by the next --skip_existing
    # run (stores review 23: they were left out of what is stored now, 36 of 40)
    import shutil

    for run_id in ("first", "again"):
        shutil.rmtree(out / "_manifest" / f"run_id={run_id}")
    run_job([*base, "--run_id", "resumed", "--skip_existing"])
    status, stdout, _ = _run_main([out / "_manifest", "--json"], capsys)
    stored = json.loads(stdout)["stored_now"]
    assert (stored["outputs"], stored["bytes_out"]) == (2, on_disk)
    # a --skip_existing night's report alone: its skipped rows name the outputs it found
    # (report review 42: it said 0 outputs stored)
    run_job([*base, "--run_id", "quiet", "--skip_existing"])
    status, stdout, _ = _run_main([out / "_manifest", "--json", "--run", "quiet"], capsys)
    data = json.loads(stdout)
    assert data["by_run"]["quiet"]["ok"] == 0
    assert (data["stored_now"]["outputs"], data["stored_now"]["bytes_out"]) == (2, on_disk)
    # outputs of other settings beside them: each input still counts once (compat review 27:
    # counted once per output, the bytes saved exceeded the inputs' size)
    inputs_bytes = stored["bytes_in"]
    run_job([*("0.3" if arg == "0.5" else arg for arg in base), "--run_id", "smaller"])
    outputs = [f for f in glob.glob(str(out / "*")) if os.path.isfile(f)]
    status, stdout, _ = _run_main([out / "_manifest", "--json"], capsys)
    stored = json.loads(stdout)["stored_now"]
    assert (stored["outputs"], stored["inputs"], stored["bytes_in"]) == (4, 2, inputs_bytes)
    assert stored["bytes_out"] == sum(os.path.getsize(f) for f in outputs)
    assert stored["bytes_saved"] == inputs_bytes - stored["bytes_out"] < inputs_bytes


def test_settings_that_change_what_is_written_are_apart(tmp_path, capsys):
    """JPEG at target 70, WebP at target 80 and a byte budget with one method, energy and
    model are three settings (their scores are not taken together), each named by what
    differs; bytes saved per output format equal the sums in Python."""
    def params(**kw):
        base = {"method": "hybrid", "format": "auto", "quality": "auto", "target_quality": 70.0,
                "target_bytes": None}
        return json.dumps({**base, **kw}, sort_keys=True, separators=(",", ":"))

    settings = [(params(), "JPEG", 71.0), (params(format="webp", target_quality=80.0), "WEBP",
                                           81.0),
                (params(quality=None, target_bytes=20000), "JPEG", 40.0)]
    rows = []
    for k in range(30):
        p, fmt, score = settings[k % 3]
        res = _result(k)
        res.format, res.operations = fmt, {"quality_score": score + k % 2}
        rows.append(ok_row("r", f"/p/{k}.png", f"/o/{k}.x", res, "ab" * 32, method="hybrid",
                           energy="deep", model="efficientnet_lite0", params=p))
    rows.append(error_row("r", "/p/bad.png", "ImageDecodeError", "bad", method="hybrid",
                          energy="deep", model="efficientnet_lite0", params=settings[0][0]))
    root = tmp_path / "m"
    write_run(root, "r", rows)
    rep = report.build_report(report.load_manifest(str(root)))
    by = {g["settings"]: g for g in rep.by_config}
    assert set(by) == {"format=auto, quality=auto, target_bytes=none, target_quality=70",
                       "format=webp, quality=auto, target_bytes=none, target_quality=80",
                       "format=auto, quality=none, target_bytes=20000, target_quality=70"}
    for (p, _, score), g in zip(settings, sorted(rep.by_config,
                                                 key=lambda g: [s[0] for s in settings]
                                                 .index(g["params"]))):
        assert g["params"] == p and g["ok"] == 10
        assert g["median_quality_score"] == pytest.approx(score + 0.5)
    assert by["format=auto, quality=auto, target_bytes=none, target_quality=70"]["error"] == 1
    formats = {f["output_format"]: f for f in rep.by_format}
    for fmt in ("JPEG", "WEBP"):
        mine = [r for r in rows if r["status"] == "ok" and r["output_format"] == fmt]
        saved = sum(r["input_bytes"] - r["output_bytes"] for r in mine)
        assert (formats[fmt]["ok"], formats[fmt]["bytes_saved"]) == (len(mine), saved)
    data = json.loads(_run_main([root, "--json", "-o", tmp_path / "r.md"], capsys)[1])
    assert data["by_format"]["WEBP"]["bytes_saved"] == formats["WEBP"]["bytes_saved"]
    text = (tmp_path / "r.md").read_text()
    assert "| format=webp, quality=auto, target_bytes=none, target_quality=80 | hybrid |" in text
    assert "## By output format" in text and '{"format"' not in text


def test_settings_that_write_the_same_outputs_are_one(tmp_path):
    """Two runs apart only by --max_pixels (left out of the outputs' names: they wrote the same
    files) were listed as two settings; a key one setting lacks read "none" (a JPEG's
    photo_format), where its absence says the default (compat review 27)."""
    def params(**kw):
        return json.dumps({"method": "hybrid", "format": "auto", "photo_format": "jpeg",
                           "max_pixels": None, **kw}, sort_keys=True, separators=(",", ":"))

    jpeg = json.dumps({"method": "hybrid", "format": "jpeg", "max_pixels": None},
                      sort_keys=True, separators=(",", ":"))
    rows = [ok_row("r", f"/p/{k}.png", f"/o/{k}.x", _result(k), "ab" * 32, method="hybrid",
                   energy="deep", model="efficientnet_lite0",
                   params=[params(), params(max_pixels=50_000_000), jpeg][k % 3])
            for k in range(9)]
    root = tmp_path / "m"
    write_run(root, "r", rows)
    rep = report.build_report(report.load_manifest(str(root)))
    assert {g["settings"]: g["ok"] for g in rep.by_config} == {
        "format=auto, photo_format=jpeg": 6, "format=jpeg": 3}


def test_the_energy_scatter_says_which_rows_have_no_map(tmp_path):
    """Since session 29 the default job (scale 0.5) computes no importance map, so its rows
    have no energy mean: the scatter said only "no data"; it says why."""
    def result(k, mapped):
        res = _result(k)
        return res if mapped else SimpleNamespace(**{**vars(res), "energy_stats": {}})

    rows = [ok_row("r", f"/p/{k}.png", f"/o/{k}.x", result(k, k < 3), "ab" * 32,
                   method="hybrid", energy="deep", model="efficientnet_lite0",
                   params='{"scale":0.5}') for k in range(10)]
    write_run(tmp_path / "m", "r", rows)
    rep = report.build_report(report.load_manifest(str(tmp_path / "m")))
    scatter = rep.plots["energy_vs_ratio"]
    assert len(scatter.xs) == 3
    assert scatter.note == "3 of 10 ok images have an importance map"
    # README review 39: the note ran off the plot's edges (125 characters on one line of an
    # empty plot; over the axis label beside points): one short line over points, the
    # explanation on lines of its own where no image has a map
    assert len(scatter.note) <= report.plots.NOTE_CHARS
    write_run(tmp_path / "none", "r", rows[3:])
    empty = report.build_report(report.load_manifest(str(tmp_path / "none")))
    empty = empty.plots["energy_vs_ratio"]
    assert not empty.xs and empty.note.startswith(
        "none of the 7 ok images has an importance map: they kept their aspect (scaled whole)")
    # no ok image at all: no data, not "none of the 0 ok images" (diff review 39)
    write_run(tmp_path / "failed", "r", [error_row("r", "/p/x.png", "ImageDecodeError", "bad")])
    failed = report.build_report(report.load_manifest(str(tmp_path / "failed")))
    assert failed.plots["energy_vs_ratio"].note == ""
    for plot in (scatter, empty):
        buf = io.BytesIO()
        report.plots.to_png(plot, buf)
        pixels = np.asarray(Image.open(buf).convert("L"))
        assert pixels[:, :3].min() == 255 and pixels[:, -3:].min() == 255  # nothing cut off


def test_an_error_example_names_its_input_once(tmp_path, capsys):
    """The job's messages start with the input's path; the Errors table printed it twice
    ("…/corrupt.png: …/corrupt.png: cannot decode …")."""
    uri = "/photos/in/corrupt.png"
    write_run(tmp_path / "m", "r", [error_row("r", uri, "ImageDecodeError",
                                              f"{uri}: cannot decode image (truncated)")])
    for name in ("r.md", "r.html"):
        assert _run_main([tmp_path / "m", "-o", tmp_path / name], capsys)[0] == 0
        text = (tmp_path / name).read_text()
        assert text.count(uri) == 1 and "cannot decode image (truncated)" in text, name


def test_scores_below_zero_are_reported_as_they_are(tmp_path, capsys):
    """SSIMULACRA2 has no lower bound: a byte budget of 400 bytes scored -190 and -485. The
    totals, the histogram and the lowest scores show them, and the definitions say so."""
    rows = []
    for k, score in enumerate((-485.586, -190.112, 55.0)):
        res = _result(k)
        res.operations = {"quality_score": score}
        rows.append(ok_row("b", f"/p/{k}.png", f"/o/{k}.x", res, "ab" * 32, method="hybrid",
                           params='{"target_bytes":400}'))
    write_run(tmp_path / "m", "b", rows)
    data = json.loads(_run_main([tmp_path / "m", "--json", "-o", tmp_path / "r.md"], capsys)[1])
    assert data["totals"]["lowest_quality_score"] == -485.586
    assert data["totals"]["median_quality_score"] == -190.112
    text = (tmp_path / "r.md").read_text()
    assert "| -485.6 |" in text and "score_quality" not in text
    assert "heavy losses score below 0" in text
    # the table per setting shows the median, as the runs do: a mean (-206.9) is dominated
    # by the lowest score (review s22 #6)
    assert "| median score | lowest score |" in text and "mean score" not in text
    [setting] = [line for line in text.splitlines() if line.startswith("| target_bytes=400 |")]
    assert "| -190.1 | -485.6 |" in setting
    assert (tmp_path / "r_files" / "quality_score.png").stat().st_size > 0


def test_sizes_are_printed_in_decimal_units(two_runs):
    """1 KB = 1000 B, as storage consoles and ``du --si`` count (they were 1024-based sizes
    labelled KB and MB: 1,500,000 B read "1.4 MB")."""
    fmt = report.cells.fmt_bytes
    assert [fmt(n) for n in (None, 0, 999, 1000, 10_240, 999_949, 999_950, 1_500_000,
                             2_500_000_000)] == ["", "0 B", "999 B", "1.0 KB", "10.2 KB",
                                                 "999.9 KB", "1.0 MB", "1.5 MB", "2.5 GB"]
    s = report.summarize_manifest(str(two_runs), "night-2")
    assert (f"bytes in {s.bytes_in / 1e6:.1f} MB -> out {s.bytes_out / 1e3:.1f} KB"
            in report.format_summary(s))


def test_the_runs_compared_count_inputs_skipped_as_failed_before_as_failing():
    """Review 2 of session 24: a night whose damaged files were skipped as failed before read
    as an error rate 100 points down; they still fail."""
    from pipeline.report.cells import RUN_HEAD, delta_cells, run_cells
    from pipeline.report.stats import totals
    from transforms.manifest import SKIP_FAILED_BEFORE

    first = [error_row("n1", "/in/cut.jpg", "ImageDecodeError", "/in/cut.jpg: cut short"),
             skipped_row("n1", "/in/a.jpg", "/out/a.jpg", 10, 5, "JPEG")]
    quiet = [skipped_row("n2", "/in/cut.jpg", None, 10, skip_reason=SKIP_FAILED_BEFORE,
                         error_type="ImageDecodeError", error_message="cut short"),
             skipped_row("n2", "/in/a.jpg", "/out/a.jpg", 10, 5, "JPEG")]

    def run(rows, run_id):
        return {**totals(pa.Table.from_pylist(rows, schema=MANIFEST_SCHEMA)), "run_id": run_id}

    cells = delta_cells(run(quiet, "n2"), run(first, "n1"))
    # under its own header (compat review 27: it was written under "first processed")
    assert len(cells) == len(RUN_HEAD) == len(run_cells(run(first, "n1")))
    assert cells[RUN_HEAD.index("failing")] == "+0.0 pt" and cells[-1] == "", cells
    assert run_cells(run(quiet, "n2"))[RUN_HEAD.index("failing")] == "50.0%"


def test_an_error_type_s_examples_are_distinct_inputs():
    """Report review 42: one damaged file that failed in three runs was its type's three
    examples, the other two damaged files not named."""
    from pipeline.report import build_report

    rows = [error_row(run, "/in/cut.jpg", "ImageDecodeError", "/in/cut.jpg: cut short")
            for run in ("r1", "r2", "r3")]
    rows += [error_row("r3", f"/in/{n}.jpg", "ImageDecodeError", "damaged")
             for n in ("b", "c")]
    rep = build_report(pa.Table.from_pylist(rows, schema=MANIFEST_SCHEMA), "m")
    (errors,) = rep.errors
    assert errors["count"] == 5
    assert [x["input_uri"] for x in errors["examples"]] == ["/in/cut.jpg", "/in/b.jpg",
                                                            "/in/c.jpg"]


def test_the_report_orders_error_types_settings_and_formats_largest_first():
    """The error types most frequent first (the first MAX_ERROR_TYPES are the ones shown), the
    settings with most images first and the formats that saved most bytes first; names (in
    alphabetical order) tie-break only."""
    from pipeline.report import build_report

    rows = [error_row("r", f"/in/{t}{k}.jpg", t, "damaged", method="hybrid", energy="deep",
                      model="lite0", params='{"scale":0.5}')
            for t, n in (("AError", 1), ("MError", 2), ("ZError", 3)) for k in range(n)]
    for k in range(6):   # 4 of scale 0.25 as WEBP (saving most), 2 of scale 0.5 as JPEG
        fmt, params = ("WEBP", '{"scale":0.25}') if k < 4 else ("JPEG", '{"scale":0.5}')
        result = _result(k)
        result.format = fmt
        result.compressed_bytes = 1_000 if fmt == "WEBP" else 9_000
        rows.append(ok_row("r", f"/in/ok{k}.jpg", f"/out/ok{k}", result, "ab" * 32,
                           method="hybrid", energy="deep", model="lite0", params=params))
    rep = build_report(pa.Table.from_pylist(rows, schema=MANIFEST_SCHEMA), "m")
    assert [e["error_type"] for e in rep.errors] == ["ZError", "MError", "AError"]
    assert [e["count"] for e in rep.errors] == [3, 2, 1]
    assert [(r["settings"], r["images"]) for r in rep.by_config] == [("scale=0.5", 8),
                                                                      ("scale=0.25", 4)]
    assert [r["output_format"] for r in rep.by_format] == ["WEBP", "JPEG"]


def test_inputs_skipped_as_failed_before_are_named_under_the_errors(tmp_path):
    """Manifest review 38: a --skip_existing night that skipped its damaged files as failed
    before said "No errors." on the page; its rows carry the error, and the page names the
    files still broken (as the job's log does)."""
    from pipeline.report import build_report, render_html, render_markdown
    from transforms.manifest import SKIP_FAILED_BEFORE

    quiet = [skipped_row("n2", "/in/cut.jpg", None, 10, skip_reason=SKIP_FAILED_BEFORE,
                         error_type="ImageDecodeError", error_message="/in/cut.jpg: cut short"),
             skipped_row("n2", "/in/notes.jpg", None, 10, skip_reason=SKIP_FAILED_BEFORE,
                         error_type="ImageDecodeError", error_message="not an image"),
             skipped_row("n2", "/in/a.jpg", "/out/a.jpg", 10, 5, "JPEG")]
    rep = build_report(pa.Table.from_pylist(quiet, schema=MANIFEST_SCHEMA), "m")
    assert rep.errors == [] and [(e["error_type"], e["count"]) for e in rep.failed_before] == [
        ("ImageDecodeError", 2)]
    assert [x["input_uri"] for x in rep.failed_before[0]["examples"]] == ["/in/cut.jpg",
                                                                          "/in/notes.jpg"]
    page = render_html(rep)
    assert "No errors in these runs." in page and "No errors.</p>" not in page
    assert "Skipped as failed before" in page and "/in/cut.jpg" in page and "cut short" in page
    text, _ = render_markdown(rep, str(tmp_path))
    assert "### Skipped as failed before" in text and "/in/notes.jpg: not an image" in text
    # a run with errors and nothing failed before: as before
    first = [error_row("n1", "/in/cut.jpg", "ImageDecodeError", "/in/cut.jpg: cut short")]
    rep = build_report(pa.Table.from_pylist(first, schema=MANIFEST_SCHEMA), "m")
    assert rep.failed_before == [] and "Skipped as failed before" not in render_html(rep)
    clean = build_report(pa.Table.from_pylist(quiet[2:], schema=MANIFEST_SCHEMA), "m")
    assert "<p>No errors.</p>" in render_html(clean)


def test_outputs_adopted_from_a_stopped_run_are_counted_in_the_summary_and_report():
    """Manifest review 38: a rerun that adopted 16 outputs of a killed run said so in the job's
    log, but summarize_manifest (./run_local.sh's summary) never filled the count and the
    report showed it nowhere."""
    from pipeline.report import build_report, render_html
    from transforms.manifest import SKIP_UNRECORDED

    rows = [skipped_row("r2", f"/in/{i}.jpg", f"/out/{i}.jpg", 10, 5, "JPEG",
                        skip_reason=SKIP_UNRECORDED) for i in range(3)]
    rows.append(skipped_row("r2", "/in/x.jpg", "/out/x.jpg", 10, 5, "JPEG"))
    table = pa.Table.from_pylist(rows, schema=MANIFEST_SCHEMA)
    s = report.summarize_manifest("/m", "r2", table=table)
    assert (s.skipped, s.unrecorded) == (4, 3)
    assert "skipped against unrecorded outputs: 3" in report.format_summary(s)
    rep = build_report(table, "m")
    assert rep.totals["skipped_unrecorded"] == 3
    assert "skipped against unrecorded outputs (adopted" in render_html(rep)


def test_a_histograms_text_alternative_gives_the_values_range_not_the_axis():
    """New user's review 30: every retained energy ratio of a default run is 1.0, and the
    plot's text said "from 0.5 to 1.5" (its axis, padded around equal values)."""
    from pipeline.report import plots

    same = plots.histogram([1.0, 1.0, 1.0], "Retained energy ratio", "retained energy ratio")
    assert plots.summary(same) == ("Retained energy ratio: 3 images, retained energy ratio 1 "
                                   "in every one")
    spread = plots.summary(plots.histogram([0.2, 0.3, 0.25, 0.9], "Byte ratio", "byte ratio"))
    # one image a bar: no "most (1) between ..." (README review 39)
    assert spread == "Byte ratio: 4 images, byte ratio from 0.2 to 0.9"
    two = plots.summary(plots.histogram([0.2, 0.2, 0.3, 0.9], "Byte ratio", "byte ratio"))
    assert two.startswith("Byte ratio: 4 images, byte ratio from 0.2 to 0.9; most (2) between")
    # its axis of images counts in whole images (it had ticks 0.25, 0.5, 0.75)
    svg = plots.to_svg(plots.histogram([0.2, 0.3, 0.25, 0.9], "Byte ratio", "byte ratio"))
    assert ">1</text>" in svg and ">0.25</text>" not in svg and ">0.5</text>" not in svg
    # values equal as written, and one image (diff review 30: "from 1 to 1", "1 images")
    assert plots.summary(plots.histogram([1.0, 1.000001], "R", "ratio")) == (
        "R: 2 images, ratio 1 in every one")
    assert plots.summary(plots.histogram([0.5], "R", "ratio")) == "R: 1 image, ratio 0.5"


def test_stored_now_counts_an_input_once_however_its_rows_spelt_it():
    """Releases before 2026-12-05 recorded an input given as file:///p/x.jpg under that
    spelling; later ones as /p/x.jpg. After an upgrade both name one input (upgrade review
    49: 68 inputs and twice the bytes for 34 outputs)."""
    from pipeline.report.stats import stored_now

    t = pa.table({"status": ["ok", "skipped", "ok", "skipped"],
                  "skip_reason": [None, None, None, None],
                  "output_uri": ["/o/x.jpg.h.jpg"] * 2 + ["s3://b/o/y.jpg.h.jpg"] * 2,
                  "input_uri": ["file:///p/x.jpg", "/p/x.jpg", "s3a://b/y.jpg", "s3://b/y.jpg"],
                  "processed_at": pa.array([1, 2, 3, 4], pa.timestamp("us", "UTC")),
                  "input_bytes": [1000, 1000, 500, 500], "output_bytes": [100, 100, 50, 50]})
    got = stored_now(t)
    assert (got["outputs"], got["inputs"], got["bytes_in"], got["bytes_out"]) == (2, 2, 1500, 150)


def test_stored_now_spells_inputs_as_the_job_does():
    """The report once re-spelt the job's input key with its own regular expressions and
    missed what the job normalises (``/p/./x.jpg``, ``local://``, ``GCS://``): one input
    counted twice. It now asks the job's own function."""
    from pipeline.report.stats import stored_now

    inputs = ["/p/./x.jpg", "local:///p/x.jpg", "/p/x.jpg", "GCS://b/y.jpg", "gs://b/y.jpg",
              "s3://b/z.jpg"]
    t = pa.table({"status": ["ok", "skipped", "ok", "ok", "skipped", "ok"],
                  "skip_reason": [None] * 6,
                  "output_uri": ["/o/x.jpg.h.jpg"] * 3 + ["gs://b/o/y.jpg.h.jpg"] * 2
                  + ["s3://b/o/z.jpg.h.jpg"],
                  "input_uri": inputs,
                  "processed_at": pa.array(range(6), pa.timestamp("us", "UTC")),
                  "input_bytes": [1000, 1000, 1000, 500, 500, 70],
                  "output_bytes": [100, 100, 100, 50, 50, 7]})
    got = stored_now(t)
    assert (got["outputs"], got["inputs"], got["bytes_in"], got["bytes_out"]) == (3, 3, 1570, 157)
