"""The reliability table is written only on request (make_readme.py), never by a plain run."""
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def _session(tmp_path, env_target):
    """A pytest session with this folder's conftest and one test that logs a row."""
    folder = tmp_path / "suite"
    folder.mkdir(exist_ok=True)
    shutil.copy(os.path.join(HERE, "conftest.py"), folder / "conftest.py")
    (folder / "test_one.py").write_text(
        "def test_logs(reliability_log):\n"
        "    reliability_log.add('Limits', 'library', 'a kind', 1, 'error row', 'error row')\n")
    env = {k: v for k, v in os.environ.items() if k != "SEMANTIC_COMPRESS_RELIABILITY_README"}
    if env_target:
        env["SEMANTIC_COMPRESS_RELIABILITY_README"] = str(env_target)
    proc = subprocess.run([sys.executable, "-m", "pytest", str(folder), "-q", "-p",
                           "no:cacheprovider", "--rootdir", str(folder)], cwd=str(tmp_path),
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return folder


def test_a_plain_run_writes_no_readme(tmp_path):
    tracked = open(os.path.join(HERE, "README.md"), "rb").read()
    folder = _session(tmp_path, None)
    assert not (folder / "README.md").exists()
    assert open(os.path.join(HERE, "README.md"), "rb").read() == tracked


def test_the_requested_run_writes_the_table(tmp_path):
    target = tmp_path / "table.md"
    _session(tmp_path, target)
    text = target.read_text(encoding="utf-8")
    assert "tests/reliability/make_readme.py" in text
    assert "| library | a kind | 1 | error row | error row | yes |" in text


def _load(name):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"_reliability_{name}",
                                                  os.path.join(HERE, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_make_readme_names_the_tracked_file():
    make_readme, conftest = _load("make_readme"), _load("conftest")
    assert make_readme.README_ENV == conftest.README_ENV
    assert os.path.samefile(os.path.join(make_readme.HERE, "README.md"),
                            os.path.join(HERE, "README.md"))
