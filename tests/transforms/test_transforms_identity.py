"""transforms/identity.py: which file an input URI held, from listings, and when two differ."""
import datetime as dt
import os

import fsspec
import pytest

from transforms.identity import (FileIdentity, identity_columns, identity_differs,
                                 listing_identity, may_be_same_bytes, recorded_identity,
                                 stat_identity)

UTC = dt.timezone.utc
WHEN = dt.datetime(2026, 12, 1, 8, 0, 0, 123456, tzinfo=UTC)


def test_a_local_listing_gives_the_files_mtime_to_the_microsecond(tmp_path):
    path = tmp_path / "IMG_0001.JPG"
    path.write_bytes(b"x" * 10)
    os.utime(path, (WHEN.timestamp() + 3600, WHEN.timestamp()))   # atime is not it
    fs = fsspec.filesystem("file")
    for info in (fs.info(str(path)), *fs.find(str(tmp_path), detail=True).values()):
        assert listing_identity(info) == FileIdentity(WHEN, None)   # no token on a disk


def test_the_memory_store_gives_its_write_time_alike_in_listings_and_info():
    """fsspec's memory store says ``created`` as float seconds in listings and as a datetime
    in ``info``: one time either way."""
    fs = fsspec.filesystem("memory")
    fs.pipe("/identity-test/a.jpg", b"abc")
    try:
        listed = listing_identity(fs.find("/identity-test", detail=True)["/identity-test/a.jpg"])
        asked = listing_identity(fs.info("/identity-test/a.jpg"))
        assert listed == asked and listed.modified is not None and listed.etag is None
    finally:
        fs.rm("/identity-test", recursive=True)


def test_object_store_entries_give_a_token_of_their_kind():
    """Entries as s3fs and gcsfs give them (keys and types seen against moto and the GCS
    emulator): the S3 ETag without its quotes, GCS's md5Hash before crc32c (composite objects
    have crc32c only), and neither GCS's own ``etag`` nor its ``generation``."""
    plus_one = dt.timezone(dt.timedelta(hours=1))        # s3fs lists times in local time
    s3 = {"Key": "b/x.jpg", "ETag": '"336311a016184326ddbdd61edd4eeb52"', "size": 10,
          "LastModified": dt.datetime(2026, 12, 1, 9, 0, 0, tzinfo=plus_one)}
    assert listing_identity(s3) == FileIdentity(dt.datetime(2026, 12, 1, 8, 0, 0, tzinfo=UTC),
                                                "etag:336311a016184326ddbdd61edd4eeb52")
    gcs = {"name": "b/x.jpg", "generation": "1796290898634594704", "etag": "CJjN7f7u4PECEAE=",
           "md5Hash": "M2MRoBYYQybdvdYe3U7rUg==", "crc32c": "IHuXmg==",
           "updated": "2026-12-01T08:00:00.123456Z", "mtime": WHEN}
    assert listing_identity(gcs) == FileIdentity(WHEN, "md5:M2MRoBYYQybdvdYe3U7rUg==")
    composite = {k: v for k, v in gcs.items() if k not in ("md5Hash", "mtime")}
    assert listing_identity(composite) == FileIdentity(WHEN, "crc32c:IHuXmg==")
    assert listing_identity({"name": "x", "size": 3}) == FileIdentity()


def test_a_token_of_one_kind_on_both_sides_decides_else_the_times_do():
    later = WHEN + dt.timedelta(days=1)
    assert identity_differs(FileIdentity(WHEN, "md5:a"), FileIdentity(WHEN, "md5:b"))
    # the same bytes uploaded again (or their metadata changed): the same file
    assert not identity_differs(FileIdentity(later, "md5:a"), FileIdentity(WHEN, "md5:a"))
    # tokens of two kinds are not compared: the times are
    assert identity_differs(FileIdentity(later, "crc32c:a"), FileIdentity(WHEN, "md5:a"))
    assert not identity_differs(FileIdentity(WHEN, "crc32c:a"), FileIdentity(WHEN, "md5:b"))
    assert identity_differs(FileIdentity(later), FileIdentity(WHEN))
    assert not identity_differs(FileIdentity(WHEN), FileIdentity(WHEN))
    # what either side does not know counts as unchanged (the size still counts)
    for now, then in [(FileIdentity(later), FileIdentity()), (FileIdentity(), FileIdentity(WHEN)),
                      (None, FileIdentity(WHEN)), (FileIdentity(later), None),
                      (FileIdentity(None, "md5:a"), FileIdentity(WHEN, None))]:
        assert not identity_differs(now, then)


def test_recorded_identity_reads_rows_as_written_or_rewritten():
    assert recorded_identity(WHEN, "etag:abc") == FileIdentity(WHEN, "etag:abc")
    assert recorded_identity("2026-12-01 09:00:00.123456+01:00", None) == FileIdentity(WHEN)
    assert recorded_identity(WHEN.replace(tzinfo=None), None) == FileIdentity(WHEN)  # naive: UTC
    assert recorded_identity(None, None) == FileIdentity()
    assert recorded_identity("not a time", "no kind") == FileIdentity()
    assert identity_columns(None) == {"input_modified": None, "input_etag": None}
    assert identity_columns(FileIdentity(WHEN, "md5:a")) == {"input_modified": WHEN,
                                                            "input_etag": "md5:a"}


def test_the_recorded_sha256_is_kept_for_a_change_of_time_alone():
    """A row's ``input_sha256`` (64 hex digits) comes with its recorded identity; a change of
    the time alone (no token of one kind on both sides) is what the planner checks it for."""
    digest = "AB" * 32
    assert recorded_identity(WHEN, None, digest) == FileIdentity(WHEN, None, digest.lower())
    assert recorded_identity(WHEN, None, "not a digest") == FileIdentity(WHEN)
    later = WHEN + dt.timedelta(hours=1)
    assert may_be_same_bytes(FileIdentity(later), FileIdentity(WHEN, None, digest))
    assert may_be_same_bytes(FileIdentity(later, "crc32c:a"), FileIdentity(WHEN, "md5:a"))
    assert not may_be_same_bytes(FileIdentity(later, "md5:b"), FileIdentity(WHEN, "md5:a"))
    assert not may_be_same_bytes(FileIdentity(WHEN), FileIdentity(WHEN))     # nothing differs
    assert not may_be_same_bytes(FileIdentity(later), None)
    # an S3 multipart upload's ETag is no MD5 of the bytes: the same photo synced again in
    # parts (or once whole) carried another, and was compressed again (job review 46)
    whole = "etag:d306c79e54f8a5d1c3b1a3a1f0e6c1a2"
    parts = "etag:4003615b5e0d9d1e2a3b4c5d6e7f8091-2"
    assert may_be_same_bytes(FileIdentity(later, parts), FileIdentity(WHEN, whole))
    assert may_be_same_bytes(FileIdentity(later, whole), FileIdentity(WHEN, parts))
    assert not may_be_same_bytes(FileIdentity(later, whole), FileIdentity(WHEN, "etag:0" * 1))
    assert not may_be_same_bytes(FileIdentity(WHEN, parts), FileIdentity(WHEN, parts))
    assert identity_columns(FileIdentity(WHEN, None, digest)) == {"input_modified": WHEN,
                                                                  "input_etag": None}


def test_stat_identity_asks_one_file_and_leaves_missing_ones_to_the_read(tmp_path):
    path = tmp_path / "x.jpg"
    path.write_bytes(b"abcd")
    os.utime(path, (WHEN.timestamp(), WHEN.timestamp()))
    assert stat_identity(str(path)) == (4, FileIdentity(WHEN, None))
    assert stat_identity(f"file://{path}") == (4, FileIdentity(WHEN, None))
    assert stat_identity(str(tmp_path / "missing.jpg")) is None
    assert stat_identity(str(tmp_path)) is None                     # a folder is no file


def test_a_naive_recorded_time_is_utc_whatever_the_machine_s_time_zone(monkeypatch):
    """A manifest rewritten by a tool that drops the zone holds naive times: they are UTC (as
    the job wrote them), also on a worker whose local zone is not (a laptop's DirectRunner):
    read as local time, every file's time would differ by the zone's offset and each
    --skip_existing night would read and hash, or compress again, every input (mutation review
    50: the tests ran only under TZ=UTC, where the two readings agree)."""
    import time

    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset is Unix-only")
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        naive = WHEN.replace(tzinfo=None)
        assert recorded_identity(naive, None) == FileIdentity(WHEN)
        assert recorded_identity(naive.isoformat(), None) == FileIdentity(WHEN)
        assert not identity_differs(FileIdentity(WHEN), recorded_identity(naive, None))
    finally:
        monkeypatch.undo()
        time.tzset()
