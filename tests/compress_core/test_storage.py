"""compress_core/storage.py: reads, atomic writes (modes follow the umask), output names."""
import os
import stat

import fsspec
import pytest

from compress_core import storage
from compress_core.errors import ImageReadError


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
    assert storage.sanitize_relpath(rel) == expected


@pytest.mark.parametrize("rel", ["", "/", "../..", "./.", "//"])
def test_sanitize_relpath_rejects_empty_names(rel):
    with pytest.raises(ValueError, match="no usable name"):
        storage.sanitize_relpath(rel)


def test_sanitize_relpath_cuts_long_names():
    out = storage.sanitize_relpath("é" * 300 + ".jpg")
    assert len(out.encode()) <= 200


@pytest.mark.parametrize("prefix", ["/data/out", "s3://bucket/out", "gs://b/o/", "file:///x/out"])
@pytest.mark.parametrize("rel", ["../../../secret.jpg", "/abs/x.jpg", "a/../../b.jpg"])
def test_join_under_never_escapes(prefix, rel):
    joined = storage.join_under(prefix, rel)
    assert joined.startswith(prefix.rstrip("/") + "/")
    assert "/../" not in joined and not joined.endswith("/..")


def test_output_name_adds_tag_and_extension():
    assert storage.output_name("a/b/photo.jpg", "abc", ".webp") == "a/b/photo.abc.webp"
    assert storage.output_name("README", "abc", ".png") == "README.abc.png"
    assert storage.output_name(".hidden", "t", ".jpg") == ".hidden.t.jpg"
    assert storage.output_name("x.tar.gz", "t", ".jpg") == "x.tar.t.jpg"


def test_read_bytes_errors_are_typed(tmp_path):
    with pytest.raises(ImageReadError, match="no such file"):
        storage.read_bytes(str(tmp_path / "nope.jpg"))
    with pytest.raises(ImageReadError):
        storage.read_bytes(str(tmp_path))


def test_write_atomic_replaces_and_leaves_no_temp_files(tmp_path):
    target = tmp_path / "deep" / "er" / "x.jpg"
    storage.write_atomic(str(target), b"first")
    storage.write_atomic(str(target), b"second")
    assert target.read_bytes() == b"second"
    assert os.listdir(target.parent) == ["x.jpg"]
    assert storage.file_size(str(target)) == 6
    assert storage.file_size(str(tmp_path / "missing.jpg")) is None
    assert storage.file_size(str(tmp_path / "deep")) is None  # a folder is not an output


def test_write_atomic_failing_midway_leaves_nothing(tmp_path, monkeypatch):
    target = tmp_path / "x.jpg"

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(storage.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        storage.write_atomic(str(target), b"data")
    assert os.listdir(tmp_path) == []



def test_read_bytes_of_paths_file_and_fsspec_uris(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"abc")
    assert storage.read_bytes(tmp_path / "a.bin") == b"abc"
    assert storage.read_bytes("file://" + str(tmp_path / "a.bin")) == b"abc"
    with fsspec.open("memory://storage-test/x.bin", "wb") as fh:
        fh.write(b"in memory")
    try:
        assert storage.read_bytes("memory://storage-test/x.bin") == b"in memory"
        with pytest.raises(ImageReadError, match="memory://storage-test/nope.bin: no such file"):
            storage.read_bytes("memory://storage-test/nope.bin")
    finally:
        fsspec.filesystem("memory").rm("storage-test", recursive=True)


def test_write_atomic_to_file_and_fsspec_uris(tmp_path):
    storage.write_atomic("file://" + str(tmp_path / "sub" / "x.bin"), b"via file://")
    assert (tmp_path / "sub" / "x.bin").read_bytes() == b"via file://"
    storage.write_atomic("memory://storage-test/out/y.bin", b"put once")
    try:
        assert storage.read_bytes("memory://storage-test/out/y.bin") == b"put once"
        assert storage.file_size("memory://storage-test/out/y.bin") == 8
    finally:
        fsspec.filesystem("memory").rm("storage-test", recursive=True)


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_files_get_the_mode_the_umask_gives(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        storage.write_atomic(tmp_path / "new.jpg", b"x")
        storage.write_atomic("file://" + str(tmp_path / "uri.jpg"), b"x")
    finally:
        os.umask(old)
    for name in ("new.jpg", "uri.jpg"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == mode, name


def test_merge_storage_options_folds_aliases_and_later_layers_win():
    merged = storage.merge_storage_options({"s3": {"key": "k", "secret": "s"}},
                                           {"s3a": {"key": "k2"}, "gcs": {"token": "anon"}}, None)
    assert merged == {"s3": {"key": "k2", "secret": "s"}, "gs": {"token": "anon"}}


@pytest.mark.parametrize("uri, expected", [
    ("/a/b/", "/a/b"), ("file:///a/b/", "file:///a/b"), ("s3://b/k/", "s3://b/k"),
    ("gs://b", "gs://b")])
def test_normalize_uri(uri, expected):
    assert storage.normalize_uri(uri) == expected
