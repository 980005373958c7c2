"""Atomic outputs: a write that fails midway leaves nothing at the final URI.

Local disk: the write itself fails after half the bytes (disk full). S3 (moto) and GCS
(emulator): a proxy on 127.0.0.1 cuts the connection after half of the upload's body, on every
attempt, so the client's own retries fail too; the store is then listed directly (not through
the proxy). Each store is also written once through the proxy without faults, to show that the
proxy itself forwards correctly.
"""
import asyncio
import os

import pytest

from compress_core import storage
from _fault_proxy import FaultProxy

DATA = os.urandom(300_000)   # an "image" of 300 kB


def _cut_uploads(method, path, headers, length, seen):
    return "cut" if method in ("PUT", "POST") and length > 100_000 else None


def test_local_write_failing_midway_leaves_nothing(tmp_path, monkeypatch, reliability_log):
    target = tmp_path / "out" / "photo.jpg"
    real_fsync = os.fsync

    def fsync(fd):  # the data was half written when the disk filled up
        os.ftruncate(fd, len(DATA) // 2)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(storage.os, "fsync", fsync)
    with pytest.raises(OSError, match="No space left"):
        storage.write_atomic(str(target), DATA)
    monkeypatch.setattr(storage.os, "fsync", real_fsync)
    assert os.listdir(target.parent) == []     # no final file, no temporary file
    # an earlier complete output survives a failed rewrite
    storage.write_atomic(str(target), b"complete")
    monkeypatch.setattr(storage.os, "fsync", fsync)
    with pytest.raises(OSError):
        storage.write_atomic(str(target), DATA)
    assert target.read_bytes() == b"complete" and os.listdir(target.parent) == ["photo.jpg"]
    reliability_log.add("Atomic outputs", "write_atomic (local)",
                        "write fails after half the bytes (ENOSPC)", 2,
                        "nothing at the final path; an older complete file kept",
                        "no file, no temporary file; older file intact", True)


def test_s3_upload_cut_midway_leaves_nothing(s3_server, s3_storage_options, s3_bucket,
                                             reliability_log):
    import s3fs

    direct = s3fs.S3FileSystem(**s3_storage_options["s3"], skip_instance_cache=True)
    with FaultProxy(s3_server, _cut_uploads) as proxy:
        opts = {"s3": {**s3_storage_options["s3"], "endpoint_url": proxy.url,
                       "config_kwargs": {"retries": {"max_attempts": 3, "mode": "standard"}}}}
        uri = f"s3://{s3_bucket}/out/cut.jpg"
        with pytest.raises(Exception):
            storage.write_atomic(uri, DATA, opts)
        cuts = proxy.count("cut")
        storage.write_atomic(f"s3://{s3_bucket}/out/small.jpg", b"x" * 1000, opts)   # proxy works
    direct.invalidate_cache()
    assert cuts >= 1
    assert not direct.exists(f"{s3_bucket}/out/cut.jpg")
    assert direct.ls(f"{s3_bucket}/out") == [f"{s3_bucket}/out/small.jpg"]
    assert direct.cat_file(f"{s3_bucket}/out/small.jpg") == b"x" * 1000
    # no multipart upload was left open either
    uploads = direct.call_s3("list_multipart_uploads", Bucket=s3_bucket).get("Uploads", [])
    assert uploads == []
    reliability_log.add("Atomic outputs", "write_atomic (S3, moto via proxy)",
                        "upload cut after half its body, every attempt", 1,
                        "error raised, nothing at the key", f"error after {cuts} cut attempts; "
                        "key absent, no open multipart upload", True)


def test_gcs_upload_cut_midway_leaves_nothing(gcs_server, gcs_storage_options, gcs_bucket,
                                              monkeypatch, reliability_log):
    import gcsfs
    import gcsfs.retry

    class _FastAsyncio:  # gcsfs backs off 1+2+4+8+16 s between its 6 tries: keep the tries,
        def __getattr__(self, name):    # drop the waiting
            return getattr(asyncio, name)

        @staticmethod
        async def sleep(seconds, *a, **k):
            await asyncio.sleep(0)

    monkeypatch.setattr(gcsfs.retry, "asyncio", _FastAsyncio())
    direct = gcsfs.GCSFileSystem(**gcs_storage_options["gs"], skip_instance_cache=True)
    with FaultProxy(gcs_server, _cut_uploads) as proxy:
        opts = {"gs": {**gcs_storage_options["gs"], "endpoint_url": proxy.url}}
        uri = f"gs://{gcs_bucket}/out/cut.jpg"
        with pytest.raises(Exception):
            storage.write_atomic(uri, DATA, opts)
        cuts = proxy.count("cut")
        storage.write_atomic(f"gs://{gcs_bucket}/out/small.jpg", b"y" * 1000, opts)
    direct.invalidate_cache()
    assert cuts >= 1
    assert not direct.exists(f"{gcs_bucket}/out/cut.jpg")
    assert direct.ls(f"{gcs_bucket}/out") == [f"{gcs_bucket}/out/small.jpg"]
    assert direct.cat_file(f"{gcs_bucket}/out/small.jpg") == b"y" * 1000
    reliability_log.add("Atomic outputs", "write_atomic (GCS emulator via proxy)",
                        "upload cut after half its body, every attempt", 1,
                        "error raised, nothing at the object name",
                        f"error after {cuts} cut attempts; object absent", True)


def test_pipeline_write_cut_midway_on_s3_is_an_error_row_and_leaves_nothing(
        s3_server, s3_storage_options, s3_bucket, photo_files, run_job, read_manifest,
        reliability_log):
    """In the job: every upload of one output is cut midway; that input becomes an ``error``
    row from the ``write`` stage with nothing at its output key, every other photo is ok."""
    import json

    import s3fs

    direct = s3fs.S3FileSystem(**s3_storage_options["s3"], skip_instance_cache=True)
    for rel, data in photo_files.items():
        direct.pipe_file(f"{s3_bucket}/in/{rel}", data)

    def cut_astronaut(method, path, headers, length, seen):
        return "cut" if method == "PUT" and "/out/astronaut." in path else None

    with FaultProxy(s3_server, cut_astronaut) as proxy:
        so = {"s3": {"config_kwargs": {"retries": {"max_attempts": 2, "mode": "standard"}}}}
        _, summary = run_job([
            "--input", f"s3://{s3_bucket}/in", "--output", f"s3://{s3_bucket}/out",
            "--run_id", "cut", "--method", "hybrid", "--energy", "gradient", "--scale", "0.5",
            "--direct_running_mode=in_memory", f"--s3_endpoint_url={proxy.url}",
            "--s3_access_key_id=testing", "--s3_secret_access_key=testing",
            "--s3_region_name=us-east-1", "--storage_options", json.dumps(so)])
        cuts = proxy.count("cut")
    rows = {r["input_uri"].split("/in/", 1)[1]: r
            for r in read_manifest(f"s3://{s3_bucket}/out/_manifest", s3_storage_options,
                                   run_id="cut")}
    assert sorted(rows) == sorted(photo_files)
    bad = rows["astronaut.jpg"]
    assert bad["status"] == "error" and bad["output_bytes"] is None, bad
    direct.invalidate_cache()
    assert not direct.exists(bad["output_uri"])
    assert not [k for k in direct.find(f"{s3_bucket}/out") if "/astronaut." in k]
    for name, r in rows.items():
        if name != "astronaut.jpg":
            assert r["status"] == "ok" and direct.size(r["output_uri"]) == r["output_bytes"]
    assert cuts >= 1 and (summary.ok, summary.failed) == (len(photo_files) - 1, 1)
    reliability_log.add("Atomic outputs", "pipeline (S3 via fault proxy)",
                        "every upload of one output cut midway", len(photo_files),
                        "error row (write stage), nothing at its key; others ok",
                        f"error row `{bad['error_type']}` after {cuts} cut attempts; key absent; "
                        f"{summary.ok} others ok", True)


def test_manifest_part_failing_midway_is_never_in_the_partition(tmp_path, monkeypatch,
                                                                photo_files, write_tree, run_job,
                                                                read_manifest, reliability_log):
    """The manifest sink writes half a Parquet part and fails (disk full): the job fails, the
    run's partition holds no part (Beam's ``fileio.WriteToFiles`` writes to a hidden
    ``_beam_temp-run_id=...`` folder and renames only finished parts), readers see nothing of the
    broken run; a ``--skip_existing`` rerun records every input once."""
    from transforms.manifest_writer import ManifestSink

    def broken_flush(self):
        self._write_rows()
        self._fh.write(b"PAR1" + b"\0" * 100)   # half a footer, then the disk is full
        raise OSError(28, "No space left on device")

    inp, out = tmp_path / "in", tmp_path / "out"
    write_tree(inp, photo_files)
    args = ["--input", str(inp), "--output", str(out), "--method", "hybrid", "--energy",
            "gradient", "--scale", "0.5", "--direct_running_mode=in_memory"]
    with monkeypatch.context() as m:
        m.setattr(ManifestSink, "flush", broken_flush)
        with pytest.raises(Exception, match="No space left"):
            run_job([*args, "--run_id", "broken"])
    partition = out / "_manifest" / "run_id=broken"
    assert not partition.exists() or os.listdir(partition) == []
    # readers (pyarrow, DuckDB) skip the hidden temporary folder: the broken run has no rows
    if (out / "_manifest").exists():
        assert read_manifest(str(out / "_manifest")) == []

    _, summary = run_job([*args, "--run_id", "after", "--skip_existing"])
    rows = read_manifest(str(out / "_manifest"))
    assert sorted(os.path.relpath(r["input_uri"], str(inp)) for r in rows) == sorted(photo_files)
    assert {r["run_id"] for r in rows} == {"after"}
    assert summary.skipped == len(photo_files)     # the images of the failed run were complete
    reliability_log.add("Atomic outputs", "pipeline (manifest sink)",
                        "Parquet part fails after half its bytes", len(photo_files),
                        "job fails; no part in the run's partition; rerun records each input once",
                        f"no part in run_id=broken; rerun: {summary.skipped} skipped, "
                        f"{len(rows)} rows", True)
