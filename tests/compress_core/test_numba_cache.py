"""compress_core/_numba_cache.py: where Numba caches the kernels when neither the package
folder nor the user's cache can be written (a read-only image run by a user whose home is
read-only: ``import compress_core`` failed with "cannot cache function ... no locator")."""
import os
import subprocess
import sys
import tempfile

from compress_core import _numba_cache

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_numba_s_own_cache_is_kept_where_it_can_be_written(tmp_path, monkeypatch):
    package = str(tmp_path / "site" / "compress_core")
    os.makedirs(package)
    home = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    assert _numba_cache.cache_folder(package, home) is None            # beside the kernels
    monkeypatch.setattr(_numba_cache, "_writable", lambda folder: not folder.startswith(package))
    assert _numba_cache.cache_folder(package, home) is None            # the user's cache
    assert _numba_cache.cache_folder(package, {"NUMBA_CACHE_DIR": "/mine", **home}) is None


def test_the_cache_goes_to_the_temporary_folder_where_nothing_else_can_be_written(tmp_path,
                                                                               monkeypatch):
    package, cache = str(tmp_path / "site" / "compress_core"), str(tmp_path / "home" / ".cache")
    read_only = (package, cache)
    monkeypatch.setattr(_numba_cache, "_writable",
                        lambda folder: not folder.startswith(read_only))
    folder = _numba_cache.cache_folder(package, {"XDG_CACHE_HOME": cache})
    assert os.path.dirname(folder) == tempfile.gettempdir()
    assert os.path.basename(folder).startswith("semantic-compress-numba-")
    # a folder the user set is theirs
    assert _numba_cache.cache_folder(package, {"XDG_CACHE_HOME": cache,
                                               "NUMBA_CACHE_DIR": "/x"}) is None


def test_writable_looks_at_the_nearest_folder_that_exists(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(os, "access", lambda folder, mode: seen.append(folder) or True)
    assert _numba_cache._writable(str(tmp_path / "not" / "yet" / "there"))
    assert seen == [str(tmp_path)]           # Numba creates the folders below it


def test_a_folder_below_a_file_cannot_be_written(tmp_path):
    """Dataflow review 31: HOME=/x/afile/home (a file on the way) passed on the writable
    folder above the file, and every import failed in Numba ("no locator available")."""
    (tmp_path / "afile").write_text("")
    assert not _numba_cache._writable(str(tmp_path / "afile" / "home" / ".cache" / "numba"))
    assert not _numba_cache._writable(str(tmp_path / "afile"))
    os.symlink(tmp_path / "gone", tmp_path / "dangling")
    assert not _numba_cache._writable(str(tmp_path / "dangling" / "numba"))
    assert _numba_cache._writable(str(tmp_path / "folder" / "numba"))


def test_importing_the_library_sets_the_folder_only_where_needed(tmp_path):
    """In a fresh process, NUMBA_CACHE_DIR stays unset here (the checkout can be written), and
    a folder the user set is kept."""
    code = "import os, compress_core; print(os.environ.get('NUMBA_CACHE_DIR'))"
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, text=True,
                         capture_output=True, timeout=300)
    assert out.stdout.strip() == "None", out.stderr[-2000:]
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "mine")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, text=True,
                         capture_output=True, timeout=300)
    assert out.stdout.strip() == str(tmp_path / "mine"), out.stderr[-2000:]


def test_where_nothing_can_be_written_the_import_sets_a_private_folder(tmp_path, monkeypatch):
    """The fallback itself, with Numba imported before (as here): the environment and Numba's
    configuration both name a folder of this user's that only they may write; a folder of
    that name that others may write is not taken (Numba unpickles its cache index)."""
    import stat

    import numba

    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(numba.config, "CACHE_DIR", numba.config.CACHE_DIR)
    monkeypatch.setattr(_numba_cache, "_writable", lambda folder: False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    _numba_cache.use_a_writable_cache()
    folder = os.environ["NUMBA_CACHE_DIR"]
    assert numba.config.CACHE_DIR == folder and os.path.dirname(folder) == str(tmp_path)
    assert stat.S_IMODE(os.stat(folder).st_mode) & 0o077 == 0
    os.chmod(folder, 0o777)                     # another's to write: a fresh one instead
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    _numba_cache.use_a_writable_cache()
    again = os.environ["NUMBA_CACHE_DIR"]
    assert again != folder and stat.S_IMODE(os.stat(again).st_mode) & 0o077 == 0
