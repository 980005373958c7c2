"""Which input each output was written for, until the run's manifest says so.

The manifest is written last (Beam writes its parts when every row is in), so a run stopped
before its end (killed, a worker lost, the manifest's store down) leaves outputs that no row
names. A ``--skip_existing`` rerun adopts such an *unrecorded* output for the input it plans
under that name (it resumes the stopped run's work). The name alone does not say which file the
output was made from: a stopped run over ``day1/IMG_0001.JPG`` and a backfill of
``day2/IMG_0001.JPG`` (older photos, ``cp -p``) into the same ``--output`` plan one name, and the
backfill adopted day 1's picture for its photo, which was never compressed (operator review 39).

So every output is journalled before it is written: one small JSON object per output,
``<manifest>/_journal/run_id=<id>/launch=<tag>/<key>.json`` (``key``: the SHA-256 of the
output's name below ``--output``; ``tag``: 8 hex digits new at each launch, since a stopped run
is often resumed under its own run id), holding the input's URI, size, modification time and
content token as the manifest's row will. When the run's manifest is in place its journal is
removed (:meth:`RunJournal.forget`); what stays are the journals of stopped launches. For an
unrecorded output, the planner asks :class:`JournalReader` for the newest entry of that name
written no later than the output itself, give or take the stores' clocks (an entry written by a
launch stopped before its output was, is not that output's), and adopts the output only for
that input, the same file (else the input is compressed again). An output no journal names
(written by a release before the journal, or under another ``--manifest``) is adopted as
before, by name and time. An unrecorded output that the asking launch's own journal names for
the same input was written by an earlier attempt of a retried bundle (a worker lost before its
bundle committed): it is compressed again, and the row is the run's own.

The journal's folder starts with ``_``: no run's listing of the manifest, no report, and no
input match reads it as a run or a picture.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import posixpath
import uuid
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Tuple

from compress_core.storage import fresh_info, get_filesystem, read_bytes, write_atomic

from .identity import (FileIdentity, epoch_us, from_epoch_us, listing_identity,
                       recorded_identity, utc_time)

__all__ = ["JOURNAL", "JournalEntry", "Lookup", "RunJournal", "JournalReader",
           "journal_columns", "output_key"]

_LOG = logging.getLogger(__name__)

#: The journal's folder under the manifest root.
JOURNAL = "_journal"
#: The largest entry read back (an entry is a few hundred bytes; anything else is no entry).
_MAX_ENTRY_BYTES = 64 * 1024
#: How much later than its output an entry's time may be and still be that output's: the
#: entry is written first, but stores keep times to their own resolution (S3's LastModified
#: in whole seconds: an output written 3 ms after its entry read as 362 ms before it, where the
#: manifest was on a disk, and the entry was passed over: diff review 40) and clocks of two
#: stores differ a little. A launch stopped between its entry and its output is told apart
#: from the earlier launch that wrote the file by more than this.
_CLOCKS = dt.timedelta(seconds=2)
#: How much earlier than its output an entry's time may be and still be that output's: the
#: stores' clocks, and the output's own writing after its entry (milliseconds for a picture; a
#: slow upload is taken for a rewrite, and compressed again). An output modified later than
#: that after every entry that names it was rewritten by a run this journal does not know (a
#: run under another --manifest rewrote all 20 names 5 s after a stopped run's entries, and
#: the resume adopted the other folder's pictures: kill/resume review 40).
_WRITING = dt.timedelta(seconds=3)


def _root(manifest_root: str) -> str:
    return f"{manifest_root.rstrip('/')}/{JOURNAL}"


def _launch_folder(manifest_root: str, run_id: str, launch: str) -> str:
    return f"{_root(manifest_root)}/run_id={run_id}/launch={launch}"


def output_key(name: str) -> str:
    """The file name of the entry of the output named ``name`` below ``--output``
    (:func:`compress_core.storage.path_below`: the same however ``--output`` is spelt)."""
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:40] + ".json"


class JournalEntry(NamedTuple):
    """What a run journalled before writing an output."""

    run_id: str
    input_uri: str
    input_bytes: Optional[int]
    identity: FileIdentity


class Lookup(NamedTuple):
    """What the journals say of an output: the entry written with it, if any, and whether any
    entry names it at all (named, with no entry of its own: rewritten since by a run the
    journals do not know, not what they say)."""

    entry: Optional[JournalEntry]
    named: bool


class RunJournal:
    """The journal of one launch of a run: :meth:`record` before each output is written,
    :meth:`forget` once the manifest is in place; :meth:`reader` asks the others'."""

    def __init__(self, manifest_root: str, run_id: str,
                 storage_options: Optional[Mapping] = None, launch: Optional[str] = None):
        self._root = manifest_root
        self._run_id = run_id
        self._launch = launch or uuid.uuid4().hex[:8]
        self._folder = _launch_folder(manifest_root, run_id, self._launch)
        self._storage_options = dict(storage_options or {})

    def begin(self) -> None:
        """Mark this launch in the journal (``launch.json``, which no lookup asks for: entries
        are named by output keys), before its first dead letters are written
        (:class:`~transforms.dead_letters.WriteDeadLetters`), so that a launch stopped before
        its manifest is known as such even where it wrote no output (a night of skips and
        failures): its retry under the same ``--run_id`` is not refused as a finished run's
        (analyst review 48). Removed with the journal by :meth:`forget`. Raises what the
        store raises."""
        entry = {"run_id": self._run_id, "launch": self._launch,
                 "started": dt.datetime.now(dt.timezone.utc).isoformat()}
        write_atomic(f"{self._folder}/launch.json",
                     json.dumps(entry, sort_keys=True).encode("utf-8"), self._storage_options)

    def reader(self) -> "JournalReader":
        """What the journals of other launches say (this launch's excepted)."""
        return JournalReader(self._root, self._folder, self._storage_options)

    def forget(self) -> None:
        """Remove this launch's journal (nothing there is fine; a failure is logged: the
        entries left name recorded outputs, which no rerun asks about), and its run's folder
        and the journal's once empty."""
        try:
            fs, path = get_filesystem(self._folder, self._storage_options)
            fs.rm(path, recursive=True)
        except FileNotFoundError:
            return
        except Exception as exc:  # noqa: BLE001 - see the docstring
            _LOG.warning("could not remove the journal %s of run %s: %s", self._folder,
                         self._run_id, exc)
            return
        for _ in range(2):   # (the run's folder, then the journal's, where empty)
            path = posixpath.dirname(path.rstrip("/"))
            try:
                if fs.ls(path):
                    return
                fs.rmdir(path)
            except Exception:  # noqa: BLE001 - gone, or a store without folders
                return

    def record(self, name: str, input_uri: str, input_bytes: Optional[int],
               identity: FileIdentity) -> None:
        """Journal that the output named ``name`` (below ``--output``) is being written for
        ``input_uri``, the file of that size and identity. Raises what the store raises."""
        entry = {"run_id": self._run_id, "output": name, "input_uri": input_uri,
                 "input_bytes": input_bytes,
                 "input_modified_us": (epoch_us(identity.modified)
                                       if identity.modified is not None else None),
                 "input_etag": identity.etag}
        write_atomic(f"{self._folder}/{output_key(name)}",
                     json.dumps(entry, ensure_ascii=False, sort_keys=True).encode("utf-8",
                                                                                  "surrogatepass"),
                     self._storage_options)


def _entry(data: bytes, run_id: str) -> Optional[JournalEntry]:
    try:
        raw = json.loads(data.decode("utf-8", "surrogatepass"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("input_uri"), str):
        return None
    size, modified = raw.get("input_bytes"), raw.get("input_modified_us")
    return JournalEntry(
        run_id, raw["input_uri"],
        size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
        recorded_identity(from_epoch_us(modified) if isinstance(modified, int)
                          and not isinstance(modified, bool) else None,
                          raw.get("input_etag")))


class JournalReader:
    """The journals that stopped launches left under a manifest root (one launch's excepted:
    the asking one's), asked only for unrecorded outputs: listed once, at the first
    question."""

    def __init__(self, manifest_root: str, own_folder: Optional[str] = None,
                 storage_options: Optional[Mapping] = None):
        self._root = _root(manifest_root)
        self._own = own_folder
        self._storage_options = dict(storage_options or {})
        self._launches: Optional[List[Tuple[str, str]]] = None

    def _stopped_launches(self) -> List[Tuple[str, str]]:
        """``(run id, folder URI)`` of each launch's journal but this one's."""
        if self._launches is None:
            self._launches = []
            try:
                fs, path = get_filesystem(self._root, self._storage_options)
                try:
                    fs.invalidate_cache()
                except Exception:  # noqa: BLE001 - not every file system caches
                    pass
                own = None if self._own is None else get_filesystem(
                    self._own, self._storage_options)[1].rstrip("/")
                for run in _folders(fs, path, "run_id="):
                    for launch in _folders(fs, run, "launch="):
                        if launch.rstrip("/") != own:
                            self._launches.append((
                                posixpath.basename(run.rstrip("/"))[len("run_id="):],
                                fs.unstrip_protocol(launch.rstrip("/"))))
            except FileNotFoundError:
                pass
            except Exception as exc:  # noqa: BLE001 - adopted by name and time, as before
                _LOG.warning("the journal %s cannot be listed (%s: %s): outputs of stopped "
                             "runs are adopted by their names and times", self._root,
                             type(exc).__name__, exc)
        return self._launches

    def own_entry(self, name: str) -> Optional[JournalEntry]:
        """This launch's own entry of the output named ``name``, or None: what a retried
        bundle finds beside the output its first attempt wrote (a worker lost, killed for its
        memory or preempted, before the bundle committed: Dataflow runs it again with the same
        launch). One read, asked only for unrecorded outputs; an entry that cannot be read is
        none."""
        if self._own is None:
            return None
        uri = f"{self._own.rstrip('/')}/{output_key(name)}"
        try:
            data = read_bytes(uri, self._storage_options, max_bytes=_MAX_ENTRY_BYTES)
        except Exception:  # noqa: BLE001 - no entry (FileNotFoundError), or none to read
            return None
        run = posixpath.basename(posixpath.dirname(self._own.rstrip("/")))
        return _entry(data, run[len("run_id="):] if run.startswith("run_id=") else run)

    def writer_of(self, name: str, written: Optional[Any]) -> Lookup:
        """The entry of the output named ``name`` that a stopped launch wrote with it: the
        newest written no later than the output's modification time ``written`` (give or take
        :data:`_CLOCKS`: an entry a launch wrote and then stopped before its output is not that
        output's), and no earlier than :data:`_WRITING` before it (an output modified since
        was rewritten by another); and whether any entry names the output at all."""
        written = utc_time(written)
        best, named = None, False
        for run, folder in self._stopped_launches():
            uri = f"{folder}/{output_key(name)}"
            try:
                info = fresh_info(uri, self._storage_options)
            except FileNotFoundError:
                continue
            except Exception as exc:  # noqa: BLE001 - that journal cannot say
                _LOG.warning("journal entry %s cannot be read (%s: %s)", uri,
                             type(exc).__name__, exc)
                continue
            named = True
            when = listing_identity(info).modified
            if when is not None and written is not None \
                    and not written - _CLOCKS - _WRITING <= when <= written + _CLOCKS:
                continue
            if best is None or (when is not None and (best[0] is None or when > best[0])):
                best = (when, uri, run)
        if best is None:
            return Lookup(None, named)
        try:
            data = read_bytes(best[1], self._storage_options, max_bytes=_MAX_ENTRY_BYTES)
        except Exception as exc:  # noqa: BLE001 - that journal cannot say
            _LOG.warning("journal entry %s cannot be read (%s: %s)", best[1],
                         type(exc).__name__, exc)
            return Lookup(None, False)
        return Lookup(_entry(data, best[2]), True)


def _folders(fs, path: str, prefix: str) -> List[str]:
    """The folders in ``path`` whose names start with ``prefix`` (paths as ``fs`` gives)."""
    return [entry["name"] for entry in fs.ls(path.rstrip("/"), detail=True)
            if entry.get("type") == "directory"
            and posixpath.basename(entry["name"].rstrip("/")).startswith(prefix)]


def journal_columns(row: Mapping[str, Any]) -> Dict[str, Any]:
    """The arguments of :meth:`RunJournal.record` from an ``ok`` manifest row."""
    return {"input_uri": row["input_uri"], "input_bytes": row.get("input_bytes"),
            "identity": recorded_identity(row.get("input_modified"), row.get("input_etag"))}
