"""CompressSettings, the compress DoFns and the CompressImages composite (transforms/compress.py)."""
import io as _io
import json
import os
import sys

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.internal import pickler
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.utils.shared import Shared
from PIL import Image

from transforms import compress as tc
from transforms.failures import CatchFailures
from transforms.matching import InputFile, match_pattern
from transforms.plan import PlannedImage, PlanOutput
from transforms.manifest import MANIFEST_SCHEMA

GRADIENT = dict(method="hybrid", energy="gradient", scale=0.5)


# --------------------------------------------------------------------------- settings

def test_settings_normalise_and_refuse_a_model_without_a_cnn():
    s = tc.CompressSettings(method="Seam-Carving", energy="GRADIENT", scale=1)
    assert (s.method, s.energy, s.model, s.scale) == ("seam_carving", "gradient", None, 1.0)
    # --model resnet50 --energy gradient ran without the model, silently (review 18)
    with pytest.raises(ValueError, match="model='resnet50' is the CNN of the deep energies, "
                                         "and energy='gradient' runs none"):
        tc.CompressSettings(method="seam_carving", energy="gradient", model="resnet50", scale=1)
    d = tc.CompressSettings(energy="deep", model=None, scale=0.5)
    from compress_core.energy import backbones

    assert d.model == backbones.DEFAULT_BACKBONE


@pytest.mark.parametrize("kwargs, message", [
    (dict(method="resize", scale=0.5), "method must be one of"),
    (dict(energy="magic", scale=0.5), "energy must be one of"),
    (dict(format="gif", scale=0.5), "format must be one of"),
    (dict(scale=0), "scale must be a positive finite number"),
    (dict(scale=float("nan")), "scale must be a positive finite number"),
    (dict(target_pixels=0), "target_pixels must be a positive integer"),
    (dict(max_dimension=2.5), "max_dimension must be a positive integer"),
    (dict(scale=0.5, quality=101), r"quality must be an integer in the output format's range"),
    (dict(scale=0.5, format="jpeg", quality=101), r"quality must be an integer in 1\.\.100 for jpeg"),
    (dict(scale=0.5, max_stretch=float("inf")), "max_stretch must be a finite number >= 1"),
    (dict(scale=0.5, keep_mask=[[True]]), "keep_mask is a per-image option"),
    (dict(), "give at least one target"),
    (dict(method="jpeg", scale=0.5), "method='jpeg' re-encodes without resizing"),
])
def test_settings_reject_bad_values(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        tc.CompressSettings(**kwargs)


def test_params_hash_is_stable_and_sensitive():
    a = tc.CompressSettings(**GRADIENT)
    assert a.params_hash() == tc.CompressSettings(**GRADIENT).params_hash()
    assert len(a.params_hash()) == 10
    assert a.params_hash() != tc.CompressSettings(**{**GRADIENT, "scale": 0.6}).params_hash()
    assert a.params_hash() != tc.CompressSettings(**{**GRADIENT, "format": "webp"}).params_hash()
    # the model does not matter to a gradient energy (the job refuses one), so it is no name
    assert json.loads(a.params_json())["model"] is None
    # a limit that only refuses inputs renames nothing (its default spelled out renamed all)
    for limit in (100_000_000, 89_478_485):
        limited = tc.CompressSettings(**GRADIENT, max_pixels=limit)
        assert limited.params_hash() == a.params_hash()
        assert json.loads(limited.params_json())["max_pixels"] == limit  # the manifest's record
    assert json.loads(a.params_json())["scale"] == 0.5
    kwargs = a.compress_kwargs()
    assert kwargs["show_progress"] is False and "energy" not in kwargs and "model" not in kwargs


def test_archive_mode_keeps_a_small_jpeg_and_skips_it_on_rerun(tmp_path, sample_photos):
    """A JPEG that JPEG XL would make larger is written as it is, under .jpg; a rerun finds it
    (by the manifest's row and, without one, by its suffix)."""
    (tmp_path / "in").mkdir()
    sample_photos["astronaut"].resize((40, 40)).save(tmp_path / "in" / "tiny.jpg", quality=75)
    sample_photos["astronaut"].save(tmp_path / "in" / "big.jpg", quality=90)
    s = tc.CompressSettings(method="jpeg", format="jxl")
    assert s.archive_mode
    items = [InputFile(str(tmp_path / "in" / n), n, None) for n in ("tiny.jpg", "big.jpg")]
    for status in ("ok", "skipped"):
        with BeamTestPipeline(runner="FnApiRunner") as p:
            res = p | beam.Create(items) | tc.CompressImages(s, str(tmp_path / "out"), "r",
                                                              skip_existing=True)
            assert_that(res["rows"] | beam.Map(
                lambda r: (r["status"], r["input_uri"][-8:], r["output_uri"][-4:])),
                equal_to([(status, "tiny.jpg", ".jpg"), (status, "/big.jpg", ".jxl")]))
    tag = s.params_hash()
    assert sorted(os.listdir(tmp_path / "out")) == [f"big.jpg.{tag}.jxl", f"tiny.jpg.{tag}.jpg"]
    assert ((tmp_path / "out" / f"tiny.jpg.{tag}.jpg").read_bytes()
            == (tmp_path / "in" / "tiny.jpg").read_bytes())


def test_a_photo_too_wide_for_jpeg_is_found_by_its_jxl_suffix_on_rerun(tmp_path):
    """Format auto writes a photo wider than JPEG's 65,500 pixels as JPEG XL; a
    --skip_existing rerun without a manifest row for it (a stopped run's output) finds it by
    that suffix (the job's list of suffixes had missed it: it was compressed again at every
    rerun; CompressRequest.output_extensions)."""
    pytest.importorskip("pillow_jxl")   # (the "encoders" extra)
    from skimage import data

    (tmp_path / "in").mkdir()
    photo = np.ascontiguousarray(np.tile(data.astronaut()[200:216], (1, 128, 1))[:, :65501])
    Image.fromarray(photo).save(tmp_path / "in" / "wide.png")
    s = tc.CompressSettings(method="hybrid", energy="gradient", scale=1.0)
    items = [InputFile(str(tmp_path / "in" / "wide.png"), "wide.png", None)]
    for status in ("ok", "skipped"):
        with BeamTestPipeline(runner="FnApiRunner") as p:
            res = p | beam.Create(items) | tc.CompressImages(s, str(tmp_path / "out"), "r",
                                                              skip_existing=True)
            assert_that(res["rows"] | beam.Map(lambda r: (r["status"], r["output_uri"][-4:])),
                        equal_to([(status, ".jxl")]))
    assert os.listdir(tmp_path / "out") == [f"wide.png.{s.params_hash()}.jxl"]


def test_a_transparent_gif_stays_lossless_and_is_skipped_on_rerun(tmp_path):
    img = Image.new("RGBA", (64, 48), (255, 0, 0, 0))
    img.paste((0, 128, 255, 255), (8, 8, 40, 40))
    (tmp_path / "in").mkdir()
    img.save(tmp_path / "in" / "logo.gif", transparency=0)
    s = tc.CompressSettings(**GRADIENT)
    item = InputFile(str(tmp_path / "in" / "logo.gif"), "logo.gif", None)
    for attempt, status in ((1, "ok"), (2, "skipped")):
        with BeamTestPipeline(runner="FnApiRunner") as p:
            res = p | beam.Create([item]) | tc.CompressImages(s, str(tmp_path / "out"), "r",
                                                              skip_existing=True)
            assert_that(res["rows"] | beam.Map(lambda r: (r["status"], r["output_uri"][-5:])),
                        equal_to([(status, ".webp")]))  # lossless WebP: smaller than PNG here
    assert os.listdir(tmp_path / "out") == [f"logo.gif.{s.params_hash()}.webp"]


def test_quality_auto_rows_record_the_quality_and_the_score_reached(tmp_path, sample_photos):
    (tmp_path / "in").mkdir()
    sample_photos["astronaut"].save(tmp_path / "in" / "astronaut.png")
    s = tc.CompressSettings(**GRADIENT, quality="auto", target_quality=75)
    item = InputFile(str(tmp_path / "in" / "astronaut.png"), "astronaut.png", None)
    with BeamTestPipeline(runner="FnApiRunner") as p:
        res = p | beam.Create([item]) | tc.CompressImages(s, str(tmp_path / "out"), "r")
        assert_that(res["rows"] | beam.Map(
            lambda r: (r["status"], r["output_format"], isinstance(r["quality"], int),
                       r["quality_score"] is not None and r["quality_score"] >= 75)),
            equal_to([("ok", "JPEG", True, True)]))


def test_an_encoder_failure_is_an_error_row_and_writes_nothing(tmp_path, sample_photos):
    """A 70000 px wide strip cannot be a JPEG; the photo next to it is written."""
    (tmp_path / "in").mkdir()
    Image.fromarray(np.zeros((2, 70000, 3), np.uint8)).save(tmp_path / "in" / "strip.png")
    sample_photos["coffee"].save(tmp_path / "in" / "coffee.png")
    s = tc.CompressSettings(method="jpeg", format="jpeg")  # (no energy: it reads no map)
    items = [InputFile(str(tmp_path / "in" / n), n, None) for n in ("strip.png", "coffee.png")]
    with BeamTestPipeline(runner="FnApiRunner") as p:
        res = p | beam.Create(items) | tc.CompressImages(s, str(tmp_path / "out"), "r")
        assert_that(res["rows"] | beam.Map(lambda r: (os.path.basename(r["input_uri"]),
                                                      r["status"], r["error_type"])),
                    equal_to([("strip.png", "error", "EncodingError"),
                              ("coffee.png", "ok", None)]))
    assert os.listdir(tmp_path / "out") == [f"coffee.png.{s.params_hash()}.jpg"]


def test_a_camera_raw_among_jpegs_is_developed_and_a_damaged_one_is_an_error_row(
        tmp_path, sample_photos, camera_dng):
    """A DNG between JPEGs is developed (rawpy) and written; a truncated one is a manifest row
    with status "error" naming it, and the rest of the batch is written."""
    pytest.importorskip("rawpy")
    (tmp_path / "in").mkdir()
    sample_photos["coffee"].save(tmp_path / "in" / "coffee.jpg", quality=90)
    dng = camera_dng(np.asarray(sample_photos["astronaut"]))
    (tmp_path / "in" / "IMG_0001.dng").write_bytes(dng)
    (tmp_path / "in" / "IMG_0002.dng").write_bytes(dng[:len(dng) // 2])
    s = tc.CompressSettings(**GRADIENT)
    names = ("coffee.jpg", "IMG_0001.dng", "IMG_0002.dng")
    items = [InputFile(str(tmp_path / "in" / n), n, None) for n in names]
    with BeamTestPipeline(runner="FnApiRunner") as p:
        res = p | beam.Create(items) | tc.CompressImages(s, str(tmp_path / "out"), "r")
        assert_that(res["rows"] | beam.Map(
            lambda r: (os.path.basename(r["input_uri"]), r["status"], r["error_type"],
                       r["input_format"], r["output_width"],
                       (r["error_message"] or "").startswith(r["input_uri"] + ": cannot develop"))),
            equal_to([("coffee.jpg", "ok", None, "JPEG", 128, False),
                      ("IMG_0001.dng", "ok", None, "DNG", 128, False),
                      ("IMG_0002.dng", "error", "ImageDecodeError", None, None, True)]))
    tag = s.params_hash()
    assert sorted(os.listdir(tmp_path / "out")) == [f"IMG_0001.dng.{tag}.jpg",
                                                     f"coffee.jpg.{tag}.jpg"]


def test_hostile_metadata_in_a_batch_gives_clean_outputs(tmp_path, sample_photos):
    """A JPEG whose XMP nests 5,000 elements deep (RecursionError) and a TIFF tagged with
    3,000 keywords (a 100 KB packet, past a JPEG segment: EncodingError) were error rows;
    their pictures are written now, the packet dropped and the keywords as extended XMP."""
    from PIL import TiffImagePlugin

    (tmp_path / "in").mkdir()
    deep = "<x>" * 5000 + "t" + "</x>" * 5000
    rdf = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
           '22-rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/">'
           '{}</rdf:Description></rdf:RDF></x:xmpmeta>')
    caption = rdf.format(f"<dc:description>{deep}</dc:description>").encode()
    sample_photos["coffee"].save(tmp_path / "in" / "deep.jpg", quality=90, xmp=caption)
    bag = "".join(f"<rdf:li>keyword number {i}</rdf:li>" for i in range(3000))
    ifd = TiffImagePlugin.ImageFileDirectory_v2()
    ifd[700] = rdf.format(f"<dc:subject><rdf:Bag>{bag}</rdf:Bag></dc:subject>").encode()
    ifd.tagtype[700] = 1
    sample_photos["chelsea"].save(tmp_path / "in" / "agency.tif", tiffinfo=ifd)
    sample_photos["astronaut"].save(tmp_path / "in" / "plain.png")
    s = tc.CompressSettings(energy="gradient", scale=0.5, format="jpeg")
    names = ("deep.jpg", "agency.tif", "plain.png")
    items = [InputFile(str(tmp_path / "in" / n), n, None) for n in names]
    with BeamTestPipeline(runner="FnApiRunner") as p:
        res = p | beam.Create(items) | tc.CompressImages(s, str(tmp_path / "out"), "r")
        assert_that(res["rows"] | beam.Map(lambda r: (os.path.basename(r["input_uri"]),
                                                      r["status"], r["error_type"])),
                    equal_to([(n, "ok", None) for n in names]))
    assert sorted(os.listdir(tmp_path / "out")) == sorted(
        f"{n}.{s.params_hash()}.jpg" for n in names)


# --------------------------------------------------------------------------- DoFns

def _dofns():
    s = tc.CompressSettings(**GRADIENT)
    return [PlanOutput(s, "s3://b/out", "r", True, {"s3": {"endpoint_url": "http://x"}}),
            tc._ReadImage({}), tc._CompressImage(s, "r", worker_threads=1),
            tc._WriteImage({}), tc._FailureToRow(s, "r")]


@pytest.mark.parametrize("dofn", _dofns(), ids=lambda d: type(d).__name__)
def test_dofns_pickle_and_unpickle(dofn):
    clone = pickler.loads(pickler.dumps(dofn))
    assert type(clone) is type(dofn)
    assert vars(clone).keys() == vars(dofn).keys()


def test_engine_is_built_once_per_process_and_shared():
    """Two DoFn instances (as two bundle processors of one worker would have) share one engine."""
    shared = Shared()
    s = tc.CompressSettings(**GRADIENT)
    before = tc.model_load_count()
    a = pickler.loads(pickler.dumps(tc._CompressImage(s, "r", shared=shared)))
    b = pickler.loads(pickler.dumps(tc._CompressImage(s, "r", shared=shared)))
    assert a._engine is None  # nothing is loaded at construction or unpickling
    a.setup()
    b.setup()
    assert a._engine is None and tc.model_load_count() == before  # nor before an image comes
    a._build_engine()
    b._build_engine()
    assert a._engine is b._engine and a._engine is not None
    assert tc.model_load_count() == before + 1


def test_a_worker_of_another_code_than_the_launchers_says_so_once(caplog, monkeypatch):
    """Dataflow review 31: a container image built from older code ran the new launcher's
    settings without a word (only the rows' library_version told it, afterwards). The worker
    whose code is not the launcher's logs an error when it builds its engine, once per
    process; the same code, or none known, says nothing, whatever the codec packages' versions
    (the diff review: the build id counts them, and a launcher installed from ranges would
    have made every worker of the pinned image say so)."""
    from compress_core import _version

    s = tc.CompressSettings(**GRADIENT)
    caplog.set_level("ERROR", logger=tc._LOG.name)
    launcher = tc.job_code()
    monkeypatch.setattr(_version, "_CODEC_PACKAGES", ("numpy-of-another-version",))
    _version.build_id.cache_clear()
    tc.job_code.cache_clear()   # (the worker works its own out, with the codecs changed)
    try:
        for launched_by in (launcher, None):
            dofn = pickler.loads(pickler.dumps(tc._CompressImage(s, "r", shared=Shared(),
                                                                 launched_by=launched_by)))
            dofn._build_engine()
            assert dofn._engine is not None and not caplog.records
        shared = Shared()
        for _ in range(2):   # two DoFn instances of one worker process
            dofn = pickler.loads(pickler.dumps(tc._CompressImage(s, "r", shared=shared,
                                                                 launched_by="000000000000")))
            dofn._build_engine()
    finally:
        _version.build_id.cache_clear()
        tc.job_code.cache_clear()
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and said[0].startswith(
        f"this worker's code (compress_core and transforms: {launcher}; build ")
    assert said[0].endswith("is not the launcher's (000000000000): its outputs and rows are "
                            "this worker's (rebuild the container image from the launcher's "
                            "code, tagged with its build: docs/pipeline.md, Dataflow)")


def test_method_jpeg_engine_loads_no_cnn(sample_photos, caplog):
    """``--method jpeg`` (and the JPEG XL archive mode) computes no importance map, yet each
    worker loaded EfficientNet-Lite0 for it (about 3 s per worker process on 2 shared cores).
    Its log line named the CNN as loaded; it says re-encoding only."""
    caplog.set_level("INFO", logger=tc._LOG.name)
    buf = _io.BytesIO()
    sample_photos["astronaut"].save(buf, "JPEG", quality=90)
    archive = tc._Engine(tc.CompressSettings(method="jpeg", format="jxl"), None)
    deep = archive.compressor.energy_function
    assert type(deep).__name__ == "DeepEnergyFunction" and deep._loaded is None
    result = archive.compressor.compress(buf.getvalue(), method="jpeg", format="jxl",
                                         show_progress=False)
    assert result.format == "JXL" and result.operations == {"resize": None,
                                                           "jpeg_reconstruction": True}
    assert deep._loaded is None  # not loaded on use either
    loaded = [r.getMessage() for r in caplog.records if "engine loaded" in r.getMessage()]
    assert "re-encoding only (no importance map)" in loaded[-1] and "model=" not in loaded[-1]
    whole = tc._Engine(tc.CompressSettings(method="hybrid", scale=0.5), None)
    assert "whole pictures scaled (no importance map)" in caplog.records[-1].getMessage()
    assert whole.compressor.energy_function._loaded is None  # the aspect kept: no map
    hybrid = tc._Engine(tc.CompressSettings(method="hybrid", target_width=64,
                                            target_height=64), None)
    assert "energy=deep model=efficientnet_lite0" in caplog.records[-1].getMessage()
    assert hybrid.compressor.energy_function._loaded is not None  # the CNN is loaded up front


def test_an_engine_limits_torchs_threads_once_it_has_imported_it():
    """torch is imported where the CNN loads, no longer before the engine set its threads:
    the limit set first found no torch, and the warm-up and first images ran on every core."""
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = ("import sys\n"
            "from transforms.compress import _Engine\n"
            "from transforms.settings import CompressSettings\n"
            "_Engine(CompressSettings(scale=0.5), 1)\n"
            "print('torch' in sys.modules)\n"
            "_Engine(CompressSettings(target_width=64, target_height=64), 1)\n"
            "import torch\n"
            "print(torch.get_num_threads())\n")
    env = dict(os.environ, PYTHONPATH=root, OMP_NUM_THREADS="2")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=root, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["False", "1"]


def test_model_loads_count_engines_that_load_an_energy_function(tmp_path, sample_photos):
    """Docs review 23: a --method jpeg run said "model loads: 1" beside its log's "re-encoding
    only (no importance map)"."""
    from apache_beam.metrics.metric import MetricsFilter

    (tmp_path / "in").mkdir()
    sample_photos["astronaut"].save(tmp_path / "in" / "a.jpg", quality=90)
    item = InputFile(str(tmp_path / "in" / "a.jpg"), "a.jpg", None)
    loads = {}
    for method, settings in (("jpeg", tc.CompressSettings(method="jpeg")),
                             ("scaled", tc.CompressSettings(**GRADIENT)),
                             ("hybrid", tc.CompressSettings(method="hybrid", energy="gradient",
                                                            target_width=64,
                                                            target_height=64))):
        p = BeamTestPipeline(runner="FnApiRunner")
        _ = p | beam.Create([item]) | tc.CompressImages(settings, str(tmp_path / method), "r")
        result = p.run()
        result.wait_until_finish()
        found = result.metrics().query(MetricsFilter().with_name("model_loads"))["counters"]
        loads[method] = sum(c.committed or 0 for c in found)
    assert loads == {"jpeg": 0, "scaled": 0, "hybrid": 1}


def test_method_jpeg_with_semantic_allocation_loads_the_cnn_up_front():
    """``--method jpeg --allocation semantic`` does read an importance map (the output's, for
    the allocation): the CNN was left to load inside the first image's compress(), 1.6-2.3 s
    against 0.2 s for the others, and a --max_seconds_per_image 1 failed that image with
    CompressionTimeoutError. It is loaded with the engine now."""
    engine = tc._Engine(tc.CompressSettings(method="jpeg", format="jpeg",
                                            allocation="semantic"), None)
    assert engine.compressor.energy_function._loaded is not None


def test_engine_settings_the_job_would_not_use_are_refused_up_front():
    """Review 13, O6: --quality_metric without --target_bytes and --energy_mode with a method
    that carves no seams changed nothing but the output names (a --skip_existing rerun redid
    every image, byte-identical)."""
    with pytest.raises(ValueError, match=r"quality_metric='psnr' compares the candidates of a "
                       r"byte budget \(target_bytes\), and there is none \(drop it: it would "
                       r"change nothing but the output names\)"):
        tc.CompressSettings(scale=0.5, quality_metric="psnr")
    with pytest.raises(ValueError, match="energy_mode='forward' is the seams' cost"):
        tc.CompressSettings(scale=0.5, method="smart_crop", energy_mode="forward")
    assert tc.CompressSettings(target_bytes=4000, quality_metric="psnr").quality_metric == "psnr"


_FIRST_IMAGE_SCRIPT = r"""
import io, json, sys
from numba.core.dispatcher import Dispatcher
from PIL import Image
from skimage import data
import compress_core
from transforms import compress as tc

def compiled():
    found = {}
    for name, module in list(sys.modules.items()):
        if name.startswith("compress_core") and module is not None:
            for attr, value in vars(module).items():
                if isinstance(value, Dispatcher):
                    found[f"{name}.{attr}"] = len(value.signatures)
    return found

settings = tc.CompressSettings(**json.loads(sys.argv[1]))
engine = tc._Engine(settings, None)
before = compiled()
buf = io.BytesIO()
Image.fromarray(data.chelsea()).save(buf, "JPEG", quality=90)
engine.compressor.compress(buf.getvalue(), **settings.compress_kwargs())
after = compiled()
print(json.dumps(sorted(k for k, n in after.items() if n > before.get(k, 0))))
"""


@pytest.mark.parametrize("settings", [
    dict(scale=0.5),                                              # the job's defaults
    dict(energy="gradient", target_width=200, target_height=200),  # thumbnails: seams, crop
    dict(energy="gradient", target_bytes=6000, format="webp"),
], ids=["defaults", "square-thumbnails", "webp-budget"])
def test_the_engine_compiles_the_kernels_before_the_first_image(settings):
    """On a fresh worker (Numba's cache empty: every new container) the first image compiled
    the Numba kernels inside its compression: about 5 s on 2 cores (the chelsea photo, the
    job's defaults: 5.5 s, the next ones 0.1-0.3 s), charged to that image's timings and to
    its --max_seconds_per_image budget: with 5 s, the first image of every worker failed with
    CompressionTimeoutError. The engine now compresses a small picture with the job's settings
    when it is built, so the first image compiles no kernel (in a fresh process)."""
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [os.getcwd(), *filter(None, [os.environ.get("PYTHONPATH")])])}
    out = subprocess.run([sys.executable, "-c", _FIRST_IMAGE_SCRIPT, json.dumps(settings)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_a_failed_warm_up_leaves_a_working_engine(sample_photos, caplog):
    """Settings the small warm-up picture cannot meet (a pixel limit below its size) are no
    reason to fail the engine: the images are compressed as before."""
    import logging

    with caplog.at_level(logging.INFO, logger="compress_core.warm_up"):
        engine = tc._Engine(tc.CompressSettings(energy="gradient", scale=0.5, max_pixels=5000),
                            None)
    assert "warm-up did not finish (ImageTooLargeError" in caplog.text
    small = Image.fromarray(np.asarray(sample_photos["astronaut"])[:60:2, :60:2])
    buf = _io.BytesIO()
    small.save(buf, "PNG")
    result = engine.compressor.compress(buf.getvalue(), scale=0.5, max_pixels=5000,
                                        show_progress=False)
    assert result.size == (15, 15)


def test_the_warm_up_at_a_tiny_scale_logs_nothing_about_its_own_picture(caplog):
    """At --scale 1e-9 the warm-up made a 1 x 1 picture and warned "<array>: 128x96 to 1x1 is
    stretched 1.33x", naming no input (edge review 37): its scale is kept to 0.25..2."""
    import logging

    from compress_core.warm_up import warm_up_kwargs

    assert warm_up_kwargs(tc.CompressSettings(energy="gradient", scale=1e-9))["scale"] == 0.25
    assert warm_up_kwargs(tc.CompressSettings(energy="gradient", scale=9.0))["scale"] == 2.0
    assert warm_up_kwargs(tc.CompressSettings(energy="gradient", scale=0.5))["scale"] == 0.5
    with caplog.at_level(logging.WARNING):
        tc._Engine(tc.CompressSettings(energy="gradient", scale=1e-9), None)
    assert "<array>" not in caplog.text and "stretched" not in caplog.text


def test_unknown_model_is_refused_up_front():
    with pytest.raises(ValueError, match="model must be one of .*'efficientnet_lite0'"):
        tc.CompressSettings(energy="deep", model="no_such_net", scale=0.5)


def test_engine_failure_turns_every_image_into_an_error(sample_photos, monkeypatch):
    """A worker that cannot build the engine (e.g. weights missing there) fails each image
    with the reason, instead of crashing the job."""
    from compress_core.errors import WeightsNotFoundError

    def no_weights(*args, **kwargs):
        raise WeightsNotFoundError("resnet50: weights file resnet50-0676ba61.pth not found")

    monkeypatch.setattr("compress_core.energy.registry.make_energy", no_weights)
    s = tc.CompressSettings(method="hybrid", energy="deep", model="resnet50", scale=0.5)
    dofn = tc._CompressImage(s, "r")
    dofn.setup()  # must not raise
    buf = _io.BytesIO()
    sample_photos["astronaut"].save(buf, "JPEG")
    item = tc.ImageBytes("a.jpg", "a.jpg", "/o/a.x.jpg", buf.getvalue())
    with pytest.raises(WeightsNotFoundError, match="resnet50-0676ba61.pth"):
        list(dofn.process(item))   # each image raises the reason; the step makes it a Failure
    with BeamTestPipeline(runner="FnApiRunner") as p:
        res = p | beam.Create([item]) | CatchFailures(tc._CompressImage(s, "r"), "compress")
        assert_that(res["ok"], equal_to([]), label="NoOutput")
        assert_that(res[tc.FAILED] | beam.Map(lambda f: (f.stage, f.error_type, f.error_message,
                                                         f.output_uri, len(f.input_sha256))),
                    equal_to([("compress", "WeightsNotFoundError",
                               "resnet50: weights file resnet50-0676ba61.pth not found",
                               "/o/a.x.jpg", 64)]), label="Failure")


def test_a_picture_that_runs_the_worker_out_of_memory_is_an_error_row(sample_photos,
                                                                      monkeypatch):
    """Job review 43: a MemoryError's traceback held the call's frames, and with them the
    picture's arrays, while Beam pickled the failure beside them; that ran out of memory again
    outside any image's error handling, and every run of the folder stopped. The error is
    raised again without them: freed before the failure is passed on."""
    import weakref

    held = []

    def hungry(self, item):
        pixels = np.zeros((512, 512, 3), np.uint8)   # (the picture's arrays)
        held.append(weakref.ref(pixels))
        raise MemoryError()

    monkeypatch.setattr(tc._CompressImage, "_compressed", hungry)
    s = tc.CompressSettings(method="jpeg", format="jpeg")
    dofn = tc._CompressImage(s, "r")
    dofn.setup()
    buf = _io.BytesIO()
    sample_photos["coffee"].save(buf, "JPEG")
    item = tc.ImageBytes("c.jpg", "c.jpg", "/o/c.x.jpg", buf.getvalue())
    with pytest.raises(MemoryError, match=r"^the worker ran out of memory compressing this "
                                          r"picture: workers with more memory, or a lower "
                                          r"--max_pixels") as caught:
        next(dofn.process(item))
    assert held and held[0]() is None   # freed while its failure is being handled
    assert caught.value.__context__ is None and caught.value.__cause__ is None
    # where it ran out, as text (the dead letter's traceback ends in process() now)
    assert "in hungry" in "".join(caught.value.__notes__)
    with BeamTestPipeline(runner="FnApiRunner") as p:
        res = p | beam.Create([item]) | CatchFailures(dofn, "compress")
        assert_that(res["ok"], equal_to([]), label="NoOutput")
        assert_that(res[tc.FAILED] | beam.Map(lambda f: (f.stage, f.error_type)),
                    equal_to([("compress", "MemoryError")]), label="Failure")


# --------------------------------------------------------------------------- the composite

def test_compress_images_in_a_test_pipeline(tmp_path, input_dir):
    """Real photos and bad files through CompressImages on the DirectRunner."""
    files = match_pattern(str(input_dir))
    out_dir = str(tmp_path / "out")
    s = tc.CompressSettings(**GRADIENT)
    with BeamTestPipeline(runner="FnApiRunner") as p:
        res = (p | beam.Create(files) | tc.CompressImages(s, out_dir, "run-1"))
        statuses = res["rows"] | "Status" >> beam.Map(
            lambda r: (os.path.basename(r["input_uri"]), r["status"], r["error_type"]))
        assert_that(statuses, equal_to([
            ("astronaut.jpg", "ok", None), ("coffee.jpg", "ok", None), ("chelsea.png", "ok", None),
            ("china.jpg", "ok", None), ("flower.jpg", "ok", None),
            ("corrupt.jpg", "error", "ImageDecodeError"),
            ("truncated.jpg", "error", "ImageDecodeError"),
            ("empty.jpg", "error", "ImageDecodeError"),
            ("notes.png", "error", "ImageDecodeError"),
        ]), label="CheckStatuses")
        stages = res["failures"] | "Stages" >> beam.Map(lambda f: f.stage)
        assert_that(stages, equal_to(["compress"] * 4), label="CheckFailures")
        # a dead letter's message names the input it is about, not "<bytes>"
        named = res["rows"] | "Named" >> beam.Filter(lambda r: r["status"] == "error") \
            | "Message" >> beam.Map(lambda r: r["error_message"].startswith(r["input_uri"] + ": "))
        assert_that(named, equal_to([True] * 4), label="CheckMessagesNameTheInput")
        rows = res["rows"] | "Conform" >> beam.Map(
            lambda r: sorted(r) == sorted(MANIFEST_SCHEMA.names))
        assert_that(rows, equal_to([True] * 9), label="CheckColumns")
    tag = s.params_hash()
    written = sorted(os.path.relpath(os.path.join(d, f), out_dir)
                     for d, _, fs in os.walk(out_dir) for f in fs)
    assert written == sorted([f"astronaut.jpg.{tag}.jpg", f"coffee.jpg.{tag}.jpg",
                              f"chelsea.png.{tag}.jpg", f"trips/china.jpg.{tag}.jpg",
                              f"trips/flower.jpg.{tag}.jpg"])
    with Image.open(os.path.join(out_dir, f"chelsea.png.{tag}.jpg")) as im:
        assert im.format == "JPEG" and im.size == (128, 85)  # a PNG photo becomes a JPEG


def test_a_name_that_lies_gets_the_real_suffix(tmp_path):
    """A chart saved as PNG but named .jpg: a graphic, so lossless output, named for it."""
    from PIL import ImageDraw

    chart = Image.new("RGB", (240, 160), "white")
    draw = ImageDraw.Draw(chart)
    for i, colour in enumerate(["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"]):
        draw.rectangle((20 + 55 * i, 150 - 30 * (i + 1), 60 + 55 * i, 150), fill=colour)
    draw.line((10, 150, 230, 150), fill="black", width=2)
    draw.text((20, 10), "sales 2026", fill="black")
    buf = _io.BytesIO()
    chart.save(buf, "PNG")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "liar.jpg").write_bytes(buf.getvalue())
    s = tc.CompressSettings(**GRADIENT)
    with BeamTestPipeline(runner="FnApiRunner") as p:
        res = p | beam.Create([InputFile(str(tmp_path / "in" / "liar.jpg"), "liar.jpg", None)]) \
            | tc.CompressImages(s, str(tmp_path / "out"), "r")
        assert_that(res["rows"] | beam.Map(lambda r: (r["status"], r["output_uri"][-4:],
                                                      r["output_format"])),
                    equal_to([("ok", "webp", "WEBP")]))  # lossless WebP beats PNG here
    assert os.listdir(tmp_path / "out") == [f"liar.jpg.{s.params_hash()}.webp"]


def test_a_retried_bundle_compresses_again_what_its_first_attempt_wrote(tmp_path, photo_files):
    """Dataflow review 45: a worker lost after writing an output but before its bundle
    committed (killed for its memory, a preempted VM) has Dataflow run the bundle again, the
    same pickled DoFns, the same launch. With --skip_existing the retry met the output its
    first attempt wrote and counted it skipped against an unrecorded output (its row without
    the compression's columns, the summary's "unrecorded" warning). This launch's own journal
    names the output for this input: it is compressed again, the same bytes, an ok row. An
    output another launch (a stopped run, resumed) wrote is adopted as before."""
    from transforms.identity import stat_identity
    from transforms.journal import RunJournal

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "chelsea.png").write_bytes(photo_files["chelsea.png"])
    uri = str(folder / "chelsea.png")
    size, identity = stat_identity(uri, {})
    item = InputFile(uri, "chelsea.png", size, identity=identity)
    s = tc.CompressSettings(**GRADIENT)
    out = str(tmp_path / "out")

    def stage(journal):
        return pickler.dumps([PlanOutput(s, out, "night", True, {}, journal=journal.reader()),
                              tc._ReadImage({}), tc._CompressImage(s, "night", worker_threads=1),
                              tc._WriteImage({}, out, journal)])

    def attempt(shipped):   # a worker's copy of the fused stage, one input through it
        plan, read, compress, write = pickler.loads(shipped)
        planned = list(plan.process(item))
        if not isinstance(planned[0], PlannedImage):
            return planned[0].value
        return list(write.process(list(compress.process(list(read.process(planned[0]))[0]))[0]))[0]

    shipped = stage(RunJournal(str(tmp_path / "out" / "_manifest"), "night"))
    first = attempt(shipped)
    written = open(first["output_uri"], "rb").read()
    again = attempt(shipped)   # the bundle retried: the same launch
    assert (first["status"], again["status"]) == ("ok", "ok")
    assert again["quality_score"] == first["quality_score"] is not None
    assert open(again["output_uri"], "rb").read() == written
    # another launch of the run (the stopped run resumed) adopts the output as before
    resumed = attempt(stage(RunJournal(str(tmp_path / "out" / "_manifest"), "night")))
    assert (resumed["status"], resumed["skip_reason"]) == ("skipped", "unrecorded output")
