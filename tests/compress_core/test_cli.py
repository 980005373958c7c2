"""The command line: the original README's flags and ours, in process (fast), plus one real
``python -m semantic_compress`` run to prove the module entry point works."""
import json
import os
import re
import stat
import subprocess
import sys

import fsspec
import numpy as np
import pytest
import torch
from PIL import Image

from compress_core import __version__, build_id
from compress_core.cli import main
from compress_core.energy import backbones
from compress_core.storage import not_a_file

from _core_data import decode, encode, photo

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def work(tmp_path, monkeypatch, empty_torch_hub):
    """A folder with photo.jpg (180 x 120), other.png (150 x 100) and broken files; cwd there.

    Downloads are off and the torch hub cache is an empty folder, so that a backbone without
    weights fails at once instead of trying the network.
    """
    monkeypatch.chdir(tmp_path)
    (tmp_path / "photo.jpg").write_bytes(encode(photo("chelsea", 180, 120), "JPEG", quality=90))
    (tmp_path / "other.png").write_bytes(encode(photo("coffee", 150), "PNG"))
    (tmp_path / "notes.txt").write_bytes(b"shopping list: milk, eggs\n")
    (tmp_path / "empty.jpg").write_bytes(b"")
    jpeg = (tmp_path / "photo.jpg").read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    return tmp_path


def run(capsys, *argv):
    """main(argv) -> (exit status, stdout, stderr); argparse errors exit via SystemExit."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err):
    """The one error line of ``err`` (after it, a batch's count of failed images may stand:
    :func:`test_python_dash_m_semantic_compress`)."""
    lines = [line for line in err.splitlines() if line.strip()]
    if len(lines) == 2 and re.fullmatch(r"semantic-compress: \d+ of \d+ images failed; \d+ "
                                        r"(written|analysed)", lines[1]):
        lines.pop()
    assert len(lines) == 1, err
    assert lines[0].startswith("semantic-compress: error: ")
    return lines[0]


def size_of(path):
    return decode(open(path, "rb").read()).size


# ------------------------------------------------------------- compressing
def test_scale_writes_beside_the_input(work, capsys):
    code, out, err = run(capsys, "photo.jpg", "-s", "0.5", "-q")
    assert code == 0, err
    assert size_of(work / "photo.jpg_compressed.jpg") == (90, 60)
    assert out.startswith("photo.jpg -> ./photo.jpg_compressed.jpg: 180x120 -> 90x60")
    assert err == ""


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600)])
def test_outputs_respect_the_umask(work, capsys, umask, mode):
    """Issue 12 item 9: the command line wrote 0600 files whatever the umask."""
    old = os.umask(umask)
    try:
        code, _, err = run(capsys, "photo.jpg", "-s", "0.5", "-q")
        code2, _, err2 = run(capsys, "photo.jpg", "--visualize-energy", "-e", "gradient", "-q")
    finally:
        os.umask(old)
    assert code == 0 and code2 == 0, err + err2
    made = [n for n in os.listdir(work) if n.startswith("photo.jpg_")]
    assert sorted(made) == ["photo.jpg_compressed.jpg", "photo.jpg_energy.png"]
    for name in made:
        assert stat.S_IMODE(os.stat(work / name).st_mode) == mode, name


def test_output_suffix_picks_the_format(work, capsys):
    code, _, err = run(capsys, "photo.jpg", "--scale", "0.5",
                       "-o", "small.png")
    assert code == 0, err
    img = decode((work / "small.png").read_bytes())
    assert img.format == "PNG" and img.size == (90, 60)


def test_flags_that_would_be_ignored_are_refused_before_anything_is_written(work, capsys):
    # (review 20: a format picked by -o's suffix was blamed as a format= never given)
    for flags, message in ((["-o", "small.png", "--quality", "85"],
                            "-o small.png makes the format png: --format png is lossless and "
                            "takes no quality"),
                           (["--quality", "85", "--target-quality", "80"],
                            "--target-quality 80 is aimed at by --quality auto only"),
                           (["-o", "small.webp", "--photo-format", "avif"],
                            "-o small.webp makes the format webp: --photo-format avif chooses "
                            "the photos' format of --format auto"),
                           (["-o", "small.jpg", "--format", "auto", "--photo-format", "webp"],
                            "-o small.jpg makes the format jpeg: --photo-format webp")):
        before = sorted(os.listdir(work))
        code, _, err = run(capsys, "photo.jpg", "--scale", "0.5", *flags)
        assert code == 2 and message in err, err
        assert sorted(os.listdir(work)) == before


def test_explicit_format_the_output_suffix_contradicts_is_refused(work, capsys):
    """``--format jpeg -o small.webp`` printed a JPEG's size and format but wrote a WebP
    re-encoded by save(); now it is refused before anything is read or written."""
    code, out, err = run(capsys, "photo.jpg", "-s", "0.5", "--format",
                         "jpeg", "-o", "small.webp")
    assert code == 2 and out == ""
    assert "-o small.webp names webp but --format is jpeg" in one_error_line(err)
    assert not (work / "small.webp").exists()
    # a suffix that agrees (.jpg for jpeg) or names no format still works, and the record
    # describes the file written
    for name, fmt in (("small.jpg", "jpeg"), ("small.webp", "webp"), ("small.bin", "jpeg")):
        code, out, err = run(capsys, "photo.jpg", "-s", "0.5", "--format",
                             fmt, "-o", name, "--json")
        assert code == 0, err
        record = json.loads(out)
        written = (work / name).read_bytes()
        assert record["output_bytes"] == len(written)
        assert decode(written).format == record["format"] == fmt.upper()


def test_a_small_jpeg_archived_as_jxl_is_described_as_the_file_written(work, capsys):
    """Archive mode keeps a JPEG that JPEG XL would make larger; asked for as -o x.jxl it is
    saved as its lossless recompression. The record (and line) described the kept JPEG: 984
    bytes printed for a 1,108-byte JPEG XL file (diff review 23)."""
    from PIL import Image

    from compress_core.codec import jxl_to_jpeg

    Image.open(work / "photo.jpg").resize((24, 16)).save(work / "tiny.jpg", quality=75)
    code, out, err = run(capsys, "tiny.jpg", "-m", "jpeg", "-o", "tiny.jxl", "--json")
    assert code == 0, err
    record = json.loads(out)
    written = (work / "tiny.jxl").read_bytes()
    assert record["format"] == "JXL" and record["output_bytes"] == len(written)
    assert jxl_to_jpeg(written) == (work / "tiny.jpg").read_bytes()


def test_json_record(work, capsys):
    code, out, _ = run(capsys, "photo.jpg", "--width", "100", "--height", "100", "-e",
                       "gradient", "--json", "-o", "thumb.jpg")
    assert code == 0
    record = json.loads(out)
    assert record["status"] == "ok" and record["output"] == "thumb.jpg"
    assert record["input_size"] == [180, 120] and record["output_size"] == [100, 100]
    assert record["output_bytes"] == os.path.getsize(work / "thumb.jpg")
    assert record["compression_ratio"] == pytest.approx(
        record["output_bytes"] / record["input_bytes"], abs=1e-4)
    assert record["method"] == "hybrid" and record["energy"]["name"] == "gradient"
    assert set(record["timings"]) == {"decode_ms", "energy_ms", "resize_ms", "encode_ms",
                                      "total_ms"}
    assert 0 <= record["retained_energy_ratio"] <= 1
    assert size_of(work / "thumb.jpg") == (100, 100)
    assert 1.0 <= record["stretch"] <= 1.05  # the default stretch limit


def test_the_score_reached_is_printed_and_a_missed_target_is_said(work, capsys):
    """quality auto writes the format's best encoding where even it misses the target; the
    command line printed neither the score nor the miss (exit 0, nothing on stderr)."""
    code, out, err = run(capsys, "photo.jpg", "-s", "0.5", "--json",
                         "--format", "jpeg", "-o", "thumb.jpg")
    record = json.loads(out)
    assert code == 0 and err == "" and record["quality_score"] >= 70
    code, out, err = run(capsys, "photo.jpg", "-s", "0.5", "--format", "jpeg",
                         "--target-quality", "99.5", "-o", "best.jpg")
    score = float(re.search(r"SSIMULACRA2 (\d+\.\d)\)", out).group(1))
    assert code == 0 and score < 99.5 and size_of(work / "best.jpg") == (90, 60)
    assert err == (f"semantic-compress: warning: photo.jpg: --target-quality 99.5 was not "
                   f"reached: the best JPEG encoding scores {score:.1f}\n")
    code, out, err = run(capsys, "photo.jpg", "-s", "0.5", "--json",
                         "--quality", "80", "-o", "fixed.jpg")
    assert json.loads(out)["quality_score"] is None and err == ""  # no search, no score
    assert "SSIMULACRA2" not in run(capsys, "photo.jpg", "-s", "0.5",
                                    "--quality", "80", "-o", "fixed.jpg")[1]


def test_semantic_allocation_is_said_and_its_lower_score_is_no_missed_target(work, capsys):
    """With --allocation semantic the score is the written picture's, below the target by
    design (the target holds on the blocks that matter): no warning, and the record says so."""
    code, out, err = run(capsys, "photo.jpg", "-s", "0.5", "--json",
                         "--allocation", "semantic", "-o", "semantic.jpg")
    record = json.loads(out)
    assert code == 0 and err == "" and record["allocation"] == "semantic"
    assert record["quality_score"] < 70 and record["format"] == "JPEG"
    code, out, _ = run(capsys, "photo.jpg", "-s", "0.5", "--json",
                       "-o", "uniform.jpg")
    assert json.loads(out)["allocation"] == "uniform"
    assert size_of(work / "semantic.jpg") == size_of(work / "uniform.jpg") == (90, 60)
    assert (work / "semantic.jpg").stat().st_size < (work / "uniform.jpg").stat().st_size
    # a target the search itself misses is still said (by the search's own score)
    code, out, err = run(capsys, "photo.jpg", "-s", "0.5", "--format", "jpeg",
                         "--target-quality", "99.5", "--allocation", "semantic", "-o", "best.jpg")
    assert code == 0 and "--target-quality 99.5 was not reached: the best JPEG encoding" in err


@pytest.mark.parametrize("limit", ["1.0", "1.5"])
def test_max_stretch_flag_bounds_the_thumbnail(work, capsys, limit):
    """A square of the 3:2 photo: --max-stretch 1.0 never stretches; 1.5 may squeeze it all."""
    code, out, _ = run(capsys, "photo.jpg", "--width", "100", "--height", "100", "-e",
                       "gradient", "--json", "--max-stretch", limit, "-o", "thumb.jpg")
    assert code == 0
    record = json.loads(out)
    assert 1.0 <= record["stretch"] <= float(limit) + 1e-4
    if limit == "1.0":
        assert record["stretch"] == 1.0 and record["retained_energy_ratio"] < 1.0


@pytest.mark.parametrize("flags, expected", [
    (["--width", "120"], (120, 80)),
    (["--height", "60"], (90, 60)),
    (["--width", "120", "--no-preserve-aspect"], (120, 120)),
    (["--width", "64", "--height", "64"], (64, 64)),
    (["--target-pixels", "5000"], (86, 57)),
    (["--max-dimension", "100"], (100, 66)),
    (["-s", "0.5", "--max-dimension", "80"], (80, 53)),
    (["-s", "0.5", "-m", "seam_carving"], (90, 60)),
    (["-s", "0.5", "--method", "smart_crop"], (90, 60)),
    (["-m", "jpeg", "--quality", "40"], (180, 120)),
])
def test_size_flags(work, capsys, flags, expected):
    energy = [] if "jpeg" in flags else ["-e", "gradient"]  # (-m jpeg reads no energy map)
    code, out, err = run(capsys, "photo.jpg", *energy, "-q", "--json", "-o", "o.jpg", *flags)
    assert code == 0, err
    assert size_of(work / "o.jpg") == expected
    assert tuple(json.loads(out)["output_size"]) == expected


@pytest.mark.parametrize("fmt, name", [("webp", "WEBP"), ("png", "PNG"), ("avif", "AVIF"),
                                       ("jpeg", "JPEG"), ("jpg", "JPEG")])
def test_target_bytes_and_format(work, capsys, fmt, name):
    code, out, err = run(capsys, "photo.jpg", "--json", "-s", "0.8",
                         "--target-bytes", "3000", "--format", fmt)
    assert code == 0, err
    record = json.loads(out)
    assert record["format"] == name and record["output_bytes"] <= 3000
    assert os.path.getsize(record["output"]) == record["output_bytes"] <= 3000
    assert record["output"].endswith({"jpeg": ".jpg"}.get(fmt, "." + fmt))


def test_jpg_names_jpeg_for_both_formats(work, capsys):
    """``--format jpg`` (the files' suffix) was refused: 'jpeg' only."""
    code, out, err = run(capsys, "photo.jpg", "--json", "-s", "0.5",
                         "--photo-format", "jpg", "-o", "o.jpg")
    assert code == 0 and json.loads(out)["format"] == "JPEG", err


def test_quality_flag(work, capsys):
    code, out, _ = run(capsys, "photo.jpg", "-s", "0.5", "--quality", "30",
                       "--json")
    assert code == 0 and json.loads(out)["quality"] == 30


def test_several_images_into_a_folder(work, capsys):
    code, out, err = run(capsys, "photo.jpg", "other.png", "-s", "0.5",
                         "-o", "out/", "--json")
    assert code == 0, err
    records = json.loads(out)
    assert [r["output"] for r in records] == [os.path.join("out/", "photo.jpg_compressed.jpg"),
                                              os.path.join("out/", "other.png_compressed.jpg")]
    assert size_of(work / "out" / "photo.jpg_compressed.jpg") == (90, 60)
    assert size_of(work / "out" / "other.png_compressed.jpg") == (75, 50)  # a photo: lossy


_PIL_FORMATS = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP"}


def _same_photo_as(work, names):
    """The chelsea photo of photo.jpg, saved again under each name in the name's format."""
    pixels = photo("chelsea", 180, 120)
    for name in names:
        (work / name).write_bytes(encode(pixels, _PIL_FORMATS[name.rsplit(".", 1)[1].lower()]))


def test_inputs_that_differ_by_extension_get_their_own_outputs(work, capsys):
    """format auto writes photos of any format as JPEG: photo.png, photo.gif, photo.webp,
    photo.jpeg and photo.JPG used to be one photo_compressed.jpg, each overwriting the last
    (five "ok" records, one file). The input's extension now stays in the name."""
    names = ["photo.jpg", "photo.png", "photo.gif", "photo.webp", "photo.jpeg", "photo.JPG"]
    _same_photo_as(work, names[1:])
    for output in (["-o", "out/"], []):
        code, out, err = run(capsys, *names, "-s", "0.5", "--json", *output)
        assert code == 0, err
        records = json.loads(out)
        assert [r["status"] for r in records] == ["ok"] * 6
        folder = work / "out" if output else work
        assert [r["output"] for r in records] == [
            os.path.join("out/", f"{n}_compressed{r['output'][-4:]}") if output
            else f"./{n}_compressed{r['output'][-4:]}" for n, r in zip(names, records)]
        assert len({r["output"] for r in records}) == 6
        made = sorted(f for f in os.listdir(folder) if "_compressed." in f)
        assert made == sorted(os.path.basename(r["output"]) for r in records)
        for r in records:
            assert os.path.getsize(r["output"]) == r["output_bytes"]
            assert size_of(r["output"]) == tuple(r["output_size"])


def test_names_that_differ_only_in_case_are_refused_where_the_disk_ignores_case(
        work, capsys, monkeypatch):
    """a/photo.jpg and b/PHOTO.jpg into one -o folder on a macOS or Windows disk: the second
    output replaced the first (one file for both names). Where the disk keeps case apart
    (this one), both are written."""
    from compress_core import cli

    for sub, name in (("a", "photo.jpg"), ("b", "PHOTO.jpg")):
        (work / sub).mkdir()
        (work / sub / name).write_bytes((work / "photo.jpg").read_bytes())
    assert cli._ignores_case(str(work / "out" / "x")) is False   # probed, nothing left behind
    assert not (work / "out").exists() and not list(work.glob(".CaseProbe-*"))
    assert cli._ignores_case("s3://bucket/out/x") is False
    args = ("a/photo.jpg", "b/PHOTO.jpg", "-s", "0.5", "-o", "out/", "-q")
    with monkeypatch.context() as patch:   # as on a macOS disk
        patch.setattr(cli, "_ignores_case", lambda dest: True)
        code, out, err = run(capsys, *args)
    assert code == 2 and out == ""
    line = one_error_line(err)
    assert "a/photo.jpg and b/PHOTO.jpg would both be written to " in line
    assert "ignores case" in line and line.endswith("nothing was written")
    assert not (work / "out").exists()
    code, _, err = run(capsys, *args)
    assert code == 0, err
    assert sorted(os.listdir(work / "out")) == ["PHOTO.jpg_compressed.jpg",
                                                "photo.jpg_compressed.jpg"]


def test_an_output_that_would_replace_another_input_is_refused(work, capsys):
    """Review 20: photo.jpg_compressed.jpg beside photo.jpg (another photo, or the output of
    an earlier run that the shell's *.jpg picked up) was replaced by photo.jpg's output, then
    compressed in its place: the photo gone, exit status 0. Now one line, nothing written; and
    several images with -o naming a file is refused before any is read."""
    other = encode(photo("coffee", 120, 80), "JPEG", quality=90)
    (work / "photo.jpg_compressed.jpg").write_bytes(other)
    code, out, err = run(capsys, "photo.jpg", "photo.jpg_compressed.jpg", "-s", "0.5")
    assert code == 2 and out == ""
    assert one_error_line(err) == (
        "semantic-compress: error: photo.jpg_compressed.jpg is also an input, and photo.jpg's "
        "output ./photo.jpg_compressed.jpg would replace it before it is read; give -o a "
        "folder holding no input; nothing was written")
    assert (work / "photo.jpg_compressed.jpg").read_bytes() == other
    (work / "o").mkdir()
    code, _, err = run(capsys, "photo.jpg", "photo.jpg_compressed.jpg", "-s", "0.5",
                       "-o", "o")
    assert code == 0, err  # into another folder: both written
    (work / "taken.jpg").write_bytes(other)
    code, _, err = run(capsys, "photo.jpg", "other.png", "-s", "0.5", "-o", "taken.jpg")
    assert code == 2 and "-o taken.jpg is a file; with several images -o is a folder" in err
    assert (work / "taken.jpg").read_bytes() == other


def test_an_input_spelt_through_a_link_that_another_output_would_replace_is_refused(work,
                                                                                     capsys):
    """The same photo as above, given through a link to its folder (alias/ -> .): one file
    under two spellings, replaced by photo.jpg's output before it is read all the same."""
    other = encode(photo("coffee", 120, 80), "JPEG", quality=90)
    (work / "photo.jpg_compressed.jpg").write_bytes(other)
    os.symlink(work, work / "alias")
    code, out, err = run(capsys, "photo.jpg", "alias/photo.jpg_compressed.jpg", "-s", "0.5")
    assert code == 2 and out == ""
    assert "alias/photo.jpg_compressed.jpg is also an input, and photo.jpg's output " \
        "./photo.jpg_compressed.jpg would replace it before it is read" in one_error_line(err)
    assert (work / "photo.jpg_compressed.jpg").read_bytes() == other


def test_an_earlier_output_of_another_format_is_no_clash_under_a_fixed_format(work, capsys):
    """Diff review 1, 49: photo.jpg beside an earlier run's photo.jpg_compressed.webp, with
    --format jpeg (whose output is photo.jpg_compressed.jpg), was refused as if the WebP
    would be replaced; under format auto it may be, and is still refused."""
    webp = encode(photo("coffee", 120, 80), "WEBP", quality=90)
    (work / "photo.jpg_compressed.webp").write_bytes(webp)
    code, _, err = run(capsys, "photo.jpg", "photo.jpg_compressed.webp", "-s", "0.5", "-q")
    assert code == 2 and "would replace it before it is read" in err
    code, _, err = run(capsys, "photo.jpg", "photo.jpg_compressed.webp", "-s", "0.5", "-q",
                       "--format", "JPEG")
    assert code == 0, err
    assert (work / "photo.jpg_compressed.webp").read_bytes() == webp
    assert (work / "photo.jpg_compressed.webp_compressed.jpg").exists()
    # archive mode (-m jpeg --format jxl) keeps a JPEG file as it is where JPEG XL is larger:
    # photo.jpg's output may be photo.jpg_compressed.jpg
    (work / "photo.jpg_compressed.jpg").write_bytes(webp)
    code, _, err = run(capsys, "photo.jpg", "photo.jpg_compressed.jpg", "-m", "jpeg", "-q",
                       "--format", "jxl")
    assert code == 2 and "would replace it before it is read" in err


def test_an_output_naming_its_own_input_is_refused(work, capsys):
    """Review 21: `photo.jpg -o photo.jpg` replaced the photo with its half-size output (and
    `--visualize-energy -o photo.jpg` with a heat map), exit status 0. Now one line, the
    photo untouched, under any spelling of its path; another name is written."""
    original = (work / "photo.jpg").read_bytes()
    for extra in ((), ("--visualize-energy",)):
        for name in ("photo.jpg", "./photo.jpg", str(work / "photo.jpg")):
            targets = ("-e", "gradient") if extra else ("-s", "0.5")
            code, out, err = run(capsys, "photo.jpg", *targets, *extra,
                                 "-o", name)
            assert code == 2 and out == ""
            assert one_error_line(err) == (
                f"semantic-compress: error: -o {name} is the input itself: writing it would "
                "replace the original; give -o another name; nothing was written")
            assert (work / "photo.jpg").read_bytes() == original
    code, _, err = run(capsys, "photo.jpg", "-s", "0.5", "-o", "small.jpg")
    assert code == 0, err
    assert (work / "small.jpg").exists() and (work / "photo.jpg").read_bytes() == original
    # a bucket's photo (diff review 21: only local paths were compared), and a folder whose
    # path takes the library's parameter names: said as typed
    fs = fsspec.filesystem("memory")
    fs.pipe("memory://bucket/photo.jpg", original)
    code, _, err = run(capsys, "memory://bucket/photo.jpg", "-s", "0.5",
                       "-o", "memory://bucket/photo.jpg")
    assert code == 2 and "is the input itself" in err
    assert fs.cat("memory://bucket/photo.jpg") == original
    (work / "runs" / "scale=0.5").mkdir(parents=True)
    code, _, err = run(capsys, "photo.jpg", "-s", "0.5", "--quality", "85",
                       "-o", "runs/scale=0.5/x.png")
    assert code == 2 and one_error_line(err) == (
        "semantic-compress: error: -o runs/scale=0.5/x.png makes the format png: --format png "
        "is lossless and takes no quality; got --quality 85 (drop it, or pick a lossy format)")


def test_inputs_that_would_share_an_output_are_refused(work, capsys):
    """a/photo.jpg and b/photo.jpg into one -o folder: one clear error, nothing compressed or
    written (they used to overwrite each other). Beside their inputs they do not clash."""
    for sub in ("a", "b"):
        (work / sub).mkdir()
        (work / sub / "photo.jpg").write_bytes((work / "photo.jpg").read_bytes())
    code, out, err = run(capsys, "a/photo.jpg", "other.png", "b/photo.jpg", "-s", "0.5",
                         "-o", "out/")
    assert code == 2 and out == ""
    line = one_error_line(err)
    assert "a/photo.jpg and b/photo.jpg would both be written to " in line
    assert os.path.join("out/", "photo.jpg_compressed") + ".*" in line
    assert line.endswith("nothing was written")
    assert not (work / "out").exists()
    code, _, err = run(capsys, "photo.jpg", "photo.jpg", "-s", "0.5", "-o", "out")
    assert code == 2 and "photo.jpg is given twice" in one_error_line(err)
    # one file spelled two ways (README review 39: "would both be written ...; compress them
    # with separate -o folders")
    code, _, err = run(capsys, "photo.jpg", "./photo.jpg", "-s", "0.5", "-o", "out")
    assert code == 2 and "photo.jpg and ./photo.jpg are one file, given twice; nothing was " \
        "written" in one_error_line(err)
    code, _, err = run(capsys, "a/photo.jpg", "b/photo.jpg", "--visualize-energy", "-o", "out")
    assert code == 2 and "would both be written to out/photo.jpg_energy.*" in one_error_line(err)
    assert not (work / "out").exists()
    code, out, err = run(capsys, "a/photo.jpg", "b/photo.jpg", "-s", "0.5",
                         "--json")
    assert code == 0, err
    assert [r["output"] for r in json.loads(out)] == ["a/photo.jpg_compressed.jpg",
                                                      "b/photo.jpg_compressed.jpg"]
    assert size_of(work / "a" / "photo.jpg_compressed.jpg") == (90, 60)
    assert size_of(work / "b" / "photo.jpg_compressed.jpg") == (90, 60)


@pytest.mark.parametrize("energy", ["gradient", "saliency", "deep", "blend", "hybrid"])
def test_every_energy(work, capsys, energy):
    code, out, err = run(capsys, "photo.jpg", "-s", "0.5", "-e", energy, "--json", "-q")
    assert code == 0, err
    record = json.loads(out)
    expected = {"hybrid": "blend"}.get(energy, energy)  # the blend's former name
    assert record["energy"]["name"] == expected and record["output_size"] == [90, 60]
    if energy == "deep":
        assert record["energy"]["model_name"] == "efficientnet_lite0"


def test_default_energy_and_explicit_model(work, capsys):
    code, out, _ = run(capsys, "photo.jpg", "-s", "0.5", "--json")
    assert code == 0 and json.loads(out)["energy"]["name"] == "deep"
    code, out, _ = run(capsys, "photo.jpg", "-s", "0.5", "--model", "efficientnet_lite0",
                       "--json")
    assert code == 0
    energy = json.loads(out)["energy"]
    assert energy["name"] == "deep" and energy["model_name"] == "efficientnet_lite0"


def test_masks_from_image_files(work, capsys):
    pixels = np.array(photo("chelsea", 180, 120))
    pixels[40:70, 120:140] = (0, 255, 0)  # a green object
    (work / "object.png").write_bytes(encode(pixels, "PNG"))
    mask = np.zeros((120, 180), np.uint8)
    mask[40:70, 120:140] = 255
    (work / "remove.png").write_bytes(encode(mask, "PNG"))
    code, _, err = run(capsys, "object.png", "-e", "gradient", "-m", "seam_carving", "-q",
                       "--remove-mask", "remove.png", "-s", "0.8", "-o", "gone.png")
    assert code == 0, err
    out = np.asarray(decode((work / "gone.png").read_bytes()))
    assert out.shape == (96, 144, 3)
    assert ((out[..., 1] > 200) & (out[..., 0] < 60)).sum() == 0

    keep = np.zeros((120, 180), np.uint8)
    keep[10:50, 5:35] = 255
    (work / "keep.png").write_bytes(encode(keep, "PNG"))
    code, _, err = run(capsys, "object.png", "-e", "gradient", "-m", "seam_carving", "-q",
                       "--keep-mask", "keep.png", "--width", "100", "-o", "kept.png")
    assert code == 0, err
    out = np.asarray(decode((work / "kept.png").read_bytes()))
    assert out.shape == (67, 100, 3)


def _painted_block(layer: str) -> np.ndarray:
    """A keep mask of a 40x30 block of a 180x120 picture: grey, or painted on a transparent
    layer whose transparent pixels keep white (as editors export them: those are not set)."""
    if layer == "grey":
        keep = np.zeros((120, 180), np.uint8)
        keep[10:50, 5:35] = 255
        return keep
    keep = np.zeros((120, 180, 4), np.uint8)
    keep[..., :3] = 255                  # white everywhere, transparent
    keep[10:50, 5:35, 3] = 255           # the painted block, opaque
    return keep


@pytest.mark.parametrize("layer", ["grey", "transparent"])
def test_keep_mask_protects_a_block_with_vertical_seams_only(work, capsys, layer):
    """With a transparent layer the transparent pixels counted as set: the whole picture was
    'kept' (review 12, F03)."""
    (work / "keep.png").write_bytes(encode(_painted_block(layer), "PNG"))
    (work / "photo.png").write_bytes(encode(photo("chelsea", 180, 120), "PNG"))
    code, _, err = run(capsys, "photo.png", "-e", "gradient", "-m", "seam_carving", "-q",
                       "--keep-mask", "keep.png", "--width", "100", "--no-preserve-aspect",
                       "-o", "kept.png")
    assert code == 0, err
    out = np.asarray(decode((work / "kept.png").read_bytes()))
    assert out.shape == (120, 100, 3)
    block = photo("chelsea", 180, 120)[10:50, 5:35]
    assert any(np.array_equal(out[10:50, x:x + 30], block) for x in range(0, 71))


# ------------------------------------------------------------- other modes
def test_analyze(work, capsys):
    code, out, _ = run(capsys, "photo.jpg", "--analyze", "-e", "gradient")
    assert code == 0
    assert out.splitlines()[0] == "photo.jpg  (180x120, energy gradient)"
    for key in ("mean_energy", "std_energy", "high_importance_ratio", "p05", "p50", "p95"):
        assert key in out
    # a centre of mass at 4 significant digits (it printed 16 a coordinate)
    (line,) = [x for x in out.splitlines() if x.split()[0] == "center_of_mass_relative"]
    assert re.fullmatch(r"\s*center_of_mass_relative\s+\(0\.\d{1,4}, 0\.\d{1,4}\)", line)
    assert not (work / "photo.jpg_compressed.jpg").exists()
    code, out, _ = run(capsys, "photo.jpg", "--analyze", "-e", "gradient", "--json")
    stats = json.loads(out)
    assert code == 0 and 0 <= stats["high_importance_ratio"] <= 1
    assert stats["width"] == 180 and stats["status"] == "ok"


def test_two_analysis_modes_are_refused_not_one_ignored(work, capsys):
    """--analyze --visualize-energy printed the statistics and wrote no heat map (CLI review
    25): one mode at a time."""
    for modes in (["--analyze", "--visualize-energy"], ["--visualize-energy",
                                                        "--visualize-seams", "5"]):
        code, out, err = run(capsys, "photo.jpg", *modes, "-e", "gradient")
        assert code == 2 and "give one mode at a time" in err.splitlines()[-1], err
        assert not [f for f in os.listdir(work) if "_energy" in f or "_seams" in f]


def test_a_reader_that_stops_reading_fails_no_image(work):
    """``semantic-compress a b c -o out/ | head -1``: the result lines after the first met a
    closed pipe, and each such image, written, was reported failed with exit status 2 (CLI
    review 25). The images are written, the exit status is 0, nothing on stderr."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "semantic_compress", "photo.jpg", "other.png", "-s", "0.5",
         "-o", "out/"], cwd=work, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": REPO})
    proc.stdout.close()                                 # the reader has gone
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 0, err
    assert "Broken pipe" not in err and "Traceback" not in err, err
    assert sorted(os.listdir(work / "out")) == ["other.png_compressed.jpg",
                                                "photo.jpg_compressed.jpg"]


def test_a_name_the_console_cannot_encode_is_escaped_not_failed(work):
    """A cp1252 standard output (Windows, redirected or piped): the result line of 写真.jpg
    raised UnicodeEncodeError after the image was written, and the image was counted failed,
    exit status 2 (portability review 27)."""
    os.replace(work / "photo.jpg", work / "写真.jpg")
    done = subprocess.run(
        [sys.executable, "-m", "semantic_compress", "写真.jpg", "-s", "0.5", "-e", "gradient",
         "-q"], cwd=work, capture_output=True, timeout=300,
        env={**os.environ, "PYTHONPATH": REPO, "PYTHONIOENCODING": "cp1252"})
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert done.stdout.decode("cp1252").startswith(
        "\\u5199\\u771f.jpg -> ./\\u5199\\u771f.jpg_compressed.jpg: 180x120 -> 90x60")
    assert (work / "写真.jpg_compressed.jpg").exists()


def test_standard_output_redirected_to_a_file_is_no_output(work):
    """-o /dev/stdout with the output redirected to a log: the picture was renamed over the
    log (its lines lost, exit status 0; CLI review 37). A stream of the process, a link to
    one, a FIFO and a device are refused before any image is read, and left as they were."""
    log = work / "log.txt"
    log.write_text("line1\nline2\n")
    (work / "link.jpg").symlink_to("/dev/stdout")
    os.mkfifo(work / "fifo")
    for target in ("/dev/stdout", "/dev/fd/1", "link.jpg", "fifo", os.devnull):
        with open(log, "ab") as out:
            done = subprocess.run(
                [sys.executable, "-m", "semantic_compress", "photo.jpg", "-s", "0.5", "-e",
                 "gradient", "-q", "-o", target], cwd=work, stdout=out, stderr=subprocess.PIPE,
                timeout=300, env={**os.environ, "PYTHONPATH": REPO})
        assert done.returncode == 2, (target, done.stderr.decode()[-2000:])
        said = done.stderr.decode()
        assert ("an open file of this process" in said or "not a regular file" in said) and \
            "nothing was written" in said, (target, said)
        assert log.read_text() == "line1\nline2\n", target
    assert (work / "link.jpg").is_symlink() and stat.S_ISFIFO(os.lstat(work / "fifo").st_mode)
    # a link into a folder that links to the process's open files (diff review 37)
    (work / "fds").symlink_to("/proc/self/fd")
    (work / "through.jpg").symlink_to("fds/1")
    assert "an open file of this process" in not_a_file(str(work / "through.jpg"))
    assert not_a_file(str(work / "photo.jpg")) is None
    assert not_a_file(str(work / "new" / "x.jpg")) is None


def test_a_link_at_a_name_the_command_chose_is_not_written_through(work, capsys):
    """Paths review 42: ``-o out/`` over a link planted at ``out/photo.jpg_compressed.jpg``
    replaced the photo it named, elsewhere, with the thumbnail (the job refuses a link below
    --output). Refused for that image; ``-o`` naming the link itself still writes through."""
    elsewhere = work / "elsewhere"
    elsewhere.mkdir()
    precious = elsewhere / "precious.jpg"
    precious.write_bytes((work / "photo.jpg").read_bytes())
    before = precious.read_bytes()
    (work / "out").mkdir()
    (work / "out" / "photo.jpg_compressed.jpg").symlink_to(precious)
    code, _, err = run(capsys, "photo.jpg", "-s", "0.5", "-e", "gradient", "-o", "out/")
    assert code == 2 and "is a symbolic link" in err and "name the file with -o" in err
    assert precious.read_bytes() == before
    # beside the input, likewise
    (work / "photo.jpg_compressed.jpg").symlink_to(precious)
    code, _, err = run(capsys, "photo.jpg", "-s", "0.5", "-e", "gradient")
    assert code == 2 and precious.read_bytes() == before
    # named with -o: the file it names is written, as before
    code, _, err = run(capsys, "photo.jpg", "-s", "0.5", "-e", "gradient", "-o",
                       "out/photo.jpg_compressed.jpg")
    assert code == 0 and precious.read_bytes() != before
    assert (work / "out" / "photo.jpg_compressed.jpg").is_symlink()


def test_a_larger_output_of_a_lossy_webp_names_the_photo_format_that_keeps_it(work, capsys):
    """New-user review 42: a small lossy WebP re-encoded as JPEG came out larger, and the
    warning did not say that --photo-format webp keeps such photos WebP."""
    from PIL import Image

    Image.open(work / "photo.jpg").save(work / "small.webp", "WEBP", quality=30)
    code, _, err = run(capsys, "small.webp", "-m", "jpeg", "--quality", "95")
    assert code == 0
    assert "is larger than the input" in err and "it was a WEBP: --photo-format webp" in err
    code, _, err = run(capsys, "small.webp", "-m", "jpeg", "--photo-format", "webp")
    assert code == 0 and "it was a WEBP" not in err


def test_an_empty_output_and_a_picture_too_large_for_memory(work, capsys, monkeypatch):
    """-o '' (an unset shell variable) wrote beside the input as if no -o was given; a
    MemoryError ended the batch with a traceback (CLI review 37): refused, and that image's
    error line, the rest written."""
    code, _, err = run(capsys, "photo.jpg", "-s", "0.5", "-o", "")
    assert code == 2 and "-o '': empty (an unset shell variable?)" in err
    assert not (work / "photo.jpg_compressed.jpg").exists()
    from compress_core import compressor as compressor_module

    real = compressor_module.load_image

    def short_of_memory(source, *args, **kwargs):
        if str(source).endswith("other.png"):
            raise MemoryError()
        return real(source, *args, **kwargs)

    monkeypatch.setattr(compressor_module, "load_image", short_of_memory)
    code, out, err = run(capsys, "other.png", "photo.jpg", "-s", "0.5", "-q", "-o", "out/")
    assert code == 2
    assert one_error_line(err) == ("semantic-compress: error: other.png: MemoryError (not "
                                   "enough memory for this picture)")
    assert (work / "out" / "photo.jpg_compressed.jpg").exists()


def test_analysis_modes_take_the_pixel_limit_and_name_the_flag_typed(work, capsys,
                                                                    monkeypatch):
    """--max-pixels holds for the picture an analysis reads (a 100-megapixel photo could not be
    analysed: raising the limit was refused as "would be ignored"); a refusal names
    --no-preserve-aspect as typed, not --preserve-aspect (CLI review 37)."""
    # (the command line lifts Pillow's own limit to --max-pixels, for its process: restored)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)
    for mode in (["--analyze"], ["--visualize-energy"], ["--visualize-seams", "3"]):
        # (the visualisations took the flag and read the picture without it: diff review 37)
        code, _, err = run(capsys, "photo.jpg", *mode, "-e", "gradient", "--max-pixels", "1000")
        assert code == 2 and "exceeds the limit of 1,000 (--max-pixels)" in err, mode
    code, out, _ = run(capsys, "photo.jpg", "--analyze", "-e", "gradient",
                       "--max-pixels", "200000000")
    assert code == 0 and "mean_energy" in out
    code, _, err = run(capsys, "photo.jpg", "--visualize-energy", "--no-preserve-aspect")
    assert code == 2 and "--no-preserve-aspect would be ignored" in err


def test_the_library_s_warnings_name_the_flags_typed(work):
    """A warning of the library named its parameter (over max_stretch 1.05) where the user
    typed --max-stretch (CLI review 37); the command line's log says it in flags."""
    Image.fromarray(np.ascontiguousarray(photo("chelsea", 180, 120)[:, :3])).save(
        work / "strip.png")
    done = subprocess.run(
        [sys.executable, "-m", "semantic_compress", "strip.png", "-s", "0.5", "-q"], cwd=work,
        capture_output=True, timeout=300, env={**os.environ, "PYTHONPATH": REPO})
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    said = done.stderr.decode()
    assert "3x120 to 2x60 is stretched 1.33x, over --max-stretch 1.05" in said, said
    assert "max_stretch" not in said


def test_a_name_with_escape_sequences_is_shown_escaped(work, capsys):
    """A file named with a terminal's escape sequence recoloured (or erased) the result line;
    its control characters are shown escaped (review 27)."""
    os.replace(work / "photo.jpg", work / "red\x1b[31m.jpg")
    (work / "bell\x07.jpg").write_bytes(b"not a picture")
    code, out, err = run(capsys, "red\x1b[31m.jpg", "bell\x07.jpg", "-s", "0.5",
                         "-q")
    assert code == 2
    assert out.startswith("red\\x1b[31m.jpg -> ./red\\x1b[31m.jpg_compressed.jpg: ")
    assert "error: bell\\x07.jpg" in err
    assert "\x1b" not in out + err and "\x07" not in out + err
    # a line break in a name forged a second result line (diff review 27); a lone surrogate
    # (a Windows name) crashed the error path
    os.replace(work / "other.png", work / "x\nforged.png")
    code, out, err = run(capsys, "x\nforged.png", "-s", "0.5", "-q")
    assert code == 0 and out.count("\n") == 1 and out.startswith("x\\nforged.png -> "), out
    code, out, err = run(capsys, "lone\ud800.jpg", "-s", "0.5", "-q")
    assert code == 2 and "error: lone\\ud800.jpg" in err, err


def test_without_o_a_web_pictures_output_is_saved_here_not_uploaded(work, web_folder, capsys):
    """``semantic-compress http://host/photo.jpg -s 0.5``: the output went "beside the input",
    an HTTP PUT of http://host/photo.jpg_compressed.jpg to the web server (a server that takes
    PUTs stored it; others answered 501 after the compression, nothing written; CLI review 47).
    Saved in the current folder, as wget and curl -O save it, its query left out of the
    name; a server that takes PUTs stands in."""
    url = f"{web_folder.url}/photo.jpg?size=full"
    code, out, err = run(capsys, url, "-s", "0.5", "-e", "gradient", "-q")
    assert code == 0, err
    assert web_folder.puts == []
    assert out.startswith(f"{url} -> {os.path.join('.', 'photo.jpg_compressed.jpg')}: "), out
    assert size_of(work / "photo.jpg_compressed.jpg") == (90, 60)


def test_web_pictures_told_apart_by_their_query_keep_their_names_in_an_o_folder(work, capsys):
    """``-o out/`` with http://host/show.php?id=1 and ?id=2: each had its output, named with
    its query (show.php?id=1_compressed.jpg); leaving the query out of every web name (CLI
    review 47) refused the batch, "would both be written to out/show.php_compressed.*",
    nothing written (diff review 5, 47). The query is left out only where the output is saved
    in the current folder (no -o)."""
    from types import SimpleNamespace

    from compress_core import cli
    from compress_core.request import CompressRequest

    urls = ["http://127.0.0.1:9/show.php?id=1", "http://127.0.0.1:9/show.php?id=2"]
    folder = SimpleNamespace(output=str(work / "out") + os.sep, images=urls, analyze=False,
                             visualize_energy=False, visualize_seams=None, format=None)
    assert [cli._output_path(folder, u, "_compressed", ".jpg", True) for u in urls] == [
        os.path.join(str(work / "out") + os.sep, f"show.php?id={i}_compressed.jpg")
        for i in (1, 2)]
    assert cli._shared_output(folder, True, CompressRequest(scale=0.5)) is None
    here = SimpleNamespace(output=None)
    assert cli._output_path(here, urls[0] + "#top", "_compressed", ".jpg", False) == \
        os.path.join(".", "show.php_compressed.jpg")


def test_without_o_the_output_goes_beside_a_windows_path(monkeypatch):
    """Without -o an output is written beside its input: a Windows path's folder, spelt with
    backslashes, was not seen and the output went to the current folder (portability review
    27). ``os.path`` as on Windows (ntpath), in the command line's module only."""
    import ntpath
    import types

    from compress_core import cli

    windows_os = types.SimpleNamespace(**{k: getattr(os, k) for k in dir(os)
                                          if not k.startswith("__")})
    windows_os.path, windows_os.sep = ntpath, "\\"
    monkeypatch.setattr(cli, "os", windows_os)
    args = types.SimpleNamespace(output=None)
    where = {src: cli._output_path(args, src, "_compressed", ".jpg", False)
             for src in (r"C:\Users\ann\photo.jpg", r"Pictures\photo.jpg", "photo.jpg",
                         "C:/Users/ann/photo.jpg", "s3://bucket/trip/photo.jpg")}
    assert where == {r"C:\Users\ann\photo.jpg": r"C:\Users\ann\photo.jpg_compressed.jpg",
                     r"Pictures\photo.jpg": r"Pictures\photo.jpg_compressed.jpg",
                     "photo.jpg": r".\photo.jpg_compressed.jpg",
                     "C:/Users/ann/photo.jpg": r"C:/Users/ann\photo.jpg_compressed.jpg",
                     "s3://bucket/trip/photo.jpg": "s3://bucket/trip/photo.jpg_compressed.jpg"}


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_an_interrupt_says_one_line_and_keeps_what_was_written(work, capsys, monkeypatch,
                                                               json_flag):
    """Ctrl-C during a batch printed a traceback of 20 lines (CLI review 25): one line, exit
    status 130, the images written before kept. With --json nothing was printed on standard
    output (CLI review 47): a script lost the names of the files written before it; the
    records done are printed."""
    import compress_core.cli as cli

    real, calls = cli._process, []

    def interrupted(*args, **kwargs):
        calls.append(args[3])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(cli, "_process", interrupted)
    code, out, err = run(capsys, "photo.jpg", "other.png", "-s", "0.5", "-o", "out/",
                         *json_flag)
    assert code == 130
    assert err.strip() == "semantic-compress: interrupted at other.png; 1 of 2 written before it"
    assert os.listdir(work / "out") == ["photo.jpg_compressed.jpg"]
    if json_flag:
        records = json.loads(out)
        assert [(r["input"], r["status"]) for r in records] == [("photo.jpg", "ok")]
        assert records[0]["output"] == os.path.join("out/", "photo.jpg_compressed.jpg")


def test_missing_weights_are_one_line_before_any_image(work, capsys):
    """--model resnet18 without its weights, with targets that change the aspect: each image
    failed with the same long line and the batch went on reading them (12 photos, 11 lines,
    exit 2, the square one written; CLI review 47), where the job refuses it at launch. One
    line, nothing read or written; targets that keep the aspect still run (no CNN there)."""
    backbones.clear_model_cache()
    (work / "square.jpg").write_bytes(encode(photo("chelsea", 120, 120), "JPEG"))
    code, _, err = run(capsys, "photo.jpg", "other.png", "square.jpg", "--width", "96",
                       "--height", "96", "--model", "resnet18", "-q", "-o", "out/")
    assert code == 2
    line = one_error_line(err)
    assert line.startswith("semantic-compress: error: --model resnet18: ") and \
        "resnet18-f37072fd.pth" in line, line
    assert not (work / "out").exists()
    code, _, err = run(capsys, "photo.jpg", "--analyze", "--model", "resnet18")
    assert code == 2 and "--model resnet18: " in one_error_line(err)
    code, _, err = run(capsys, "photo.jpg", "other.png", "-s", "0.5", "--model", "resnet18",
                       "-q", "-o", "out/")
    assert code == 0, err
    assert sorted(os.listdir(work / "out")) == ["other.png_compressed.jpg",
                                                "photo.jpg_compressed.jpg"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_standard_output_on_a_full_disk_fails_no_image(work, json_flag):
    """``semantic-compress a b -o out/ > log`` with the log's disk full (here /dev/full): each
    image, written, was counted failed with "No space left on device", as if its output had
    not been written ("2 of 2 images failed; 0 written"), and --json ended in a traceback
    (CLI review 47). One line says the results were lost; the images are written and not
    counted failed; the exit status is not 0."""
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "semantic_compress", "photo.jpg", "other.png", "-s", "0.5",
             "-q", "-o", "out/", *json_flag], cwd=work, stdout=full, stderr=subprocess.PIPE,
            timeout=300, env={**os.environ, "PYTHONPATH": REPO})
    err = done.stderr.decode()
    assert done.returncode == 2, err
    assert "Traceback" not in err and "images failed" not in err, err
    assert [line for line in err.splitlines() if line.strip()] == [
        "semantic-compress: error: cannot write the results to standard output (No space "
        "left on device); the images are still written"], err
    assert sorted(os.listdir(work / "out")) == ["other.png_compressed.jpg",
                                                "photo.jpg_compressed.jpg"]


def test_max_seconds_does_not_charge_the_first_image_with_loading_the_cnn(work, capsys,
                                                                          monkeypatch):
    """--max-seconds 2 with an aspect change: the first photo of a run failed ("stopped after
    the energy map": the CNN and face detector loading in its budget, 3.7 s; a cold Numba
    cache compiles there too) where the same photo second took 0.2 s (CLI review 47). The
    compressor is warmed up with the run's settings before the first image, as the job's
    engine is (compress_core.warm_up), where a time budget is given."""
    import compress_core.cli as cli
    import compress_core.warm_up as warm

    events = []
    real_warm_up, real_process = warm.warm_up, cli._process

    def warming(compressor, request):
        events.append(("warm up", request.max_seconds, request.target_width))
        real_warm_up(compressor, request)

    def processing(*args, **kwargs):
        events.append(("image", args[3]))
        return real_process(*args, **kwargs)

    monkeypatch.setattr(warm, "warm_up", warming)
    monkeypatch.setattr(cli, "_process", processing)
    code, _, err = run(capsys, "photo.jpg", "--width", "96", "--height", "96",
                       "--max-seconds", "60", "-e", "gradient", "-q", "-o", "out/")
    assert code == 0, err
    assert events == [("warm up", 60.0, 96), ("image", "photo.jpg")]
    events.clear()
    code, _, err = run(capsys, "photo.jpg", "-s", "0.5", "-q", "-o", "out2/")
    assert code == 0 and events == [("image", "photo.jpg")], err


def test_visualize_energy(work, capsys):
    code, out, _ = run(capsys, "photo.jpg", "--visualize-energy", "-e", "gradient",
                       "-o", "energy_map.png")
    assert code == 0 and out.strip() == "photo.jpg -> energy_map.png"
    heat = np.asarray(decode((work / "energy_map.png").read_bytes()))
    assert heat.shape == (120, 180, 3)
    assert np.abs(heat.astype(int) - photo("chelsea", 180, 120)).mean() > 10
    code, _, _ = run(capsys, "photo.jpg", "--visualize-energy", "-e", "gradient")
    assert code == 0 and (work / "photo.jpg_energy.png").exists()


def test_visualize_energy_writes_the_format_its_output_names(work, capsys):
    """``--visualize-energy -o energy_map.jpg`` wrote PNG bytes into a .jpg file."""
    for name, fmt in (("energy_map.jpg", "JPEG"), ("energy_map.webp", "WEBP"),
                      ("seams_map.png", "PNG")):
        mode = ["--visualize-seams", "5"] if name.startswith("seams") else ["--visualize-energy"]
        code, _, err = run(capsys, "photo.jpg", *mode, "-e", "gradient", "-o", name)
        assert code == 0, err
        img = decode((work / name).read_bytes())
        assert img.format == fmt and img.size == (180, 120)


@pytest.mark.parametrize("argv, ignored", [
    (["--analyze", "-o", "stats.txt"], "-o would be ignored (drop it)"),
    (["--analyze", "--width", "100", "--quality", "80"],
     "--target-width, --quality would be ignored (drop them)"),
    (["--visualize-energy", "--width", "100"], "--target-width would be ignored"),
    (["--visualize-energy", "--keep-mask", "mask.png"], "--keep-mask would be ignored"),
    (["--visualize-seams", "5", "--format", "webp"], "--format would be ignored"),
])
def test_analysis_modes_refuse_flags_they_would_ignore(work, capsys, argv, ignored):
    """Review 12, O14: ``--analyze -o x`` printed to the terminal and wrote nothing, and
    ``--visualize-energy --width 100`` drew the map at the input's size, silently."""
    if "mask.png" in argv:
        (work / "mask.png").write_bytes(encode(np.full((120, 180), 255, np.uint8), "PNG"))
    before = sorted(p.name for p in work.iterdir())
    code, out, err = run(capsys, "photo.jpg", *argv, "-e", "gradient")
    assert code == 2 and out == ""
    seams = ", --energy-mode" if "--visualize-seams" in argv else ""
    assert (f"uses the energy options and --max-pixels only (--energy, --model{seams}); "
            f"{ignored}") in err
    assert sorted(p.name for p in work.iterdir()) == before  # nothing written


@pytest.mark.parametrize("argv, message", [
    (["--analyze", "--energy-mode", "forward"],
     "--analyze does not use --energy-mode forward (the seams' cost: --visualize-seams)"),
    (["--visualize-energy", "--quality-metric", "psnr", "-o", "map.png"],
     "--visualize-energy does not use --quality-metric psnr (it compares the candidates of a "
     "byte budget)"),
    (["--analyze", "--model", "vgg16"],
     "--analyze does not use --model vgg16 (--energy gradient runs no CNN)"),
])
def test_analysis_modes_refuse_engine_flags_they_would_ignore(work, capsys, argv, message):
    """Review 18: these ran and ignored the flag (the seams' energy mode is used by
    --visualize-seams only)."""
    code, out, err = run(capsys, "photo.jpg", *argv, "-e", "gradient")
    assert code == 2 and out == "" and message in err
    assert not (work / "map.png").exists()
    code, _, err = run(capsys, "photo.jpg", "--visualize-seams", "3", "-e", "gradient",
                       "--energy-mode", "forward", "-o", "seams.png")
    assert code == 0 and (work / "seams.png").exists(), err


@pytest.mark.parametrize("argv, message", [
    (["-s", "0.5", "--quality-metric", "psnr"], "--quality-metric psnr compares the candidates "
     "of a byte budget (--target-bytes), and there is none (drop it)"),
    (["-s", "0.5", "-m", "smart_crop", "--energy-mode", "forward"],
     "--energy-mode forward is the seams' cost, and --method smart_crop carves none (drop it)"),
    (["-m", "jpeg", "--quality", "80"], "--energy gradient makes the importance map, and "
     "--method jpeg with --allocation uniform reads none (drop it)"),
])
def test_engine_flags_the_compression_does_not_use_are_refused(work, capsys, argv, message):
    """Review 13, O6: accepted, they changed nothing but the output (byte-identical)."""
    code, out, err = run(capsys, "photo.jpg", "-e", "gradient", *argv)
    assert code == 2 and message in one_error_line(err)
    assert not (work / "photo.jpg_compressed.jpg").exists()
    assert run(capsys, "photo.jpg", "--max-dimension", "150", "--quality-metric", "psnr",
               "--target-bytes", "3000", "-q")[0] == 0
    # a size asked for keeps its size under the budget: one candidate, nothing to compare
    # (options review 48: the same bytes, no quality_score)
    code, _, err = run(capsys, "photo.jpg", "-s", "0.5", "--quality-metric", "psnr",
                       "--target-bytes", "3000", "-q")
    assert code == 2 and "a size target (--scale, --target-width or --target-height) keeps its " \
        "size" in one_error_line(err)


def test_visualize_seams_avoids_the_keep_mask(work, capsys):
    """--visualize-seams uses --keep-mask (the seams go around it): accepted."""
    mask = np.zeros((120, 180), np.uint8)
    mask[:, 60:120] = 255
    (work / "mask.png").write_bytes(encode(mask, "PNG"))
    code, _, err = run(capsys, "photo.jpg", "--visualize-seams", "20", "-e", "gradient",
                       "--keep-mask", "mask.png", "-o", "seams.png")
    assert code == 0, err
    drawn = np.asarray(decode((work / "seams.png").read_bytes()).convert("RGB"))
    red = (drawn[..., 0] == 255) & (drawn[..., 1] == 0) & (drawn[..., 2] == 0)
    assert red.sum() == 20 * 120 and not red[:, 60:120].any()


def test_visualize_seams(work, capsys):
    code, _, err = run(capsys, "photo.jpg", "--visualize-seams", "20", "-e", "gradient",
                       "-o", "seams.png")
    assert code == 0, err
    drawn = np.asarray(decode((work / "seams.png").read_bytes()).convert("RGB"))
    original = np.asarray(decode((work / "photo.jpg").read_bytes()))
    red = lambda a: (a[..., 0] == 255) & (a[..., 1] == 0) & (a[..., 2] == 0)  # noqa: E731
    assert red(original).sum() == 0
    assert drawn.shape == (120, 180, 3)
    assert (red(drawn).sum(axis=1) == 20).all()  # 20 seams: 20 pixels in every row
    np.testing.assert_array_equal(drawn[~red(drawn)], original[~red(drawn)])


def test_visualize_seams_says_when_the_picture_has_fewer_seams_than_asked(work, capsys):
    """--visualize-seams 1000 on a 180-pixel-wide picture drew its 179 seams, silently (edge
    review 36)."""
    code, _, err = run(capsys, "photo.jpg", "--visualize-seams", "1000", "-e", "gradient",
                       "-o", "seams.png")
    assert code == 0, err
    assert err.splitlines() == ["semantic-compress: warning: photo.jpg: --visualize-seams 1000: "
                                "a picture 180 pixels wide has 179 seams to draw"]
    drawn = np.asarray(decode((work / "seams.png").read_bytes()).convert("RGB"))
    red = (drawn[..., 0] == 255) & (drawn[..., 1] == 0) & (drawn[..., 2] == 0)
    assert (red.sum(axis=1) == 179).all()


# ------------------------------------------------------------- the original README's examples
def test_readme_cli_examples(work, capsys):
    """The README's commands, default (deep) energy where it gives none."""
    code, _, err = run(capsys, "photo.jpg", "--scale", "0.5", "-q")
    assert code == 0, err
    assert size_of(work / "photo.jpg_compressed.jpg") == (90, 60)
    code, _, err = run(capsys, "photo.jpg", "--width", "64", "--height", "64", "-o",
                       "thumb.webp", "-q")
    assert code == 0, err
    with Image.open(work / "thumb.webp") as im:
        assert (im.format, im.size) == ("WEBP", (64, 64))
    assert run(capsys, "photo.jpg", "--visualize-energy", "-o", "energy_map.png")[0] == 0
    assert size_of(work / "energy_map.png") == (180, 120)
    assert run(capsys, "photo.jpg", "--visualize-seams", "20", "-o", "seams.png")[0] == 0
    assert size_of(work / "seams.png") == (180, 120)
    code, out, _ = run(capsys, "photo.jpg", "--analyze")
    assert code == 0 and "high_importance_ratio" in out


def test_readme_resnet50_example_without_weights(work, capsys):
    """-e deep --model resnet50 offline with no weights: one line naming the file to fetch."""
    backbones.clear_model_cache()
    code, _, err = run(capsys, "photo.jpg", "--width", "96", "--height", "96", "-e", "deep",
                       "--model", "resnet50", "-m", "hybrid")
    assert code == 2
    line = one_error_line(err)
    assert "resnet50-11ad3fa6.pth" in line and str(work / "torch") in line
    assert "https://download.pytorch.org/models/resnet50-11ad3fa6.pth" in line
    # the ways a command line can give the file (the folder named, or TORCH_HOME's); the
    # library's weights_path= has no flag (docs review 28: the hint offered only that)
    assert "TORCH_HOME" in line and "or pass weights_path" not in line


def test_readme_resnet50_example_with_weights_in_the_hub_cache(work, capsys):
    """The same command once the weights file is where the message says (a seeded state dict
    of the right architecture stands in for the real download)."""
    spec = backbones.get_backbone_spec("resnet50")
    folder = backbones.hub_checkpoint_dir()
    folder.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(spec.build().state_dict(), folder / spec.weights_file_name)
    backbones.clear_model_cache()
    try:
        code, out, err = run(capsys, "photo.jpg", "--width", "96", "--height", "96", "-e",
                             "deep", "--model", "resnet50", "-m", "hybrid", "--json", "-q")
    finally:
        backbones.clear_model_cache()
    assert code == 0, err
    record = json.loads(out)
    assert record["energy"]["model_name"] == "resnet50"
    assert record["output_size"] == [96, 96]


# ------------------------------------------------------------- bad arguments and inputs
@pytest.mark.parametrize("argv, match", [
    (["missing.jpg", "-s", "0.5"], "missing.jpg: no such file"),
    (["notes.txt", "-s", "0.5"], "notes.txt: not a recognised image format"),
    (["empty.jpg", "-s", "0.5"], "empty.jpg: empty file"),
    (["truncated.jpg", "-s", "0.5"], r"truncated.jpg: the file is cut short \(truncated\): the "
                                     "picture ends early"),
    # the library's errors for one image are said in the flags typed; the path as it is
    (["photo.jpg", "--target-bytes", "10"], "photo.jpg: --target-bytes 10 cannot be met: the "
                                            "smallest JPEG encoding found is"),
    (["photo.jpg", "-s", "0.5", "--max-pixels", "1000"],
     r"photo.jpg: 180x120 = 21,600 pixels exceeds the limit of 1,000 \(--max-pixels\)$"),
    (["photo.jpg", "-s", "0.5", "--keep-mask", "missing_mask.png"], "missing_mask.png"),
    (["photo.jpg", "-m", "seam_carving", "-s", "0.5", "--remove-mask", "other.png"],
     r"--remove-mask must be a 2-D array with the image's shape \(120, 180\) \(180x120 "
     r"pixels\); got \(\d+, \d+\) \(\d+x\d+ pixels\)"),
    (["missing.jpg", "--analyze"], "missing.jpg: no such file"),
    (["missing.jpg", "--visualize-energy"], "missing.jpg: no such file"),
])
def test_unusable_input_is_one_line_and_exit_2(work, capsys, argv, match):
    # (-e gradient where a map is computed: a faster map; the other targets compute none)
    extra = ["-e", "gradient"] if {"-m", "--analyze", "--visualize-energy"} & set(argv) else []
    code, out, err = run(capsys, *argv, *extra)
    assert code == 2
    assert re.search(match, one_error_line(err)), err


def test_an_output_larger_than_its_input_is_warned_of(work, capsys):
    """A JPEG written as PNG at half its size is larger than the JPEG: written, with a warning
    (the job warns of it too; the command line said only "(142.6%)", CLI review 25)."""
    code, out, err = run(capsys, "photo.jpg", "-s", "0.5", "-o", "t.png")
    larger = os.path.getsize(work / "t.png") > os.path.getsize(work / "photo.jpg")
    assert code == 0 and larger
    assert err.strip() == (f"semantic-compress: warning: photo.jpg: the output "
                           f"({os.path.getsize(work / 't.png'):,} bytes) is larger than the "
                           f"input ({os.path.getsize(work / 'photo.jpg'):,} bytes)")
    code, out, err = run(capsys, "photo.jpg", "-s", "0.5", "-o", "t.jpg")
    assert code == 0 and err == ""


def test_a_missing_mask_is_said_once_before_any_image(work, capsys):
    """--keep-mask naming no file, with two images: an error per image, each after its
    decode (CLI review 25); the README says option values are checked once, before any image
    is read. One line, nothing written."""
    code, _, err = run(capsys, "photo.jpg", "other.png", "-s", "0.5",
                       "--keep-mask", "nomask.png", "-o", "out/")
    assert code == 2
    assert one_error_line(err) == ("semantic-compress: error: --keep-mask nomask.png: no such "
                                   "file; nothing was read")
    assert not (work / "out").exists()
    # a mask that nothing would read: refused once with the other options, not after each
    # image was read, as that image's error (CLI review 37)
    Image.fromarray(np.zeros((120, 180), np.uint8)).save(work / "mask.png")
    code, out, err = run(capsys, "photo.jpg", "other.png", "-m", "jpeg",
                         "--keep-mask", "mask.png", "-o", "out/")
    assert code == 2 and out == "" and not (work / "out").exists()
    line = [line for line in err.splitlines() if "error" in line]
    assert len(line) == 1 and "--keep-mask protects pixels from seams and crops" in line[0]
    assert "photo.jpg" not in line[0]


@pytest.mark.parametrize("argv, match", [
    ([], "the following arguments are required: IMAGE"),
    (["photo.jpg", "--bogus"], "unrecognized arguments: --bogus$"),
    # a typo, or the job's spelling, is answered with the flag meant (both were "unrecognized
    # arguments" and no more)
    (["photo.jpg", "-s", "0.5", "--target-widht", "3"],
     r"unrecognized arguments: --target-widht 3 \(did you mean --target-width\?\)$"),
    (["photo.jpg", "-s", "0.5", "--max_stretch=1.2"],
     r"unrecognized arguments: --max_stretch=1.2 \(did you mean --max-stretch\?\)$"),
    (["photo.jpg", "-s", "0.5", "--no_preserve_aspect"],
     r"\(did you mean --no-preserve-aspect\?\)$"),
    (["photo.jpg", "-s", "0.5", "--qiet"], r"\(did you mean --quiet\?\)$"),
    (["photo.jpg", "-m", "shrink"], "argument -m/--method: invalid choice: 'shrink'"),
    (["photo.jpg", "-e", "magic"], "argument -e/--energy: invalid choice: 'magic' \\(choose "
                                   "from 'gradient', 'saliency', 'deep', 'blend', 'hybrid'\\)"),
    (["photo.jpg", "-s", "half"], "argument -s/--scale: invalid float value: 'half'"),
    (["photo.jpg", "--width", "1.5"], "argument --width/--target-width: invalid int value"),
    (["photo.jpg", "--format", "gif"], "argument --format: invalid choice: 'gif'"),
    (["photo.jpg", "--visualize-seams", "0"], "--visualize-seams must be a positive number"),
    (["photo.jpg", "-s", "0.5", "--remove-mask", "m.png"],
     "--remove-mask needs --method seam_carving"),
    # option values are checked once, before any image is read
    (["photo.jpg"], "give at least one target"),
    (["photo.jpg", "-s", "-1"], "scale must be a positive finite number"),
    (["photo.jpg", "-s", "0"], "scale must be a positive finite number"),
    (["photo.jpg", "-s", "0.5", "--quality", "500"],
     r"quality must be an integer in the output format's range \(jpeg 1\.\.100"),
    (["photo.jpg", "-s", "0.5", "--format", "jpeg", "--quality", "101"],
     r"error: --quality must be an integer in 1\.\.100 for jpeg or 'auto'; got 101$"),
    (["photo.jpg", "-s", "0.5", "--max-stretch", "0.9"],
     "--max-stretch must be a finite number >= 1"),
    (["photo.jpg", "-m", "jpeg", "-s", "0.5"],
     "--method jpeg re-encodes without resizing; use --method hybrid, --method seam_carving or "
     "--method smart_crop with size targets"),
    (["photo.jpg", "-s", "0.5", "-e", "deep", "--model", "alexnet"],
     "argument --model: invalid choice: 'alexnet' \\(choose from 'efficientnet_lite0', 'vgg16'"),
])
def test_bad_arguments_are_one_line_and_exit_2(work, capsys, argv, match):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    line = err.strip()
    assert "\n" not in line and line.startswith("semantic-compress: error: ")
    assert re.search(match, line), line


def test_missing_face_detector_package_is_one_line_and_exit_2(work, capsys, monkeypatch):
    """``pip install .`` does not install facenet-pytorch (it goes in with --no-deps); the
    default energy then raised an ImportError that the command line printed as a traceback."""
    from compress_core.energy import faces

    monkeypatch.setitem(sys.modules, "facenet_pytorch", None)  # import fails
    monkeypatch.setattr(faces, "_MODELS", {})
    code, out, err = run(capsys, "photo.jpg", "--width", "90", "--height", "90", "-q")
    assert code == 2 and out == ""
    line = one_error_line(err)
    assert "photo.jpg: face detection needs the 'facenet-pytorch' package" in line
    assert "pip install --no-deps facenet-pytorch==2.6.0" in line
    assert not (work / "photo.jpg_compressed.jpg").exists()


def test_one_bad_image_among_good_ones(work, capsys):
    code, out, err = run(capsys, "photo.jpg", "notes.txt", "other.png", "-s", "0.5",
                         "-o", "out", "--json")
    assert code == 2
    assert "notes.txt" in one_error_line(err)
    records = json.loads(out)
    assert [r["status"] for r in records] == ["ok", "error", "ok"]
    assert records[1]["error_type"] == "NotAnImageError"  # (a text file: no picture)
    assert (work / "out" / "photo.jpg_compressed.jpg").exists()
    assert (work / "out" / "other.png_compressed.jpg").exists()


def test_max_seconds_stops_a_slow_image_and_goes_on(work, capsys):
    """A budget too small for a big seam carve: that image is an error, the next one is done."""
    from skimage import data

    big = np.ascontiguousarray(np.tile(data.astronaut(), (2, 3, 1)))  # 1536 x 1024
    (work / "big.png").write_bytes(encode(big, "PNG"))
    run(capsys, "other.png", "-m", "seam_carving", "-s", "0.9", "-e", "gradient", "-q")  # warm
    code, out, err = run(capsys, "big.png", "other.png", "-m", "seam_carving", "-s", "0.4",
                         "-e", "gradient", "--max-seconds", "0.3", "-o", "out", "--json")
    assert code == 2
    records = json.loads(out)
    assert [r["status"] for r in records] == ["error", "ok"]
    assert records[0]["error_type"] == "CompressionTimeoutError"
    assert "0.3 s" in one_error_line(err)
    assert not (work / "out" / "big.png_compressed.jpg").exists()
    assert (work / "out" / "other.png_compressed.jpg").exists()
    code, out, err = run(capsys, "other.png", "-s", "0.5", "--max-seconds", "0")
    assert code == 2 and "--max-seconds must be a positive finite number" in one_error_line(err)


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"semantic-compress {build_id()}"
    assert build_id().startswith(f"{__version__}+")   # (the manifest's library_version)


# ------------------------------------------------------------- the real entry point
def test_python_dash_m_semantic_compress(work):
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.run(
        [sys.executable, "-m", "semantic_compress", "photo.jpg", "missing.jpg", "-s", "0.5",
         "-o", "outdir", "--json"],
        cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    records = json.loads(proc.stdout)
    assert records[0]["status"] == "ok" and records[0]["output_size"] == [90, 60]
    assert records[1]["error_type"] == "ImageReadError"
    assert size_of(work / "outdir" / "photo.jpg_compressed.jpg") == (90, 60)
    # the last line says what was written (README review 39: the error alone, as if nothing)
    assert proc.stderr.strip().splitlines() == [
        "semantic-compress: error: missing.jpg: no such file",
        "semantic-compress: 1 of 2 images failed; 1 written"]


#: The command line with an fsspec store ``flaky://`` whose reads log their failure with a
#: traceback, as gcsfs does when it runs out of retries, then raise it.
_FLAKY_STORE = """
import logging, sys
import fsspec
from fsspec.spec import AbstractFileSystem

class Flaky(AbstractFileSystem):
    protocol = "flaky"
    def cat_file(self, path, start=None, end=None, **kwargs):
        try:
            raise ConnectionError("Cannot connect to host flaky.example:443")
        except ConnectionError:
            logging.getLogger("flakyfs").exception("_request out of retries")
            raise

fsspec.register_implementation("flaky", Flaky)
from compress_core.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("verbose", [False, True])
def test_another_packages_failure_is_one_line_unless_verbose(work, verbose):
    """A gs:// input offline printed 157 lines: gcsfs logs its last retry's traceback above the
    image's own one-line error (CLI review 47). Another package's records are one line each;
    --verbose keeps their tracebacks."""
    proc = subprocess.run([sys.executable, "-c", _FLAKY_STORE, "flaky://bucket/photo.jpg",
                           "-s", "0.5"] + (["-v"] if verbose else []),
                          cwd=work, env=dict(os.environ, PYTHONPATH=REPO),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if "compress_core" not in line]
    said = ["ERROR flakyfs: _request out of retries",
            "semantic-compress: error: flaky://bucket/photo.jpg: cannot read (ConnectionError: "
            "Cannot connect to host flaky.example:443)"]
    if verbose:
        assert lines[0] == said[0] and lines[-1] == said[1]
        assert "Traceback (most recent call last):" in lines
    else:
        assert lines == said, proc.stderr

def test_a_pattern_stdin_and_names_in_capitals(work, capsys):
    """README review 39: a quoted pattern was "no such file" alone (the command line matches
    no patterns; a store's URI cannot be expanded by the shell), '-' likewise (-o - said
    standard output is not supported), and --format JPEG was refused where --quality AUTO
    ran."""
    code, out, err = run(capsys, "p*.jpg", "-s", "0.5")
    assert code == 2 and one_error_line(err) == (
        "semantic-compress: error: p*.jpg: no such file; the command line matches no "
        "patterns itself: the shell expands an unquoted one where files match it (or run the "
        "batch job: python -m pipeline --input)")
    code, out, err = run(capsys, "-")   # (said before the missing size target: diff review 39)
    assert code == 2 and one_error_line(err).endswith(
        "-: standard input is not supported; give the image's file")
    code, out, err = run(capsys, "photo.jpg", "-s", "0.5", "--format", "JPEG", "-m", "Hybrid",
                         "-o", "x.jpg")
    assert code == 0 and size_of(work / "x.jpg") == (90, 60)
    # "-" for "_", as the library takes it (options review 41: refused here)
    code, out, err = run(capsys, "photo.jpg", "-s", "0.5", "-m", "Smart-Crop", "-o", "y.jpg")
    assert code == 0 and size_of(work / "y.jpg") == (90, 60)
    with pytest.raises(SystemExit):   # a wrong name is refused as typed (diff review 39)
        main(["photo.jpg", "-s", "0.5", "--format", "JEPG"])
    assert "invalid choice: 'JEPG' (choose from 'auto', 'jpeg'" in capsys.readouterr().err


def test_verbose_is_this_tools_debug_lines_not_every_packages(work):
    """-v: the CNN energy's debug line, not Pillow's 49 plugin-import lines (CLI review 25)."""
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.run(
        [sys.executable, "-m", "semantic_compress", "photo.jpg", "--width", "90", "--height",
         "90", "-v", "-q"],
        cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "DEBUG compress_core.energy.deep: deep energy" in proc.stderr
    assert not [line for line in proc.stderr.splitlines() if " PIL" in line], proc.stderr
    # and what was decided (README review 39: the weights' line alone)
    assert re.search(r"DEBUG compress_core.compressor: photo.jpg: 180x120 -> 90x90, hybrid "
                     r"\(crop \(\d+, 0, \d+, 120\)\), stretch 1\.0\d+, seams .*JPEG quality \d+, "
                     r"\d+ bytes; decode", proc.stderr), proc.stderr


def test_max_pixels_above_pillows_own_limit_is_let_through(work, capsys, monkeypatch):
    """The command line's process is its own: --max-pixels lifts Pillow's limit too (which
    refuses pictures over twice PIL.Image.MAX_IMAGE_PIXELS whatever --max-pixels says)."""
    from PIL import Image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)   # (photo.jpg: 21,600 pixels)
    code, _, err = run(capsys, "photo.jpg", "-s", "0.5", "-q",
                       "--max-pixels", "30000")
    assert code == 0, err
    assert size_of(work / "photo.jpg_compressed.jpg") == (90, 60)


# ------------------------------------------------------------- every option is a flag
#: For each option of compress_core.request.OPTIONS: a command-line value other than the
#: default, the value the library must receive, and flags it needs beside it. A new option
#: fails test_every_library_option_reaches_the_library until it is listed here.
CLI_EXAMPLES = {
    "scale": (["-s", "0.25"], 0.25, []),
    "target_width": (["--target-width", "90"], 90, []),
    "target_height": (["--height", "60"], 60, []),
    "target_pixels": (["--target-pixels", "5000"], 5000, []),
    "max_dimension": (["--max-dimension", "100"], 100, []),
    "target_bytes": (["--target-bytes", "4000"], 4000, []),
    "preserve_aspect": (["--no-preserve-aspect"], False, []),
    "method": (["-m", "smart_crop"], "smart_crop", []),
    "max_stretch": (["--max-stretch", "1.2"], 1.2, []),
    "energy": (["-e", "saliency"], "saliency", []),
    "model": (["--model", "resnet18"], "resnet18", []),
    "energy_mode": (["--energy-mode", "forward"], "forward", []),
    "keep_mask": (["--keep-mask", "mask.png"], "mask", []),
    "remove_mask": (["--remove-mask", "mask.png"], "mask", ["-m", "seam_carving"]),
    "format": (["--format", "webp"], "webp", []),
    "photo_format": (["--photo-format", "avif"], "avif", []),
    "quality": (["--quality", "99"], 99, []),
    "target_quality": (["--target-quality", "80"], 80.0, []),
    "allocation": (["--allocation", "semantic"], "semantic", []),
    "metadata": (["--metadata", "keep"], "keep", []),
    "quality_metric": (["--quality-metric", "psnr"], "psnr", ["--target-bytes", "4000"]),
    "max_pixels": (["--max-pixels", "1000000"], 1000000, []),
    "max_seconds": (["--max-seconds", "30"], 30.0, []),
}


_SIZE_TARGETS = ("scale", "target_width", "target_height", "target_pixels", "max_dimension",
                 "target_bytes")


def test_every_library_option_reaches_the_library(work, capsys, monkeypatch):
    """Each option given on the command line arrives in compress() (or, for the engine's
    options, in the compressor the command line builds), with the value given."""
    from compress_core import GradientEnergyFunction, SemanticCompressor
    from compress_core.errors import SemanticCompressError
    from compress_core.request import OPTIONS

    assert set(CLI_EXAMPLES) == {o.name for o in OPTIONS}
    mask = np.zeros((120, 180), np.uint8)
    mask[10:50, 5:35] = 255
    (work / "mask.png").write_bytes(encode(mask, "PNG"))
    seen = {}

    def from_request(cls, request, policy=None):
        seen["request"] = request
        return cls(energy_function=GradientEnergyFunction())

    def compress(self, image, **kwargs):
        seen["kwargs"] = kwargs
        raise SemanticCompressError("stopped by the test")

    monkeypatch.setattr(SemanticCompressor, "from_request", classmethod(from_request))
    monkeypatch.setattr(SemanticCompressor, "compress", compress)
    for opt in OPTIONS:
        flags, expected, extra = CLI_EXAMPLES[opt.name]
        assert expected != opt.default, opt.name
        # (a byte budget is a target: with -s too, --quality-metric would compare nothing)
        base = [] if opt.name in _SIZE_TARGETS or "--target-bytes" in extra else ["-s", "0.5"]
        seen.clear()
        code, _, err = run(capsys, "photo.jpg", *base, *extra, *flags)
        assert code == 2 and "stopped by the test" in err, (opt.name, err)
        if opt.scope == "engine":
            got = getattr(seen["request"], opt.name)
        else:
            got = seen["kwargs"][opt.name]
        if expected == "mask":
            assert np.array_equal(got, mask > 0), opt.name
        else:
            assert got == expected, (opt.name, got)


def test_quality_auto_with_a_target_score(work, capsys):
    code, out, err = run(capsys, "photo.jpg", "-s", "0.5", "-q", "--json",
                         "--format", "webp", "--quality", "auto", "--target-quality", "60")
    assert code == 0, err
    record = json.loads(out)
    assert record["format"] == "WEBP" and 1 <= record["quality"] <= 100


# ------------------------------------------------------------- review 12 (F03-F06)
def test_visualize_seams_of_a_one_pixel_wide_image_names_the_flag(work, capsys):
    (work / "strip.png").write_bytes(encode(photo("chelsea", 180, 120)[:, :1].copy(), "PNG"))
    code, _, err = run(capsys, "strip.png", "--visualize-seams", "5", "-e", "gradient")
    assert code == 2
    assert "--visualize-seams needs an image at least 2 pixels wide" in one_error_line(err)


def test_a_long_input_name_gets_an_output_name_that_fits(work, capsys):
    """A 240-byte file name plus '_compressed.jpg' is over the 255 bytes a file name may have:
    the output was an '[Errno 36] File name too long' after the work was done."""
    long_name = "é" * 100 + "x" * 36 + ".jpg"   # 240 bytes
    (work / long_name).write_bytes((work / "photo.jpg").read_bytes())
    (work / "out").mkdir()
    for argv in ([long_name], [long_name, "photo.jpg", "-o", "out"]):
        code, out, err = run(capsys, *argv, "-s", "0.5", "-q", "--json")
        assert code == 0, err
        records = json.loads(out)
        record = records[0] if isinstance(records, list) else records
        name = os.path.basename(record["output"])
        assert len(name.encode()) <= 255 and name.endswith("_compressed.jpg")
        assert re.search(r"~[0-9a-f]{12}_compressed\.jpg$", name)
        assert size_of(record["output"]) == (90, 60)


def test_a_long_input_name_with_a_backslash_stays_one_file_name(work, capsys):
    """A backslash is a character of a Linux file name; cutting a long name reads it as a
    folder separator: the output is still one file beside the input, not a file in a folder
    named after the first half of the name."""
    long_name = "trip\\" + "x" * 232 + ".jpg"   # 241 bytes, one file name
    (work / long_name).write_bytes((work / "photo.jpg").read_bytes())
    code, out, err = run(capsys, long_name, "-s", "0.5", "-q", "--json")
    assert code == 0, err
    output = json.loads(out)["output"]
    assert os.path.dirname(output) == "." and "\\" not in output and "/" not in \
        os.path.basename(output)
    assert sorted(os.listdir(work)) == sorted(
        ["photo.jpg", "other.png", "notes.txt", "empty.jpg", "truncated.jpg", long_name,
         os.path.basename(output)])
    assert size_of(output) == (90, 60)


@pytest.mark.parametrize("output, named", [("thumb.gif", "GIF"), ("thumb.tif", "TIFF"),
                                           ("thumb.bmp", "BMP"), ("thumb.heic", "HEIF"),
                                           ("thumb.dng", "camera RAW (DNG)"),
                                           ("thumb.svg", "SVG")])
@pytest.mark.parametrize("mode", [[], ["--visualize-energy"]])
def test_an_output_file_named_for_a_format_not_written_is_refused(work, capsys, output, named,
                                                                  mode):
    """-o thumb.gif wrote JPEG bytes under a .gif name (exit 0); -o thumb.heic, a format the
    library reads but does not write, and -o thumb.svg did still (edge review 35)."""
    size = ["-e", "gradient"] if mode else ["-s", "0.5"]  # (the energy map takes no size)
    code, _, err = run(capsys, "photo.jpg", *size, "-o", output, *mode)
    assert code == 2
    assert f"-o {output} names {named}" in one_error_line(err)
    assert not (work / output).exists()


@pytest.mark.parametrize("mode", [[], ["--visualize-energy"]])
def test_a_store_that_cannot_be_written_is_one_error_line(work, capsys, monkeypatch, mode):
    """s3fs without credentials raises botocore's NoCredentialsError, no OSError: the command
    line printed its traceback and exited with status 1."""
    NoCredentialsError = type("NoCredentialsError", (Exception,), {})

    def refuse(uri, data, storage_options=None):
        raise NoCredentialsError("Unable to locate credentials")

    monkeypatch.setattr("compress_core.result.write_atomic", refuse)
    monkeypatch.setattr("compress_core.storage.write_atomic", refuse)
    size = ["-e", "gradient"] if mode else ["-s", "0.5"]  # (the energy map takes no size)
    code, _, err = run(capsys, "photo.jpg", *size, "-q",
                       "-o", "s3://bucket/thumb.jpg", *mode)
    assert code == 2
    assert one_error_line(err).endswith("photo.jpg: cannot write s3://bucket/thumb.jpg "
                                        "(NoCredentialsError: Unable to locate credentials)")


@pytest.mark.parametrize("output, source, named", [
    ("thumb.jfif", "graphic.png", "JPEG"), ("thumb.JFIF", "graphic.png", "JPEG"),
    ("thumb.apng", "photo.jpg", "PNG"), ("thumb.avifs", "graphic.png", "AVIF")])
def test_every_suffix_of_a_written_format_picks_it(work, capsys, output, source, named):
    """-o thumb.jfif (Windows' name for JPEGs saved from a browser) or thumb.apng: suffixes
    Pillow gives JPEG and PNG, which format auto did not read as theirs, so a graphic was
    written as lossless WebP under .jfif, a photo as JPEG under .apng (exit 0)."""
    graphic = np.zeros((120, 160, 3), np.uint8)
    graphic[20:60, 30:90] = (200, 30, 30)
    (work / "graphic.png").write_bytes(encode(graphic, "PNG"))
    code, _, err = run(capsys, source, "-s", "0.5", "-q", "-o", output)
    assert code == 0, err
    with open(work / output, "rb") as fh:
        assert decode(fh.read()).format == named


@pytest.mark.parametrize("mode", [[], ["--visualize-energy"]])
def test_output_to_standard_output_is_refused(work, capsys, mode):
    """-o - (standard output, as many tools take it) wrote a file named '-' in the working
    folder, and printed 'photo.jpg -> -' (exit 0)."""
    code, out, err = run(capsys, "photo.jpg", "-s", "0.5", "-q", "-o", "-",
                         *mode)
    assert code == 2 and out == ""
    assert "-o -: standard output is not supported" in err.strip().splitlines()[-1]
    assert not (work / "-").exists()


def test_energy_options_a_target_that_keeps_the_aspect_does_not_use_are_warned_of(work, capsys):
    """New user's review 30: at a scale (the whole picture scaled, no importance map) --energy,
    --model, --energy-mode and --max-stretch change nothing, and --model resnet50 ran without
    its weights in silence. Said once, before the images; the output is the same as without
    them; a target that changes the aspect uses them and says nothing."""
    code, out, err = run(capsys, "photo.jpg", "-s", "0.5", "--model", "resnet50",
                         "--energy-mode", "forward", "--max-stretch", "1.2", "-q", "-o", "a.jpg")
    assert code == 0, err
    assert err.splitlines() == [
        "semantic-compress: warning: --model resnet50, --energy-mode forward, --max-stretch 1.2 "
        "change nothing here: these targets keep every picture's aspect, so the whole picture "
        "is scaled and no importance map is computed (they shape targets that change the "
        "aspect: a width and a height)"]
    code, _, err = run(capsys, "photo.jpg", "-s", "0.5", "-e", "gradient", "-q", "-o", "d.jpg")
    assert code == 0 and "warning: --energy gradient changes nothing here" in err
    code, _, err = run(capsys, "photo.jpg", "-s", "0.5", "-q", "-o", "b.jpg")
    assert code == 0 and err == ""
    assert (work / "a.jpg").read_bytes() == (work / "b.jpg").read_bytes() == (
        work / "d.jpg").read_bytes()
    code, _, err = run(capsys, "photo.jpg", "--width", "60", "--height", "60", "-e", "gradient",
                       "-q", "-o", "c.jpg")
    assert code == 0 and err == "", err


def test_an_output_folder_that_cannot_be_written_is_said_before_any_image(work, capsys):
    """New user's review 30: -o /sys/kernel/ was found unwritable after every image had been
    compressed (7 s for six photos), one line per image naming a hidden temporary file. Now
    one line before the first image, as the job's launch check says it (the same check)."""
    (work / "afile").write_bytes(b"not a folder")
    code, out, err = run(capsys, "photo.jpg", "other.png", "-s", "0.5", "-q",
                         "-o", "afile/out/")
    assert code == 2 and out == ""
    assert one_error_line(err) == (
        f"semantic-compress: error: -o afile/out/: cannot be made, {work / 'afile'} is not a "
        "folder; nothing was written")
    code, out, err = run(capsys, "photo.jpg", "-s", "0.5", "-q", "-o", "afile/x.jpg")
    assert code == 2 and "-o afile/x.jpg: cannot be made" in one_error_line(err)
    code, _, err = run(capsys, "photo.jpg", "-s", "0.5", "-q", "-o", "new/deeper/")
    assert code == 0, err
    assert os.listdir(work / "new" / "deeper") == ["photo.jpg_compressed.jpg"]
    # an existing output named by a file:// URI is written again (diff review 30: the check
    # had taken the URI for a path, and the file for the folder to write into)
    uri = f"file://{work / 'uri.jpg'}"
    for _ in range(2):
        code, _, err = run(capsys, "photo.jpg", "-s", "0.5", "-q", "-o", uri)
        assert code == 0, err


def test_a_missing_package_is_one_line_before_any_image(tmp_path, capsys, monkeypatch):
    """Options review 48: --format jxl without pillow-jxl-plugin and --allocation semantic
    without jpeglib failed each image (the latter after its map and quality search); the job
    stops at launch. The command line says it once, before reading any image, exit 2."""
    from compress_core import cli
    from compress_core.codec import formats

    monkeypatch.setattr(formats, "installed", lambda module: module not in ("jpeglib",
                                                                            "pillow_jxl"))
    from compress_core.codec import coefficients

    monkeypatch.setattr(coefficients, "installed", formats.installed)
    for flags, said in ((["--format", "jxl"], "--format jxl: format 'jxl' cannot be written"),
                        (["--photo-format", "jxl"], "--photo-format jxl: "),
                        (["-o", str(tmp_path / "x.jxl")], f"-o {tmp_path / 'x.jxl'}: "),
                        (["--allocation", "semantic"], "--allocation semantic: rewriting JPEG "
                                                       "coefficients needs the package jpeglib")):
        code = None
        try:
            code = cli.main([str(tmp_path / "missing.jpg"), "-s", "0.5", "-q", *flags])
        except SystemExit as stop:
            code = stop.code
        err = capsys.readouterr().err
        assert code == 2 and said in err and "missing.jpg" not in err, (flags, err)


def test_an_input_in_a_bucket_that_another_inputs_output_would_replace_is_refused(
        work, capsys, monkeypatch, s3_server, s3_bucket):
    """s3://b/x.png and s3://b/x.png_compressed.jpg (a photo) without -o: x.png's output
    replaced the photo before it was read, and the photo was lost; on a disk the same two files
    were refused (S3 review 49). -o naming an object of a bucket with several images was
    written below it as a folder; an existing local file is refused."""
    import s3fs

    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
    fs = s3fs.S3FileSystem(endpoint_url=s3_server, skip_instance_cache=True)
    photo_bytes = (work / "photo.jpg").read_bytes()
    fs.pipe(f"{s3_bucket}/t/x.png", (work / "other.png").read_bytes())
    fs.pipe(f"{s3_bucket}/t/x.png_compressed.jpg", photo_bytes)
    fs.pipe(f"{s3_bucket}/out/thumb.jpg", b"an existing file")
    code, _, err = run(capsys, f"s3://{s3_bucket}/t/x.png",
                       f"s3://{s3_bucket}/t/x.png_compressed.jpg", "-s", "0.5")
    assert code == 2
    assert "would replace it before it is read" in one_error_line(err)
    assert fs.cat(f"{s3_bucket}/t/x.png_compressed.jpg") == photo_bytes
    code, _, err = run(capsys, f"s3://{s3_bucket}/t/x.png", f"s3://{s3_bucket}/t/x.png",
                       "-s", "0.5", "-o", f"s3://{s3_bucket}/out/thumb.jpg")
    assert code == 2
    code, _, err = run(capsys, f"s3://{s3_bucket}/t/x.png",
                       f"s3://{s3_bucket}/t/x.png_compressed.jpg", "-s", "0.5",
                       "-o", f"s3://{s3_bucket}/out/thumb.jpg")
    assert code == 2
    assert one_error_line(err).endswith(f"-o s3://{s3_bucket}/out/thumb.jpg is a file; with "
                                        "several images -o is a folder; nothing was written")
    fs.invalidate_cache()
    assert fs.find(f"{s3_bucket}/out/") == [f"{s3_bucket}/out/thumb.jpg"]


def test_a_bucket_given_as_the_output_is_a_folder(work, capsys, monkeypatch, s3_server,
                                                  s3_bucket):
    """``-o s3://bucket`` with one image compressed it, then failed with botocore's two-line
    "Parameter validation failed" (the bucket taken as a file without a key; S3 review 49):
    a bucket is a folder."""
    import s3fs

    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
    code, _, err = run(capsys, str(work / "photo.jpg"), "-s", "0.5", "-q",
                       "-o", f"s3://{s3_bucket}")
    assert code == 0, err
    fs = s3fs.S3FileSystem(endpoint_url=s3_server, skip_instance_cache=True)
    assert fs.ls(s3_bucket) == [f"{s3_bucket}/photo.jpg_compressed.jpg"]


def test_a_jpeg_beside_its_photo_is_no_clash_for_jpeg_xl_outside_archive_mode(work, capsys):
    """Diff review 2, 49: --format jxl outside archive mode (a size target, or a quality)
    writes .jxl only, yet x.jpg beside an earlier run's x.jpg_compressed.jpg was refused as if
    that JPEG would be replaced; archive mode (-m jpeg --format jxl, no quality) may keep the
    JPEG file as it is, and is still refused."""
    earlier = encode(photo("coffee", 60, 40), "JPEG", quality=80)
    (work / "photo.jpg_compressed.jpg").write_bytes(earlier)
    code, _, err = run(capsys, "photo.jpg", "photo.jpg_compressed.jpg", "-s", "0.5", "-q",
                       "--format", "jxl")
    assert code == 0, err
    assert (work / "photo.jpg_compressed.jpg").read_bytes() == earlier
    assert (work / "photo.jpg_compressed.jxl").exists()
    code, _, err = run(capsys, "photo.jpg", "photo.jpg_compressed.jpg", "-m", "jpeg", "-q",
                       "--format", "jxl")
    assert code == 2 and "would replace it before it is read" in err


@pytest.mark.parametrize("blank", ["", " ", "\t"])
def test_a_blank_output_name_is_refused_not_written(work, capsys, blank):
    """-o "$OUT" with OUT unset or blank: refused before any image, no file named ' '."""
    code, out, err = run(capsys, "photo.jpg", "-s", "0.5", "-o", blank)
    assert code == 2 and out == "" and "empty (an unset shell variable?)" in err
    assert sorted(os.listdir(work)) == ["empty.jpg", "notes.txt", "other.png", "photo.jpg",
                                        "truncated.jpg"]


def test_one_image_into_an_existing_folder_named_without_a_slash(work, capsys):
    """-o out, out being a folder: the output goes into it under its own name (it is no file
    to write over), and a second run finds it there."""
    (work / "out").mkdir()
    code, out, err = run(capsys, "photo.jpg", "-s", "0.5", "-o", "out", "--json")
    assert code == 0, err
    assert json.loads(out)["output"] == os.path.join("out", "photo.jpg_compressed.jpg")
    assert os.listdir(work / "out") == ["photo.jpg_compressed.jpg"]
    assert size_of(work / "out" / "photo.jpg_compressed.jpg") == (90, 60)


def test_an_unreadable_input_is_named_once_in_its_error_line(work, capsys):
    """The library's message starts with the input's name; the line says it once."""
    code, _, err = run(capsys, "missing.jpg", "photo.jpg", "-s", "0.5", "-o", "out")
    assert code == 2
    assert one_error_line(err) == "semantic-compress: error: missing.jpg: no such file"
    assert err.splitlines()[-1] == "semantic-compress: 1 of 2 images failed; 1 written"
