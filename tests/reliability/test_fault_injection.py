"""Injected faults: a DoFn failing its first attempt, an S3 endpoint answering 500/503, and a
job SIGKILLed mid-run then rerun with ``--skip_existing``."""
import collections
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from PIL import Image

from _fault_proxy import FaultProxy

FAST = ["--method", "hybrid", "--energy", "gradient", "--scale", "0.5"]


def _files(root):
    return sorted(os.path.relpath(os.path.join(d, f), root)
                  for d, _, fs in os.walk(root) for f in fs)


def _images(out):
    """Output images (not the manifest, dead letters, or hidden temporary files)."""
    return [f for f in _files(out) if not f.startswith("_")]


# --------------------------------------------------------------------------- bundle retries


def test_dofn_failing_first_attempt_is_retried_without_duplicates(tmp_path, monkeypatch,
                                                                   photo_files, bad_files,
                                                                   write_tree, run_job,
                                                                   read_manifest,
                                                                   reliability_log):
    """Beam's BundleBasedDirectRunner retries a failed bundle (up to 4 attempts) and commits
    only the outputs of the attempt that succeeds. The write step fails *after* writing the
    image on the first attempt for chosen inputs (the worst case: the side effect happened):
    the retry rewrites the same deterministic URI atomically, and each input still has exactly
    one output file and one manifest row. (Beam's FnApiRunner, our default local engine, does
    not retry bundles: there a failed bundle fails the job, which is the kill-and-rerun case
    below.)"""
    from transforms import compress as tc

    chosen = {"astronaut.jpg", "trips/china.jpg"}
    attempts = collections.Counter()
    lock = threading.Lock()
    original = tc._WriteImage.process

    def flaky_process(self, item):
        out = list(original(self, item))
        name = os.path.relpath(item.uri, str(inp))
        with lock:
            attempts[name] += 1
            first = attempts[name] == 1
        if name in chosen and first:
            raise RuntimeError(f"injected fault on the first attempt for {name}")
        yield from out

    monkeypatch.setattr(tc._WriteImage, "process", flaky_process)
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
                        "write step raises after writing, first attempt, 2 chosen inputs",
                        len(files), "bundle retried; one output and one row per input",
                        f"{retried} retried attempts; {len(rows)} rows for {len(files)} inputs, "
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
