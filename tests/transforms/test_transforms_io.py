"""Storage helpers (transforms/io.py): names, matching, atomic writes, storage options."""
import os

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from compress_core.errors import ImageReadError
from transforms import io as tio


# --------------------------------------------------------------------------- output names

@pytest.mark.parametrize("rel, expected", [
    ("a/b/photo.jpg", "a/b/photo.jpg"),
    ("../../etc/passwd", "etc/passwd"),
    ("/etc/passwd", "etc/passwd"),
    ("a/./b/../c.jpg", "a/b/c.jpg"),
    ("..\\..\\windows\\win.ini", "windows/win.ini"),
    ("a//b///c.png", "a/b/c.png"),
    ("...", "___"),
    ("a/\u202egpj.exe", "a/_gpj.exe"),          # right-to-left override
    ("a/zero\u200bwidth.jpg", "a/zero_width.jpg"),
    ("caf\u0065\u0301.jpg", "caf\u00e9.jpg"),     # NFC
    ("bad\x00name\n.jpg", "bad_name_.jpg"),
    ("glob*?[x].jpg", "glob___x_.jpg"),
])
def test_sanitize_relpath_keeps_names_inside(rel, expected):
    assert tio.sanitize_relpath(rel) == expected


@pytest.mark.parametrize("rel", ["", "/", "../..", "./.", "//"])
def test_sanitize_relpath_rejects_empty_names(rel):
    with pytest.raises(ValueError, match="no usable name"):
        tio.sanitize_relpath(rel)


def test_sanitize_relpath_cuts_long_names():
    out = tio.sanitize_relpath("é" * 300 + ".jpg")
    assert len(out.encode()) <= 200


@pytest.mark.parametrize("prefix", ["/data/out", "s3://bucket/out", "gs://b/o/", "file:///x/out"])
@pytest.mark.parametrize("rel", ["../../../secret.jpg", "/abs/x.jpg", "a/../../b.jpg"])
def test_join_under_never_escapes(prefix, rel):
    joined = tio.join_under(prefix, rel)
    assert joined.startswith(prefix.rstrip("/") + "/")
    assert "/../" not in joined and not joined.endswith("/..")


def test_output_name_adds_tag_and_extension():
    assert tio.output_name("a/b/photo.jpg", "abc", ".webp") == "a/b/photo.abc.webp"
    assert tio.output_name("README", "abc", ".png") == "README.abc.png"
    assert tio.output_name(".hidden", "t", ".jpg") == ".hidden.t.jpg"
    assert tio.output_name("x.tar.gz", "t", ".jpg") == "x.tar.t.jpg"


@pytest.mark.parametrize("pattern, base", [
    ("gs://b/photos/2026/**/*.jpg", "gs://b/photos/2026"),
    ("/data/in/*.png", "/data/in"),
    ("s3://b/x/file.jpg", "s3://b/x/file.jpg"),
    ("/data/in/", "/data/in"),
    ("s3://b/a?/x.jpg", "s3://b"),
])
def test_glob_base(pattern, base):
    assert tio.glob_base(pattern) == base


# --------------------------------------------------------------------------- matching

def _tree(root, names):
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 3)


def test_match_folder_recurses_and_skips_hidden_and_excluded(tmp_path):
    _tree(tmp_path, ["a.jpg", "sub/b.png", ".hidden.jpg", "_manifest/m.parquet",
                     "out/c.jpg", "sub/.cache/d.jpg"])
    files = tio.match_pattern(str(tmp_path), exclude=[str(tmp_path / "out")])
    assert [f.relpath for f in files] == ["a.jpg", "sub/b.png"]
    assert files[0].uri == str(tmp_path / "a.jpg") and files[0].size == 3


def test_match_glob_keeps_relative_paths(tmp_path):
    _tree(tmp_path, ["x/a.jpg", "x/y/b.jpg", "x/y/c.png", "z.jpg"])
    files = tio.match_pattern(str(tmp_path / "x" / "**" / "*.jpg"))
    assert [f.relpath for f in files] == ["a.jpg", "y/b.jpg"]
    file_uri = tio.match_pattern("file://" + str(tmp_path / "z.jpg"))
    assert [(f.uri, f.relpath) for f in file_uri] == [("file://" + str(tmp_path / "z.jpg"), "z.jpg")]


def test_match_of_nothing_is_empty(tmp_path):
    assert tio.match_pattern(str(tmp_path / "*.jpg")) == []


def test_relative_paths_of_listed_uris():
    uris = ["s3://b/in/2026/a.jpg", "s3://b/in/2025/a.jpg", "s3://b/in/c.jpg"]
    assert tio.relative_paths(uris) == ["2026/a.jpg", "2025/a.jpg", "c.jpg"]
    assert tio.relative_paths(uris, base="s3://b") == ["in/2026/a.jpg", "in/2025/a.jpg", "in/c.jpg"]
    mixed = tio.relative_paths(["s3://b/a.jpg", "gs://c/a.jpg"])
    assert mixed == ["s3/b/a.jpg", "gs/c/a.jpg"]
    assert tio.relative_paths(["/x/../../etc/p.jpg"]) == ["p.jpg"]


def test_read_uri_list(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"1")
    listing = tmp_path / "list.txt"
    listing.write_text(f"# photos\n\n{tmp_path}/a.jpg\n  s3://b/c.jpg  \n")
    assert tio.read_uri_list(str(listing)) == [str(tmp_path / "a.jpg"), "s3://b/c.jpg"]
    with pytest.raises(ImageReadError, match="no such file"):
        tio.read_uri_list(str(tmp_path / "missing.txt"))


# --------------------------------------------------------------------------- reading and writing

def test_read_bytes_errors_are_typed(tmp_path):
    with pytest.raises(ImageReadError, match="no such file"):
        tio.read_bytes(str(tmp_path / "nope.jpg"))
    with pytest.raises(ImageReadError):
        tio.read_bytes(str(tmp_path))


def test_write_atomic_replaces_and_leaves_no_temp_files(tmp_path):
    target = tmp_path / "deep" / "er" / "x.jpg"
    tio.write_atomic(str(target), b"first")
    tio.write_atomic(str(target), b"second")
    assert target.read_bytes() == b"second"
    assert os.listdir(target.parent) == ["x.jpg"]
    assert tio.file_size(str(target)) == 6
    assert tio.file_size(str(tmp_path / "missing.jpg")) is None
    assert tio.file_size(str(tmp_path / "deep")) is None  # a folder is not an output


def test_write_atomic_failing_midway_leaves_nothing(tmp_path, monkeypatch):
    target = tmp_path / "x.jpg"

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(tio.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        tio.write_atomic(str(target), b"data")
    assert os.listdir(tmp_path) == []


def test_storage_options_from_beam_s3_flags():
    opts = PipelineOptions(["--s3_endpoint_url=http://127.0.0.1:9", "--s3_access_key_id=k",
                            "--s3_secret_access_key=s", "--s3_region_name=eu-west-1"])
    got = tio.storage_options_from_pipeline_options(opts)
    assert got == {"s3": {"endpoint_url": "http://127.0.0.1:9", "key": "k", "secret": "s",
                          "client_kwargs": {"region_name": "eu-west-1"}}}
    assert tio.storage_options_from_pipeline_options(PipelineOptions([])) == {}
    merged = tio.merge_storage_options(got, {"s3a": {"key": "k2"}, "gcs": {"token": "anon"}})
    assert merged["s3"]["key"] == "k2" and merged["gs"] == {"token": "anon"}


def test_failure_from_exception_keeps_type_message_and_traceback():
    try:
        raise ImageReadError("gs://b/x.jpg: no such file")
    except ImageReadError as exc:
        failure = tio.Failure.from_exception(exc, "gs://b/x.jpg", "read", input_bytes=3)
    assert failure.error_type == "ImageReadError" and failure.stage == "read"
    assert "no such file" in failure.error_message and "Traceback" in failure.traceback
    record = tio.failure_record(failure, "r1")
    assert record["run_id"] == "r1" and record["input_bytes"] == 3


def test_match_excludes_outputs_below_the_input_but_not_above(tmp_path):
    _tree(tmp_path, ["in/a.jpg", "in/out/a.x.jpg"])
    assert [f.relpath for f in tio.match_pattern(str(tmp_path / "in"),
                                                 exclude=[str(tmp_path / "in" / "out")])] \
        == ["a.jpg"]
    # the output folder is the input's parent: nothing to exclude
    assert [f.relpath for f in tio.match_pattern(str(tmp_path / "in"), exclude=[str(tmp_path)])] \
        == ["a.jpg", "out/a.x.jpg"]


def test_several_patterns_share_a_base_so_names_do_not_collide(tmp_path):
    _tree(tmp_path, ["2025/x.jpg", "2026/x.jpg"])
    patterns = [str(tmp_path / "2025"), str(tmp_path / "2026" / "*.jpg")]
    base = tio.common_base(patterns)
    assert base == str(tmp_path)
    rels = [f.relpath for p in patterns for f in tio.match_pattern(p, base=base)]
    assert rels == ["2025/x.jpg", "2026/x.jpg"]
    assert tio.common_base(["s3://b/a/*.jpg", "s3://b/c/"]) == "s3://b"
    assert tio.common_base(["s3://b/a/*.jpg", "gs://b/c/"]) is None
    assert tio.common_base(["s3://b/a/*.jpg"]) is None
    # an explicit base that is not above the match is ignored
    assert [f.relpath for f in tio.match_pattern(str(tmp_path / "2025"),
                                                 base=str(tmp_path / "other"))] == ["x.jpg"]


def test_match_follows_symlinks_and_keeps_dangling_ones(tmp_path):
    _tree(tmp_path, ["real/a.jpg"])
    (tmp_path / "in").mkdir()
    os.symlink(tmp_path / "real" / "a.jpg", tmp_path / "in" / "link.jpg")
    os.symlink(tmp_path / "real" / "gone.jpg", tmp_path / "in" / "dangling.jpg")
    os.symlink(tmp_path / "real", tmp_path / "in" / "folder_link")
    files = tio.match_pattern(str(tmp_path / "in" / "*.jpg"))
    assert [(f.relpath, f.size) for f in files] == [("dangling.jpg", files[0].size),
                                                   ("link.jpg", 3)]
    with pytest.raises(ImageReadError, match="no such file"):
        tio.read_bytes(files[0].uri)
    assert [f.relpath for f in tio.match_pattern(str(tmp_path / "in" / "*"))] == \
        ["dangling.jpg", "link.jpg"]
