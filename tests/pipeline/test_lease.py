"""One launch at a time per manifest (pipeline/lease.py)."""
import json
import os
import time

import pytest

from pipeline import lease as lease_module
from pipeline.lease import LEASES, LIVE, LaunchLease


def _leases(root):
    folder = root / LEASES
    return sorted(os.listdir(folder)) if folder.exists() else []


def test_a_lone_launch_holds_its_lease_and_leaves_nothing(tmp_path):
    root = tmp_path / "out" / "_manifest"
    lease = LaunchLease(str(root), "night1", tag="aaaa0001")
    assert lease.acquire() is None
    assert _leases(root) == ["aaaa0001.json"]
    held = json.loads((root / LEASES / "aaaa0001.json").read_text())
    assert held["run_id"] == "night1" and held["pid"] == os.getpid() and held["since"]
    with lease:
        assert _leases(root) == ["aaaa0001.json"]
    # the folders it made are gone with it: the output folder is as it was (none)
    assert not (tmp_path / "out").exists()


def test_a_second_launch_is_refused_while_the_first_holds_its_lease(tmp_path):
    """Job review 43: a nightly --skip_existing run started while the previous night's ran
    adopted that run's fresh outputs for its own photos of the same names."""
    root = tmp_path / "_manifest"
    first = LaunchLease(str(root), "dayA", tag="aaaa0001")
    assert first.acquire() is None
    with first:
        second = LaunchLease(str(root), "dayB", tag="bbbb0002")
        problem = second.acquire()
        assert problem.startswith("another launch is running into this manifest now: run dayA "
                                  "(launched ")
        assert f"its lease {root}/{LEASES}/aaaa0001.json" in problem
        assert "wait for it to end, or give another --output and --manifest" in problem
        assert _leases(root) == ["aaaa0001.json"]   # (the refused one's is gone)
    assert _leases(root) == []
    assert LaunchLease(str(root), "dayB").acquire() is None   # once the first has ended


def test_of_two_launches_that_see_each_other_the_first_written_goes_on(tmp_path):
    """Two launches write their leases, then each looks: the one the store wrote first goes
    on, the other is refused (each reads the same two times)."""
    root = tmp_path / "_manifest"
    (root / LEASES).mkdir(parents=True)
    mine = LaunchLease(str(root), "late", tag="cccc0003")
    earlier = {"run_id": "early", "since": "2000-01-01T00:00:00+00:00", "tag": "zzzz9999"}
    (root / LEASES / "zzzz9999.json").write_text(json.dumps(earlier))
    assert "run early" in mine.acquire()
    later = {"run_id": "later", "since": "2999-01-01T00:00:00+00:00", "tag": "0000aaaa"}
    (root / LEASES / "zzzz9999.json").unlink()
    (root / LEASES / "0000aaaa.json").write_text(json.dumps(later))
    assert mine.acquire() is None   # the other one will see this one first
    mine.release()


def test_a_stale_lease_is_ignored_and_removed(tmp_path):
    """A launcher killed outright leaves its lease; LIVE seconds after its last write it
    stands for nothing."""
    root = tmp_path / "_manifest"
    (root / LEASES).mkdir(parents=True)
    stale = root / LEASES / "dead0001.json"
    stale.write_text(json.dumps({"run_id": "killed", "since": "2000-01-01T00:00:00+00:00"}))
    old = time.time() - LIVE - 30
    os.utime(stale, (old, old))
    fresh = LaunchLease(str(root), "next", tag="eeee0005")
    assert fresh.acquire() is None
    assert _leases(root) == ["eeee0005.json"]
    fresh.release()


def test_the_lease_of_a_launcher_of_this_machine_that_is_gone_is_removed_at_once(tmp_path):
    """A launch killed outright (kill -9, the reliability suite's) and resumed at once had
    waited out LIVE seconds; on the same machine its process is asked for."""
    import subprocess
    import sys

    root = tmp_path / "_manifest"
    first = LaunchLease(str(root), "killed", tag="dead0002")
    assert first.acquire() is None
    held = json.loads((root / LEASES / "dead0002.json").read_text())
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    held["pid"] = int(gone.stdout)   # (a process of this machine that has ended)
    (root / LEASES / "dead0002.json").write_text(json.dumps(held))
    resumed = LaunchLease(str(root), "resumed", tag="eeee0003")
    assert resumed.acquire() is None
    assert _leases(root) == ["eeee0003.json"]
    resumed.release()
    # a process id used again since: another process's (the start times differ)
    held.update(pid=os.getppid(), process_started=1)
    (root / LEASES / "dead0002.json").write_text(json.dumps(held))
    assert resumed.acquire() is None
    # a lease another machine's (another boot id), or another container's on this host (its
    # host name and boot id this one's, another process namespace: diff review 43, where it
    # had been removed and both runs went on), stands: its process id, no process's here,
    # cannot be asked for here
    for key, value in (("boot", "another-machine"), ("pid_namespace", 1), ("host", "other")):
        (root / LEASES / "dead0002.json").write_text(json.dumps(
            {**held, "pid": int(gone.stdout), "process_started": None, key: value}))
        assert "run killed" in LaunchLease(str(root), "third", tag="ffff0004").acquire(), key
    # a live process of this namespace, the one that wrote the lease: it stands
    held.update(pid=os.getppid(), process_started=lease_module._process_started(os.getppid()))
    (root / LEASES / "dead0002.json").write_text(json.dumps(held))
    assert "run killed" in LaunchLease(str(root), "fourth", tag="ffff0005").acquire()
    resumed.release()


def test_a_lease_of_a_live_process_of_this_machine_that_says_no_start_stands(tmp_path):
    """A lease whose process of this machine is running, with no start time in it (one that
    /proc did not give, or a lease of a release before the field): nothing says its process
    id was used again, so it stands (mutation review 51: taking the missing start time for
    another process's removed the live launch's lease, every test passing, and both runs
    went on)."""
    root = tmp_path / "_manifest"
    first = LaunchLease(str(root), "live", tag="aaaa0007")
    assert first.acquire() is None
    held = json.loads((root / LEASES / "aaaa0007.json").read_text())
    held.update(pid=os.getppid(), process_started=None)   # (a live process, not this one)
    (root / LEASES / "aaaa0007.json").write_text(json.dumps(held))
    assert "run live" in LaunchLease(str(root), "second", tag="ffff0008").acquire()
    assert _leases(root) == ["aaaa0007.json"]
    first.release()


def test_without_proc_a_live_launch_of_this_host_is_not_taken_for_ended(tmp_path,
                                                                       monkeypatch):
    """Where there is no /proc (macOS, Windows: no boot id, no process namespace, no start
    times to ask), nothing tells a launcher gone from a live one: the other launch's lease
    stands until it goes stale (mutation review 51: without that guard a second launch on a
    Mac removed the first one's lease and both ran, every test passing on Linux)."""
    monkeypatch.setattr(lease_module, "_boot_id", lambda: None)
    monkeypatch.setattr(lease_module, "_pid_namespace", lambda: None)
    monkeypatch.setattr(lease_module, "_process_started", lambda pid: None)
    root = tmp_path / "_manifest"
    first = LaunchLease(str(root), "mac1", tag="aaaa0009")
    assert first.acquire() is None
    held = json.loads((root / LEASES / "aaaa0009.json").read_text())
    held["pid"] = os.getppid()   # (another process of this host)
    (root / LEASES / "aaaa0009.json").write_text(json.dumps(held))
    assert "run mac1" in LaunchLease(str(root), "mac2", tag="ffff000a").acquire()
    assert _leases(root) == ["aaaa0009.json"]
    first.release()


def test_a_held_lease_is_written_again_while_the_run_goes_on(tmp_path, monkeypatch):
    monkeypatch.setattr(lease_module, "BEAT", 0.05)
    root = tmp_path / "_manifest"
    lease = LaunchLease(str(root), "long", tag="ffff0006")
    assert lease.acquire() is None
    path = root / LEASES / "ffff0006.json"
    os.utime(path, (time.time() - 100, time.time() - 100))
    with lease:
        deadline = time.time() + 5
        while time.time() - path.stat().st_mtime > 50 and time.time() < deadline:
            time.sleep(0.05)
        assert time.time() - path.stat().st_mtime < 50   # written again
        assert json.loads(path.read_text())["run_id"] == "long"
    assert not path.exists()


def test_a_lease_on_an_object_store_made_no_folders_to_remove(monkeypatch):
    """memory:// stands for a store: the lease is written and removed, and no folder
    removal is tried (an object store's rmdir removes buckets)."""
    import fsspec

    root = "memory://lease-tests/out/_manifest"
    lease = LaunchLease(root, "r", tag="abcd1234")
    assert lease.acquire() is None
    fs = fsspec.filesystem("memory")
    assert fs.exists(f"/lease-tests/out/_manifest/{LEASES}/abcd1234.json")
    removed = []
    monkeypatch.setattr(type(fs), "rmdir", lambda self, path: removed.append(path))
    lease.release()
    assert not fs.exists(f"/lease-tests/out/_manifest/{LEASES}/abcd1234.json")
    assert removed == []


def test_a_job_launched_beside_a_live_one_is_refused_and_writes_nothing(tmp_path, input_dir,
                                                                        capsys):
    from pipeline.main import run

    out = tmp_path / "out"
    other = LaunchLease(str(out / "_manifest"), "night1", tag="1111aaaa")
    assert other.acquire() is None
    with other:
        with pytest.raises(SystemExit) as stop:
            run(["--input", str(input_dir), "--output", str(out), "--run_id", "night2",
                 "--skip_existing"])
        assert stop.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(
            "python -m pipeline: error: another launch is running into this manifest now: run "
            "night1 (launched ")
        assert sorted(os.listdir(out)) == ["_manifest"]
        assert sorted(os.listdir(out / "_manifest")) == [LEASES]
        assert _leases(out / "_manifest") == ["1111aaaa.json"]


@pytest.mark.parametrize("store", ["s3", "gs"])
def test_leases_on_the_stores(store, request):
    """The stores' emulators: a second launch refused while the first holds its lease, the
    lease gone with its run (the store's times order and age them)."""
    from compress_core.storage import get_filesystem

    prefix = "s3" if store == "s3" else "gcs"
    bucket = request.getfixturevalue(f"{prefix}_bucket")
    options = request.getfixturevalue(f"{prefix}_storage_options")
    root = f"{store}://{bucket}/out/_manifest"
    first = LaunchLease(root, "dayA", options, tag="aaaa0001")
    assert first.acquire() is None
    with first:
        problem = LaunchLease(root, "dayB", options, tag="bbbb0002").acquire()
        assert problem.startswith("another launch is running into this manifest now: run dayA")
        assert f"its lease {root}/{LEASES}/aaaa0001.json" in problem
    fs = get_filesystem(root, options)[0]
    fs.invalidate_cache()
    assert not fs.find(f"{bucket}/out")
    second = LaunchLease(root, "dayB", options)
    assert second.acquire() is None
    second.release()


def test_a_launch_in_the_same_second_on_a_store_of_whole_seconds_is_refused(request):
    """Diff review 43: S3 keeps whole seconds. A launch looked (no other lease) and went on;
    a second one wrote its lease in the same second: their times equal, the tie given to the
    second's tag, it went on too (5 of 5 tries). A launch waits past its second before it
    looks, so that a lease written after its look is of a later second."""
    bucket = request.getfixturevalue("s3_bucket")
    options = request.getfixturevalue("s3_storage_options")
    root = f"s3://{bucket}/out/_manifest"
    for attempt in range(2):
        time.sleep(1 - time.time() % 1 + 0.05)   # (the first write early in a second)
        first = LaunchLease(root, f"a{attempt}", options, tag="ffff0000")
        assert first.acquire() is None
        second = LaunchLease(root, f"b{attempt}", options, tag="0000ffff")
        assert f"run a{attempt} " in second.acquire()
        first.release()


def test_a_beat_under_way_cannot_bring_a_removed_lease_back(tmp_path, monkeypatch):
    """Diff review 43: a write of the lease under way when the run ended landed after its
    removal, and the lease stood for LIVE seconds more."""
    import threading

    monkeypatch.setattr(lease_module, "BEAT", 0.02)
    root = tmp_path / "_manifest"
    lease = LaunchLease(str(root), "r", tag="abab0001")
    assert lease.acquire() is None
    writing = threading.Event()
    plain = LaunchLease._write

    def slow_write(self):
        if threading.current_thread().name == "launch-lease":
            writing.set()
            time.sleep(0.3)
        plain(self)

    monkeypatch.setattr(LaunchLease, "_write", slow_write)
    lease.hold()
    assert writing.wait(5)
    lease.release()
    time.sleep(0.5)
    assert not (root / LEASES / "abab0001.json").exists()


def test_a_beat_that_woke_as_the_run_ended_does_not_write_the_lease_again(tmp_path,
                                                                         monkeypatch):
    """The other order of that race: a beat wakes, the run ends and removes the lease before
    the beat takes the lock; the beat must then write nothing (mutation review 51: without
    its look at the stop the lease came back and stood for LIVE seconds, every test
    passing), and a launch at once goes on."""
    import threading

    monkeypatch.setattr(lease_module, "BEAT", 0.02)
    root = tmp_path / "_manifest"
    lease = LaunchLease(str(root), "r", tag="abab0002")
    assert lease.acquire() is None
    waiting, released = threading.Event(), threading.Event()

    class Gated:
        """The lease's lock, where the beat waits until the run has ended."""

        def __init__(self, lock):
            self._lock = lock

        def __enter__(self):
            if threading.current_thread().name == "launch-lease":
                waiting.set()
                released.wait(5)
            return self._lock.__enter__()

        def __exit__(self, *exc):
            return self._lock.__exit__(*exc)

    lease._writing = Gated(lease._writing)
    lease.hold()
    assert waiting.wait(5)
    lease.release()
    released.set()
    lease._thread.join(5)
    assert not (root / LEASES / "abab0002.json").exists()
    after = LaunchLease(str(root), "next", tag="abab0003")
    assert after.acquire() is None
    after.release()


def test_a_fresh_lease_that_cannot_be_read_stands(tmp_path):
    """A lease there, written within LIVE seconds, whose text is no lease (another tool's, or
    a read the store garbled): a launch may be behind it, so it stands; only a lease gone
    since the listing is passed over (mutation review 51: reading the two alike went
    unnoticed)."""
    root = tmp_path / "_manifest"
    (root / LEASES).mkdir(parents=True)
    (root / LEASES / "0bad0001.json").write_text("{not json")
    mine = LaunchLease(str(root), "next", tag="ffff000b")
    problem = mine.acquire()
    assert problem is not None and problem.startswith(
        "another launch is running into this manifest now: run ?")
    assert f"its lease {root}/{LEASES}/0bad0001.json" in problem
    assert _leases(root) == ["0bad0001.json"]


def test_a_lease_read_before_it_says_its_time_or_tag_orders_by_its_file(tmp_path,
                                                                       monkeypatch):
    """A lease read between its launch's first write and the one that adds ``since`` orders
    by the store's time of its file, and one that names no tag by its file's name: a lease
    written after this launch's does not refuse it for saying no time, and of two of the same
    second the smaller tag goes on, whichever says it (mutation review 51: both defaults
    could be dropped with every test passing)."""
    import datetime as dt

    root = tmp_path / "_manifest"
    (root / LEASES).mkdir(parents=True)
    mine_at = dt.datetime.now(dt.timezone.utc).replace(microsecond=500000)
    monkeypatch.setattr(LaunchLease, "_written", lambda self, uri: mine_at)
    later = root / LEASES / "0000aaaa.json"
    later.write_text(json.dumps({"run_id": "later", "tag": "0000aaaa"}))   # (no since yet)
    after = mine_at.timestamp() + 30
    os.utime(later, (after, after))
    mine = LaunchLease(str(root), "mine", tag="bbbb0001")
    assert mine.acquire() is None
    mine.release()
    later.unlink()
    same = root / LEASES / "cccc0001.json"    # the same second as this one's, no tag said
    same.write_text(json.dumps({"run_id": "same", "since": mine_at.isoformat()}))
    assert mine.acquire() is None              # ("bbbb0001" < "cccc0001")
    mine.release()
    assert "run same" in LaunchLease(str(root), "third", tag="dddd0001").acquire()


def test_a_launch_that_cannot_look_at_the_others_leaves_no_lease(tmp_path, monkeypatch):
    """The store lets a launch write its lease and then fails to list the others': the launch
    stops with that error, and its lease and the folders it made go with it, else the next
    launch was refused for LIVE seconds by a run that never ran (mutation review 51)."""
    def unlistable(self):
        raise PermissionError(13, "Permission denied", "_live")

    root = tmp_path / "out" / "_manifest"
    monkeypatch.setattr(LaunchLease, "_look", unlistable)
    with pytest.raises(PermissionError):
        LaunchLease(str(root), "r", tag="abab0004").acquire()
    assert not (tmp_path / "out").exists()


def test_a_lease_gone_between_the_listing_and_its_read_is_passed_over(tmp_path, monkeypatch):
    """Diff review 43: a lease removed after the listing (its run ended) was read as an
    unreadable one that stands, and the launch was refused naming "run ?"."""
    root = tmp_path / "_manifest"
    (root / LEASES).mkdir(parents=True)
    ended = root / LEASES / "0000beef.json"
    ended.write_text(json.dumps({"run_id": "ended", "since": "2000-01-01T00:00:00+00:00"}))
    plain = LaunchLease._read

    def read_after_its_end(self, uri):
        if uri.endswith("0000beef.json"):
            ended.unlink(missing_ok=True)
        return plain(self, uri)

    monkeypatch.setattr(LaunchLease, "_read", read_after_its_end)
    lease = LaunchLease(str(root), "next", tag="aaaa0009")
    assert lease.acquire() is None
    lease.release()


def test_an_interrupt_while_the_lease_starts_leaves_no_lease(tmp_path, monkeypatch):
    """Diff review 44: a SIGTERM right after the launch's "run ...: ... on DirectRunner" line
    landed while the lease's beat thread started (``with lease`` not yet entered: its exit
    never ran): exit 143, and the lease stayed, refusing a launch from another host for 120 s
    (4 of 4 tries)."""
    root = tmp_path / "out" / "_manifest"
    lease = LaunchLease(str(root), "night1", tag="aaaa0001")
    assert lease.acquire() is None

    def interrupted_start(thread):
        raise KeyboardInterrupt

    monkeypatch.setattr(lease_module.threading.Thread, "start", interrupted_start)
    with pytest.raises(KeyboardInterrupt):
        with lease:
            raise AssertionError("the run must not start")
    assert _leases(root) == [] and not (tmp_path / "out").exists()
