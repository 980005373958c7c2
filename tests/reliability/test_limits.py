"""Limits in the batch job: the per-image time budget and the pixel limit (``--max_pixels``)."""
import io
import os
import threading
import time

import numpy as np
import pytest
from PIL import Image

from compress_core import SemanticCompressor

FAST = ["--method", "hybrid", "--energy", "gradient", "--scale", "0.5",
        "--direct_running_mode=in_memory", "--direct_num_workers=1"]


def _png(w, h, seed=0):
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def test_time_budget_and_pixel_limit_become_error_rows(tmp_path, monkeypatch, photo_files,
                                                       write_tree, run_job, read_manifest,
                                                       reliability_log):
    runaway = _png(64, 48, seed=1)      # made "runaway" below: its compression never ends
    too_big = _png(400, 400, seed=2)    # 160,000 pixels > --max_pixels 100000
    files = {**photo_files, "runaway.png": runaway, "too_big.png": too_big}
    inp, out = tmp_path / "in", tmp_path / "out"
    write_tree(inp, files)

    release = threading.Event()
    original = SemanticCompressor.compress

    def compress(self, image, *args, **kwargs):
        data = image.getvalue() if isinstance(image, io.BytesIO) else image  # the job's input
        if isinstance(data, (bytes, bytearray)) and bytes(data) == runaway:
            release.wait(120)           # a runaway image: blocks until the test ends
        return original(self, image, *args, **kwargs)

    monkeypatch.setattr(SemanticCompressor, "compress", compress)
    start = time.monotonic()
    try:
        _, summary = run_job(["--input", str(inp), "--output", str(out), "--run_id", "limits",
                              "--max_seconds_per_image", "3", "--max_pixels", "100000", *FAST])
    finally:
        release.set()
    wall = time.monotonic() - start

    rows = {os.path.relpath(r["input_uri"], str(inp)): r
            for r in read_manifest(str(out / "_manifest"), run_id="limits")}
    assert sorted(rows) == sorted(files)
    r = rows["runaway.png"]
    assert (r["status"], r["error_type"]) == ("error", "TimeoutError"), r
    assert "per-image budget of 3 s" in r["error_message"]
    assert not os.path.exists(r["output_uri"])
    r2 = rows["too_big.png"]
    assert (r2["status"], r2["error_type"]) == ("error", "ImageTooLargeError"), r2
    assert "100,000" in r2["error_message"] and "max_pixels" in r2["error_message"]
    for name in photo_files:
        assert rows[name]["status"] == "ok", rows[name]
        assert os.path.getsize(rows[name]["output_uri"]) == rows[name]["output_bytes"]
    assert (summary.ok, summary.failed) == (len(photo_files), 2)
    assert wall < 60   # the runaway image held the job for its budget, not for 120 s
    sec = "Limits"
    reliability_log.add(sec, "pipeline", "runaway image (compression never returns), "
                        "--max_seconds_per_image 3", 1, "error row `TimeoutError`",
                        f"error row `{r['error_type']}`; job finished in {wall:.1f} s", True)
    reliability_log.add(sec, "pipeline", "400x400 image over --max_pixels 100000", 1,
                        "error row `ImageTooLargeError`", f"error row `{r2['error_type']}`", True)
    reliability_log.add(sec, "pipeline", "real photos in the same run", len(photo_files),
                        "ok rows", f"{len(photo_files)} ok", True)


def test_the_next_image_waits_for_an_abandoned_one_to_stop(tmp_path, monkeypatch, photo_files,
                                                            write_tree, run_job, read_manifest):
    """A compression abandoned at its budget runs on to its next step (a 45-megapixel
    re-encode: one encode of 2-4 s), and the next images had started beside it: a process
    held several full-size compressions at once (9.1 GiB against 3.8 GiB; large-photo review
    29). The next image now waits for it (at most one more budget and grace): one at a time."""
    slow = _png(64, 48, seed=3)     # overruns its budget in one step that checks no clock
    files = {**photo_files, "slow.png": slow}
    inp, out = tmp_path / "in", tmp_path / "out"
    write_tree(inp, files)
    original = SemanticCompressor.compress
    lock, running, most = threading.Lock(), [0], [0]

    def compress(self, image, *args, **kwargs):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            data = image.getvalue() if isinstance(image, io.BytesIO) else image
            if isinstance(data, (bytes, bytearray)) and bytes(data) == slow:
                time.sleep(2.5)     # past the budget (0.5 s) and its grace (1 s)
            return original(self, image, *args, **kwargs)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(SemanticCompressor, "compress", compress)
    _, summary = run_job(["--input", str(inp), "--output", str(out), "--run_id", "settle",
                          "--max_seconds_per_image", "0.5", *FAST])
    rows = {os.path.relpath(r["input_uri"], str(inp)): r
            for r in read_manifest(str(out / "_manifest"), run_id="settle")}
    assert rows["slow.png"]["error_type"] in ("TimeoutError", "CompressionTimeoutError")
    assert (summary.ok, summary.failed) == (len(photo_files), 1)
    assert most[0] == 1, f"{most[0]} compressions ran at once"


def test_a_slow_compression_stops_itself_at_the_budget(tmp_path, write_tree, run_job,
                                                        read_manifest, reliability_log):
    """A real over-budget compression (a big seam carve) stops cooperatively: its row is a
    ``CompressionTimeoutError`` and no abandoned thread keeps running after the job."""
    from skimage import data

    big = np.ascontiguousarray(np.tile(data.astronaut(), (2, 3, 1)))  # 1536 x 1024
    buf = io.BytesIO()
    Image.fromarray(big).save(buf, "PNG")
    small = io.BytesIO()
    Image.fromarray(data.astronaut()[::8, ::8]).save(small, "PNG")  # 64 x 64: fast
    inp, out = tmp_path / "in", tmp_path / "out"
    write_tree(inp, {"big.png": buf.getvalue(), "small.png": small.getvalue()})
    start = time.monotonic()
    _, summary = run_job(["--input", str(inp), "--output", str(out), "--run_id", "slow",
                          "--method", "seam_carving", "--energy", "gradient", "--scale", "0.4",
                          "--max_seconds_per_image", "0.5", "--direct_running_mode=in_memory",
                          "--direct_num_workers=1"])
    wall = time.monotonic() - start
    rows = {os.path.basename(r["input_uri"]): r
            for r in read_manifest(str(out / "_manifest"), run_id="slow")}
    r = rows["big.png"]
    assert (r["status"], r["error_type"]) == ("error", "CompressionTimeoutError"), r
    assert "0.5 s" in r["error_message"] and "seams" in r["error_message"]
    assert not os.path.exists(r["output_uri"])
    assert rows["small.png"]["status"] == "ok", rows["small.png"]
    assert (summary.ok, summary.failed) == (1, 1)
    deadline = time.monotonic() + 2.0
    while any(t.name == "compress-with-budget" and t.is_alive()
              for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = [t for t in threading.enumerate() if t.name == "compress-with-budget" and t.is_alive()]
    assert not alive, "the over-budget compression kept running"
    reliability_log.add("Limits", "pipeline", "real over-budget compression (1536x1024 seam "
                        "carve to 40%), --max_seconds_per_image 0.5", 1,
                        "error row `CompressionTimeoutError`, no thread left running",
                        f"error row `{r['error_type']}`, {len(alive)} threads left; job "
                        f"finished in {wall:.1f} s", True)


def test_max_seconds_per_image_is_validated():
    from pipeline.options import parse_args

    job, _ = parse_args(["--input", "x", "--output", "/tmp/o", "--max_seconds_per_image", "1.5"])
    assert job.max_seconds_per_image == 1.5
    assert parse_args(["--input", "x", "--output", "/tmp/o"])[0].max_seconds_per_image is None
    for bad in ("0", "-1", "inf", "soon"):
        with pytest.raises(SystemExit):
            parse_args(["--input", "x", "--output", "/tmp/o", "--max_seconds_per_image", bad])


def test_budget_helper_passes_results_and_errors_through():
    from transforms.compress import _call_with_budget

    assert _call_with_budget(lambda: 42, 5) == 42
    with pytest.raises(KeyError):
        _call_with_budget(lambda: {}["x"], 5)
    with pytest.raises(TimeoutError, match="budget of 0.2 s"):
        _call_with_budget(lambda: time.sleep(3), 0.2)
