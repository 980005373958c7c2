"""Shared fixtures: small real photos, bad files, and storage servers on 127.0.0.1.

Storage servers are real protocol implementations started by the tests and stopped after:

* ``s3_server``: moto's S3 server (``ThreadedMotoServer``); use it through s3fs with
  ``endpoint_url`` (see ``s3_storage_options``) or Beam's ``--s3_endpoint_url``.
* ``gcs_server``: ``gcp-storage-emulator``; gcsfs with ``token="anon"`` and the emulator's
  ``endpoint_url`` (see ``gcs_storage_options``), Beam's GCS client through
  ``STORAGE_EMULATOR_HOST`` (set while the server runs).

gcsfs reads ``GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT`` when it is imported and stalls against the
emulator unless it is ``false``, so it is set here, before anything imports gcsfs. Nothing here
needs a network beyond 127.0.0.1.
"""
from __future__ import annotations

import io
import os
import socket
import sys
import uuid

os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

# pytest puts tests/ on sys.path for this file; then tests/pipeline, tests/transforms and
# tests/compress_core would shadow the real packages as namespace packages when pytest is not
# started as ``python -m pytest`` (which puts the repository root first). Put the root first.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import pytest  # noqa: E402

# Dummy credentials so that no AWS / Google client looks for real ones.
_S3_KEY = "testing"
_S3_SECRET = "testing"


# --------------------------------------------------------------------------- photos


def _small(arr, longest: int = 256):
    """A PIL image of ``arr`` with its longer side scaled to ``longest`` pixels."""
    from PIL import Image

    img = Image.fromarray(arr)
    if img.mode != "RGB":
        img = img.convert("RGB")
    w, h = img.size
    f = longest / float(max(w, h))
    return img.resize((max(1, round(w * f)), max(1, round(h * f))), Image.LANCZOS)


@pytest.fixture(scope="session")
def sample_photos():
    """Real photos that ship with scikit-image and scikit-learn, long side 256 px.

    Returns
    -------
    dict
        name -> PIL.Image (RGB).
    """
    from skimage import data
    from sklearn.datasets import load_sample_images

    photos = {
        "astronaut": _small(data.astronaut()),
        "coffee": _small(data.coffee()),
        "chelsea": _small(data.chelsea()),
        "rocket": _small(data.rocket()),
    }
    sk = load_sample_images()
    for path, arr in zip(sk.filenames, sk.images):
        photos[os.path.splitext(os.path.basename(path))[0]] = _small(arr)  # china, flower
    return photos


def _encode(img, fmt: str = "JPEG", **kwargs) -> bytes:
    buf = io.BytesIO()
    if fmt.upper() == "JPEG":
        kwargs.setdefault("quality", 90)
    img.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


@pytest.fixture(scope="session")
def bad_files(sample_photos):
    """Bad inputs that look like images by name: name -> bytes.

    ``corrupt.jpg`` (a JPEG header, then garbage), ``truncated.jpg`` (the first third of a
    real JPEG), ``empty.jpg`` (zero bytes) and ``notes.png`` (plain text).
    """
    real = _encode(sample_photos["astronaut"])
    return {
        "corrupt.jpg": real[:20] + bytes(range(256)) * 8,
        "truncated.jpg": real[: len(real) // 3],
        "empty.jpg": b"",
        "notes.png": b"These are meeting notes, not a picture.\n" * 20,
    }


@pytest.fixture(scope="session")
def photo_files(sample_photos):
    """Encoded photos for an input folder: relative name -> bytes (JPEG and PNG, one nested)."""
    return {
        "astronaut.jpg": _encode(sample_photos["astronaut"]),
        "coffee.jpg": _encode(sample_photos["coffee"]),
        "chelsea.png": _encode(sample_photos["chelsea"], "PNG"),
        "trips/china.jpg": _encode(sample_photos["china"]),
        "trips/flower.jpg": _encode(sample_photos["flower"]),
    }


#: Colour matrix of the test camera (DNG ColorMatrix1: XYZ (D65) -> camera): the linear sRGB
#: matrix, so that the camera's space is linear sRGB.
_XYZ_TO_LINEAR_SRGB = ((3.2404542, -1.5371385, -0.4985314), (-0.9692660, 1.8760108, 0.0415560),
                       (0.0556434, -0.2040259, 1.0572252))
#: How much of the light each colour filter of the test camera passes (as a sensor under
#: daylight: green most); the DNG's AsShotNeutral says so, and developing must undo it.
CAMERA_GAINS = (0.5, 1.0, 0.7)


def _camera_dng(stored, orientation: int = 1, exif=None) -> bytes:
    """A DNG as a camera writes one, of the sRGB photo ``stored`` (uint8 (H, W, 3), as the
    sensor holds it; ``orientation`` says how to view it): linear light through the
    :data:`CAMERA_GAINS`, sampled by an RGGB colour filter array, 12 bits, uncompressed, with
    the camera's white balance (AsShotNeutral), its colour matrix and ``exif`` (tag -> value;
    the Exif and GPS directories as dicts) in the first directory. Pillow writes the TIFF (it
    writes any tag it is given) and cannot read it back."""
    from fractions import Fraction

    import numpy as np
    from PIL import Image, TiffImagePlugin

    f = np.asarray(stored, dtype=np.float64) / 255.0
    linear = np.where(f <= 0.04045, f / 12.92, ((f + 0.055) / 1.055) ** 2.4) * CAMERA_GAINS
    cfa = np.empty(f.shape[:2], np.uint16)
    for (dy, dx), c in {(0, 0): 0, (0, 1): 1, (1, 0): 1, (1, 1): 2}.items():
        cfa[dy::2, dx::2] = np.rint(linear[dy::2, dx::2, c] * 4095)
    tags = TiffImagePlugin.ImageFileDirectory_v2()

    def put(tag, value, tagtype=None):
        tags[tag] = value
        if tagtype is not None:
            tags.tagtype[tag] = tagtype

    byte, short, long_, rational, srational = 1, 3, 4, 5, 10
    put(254, 0, long_)                          # NewSubfileType: the main image
    put(262, 32803, short)                      # PhotometricInterpretation: CFA
    put(274, orientation, short)
    put(33421, (2, 2), short)                   # CFARepeatPatternDim
    put(33422, b"\x00\x01\x01\x02", byte)       # CFAPattern: R G / G B
    put(50706, b"\x01\x04\x00\x00", byte)       # DNGVersion 1.4
    put(50707, b"\x01\x01\x00\x00", byte)       # DNGBackwardVersion 1.1
    put(50708, "Test camera")                   # UniqueCameraModel
    put(50717, 4095, long_)                     # WhiteLevel
    put(50721, tuple(Fraction(v).limit_denominator(100000)
                     for row in _XYZ_TO_LINEAR_SRGB for v in row), srational)  # ColorMatrix1
    put(50778, 21, short)                       # CalibrationIlluminant1: D65
    put(50728, tuple(Fraction(g).limit_denominator(1000) for g in CAMERA_GAINS),
        rational)                               # AsShotNeutral: the gains, undone by developing
    for tag, value in (exif or {}).items():
        put(tag, value)
    buf = io.BytesIO()
    Image.fromarray(cfa).save(buf, "TIFF", tiffinfo=tags)
    return buf.getvalue()


@pytest.fixture(scope="session")
def camera_dng():
    """``camera_dng(stored, orientation=1, exif=None)``: the bytes of a
    DNG of an sRGB photo, as a camera writes one (see :func:`_camera_dng`)."""
    return _camera_dng


def _write_tree(root, files) -> None:
    for rel, data in files.items():
        path = os.path.join(str(root), rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)


@pytest.fixture
def write_tree():
    """``write_tree(root, {relative name: bytes})`` writes files under a local folder."""
    return _write_tree


@pytest.fixture
def input_dir(tmp_path, photo_files, bad_files):
    """A local input folder: the :func:`photo_files` plus the :func:`bad_files` (9 files)."""
    root = tmp_path / "in"
    _write_tree(root, {**photo_files, **bad_files})
    return root


@pytest.fixture
def empty_torch_hub(tmp_path, monkeypatch):
    """An empty torch hub cache under ``tmp_path`` with downloads off, so that a backbone
    without embedded weights fails at once instead of trying the network; yields its
    checkpoint folder. Set through torch's public ``torch.hub.set_dir`` (the folder
    ``TORCH_HOME`` names is read once and kept), put back after the test. Backbones already
    loaded stay in the model cache (clear it where the test must see the empty hub)."""
    import torch

    from compress_core.energy import backbones

    monkeypatch.setenv(backbones.OFFLINE_ENV, "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    before = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "torch" / "hub"))
    try:
        yield backbones.hub_checkpoint_dir()
    finally:
        torch.hub.set_dir(before)


# --------------------------------------------------------------------------- storage servers


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebFolder:
    """A folder served over HTTP on 127.0.0.1 (a thread), recording the paths PUT to it
    (stored nowhere, answered 201)."""

    def __init__(self, folder):
        import http.server
        import threading

        self.puts = []
        puts = self.puts

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(folder), **kwargs)

            def do_PUT(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                puts.append(self.path)
                self.send_response(201)
                self.end_headers()

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass   # (a client that stops reading, a range read's: no traceback on stderr)

        self._server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def web_folder(tmp_path):
    """``tmp_path`` served over HTTP: a :class:`WebFolder` (``.url``, ``.puts``)."""
    served = WebFolder(tmp_path)
    try:
        yield served
    finally:
        served.close()


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 server on 127.0.0.1 (random port) for the session; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    old = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                          "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ACCESS_KEY_ID=_S3_KEY, AWS_SECRET_ACCESS_KEY=_S3_SECRET,
                      AWS_DEFAULT_REGION="us-east-1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def s3_storage_options(s3_server):
    """fsspec storage options for the moto server: ``{"s3": {...}}``."""
    return {"s3": {"endpoint_url": s3_server, "key": _S3_KEY, "secret": _S3_SECRET}}


@pytest.fixture
def s3_beam_args(s3_server):
    """Beam's flags for the moto server (Beam's own S3 file system writes the manifest)."""
    return [f"--s3_endpoint_url={s3_server}", f"--s3_access_key_id={_S3_KEY}",
            f"--s3_secret_access_key={_S3_SECRET}", "--s3_region_name=us-east-1"]


def _fresh_bucket(fs) -> str:
    """Make a bucket with a unique name on ``fs``; return the name."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    fs.mkdir(name)
    return name


@pytest.fixture
def s3_bucket(s3_storage_options):
    """A fresh, empty bucket on the moto server; yields its name."""
    import s3fs

    yield _fresh_bucket(s3fs.S3FileSystem(**s3_storage_options["s3"], skip_instance_cache=True))


@pytest.fixture(scope="session")
def gcs_server():
    """gcp-storage-emulator on 127.0.0.1 (in memory) for the session; yields its URL.

    ``STORAGE_EMULATOR_HOST`` points at it while it runs (google-cloud-storage, hence Beam's
    GCS file system, reads it when a client is made).
    """
    from gcp_storage_emulator.server import create_server

    port = free_port()
    server = create_server("127.0.0.1", port, in_memory=True)
    server.start()
    url = f"http://127.0.0.1:{port}"
    old = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ["STORAGE_EMULATOR_HOST"] = url
    try:
        yield url
    finally:
        server.stop()
        if old is None:
            os.environ.pop("STORAGE_EMULATOR_HOST", None)
        else:
            os.environ["STORAGE_EMULATOR_HOST"] = old


@pytest.fixture
def gcs_storage_options(gcs_server):
    """fsspec storage options for the emulator: ``{"gs": {"token": "anon", "endpoint_url": ...}}``."""
    return {"gs": {"token": "anon", "endpoint_url": gcs_server}}


@pytest.fixture
def gcs_bucket(gcs_storage_options):
    """A fresh, empty bucket on the emulator; yields its name."""
    import gcsfs

    yield _fresh_bucket(gcsfs.GCSFileSystem(**gcs_storage_options["gs"],
                                            skip_instance_cache=True))


# --------------------------------------------------------------------------- batch job runs
@pytest.fixture
def run_job():
    """``run_job(argv) -> (result, summary)``: run ``pipeline.main.run`` and read its metrics."""
    from pipeline.main import run, summarize_metrics
    from pipeline.options import parse_args

    def _run(argv):
        result = run(list(argv), save_main_session=False)
        job, _ = parse_args(list(argv))
        return result, summarize_metrics(result, job)

    return _run


@pytest.fixture
def read_manifest():
    """``read_manifest(root, storage_options=None, run_id=None) -> list of dict``.

    Reads the Hive-partitioned manifest with pyarrow.dataset over fsspec, as an analyst would:
    ``run_id`` from the folder names (as text), in parts of earlier versions too.
    """
    import pyarrow.dataset as ds

    from compress_core.storage import get_filesystem
    from transforms.manifest import run_partitioning

    def _read(root, storage_options=None, run_id=None):
        fs, path = get_filesystem(root, storage_options)
        fs.invalidate_cache()
        dataset = ds.dataset(path, filesystem=fs, format="parquet",
                             partitioning=run_partitioning())
        table = dataset.to_table(filter=(ds.field("run_id") == run_id) if run_id else None)
        return sorted(table.to_pylist(), key=lambda r: (r["run_id"], r["input_uri"]))

    return _read


@pytest.fixture
def refuse_listing(monkeypatch):
    """``refuse_listing(*folders)``: the folders cannot be listed (``chmod 000`` as a user
    without root's override: tests run as root, which no mode stops), for fsspec's listing and
    ``os.walk`` alike, through a link too (the folder it names is the one refused)."""
    def refuse(*folders):
        refused = {os.path.realpath(f) for f in folders}
        scandir = os.scandir

        def listing(path="."):
            if not isinstance(path, int) and os.path.realpath(path) in refused:
                raise PermissionError(13, "Permission denied", os.fspath(path))
            return scandir(path)

        monkeypatch.setattr(os, "scandir", listing)

    return refuse
