"""compress_core.build_id: the version with a fingerprint of the build's code and codecs."""
import re
from importlib import metadata

import compress_core
from compress_core import _version


def test_build_id_is_the_version_with_a_fingerprint():
    build = compress_core.build_id()
    assert re.fullmatch(re.escape(compress_core.__version__) + r"\+[0-9a-f]{12}", build)
    assert compress_core.build_id() == build == _version.build_id.__wrapped__()


def test_build_id_changes_with_a_codec_package(monkeypatch):
    """A decoder that reads more pictures is another build (diff review 24: the version has
    said 0.1.0 since the first release, so a failure recorded under it was never retried)."""
    before = _version.build_id.__wrapped__()
    real = metadata.version

    def newer_pillow(name):
        return "99.0.0" if name == "pillow" else real(name)

    monkeypatch.setattr(metadata, "version", newer_pillow)
    assert _version.build_id.__wrapped__() != before


def test_build_id_changes_with_the_library_code(monkeypatch, tmp_path):
    """Another source file is another build, whatever the version says."""
    import shutil

    copy = tmp_path / "compress_core"
    shutil.copytree(_version.__file__.rsplit("/", 1)[0], copy,
                    ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(_version, "__file__", str(copy / "_version.py"))
    same = _version.build_id.__wrapped__()
    assert same == compress_core.build_id()
    (copy / "crop.py").write_text((copy / "crop.py").read_text() + "\n# a fix\n")
    assert _version.build_id.__wrapped__() != same


def test_build_id_reads_modules_only(monkeypatch, tmp_path):
    """Review 2 of session 24: an editor's lock file beside a module (``.#crop.py``, a dangling
    link) made every row of the job fail; scratch files and caches are no modules either."""
    import os
    import shutil

    copy = tmp_path / "compress_core"
    shutil.copytree(_version.__file__.rsplit("/", 1)[0], copy,
                    ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(_version, "__file__", str(copy / "_version.py"))
    clean = _version.build_id.__wrapped__()
    os.symlink(copy / "gone.py", copy / ".#crop.py")          # an editor's lock: dangling
    (copy / "crop copy.py").write_text("scratch = 1\n")
    (copy / "__pycache__").mkdir()
    (copy / "__pycache__" / "crop.py").write_text("cached = 1\n")
    (copy / ".ipynb_checkpoints").mkdir()
    (copy / ".ipynb_checkpoints" / "crop.py").write_text("old = 1\n")
    assert _version.build_id.__wrapped__() == clean
