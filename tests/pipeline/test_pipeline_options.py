"""Command-line options (pipeline/options.py): our flags validated, Beam's passed through."""
import os
import re

import numpy as np
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
        "--input", "gs://b/in/**/*.jpg", "--output", "gs://b/out/", "--runner", "DataflowRunner",
        "--project", "p-1", "--region", "europe-west1", "--temp_location", "gs://b/tmp",
        "--direct_num_workers=2", "--setup_file", "./setup.py"])
    s = job.settings
    assert (s.method, s.energy, s.model, s.scale, s.format) == \
        ("hybrid", "deep", "efficientnet_lite0", 0.5, "auto")
    assert job.output == "gs://b/out" and job.manifest == "gs://b/out/_manifest"
    assert job.dead_letters == f"gs://b/out/_dead_letters/run_id={job.run_id}"
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{6}", job.run_id)
    assert not job.skip_existing and job.inputs == ("gs://b/in/**/*.jpg",)
    opts = PipelineOptions(beam_argv)
    assert opts.view_as(StandardOptions).runner == "DataflowRunner"
    assert opts.view_as(GoogleCloudOptions).region == "europe-west1"
    assert opts.view_as(DirectOptions).direct_num_workers == 2
    assert "--input" not in " ".join(beam_argv)


def test_help_says_the_default_scale():
    """--help listed --scale with no default, while the job halves each side without a size
    target; the compression group says so."""
    from pipeline.options import build_parser

    text = " ".join(build_parser().format_help().split())
    assert "each side is scaled by 0.5" in text
    assert parse_args(["--input", "x", "--output", "o", "--target_bytes", "5000"])[0].settings.scale \
        is None



def test_the_default_scale_is_known_to_the_launch():
    """Docs review 45: `--format webp` alone halved every side, and nothing in the log said
    so (the summary: "89% saved"); the launch's line says it where the default was taken."""
    assert parse_args(["--input", "x", "--output", "o", "--format", "webp"])[0].default_scale
    for given in (["--scale", "0.5"], ["--method", "jpeg"], ["--target_width", "9"]):
        assert not parse_args(["--input", "x", "--output", "o", *given])[0].default_scale


def test_every_compress_option(tmp_path):
    # (no --target_width/--target_height: a size asked for keeps its size under a byte budget,
    # so --quality_metric would compare nothing; options review 48)
    job, _ = parse_args([
        "--input", "x", "--output", "out", "--method", "seam_carving", "--target_pixels", "1000",
        "--max_dimension", "300", "--target_bytes", "5000", "--no_preserve_aspect", "--energy",
        "hybrid", "--model", "resnet18", "--format", "webp", "--quality", "70", "--max_pixels", "1000000",
        "--manifest", "s3://m/manifest", "--run_id", "nightly-1", "--skip_existing",
        "--storage_options", '{"s3": {"endpoint_url": "http://127.0.0.1:9000"}}',
        "--worker_threads", "2", "--manifest_shards", "3", "--energy_mode", "forward",
        "--quality_metric", "psnr"])
    s = job.settings
    assert s.params() == {
        "method": "seam_carving", "energy": "blend", "model": "resnet18", "scale": None,
        "target_pixels": 1000, "max_dimension": 300, "target_bytes": 5000, "target_width": None,
        "target_height": None, "preserve_aspect": False, "format": "webp", "quality": 70,
        "max_pixels": 1000000, "energy_mode": "forward", "quality_metric": "psnr"}
    assert job.output == os.path.abspath("out")
    assert job.manifest == "s3://m/manifest" and job.run_id == "nightly-1" and job.skip_existing
    assert job.storage_options == {"s3": {"endpoint_url": "http://127.0.0.1:9000"}}
    assert (job.worker_threads, job.manifest_shards) == (2, 3)


def test_choices_take_any_case_and_dashes_as_the_library_does():
    """``--method Seam-Carving`` as ``method="seam-carving"`` in the library (options review 41:
    the job and the command line refused the dash)."""
    job, _ = parse_args(["--input", "x", "--output", "o", "--method", "Seam-Carving",
                         "--scale", "0.5", "--format", "WebP"])
    assert (job.settings.method, job.settings.format) == ("seam_carving", "webp")


def test_jpeg_method_needs_no_target():
    job, _ = parse_args(["--input", "x", "--output", "o", "--method", "jpeg", "--quality", "80"])
    assert job.settings.scale is None and job.settings.method == "jpeg"


@pytest.mark.parametrize("argv, message", [
    (["--output", "o"], "give --input GLOB or --input_list URI"),
    (["--input", "x"], "the following arguments are required: --output"),
    (["--input", "x", "--output", "o", "--scale", "0"], "scale must be a positive finite number"),
    (["--input", "x", "--output", "o", "--scale", "-1"], "scale must be a positive finite number"),
    (["--input", "x", "--output", "o", "--energy", "magic"], "invalid choice: 'magic'"),
    (["--input", "x", "--output", "o", "--model", "alexnet"], "invalid choice: 'alexnet'"),
    (["--input", "x", "--output", "o", "--format", "gif"], "invalid choice: 'gif'"),
    (["--input", "x", "--output", "o", "--quality", "0"], "quality must be an integer"),
    (["--input", "x", "--output", "o", "--run_id", "a/b"], "--run_id 'a/b'"),
    (["--input", "x", "--output", "o", "--run_id", "x=1"], "--run_id 'x=1'"),
    (["--input", "x", "--output", "o", "--storage_options", "[1]"], "JSON object"),
    (["--input", "x", "--output", "o", "--method", "jpeg", "--scale", "0.5"],
     "re-encodes without resizing"),
    # fsspec refuses these when listing; the job reported one failed 'image' and exit status 0
    (["--input", "gs://b/2026/**.jpg", "--output", "o"],
     "--input 'gs://b/2026/**.jpg': '**' must be a whole path component, not part of "
     "'**.jpg' (for every .jpg below: 'gs://b/2026/**/*.jpg')"),
    (["--input", "ok/*.png", "--input", "p/a**b/*.jpg", "--output", "o"],
     "'**' must be a whole path component, not part of 'a**b'"),
    # a flag the rest would silently ignore
    (["--input", "x", "--output", "o", "--scale", "0.5", "--quality", "85",
      "--target_quality", "80"], "--target_quality 80 is aimed at by --quality auto only"),
    (["--input", "x", "--output", "o", "--scale", "0.5", "--format", "png", "--quality", "85"],
     "--format png is lossless and takes no quality"),
    (["--input", "x", "--output", "o", "--scale", "0.5", "--energy", "gradient", "--model",
      "vgg16"], "--model vgg16 is the CNN of the deep energies, and --energy gradient runs none"),
    (["--input", "x", "--output", "o", "--scale", "0.5", "--energy", "saliency", "--model",
      "efficientnet_lite0"], "--model efficientnet_lite0 is the CNN of the deep energies, and "
     "--energy saliency runs none"),
    # an unset shell variable: '' was the working folder, every file below it compressed (or
    # every output written into it)
    (["--input", "", "--output", "o"], "--input '': empty"),
    (["--input", "x", "--input", "  ", "--output", "o"], "--input '  ': empty"),
    (["--input", "x", "--output", ""], "--output '': empty"),
    (["--input_list", "", "--output", "o"], "--input_list '': empty"),
    (["--input", "x", "--output", "o", "--manifest", ""], "--manifest '': empty"),
    (["--input", "x", "--output", "o", "--input_base", " "], "--input_base ' ': empty"),
    # (an empty --run_id was a new one without a word; edge review 37)
    (["--input", "x", "--output", "o", "--run_id", ""],
     "--run_id '': empty (an unset shell variable? Leave it out for a new run id.)"),
    # a Latin-1 folder name (bytes that are not UTF-8): a UnicodeEncodeError traceback
    (["--input", "/p/caf\udce9", "--output", "o"],
     "--input /p/caf\\xe9: not UTF-8 (the bytes shown as \\xNN)"),
    (["--input", "x", "--output", "/o/caf\udce9/"], "--output /o/caf\\xe9/: not UTF-8"),
])
def test_bad_flags_exit_with_a_clear_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        parse_args(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("flags, meant", [
    (["--target-quality", "80"], "--target_quality"),
    (["--target-bytes=5000"], "--target_bytes"),
    (["--width", "100"], "--target_width"),
    (["-s", "0.3"], "--scale"),
    (["--no-preserve-aspect"], "--no_preserve_aspect"),
    (["--max-seconds", "3"], "--max_seconds_per_image"),
    (["--skip-existing"], "--skip_existing"),
    (["--input-list", "list.txt"], "--input_list"),
])
def test_a_flag_spelled_otherwise_is_refused_not_left_to_beam(flags, meant, capsys):
    """Flags the job does not know go to Beam, which dropped these with a warning: the job ran
    without them (--target-bytes 5000 gave outputs of any size at the default scale 0.5)."""
    with pytest.raises(SystemExit) as exc:
        parse_args(["--input", "x", "--output", "o", *flags])
    assert exc.value.code == 2
    name = flags[0].split("=")[0]
    assert f"{name} is no flag of the job: it is spelled {meant} here" in capsys.readouterr().err


@pytest.mark.parametrize("flags, meant", [
    (["--skip_exisitng"], "--skip_existing"),
    (["--max_dimenson", "1600"], "--max_dimension"),
    (["--qualty=80"], "--quality"),
    (["--target_quallity", "80"], "--target_quality"),
    (["--input_lists", "uris.txt"], "--input_list"),
    # typos of the command line's spellings, far from the job's (new-user review 42)
    (["--widht", "300"], "--target_width"),
    (["--hieght=200"], "--target_height"),
])
def test_a_misspelt_flag_is_refused_not_left_to_beam(flags, meant, capsys):
    """A typo in a job flag (a crontab's --skip_exisitng, --max_dimenson 1600) went to Beam,
    which warned 'Unparseable argument: --skip_exisitng. Did you mean '--spark_version'?' and
    dropped it: the job ran without it (every image compressed again; scale 0.5 instead of
    the size asked for), exit status 0."""
    with pytest.raises(SystemExit) as exc:
        parse_args(["--input", "x", "--output", "o", *flags])
    assert exc.value.code == 2
    name = flags[0].split("=")[0]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{name} is no flag of the job or of Beam: did you mean {meant}?" \
        in err[-1]


@pytest.mark.parametrize("argv, stray", [
    (["--input", "in/a.jpg", "in/b.jpg", "in/c.jpg", "--output", "o"], "'in/b.jpg' and 1 more"),
    (["--input", "x", "--output", "o", "--runner", "DirectRunner", "in/b.jpg"], "'in/b.jpg'"),
    (["--input", "x", "--output", "o", "--runner=DirectRunner", "extra"], "'extra'"),
    (["--input", "x", "--output", "o", "o2"], "'o2'"),
    # after a switch of Beam's, which takes no value (diff review 25)
    (["--no_use_public_ips", "--input", "in/a.jpg", "in/b.jpg", "--output", "o"], "'in/b.jpg'"),
    (["--input", "x", "--output", "o", "--save_main_session", "in/b.jpg"], "'in/b.jpg'"),
])
def test_words_that_follow_no_flag_are_refused_not_left_to_beam(argv, stray, capsys):
    """An unquoted glob (--input in/*.jpg) is expanded by the shell: the job took the first
    file, Beam dropped the others with a warning, and the run compressed one photo, exit 0."""
    with pytest.raises(SystemExit) as exc:
        parse_args(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"unexpected argument {stray}: each flag takes one value" in err[0]
    assert "quote it (--input 'photos/*.jpg')" in err[0]


@pytest.mark.parametrize("flags", [
    ["--num_workers", "3"], ["--max_num_workers=20"], ["--region", "europe-west1"],
    ["--sdk_container_image", "x"], ["--no_use_public_ips"], ["--flink_master", "h:8081"],
    ["--environment_type", "LOOPBACK"], ["--experiments", "use_runner_v2"],
    ["--s3_endpoint_url", "http://x"], ["--direct_num_workers=2"], ["--some_plugin_flag", "1"],
    ["--direct_num_workers", "02"], ["--labels", "a=b", "--experiments", "x"],
    ["--no_use_public_ips", "--runner", "DataflowRunner"],
    # a Beam flag given its own default value (dataflow review 45: refused as a stray word)
    ["--direct_running_mode", "in_memory"], ["--direct_num_workers", "1"],
    ["--sdk_location", "default"], ["--dataflow_endpoint", "https://dataflow.googleapis.com"]])
def test_beam_flags_and_unknown_flags_far_from_ours_go_to_beam(flags):
    _, beam_argv = parse_args(["--input", "x", "--output", "o", *flags])
    assert beam_argv == flags


def test_every_command_line_spelling_of_a_batch_option_is_refused_naming_the_job_s(capsys):
    from compress_core.flags import spellings
    from compress_core.request import OPTIONS

    for opt in OPTIONS:
        for spelling in spellings(opt, "cli"):
            if spelling in spellings(opt, "job"):
                continue
            with pytest.raises(SystemExit):
                parse_args(["--input", "x", "--output", "o", spelling, "1"])
            err = capsys.readouterr().err
            if opt.batch:
                assert any(f"it is spelled {job} here" in err for job in spellings(opt, "job")), \
                    (spelling, err)
            else:
                assert f"{opt.name} is a per-image option; the job cannot take it" in err


def test_beam_s_own_flags_still_pass_through():
    _, beam_argv = parse_args(["--input", "x", "--output", "o", "--runner", "DirectRunner",
                               "--direct_num_workers", "2", "--direct_running_mode",
                               "multi_processing", "--temp_location=/tmp/t"])
    assert beam_argv == ["--runner", "DirectRunner", "--direct_num_workers", "2",
                         "--direct_running_mode", "multi_processing", "--temp_location=/tmp/t"]


# --------------------------------------------------------------- every batch option is a flag
#: A job flag value other than the default for each batch option, the setting it must give,
#: and flags it needs beside it. A new option fails the test below until it is listed here.
JOB_EXAMPLES = {
    "scale": ("0.25", 0.25, []),
    "target_width": ("90", 90, []),
    "target_height": ("60", 60, []),
    "target_pixels": ("5000", 5000, []),
    "max_dimension": ("100", 100, []),
    "target_bytes": ("4000", 4000, []),
    "preserve_aspect": (None, False, []),
    "method": ("smart_crop", "smart_crop", []),
    "max_stretch": ("1.2", 1.2, []),
    "energy": ("saliency", "saliency", []),
    "model": ("resnet18", "resnet18", []),
    "energy_mode": ("forward", "forward", []),
    "format": ("webp", "webp", []),
    "photo_format": ("avif", "avif", []),
    "quality": ("99", 99, []),
    "target_quality": ("80", 80.0, []),
    "allocation": ("semantic", "semantic", []),
    "metadata": ("none", "none", []),
    "quality_metric": ("psnr", "psnr", ["--target_bytes", "4000"]),
    "max_pixels": ("1000000", 1000000, []),
    "max_seconds": ("30", 30.0, []),
}


def test_every_batch_option_is_a_job_flag_and_reaches_the_library(monkeypatch):
    """Each batch option given as a job flag arrives in compress()'s keyword arguments (or in
    the request the worker's engine is built from); per-image masks are not job flags."""
    from compress_core import GradientEnergyFunction, SemanticCompressor
    from compress_core.flags import flag_name
    from compress_core.request import OPTIONS
    from pipeline.options import build_parser
    from transforms import compress as tc

    batch = [o for o in OPTIONS if o.batch]
    assert set(JOB_EXAMPLES) == {o.name for o in batch}
    for opt in OPTIONS:  # the parser takes the batch options' flags, and no other option's
        value = JOB_EXAMPLES[opt.name][0] if opt.batch else "mask.png"
        flag = [flag_name(opt, "job")] + ([] if value is None else [value])
        rest = build_parser().parse_known_args(["--output", "o", *flag])[1]
        assert (rest == []) == opt.batch, opt.name
    built = []
    monkeypatch.setattr(SemanticCompressor, "from_request", classmethod(
        lambda cls, request, policy=None: built.append(request) or cls(GradientEnergyFunction())))
    for opt in batch:
        value, expected, extra = JOB_EXAMPLES[opt.name]
        assert expected != opt.default, opt.name
        flag = [f"--no_{opt.name}"] if value is None else [flag_name(opt, "job"), value]
        job, beam_argv = parse_args(["--input", "x", "--output", "o", *extra, *flag])
        assert beam_argv == [], opt.name
        assert getattr(job.settings, opt.name) == expected, opt.name
        if opt.scope == "engine":
            tc._Engine(job.settings, None)
            assert getattr(built[-1], opt.name) == expected, opt.name
        else:
            assert job.settings.compress_kwargs()[opt.name] == expected, opt.name
        # the runner's per-image budget (abandoning a stuck thread) is the same option
        assert job.max_seconds_per_image == (expected if opt.name == "max_seconds" else None)


def test_jpeg_quality_99_passes_the_launch_and_the_encoder(sample_photos):
    """Issue 12 item 8: the launch checks and the encoder agree (quality 99 was accepted at
    launch, then every image became an error row 'quality for jpeg must be ... 1..95')."""
    from compress_core import GradientEnergyFunction, SemanticCompressor

    job, _ = parse_args(["--input", "x", "--output", "o", "--format", "jpeg", "--quality", "99"])
    result = SemanticCompressor(GradientEnergyFunction()).compress(
        np.asarray(sample_photos["chelsea"]), **job.settings.compress_kwargs())
    assert result.format == "JPEG" and result.quality == 99


def test_invalid_quality_for_the_format_stops_the_job_with_one_line(tmp_path):
    """An option the encoder would refuse for every image stops ``python -m pipeline`` before
    the pipeline is built: exit status 2, one line on stderr."""
    import subprocess
    import sys

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "--input", str(tmp_path), "--output",
         str(tmp_path / "out"), "--format", "jpeg", "--quality", "101"],
        capture_output=True, text=True, cwd=repo, timeout=120)
    assert proc.returncode == 2
    # (docs review 23: Beam's import-time "apitools not found" warning came first, and a
    # launch check's error after the Pipeline's "Executing pipeline using the default runner")
    assert proc.stderr.splitlines() == [
        "python -m pipeline: error: --quality must be an integer in 1..100 for jpeg or "
        "'auto'; got 101"], proc.stderr
    assert not (tmp_path / "out").exists()
    (tmp_path / "afile").write_text("x")
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "--input", str(tmp_path), "--output",
         str(tmp_path / "afile")], capture_output=True, text=True, cwd=repo, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"python -m pipeline: error: --output {tmp_path / 'afile'}: is a file, not a folder"]


def test_every_job_flag_and_choice_is_in_the_documented_table():
    """docs/pipeline.md's flag table keeps up with the job's own flags (generated from the
    request's option table): every flag ``--help`` lists has a row, and every choice of a flag
    with choices is named in that row."""
    from pipeline.options import build_parser

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "docs", "pipeline.md"), encoding="utf-8") as f:
        doc = f.read()
    rows = {flag: line for line in doc.splitlines() if line.startswith("| `--")
            for flag in re.findall(r"`(--[a-z_]+)", line.split("|")[1])}
    text = build_parser().format_help()
    flags = set(re.findall(r"^  (--[a-z_]+)", text, re.M)) - {"--help"}
    assert len(flags) > 20
    assert sorted(flags - set(rows)) == [], "flags without a row in docs/pipeline.md"
    for flag, choices in re.findall(r"^  (--[a-z_]+) \{([a-z0-9_,]+)\}", text, re.M):
        missing = [c for c in choices.split(",") if f"`{c}`" not in rows[flag]]
        assert not missing, f"{flag}: {missing} missing from its row in docs/pipeline.md"


def test_output_and_manifest_are_spelled_once(tmp_path, monkeypatch):
    """file:// and local:// outputs became file:// URIs that Beam's WriteToParquet could not
    write (the job stopped at its end); '//' stayed '//' and s3a:// stayed s3a://, so a later
    run spelled otherwise did not see the earlier runs' names (and Beam knows no s3a)."""
    monkeypatch.chdir(tmp_path)
    here = str(tmp_path)
    for output, manifest in ((f"file://{here}/out/", f"local://{here}/m/"),
                             (f"//{here.lstrip('/')}/out", f"{here}//m"),
                             ("./x/../out//", "m")):
        job, _ = parse_args(["--input", "in", "--output", output, "--manifest", manifest,
                             "--run_id", "r"])
        assert (job.output, job.manifest) == (f"{here}/out", f"{here}/m"), output
        assert job.dead_letters == f"{here}/out/_dead_letters/run_id=r"
    job, _ = parse_args(["--input", "in", "--output", f"file://{here}/out"])
    assert job.manifest == f"{here}/out/_manifest"
    job, _ = parse_args(["--input", "in", "--output", "file:///", "--run_id", "r"])
    assert (job.output, job.manifest, job.dead_letters) == \
        ("/", "/_manifest", "/_dead_letters/run_id=r")
    job, _ = parse_args(["--input", "s3a://b/in", "--output", "s3a://b/out/", "--manifest",
                         "gcs://g/m", "--input_base", "s3a://b/in"])
    assert (job.output, job.manifest) == ("s3://b/out", "gs://g/m")
    assert job.inputs == ("s3a://b/in",) and job.input_base == "s3a://b/in"   # inputs as given


@pytest.mark.parametrize("flags, message", [
    (["--output", "memory://b/out"], "--output 'memory://b/out': Beam, which writes the "
     "manifest and the dead letters, has no file system for memory://"),
    (["--output", "o", "--manifest", "az://c/m/"], "--manifest 'az://c/m': Beam"),
    (["--output", "abfs://c/out"], "no file system for abfs://"),
])
def test_an_output_beam_cannot_write_stops_the_job_before_it_starts(flags, message, capsys):
    """fsspec reads and writes the images on any of its protocols, but the manifest and the
    dead letters go through Beam's file systems: the run stopped after all its work."""
    with pytest.raises(SystemExit) as exc:
        parse_args(["--input", "x", *flags])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_outputs_on_beam_s_file_systems_pass():
    for output in ("gs://b/o", "s3://b/o", "s3a://b/o", "gcs://b/o", "azfs://a/c/o",
                   "hdfs://h/o", "file:///o", "local:///o", "o"):
        job, _ = parse_args(["--input", "x", "--output", output])
        assert job.output


@pytest.mark.parametrize("flags", [["--json"], ["-q"], ["--quiet"], ["--verbose"], ["-v"],
                                   ["--analyze"], ["-o", "out"], ["--visualize-seams", "3"],
                                   ["-qv"], ["-oout"]])
def test_a_flag_of_the_command_line_only_is_refused_not_left_to_beam(flags, capsys):
    """New user's review 30: --json, -q and --verbose went to Beam, which logged
    "Unparseable argument" and dropped them, and the whole job ran (exit status 0)."""
    with pytest.raises(SystemExit) as exc:
        parse_args(["--input", "x", "--output", "o", *flags])
    assert exc.value.code == 2
    assert (f"{flags[0][:2] if flags[0][1] != '-' else flags[0]} is a flag of the command "
            "line (python -m semantic_compress), not of the job") in capsys.readouterr().err


def test_the_job_says_its_build(capsys):
    """--version, as the command line's: the build a manifest row's library_version names
    (it had gone to Beam and the job had asked for --output)."""
    import compress_core

    with pytest.raises(SystemExit) as exc:
        parse_args(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"python -m pipeline {compress_core.build_id()}\n"
