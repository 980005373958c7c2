"""The report over several manifest folders (pipeline.report.folders): one folder however
spelled is read once, labels are short and distinct, folders without the run asked for are
named as not read."""
import datetime as dt
import json
import os

import pyarrow.parquet as pq
import pytest

from pipeline import report
from pipeline.report.folders import distinct_folders, folder_labels, load_manifests
from transforms.manifest import empty_row, part_table

T0 = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)


def _write(root, run, n, inb=1000, outb=400):
    rows = []
    for i in range(n):
        row = empty_row(run, f"/in/{i}.jpg", "ok", output_uri=f"/out/{run}/{i}.jpg",
                        input_bytes=inb, output_bytes=outb, byte_ratio=outb / inb,
                        method="hybrid", energy="gradient", params='{"scale":0.5}',
                        output_format="JPEG")
        row["processed_at"] = T0 + dt.timedelta(seconds=i)
        rows.append(row)
    folder = os.path.join(root, f"run_id={run}")
    os.makedirs(folder, exist_ok=True)
    pq.write_table(part_table(rows), os.path.join(folder, "part-00000-of-00001.parquet"))


def _json(argv, capsys):
    assert report.main([str(a) for a in argv] + ["--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("spelling", ["out/_manifest/", "./out/_manifest", "out//_manifest",
                                      "ABS", "file://ABS", "out/../out/_manifest"])
def test_one_folder_in_two_spellings_is_read_once(tmp_path, monkeypatch, capsys, spelling):
    """Review s22 #1: ``out/_manifest out/_manifest/`` read the folder twice: every figure
    doubled (images 6 for 3 rows)."""
    monkeypatch.chdir(tmp_path)
    _write("out/_manifest", "r1", 3)
    other = spelling.replace("ABS", str(tmp_path / "out" / "_manifest"))
    assert distinct_folders(["out/_manifest", other]) == ["out/_manifest"]
    assert load_manifests(["out/_manifest", other]).num_rows == 3
    data = _json(["out/_manifest", other], capsys)
    assert data["totals"]["images"] == 3 and data["totals"]["bytes_out"] == 1200
    assert data["runs"] == ["r1"] and data["manifest"] == "out/_manifest"


def test_the_same_folder_twice_among_others(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _write("a/out/_manifest", "r", 3)
    _write("b/new/_manifest", "r", 2)
    data = _json(["a/out/_manifest", "./b/new/_manifest", "./a/out/_manifest/",
                  tmp_path / "b" / "new" / "_manifest"], capsys)
    assert data["totals"]["images"] == 5
    assert data["folders"] == {"out": "a/out/_manifest", "new": "./b/new/_manifest"}
    assert set(data["by_run"]) == {"out/r", "new/r"}


def test_labels_have_no_dot_components_and_tell_stores_apart(tmp_path, monkeypatch):
    """Review s22 #8: ``./out`` kept its ``.``; an s3/gs pair of one path got the full URIs."""
    monkeypatch.chdir(tmp_path)
    assert folder_labels(["./out/_manifest", "../x/new/_manifest"]) == {
        "./out/_manifest": "out", "../x/new/_manifest": "new"}
    assert folder_labels(["./a/out/_manifest", "b/out/_manifest"]) == {
        "./a/out/_manifest": "a/out", "b/out/_manifest": "b/out"}
    assert folder_labels(["s3://bucket/out/_manifest", "gs://bucket/out/_manifest"]) == {
        "s3://bucket/out/_manifest": "s3:out", "gs://bucket/out/_manifest": "gs:out"}
    assert folder_labels(["s3://bucket/week1/_manifest", "gs://bucket/week2/_manifest"]) == {
        "s3://bucket/week1/_manifest": "week1", "gs://bucket/week2/_manifest": "week2"}
    assert folder_labels(["/bucket/out", "s3a://bucket/out/"]) == {
        "/bucket/out": "file:out", "s3a://bucket/out/": "s3:out"}


def test_folders_without_the_run_asked_for_are_named_as_not_read(tmp_path, capsys):
    """Review s22 #8: with --run, a folder without that run was skipped without a word but
    still listed among the report's manifests."""
    old, new, other = (tmp_path / n / "_manifest" for n in ("old", "new", "re"))
    _write(old, "nightly", 2)
    _write(new, "nightly", 3)
    _write(other, "weekly", 4)
    out = tmp_path / "r.md"
    data = _json([old, new, other, "--run", "nightly", "-o", out], capsys)
    assert data["totals"]["images"] == 5
    assert data["folders"] == {"old": str(old), "new": str(new)}
    assert data["skipped_folders"] == [str(other)]
    assert data["manifest"] == f"{old}, {new}"
    header = [line for line in out.read_text().splitlines() if line.startswith("Manifests ")]
    assert header == [f"Manifests `old` = `{old}`, `new` = `{new}` (not read, none of the runs "
                      f"asked for is in them: `{other}`) · 2 run(s): {', '.join(data['runs'])} · "
                      + header[0].split(" · ")[-1]]
    assert report.main([str(old), str(new), str(other), "--run", "nightly",
                        "-o", str(tmp_path / "r.html")]) == 0
    capsys.readouterr()
    page = (tmp_path / "r.html").read_text()
    assert f"<code>new</code> = <code>{new}</code> (not read, none of the runs asked for is in " \
           f"them: <code>{other}</code>)" in page
    data = _json([old, new, other], capsys)
    assert "skipped_folders" not in data and len(data["folders"]) == 3


def test_parts_left_out_and_runs_without_parts_are_named_across_folders(tmp_path, monkeypatch,
                                                                        capsys):
    """Diff review 38: a part that cannot be read, or a run folder without a part (a run
    stopped while writing its manifest), in one of several folders: named in --json and on
    the page, labelled by folder; the folder holding only such a run does not stop the
    report."""
    monkeypatch.chdir(tmp_path)
    _write("a/out/_manifest", "r", 3)
    _write("b/new/_manifest", "r", 2)
    (tmp_path / "b/new/_manifest/run_id=r/part-junk.parquet").write_bytes(b"PAR1x")
    os.makedirs("c/old/_manifest/run_id=killed/_beam_temp")
    data = _json(["a/out/_manifest", "b/new/_manifest", "c/old/_manifest"], capsys)
    assert data["totals"]["images"] == 5
    assert [os.path.basename(p) for p in data["parts_left_out"]] == ["part-junk.parquet"]
    assert data["runs_without_parts"] == ["old/killed"]
    assert report.main(["a/out/_manifest", "b/new/_manifest", "c/old/_manifest", "-o",
                        "r.html"]) == 0
    page = open("r.html").read()
    assert "part-junk.parquet" in page and "NO PART for 1 run(s)" in page
    assert "old/killed" in page


def test_a_run_stopped_while_writing_its_manifest_is_named_across_folders(tmp_path, monkeypatch,
                                                                          capsys):
    """``--run`` of a run stopped while Beam wrote its manifest said what became of it for one
    folder, and only "unknown run id" over several (health review 49): the same words now."""
    monkeypatch.chdir(tmp_path)
    _write("a/_manifest", "night-1", 2)
    _write("b/_manifest", "night-2", 1)
    leftover = "_beam_temp-run_id=night-9-065b88040f7f43b7951830c2a56130b7"
    os.makedirs(f"b/_manifest/{leftover}")
    assert report.main(["a/_manifest", "b/_manifest", "--run", "night-9", "--json"]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown run id(s) 'night-9' in a/_manifest, b/_manifest; available runs: " \
           "a/_manifest: night-1; b/_manifest: night-2" in err, err
    assert err.endswith(f"night-9 stopped while writing its manifest ({leftover}: its rows "
                        "were never written)"), err
