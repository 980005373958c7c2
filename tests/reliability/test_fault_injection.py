"""Injected faults: a DoFn failing its first attempt, an S3 endpoint answering 500/503, and a
job SIGKILLed mid-run then rerun with ``--skip_existing``."""
import collections
import os
import signal
import subprocess
import sys
import threading
import time

from PIL import Image

from _fault_proxy import FaultProxy

FAST = ["--method", "hybrid", "--energy", "gradient", "--scale", "0.5"]


def _files(root):
    return sorted(os.path.relpath(os.path.join(d, f), root)
                  for d, _, fs in os.walk(root) for f in fs)


def _images(out):
    """Output files (not the manifest or dead letters; hidden temporary files included)."""
    return [f for f in _files(out) if not f.startswith("_")]


def _complete_images(out):
    """Output images at their final names (no hidden temporary files)."""
    return [f for f in _images(out) if not os.path.basename(f).startswith(".")]


# --------------------------------------------------------------------------- bundle retries


def test_dofn_failing_first_attempt_is_retried_without_duplicates(tmp_path, monkeypatch,
                                                                   photo_files, bad_files,
                                                                   write_tree, run_job,
                                                                   read_manifest,
                                                                   reliability_log):
    """Beam's BundleBasedDirectRunner retries a failed bundle (up to 4 attempts) and commits
    only the outputs of the attempt that succeeds. The write step's bundle fails *after* the
    image was written on the first attempt for chosen inputs (the worst case: the side effect
    happened; the failure is in ``finish_bundle``, outside the per-element exception handling
    that turns an element's error into an error row): the retry rewrites the same
    deterministic URI atomically, and each input still has exactly one output file and one
    manifest row. (Beam's FnApiRunner, our default local engine, does not retry bundles: there
    a failed bundle fails the job, which is the kill-and-rerun case below.)"""
    from transforms import compress as tc

    chosen = {"astronaut.jpg", "trips/china.jpg"}
    attempts = collections.Counter()
    lock = threading.Lock()
    original = tc._WriteImage.process

    def flaky_process(self, item):
        yield from original(self, item)
        name = os.path.relpath(item.uri, str(inp))
        with lock:
            attempts[name] += 1
            first = attempts[name] == 1
        if name in chosen and first:
            self.injected = f"injected fault on the first attempt for {name}"

    def flaky_finish_bundle(self):
        reason, self.injected = getattr(self, "injected", None), None
        if reason:
            raise RuntimeError(reason)

    monkeypatch.setattr(tc._WriteImage, "process", flaky_process)
    monkeypatch.setattr(tc._WriteImage, "finish_bundle", flaky_finish_bundle)
    inp, out = tmp_path / "in", tmp_path / "out"
    files = {**photo_files, **bad_files}
    write_tree(inp, files)
    run_job(["--input", str(inp), "--output", str(out), "--run_id", "retry", *FAST,
             "--runner", "BundleBasedDirectRunner"])

    rows = read_manifest(str(out / "_manifest"), run_id="retry")
    per_input = collections.Counter(os.path.relpath(r["input_uri"], str(inp)) for r in rows)
    assert per_input == collections.Counter(list(files)), "exactly one row per input"
    ok = {os.path.relpath(r["input_uri"], str(inp)): r for r in rows if r["status"] == "ok"}
    assert set(ok) == set(photo_files)
    assert all(attempts[n] >= 2 for n in chosen), attempts      # really retried
    images = _images(out)
    assert len(images) == len(photo_files)                       # no duplicate, no temp file
    for r in ok.values():
        assert os.path.getsize(r["output_uri"]) == r["output_bytes"]
        with Image.open(r["output_uri"]) as im:
            im.load()
    retried = sum(attempts[n] - 1 for n in chosen)
    reliability_log.add("Fault injection", "pipeline (BundleBasedDirectRunner)",
                        "write step's bundle fails after writing, first attempt, 2 chosen inputs",
                        len(files), "bundle retried; one output and one row per input",
                        f"{retried} extra attempts of the chosen inputs; {len(rows)} rows for {len(files)} inputs, "
                        f"{len(images)} outputs for {len(photo_files)} photos", True)
    reliability_log.tally("images lost", len(photo_files) - len(ok))


# --------------------------------------------------------------------------- flaky S3


def test_s3_answering_500_and_503_loses_no_image(s3_server, s3_storage_options, s3_bucket,
                                                 photo_files, bad_files, run_job,
                                                 read_manifest, reliability_log):
    """A proxy in front of moto answers every third new request with HTTP 500 or 503 (only the
    first attempt of each method+path, so the faults are bounded); s3fs (images) and Beam's S3
    file system (manifest, dead letters) retry, and every image arrives."""
    import s3fs

    direct = s3fs.S3FileSystem(**s3_storage_options["s3"], skip_instance_cache=True)
    files = {**photo_files, **bad_files}
    for rel, data in files.items():
        direct.pipe_file(f"{s3_bucket}/in/{rel}", data)
    counter = {"n": 0}
    lock = threading.Lock()

    def flaky(method, path, headers, length, seen):
        if seen:
            return None
        with lock:
            counter["n"] += 1
            n = counter["n"]
        if n % 3 == 0:
            return 503 if n % 2 else 500
        return None

    with FaultProxy(s3_server, flaky) as proxy:
        args = [f"--s3_endpoint_url={proxy.url}", "--s3_access_key_id=testing",
                "--s3_secret_access_key=testing", "--s3_region_name=us-east-1"]
        _, summary = run_job(["--input", f"s3://{s3_bucket}/in", "--output",
                              f"s3://{s3_bucket}/out", "--run_id", "flaky", *FAST,
                              "--direct_running_mode=in_memory", *args])
        faults = proxy.count(500) + proxy.count(503)
        requests = len(proxy.log)
    rows = read_manifest(f"s3://{s3_bucket}/out/_manifest", s3_storage_options, run_id="flaky")
    per_input = collections.Counter(r["input_uri"].split("/in/", 1)[1] for r in rows)
    assert per_input == collections.Counter(list(files))
    ok = [r for r in rows if r["status"] == "ok"]
    assert {r["input_uri"].split("/in/", 1)[1] for r in ok} == set(photo_files)
    assert all(r["error_type"] == "ImageDecodeError" for r in rows if r["status"] == "error")
    direct.invalidate_cache()
    for r in ok:
        assert direct.size(r["output_uri"]) == r["output_bytes"]
    assert faults >= 5, (faults, requests)
    assert (summary.ok, summary.failed) == (len(photo_files), len(bad_files))
    reliability_log.add("Fault injection", "pipeline (S3 via fault proxy)",
                        "every 3rd new request answered HTTP 500/503", len(files),
                        "retried; every photo ok, bad files error rows",
                        f"{faults} faults in {requests} requests; {len(ok)}/{len(photo_files)} "
                        f"photos ok, {len(rows)} rows", True)
    reliability_log.tally("images lost", len(photo_files) - len(ok))


# --------------------------------------------------------------------------- SIGKILL + rerun

_SLOW_JOB = """
import sys, time
from compress_core import SemanticCompressor
_orig = SemanticCompressor.compress
def _slow(self, *a, **k):          # 0.25 s more per image, so that the kill lands mid-run
    time.sleep(0.25)
    return _orig(self, *a, **k)
SemanticCompressor.compress = _slow
from pipeline.main import run
run(sys.argv[1:], save_main_session=False)
"""


def test_sigkill_mid_run_then_skip_existing_rerun(tmp_path, photo_files, bad_files, write_tree,
                                                  run_job, read_manifest, reliability_log):
    """Kill the job (SIGKILL, its whole process group) once some outputs exist, rerun with
    ``--skip_existing``.

    *Union of the manifests*: every row of every ``run_id=`` partition under the manifest
    folder. The killed run dies before its manifest step commits (Beam writes parts to
    ``_beam_temp`` and renames them into the partition only when the step finishes), so it
    contributes no rows; the union must then hold every input exactly once: photos ``ok``
    (redone) or ``skipped`` (finished before the kill), bad files ``error``. Every photo has
    exactly one complete output file.
    """
    photos = {f"set{i}/{name}": data for i in range(3) for name, data in photo_files.items()}
    files = {**photos, "bad/empty.jpg": bad_files["empty.jpg"],
             "bad/truncated.jpg": bad_files["truncated.jpg"]}
    inp, out = tmp_path / "in", tmp_path / "out"
    write_tree(inp, files)
    args = ["--input", str(inp), "--output", str(out), *FAST,
            "--direct_running_mode=in_memory", "--direct_num_workers=1"]
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_JOB, *args, "--run_id", "killed"],
                            cwd=root, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 150
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if os.path.isdir(out) and len(_complete_images(out)) >= 3:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the job ended before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    done_at_kill = _complete_images(out)
    temp_left = [f for f in _images(out) if os.path.basename(f).startswith(".")]
    assert 3 <= len(done_at_kill) < len(photos)
    for f in done_at_kill:                      # what exists at a final name is complete
        with Image.open(out / f) as im:
            im.load()
    killed_parts = _files(out / "_manifest" / "run_id=killed") \
        if (out / "_manifest" / "run_id=killed").exists() else []
    assert killed_parts == []

    _, summary = run_job([*args, "--run_id", "rerun", "--skip_existing"])
    union = read_manifest(str(out / "_manifest"))
    per_input = collections.Counter(os.path.relpath(r["input_uri"], str(inp)) for r in union)
    assert per_input == collections.Counter(list(files)), "each input exactly once"
    status = {os.path.relpath(r["input_uri"], str(inp)): r for r in union}
    assert all(status[n]["status"] in ("ok", "skipped") for n in photos)
    assert all(status[n]["status"] == "error" for n in files if n.startswith("bad/"))
    assert summary.skipped == len(done_at_kill)
    assert summary.ok == len(photos) - len(done_at_kill)
    final = _complete_images(out)
    assert len(final) == len(photos)                                # one output per photo
    for n in photos:
        r = status[n]
        assert os.path.getsize(r["output_uri"]) == r["output_bytes"]
        with Image.open(r["output_uri"]) as im:
            im.load()
    reliability_log.add("Fault injection", "pipeline (subprocess, in_memory)",
                        "job SIGKILLed mid-run, rerun with --skip_existing", len(files),
                        "each input once in the union of manifests (ok/skipped/error); "
                        "one complete output per photo",
                        f"killed with {len(done_at_kill)}/{len(photos)} outputs written, "
                        f"{len(temp_left)} hidden temp files left, 0 manifest parts; rerun: "
                        f"{summary.skipped} skipped, {summary.ok} ok, {summary.failed} error; "
                        f"{len(final)} outputs", True)
    reliability_log.tally("images lost", len(photos) - len(final))
    reliability_log.tally("crashes", 0)
