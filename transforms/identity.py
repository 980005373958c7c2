"""Which file an input URI held: its modification time and content token, from the listing.

An input is its URI, so ``--skip_existing`` must tell a file replaced under its URI (a drop
folder where cameras write ``IMG_0001.JPG`` every day) from the file its existing output was
made from. The size alone misses a new photo of the very same size. The listing the job gets
anyway says more, at no extra request (what the installed fsspec back-ends give, checked
against a disk, fsspec's memory store, moto's S3 server and gcp-storage-emulator):

==========  ==============================================  ===============================
store       modification time                               content token
==========  ==============================================  ===============================
local       ``mtime`` (float seconds, the file's mtime)     none
S3 (s3fs)   ``LastModified`` (datetime, whole seconds)      ``ETag`` (MD5 of a single-part
                                                            upload, ``<md5>-<parts>`` of a
                                                            multipart one)
GCS         ``mtime`` (datetime from ``updated``, which     ``md5Hash`` (base64; composite
(gcsfs)     a metadata change moves too)                    objects have none: ``crc32c``)
memory      ``created`` (float in listings, datetime from   none
            ``info``; set by every write)
==========  ==============================================  ===============================

:class:`FileIdentity` holds both, as the manifest's ``input_modified`` (timestamp, UTC,
microseconds) and ``input_etag`` (``<kind>:<value>``: ``etag:``, ``md5:`` or ``crc32c:``, so
tokens of two kinds are never compared) columns. :func:`identity_differs` decides: a content
token known on both sides, of one kind, decides alone (a re-upload of the same bytes, or a
metadata change, is no new file); else the modification times, when both are known; else
nothing is known and the file counts as unchanged (the size still counts,
:func:`transforms.plan._replaced`). Where the time alone differs at the same size
(a file touched, or copied without its time), or S3 ETags differ where one is a multipart
upload's (:func:`may_be_same_bytes`), the planner reads the file and compares its SHA-256 with
the one the manifest recorded: the same bytes are no new file. GCS's ``generation`` is left
out: it changes with every upload, of the same bytes too. A file copied with its modification
time kept (``cp -p``, ``rsync -a``) onto a store without tokens (a disk) at the same size is not
seen.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Mapping, NamedTuple, Optional

from compress_core.storage import fresh_info

__all__ = ["FileIdentity", "identity_columns", "listing_identity", "recorded_identity",
           "comparable", "identity_differs", "may_be_same_bytes", "stat_identity", "stated",
           "utc_time", "epoch_us", "from_epoch_us"]

#: Listing keys of a modification time, in order of preference (``mtime`` first: a local
#: listing's ``created`` is the inode's change time).
_MODIFIED_KEYS = ("mtime", "LastModified", "updated", "created")
#: Listing keys of a content token and the kind each is recorded as.
_TOKEN_KEYS = (("md5Hash", "md5"), ("crc32c", "crc32c"), ("ETag", "etag"))


class FileIdentity(NamedTuple):
    """What a listing says about the file under a URI (module docstring).

    Attributes
    ----------
    modified : datetime.datetime or None
        Its modification time, UTC, to the microsecond (what the manifest keeps).
    etag : str or None
        The store's content token as ``<kind>:<value>`` (``etag:d41d8...``, ``md5:1B2M...``).
    sha256 : str or None
        The SHA-256 of its bytes, hex: known only for a file an earlier run read (the
        manifest's ``input_sha256``), never from a listing.
    """

    modified: Optional[dt.datetime] = None
    etag: Optional[str] = None
    sha256: Optional[str] = None


def identity_columns(identity: Optional[FileIdentity]) -> dict:
    """The manifest columns that record ``identity``: ``input_modified`` and ``input_etag``
    (both ``None`` when it is unknown)."""
    identity = identity or FileIdentity()
    return {"input_modified": identity.modified, "input_etag": identity.etag}


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_MICROSECOND = dt.timedelta(microseconds=1)


def epoch_us(when: dt.datetime) -> int:
    """An aware datetime as microseconds since the epoch (how Arrow stores the manifest's
    timestamps, and a cheaper Python object to read them as)."""
    return (when - _EPOCH) // _MICROSECOND


def from_epoch_us(us: int) -> dt.datetime:
    """Microseconds since the epoch as a UTC datetime (:func:`epoch_us` undone)."""
    return _EPOCH + us * _MICROSECOND


def utc_time(value: Any) -> Optional[dt.datetime]:
    """A time as a UTC datetime to the microsecond: epoch seconds (int or float), a datetime
    (naive ones taken as UTC) or ISO text; ``None`` for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            return dt.datetime.fromtimestamp(value, dt.timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)
    return None


def _token(info: Mapping[str, Any]) -> Optional[str]:
    for key, kind in _TOKEN_KEYS:
        value = info.get(key)
        if isinstance(value, str) and value.strip('" '):
            return f"{kind}:{value.strip(chr(34) + ' ')}"
    return None


def listing_identity(info: Mapping[str, Any]) -> FileIdentity:
    """The :class:`FileIdentity` in one fsspec listing entry (``fs.find(detail=True)``,
    ``fs.glob(detail=True)``, ``fs.info``); unknown parts are ``None``."""
    modified = None
    for key in _MODIFIED_KEYS:
        modified = utc_time(info.get(key))
        if modified is not None:
            break
    return FileIdentity(modified, _token(info))


def recorded_identity(modified: Any, etag: Any, sha256: Any = None) -> FileIdentity:
    """The :class:`FileIdentity` a manifest row recorded (``input_modified``, ``input_etag``,
    ``input_sha256``), as written or as a tool rewrote them (the time as text, in another
    offset); ``None`` parts where the row has none (manifests written before the columns
    existed)."""
    return FileIdentity(utc_time(modified),
                        etag if isinstance(etag, str) and ":" in etag else None,
                        sha256.lower() if isinstance(sha256, str) and len(sha256) == 64
                        else None)


def may_be_same_bytes(now: Optional[FileIdentity], then: Optional[FileIdentity]) -> bool:
    """Whether :func:`identity_differs` says so by what the same bytes can differ in, which
    the SHA-256 recorded ``then`` can tell: the modification time alone (no content token of
    one kind on both sides: a file touched, or copied without its time, on a disk that keeps no
    token), or S3 ETags of which one is a multipart upload's (``<md5>-<parts>``, not the MD5
    of the bytes: ``aws s3 sync`` uploads a file over 8 MB in parts, and the same photo synced
    again under another part size, or once whole, carried another; job review 46)."""
    if now is None or then is None or not identity_differs(now, then):
        return False
    if now.etag and then.etag and now.etag.split(":", 1)[0] == then.etag.split(":", 1)[0]:
        return _multipart(now.etag) or _multipart(then.etag)
    return True


def _multipart(token: str) -> bool:
    """Whether a content token is an S3 multipart upload's ETag (``etag:<md5>-<parts>``)."""
    kind, _, value = token.partition(":")
    return kind == "etag" and "-" in value


def comparable(now: Optional[FileIdentity], then: Optional[FileIdentity]) -> bool:
    """Whether :func:`identity_differs` can tell by something both sides know (a content token
    of one kind, or a modification time), not by the absence of it."""
    if now is None or then is None:
        return False
    return bool(now.etag and then.etag
                and now.etag.split(":", 1)[0] == then.etag.split(":", 1)[0]) \
        or (now.modified is not None and then.modified is not None)


def identity_differs(now: Optional[FileIdentity], then: Optional[FileIdentity]) -> bool:
    """Whether the file listed ``now`` is another file than the one recorded ``then``: by the
    content token when both have one of the same kind, else by the modification time when both
    have one; ``False`` when either side knows neither (the size decides alone)."""
    if now is None or then is None:
        return False
    if now.etag and then.etag and now.etag.split(":", 1)[0] == then.etag.split(":", 1)[0]:
        return now.etag != then.etag
    if now.modified is not None and then.modified is not None:
        return now.modified != then.modified
    return False


def stat_identity(uri: str, storage_options: Optional[Mapping] = None):
    """``(size, FileIdentity)`` of the file at ``uri`` by one metadata request (``fs.info``: a
    ``stat`` on a disk, a HEAD on S3), for inputs that were not listed (``--input_list``);
    ``None`` when there is no file there or the store does not answer (the read that follows
    reports it)."""
    try:
        info = fresh_info(uri, storage_options)
    except Exception:  # noqa: BLE001 - the read reports missing and unreadable files
        return None
    if info.get("type", "file") != "file":
        return None
    size = info.get("size")
    return (int(size) if size is not None else None), listing_identity(info)


def stated(item, storage_options: Optional[Mapping] = None):
    """``item`` (a NamedTuple with ``uri``, ``size`` and ``identity``: a listed URI's input,
    which no listing described) with its size and identity asked of the store
    (:func:`stat_identity`); as it is when the store does not answer (the read reports it)."""
    found = stat_identity(item.uri, storage_options)
    if found is None:
        return item
    size, identity = found
    return item._replace(size=size if size is not None else item.size, identity=identity)
