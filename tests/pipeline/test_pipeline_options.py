"""Command-line options (pipeline/options.py): our flags validated, Beam's passed through."""
import os
import re

import pytest
from apache_beam.options.pipeline_options import (
    DirectOptions,
    GoogleCloudOptions,
    PipelineOptions,
    StandardOptions,
)

from pipeline.options import parse_args


def test_defaults_and_beam_flags_pass_through(tmp_path):
    job, beam_argv = parse_args([
        "--input", "gs://b/in/**.jpg", "--output", "gs://b/out/", "--runner", "DataflowRunner",
        "--project", "p-1", "--region", "europe-west1", "--temp_location", "gs://b/tmp",
        "--direct_num_workers=2", "--setup_file", "./setup.py"])
    s = job.settings
    assert (s.method, s.energy, s.model, s.scale, s.format) == \
        ("hybrid", "deep", "efficientnet_lite0", 0.5, "auto")
    assert job.output == "gs://b/out" and job.manifest == "gs://b/out/_manifest"
    assert job.dead_letters == f"gs://b/out/_dead_letters/run_id={job.run_id}"
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{6}", job.run_id)
    assert not job.skip_existing and job.inputs == ("gs://b/in/**.jpg",)
    opts = PipelineOptions(beam_argv)
    assert opts.view_as(StandardOptions).runner == "DataflowRunner"
    assert opts.view_as(GoogleCloudOptions).region == "europe-west1"
    assert opts.view_as(DirectOptions).direct_num_workers == 2
    assert "--input" not in " ".join(beam_argv)


def test_every_compress_option(tmp_path):
    job, _ = parse_args([
        "--input", "x", "--output", "out", "--method", "seam_carving", "--target_pixels", "1000",
        "--max_dimension", "300", "--target_bytes", "5000", "--target_width", "200",
        "--target_height", "100", "--no_preserve_aspect", "--energy", "hybrid", "--model",
        "resnet18", "--format", "webp", "--quality", "70", "--max_pixels", "1000000",
        "--manifest", "s3://m/manifest", "--run_id", "nightly-1", "--skip_existing",
        "--storage_options", '{"s3": {"endpoint_url": "http://127.0.0.1:9000"}}',
        "--worker_threads", "2", "--manifest_shards", "3", "--energy_mode", "forward",
        "--quality_metric", "psnr"])
    s = job.settings
    assert s.params() == {
        "method": "seam_carving", "energy": "hybrid", "model": "resnet18", "scale": None,
        "target_pixels": 1000, "max_dimension": 300, "target_bytes": 5000, "target_width": 200,
        "target_height": 100, "preserve_aspect": False, "format": "webp", "quality": 70,
        "max_pixels": 1000000, "energy_mode": "forward", "quality_metric": "psnr"}
    assert job.output == os.path.abspath("out")
    assert job.manifest == "s3://m/manifest" and job.run_id == "nightly-1" and job.skip_existing
    assert job.storage_options == {"s3": {"endpoint_url": "http://127.0.0.1:9000"}}
    assert (job.worker_threads, job.manifest_shards) == (2, 3)


def test_jpeg_method_needs_no_target():
    job, _ = parse_args(["--input", "x", "--output", "o", "--method", "jpeg", "--quality", "80"])
    assert job.settings.scale is None and job.settings.method == "jpeg"


@pytest.mark.parametrize("argv, message", [
    (["--output", "o"], "give --input GLOB or --input_list URI"),
    (["--input", "x"], "the following arguments are required: --output"),
    (["--input", "x", "--output", "o", "--scale", "0"], "expected a positive number"),
    (["--input", "x", "--output", "o", "--scale", "-1"], "expected a positive number"),
    (["--input", "x", "--output", "o", "--energy", "magic"], "invalid choice: 'magic'"),
    (["--input", "x", "--output", "o", "--model", "alexnet"], "model must be one of"),
    (["--input", "x", "--output", "o", "--format", "gif"], "invalid choice: 'gif'"),
    (["--input", "x", "--output", "o", "--quality", "0"], "quality must be an integer"),
    (["--input", "x", "--output", "o", "--run_id", "a/b"], "--run_id 'a/b'"),
    (["--input", "x", "--output", "o", "--run_id", "x=1"], "--run_id 'x=1'"),
    (["--input", "x", "--output", "o", "--storage_options", "[1]"], "JSON object"),
    (["--input", "x", "--output", "o", "--method", "jpeg", "--scale", "0.5"],
     "re-encodes without resizing"),
])
def test_bad_flags_exit_with_a_clear_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        parse_args(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
