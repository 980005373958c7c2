"""transforms/matching.py: globs, folders and URI lists -> InputFile, with safe relative paths."""
import codecs
import logging
import os
import re
import uuid

import fsspec
import pytest

from compress_core.errors import ImageReadError
from compress_core.storage import normalize_uri, read_bytes
from transforms import matching


@pytest.mark.parametrize("pattern, base", [
    ("gs://b/photos/2026/**/*.jpg", "gs://b/photos/2026"),
    ("/data/in/*.png", "/data/in"),
    ("s3://b/x/file.jpg", "s3://b/x/file.jpg"),
    ("/data/in/", "/data/in"),
    ("s3://b/a?/x.jpg", "s3://b"),
])
def test_glob_base(pattern, base):
    assert matching.glob_base(pattern) == base


def _tree(root, names):
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 3)


def test_match_folder_recurses_and_skips_hidden_and_excluded(tmp_path):
    _tree(tmp_path, ["a.jpg", "sub/b.png", ".hidden.jpg", "_manifest/m.parquet",
                     "out/c.jpg", "sub/.cache/d.jpg", "_DSC0001.JPG", "sub/_DSC0002.JPG",
                     "sub/_beam_temp-x/e.jpg"])
    files = matching.match_pattern(str(tmp_path), exclude=[str(tmp_path / "out")])
    # a file starting with '_' is a photo (Nikon and Sony name Adobe RGB ones _DSC0001.JPG):
    # only folders starting with '_' are hidden (they were skipped, silently)
    assert [f.relpath for f in files] == ["_DSC0001.JPG", "a.jpg", "sub/_DSC0002.JPG",
                                          "sub/b.png"]
    assert files[1].uri == str(tmp_path / "a.jpg") and files[1].size == 3


def test_pictures_left_out_as_hidden_are_named_in_a_warning(tmp_path, caplog):
    """Operator review 24: the photos of a Lightroom-style '_Selects/' folder were left out of
    a folder input with no word; the job's own folders (_manifest/ and its Parquet parts)
    are no pictures and go unsaid."""
    _tree(tmp_path, ["a.jpg", "_Selects/b.jpg", "_Selects/c.JPG", "x/_Exports/e.png",
                     "x/.thumbnails/d.png", "._a.jpg", "_Selects/._b.jpg",
                     "_manifest/run_id=1/m.parquet", ".DS_Store"])
    with caplog.at_level(logging.WARNING, logger="transforms.matching"):
        files = matching.match_pattern(str(tmp_path))
    assert [f.relpath for f in files] == ["a.jpg"]
    # (caches and macOS's ._ files, whose names begin with '.', are no one's photos)
    (line,) = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    assert f"Input folder {tmp_path} left out 3 picture(s) in folders whose names begin " \
           "with '_' (_Exports/ 1, _Selects/ 2)" in line
    # named as an input of its own, the folder is taken, with no warning
    caplog.clear()
    assert [f.relpath for f in matching.match_pattern(str(tmp_path / "_Selects"))] == \
        ["b.jpg", "c.JPG"]
    assert not caplog.records


def test_a_glob_of_folders_names_the_pictures_it_leaves_out_too(tmp_path, caplog):
    """Docs review 45: a glob ending in '/' takes each folder it matches as a folder input,
    but the pictures of their '_x/' folders were left out with no word, where the same folder
    given by name warned (a Lightroom '_Selects/' folder of a day's shoot)."""
    _tree(tmp_path, ["d-1/a.jpg", "d-1/_Selects/best.jpg", "d-2/b.jpg", "d-2/x/_tmp/t.png",
                     "d-2/.cache/c.jpg", "d-2/_Selects/notes.txt"])
    with caplog.at_level(logging.WARNING, logger="transforms.matching"):
        files = matching.match_pattern(str(tmp_path / "d-*") + "/")
    assert [f.relpath for f in files] == ["d-1/a.jpg", "d-2/b.jpg"]
    (line,) = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    assert "left out 2 picture(s) in folders whose names begin with '_' (_Selects/ 1, _tmp/ 1)" \
        in line, line
    # the job's own output folder among them is no one's photos (diff review 45)
    _tree(tmp_path, ["d-1/_compressed/a.jpg.c25b12d37a.jpg"])
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="transforms.matching"):
        matching.match_pattern(str(tmp_path / "d-*") + "/",
                               exclude=[str(tmp_path / "d-1" / "_compressed")])
    (line,) = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    assert "left out 2 picture(s)" in line and "_compressed" not in line, line


def test_match_glob_keeps_relative_paths(tmp_path):
    _tree(tmp_path, ["x/a.jpg", "x/y/b.jpg", "x/y/c.png", "z.jpg"])
    files = matching.match_pattern(str(tmp_path / "x" / "**" / "*.jpg"))
    assert [f.relpath for f in files] == ["a.jpg", "y/b.jpg"]
    # one spelling of each input whatever the pattern's: the manifest's input_uri names a file
    # alike in every run (analyst review 25: /in/x.jpg and file:///in/x.jpg counted as two)
    for spelling in ("file://" + str(tmp_path / "z.jpg"), "file://" + str(tmp_path / "."),
                     str(tmp_path / "x" / ".." / "z.jpg"), f"local://{tmp_path}/z*"):
        found = [(f.uri, f.relpath) for f in matching.match_pattern(spelling)
                 if f.relpath.endswith("z.jpg")]
        assert found == [(str(tmp_path / "z.jpg"), "z.jpg")], spelling


def test_a_file_named_with_blanks_alone_is_an_input_like_any_other(tmp_path):
    """GCS review 43: an object named "in/ " (one space) had no usable name, and the error
    failed the listing of its whole folder: no photo of it was compressed."""
    _tree(tmp_path, ["in/a.jpg", "in/ ", "in/b.jpg"])
    files = matching.match_pattern(str(tmp_path / "in"))
    relpaths = {os.path.basename(f.uri): f.relpath for f in files}
    assert relpaths["a.jpg"] == "a.jpg" and relpaths["b.jpg"] == "b.jpg"
    assert re.fullmatch(r"_~[0-9a-f]{12}", relpaths[" "]), relpaths


def test_match_of_nothing_is_empty(tmp_path):
    assert matching.match_pattern(str(tmp_path / "*.jpg")) == []


def test_a_named_input_must_exist_where_a_glob_may_match_nothing(tmp_path):
    """A mistyped --input /data/photso ended the run with 0 images and exit status 0."""

    (tmp_path / "empty").mkdir()
    (tmp_path / "a.jpg").write_bytes(b"x")
    missing = matching._missing_named_input
    for named in [tmp_path / "nope.jpg", tmp_path / "nofolder", tmp_path / "nofolder" / ""]:
        assert "no such file or folder" in missing(str(named))
    assert "no such file or folder" in missing("file://" + str(tmp_path / "nope.jpg"))
    # a file URI copied from a file manager, percent-encoded: the hint the same URI gets in a
    # list or on the command line (paths review 42: --input gave none)
    (tmp_path / "with space.jpg").write_bytes(b"x")
    said = missing("file://" + str(tmp_path / "with%20space.jpg"))
    assert said.endswith(f"({tmp_path / 'with space.jpg'} exists: names are taken as written, "
                         "%XX escapes are not decoded; write the name plainly)")
    for fine in [tmp_path / "empty", tmp_path / "a.jpg", tmp_path / "*.jpg",
                 tmp_path / "nofolder" / "*.jpg", tmp_path / "x[1].jpg"]:
        assert missing(str(fine)) is None
    # in an object store a folder exists only while it holds something: only a file name must
    fs = fsspec.filesystem("memory")
    fs.pipe_file("/b/in/x.jpg", b"x")
    try:
        assert "memory://b/in/y.jpg: no such file" in missing("memory://b/in/y.jpg")
        for fine in ["memory://b/in/x.jpg", "memory://b/in", "memory://b/today",
                     "memory://b/today/", "memory://b/today/*.jpg"]:
            assert missing(fine) is None
    finally:
        fs.rm("/b", recursive=True)


def test_a_glob_below_missing_folders_names_the_nearest_folder_that_exists(tmp_path):
    """A disk not mounted, a dated folder not made: the warning names the nearest folder that
    is there, however many levels up, and nothing where the glob's folder exists."""
    (tmp_path / "photos").mkdir()
    said = matching._missing_base(str(tmp_path / "photos" / "2026" / "12" / "01" / "*.jpg"))
    assert said.startswith(f": its folder {tmp_path / 'photos' / '2026' / '12' / '01'} does "
                           "not exist")
    assert f"(the nearest folder that does: {tmp_path / 'photos'};" in said
    assert matching._missing_base(str(tmp_path / "photos" / "*.jpg")) == ""
    assert matching._missing_base("memory://nowhere/at/all/*.jpg") == ""   # (stores: none)


def test_a_glob_of_the_home_folder_is_the_users_home(tmp_path, monkeypatch):
    """--input '~/photos/*.jpg' quoted (a scheduler's line, no shell to expand it): the home
    folder's photos, not those of a folder named '~' below wherever the job was launched."""
    home, work = tmp_path / "users" / "me", tmp_path / "work"
    (home / "photos").mkdir(parents=True)
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    assert matching._normalize_pattern("~/photos/*.jpg") == f"{home}/photos/*.jpg"
    assert matching._normalize_pattern("~/photos/*/") == f"{home}/photos/*/"


def test_a_link_to_a_file_is_not_said_to_be_a_link_to_a_folder(tmp_path):
    """The hint of an empty glob names links to folders (which a glob does not go through);
    a link to a file is no reason for an empty match."""
    (tmp_path / "in" / "sub").mkdir(parents=True)
    (tmp_path / "elsewhere.png").write_bytes(b"x")
    os.symlink(tmp_path / "elsewhere.png", tmp_path / "in" / "sub" / "shortcut.png")
    assert matching._linked_folders(str(tmp_path / "in" / "**" / "*.jpg")) == ""
    os.symlink(tmp_path / "in" / "sub", tmp_path / "in" / "folder_link")
    assert "links to folders" in matching._linked_folders(str(tmp_path / "in" / "**" / "*.jpg"))


def test_relative_paths_of_listed_uris():
    uris = ["s3://b/in/2026/a.jpg", "s3://b/in/2025/a.jpg", "s3://b/in/c.jpg"]
    assert matching.relative_paths(uris) == ["2026/a.jpg", "2025/a.jpg", "c.jpg"]
    assert matching.relative_paths(uris, base="s3://b") == ["in/2026/a.jpg", "in/2025/a.jpg", "in/c.jpg"]
    mixed = matching.relative_paths(["s3://b/a.jpg", "gs://c/a.jpg"])
    assert mixed == ["s3/b/a.jpg", "gs/c/a.jpg"]
    assert matching.relative_paths(["/x/../../etc/p.jpg"]) == ["p.jpg"]


def test_a_stores_aliases_name_outputs_as_the_store():
    """Cloud review 40: one s3a:// line in a list of s3:// URIs named every output of the run by
    protocol and bucket (s3/photos/in/x.jpg, s3a/photos/in/y.png), and several --input with
    one spelt s3a:// shared no folder: the next run without it wrote second copies."""
    uris = ["s3://photos/in/astronaut.jpg", "s3://photos/in/a/b.jpg",
            "s3a://photos/in/kodim05.png"]
    assert matching.relative_paths(uris) == ["astronaut.jpg", "a/b.jpg", "kodim05.png"]
    assert matching.relative_paths(uris, base="s3a://photos") == [
        "in/astronaut.jpg", "in/a/b.jpg", "in/kodim05.png"]
    assert matching.common_base(["s3://photos/in/nested/deep/", "s3a://photos/in/*.png"]) \
        == "s3://photos/in"
    assert matching.common_base(["gcs://b/x/*.jpg", "gs://b/y/*.jpg"]) == "gs://b"
    assert matching.common_base(["s3://b/x/*.jpg", "gs://b/y/*.jpg"]) is None


def test_listed_file_uris_and_plain_paths_share_their_folder():
    """``file:///in/a.jpg`` and ``/in/b.jpg`` are on one file system: they used to count as
    two protocols, and both outputs were named by their whole path (``file/in/a.jpg``,
    ``local/in/b.jpg``)."""
    assert matching.relative_paths(["file:///in/2026/a.jpg", "/in/2025/b.jpg"]) == \
        ["2026/a.jpg", "2025/b.jpg"]
    assert matching.relative_paths(["file:///in/2026/a.jpg"], base="/in") == ["2026/a.jpg"]
    assert matching.relative_paths(["/in/2026/a.jpg"], base="file:///in") == ["2026/a.jpg"]


def test_read_uri_list(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"1")
    listing = tmp_path / "list.txt"
    listing.write_text(f"# photos\n\n{tmp_path}/a.jpg\n  s3://b/c.jpg  \n")
    assert matching.read_uri_list(str(listing)) == [str(tmp_path / "a.jpg"), "s3://b/c.jpg"]
    with pytest.raises(ImageReadError, match="no such file"):
        matching.read_uri_list(str(tmp_path / "missing.txt"))


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32",
                                      "utf-8-sig"])
def test_a_list_saved_as_windows_unicode_is_read_by_its_byte_order_mark(tmp_path, encoding):
    """PowerShell 5's ``>`` and Notepad's "Unicode" write UTF-16 with a byte-order mark: read
    as UTF-8, each line was one URI full of NUL bytes and every image an error row."""
    marks = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE}
    text = f"# photos\r\n{tmp_path}/été/a.jpg\r\ns3://b/c.jpg\r\n"
    listing = tmp_path / "list.txt"
    listing.write_bytes(marks.get(encoding, b"") + text.encode(encoding))
    assert matching.read_uri_list(str(listing)) == [f"{tmp_path}/été/a.jpg", "s3://b/c.jpg"]


def test_a_list_that_is_not_text_is_named(tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_bytes(f"{tmp_path}/a.jpg\n".encode("utf-16-le"))       # no byte-order mark
    with pytest.raises(ImageReadError, match="list.txt: not a text file of URIs: it holds NUL "
                                             r"bytes \(UTF-16 without a byte-order mark\?\)"):
        matching.read_uri_list(str(listing))
    listing.write_bytes(codecs.BOM_UTF16_LE + b"\x00\xd8a\x00")           # a lone surrogate
    with pytest.raises(ImageReadError, match="byte-order mark says UTF-16, but it is not"):
        matching.read_uri_list(str(listing))


def test_relative_lines_of_a_remote_list_are_beside_the_list(tmp_path, monkeypatch):
    """A relative line of a list in a bucket used to become a path in the worker's working
    folder (gs://b/lists/l.txt: 'photos/x.jpg' -> '/srv/worker/photos/x.jpg: no such file')."""

    fs = fsspec.filesystem("memory")
    fs.pipe_file("/b/lists/l.txt", b"photos/x.jpg\n./y.jpg\n../up/z.jpg\ns3://c/w.jpg\n")
    try:
        assert matching.read_uri_list("memory://b/lists/l.txt") == [
            "memory://b/lists/photos/x.jpg", "memory://b/lists/y.jpg", "memory://b/up/z.jpg",
            "s3://c/w.jpg"]
    finally:
        fs.rm("/b", recursive=True)
    # a local list: relative to the working folder, as on the command line
    (tmp_path / "l.txt").write_text("photos/x.jpg\n")
    monkeypatch.chdir(tmp_path / "..")
    assert matching.read_uri_list(str(tmp_path / "l.txt")) == \
        [os.path.join(os.getcwd(), "photos", "x.jpg")]


def test_match_excludes_outputs_below_the_input_but_not_above(tmp_path):
    _tree(tmp_path, ["in/a.jpg", "in/out/a.x.jpg"])
    assert [f.relpath for f in matching.match_pattern(str(tmp_path / "in"),
                                                 exclude=[str(tmp_path / "in" / "out")])] \
        == ["a.jpg"]
    # the output folder is the input's parent: nothing to exclude
    assert [f.relpath for f in matching.match_pattern(str(tmp_path / "in"), exclude=[str(tmp_path)])] \
        == ["a.jpg", "out/a.x.jpg"]


def test_several_patterns_share_a_base_so_names_do_not_collide(tmp_path):
    _tree(tmp_path, ["2025/x.jpg", "2026/x.jpg"])
    patterns = [str(tmp_path / "2025"), str(tmp_path / "2026" / "*.jpg")]
    base = matching.common_base(patterns)
    assert base == str(tmp_path)
    rels = [f.relpath for p in patterns for f in matching.match_pattern(p, base=base)]
    assert rels == ["2025/x.jpg", "2026/x.jpg"]
    assert matching.common_base(["s3://b/a/*.jpg", "s3://b/c/"]) == "s3://b"
    assert matching.common_base(["s3://b/a/*.jpg", "gs://b/c/"]) is None
    assert matching.common_base(["s3://b/a/*.jpg"]) is None
    # an explicit base that is not above the match is ignored
    assert [f.relpath for f in matching.match_pattern(str(tmp_path / "2025"),
                                                 base=str(tmp_path / "other"))] == ["x.jpg"]


def test_match_follows_symlinks_and_keeps_dangling_ones(tmp_path):
    _tree(tmp_path, ["real/a.jpg"])
    (tmp_path / "in").mkdir()
    os.symlink(tmp_path / "real" / "a.jpg", tmp_path / "in" / "link.jpg")
    os.symlink(tmp_path / "real" / "gone.jpg", tmp_path / "in" / "dangling.jpg")
    os.symlink(tmp_path / "real", tmp_path / "in" / "folder_link")
    files = matching.match_pattern(str(tmp_path / "in" / "*.jpg"))
    assert [(f.relpath, f.size) for f in files] == [("dangling.jpg", files[0].size),
                                                   ("link.jpg", 3)]
    with pytest.raises(ImageReadError, match="a symbolic link to .*gone.jpg, which does not "
                                             "exist"):   # (BrokenLinkError: session 39)
        read_bytes(files[0].uri)
    assert [f.relpath for f in matching.match_pattern(str(tmp_path / "in" / "*"))] == \
        ["dangling.jpg", "link.jpg"]


def test_a_folder_input_follows_links_to_folders_once_and_never_in_circles(tmp_path, caplog):
    """Review 13, O1: ``--input in`` where ``in/2024`` links to a folder on another disk
    compressed nothing of it, unsaid (the listing describes the link as one entry, which was
    dropped as a folder). Now its photos are inputs, named through the link; links that would
    list a folder again (a cycle, a second way into a listed folder) or read the run's outputs
    are not followed, with a warning."""
    _tree(tmp_path, ["in/a/x.jpg", "nas/2024/y.jpg", "nas/2024/trip/z.jpg", "out/old.jpg"])
    os.symlink(tmp_path / "nas" / "2024", tmp_path / "in" / "2024")
    os.symlink(tmp_path / "nas" / "2024" / "trip", tmp_path / "in" / "trip_again")
    os.symlink(tmp_path, tmp_path / "in" / "a" / "up")  # a cycle
    os.symlink(tmp_path / "in" / "a", tmp_path / "in" / "alias")  # listed already
    os.symlink(tmp_path / "out", tmp_path / "in" / "exports")  # the run's outputs
    os.symlink(tmp_path / "nas" / "gone", tmp_path / "in" / "dangling")
    with caplog.at_level("WARNING", logger="transforms.matching"):
        files = matching.match_pattern(str(tmp_path / "in"), exclude=[str(tmp_path / "out")])
    assert [(f.relpath, f.size) for f in files] == [
        ("2024/trip/z.jpg", 3), ("2024/y.jpg", 3), ("a/x.jpg", 3),
        ("dangling", files[3].size)]
    assert files[0].uri == str(tmp_path / "in" / "2024" / "trip" / "z.jpg")
    warned = " ".join(r.getMessage() for r in caplog.records)
    for link in ("trip_again", "up", "alias"):
        assert f"{link} links to" in warned and "listed already" in warned
    assert "exports links to" in warned and "this run's outputs" in warned
    # globs are as in a shell: '*' matches the link's name, not what is below it
    assert "2024/y.jpg" not in [f.relpath for f in matching.match_pattern(str(tmp_path / "in" / "*"))]


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
def test_a_link_into_the_systems_folders_is_not_followed(tmp_path, caplog):
    """A link to /proc among the photos had the job walk other processes' folders and block
    for good reading one of their files (security review 26)."""
    _tree(tmp_path, ["in/a.jpg"])
    os.symlink("/proc", tmp_path / "in" / "p")
    os.symlink("/sys", tmp_path / "in" / "s")
    with caplog.at_level("WARNING", logger="transforms.matching"):
        files = matching.match_pattern(str(tmp_path / "in"))
    assert [f.relpath for f in files] == ["a.jpg"]
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "p links to /proc, a folder of the system's processes or devices" in warned
    assert "s links to /sys" in warned


def test_a_name_with_glob_characters_is_matched_as_it_is(tmp_path):
    """``--input 'Photos [2024]'`` (a folder) or ``'Photos [2024]/x.jpg'`` used to be taken
    for globs only: '[2024]' is a set of characters, they matched nothing and the run ended
    with 0 images (exit status 0)."""
    _tree(tmp_path, ["Photos [2024]/x.jpg", "Photos [2024]/sub/y.jpg", "Photos 2/z.jpg",
                     "a*b.jpg"])
    folder = matching.match_pattern(str(tmp_path / "Photos [2024]"))
    assert [(f.uri, f.relpath, f.size) for f in folder] == [
        (str(tmp_path / "Photos [2024]" / "sub" / "y.jpg"), "sub/y.jpg", 3),
        (str(tmp_path / "Photos [2024]" / "x.jpg"), "x.jpg", 3)]
    one = matching.match_pattern(str(tmp_path / "Photos [2024]" / "x.jpg"))
    assert [(f.relpath, f.size) for f in one] == [("x.jpg", 3)]
    # a pattern that names nothing is still a glob: 'Photos [2]' is 'Photos 2'
    assert [f.relpath for f in matching.match_pattern(str(tmp_path / "Photos [2]" / "*"))] == \
        ["Photos 2/z.jpg"]
    star = matching.match_pattern(str(tmp_path / "a*b.jpg"))   # a glob that matches itself
    assert [f.uri for f in star] == [str(tmp_path / "a*b.jpg")]
    assert matching.match_pattern(str(tmp_path / "Photos [2025]")) == []


def test_a_glob_ending_in_a_slash_takes_the_folders_it_matches(tmp_path):
    """'in/*/' (as in a shell: the folders of in/) lost its '/' when made absolute and became
    'in/*': the files directly in in/ were compressed, the folders' files never."""
    _tree(tmp_path, ["in/top.jpg", "in/a/x.jpg", "in/a/deep/y.jpg", "in/b/x.jpg",
                     "in/b/.hidden.jpg", "in/c.d/z.jpg"])
    pattern = matching._normalize_pattern(os.path.relpath(tmp_path / "in", os.getcwd()) + "/*/")
    assert pattern == str(tmp_path / "in") + "/*/"
    files = matching.match_pattern(pattern)
    assert [(f.relpath, f.size) for f in files] == [
        ("a/deep/y.jpg", 3), ("a/x.jpg", 3), ("b/x.jpg", 3), ("c.d/z.jpg", 3)]
    assert [f.relpath for f in matching.match_pattern(str(tmp_path / "in" / "*"))] == \
        ["top.jpg"]   # without the '/', as before: the files the glob matches
    assert [f.relpath for f in matching.match_pattern(str(tmp_path / "in") + "/?/")] == \
        ["a/deep/y.jpg", "a/x.jpg", "b/x.jpg"]


def test_a_folder_input_named_like_a_hidden_one_is_matched_below_a_shared_base(tmp_path):
    """--input data/_incoming --input data/b (or --input_base data): names are relative to
    data/, so '_incoming/x.jpg' was taken for a file in a hidden folder and every file of
    data/_incoming was left out, with no row and no word."""
    _tree(tmp_path, ["_incoming/x.jpg", "_incoming/_tmp/t.jpg", ".photos/z.jpg", "b/y.jpg"])
    patterns = [str(tmp_path / "_incoming"), str(tmp_path / ".photos"), str(tmp_path / "b")]
    base = matching.common_base(patterns)
    assert base == str(tmp_path)
    assert [f.relpath for p in patterns for f in matching.match_pattern(p, base=base)] == \
        ["_incoming/x.jpg", ".photos/z.jpg", "b/y.jpg"]   # hidden below the input: _tmp/


def test_a_glob_matches_no_dot_names_unless_it_spells_the_dot(tmp_path):
    """'in/*' and 'in/**/*.jpg' matched macOS's ._x.jpg and .DS_Store (error rows 'not a
    recognised image format', one per photo of a folder copied from a Mac), unlike a shell and
    unlike a folder input."""
    _tree(tmp_path, ["in/x.jpg", "in/._x.jpg", "in/.DS_Store", "in/sub/y.jpg",
                     "in/sub/._y.jpg", "in/.cache/z.jpg"])
    rels = lambda p: [f.relpath for f in matching.match_pattern(p)]  # noqa: E731
    assert rels(str(tmp_path / "in" / "*")) == ["x.jpg"]
    assert rels(str(tmp_path / "in" / "**" / "*.jpg")) == ["sub/y.jpg", "x.jpg"]
    assert rels(str(tmp_path / "in" / ".*")) == [".DS_Store", "._x.jpg"]
    assert rels(str(tmp_path / "in" / ".cache" / "*.jpg")) == ["z.jpg"]
    assert rels(str(tmp_path / "in" / "._x.jpg")) == ["._x.jpg"]   # named: taken


def test_a_glob_ending_in_a_slash_treats_each_folder_as_a_folder_input(tmp_path):
    """'in/*/' takes each folder as --input would: a folder named '_DSC' or '_incoming' is
    taken (its files were all left out, as if hidden below in/), its own '_tmp/' and '.x'
    files are not, and '*' takes no '.cache/' folder unless the pattern spells the dot."""
    _tree(tmp_path, ["in/_incoming/x.jpg", "in/_incoming/_tmp/t.jpg", "in/a/y.jpg",
                     "in/a/.y.jpg", "in/.cache/z.jpg"])
    rels = lambda p: [f.relpath for f in matching.match_pattern(p)]  # noqa: E731
    assert rels(str(tmp_path / "in") + "/*/") == ["_incoming/x.jpg", "a/y.jpg"]
    assert rels(str(tmp_path / "in") + "/.*/") == [".cache/z.jpg"]


def test_only_the_pattern_component_that_spells_a_dot_matches_dot_names(tmp_path):
    """'**/.h.jpg' asked for dot files, not for the inside of '.git/' or '.Trash/': before,
    one dot anywhere in the pattern let every dot name through."""
    _tree(tmp_path, ["in/.h.jpg", "in/a/.h.jpg", "in/.git/.h.jpg", "in/.git/a/.h.jpg",
                     "in/.cache/.h.jpg", "in/.cache/x.jpg"])
    rels = lambda p: [f.relpath for f in matching.match_pattern(p)]  # noqa: E731
    assert rels(str(tmp_path / "in" / "**" / ".h.jpg")) == [".h.jpg", "a/.h.jpg"]
    assert rels(str(tmp_path / "in" / ".*" / "*.jpg")) == [".cache/x.jpg"]
    assert rels(str(tmp_path / "in" / ".cache" / ".*")) == [".h.jpg"]
    assert rels(str(tmp_path / "in" / ".*" / "**" / ".h.jpg")) == [
        ".cache/.h.jpg", ".git/.h.jpg", ".git/a/.h.jpg"]


def test_dots_spelled_follows_the_shell():
    spelled = matching._dots_spelled
    assert spelled("**/.h.jpg", "a/b/.h.jpg") and not spelled("**/.h.jpg", ".g/.h.jpg")
    assert spelled(".*/*", ".c/x") and not spelled("*/*", ".c/x")
    assert spelled("a/**", "a/b/c") and not spelled("a/**", "a/.b/c")
    assert spelled("[.]x", ".x") is False   # a set does not spell a leading dot, as in bash


@pytest.mark.parametrize("store", ["s3", "gs"])
def test_shell_rules_hold_on_an_object_store(store, request):
    """The same names on S3 (moto) and GCS (the emulator) as on a disk: folder globs, dot
    names, '_DSC' files and '_x' folders, and a literal name with glob characters. (gcsfs
    answers a glob ending in '/' with nothing: 'in/*/' matched no folder on GCS.)"""
    from compress_core.storage import get_filesystem

    fixture = "s3" if store == "s3" else "gcs"
    bucket = request.getfixturevalue(f"{fixture}_bucket")
    so = request.getfixturevalue(f"{fixture}_storage_options")
    fs, _ = get_filesystem(f"{store}://x", so)
    for name in ["in/x.jpg", "in/._x.jpg", "in/_DSC1.JPG", "in/_tmp/t.jpg", "in/a/y.jpg",
                 "in/a/.y.jpg", "in/_incoming/z.jpg", "in/.cache/c.jpg", "in/[1]/w.jpg"]:
        fs.pipe(f"{bucket}/{name}", b"abc")
    fs.invalidate_cache()
    root = f"{store}://{bucket}/in"
    rels = lambda p: sorted(f.uri[len(root) + 1:]  # noqa: E731 - names sanitised: URIs
                            for f in matching.match_pattern(p, so))
    assert rels(root) == ["[1]/w.jpg", "_DSC1.JPG", "a/y.jpg", "x.jpg"]
    assert rels(f"{root}/*") == ["_DSC1.JPG", "x.jpg"]
    assert rels(f"{root}/**/*.jpg") == ["[1]/w.jpg", "_incoming/z.jpg", "_tmp/t.jpg", "a/y.jpg",
                                        "x.jpg"]
    assert rels(f"{root}/*/") == ["[1]/w.jpg", "_incoming/z.jpg", "_tmp/t.jpg", "a/y.jpg"]
    assert rels(f"{root}/.*") == ["._x.jpg"]
    assert rels(f"{root}/[1]") == ["[1]/w.jpg"]   # the folder named '[1]', not a set of '1'


def test_folder_markers_of_an_object_store_are_no_inputs(s3_bucket, s3_storage_options):
    """The S3 console's "Create folder" writes an empty key ending in '/': it was matched as
    an input (an error row every run; a day folder holding only its marker failed the run,
    exit status 1)."""
    import boto3

    opts = s3_storage_options["s3"]
    client = boto3.client("s3", endpoint_url=opts["endpoint_url"], aws_access_key_id=opts["key"],
                          aws_secret_access_key=opts["secret"], region_name="us-east-1")
    for key, body in [("in/sub/", b""), ("in/sub/y.jpg", b"abc"), ("day/2026-12-02/", b"")]:
        client.put_object(Bucket=s3_bucket, Key=key, Body=body)
    so = s3_storage_options
    uris = lambda p: [f.uri for f in matching.match_pattern(p, so)]  # noqa: E731
    assert uris(f"s3://{s3_bucket}/in") == [f"s3://{s3_bucket}/in/sub/y.jpg"]
    assert uris(f"s3://{s3_bucket}/in/**") == [f"s3://{s3_bucket}/in/sub/y.jpg"]
    assert uris(f"s3://{s3_bucket}/day/**") == []
    assert uris(f"s3://{s3_bucket}/day/2026-12-02") == []


def test_input_base_in_another_spelling_of_the_inputs_folder(tmp_path):
    """--input_base names outputs whatever spelling it shares with the inputs: file:// or
    local:// with a plain path, '//' (normpath keeps it), s3a:// with s3:// (it was ignored,
    and the outputs named relative to the pattern's own folder)."""
    (tmp_path / "in" / "d1").mkdir(parents=True)
    (tmp_path / "in" / "d1" / "x.jpg").write_bytes(b"x")
    here = str(tmp_path)
    for pattern in (f"{here}/in/d1", f"file://{here}/in/d1"):
        for base in (f"{here}/in", f"file://{here}/in", f"local://{here}/in/",
                     f"//{here.lstrip('/')}/in"):
            files = matching.match_pattern(normalize_uri(pattern), base=normalize_uri(base))
            assert [f.relpath for f in files] == ["d1/x.jpg"], (pattern, base)
            assert matching.relative_paths([f"{pattern}/x.jpg"], base) == ["d1/x.jpg"], base
    assert matching.relative_paths(["s3://b/in/d1/x.jpg"], "s3a://b/in") == ["d1/x.jpg"]
    assert matching.relative_paths(["gcs://b/in/d1/x.jpg"], "gs://b/in/") == ["d1/x.jpg"]
    assert matching.relative_paths(["s3://b/in/d1/x.jpg"], "gs://b/in") == ["x.jpg"]


def test_matches_carry_the_identity_their_listing_gave(tmp_path):
    """Which file each match is (its mtime here: a disk has no content token), from the
    listing itself: globs, folders and single files alike; a link says its target's."""
    import datetime as dt

    from transforms.identity import FileIdentity

    when = dt.datetime(2026, 12, 1, 8, 0, 0, 123456, tzinfo=dt.timezone.utc)
    _tree(tmp_path, ["in/a.jpg", "in/b/c.jpg"])
    for name in ("in/a.jpg", "in/b/c.jpg"):
        os.utime(tmp_path / name, (when.timestamp(), when.timestamp()))
    os.symlink(tmp_path / "in" / "a.jpg", tmp_path / "in" / "link.jpg")
    for pattern in (str(tmp_path / "in"), str(tmp_path / "in" / "**" / "*.jpg"),
                    str(tmp_path / "in" / "a.jpg")):
        found = matching.match_pattern(pattern)
        assert found and {f.identity for f in found} == {FileIdentity(when, None)}, pattern


@pytest.mark.parametrize("store", ["s3", "gs"])
def test_object_store_matches_carry_their_content_token(store, request):
    """moto's S3 lists the ETag (the MD5 of a single-part upload) and the GCS emulator the
    md5Hash (base64): the same bytes uploaded again are the same file by the token, whatever
    their new modification time; other bytes of the same size are another file."""
    import base64
    import hashlib

    from compress_core.storage import get_filesystem
    from transforms.identity import identity_differs

    fixture = "s3" if store == "s3" else "gcs"
    bucket = request.getfixturevalue(f"{fixture}_bucket")
    so = request.getfixturevalue(f"{fixture}_storage_options")
    fs, _ = get_filesystem(f"{store}://x", so)
    md5 = hashlib.md5(b"red.").digest()
    token = f"etag:{md5.hex()}" if store == "s3" else f"md5:{base64.b64encode(md5).decode()}"

    def listed():
        fs.invalidate_cache()
        (item,) = matching.match_pattern(f"{store}://{bucket}/in/*.JPG", so)
        return item.identity

    fs.pipe(f"{bucket}/in/IMG_0001.JPG", b"red.")
    first = listed()
    assert first.etag == token and first.modified is not None
    fs.pipe(f"{bucket}/in/IMG_0001.JPG", b"red.")               # the same bytes again
    assert not identity_differs(listed(), first)
    fs.pipe(f"{bucket}/in/IMG_0001.JPG", b"blue")               # other bytes, same size
    assert identity_differs(listed(), first)


@pytest.mark.parametrize("pattern, variant", [
    ("gs://b/photos/**/*.jpg", "gs://b/photos/**/*.[jJ][pP][gG]"),
    ("in/IMG_*.jpeg", "in/IMG_*.[jJ][pP][eE][gG]"),
    ("*.mp4", "*.[mM][pP]4"),
    ("in/*.JPG", "in/*.[jJ][pP][gG]"),
    ("in/photo.jpg", None),             # no glob: the name itself
    ("in/*", None), ("in/**", None),    # no extension
    ("in/*.[jJ]pg", None),              # a set already: written on purpose
    ("in/*.123", None),
])
def test_case_variant(pattern, variant):
    assert matching.case_variant(pattern) == variant


def test_a_glob_reports_the_files_it_leaves_out_by_case(tmp_path):
    """Cameras name photos IMG_0001.JPG, phones img_0001.jpg; --input 'photos/**/*.jpg' (the
    docs' own example) took the phones' photos and left the cameras' out without a word (no
    row, no warning: a glob is case-sensitive, as in a shell)."""
    _tree(tmp_path, ["a.jpg", "B.JPG", "sub/c.Jpg", "d.png", ".hidden.JPG", "out/e.JPG"])
    pattern = str(tmp_path / "**" / "*.jpg")
    files = matching.match_pattern(pattern, exclude=[str(tmp_path / "out")])
    assert [f.relpath for f in files] == ["a.jpg"]
    missed = matching.missed_by_case(pattern, files, exclude=[str(tmp_path / "out")])
    assert missed == [str(tmp_path / "B.JPG"), str(tmp_path / "sub" / "c.Jpg")]
    assert matching.missed_by_case(str(tmp_path / "*.png"), matching.match_pattern(
        str(tmp_path / "*.png"))) == []
    _tree(tmp_path, ["x*y.jpg", "xAy.JPG"])   # a name that exists as written is that file
    literal = str(tmp_path / "x*y.jpg")
    assert matching.missed_by_case(literal, matching.match_pattern(literal)) == []


def test_the_match_of_a_glob_listed_in_any_case_keeps_its_own_case(tmp_path):
    """match_with_case (what the job's match step runs) lists the store once with the
    extension in any case: the inputs are still only the names the glob takes as written
    (mutation review 51: taking every match of the variant, so that '*.jpg' compressed
    B.JPG too, left the tests above passing), the others are reported apart."""
    _tree(tmp_path, ["a.jpg", "B.JPG", "sub/c.Jpg", "d.png", "out/e.JPG"])
    pattern = str(tmp_path / "**" / "*.jpg")
    files, missed = matching.match_with_case(pattern, exclude=[str(tmp_path / "out")])
    assert [f.relpath for f in files] == ["a.jpg"]
    assert missed == [str(tmp_path / "B.JPG"), str(tmp_path / "sub" / "c.Jpg")]
    upper, missed = matching.match_with_case(str(tmp_path / "*.JPG"))
    assert [f.relpath for f in upper] == ["B.JPG"] and missed == [str(tmp_path / "a.jpg")]


def test_an_input_base_not_above_the_inputs_is_named_in_the_log(tmp_path, caplog):
    """--input_base that is above no --input pattern (a typo: /data/Photos for
    /data/photos/2026-12-01) or no listed URI was ignored without a word: the outputs were
    named relative to the pattern's own folder (the day folder lost from every name)."""
    import logging

    with caplog.at_level(logging.WARNING, logger="transforms.matching"):
        matching.MatchImages([str(tmp_path / "photos" / "2026-12-01"),
                              str(tmp_path / "photos" / "x" / "*.jpg")],
                             input_base=str(tmp_path / "Photos"))
        matching.MatchImages([str(tmp_path / "photos" / "2026-12-01")],
                             input_base=str(tmp_path / "photos"))
        matching.MatchImages([str(tmp_path / "photos" / "a"), str(tmp_path / "photos" / "b")])
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1, lines
    assert f"--input_base {tmp_path / 'Photos'} is above none of" in lines[0]
    assert f"{tmp_path / 'photos' / '2026-12-01'}, {tmp_path / 'photos' / 'x' / '*.jpg'}" \
        in lines[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="transforms.matching"):
        assert matching.relative_paths(["/d/photos/a.jpg", "/d/other/b.jpg"], "/d/photos") == \
            ["a.jpg", "b.jpg"]
        matching.relative_paths(["/d/photos/a.jpg"], "/d/photos")
    assert [r.getMessage() for r in caplog.records] == [
        "--input_base /d/photos is above 1 of 2 listed URIs (/d/other/b.jpg): the others "
        "are named relative to the folder they share"]


def test_photos_in_the_output_folder_are_named_in_the_log(tmp_path, caplog):
    """--input ~/Pictures --output ~/Pictures/Exports: the photos already in Exports/ were
    left out (the output folder is never read back), with no row and no word. They still are,
    but the log names them; the job's own files there (outputs of any settings, the manifest,
    the dead letters, temporary files) are not mentioned."""
    import logging

    _tree(tmp_path, ["a.jpg", "Exports/export1.jpg", "Exports/sub/export2.PNG",
                     "Exports/a.jpg.0123456789.jpg", "Exports/b.png~0123456789ab.abcdef0123.webp",
                     "Exports/_manifest/run_id=r/part-00000-of-00001.parquet",
                     "Exports/.a.jpg.x.tmp", "Exports/notes.txt"])
    with caplog.at_level(logging.WARNING, logger="transforms.matching"):
        files = matching.match_pattern(str(tmp_path), exclude=[str(tmp_path / "Exports")])
        listed = matching._not_excluded([str(tmp_path / "a.jpg"),
                                         str(tmp_path / "Exports" / "export1.jpg")],
                                        [str(tmp_path / "Exports")])
    assert [f.relpath for f in files] == ["a.jpg"] and listed == [str(tmp_path / "a.jpg")]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"2 image file(s) in the output folder {tmp_path / 'Exports'} "
                               f"are not inputs ({tmp_path / 'Exports' / 'export1.jpg'}, "
                               f"{tmp_path / 'Exports' / 'sub' / 'export2.PNG'})")
    assert lines[1].startswith("1 image file(s) in the output folder")


def test_a_folder_that_cannot_be_listed_is_named_not_taken_for_empty(tmp_path, refuse_listing):
    """Operator review 28: fsspec's listing leaves out a folder it may not read without a
    word, so a day's folder made unreadable was as if empty (its photos had no row; as the
    input itself, 'matched no files' and exit status 0). Each such folder that the pattern
    would list is named; folders the pattern does not reach, hidden folders of a folder
    input and the job's own folders are not."""
    _tree(tmp_path, ["in/a.jpg", "in/day1/b.jpg", "in/day2/c.jpg", "in/day1/deep/d.jpg",
                     "in/_private/e.jpg", "in/.cache/f.jpg", "in/out/g.jpg"])
    root = tmp_path / "in"
    refuse_listing(root / "day2", root / "day1" / "deep", root / "_private", root / ".cache",
                   root / "out")

    def named(pattern, exclude=()):
        return sorted(os.path.relpath(uri, root)
                      for uri, error in matching.unreadable_folders(pattern, exclude=exclude)
                      if isinstance(error, PermissionError))

    assert named(str(root), exclude=[str(root / "out")]) == ["day1/deep", "day2"]
    assert named(str(root)) == ["day1/deep", "day2", "out"]
    assert named(f"file://{root}/", exclude=[str(root / "out")]) == ["day1/deep", "day2"]
    assert named(str(root / "day2")) == ["day2"]
    assert named(str(root / "**" / "*.jpg"), exclude=[str(root / "out")]) == [
        "_private", "day1/deep", "day2"]   # (a glob takes '_x' folders; '.x' ones it spells)
    assert named(str(root / "*" / "*.jpg"), exclude=[str(root / "out")]) == ["_private", "day2"]
    assert named(str(root / "day*" / "*.jpg")) == ["day2"]
    assert named(str(root / "day*") + "/") == ["day1/deep", "day2"]
    assert named(str(root / ".*") + "/") == [".cache"]
    assert named(str(root / "*.jpg")) == [] and named(str(root / "a.jpg")) == []
    # what can be listed still is
    assert sorted(f.relpath for f in matching.match_pattern(str(root))) == [
        "a.jpg", "day1/b.jpg"]


def test_a_folder_that_can_be_listed_but_not_entered_or_a_link_to_a_locked_one_is_named(
        tmp_path, monkeypatch, refuse_listing):
    """Diff review 28: a folder made 644 (its names can be read, none of its files stat'ed:
    `chmod -R 644`) and a link to a locked folder (folder inputs follow links) were still
    dropped without a word. Both are named; a link back into the input is not walked twice."""
    _tree(tmp_path, ["in/a.jpg", "in/r644/c.jpg", "elsewhere/locked/d.jpg"])
    root = tmp_path / "in"
    (root / "link_to_locked").symlink_to(tmp_path / "elsewhere" / "locked")
    (root / "r644" / "back").symlink_to(root)    # (a cycle)
    refuse_listing(tmp_path / "elsewhere" / "locked")
    access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: (
        False if os.fspath(path).rstrip("/") == str(root / "r644") and mode & os.X_OK
        else access(path, mode, **kw)))
    found = {os.path.relpath(uri, root): str(error)
             for uri, error in matching.unreadable_folders(str(root))}
    assert sorted(found) == ["link_to_locked", "r644"]
    assert "its names can be read, its files not reached" in found["r644"]


def test_a_fifo_named_as_the_input_is_an_input_whose_read_fails_not_no_match(tmp_path):
    """Docs review 28: --input in/upload.jpg naming a FIFO "matched no files" (exit status 0),
    where the README says a FIFO is an error row: a named one is an input (its read refuses
    it); one that a folder or a glob meets is left out, as a socket or device is."""
    (tmp_path / "in").mkdir()
    fifo = tmp_path / "in" / "upload.jpg"
    os.mkfifo(fifo)
    (tmp_path / "in" / "a.jpg").write_bytes(b"x")
    assert [f.uri for f in matching.match_pattern(str(fifo))] == [str(fifo)]
    with pytest.raises(ImageReadError, match="FIFO"):
        read_bytes(str(fifo))
    assert [f.relpath for f in matching.match_pattern(str(tmp_path / "in"))] == ["a.jpg"]
    assert [f.relpath for f in matching.match_pattern(str(tmp_path / "in" / "*.jpg"))] == \
        ["a.jpg"]


@pytest.mark.parametrize("store", ["s3", "gs"])
def test_a_photo_whose_name_is_also_a_folder_on_a_store_is_matched(store, request):
    """GCS review 43: in/a.jpg beside in/a.jpg/b.jpg: the store's glob gave a.jpg as a folder,
    and the photo was left out of in/*.jpg and in/**/*.jpg, no row, no word."""
    from compress_core.storage import get_filesystem

    prefix = "s3" if store == "s3" else "gcs"
    bucket = request.getfixturevalue(f"{prefix}_bucket")
    options = request.getfixturevalue(f"{prefix}_storage_options")
    fs = get_filesystem(f"{store}://{bucket}", options)[0]
    for key in ("in/a.jpg", "in/a.jpg/b.jpg", "in/c.jpg"):
        fs.pipe_file(f"{bucket}/{key}", b"\xff\xd8 not really a jpeg " + key.encode())
    fs.invalidate_cache()
    for pattern, wanted in (("in/*.jpg", ["a.jpg", "c.jpg"]),
                            ("in/**/*.jpg", ["a.jpg", "a.jpg/b.jpg", "c.jpg"]),
                            ("in/", ["a.jpg", "a.jpg/b.jpg", "c.jpg"]),
                            # named, the file (diff review 43: the folder's files were taken)
                            ("in/a.jpg", ["a.jpg"]), ("in/a.jpg/", ["b.jpg"])):
        files = matching.match_pattern(f"{store}://{bucket}/{pattern}", options)
        assert sorted(f.relpath for f in files) == wanted, pattern


@pytest.mark.parametrize("store", ["s3", "gs"])
def test_an_object_with_bytes_named_like_a_folder_marker_is_said(store, request, caplog):
    """GCS review 43: an object "in/pic.jpg/" that holds a photo was left out unsaid (an empty
    "in/x/" is a folder marker: left out quietly)."""
    from compress_core.storage import get_filesystem

    prefix = "s3" if store == "s3" else "gcs"
    bucket = request.getfixturevalue(f"{prefix}_bucket")
    options = request.getfixturevalue(f"{prefix}_storage_options")
    fs = get_filesystem(f"{store}://{bucket}", options)[0]
    fs.pipe_file(f"{bucket}/in/pic.jpg/", b"\xff\xd8 a photo's bytes")
    fs.pipe_file(f"{bucket}/in/empty/", b"")
    fs.pipe_file(f"{bucket}/in/c.jpg", b"\xff\xd8 c")
    fs.invalidate_cache()
    with caplog.at_level(logging.WARNING, logger="transforms.matching"):
        files = matching.match_pattern(f"{store}://{bucket}/in/", options)
    assert [f.relpath for f in files] == ["c.jpg"]
    said = [r.getMessage() for r in caplog.records if "left out whose names end" in
            r.getMessage()]
    assert len(said) == 1 and f"{store}://{bucket}/in/pic.jpg/" in said[0], said
    assert "empty" not in said[0]


def test_a_key_with_dot_dot_parts_is_not_named_as_the_file_they_lead_to():
    """Security review 45: S3 keys may hold '..' parts; 'up/userA/../userB/avatar.jpg' (an
    upload under userA's prefix) was named 'userB/avatar.jpg', the plain name of userB's
    avatar, without the digest a name that sanitising changes gets, and kept it when userB's
    own file came (that one was set apart)."""
    from compress_core.storage import set_apart
    rels = matching.relative_paths(["s3://b/up/userA/../userB/avatar.jpg", "s3://b/up/x.jpg"],
                                   base="s3://b/up")
    assert rels[0] != "userB/avatar.jpg" and set_apart(rels[0])
    assert rels[0].startswith("userA/")
    assert rels[1] == "x.jpg"
    assert matching._relative("b/up/./a.jpg", "b/up") == "./a.jpg"
    assert matching._relative("/data/in/a/b.jpg", "/data/in") == "a/b.jpg"
    # the same through a listing (the night's glob over the bucket): userB's own file, when
    # it comes, has the plain name
    fs = fsspec.filesystem("memory")
    bucket = f"dotdot{uuid.uuid4().hex[:8]}"
    fs.pipe(f"/{bucket}/up/userA/../userB/avatar.jpg", b"red")
    fs.pipe(f"/{bucket}/up/userB/avatar.jpg", b"blue")
    try:
        named = {f.uri.rsplit(bucket, 1)[1]: f.relpath
                 for f in matching.match_pattern(f"memory://{bucket}/up/**")}
    finally:
        fs.rm(f"/{bucket}", recursive=True)
    assert named["/up/userB/avatar.jpg"] == "userB/avatar.jpg"
    hostile = named["/up/userA/../userB/avatar.jpg"]
    assert hostile.startswith("userA/") and set_apart(hostile), hostile


@pytest.mark.parametrize("line", ["http://169.254.169.254/latest/meta-data/x.jpg",
                                  "https://intranet.example/photo.jpg",
                                  "file:///etc/ssl/private/key.png", "/home/worker/a.png",
                                  "~/a.png", "ftp://h/a.jpg"])
def test_a_list_in_a_bucket_names_objects_of_buckets_only(line, tmp_path):
    """A list in a bucket had the job's workers fetch http:// URLs of their own network (the
    manifest said which answered) and compress files of their own disk into the output
    (security review 45); objects of its own and other bucket stores are still listed, and a
    local list (the operator's own) names anything."""
    fs = fsspec.filesystem("memory")
    fs.pipe_file("/b/lists/l.txt", f"x.jpg\ns3://c/w.jpg\ngs://d/v.jpg\n{line}\n".encode())
    try:
        with pytest.raises(ImageReadError, match="line 4 names .*not an object of a bucket"):
            matching.read_uri_list("memory://b/lists/l.txt")
        fs.pipe_file("/b/lists/l.txt", b"x.jpg\ns3://c/w.jpg\ngs://d/v.jpg\n")
        assert matching.read_uri_list("memory://b/lists/l.txt") == [
            "memory://b/lists/x.jpg", "s3://c/w.jpg", "gs://d/v.jpg"]
    finally:
        fs.rm("/b", recursive=True)
    (tmp_path / "l.txt").write_text(f"{line}\n")
    assert len(matching.read_uri_list(str(tmp_path / "l.txt"))) == 1


def test_a_matched_name_that_is_not_utf8_is_a_failure_of_the_match_step(tmp_path):
    """The match step (_ExpandPattern) gives a file whose name is not UTF-8 as a failure of
    its own, never as an input: Beam's coders cannot encode the name, and one such file
    stopped the whole job (mutation review 51: only the minute-long job test saw it)."""
    import apache_beam as beam
    from skimage import data
    from PIL import Image

    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(data.coffee()[::4, ::4]).save(folder / "ok.jpg", "JPEG")
    with open(os.path.join(os.fsencode(folder), b"caf\xe9.jpg"), "wb") as fh:
        fh.write((folder / "ok.jpg").read_bytes())
    out = list(matching._ExpandPattern().process(str(folder)))
    inputs = [o for o in out if isinstance(o, matching.InputFile)]
    failed = [o.value for o in out if isinstance(o, beam.pvalue.TaggedOutput)
              and o.tag == matching.MATCH_FAILED]
    assert [f.relpath for f in inputs] == ["ok.jpg"]
    assert [(f.input_uri, f.stage) for f in failed] == [(str(folder / "caf\\xe9.jpg"), "match")]
    assert failed[0].error_message.startswith(str(folder / "caf\\xe9.jpg") + ": " +
                                              matching.NAME_NOT_UTF8)


def test_a_list_of_the_output_folders_own_photos_takes_them_in_one_spelling(tmp_path):
    """An --input_list naming only photos in the --output folder (--output = the folder the
    listed photos are in) asked for them: they are inputs, as a pattern of that folder's
    are; listed beside a photo elsewhere, they are the job's folder's, left out. Each listed
    URI is the input in one spelling (file://, ./), as a match gives it, so that the manifest
    names one file alike in every run (mutation review 51: both rules of the list's match
    could be dropped with every test passing)."""
    from PIL import Image
    from skimage import data

    photos = tmp_path / "photos"
    photos.mkdir()
    for name, picture in (("a.jpg", data.coffee()), ("b.jpg", data.chelsea())):
        Image.fromarray(picture[::4, ::4]).save(photos / name, "JPEG")
    (tmp_path / "elsewhere.jpg").write_bytes((photos / "a.jpg").read_bytes())
    inside = [f"file://{photos}/a.jpg", f"{photos}/./b.jpg"]
    assert matching._not_excluded(inside, [str(photos)]) == inside
    assert matching._not_excluded([str(tmp_path / "elsewhere.jpg"), *inside],
                                  [str(photos)]) == [str(tmp_path / "elsewhere.jpg")]
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(inside) + "\n")
    got = list(matching._ExpandUriList(exclude=[str(photos)]).process(str(listing)))
    assert [(f.uri, f.relpath) for f in got] == [(str(photos / "a.jpg"), "a.jpg"),
                                                 (str(photos / "b.jpg"), "b.jpg")]
