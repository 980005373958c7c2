"""One launch at a time per manifest: a lease the launcher holds while its run goes on.

The manifest is how runs keep their output names apart (two photos named ``IMG_0001.JPG`` in
two day folders get two outputs), and a run writes its manifest at its end: two runs at once
into one ``--output`` do not see each other's names. With ``--skip_existing`` the later one
took the earlier one's fresh outputs for the unrecorded outputs of a stopped run and adopted
them for its own photos of the same names (rows naming another day's pictures, its own never
compressed, and no later run mended it), and wrote the names it did compress over the other
run's outputs (job review 43). Nightly jobs overlap when a night runs long.

So each launch holds a lease: ``<manifest>/_live/<launch tag>.json`` (the run, the host, the
process, when it was launched), written before the run reads anything and written again every
:data:`BEAT` seconds by a thread of the launcher while the run goes on (Dataflow's too: the
launcher waits for its job), removed when the run ends however it ends. A launch that finds
another's lease written within :data:`LIVE` seconds (by the store's clock: its own lease's time
against the other's) is refused at launch, exit status 2, naming that run; of two launches
that see each other's leases, the one whose lease the store wrote first goes on. The lease of
a launcher killed outright (``kill -9``) stops being written and is stale :data:`LIVE` seconds
after its last write: it is ignored, and removed by the next launch; at once where that launch
runs on the same machine (host name and boot id) and finds its process gone.

The folder starts with ``_``: no run's listing of the manifest, no report and no input match
reads it.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import posixpath
import socket
import threading
import time
import uuid
from typing import Mapping, Optional

from compress_core.storage import (file_size, fresh_info, get_filesystem, is_local_filesystem,
                                   read_bytes, write_atomic)
from transforms.identity import listing_identity, utc_time

__all__ = ["LaunchLease", "LIVE", "BEAT", "LEASES"]

_LOG = logging.getLogger(__name__)

#: The leases' folder under the manifest root.
LEASES = "_live"
#: Seconds between two writes of a lease while its run goes on.
BEAT = 30.0
#: Seconds after its last write that a lease still stands for a live launch (four beats
#: missed: a store slow to answer, a launcher paused).
LIVE = 120.0
#: Seconds a launch waits before it looks where the store keeps whole seconds (S3).
COARSE_CLOCK_WAIT = 1.5
#: The largest lease read back.
_MAX_LEASE_BYTES = 64 * 1024


class LaunchLease:
    """The lease of one launch of ``run_id`` under the manifest ``manifest_root``:
    :meth:`acquire` at launch (a problem to refuse it with, or None), then :meth:`hold` around
    the run, which writes it again every :data:`BEAT` seconds and removes it at the end."""

    def __init__(self, manifest_root: str, run_id: str,
                 storage_options: Optional[Mapping] = None, tag: Optional[str] = None):
        self._folder = f"{manifest_root.rstrip('/')}/{LEASES}"
        self._tag = tag or uuid.uuid4().hex[:8]
        self._uri = f"{self._folder}/{self._tag}.json"
        self._storage_options = dict(storage_options or {})
        self._lease = {
            "run_id": run_id, "host": socket.gethostname(), "boot": _boot_id(),
            "pid_namespace": _pid_namespace(), "pid": os.getpid(),
            "process_started": _process_started(os.getpid()),
            "launched": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "tag": self._tag}
        self._stop = threading.Event()
        self._writing = threading.Lock()   # (a beat's write and the removal, one at a time)
        self._thread: Optional[threading.Thread] = None
        self._made: list = []

    def acquire(self) -> Optional[str]:
        """Write this launch's lease and look at the others': why this launch must not go on
        (another's is live and was written first), or None. Stale leases are removed. A store
        that cannot be written or listed raises what it raises (the launch's own checks of
        ``--manifest`` come first)."""
        self._made = self._missing_folders()
        self._write()
        try:
            return self._look()
        except BaseException:
            self.release()
            raise

    def _look(self) -> Optional[str]:
        """:meth:`acquire`'s look at the others' leases, its own written."""
        mine = self._written(self._uri)
        # (the store's time of the first write orders two launches: the launchers' clocks
        # may differ, the store's is one; written into the lease for the beats to keep)
        self._lease["since"] = None if mine is None else mine.isoformat()
        self._write()
        if mine is not None and mine.microsecond == 0:
            # a store that keeps whole seconds (S3): a launch that wrote its lease in the same
            # second and lists before this one's write is seen by this one's listing only
            # after that second; else both went on, their times equal (diff review 43)
            time.sleep(COARSE_CLOCK_WAIT)
        fs, folder = get_filesystem(self._folder, self._storage_options)
        try:
            fs.invalidate_cache(folder)
        except Exception:  # noqa: BLE001 - not every file system caches
            pass
        others = []
        for entry in fs.ls(folder.rstrip("/"), detail=True):
            name = posixpath.basename(entry["name"].rstrip("/"))
            if not name.endswith(".json") or name == f"{self._tag}.json":
                continue
            uri = f"{self._folder}/{name}"
            written = listing_identity(entry).modified
            if written is not None and mine is not None \
                    and (mine - written).total_seconds() > LIVE:
                self._remove(uri, "a stale")
                continue
            lease = self._read(uri)
            if lease is None:   # (removed since the listing: its launch has ended)
                continue
            if self._ended_here(lease):
                self._remove(uri, "an ended launch's")
                continue
            lease.setdefault("since", None if written is None else written.isoformat())
            # (one read while its launch rewrote it may not parse: its tag is its name, else
            # an empty one won every tie, and two launches of one second both stopped)
            lease.setdefault("tag", name[:-len(".json")])
            others.append((uri, written, lease))
        for uri, written, lease in sorted(others, key=lambda o: _order(o[2])):
            if _order(lease) < _order(self._lease):
                self.release()
                ago = (f", last written {max(0, round((mine - written).total_seconds()))} s "
                       "ago" if mine is not None and written is not None else "")
                stale = ("" if written is None else " at " + (
                    written + dt.timedelta(seconds=LIVE)).strftime("%H:%M:%S UTC"))
                return (f"another launch is running into this manifest now: run "
                        f"{lease.get('run_id', '?')} (launched {lease.get('launched', '?')} on "
                        f"{lease.get('host', '?')}, process {lease.get('pid', '?')}{ago}; "
                        f"its lease {uri}). Two runs at once into one --output can write one "
                        "output name for two photos: wait for it to end, or give another "
                        "--output and --manifest. A launch stopped outright leaves its lease, "
                        f"stale{stale} unless written again (at once where its process on "
                        "this machine is gone); where that run is known to have ended, delete "
                        "the lease")
        return None

    def hold(self) -> "LaunchLease":
        """Write the lease again every :data:`BEAT` seconds until :meth:`release` (a context
        manager: released on leaving it)."""
        self._thread = threading.Thread(target=self._beat, name="launch-lease", daemon=True)
        self._thread.start()
        return self

    def __enter__(self) -> "LaunchLease":
        try:
            return self.hold() if self._thread is None else self
        except BaseException:   # (an interrupt while its thread started: the with block's
            self.release()      # exit never ran, and the lease stayed; diff review 44)
            raise

    def __exit__(self, *exc) -> None:
        self.release()

    def release(self) -> None:
        """Stop writing the lease and remove it (a failure is logged: the lease goes stale)."""
        self._stop.set()
        with self._writing:   # (a beat's write under way lands first, then the removal:
            self._remove(self._uri, "this launch's")   # the lease had come back after it)
        # (and the folders the lease made, once empty: a launch refused, or a run stopped
        # before it wrote anything, leaves the manifest's and the output's folders as they were)
        try:
            fs = get_filesystem(self._folder, self._storage_options)[0]
            for folder in self._made:
                if fs.ls(folder):
                    break
                fs.rmdir(folder)
        except Exception:  # noqa: BLE001 - gone, or a store without folders
            pass

    def _missing_folders(self) -> list:
        """The lease's folder and those above it that do not exist yet, deepest first (paths
        of its file system); none on an object store, whose folders are the names' prefixes
        (and whose ``rmdir`` removes buckets)."""
        fs, path = get_filesystem(self._folder, self._storage_options)
        if not is_local_filesystem(fs):
            return []
        missing, path = [], path.rstrip("/")
        while path and not fs.exists(path):
            missing.append(path)
            parent = posixpath.dirname(path)
            if parent == path:
                break
            path = parent
        return missing

    def _beat(self) -> None:
        while not self._stop.wait(BEAT):
            try:
                with self._writing:
                    if self._stop.is_set():
                        return
                    self._write()
            except Exception as exc:  # noqa: BLE001 - the run goes on; the lease may go stale
                _LOG.warning("the launch's lease %s could not be written again (%s: %s)",
                             self._uri, type(exc).__name__, exc)

    def _ended_here(self, lease: Mapping) -> bool:
        """Whether ``lease`` is that of a launcher whose process this one can see is gone
        (killed outright: a resume at once had waited out :data:`LIVE`): of this machine since
        its last start (host name and boot id), in this process namespace (containers on one
        host share its boot id, and with the host's network its name: another's process is
        not to be looked for here), its process id now no process's, or another's started
        since (a number used again)."""
        pid = lease.get("pid")
        mine = self._lease
        if (not mine["boot"] or mine["pid_namespace"] is None
                or any(lease.get(key) != mine[key] for key in ("host", "boot", "pid_namespace"))
                or not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0
                or pid == os.getpid()):
            return False
        started = _process_started(pid)
        return started is None or (lease.get("process_started") is not None
                                   and started != lease.get("process_started"))

    def _write(self) -> None:
        write_atomic(self._uri, json.dumps(self._lease, sort_keys=True).encode("utf-8"),
                     self._storage_options)

    def _written(self, uri: str) -> Optional[dt.datetime]:
        return utc_time(listing_identity(fresh_info(uri, self._storage_options)).modified)

    def _read(self, uri: str) -> Optional[dict]:
        """The lease at ``uri``; None where it is gone; ``{}`` where it cannot be read (it
        stands all the same)."""
        try:
            lease = json.loads(read_bytes(uri, self._storage_options,
                                          max_bytes=_MAX_LEASE_BYTES).decode("utf-8"))
        except Exception:  # noqa: BLE001 - gone (read_bytes says "no such file" as an
            # ImageReadError), or not one we wrote, or unreadable: it stands
            return None if file_size(uri, self._storage_options) is None else {}
        return lease if isinstance(lease, dict) else {}

    def _remove(self, uri: str, which: str) -> None:
        try:
            fs, path = get_filesystem(uri, self._storage_options)
            fs.rm(path)
        except FileNotFoundError:
            pass
        except Exception as exc:  # noqa: BLE001 - a lease left goes stale
            _LOG.warning("%s lease %s could not be removed (%s: %s)", which, uri,
                         type(exc).__name__, exc)


def _boot_id() -> Optional[str]:
    """This machine's boot id (Linux), which tells two machines of one host name apart and a
    process of this boot from one of an earlier; None elsewhere."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
            return fh.read().strip() or None
    except OSError:
        return None


def _pid_namespace() -> Optional[int]:
    """The inode of this process's PID namespace (Linux), which tells the process ids of two
    containers on one host apart; None elsewhere."""
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return None


def _process_started(pid: int) -> Optional[int]:
    """When process ``pid`` started, in clock ticks since boot (field 22 of
    ``/proc/<pid>/stat``): None where there is no such process (or no ``/proc``)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def _order(lease: Mapping) -> tuple:
    """Which of two launches came first: by the store's time of each lease's first write,
    then its tag (a lease that says neither comes first: it stands)."""
    since = utc_time(lease.get("since"))
    return (since or _EARLIEST, str(lease.get("tag") or ""))


_EARLIEST = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
