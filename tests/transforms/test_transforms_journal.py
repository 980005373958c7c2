"""transforms.journal: which input each output was written for, until the manifest says so."""
import datetime as dt
import os
import time
import uuid

import fsspec
import pytest

from compress_core.storage import path_below
from transforms.identity import FileIdentity
from transforms.journal import JournalReader, Lookup, RunJournal, output_key

WHEN = dt.datetime(2026, 12, 1, 8, 30, 15, 123456, tzinfo=dt.timezone.utc)


@pytest.fixture(params=["local", "memory"])
def manifest_root(request, tmp_path):
    if request.param == "local":
        yield str(tmp_path / "out" / "_manifest")
        return
    bucket = f"journal-{uuid.uuid4().hex[:8]}"
    yield f"memory://{bucket}/out/_manifest"
    memory = fsspec.filesystem("memory")
    if memory.exists(f"/{bucket}"):
        memory.rm(f"/{bucket}", recursive=True)


def _later():
    """The time of an output written just after its entries."""
    return dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)


def test_another_launch_reads_what_a_stopped_launch_journalled(manifest_root):
    stopped = RunJournal(manifest_root, "night", launch="aaaa0001")
    stopped.record("d/IMG_1.JPG.abc.jpg", "/in/d1/d/IMG_1.JPG", 1234,
                   FileIdentity(WHEN, "etag:xyz"))
    resumed = RunJournal(manifest_root, "night")          # the same run id, a new launch
    entry = resumed.reader().writer_of("d/IMG_1.JPG.abc.jpg", _later()).entry
    assert entry is not None and entry.run_id == "night"
    assert (entry.input_uri, entry.input_bytes) == ("/in/d1/d/IMG_1.JPG", 1234)
    assert entry.identity == FileIdentity(WHEN, "etag:xyz")
    assert resumed.reader().writer_of("d/other.jpg.abc.jpg", _later()) == Lookup(None, False)
    # a launch does not read its own journal
    assert stopped.reader().writer_of("d/IMG_1.JPG.abc.jpg", _later()) == Lookup(None, False)
    # an output modified a minute after the entry was written again by a run this journal
    # does not know (under another --manifest: kill/resume review 40): named, not its own
    a_minute = _later() + dt.timedelta(seconds=60)
    assert resumed.reader().writer_of("d/IMG_1.JPG.abc.jpg", a_minute) == Lookup(None, True)


def _two_launches_entries(tmp_path):
    """The manifest root and the entry files of two stopped launches' entries for one output
    (runs r1 and r2: inputs /in/a/x.jpg and /in/b/x.jpg)."""
    root = str(tmp_path / "out" / "_manifest")
    first = RunJournal(root, "r1", launch="00000001")
    first.record("x.jpg.t.jpg", "/in/a/x.jpg", 10, FileIdentity(WHEN, None))
    second = RunJournal(root, "r2", launch="00000002")
    second.record("x.jpg.t.jpg", "/in/b/x.jpg", 20, FileIdentity(WHEN, None))
    entries = [tmp_path / "out" / "_manifest" / "_journal" / f"run_id=r{n}" /
               f"launch=0000000{n}" / output_key("x.jpg.t.jpg") for n in (1, 2)]
    return root, entries


def test_an_entry_written_after_the_output_is_not_that_outputs(tmp_path):
    """A launch journals and then stops before its output is written: the file there is an
    earlier launch's, which the newest entry written before it names. Stores keep times to
    their own resolution (S3 in whole seconds: an output 3 ms after its entry read as 362 ms
    before it; diff review 40): an entry up to 2 s after the output is still its own."""
    root, entries = _two_launches_entries(tmp_path)
    now = time.time()
    os.utime(entries[0], (now - 60.4, now - 60.4))   # the first launch, its output a minute ago
    os.utime(entries[1], (now, now))                 # the second, stopped before its output
    written = dt.datetime.fromtimestamp(int(now - 60), dt.timezone.utc)   # (whole seconds)
    reader = RunJournal(root, "r3").reader()
    assert reader.writer_of("x.jpg.t.jpg", written).entry.input_uri == "/in/a/x.jpg"
    assert reader.writer_of("x.jpg.t.jpg", _later()).entry.input_uri == "/in/b/x.jpg"
    assert reader.writer_of("x.jpg.t.jpg", WHEN) == Lookup(None, True)   # (older than both)


def test_forget_removes_the_launch_and_empty_folders_only(manifest_root):
    fs, root = fsspec.core.url_to_fs(manifest_root)
    kept = RunJournal(manifest_root, "night", launch="00000001")
    kept.record("a.jpg.t.jpg", "/in/a.jpg", 1, FileIdentity())
    done = RunJournal(manifest_root, "night", launch="00000002")
    done.record("b.jpg.t.jpg", "/in/b.jpg", 2, FileIdentity())
    done.forget()
    fs.invalidate_cache()
    left = fs.ls(f"{root}/_journal/run_id=night", detail=False)
    assert [os.path.basename(p.rstrip("/")) for p in left] == ["launch=00000001"]
    kept.forget()
    fs.invalidate_cache()
    assert not fs.exists(f"{root}/_journal")      # (nothing left: no empty folders either)
    RunJournal(manifest_root, "never").forget()            # nothing there: fine


def _entry_rewritten(manifest_root, launch, text):
    """What a later run reads of launch ``launch``'s entry for x.jpg.t.jpg once its file
    holds ``text`` (another tool's rewrite, a store's garbled read)."""
    RunJournal(manifest_root, "r1", launch=launch).record("x.jpg.t.jpg", "/in/x.jpg", 1,
                                                           FileIdentity())
    fs, root = fsspec.core.url_to_fs(manifest_root)
    fs.pipe_file(f"{root}/_journal/run_id=r1/launch={launch}/{output_key('x.jpg.t.jpg')}",
                 text)
    return RunJournal(manifest_root, "r2").reader().writer_of("x.jpg.t.jpg", _later()).entry


def test_an_unreadable_entry_names_nothing(manifest_root):
    assert _entry_rewritten(manifest_root, "0000000a", b"{not json") is None
    found = _entry_rewritten(manifest_root, "0000000a",
                             b'{"input_uri": "/in/x.jpg", "input_bytes": true}')
    assert found.input_bytes is None and found.identity == FileIdentity()


def test_no_journal_folder_says_nothing(manifest_root):
    assert JournalReader(manifest_root).writer_of("x.jpg", _later()) == Lookup(None, False)


def test_names_below_the_output_do_not_depend_on_its_spelling():
    # (entries are named by the output's path below --output, as path_below gives it)
    assert path_below("out/a/x.jpg.t.jpg", "out") == "a/x.jpg.t.jpg"
    assert path_below("out/a/x.jpg.t.jpg", "./out/") == "a/x.jpg.t.jpg"
    assert path_below("s3://b/o/x.jpg", "s3a://b/o") == "x.jpg"
    assert output_key("a/x.jpg") != output_key("b/x.jpg")
    assert output_key("a/x.jpg").endswith(".json") and len(output_key("\udcff.jpg")) == 45


def test_an_entry_is_its_outputs_within_the_stores_clocks_and_the_newest_wins(tmp_path):
    """The bounds writer_of promises (mutation review 51: each could be dropped with every
    test passing): an entry up to 2 s after its output's time is still that output's (S3 keeps
    whole seconds), one up to 3 s + 2 s before it too (the picture written after its entry);
    of two stopped launches' entries both in that window, the newest wrote the file."""
    root, entries = _two_launches_entries(tmp_path)
    now = time.time()

    def output_at(seconds):
        return dt.datetime.fromtimestamp(now + seconds, dt.timezone.utc)

    reader = RunJournal(root, "r3").reader()
    os.utime(entries[0], (now - 600, now - 600))   # (out of every window below)
    os.utime(entries[1], (now, now))
    for written in (-1.5, 0, 4.5):   # its output 1.5 s before it (whole seconds), or after
        assert reader.writer_of("x.jpg.t.jpg", output_at(written)).entry.input_uri == \
            "/in/b/x.jpg", written
    for written in (-2.5, 5.5):      # a launch stopped before its output; a rewrite since
        assert reader.writer_of("x.jpg.t.jpg", output_at(written)) == Lookup(None, True)
    os.utime(entries[0], (now - 3, now - 3))       # both in the window: the newest wrote it
    assert reader.writer_of("x.jpg.t.jpg", output_at(0.5)).entry.input_uri == "/in/b/x.jpg"
    os.utime(entries[0], (now + 1, now + 1))
    assert reader.writer_of("x.jpg.t.jpg", output_at(0.5)).entry.input_uri == "/in/a/x.jpg"


def test_a_launch_reads_its_own_entry_of_an_output_its_retried_bundle_wrote(manifest_root):
    """own_entry: what a retried bundle of this launch finds beside the output its first
    attempt wrote (transforms.plan compresses it again, the run's own row); nothing for an
    output it did not journal, nor for another launch's (mutation review 51: own_entry could
    answer None always with every test here passing)."""
    journal = RunJournal(manifest_root, "night", launch="0000000b")
    journal.record("d/x.jpg.t.jpg", "/in/d/x.jpg", 1234, FileIdentity(WHEN, "etag:xyz"))
    entry = journal.reader().own_entry("d/x.jpg.t.jpg")
    assert entry == (("night", "/in/d/x.jpg", 1234, FileIdentity(WHEN, "etag:xyz")))
    assert journal.reader().own_entry("d/y.jpg.t.jpg") is None
    assert RunJournal(manifest_root, "night").reader().own_entry("d/x.jpg.t.jpg") is None
    assert JournalReader(manifest_root).own_entry("d/x.jpg.t.jpg") is None


def test_an_entry_with_a_size_or_uri_it_cannot_have_is_read_without_them(manifest_root):
    assert _entry_rewritten(manifest_root, "0000000c",
                            b'{"input_uri": "/in/x.jpg", "input_bytes": -5}').input_bytes is None
    assert _entry_rewritten(manifest_root, "0000000c",
                            b'{"input_uri": 7, "input_bytes": 5}') is None
