"""Packaging matches the layers: ``pip install .`` is the library and its command line, the Beam
job is the ``pipeline`` extra, and ``compress_core`` runs with Beam (and the other pipeline-only
packages) impossible to import."""
import ast
import os
import re
import subprocess
import sys

from packaging.requirements import Requirement

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Distributions only the batch job needs, and the modules they provide.
PIPELINE_ONLY = {"apache-beam": "apache_beam", "pyarrow": "pyarrow", "gcsfs": "gcsfs",
                 "s3fs": "s3fs",
                 # Beam's manifest writes to gs:// with credentials (cloud review 38)
                 "google-auth-httplib2": "google_auth_httplib2"}


def _setup_lists():
    """INSTALL_REQUIRES and EXTRAS_REQUIRE as written in setup.py (read, not executed)."""
    tree = ast.parse(open(os.path.join(ROOT, "setup.py")).read())
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id in ("INSTALL_REQUIRES", "EXTRAS_REQUIRE"):
                found[node.targets[0].id] = ast.literal_eval(node.value)
    return found["INSTALL_REQUIRES"], found["EXTRAS_REQUIRE"]


def _pins():
    """``({name: pinned version}, {name: its environment marker or ""})`` of requirements.txt."""
    pins, markers = {}, {}
    for line in open(os.path.join(ROOT, "requirements.txt")):
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            (spec,) = req.specifier
            assert spec.operator == "==", line
            pins[req.name.lower()] = spec.version
            markers[req.name.lower()] = str(req.marker or "")
    return pins, markers


def test_layers_are_separate_extras():
    base, extras = _setup_lists()
    names = lambda reqs: {Requirement(r).name.lower() for r in reqs}  # noqa: E731
    assert not names(base) & set(PIPELINE_ONLY), "the library must not need Beam or pyarrow"
    assert set(PIPELINE_ONLY) <= names(extras["pipeline"])
    assert {"torch", "numpy", "pillow", "scipy", "numba", "fsspec"} <= names(base)
    assert {"pytest", "moto"} <= names(extras["test"])


def test_every_range_in_setup_py_holds_the_pinned_version():
    base, extras = _setup_lists()
    pins, markers = _pins()
    for text in [*base, *(r for reqs in extras.values() for r in reqs)]:
        req = Requirement(text)
        assert req.name.lower() in pins, f"{req.name} is not pinned in requirements.txt"
        assert req.specifier.contains(pins[req.name.lower()], prereleases=True), \
            f"requirements.txt pins {req.name}=={pins[req.name.lower()]}, setup.py says {text}"
        # (tbb, Linux only in setup.py, was pinned for every platform: pip install -r failed
        # on macOS, where it has no wheel; portability review 27)
        assert markers[req.name.lower()] == str(req.marker or ""), \
            f"requirements.txt installs {req.name} where {markers[req.name.lower()]!r}, " \
            f"setup.py where {str(req.marker or '')!r}"


#: Run first in a subprocess: the modules named in argv[1] cannot be imported there.
_BLOCK = r"""
import importlib.abc, sys
BLOCKED = set(sys.argv[1].split(","))

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not installed (blocked by the test)")
        return None

sys.meta_path.insert(0, Block())
"""

_WITHOUT_PIPELINE = _BLOCK + r"""
import numpy as np
from skimage import data
import compress_core
from compress_core import SemanticCompressor
from compress_core.energy import GradientEnergyFunction
from compress_core.cli import main

photo = np.ascontiguousarray(data.astronaut()[::4, ::4])
result = SemanticCompressor(GradientEnergyFunction()).compress(
    photo, scale=0.5, method="hybrid", show_progress=False)
assert result.size == (64, 64), result.size
out = sys.argv[2]
result.save(out + "/photo.png")
assert main([out + "/photo.png", "--scale", "0.5", "--energy", "gradient", "-q",
             "-o", out + "/small.jpg"]) == 0
loaded = sorted(m for m in BLOCKED if m in sys.modules)
print("loaded:", loaded)
"""


def test_this_environment_holds_every_pinned_requirement():
    """The tests run where requirements.txt is installed: a test module that skips itself
    where its package is missing (``pytest.importorskip``: jpeglib, tifffile, rawpy, pyvips
    ...) would otherwise let a broken install pass with whole modules skipped (health review
    49). Each pin whose marker holds here must be installed at its version."""
    from importlib import metadata

    from packaging.markers import Marker

    pins, markers = _pins()
    wrong = {}
    for name, version in pins.items():
        if markers[name] and not Marker(markers[name]).evaluate():
            continue
        try:
            found = metadata.version(name)
        except metadata.PackageNotFoundError:
            found = None
        if found != version:
            wrong[name] = (version, found)
    assert wrong == {}, "pinned (requirements.txt), installed: " + repr(wrong)


def test_the_pins_fit_beams_own_requirements_and_its_gcp_extra():
    """Diff review 38: google-auth-httplib2 was pinned at 0.4.4, outside what Beam 2.77's [gcp]
    extra takes (<0.3): the worker image (Beam's, with that extra) and a launcher's
    ``pip install apache-beam[gcp]`` (the docs' Dataflow set-up) would not agree with it."""
    from importlib.metadata import requires, version

    pins, _ = _pins()
    assert version("apache-beam") == pins["apache-beam"]
    checked = 0
    for text in requires("apache-beam"):
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate({"extra": "gcp"}):
            continue
        pinned = pins.get(req.name.lower().replace("_", "-"))
        if pinned is not None:
            checked += 1
            assert req.specifier.contains(pinned, prereleases=True), (
                f"requirements.txt pins {req.name}=={pinned}; Beam asks {req}")
    assert checked >= 5   # numpy, pyarrow, fsspec ... and google-auth-httplib2


def test_compress_core_and_its_command_line_run_without_the_pipeline_packages(tmp_path):
    """Beam, pyarrow, gcsfs and s3fs cannot be imported in this interpreter: the library still
    imports, compresses a photo, saves it and runs its command line."""
    proc = subprocess.run(
        [sys.executable, "-c", _WITHOUT_PIPELINE, ",".join(PIPELINE_ONLY.values()),
         str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": ROOT})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("loaded: []")
    assert sorted(os.listdir(tmp_path)) == ["photo.png", "small.jpg"]


def test_container_recipe_installs_the_pinned_set_on_the_beam_image():
    """The worker image: the pinned Beam image, the runtime pins of requirements.txt (up to its
    tests-and-benchmarks section, cut by the recipe's own sed: every layer of setup.py but the
    test tools is there, no test tool is), the no-deps pins, and the package without deps."""
    recipe = open(os.path.join(ROOT, "docker", "Dockerfile")).read()
    beam = _pins()[0]["apache-beam"]
    assert re.search(rf"^FROM apache/beam_python3\.11_sdk:{re.escape(beam)}$", recipe, re.M)
    (marker,) = re.findall(r"sed '/\^(# --- [^$]+)\$/,\$d' requirements\.txt", recipe)
    assert "pip install -r /tmp/requirements-runtime.txt" in recipe
    assert "pip install --no-deps -r requirements-nodeps.txt" in recipe
    assert "pip install --no-deps ." in recipe
    lines = open(os.path.join(ROOT, "requirements.txt")).read().splitlines()
    assert marker in lines, marker
    runtime = {Requirement(line.split("#", 1)[0]).name.lower()
               for line in lines[:lines.index(marker)] if line.split("#", 1)[0].strip()}
    base, extras = _setup_lists()
    names = lambda reqs: {Requirement(r).name.lower() for r in reqs}  # noqa: E731
    for layer, reqs in [("install_requires", base)] + sorted(extras.items()):
        if layer == "test":
            assert not names(reqs) & runtime, names(reqs) & runtime
        else:
            assert names(reqs) <= runtime, (layer, names(reqs) - runtime)


_REPORT_WITHOUT_BEAM = _BLOCK + r"""
import runpy
sys.argv = ["python -m pipeline.report", *sys.argv[2:]]
try:
    runpy.run_module("pipeline.report", run_name="__main__")
except SystemExit as exc:
    assert not exc.code, exc.code
print("loaded:", sorted(m for m in BLOCKED if m in sys.modules))
"""


def test_the_report_command_runs_without_beam(tmp_path):
    """``python -m pipeline.report`` reads manifests with pyarrow alone: Beam cannot be imported
    (and its "apitools not found" warning is never printed)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from transforms import manifest

    rows = [manifest.error_row("r1", f"in/{i}.jpg", "ImageDecodeError", "broken")
            for i in range(3)] + [manifest.skipped_row("r1", "in/x.jpg", "out/x.jpg", 10, 5)]
    part = tmp_path / "_manifest" / "run_id=r1"
    part.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=manifest.MANIFEST_SCHEMA),
                   part / "part-00000-of-00001.parquet")
    proc = subprocess.run(
        [sys.executable, "-c", _REPORT_WITHOUT_BEAM, "apache_beam", str(tmp_path / "_manifest"),
         "-o", str(tmp_path / "report.html")], cwd=ROOT, capture_output=True, text=True,
        timeout=300, env={**os.environ, "PYTHONPATH": ROOT})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("loaded: []")
    assert "apitools" not in proc.stderr
    assert "ImageDecodeError" in (tmp_path / "report.html").read_text()
