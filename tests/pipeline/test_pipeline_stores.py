"""End-to-end runs against real object-store protocol servers on 127.0.0.1.

S3: moto's server, used by s3fs (images) and by Beam's own S3 file system (manifest, dead
letters) through the standard ``--s3_*`` flags. GCS: gcp-storage-emulator, used by gcsfs
(``token="anon"`` and the emulator's endpoint, through ``--storage_options``) and by Beam's GCS
file system (``STORAGE_EMULATOR_HOST``).
"""
import io
import json
import os
import re

import pytest
from PIL import Image

from compress_core.storage import get_filesystem

FAST = ["--method", "hybrid", "--energy", "gradient", "--scale", "0.5",
        "--direct_running_mode=in_memory", "--direct_num_workers=1"]
PHOTOS = ("astronaut.jpg", "chelsea.png", "trips/china.jpg")
BAD = ("corrupt.jpg", "empty.jpg")


def _upload(fs, root, files):
    for rel, data in files.items():
        fs.pipe_file(f"{root}/{rel}", data)


def _check_store_run(fs, bucket, rows, summary, photo_files):
    """Outputs in the bucket match their rows; bad files are error rows; dead letters exist."""
    assert (summary.ok, summary.failed, summary.skipped) == (len(PHOTOS), len(BAD), 0)
    by_name = {r["input_uri"].split("/in/", 1)[1]: r for r in rows}
    assert set(by_name) == set(PHOTOS) | set(BAD)
    for name in PHOTOS:
        r = by_name[name]
        assert r["status"] == "ok", r["error_message"]
        assert r["output_uri"].startswith(r["input_uri"].split("://")[0] + f"://{bucket}/out/")
        _, path = get_filesystem(r["output_uri"])
        data = fs.cat_file(path)
        assert len(data) == r["output_bytes"] and r["input_bytes"] == len(photo_files[name])
        assert r["byte_ratio"] == pytest.approx(len(data) / len(photo_files[name]))
        with Image.open(io.BytesIO(data)) as im:
            assert im.size == (r["output_width"], r["output_height"])
            assert abs(im.size[0] - r["input_width"] / 2) <= 1
    for name in BAD:
        assert by_name[name]["status"] == "error"
        assert by_name[name]["error_type"] == "ImageDecodeError"
    letters = fs.glob(f"{bucket}/out/_dead_letters/run_id=*/*.jsonl")
    records = [json.loads(line) for f in letters for line in fs.cat_file(f).decode().splitlines()]
    assert sorted(r["input_uri"].rsplit("/", 1)[1] for r in records) == sorted(BAD)


def _only_outputs_manifest_and_dead_letters(fs, bucket, rows, run_id):
    """A finished run leaves nothing else under its output prefix (no temporary objects)."""
    fs.invalidate_cache()
    left = sorted(fs.find(f"{bucket}/out"))
    outputs = sorted(get_filesystem(r["output_uri"])[1] for r in rows if r["status"] == "ok")
    others = [k for k in left if k not in outputs]
    assert others and all(re.fullmatch(
        rf"{bucket}/out/(_manifest/run_id={run_id}/part-\d{{5}}-of-\d{{5}}-[0-9a-f]{{8}}\.parquet|"
        rf"_dead_letters/run_id={run_id}/failures-[0-9a-f]{{16}}\.jsonl)", k)
        for k in others), others
    assert set(outputs) <= set(left)


def test_s3_end_to_end_and_skip_existing(s3_bucket, s3_storage_options, s3_beam_args, run_job,
                                         read_manifest, photo_files, bad_files):
    fs, _ = get_filesystem("s3://x", s3_storage_options)
    _upload(fs, f"{s3_bucket}/in", {**{k: photo_files[k] for k in PHOTOS},
                                    **{k: bad_files[k] for k in BAD}})
    args = ["--input", f"s3://{s3_bucket}/in/**", "--output", f"s3://{s3_bucket}/out",
            *FAST, *s3_beam_args]
    _, s1 = run_job([*args, "--run_id", "s3-1"])
    rows = read_manifest(f"s3://{s3_bucket}/out/_manifest", s3_storage_options, run_id="s3-1")
    fs.invalidate_cache()
    _check_store_run(fs, s3_bucket, rows, s1, photo_files)
    _only_outputs_manifest_and_dead_letters(fs, s3_bucket, rows, "s3-1")

    _, s2 = run_job([*args, "--run_id", "s3-2", "--skip_existing"])
    # the damaged files are the same objects (their ETags): skipped, failed before
    assert (s2.ok, s2.failed, s2.skipped, s2.failed_before) == \
        (0, 0, len(BAD) + len(PHOTOS), len(BAD))
    rows2 = read_manifest(f"s3://{s3_bucket}/out/_manifest", s3_storage_options, run_id="s3-2")
    assert sorted((r["status"], r["skip_reason"] or "") for r in rows2) == \
        [("skipped", "")] * 3 + [("skipped", "failed before")] * 2
    _upload(fs, f"{s3_bucket}/in", {k: bad_files[k] + b"\0" for k in BAD})  # uploaded again
    _, s3 = run_job([*args, "--run_id", "s3-3", "--skip_existing"])
    assert (s3.ok, s3.failed, s3.skipped, s3.failed_before) == \
        (0, len(BAD), len(PHOTOS), 0)
    # the same bytes uploaded again in parts (aws s3 sync, above 8 MB): an ETag that is no MD5
    # of them, and the photo was compressed again (job review 46); its SHA-256 tells
    key = "in/astronaut.jpg"
    upload = fs.call_s3("create_multipart_upload", Bucket=s3_bucket, Key=key)["UploadId"]
    part = fs.call_s3("upload_part", Bucket=s3_bucket, Key=key, UploadId=upload, PartNumber=1,
                      Body=photo_files["astronaut.jpg"])
    fs.call_s3("complete_multipart_upload", Bucket=s3_bucket, Key=key, UploadId=upload,
               MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    fs.invalidate_cache()
    assert fs.info(f"{s3_bucket}/{key}")["ETag"].strip('"').endswith("-1")
    _, s4 = run_job([*args, "--run_id", "s3-4", "--skip_existing"])
    assert (s4.ok, s4.failed, s4.skipped, s4.replaced, s4.same_bytes) == \
        (0, 0, len(BAD) + len(PHOTOS), 0, 1)


def test_gcs_end_to_end(gcs_bucket, gcs_storage_options, run_job, read_manifest, photo_files,
                        bad_files):
    fs, _ = get_filesystem("gs://x", gcs_storage_options)
    _upload(fs, f"{gcs_bucket}/in", {**{k: photo_files[k] for k in PHOTOS},
                                     **{k: bad_files[k] for k in BAD}})
    _, s = run_job(["--input", f"gs://{gcs_bucket}/in/**", "--output", f"gs://{gcs_bucket}/out",
                    "--storage_options", json.dumps(gcs_storage_options), "--run_id", "gcs-1",
                    *FAST])
    rows = read_manifest(f"gs://{gcs_bucket}/out/_manifest", gcs_storage_options)
    fs.invalidate_cache()
    _check_store_run(fs, gcs_bucket, rows, s, photo_files)
    assert {r["run_id"] for r in rows} == {"gcs-1"}
    _only_outputs_manifest_and_dead_letters(fs, gcs_bucket, rows, "gcs-1")
    assert os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] == "false"


def _two_days_in(store, request, photo_files):
    """``(bucket, storage options, job flags, file system)`` of the emulated ``store``, with
    ``in/day1/x.jpg`` (coffee) and ``in/day2/x.jpg`` (astronaut) uploaded."""
    if store == "s3":
        bucket, options = request.getfixturevalue("s3_bucket"), \
            request.getfixturevalue("s3_storage_options")
        flags = request.getfixturevalue("s3_beam_args")
    else:
        bucket, options = request.getfixturevalue("gcs_bucket"), \
            request.getfixturevalue("gcs_storage_options")
        flags = ["--storage_options", json.dumps(options)]
    fs, _ = get_filesystem(f"{store}://x", options)
    _upload(fs, f"{bucket}/in", {"day1/x.jpg": photo_files["coffee.jpg"],
                                 "day2/x.jpg": photo_files["astronaut.jpg"]})
    return bucket, options, flags, fs


def _each_holds_its_day(fs, written, photo_files):
    """Each output of ``written`` (input URI -> output URI) holds its own day's photo."""
    fs.invalidate_cache()
    for uri, out in written.items():
        with Image.open(io.BytesIO(fs.cat_file(get_filesystem(out)[1]))) as im:
            size = Image.open(io.BytesIO(photo_files["coffee.jpg" if "day1" in uri
                                                     else "astronaut.jpg"])).size
            assert abs(im.size[0] - size[0] / 2) <= 1 and abs(im.size[1] - size[1] / 2) <= 1


@pytest.mark.parametrize("store", ["s3", "gs"])
def test_a_run_over_a_new_folder_keeps_the_earlier_runs_outputs(
        store, request, run_job, read_manifest, photo_files):
    """The earlier runs' manifest is read from the bucket (fsspec on a worker): day 2's
    ``x.jpg`` gets its digest instead of replacing, or with --skip_existing being skipped
    against, day 1's output; a file replaced under its name is compressed again, at another
    size and at the same size (by the store's content token)."""
    bucket, options, flags, fs = _two_days_in(store, request, photo_files)
    common = ["--output", f"{store}://{bucket}/out", "--skip_existing", *FAST, *flags]
    _, s1 = run_job(["--input", f"{store}://{bucket}/in/day1/", "--run_id", "d1", *common])
    _, s2 = run_job(["--input", f"{store}://{bucket}/in/day2/", "--run_id", "d2", *common])
    _, s3 = run_job(["--input", f"{store}://{bucket}/in/day2/", "--run_id", "d2b", *common])
    assert [(s.ok, s.skipped) for s in (s1, s2, s3)] == [(1, 0), (1, 0), (0, 1)]
    rows = read_manifest(f"{store}://{bucket}/out/_manifest", options)
    written = {r["input_uri"]: r["output_uri"] for r in rows if r["status"] == "ok"}
    assert len(set(written.values())) == 2
    _each_holds_its_day(fs, written, photo_files)
    assert [r["output_uri"] for r in rows if r["run_id"] == "d2b"] == \
        [written[f"{store}://{bucket}/in/day2/x.jpg"]]
    # day 1's photo exported again under its name: the listed size differs, compressed again
    china, flower = _same_size(photo_files["trips/china.jpg"], photo_files["trips/flower.jpg"])
    _upload(fs, f"{bucket}/in", {"day1/x.jpg": china})
    _, s4 = run_job(["--input", f"{store}://{bucket}/in/day1/", "--run_id", "d1b", *common])
    assert (s4.ok, s4.skipped) == (1, 0)
    fs.invalidate_cache()
    day1 = written[f"{store}://{bucket}/in/day1/x.jpg"]
    with Image.open(io.BytesIO(fs.cat_file(get_filesystem(day1)[1]))) as im, \
            Image.open(io.BytesIO(photo_files["trips/china.jpg"])) as src:
        assert abs(im.size[0] - src.size[0] / 2) <= 1 and abs(im.size[1] - src.size[1] / 2) <= 1
    # then another photo of the very same byte size: the store's content token (the S3 ETag,
    # GCS's md5Hash), recorded from the listing, tells it apart; compressed again
    _upload(fs, f"{bucket}/in", {"day1/x.jpg": flower})
    _, s5 = run_job(["--input", f"{store}://{bucket}/in/day1/", "--run_id", "d1c", *common])
    assert (s5.ok, s5.skipped, s5.replaced) == (1, 0, 1)
    rows = {r["run_id"]: r for r in read_manifest(f"{store}://{bucket}/out/_manifest", options)
            if r["run_id"] in ("d1b", "d1c")}
    assert rows["d1b"]["input_bytes"] == rows["d1c"]["input_bytes"] == len(flower)
    for run_id, data in (("d1b", china), ("d1c", flower)):
        assert rows[run_id]["input_etag"] == _token(store, data)
        assert rows[run_id]["input_modified"] is not None
    fs.invalidate_cache()
    with Image.open(io.BytesIO(fs.cat_file(get_filesystem(day1)[1]))) as im:
        new, old = (_mean_difference(im, photo_files[f"trips/{name}.jpg"])
                    for name in ("flower", "china"))
        assert new < 10 < 40 < old, (new, old)


def _same_size(*pictures):
    """Encoded ``pictures`` padded with zero bytes after their end to one byte size (decoders
    ignore what follows a JPEG's end-of-image marker)."""
    longest = max(len(data) for data in pictures)
    return [data + bytes(longest - len(data)) for data in pictures]


def _token(store, data):
    """The ``input_etag`` a single-part upload of ``data`` gets: ``etag:`` and the MD5 (hex)
    on S3, ``md5:`` and the MD5 (base64) on GCS."""
    import base64
    import hashlib

    md5 = hashlib.md5(data).digest()
    return f"etag:{md5.hex()}" if store == "s3" else f"md5:{base64.b64encode(md5).decode()}"


def _mean_difference(image, encoded):
    """Mean absolute difference (0-255) between ``image`` and the picture ``encoded`` scaled to
    its size."""
    import numpy as np

    with Image.open(io.BytesIO(encoded)) as src:
        want = np.asarray(src.convert("RGB").resize(image.size, Image.LANCZOS), np.float32)
    return float(np.abs(np.asarray(image.convert("RGB"), np.float32) - want).mean())


@pytest.mark.parametrize("store, alias", [("s3", "s3a"), ("gs", "gcs")])
def test_a_protocol_alias_is_the_protocol(store, alias, request, run_job, read_manifest,
                                          photo_files):
    """fsspec's aliases (s3a://, gcs://) as --output and --manifest: Beam, which writes the
    manifest and the dead letters, knows none of them (the run stopped at its end), and the
    earlier rows of s3:// were not seen under s3a://. Spelled as the protocol, the second day's
    x.jpg gets its digest instead of replacing the first day's output."""
    bucket, options, flags, fs = _two_days_in(store, request, photo_files)
    _, s1 = run_job(["--input", f"{store}://{bucket}/in/day1/", "--output",
                     f"{store}://{bucket}/out", "--run_id", "d1", *FAST, *flags])
    _, s2 = run_job(["--input", f"{store}://{bucket}/in/day2/", "--output",
                     f"{alias}://{bucket}/out/", "--manifest", f"{alias}://{bucket}/out/_manifest",
                     "--run_id", "d2", *FAST, *flags])
    assert [(s.ok, s.failed, s.set_apart) for s in (s1, s2)] == [(1, 0, 0), (1, 0, 1)]
    rows = read_manifest(f"{store}://{bucket}/out/_manifest", options)
    written = {r["input_uri"]: r["output_uri"] for r in rows if r["status"] == "ok"}
    assert len(set(written.values())) == 2
    assert all(o.startswith(f"{store}://{bucket}/out/") for o in written.values())
    _each_holds_its_day(fs, written, photo_files)


@pytest.mark.parametrize("store", ["s3", "gs"])
def test_a_glob_names_what_it_leaves_out_by_case_on_a_store(store, request):
    """The case report of --input globs (transforms.matching.missed_by_case) lists the bucket
    with the extension in any case, which s3fs and gcsfs glob like a disk."""
    from transforms import matching

    fixture = "s3_bucket" if store == "s3" else "gcs_bucket"
    bucket = request.getfixturevalue(fixture)
    options = request.getfixturevalue(f"{'s3' if store == 's3' else 'gcs'}_storage_options")
    fs, _ = get_filesystem(f"{store}://{bucket}", options)
    _upload(fs, f"{bucket}/in", {"cam/IMG_0001.JPG": b"x", "phone/img_0002.jpg": b"y",
                                 "phone/notes.txt": b"z"})
    fs.invalidate_cache()
    pattern = f"{store}://{bucket}/in/**/*.jpg"
    files = matching.match_pattern(pattern, options)
    assert [f.relpath for f in files] == ["phone/img_0002.jpg"]
    assert matching.missed_by_case(pattern, files, options) == \
        [f"{store}://{bucket}/in/cam/IMG_0001.JPG"]


@pytest.mark.parametrize("store", ["s3", "gs"])
def test_a_bucket_that_does_not_exist_stops_the_run_at_launch(store, request, run_job, capsys,
                                                             photo_files):
    """Stores review 23: a missing --manifest bucket let the images be written, then failed
    the run with Beam's tracebacks and no manifest; a missing --input bucket "matched no
    files" and exited 0. Each is one line at launch, exit status 2, nothing written."""
    fixture = {"s3": "s3", "gs": "gcs"}[store]
    bucket = request.getfixturevalue(f"{fixture}_bucket")
    options = request.getfixturevalue(f"{fixture}_storage_options")
    flags = (request.getfixturevalue("s3_beam_args") if store == "s3"
             else ["--storage_options", json.dumps(options)])
    fs, _ = get_filesystem(f"{store}://x", options)
    _upload(fs, f"{bucket}/in", {"astronaut.jpg": photo_files["astronaut.jpg"]})
    good_in, good_out = f"{store}://{bucket}/in", f"{store}://{bucket}/out"
    missing = f"no-such-bucket-{bucket[-8:]}"
    for flag, args in (
            ("--manifest", ["--input", good_in, "--output", good_out,
                            "--manifest", f"{store}://{missing}/m"]),
            ("--output", ["--input", good_in, "--output", f"{store}://{missing}/out"]),
            ("--input", ["--input", f"{store}://{missing}/photos", "--output", good_out]),
            # (named --input: fault review 28)
            ("--input_list", ["--input_list", f"{store}://{missing}/list.txt",
                              "--output", good_out])):
        capsys.readouterr()
        with pytest.raises(SystemExit) as stop:
            run_job([*args, *FAST, *flags])
        assert stop.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"error: {flag} {store}://{missing}/" in err[0], err
        assert err[0].endswith(f"the bucket {missing} does not exist")
    fs.invalidate_cache()
    assert not fs.exists(f"{bucket}/out")   # nothing was written


def test_an_s3_endpoint_in_the_storage_options_alone_is_beams_too(
        s3_bucket, s3_storage_options, s3_server, run_job, read_manifest, photo_files, capsys):
    """Cloud review 40: an S3 endpoint given only through --storage_options (as the report's
    docs show) sent the images there and the manifest to AWS's endpoint: the run failed
    after the work, exit 3 and 148 lines of tracebacks. Beam's --s3_* options take the
    storage options' values; two different values stop the launch."""
    fs, _ = get_filesystem("s3://x", s3_storage_options)
    _upload(fs, f"{s3_bucket}/in", {"astronaut.jpg": photo_files["astronaut.jpg"]})
    args = ["--input", f"s3://{s3_bucket}/in", "--output", f"s3://{s3_bucket}/out", *FAST,
            "--storage_options", json.dumps(s3_storage_options)]
    _, summary = run_job([*args, "--run_id", "only-options"])
    assert summary.ok == 1
    (row,) = read_manifest(f"s3://{s3_bucket}/out/_manifest", s3_storage_options)
    assert row["status"] == "ok" and row["run_id"] == "only-options"
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        run_job([*args, "--run_id", "two-endpoints", "--s3_endpoint_url=http://127.0.0.1:1"])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--s3_endpoint_url and --storage_options' s3 endpoint_url" \
        in err[0], err


@pytest.mark.parametrize("store", ["s3"])   # (GCS lists alike; its runs cost 25 s each here)
@pytest.mark.parametrize("manifest", ["beside", "local"])
def test_a_stopped_runs_outputs_are_adopted_only_for_their_own_inputs_on_a_store(
        store, manifest, request, run_job, read_manifest, photo_files, monkeypatch, tmp_path):
    """The journal (transforms/journal.py) on a store: a run over day 1 stopped before its
    manifest, then a --skip_existing run over day 2 (uploaded before: no newer than the
    stopped run's output) compressed its own photo instead of adopting day 1's output; the
    finished run left no journal, the stopped one's stays. With the manifest on a local disk
    (its times to the nanosecond, S3's to the second) the entry had read as later than its own
    output and was passed over (diff review 40)."""
    from pipeline.main import RunStopped
    from transforms import manifest_writer

    bucket, options, flags, fs = _two_days_in(store, request, photo_files)
    root = (f"{store}://{bucket}/out/_manifest" if manifest == "beside"
            else str(tmp_path / "manifest"))
    common = ["--output", f"{store}://{bucket}/out", "--manifest", root, "--skip_existing",
              *FAST, *flags]

    def down(self, record):
        raise OSError(5, "Input/output error")

    with monkeypatch.context() as patched:
        patched.setattr(manifest_writer.ManifestSink, "write", down)
        with pytest.raises(RunStopped):
            run_job(["--input", f"{store}://{bucket}/in/day1/", "--run_id", "d1", *common])
    _, s2 = run_job(["--input", f"{store}://{bucket}/in/day2/", "--run_id", "d2", *common])
    assert (s2.ok, s2.skipped, s2.unrecorded) == (1, 0, 0)
    rows = read_manifest(root, options)
    written = {r["input_uri"]: r["output_uri"] for r in rows if r["status"] == "ok"}
    _each_holds_its_day(fs, written, photo_files)
    journal, _ = get_filesystem(root, options)
    journal.invalidate_cache()
    runs = [p.rstrip("/").rsplit("/", 1)[1] for p in journal.ls(
        f"{get_filesystem(root, options)[1]}/_journal", detail=False)]
    assert runs == ["run_id=d1"]
