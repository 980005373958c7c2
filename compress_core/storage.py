"""Storage: fsspec URIs, whole-file reads, atomic writes, output names that stay in their prefix.

The one place where the library (:meth:`CompressionResult.save`, the command line) and the Beam
job (``transforms/``) touch files. No Beam import here.

Every URI goes through fsspec (``file://``, ``gs://`` with gcsfs, ``s3://`` with s3fs, others by
plug-in); plain local paths use the operating system directly. Per-protocol settings are a
``storage_options`` dict keyed by protocol (``{"s3": {"endpoint_url": ...}, "gs": {"token":
"anon"}}``); aliases (``gcs``, ``s3a``, ``local``) mean the same protocol.

Writes are atomic: on a local disk the bytes go to a hidden temporary file in the target folder,
are flushed with ``fsync`` and renamed over the target (``os.replace``); on object stores they
are one upload, which the store shows only when complete. Either way an output is complete or
absent, never partial. New files get the mode the process umask gives (``0o666 & ~umask``, so
``0644`` under the usual ``022``), like any other file the user creates.

Output names are deterministic, never leave their prefix and never collide: two different
relative paths always give two different names (:func:`sanitize_relpath`, :func:`distinct_relpath`,
:func:`join_under`, :func:`output_name`).
"""
from __future__ import annotations

import errno
import functools
import hashlib
import logging
import os
import posixpath
import re
import stat
import tempfile
import time
import unicodedata
import uuid
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ._fork_locks import ForkSafeLock
from .errors import BrokenLinkError, ImageReadError, ImageTooLargeError

__all__ = [
    "BUCKET_STORES",
    "StorageOptions",
    "check_storage_options",
    "not_a_file",
    "media_type",
    "split_protocol",
    "is_local_uri",
    "local_path",
    "escaped_hint",
    "cannot_write",
    "store_protocol",
    "input_key",
    "normalize_uri",
    "folder_uri",
    "path_below",
    "get_filesystem",
    "is_local_filesystem",
    "merge_storage_options",
    "read_bytes",
    "over_max_bytes",
    "fresh_info",
    "fresh_listing",
    "file_size",
    "write_atomic",
    "is_under",
    "sanitize_relpath",
    "distinct_relpath",
    "join_under",
    "output_name",
    "output_stem",
    "is_output_name",
    "output_source",
    "set_apart",
    "undecodable",
    "shown",
    "for_terminal",
]

#: ``{protocol: {fsspec keyword: value}}``.
StorageOptions = Mapping[str, Mapping[str, Any]]
PathOrUri = Union[str, os.PathLike]

_PROTOCOL_ALIASES = {"gcs": "gs", "s3a": "s3", "local": "file"}
_LOCAL_PROTOCOLS = (None, "file", "local")
#: Characters replaced by ``_`` in output names: glob magic, Windows-reserved, backslash.
_UNSAFE_NAME_CHARS = set('*?[]<>|:"\\')
#: The ASCII characters :func:`sanitize_relpath` replaces: controls and the unsafe ones.
_UNSAFE_ASCII = re.compile("[\x00-\x1f\x7f" + re.escape("".join(sorted(_UNSAFE_NAME_CHARS)))
                           + "]")
_MAX_NAME_BYTES = 200
#: Hex digits of the digest :func:`distinct_relpath` appends to a name that sanitising changed.
_DIGEST_CHARS = 12
#: Room an output name keeps for its extension (``.webp``, ``.avif``, ...).
_MAX_EXTENSION_BYTES = 8
#: Opening a local file to read it: not blocking where the system has it (a FIFO waits for no
#: writer), binary where the system has text mode (Windows, whose ``os.open`` has no
#: O_NONBLOCK and without O_BINARY reads CRLF as LF and stops at a 0x1A byte: every local read
#: failed there, portability review 27).
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
#: Creating the temporary file of an atomic write (binary: see above; every 0x0A byte of a
#: picture would have become 0x0D 0x0A on Windows).
_WRITE_NEW_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


# --------------------------------------------------------------------------- URIs


def split_protocol(uri: PathOrUri) -> Tuple[Optional[str], str]:
    """``"s3://b/k"`` -> ``("s3", "b/k")``; a local path -> ``(None, path)``."""
    text = os.fspath(uri)
    if "://" in text:
        protocol, rest = text.split("://", 1)
        return protocol.lower(), rest
    return None, text


def is_local_uri(uri: PathOrUri) -> bool:
    """True for local paths and ``file://`` URIs."""
    return split_protocol(uri)[0] in _LOCAL_PROTOCOLS


def local_path(uri: PathOrUri) -> Optional[str]:
    """The operating-system path of a local path or ``file://`` URI; ``None`` for other URIs."""
    protocol, rest = split_protocol(uri)
    if protocol not in _LOCAL_PROTOCOLS:
        return None
    return os.fspath(uri) if protocol is None else rest


def cannot_write(folders: Dict[str, str]) -> Optional[str]:
    """Why a local folder of ``folders`` (``{flag: uri}``) cannot be written, or None: the
    nearest part of its path that exists must be a folder this user may write into (a probe
    file is made there and removed; nothing else is made before the run). Buckets are not
    probed: their permissions show at the first write."""
    for flag, uri in folders.items():
        path = local_path(uri)
        if path is None:
            continue
        path = os.path.abspath(path)
        while not os.path.lexists(path) and os.path.dirname(path) != path:
            path = os.path.dirname(path)
        if not os.path.isdir(path):
            return f"{flag} {uri}: cannot be made, {path} is not a folder"
        try:
            fd, probe = tempfile.mkstemp(prefix=".write-probe-", dir=path)
        except OSError as exc:
            return f"{flag} {uri}: cannot be written ({exc.strerror or exc} in {path})"
        os.close(fd)
        os.unlink(probe)
    return None


def store_protocol(uri: PathOrUri) -> Optional[str]:
    """The file system ``uri`` is on: ``None`` for local paths and ``file://`` or ``local://``
    URIs, else the protocol with fsspec's aliases folded (``s3a`` -> ``s3``, ``gcs`` -> ``gs``).
    Two URIs with the same value are on one file system (as far as their spelling tells)."""
    protocol = split_protocol(uri)[0]
    return None if protocol in _LOCAL_PROTOCOLS else _canonical(protocol)


def input_key(uri: PathOrUri) -> str:
    """What identifies an input's file, as the job records it in a manifest row: the
    normalised local path for local paths and ``file://`` or ``local://`` URIs
    (``/p/./x.jpg``, ``file:///p/x.jpg`` and ``/p/x.jpg`` are one file), the URI with its
    store's protocol otherwise (``s3a://b/x.jpg`` and ``S3://b/x.jpg`` are ``s3://b/x.jpg``,
    ``gcs://`` is ``gs://``: fsspec's aliases of one store). Symbolic links are not
    resolved."""
    path = local_path(uri)
    if path is not None:
        return os.path.normpath(path)
    return f"{store_protocol(uri)}://{split_protocol(uri)[1]}"


def normalize_uri(uri: PathOrUri) -> str:
    """Make a local path absolute (so that every worker process sees the same file) and strip a
    trailing ``/``. Remote URIs are returned unchanged apart from the trailing ``/``.

    A local path loses its ``.`` and ``..`` parts, doubled ``/`` and ``~``; a leading ``//``
    too (POSIX lets a system give it a meaning, Linux and macOS give it none, and
    ``os.path.normpath`` keeps it, so ``//data/out`` was another spelling of ``/data/out``)."""
    text = os.fspath(uri).strip()
    protocol, rest = split_protocol(text)
    if protocol is None:
        return _absolute(os.path.expanduser(text))     # absolute: no trailing "/" but the root's
    if protocol in _LOCAL_PROTOCOLS:
        return "file://" + _absolute(rest)
    return text.rstrip("/") if len(text) > 1 else text


def folder_uri(uri: PathOrUri) -> str:
    """The one spelling of the folder ``uri`` that the job writes to: a local folder (a path,
    ``file://`` or ``local://``) as its absolute, normalised operating-system path (Beam's own
    file systems, which write the manifest, know no ``file://``), another URI with the
    canonical name of its protocol (``s3a://`` and ``S3://`` as ``s3://``, ``gcs://`` as
    ``gs://``: fsspec's aliases, unknown to Beam), both without a trailing ``/``.

    ``"file:///data//out/"``, ``"//data/./out"`` and ``"~/../../data/out"`` (from ``/home/u``)
    all give ``"/data/out"``; ``"s3a://b/out/"`` gives ``"s3://b/out"``. Symbolic links are not
    resolved (:func:`path_below` sees through them).
    """
    text = normalize_uri(uri)
    path = local_path(text)
    if path is not None:
        return path
    protocol, rest = split_protocol(text)
    return f"{_canonical(protocol)}://{rest}"


def _absolute(path: str) -> str:
    """``os.path.abspath`` without a leading ``//`` (see :func:`normalize_uri`)."""
    return _lexical(os.path.abspath(path))


def path_below(uri: PathOrUri, folder: PathOrUri) -> Optional[str]:
    """The path of ``uri`` relative to ``folder`` when ``uri`` lies below it, else ``None``
    (also for ``folder`` itself).

    Spellings of one folder are one folder: ``file:///data/out/x`` and ``//data/./out/x`` are
    below ``/data/out``, ``s3a://b/out/x`` below ``s3://b/out``. Local paths are also compared
    through their symbolic links: ``/data/link/x`` is below ``/data/out`` when ``link`` points
    to ``out`` (or to a folder below it), and so is ``/data/out/x`` below ``/data/link``. The
    links are resolved once per folder of ``uri`` (cached in the process), not per file: this
    is asked for every row of an earlier manifest.
    """
    path, root = os.fspath(uri), os.fspath(folder)
    local, local_root = local_path(path), local_path(root)
    if local is None or local_root is None:
        if local is not None or local_root is not None:
            return None
        protocol, rest = split_protocol(path)
        root_protocol, root_rest = split_protocol(root)
        if _canonical(protocol) != _canonical(root_protocol):
            return None
        return _below(rest, root_rest.rstrip("/"))
    path, root = _lexical(local), _lexical(local_root)
    relative = _below(path, root)
    if relative is not None:
        return relative
    parent, name = posixpath.split(path)
    relative = _resolved_below(parent, root)
    if relative is None or not name:
        return None
    return f"{relative}/{name}" if relative else name


def _lexical(path: str) -> str:
    """``path`` normalised, without a leading ``//`` (see :func:`normalize_uri`)."""
    path = posixpath.normpath(path)
    return path[1:] if path.startswith("//") else path


def _below(path: str, root: str) -> Optional[str]:
    """``path`` relative to ``root`` (both normalised, ``/`` separated) when below it."""
    prefix = root if root.endswith("/") else root + "/"
    if len(path) > len(prefix) and path.startswith(prefix):
        return path[len(prefix):]
    return None


@functools.lru_cache(maxsize=4096)
def _real(path: str) -> str:
    return os.path.realpath(path)


@functools.lru_cache(maxsize=16384)
def _resolved_below(folder: str, root: str) -> Optional[str]:
    """The path of the local ``folder`` relative to ``root`` once symbolic links are resolved
    ("" when it is ``root``), or ``None``: the folder itself resolved (a link to the root or
    into it), else the nearest folder above it that resolves to the root (a link to the root
    above a folder that is itself a link elsewhere)."""
    real_root = _real(root)
    real = _real(folder)
    if real == real_root:
        return ""
    relative = _below(real, real_root)
    if relative is not None:
        return relative
    above, parts = folder, []
    while True:
        above, name = posixpath.split(above)
        if not name:
            return None
        parts.append(name)
        if _real(above) == real_root:
            return "/".join(reversed(parts))


def _canonical(protocol: Optional[str]) -> str:
    name = protocol or "file"
    return _PROTOCOL_ALIASES.get(name, name)


def check_storage_options(storage_options) -> None:
    """A ``TypeError`` naming ``storage_options`` unless it is None or a mapping
    ``{protocol: {fsspec keyword: value}}`` (a string or a number was ignored where the path
    was local, and failed with an AttributeError where it was not; edge review 37)."""
    if storage_options is None:
        return
    shape = "a dict {protocol: {fsspec keyword: value}} or None"
    if not isinstance(storage_options, Mapping):
        raise TypeError(f"storage_options must be {shape}; got "
                        f"{type(storage_options).__name__}")
    for protocol, options in storage_options.items():
        if not isinstance(protocol, str) or not (options is None or isinstance(options, Mapping)):
            raise TypeError(f"storage_options must be {shape}; its entry {protocol!r} is "
                            f"{type(options).__name__}")


def _protocol_options(protocol: Optional[str], storage_options: Optional[StorageOptions]) -> Dict:
    key = _canonical(protocol)
    for name, value in (storage_options or {}).items():
        if _canonical(name) == key:
            return dict(value or {})
    return {}


def merge_storage_options(*layers: Optional[StorageOptions]) -> Dict[str, Dict[str, Any]]:
    """Merge ``{protocol: {kwarg: value}}`` dicts; later layers win per kwarg."""
    merged: Dict[str, Dict[str, Any]] = {}
    for layer in layers:
        for protocol, opts in (layer or {}).items():
            merged.setdefault(_canonical(protocol), {}).update(dict(opts or {}))
    return merged


def get_filesystem(uri: PathOrUri, storage_options: Optional[StorageOptions] = None):
    """``(fs, path)`` for ``uri``: the fsspec file system with its protocol's options applied.

    Parameters
    ----------
    uri : str or os.PathLike
        Local path or fsspec URI.
    storage_options : dict, optional
        ``{protocol: {kwarg: value}}``; the entry of ``uri``'s protocol is passed to fsspec.
    """
    import fsspec.core

    check_storage_options(storage_options)
    protocol, _ = split_protocol(uri)
    return fsspec.core.url_to_fs(os.fspath(uri), **_protocol_options(protocol, storage_options))


def is_local_filesystem(fs) -> bool:
    """True for fsspec's local file system."""
    from fsspec.implementations.local import LocalFileSystem

    return isinstance(fs, LocalFileSystem)


# --------------------------------------------------------------------------- reading


def _read_at_most(fh, limit: int, size: int) -> bytes:
    """Up to ``limit + 1`` bytes of ``fh`` (one byte over ``limit`` tells a file over it): one
    read of the ``size`` the file has, then, where it grew since, chunks of 16 MiB. A read of
    ``limit + 1`` bytes reserves them all: 32 GB at ``max_pixels=4e9``, a MemoryError for
    every photo (edge review 36)."""
    data = fh.read(min(limit, size) + 1)
    if len(data) > limit or len(data) <= size:   # over the limit, or the whole file
        return data
    parts, total = [data], len(data)
    while total <= limit:
        chunk = fh.read(min(1 << 24, limit + 1 - total))
        if not chunk:
            break
        parts.append(chunk)
        total += len(chunk)
    return b"".join(parts)


def read_bytes(uri: PathOrUri, storage_options: Optional[StorageOptions] = None,
               max_bytes: Optional[int] = None) -> bytes:
    """Read a whole local file or object.

    Parameters
    ----------
    uri : str or os.PathLike
        Local path or fsspec URI.
    storage_options : dict, optional
        ``{protocol: {kwarg: value}}``.
    max_bytes : int, optional
        Refuse a larger file, read no further than a byte past it (a 4 GB upload was read
        whole and the job died of it: security review 26).

    Raises
    ------
    ImageReadError
        If it does not exist, is a folder, a device (``/dev/zero``) or a FIFO, or cannot be
        read; the message names ``uri``.
    ImageTooLargeError
        It holds more than ``max_bytes``.
    """
    check_storage_options(storage_options)
    text = os.fspath(uri)
    if not text:   # (": no such file", naming nothing: API review 40)
        raise ImageReadError(f"{text!r}: an empty path names no file")
    try:
        path = local_path(text)
        if path is not None:
            # (not blocking: opening a FIFO, a link to one among the photos, waited for a
            # writer for good, and the time budget does not cover reads)
            try:
                fd = os.open(path, _READ_FLAGS)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    # (a loop of links fails the same every run, as a link to nothing does:
                    # tried at every --skip_existing run, it made each exit 1: paths review 42)
                    raise BrokenLinkError(
                        f"{text}: a symbolic link to {os.readlink(path)}, which leads back to "
                        "itself (a loop of links)" if os.path.islink(path) else
                        f"{text}: a symbolic link of its folders leads back to itself (a loop "
                        "of links)") from exc
                raise
            try:
                info = os.fstat(fd)
                mode = info.st_mode
                if stat.S_ISDIR(mode):
                    raise IsADirectoryError(path)
                if not stat.S_ISREG(mode):
                    # /dev/zero (a link to it in a photo folder) was read until memory ran out
                    kind = ("a FIFO" if stat.S_ISFIFO(mode) else
                            "a socket" if stat.S_ISSOCK(mode) else "a device")
                    if os.path.islink(path):   # (the same every run, as above)
                        raise BrokenLinkError(f"{text}: a symbolic link to "
                                              f"{os.readlink(path)}, which is {kind}, not a file")
                    raise ImageReadError(f"{text}: is {kind}, not a file")
                with os.fdopen(fd, "rb") as fh:
                    fd = None   # (closed with fh)
                    data = (fh.read() if max_bytes is None
                            else _read_at_most(fh, max_bytes, info.st_size))
            finally:
                if fd is not None:
                    os.close(fd)
        else:
            fs, path = get_filesystem(text, storage_options)
            if text.endswith("/"):   # (an object store's folder, or its marker object)
                raise IsADirectoryError(text)
            try:
                if max_bytes is None:
                    data = fs.cat_file(path)
                else:
                    try:
                        data = fs.cat_file(path, start=0, end=max_bytes + 1)
                    except OSError as exc:   # (S3: a range of an empty object "is not
                        if isinstance(exc, FileNotFoundError) or not _is_empty(fs, path):
                            raise                                         # satisfiable")
                        data = b""
            except FileNotFoundError:
                if _is_folder(fs, path):   # (a listed folder: "no such file", which ls lists)
                    raise IsADirectoryError(text) from None
                raise
            if not data and _is_folder(fs, path):
                # a listed folder read as its empty marker: "empty file (0 bytes)", a damaged
                # photo to every rerun (cloud review 40)
                raise IsADirectoryError(text)
    except ImageReadError:
        raise
    except FileNotFoundError as exc:
        path = local_path(text)
        if path is not None and os.path.islink(path):   # (said "no such file", which ls
            raise BrokenLinkError(                        # lists: operator review 39)
                f"{text}: a symbolic link to {os.readlink(path)}, which does not exist") \
                from exc
        raise ImageReadError(f"{text}: no such file{escaped_hint(text, storage_options)}") \
            from exc
    except IsADirectoryError as exc:
        raise ImageReadError(f"{text}: is a directory, not a file") from exc
    except Exception as exc:  # noqa: BLE001 - fsspec back-ends raise many types
        raise ImageReadError(f"{text}: cannot read ({type(exc).__name__}: {exc})") from exc
    if max_bytes is not None and len(data) > max_bytes:
        raise over_max_bytes(text, max_bytes)
    return data


def _is_empty(fs, path: str) -> bool:
    """Whether ``path`` is an empty object on ``fs`` (asked only where a range read failed: a
    server that cannot be reached is not "no such file", as asking its size said)."""
    try:
        return fs.size(path) == 0
    except Exception:  # noqa: BLE001 - cannot say: the range read's own error stands
        return False


def _is_folder(fs, path: str) -> bool:
    """Whether ``path`` is a folder on ``fs`` (asked only of what read as empty or as no
    file)."""
    try:
        _drop_cache(fs, path)
        return bool(fs.isdir(path))
    except Exception:  # noqa: BLE001 - cannot say: an empty file
        return False


def over_max_bytes(name: str, max_bytes: int) -> ImageTooLargeError:
    """The error of a file read past ``max_bytes`` (``images.largest_file`` of
    ``max_pixels``), naming ``name``."""
    return ImageTooLargeError(f"{name}: over {max_bytes:,} bytes, more than a picture of "
                              "max_pixels holds (max_pixels; give a larger one to read it)")


_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


def escaped_hint(text: str, storage_options: Optional[StorageOptions]) -> str:
    """For a URI with ``%XX`` escapes that names no file, where its decoded spelling does:
    ``" (... /My Trip/a.jpg exists ...)"``, else ``""``. File managers and browsers copy
    file URIs percent-encoded (``file:///photos/My%20Trip/a.jpg``); fsspec, like the job,
    takes a name as it is written."""
    if not _PERCENT_ESCAPE.search(text):
        return ""
    from urllib.parse import unquote

    decoded = unquote(text)
    try:
        path = local_path(decoded)
        if path is not None:
            found = os.path.isfile(path)
            shown_as = path
        else:
            fs, shown_as = get_filesystem(decoded, storage_options)
            found = fs.isfile(shown_as)
            shown_as = decoded
    except Exception:  # noqa: BLE001 - a hint only
        return ""
    return (f" ({shown_as} exists: names are taken as written, %XX escapes are not decoded; "
            "write the name plainly)" if found else "")


def fresh_info(uri: PathOrUri, storage_options: Optional[StorageOptions] = None) -> dict:
    """``fs.info`` of ``uri`` (size, type, times, tokens) asked of the store itself: listing
    caches are dropped first, so a file written or replaced earlier in the same process is
    seen as it is now. Raises what the file system raises (``FileNotFoundError`` ...)."""
    fs, path = get_filesystem(uri, storage_options)
    _drop_cache(fs, path)
    return fs.info(path)


def fresh_listing(uri: PathOrUri, storage_options: Optional[StorageOptions] = None) -> List[str]:
    """The names of what the folder ``uri`` holds (each as the file system names it: no
    protocol, no trailing ``/``), asked of the store itself as :func:`fresh_info` asks. Raises
    ``FileNotFoundError`` where there is no such folder, and what the file system raises."""
    fs, path = get_filesystem(uri, storage_options)
    _drop_cache(fs, path)
    return [name.rstrip("/") for name in fs.ls(path, detail=False)]


def _drop_cache(fs, path: str) -> None:
    try:
        fs.invalidate_cache(path)
    except Exception:  # noqa: BLE001 - cache invalidation is best effort
        pass


def file_size(uri: PathOrUri, storage_options: Optional[StorageOptions] = None) -> Optional[int]:
    """Size in bytes of an existing file, or ``None`` when there is no file at ``uri``
    (asked afresh: :func:`fresh_info`)."""
    try:
        info = fresh_info(uri, storage_options)
    except (FileNotFoundError, NotADirectoryError):   # (a file where a folder of the path
        return None                                     # would be: no file there either)
    except OSError as exc:
        if exc.errno == errno.ELOOP:   # (a loop of links: no file there either)
            return None
        raise
    if info.get("type", "file") != "file":
        return None
    size = info.get("size")
    return int(size) if size is not None else 0


#: Stores whose file systems list a folder's files by a name prefix in one request (s3fs's and
#: gcsfs's ``find(path, prefix=...)``).
_PREFIX_LISTING = frozenset(("s3", "gs"))


def file_sizes(uris: Sequence[str],
               storage_options: Optional[StorageOptions] = None) -> List[Optional[int]]:
    """:func:`file_size` of each of ``uris``: files of one folder whose names share a prefix
    (an output's name with each suffix it may have). On S3 and GCS a listing of that prefix,
    asked afresh (one request on S3; gcsfs asks twice where nothing matches): each missing file
    had cost a HEAD and a folder listing, 6 requests on S3 (9 on GCS) for a new input's three
    suffixes under ``--skip_existing`` (S3 review 49); elsewhere each file is asked."""
    uris = [os.fspath(uri) for uri in uris]
    parents = {uri.rsplit("/", 1)[0] for uri in uris}
    prefix = os.path.commonprefix([uri.rsplit("/", 1)[-1] for uri in uris])
    if (len(uris) < 2 or len(parents) != 1 or not prefix
            or store_protocol(uris[0]) not in _PREFIX_LISTING):
        return [file_size(uri, storage_options) for uri in uris]
    fs, path = get_filesystem(parents.pop(), storage_options)
    _drop_cache(fs, path)
    try:
        found = fs.find(path, maxdepth=1, prefix=prefix, detail=True)
    except FileNotFoundError:
        found = {}
    sizes = {posixpath.basename(name.rstrip("/")): info.get("size")
             for name, info in found.items() if info.get("type", "file") == "file"}
    names = [uri.rsplit("/", 1)[-1] for uri in uris]
    return [None if name not in sizes else int(sizes[name] or 0) for name in names]


# --------------------------------------------------------------------------- writing


def write_atomic(uri: PathOrUri, data: bytes,
                 storage_options: Optional[StorageOptions] = None, *,
                 within: Optional[PathOrUri] = None) -> None:
    """Write ``data`` to ``uri`` so that the file is complete or absent, never partial.

    Local disks: a hidden temporary file in the target folder (created with mode ``0o666``, so
    the umask decides a new file's mode), ``fsync``, then ``os.replace`` (atomic on POSIX);
    missing folders are created. An existing file is replaced and keeps its permission bits
    (a read-only one too: the folder's permissions decide, as for any rename). Object stores:
    one upload (S3 PUT or completed multipart upload, GCS upload), which the store makes
    visible only when complete.

    Parameters
    ----------
    uri : str or os.PathLike
        Local path or fsspec URI.
    data : bytes
    storage_options : dict, optional
        ``{protocol: {kwarg: value}}``.
    within : str or os.PathLike, optional
        A local folder ``uri`` lies in (the job's ``--output``): no symbolic link below it,
        folder or file, is written through (an ``OSError`` names it). A link planted in an
        output folder that is also the input folder had the job write over the file it named,
        or into the folder it named (security review 26). Links are written through
        otherwise (the command line's ``-o link.jpg``).
    """
    check_storage_options(storage_options)
    text = os.fspath(uri)
    if text.endswith(("/", os.sep)):
        # (a store took it as an object named like a folder marker, "lib2/", and a local disk
        # as a file "lib2": GCS review 43)
        raise IsADirectoryError(f"{text}: ends in '/', a folder; give a file name to write")
    fs, path = None, local_path(uri)
    if path is None:
        fs, path = get_filesystem(uri, storage_options)
        if is_bucket(uri):
            # (s3fs's words: "Parameter validation failed:\nInvalid length for parameter Key",
            # after the compression; S3 review 49)
            raise IsADirectoryError(f"{text}: a bucket, not a file; give a file name in it "
                                    "to write")
    if fs is None or is_local_filesystem(fs):
        path = os.path.abspath(path)
        root = None if within is None else local_path(within)
        if root is not None:
            _no_link_below(os.path.abspath(root), path)
        _write_local(path, data)
        return
    try:
        fs.pipe_file(path, bytes(data), **_typed(store_protocol(uri), path))
    except FileNotFoundError as exc:
        # (the store's words were a URL alone: "http://.../upload/storage/v1/b/x/o")
        said = " ".join(str(exc).split())
        if store_protocol(uri) in BUCKET_STORES:
            raise FileNotFoundError(f"{text}: cannot be written: the store found no bucket "
                                    f"{path.split('/', 1)[0]} ({said})") from exc
        raise FileNotFoundError(f"{text}: cannot be written: a folder of its path is missing "
                                f"({said})") from exc
    except PermissionError as exc:
        # (the store's words alone, "Access Denied", which the command line put after the
        # input's name: the picture read, the output's write refused; S3 review 49)
        raise PermissionError(f"{text}: cannot be written: the store refused it "
                              f"({' '.join(str(exc).split())})") from exc
    _drop_cache(fs, path)


#: Stores whose first path part is a bucket (or container): a write there found missing
#: found no bucket.
BUCKET_STORES = frozenset(("s3", "gs", "az", "abfs", "adl", "oss", "r2"))


def is_bucket(uri: PathOrUri) -> bool:
    """Whether ``uri`` names a whole bucket of a store (``s3://photos``, ``gs://b/``): a
    folder, never a file."""
    return (store_protocol(uri) in BUCKET_STORES
            and "/" not in split_protocol(uri)[1].strip("/"))


#: How each store's fsspec upload takes the object's media type (gcsfs: ``content_type``;
#: s3fs passes its keyword arguments to ``PutObject``).
_CONTENT_TYPE_ARGUMENT = {"gs": "content_type", "s3": "ContentType"}


def media_type(path: str) -> Optional[str]:
    """The media type of a file name's extension (``image/jpeg`` for ``.jpg``; Pillow's table,
    then the standard library's), or None where it is not known."""
    from PIL import Image

    extension = posixpath.splitext(path)[1].lower()
    media = Image.MIME.get(Image.registered_extensions().get(extension, ""))
    if media is None:
        import mimetypes

        media = mimetypes.guess_type(path, strict=False)[0]
    return media


def _typed(protocol: Optional[str], path: str) -> Dict[str, str]:
    """The upload's keyword giving the object the media type of its extension
    (:func:`media_type`), so that a bucket or a CDN serves the picture as one: every output
    was ``application/octet-stream`` on GCS, and a browser downloaded it instead of showing
    it (deploy review 25). None where the store or the extension is not known."""
    argument = _CONTENT_TYPE_ARGUMENT.get(protocol or "")
    if argument is None:
        return {}
    media = media_type(path)
    return {argument: media} if media else {}


#: A temporary file of a write that never finished (its process killed between the write and
#: the rename: ``kill -9``, the kernel's OOM killer) older than this many seconds is removed
#: by the first write into its folder in a later process; a live write's is seconds old.
STALE_TMP_SECONDS = 3600.0
#: The end of the names :func:`_temporary_name` gives: a random part and this project's mark
#: (the sweep removes no other program's temporary files).
_TMP_SUFFIX = ".sc.tmp"
_TMP_NAME = re.compile(r"\..+\.[0-9a-f]{32}" + re.escape(_TMP_SUFFIX) + r"\Z", re.DOTALL)
_SWEPT = set()   # folders this process has swept (:func:`_sweep_leftovers`)
_SWEPT_LOCK = ForkSafeLock()
_LOG = logging.getLogger(__name__)

#: Bytes of the target's name a temporary file's name keeps: with the dot, the 32 hex digits and
#: ".sc.tmp" (41 bytes) it stays within the 255 bytes of a file name however long the target's
#: is.
_TMP_NAME_BYTES = 120


def _no_link_below(root: str, path: str) -> None:
    """``OSError`` where ``path`` is not below ``root``, or where a folder between them, or
    ``path`` itself, is a symbolic link."""
    relative = os.path.relpath(path, root)
    if relative == os.curdir or relative.split(os.sep)[0] == os.pardir:
        raise OSError(f"{path}: not inside {root}; nothing is written there")
    current = root
    for part in relative.split(os.sep):
        current = os.path.join(current, part)
        if os.path.islink(current):
            raise OSError(f"{path}: {current} is a symbolic link; no output is written through "
                          f"a link below {root} (it could lead anywhere)")


#: Where a process's open files appear as links: writing through one writes a stream of the
#: process, whatever file it was opened on.
_STREAM_LINKS = re.compile(r"^/dev/(stdin|stdout|stderr)$|^/dev/fd/|^/proc/[^/]+/fd/")


def not_a_file(path: str) -> Optional[str]:
    """Why the local ``path`` is no file to write an output to, or None: a stream of the
    process (``/dev/stdout``, ``/dev/fd/1``, or a link through them), a FIFO, a socket or a
    device. An output is written beside and renamed over its target: on standard output
    redirected to a log file (``-o /dev/stdout >> log``) that replaced the log (CLI review
    37; on a terminal or a pipe, the device or FIFO: CLI review 25)."""
    hop = os.path.abspath(path)
    for _ in range(40):   # (a loop of links ends the walk, as the kernel's limit does)
        # (its folder resolved too: a link into a folder that links to /proc/self/fd)
        folder = os.path.realpath(os.path.dirname(hop))
        if _STREAM_LINKS.match(hop) or _STREAM_LINKS.match(
                os.path.join(folder, os.path.basename(hop))):
            return (f"{path}: an open file of this process (standard output or error, a "
                    "/dev/fd/N), not a file to write; give a file name")
        if not os.path.islink(hop):
            break
        hop = os.path.normpath(os.path.join(os.path.dirname(hop), os.readlink(hop)))
    try:
        kind = os.stat(path).st_mode           # (through a symbolic link, to what it names)
    except OSError:
        return None
    if not (stat.S_ISREG(kind) or stat.S_ISDIR(kind)):
        return f"{path}: not a regular file (a FIFO, socket or device); give a file name to write"
    return None


def _write_local(path: str, data: bytes) -> None:
    if os.path.isdir(path):  # (os.replace's own error named the temporary file)
        raise IsADirectoryError(f"{path}: is a folder; give a file name to write")
    problem = not_a_file(path)
    if problem:
        raise OSError(problem)
    try:
        kind = os.stat(path).st_mode           # (through a symbolic link, to what it names)
    except OSError:
        kind = None
    if os.path.islink(path):
        # a link to a file: written through, the file it names replaced (the rename had
        # replaced the link itself, the file it named kept its old bytes)
        path = os.path.realpath(path)
    folder, name = os.path.split(path)
    try:
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, _temporary_name(name))
        fd = os.open(tmp, _WRITE_NEW_FLAGS, 0o666)
    except (FileExistsError, NotADirectoryError):   # ("[Errno 17] File exists: '.../a.txt'")
        raise NotADirectoryError(f"{path}: cannot be written, a part of {folder} is a file, "
                                 "not a folder") from None
    except OSError as exc:   # (it named the hidden temporary file: edge review 39)
        raise type(exc)(exc.errno, f"{path}: cannot be written ({exc.strerror} in "
                                   f"{folder})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if kind is not None:
                # a file replaced keeps its permission bits: the rename had made a private
                # (0600) or read-only (0444) output world-readable and writable by the umask's
                # mode (edge review 35). Not set-user-ID, set-group-ID or sticky (the writer
                # owns the new file: ``cp`` and ``install`` drop them too), and a file system
                # that takes no modes (a FAT disk) keeps its own.
                try:
                    os.fchmod(fh.fileno(), stat.S_IMODE(kind) & 0o777)
                except OSError as exc:
                    if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                        raise
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _sweep_leftovers(folder)


def _temporary_name(name: str) -> str:
    """A hidden, unique name for the temporary file of a write of ``name``, which
    :data:`_TMP_NAME` matches."""
    # (the whole name was kept: a legal name of 218-255 bytes failed with "File name too long")
    head = os.fsencode(name)[:_TMP_NAME_BYTES].decode("utf-8", "ignore")  # whole characters
    return f".{head}.{uuid.uuid4().hex}{_TMP_SUFFIX}"


def _sweep_leftovers(folder: str) -> None:
    """Remove the temporary files of interrupted writes (:data:`STALE_TMP_SECONDS` old, named
    as :func:`_write_local` names them) from ``folder``, once per folder and process: a job
    killed mid-write left them hidden beside its outputs for good, and its reruns wrote the
    outputs again beside them. One listing of the folder; what cannot be removed stays."""
    with _SWEPT_LOCK:
        if folder in _SWEPT:
            return
        _SWEPT.add(folder)
    cutoff, removed, freed = time.time() - STALE_TMP_SECONDS, 0, 0
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if not _TMP_NAME.match(entry.name):
                    continue
                try:
                    info = entry.stat(follow_symlinks=False)
                    if stat.S_ISREG(info.st_mode) and info.st_mtime < cutoff:
                        os.unlink(entry.path)
                        removed, freed = removed + 1, freed + info.st_size
                except OSError:
                    continue
    except OSError:
        return
    if removed:
        _LOG.info("%s: removed %d temporary file(s) of writes interrupted over %g s ago "
                  "(%d bytes)", folder, removed, STALE_TMP_SECONDS, freed)


# --------------------------------------------------------------------------- output names


def is_under(path: str, prefix: str) -> bool:
    """True if ``path`` is ``prefix`` or inside it (plain string paths, ``/`` separated)."""
    path, prefix = path.rstrip("/"), prefix.rstrip("/")
    return path == prefix or path.startswith(prefix + "/")


def _cut_to_bytes(text: str, most: int) -> str:
    """``text`` cut to its longest beginning of whole characters that takes at most ``most``
    UTF-8 bytes. In one cut, not a character at a time: cut one by one, a listed name of
    50 MB (an --input_list line) held the job's matching for hours (security review 45)."""
    data = text.encode("utf-8")
    if len(data) <= most:
        return text
    # (the bytes of a valid text cut anywhere: 'ignore' drops only a cut last character)
    return data[:most].decode("utf-8", "ignore")


def sanitize_relpath(relpath: PathOrUri) -> str:
    """Make a relative path safe to append to an output prefix.

    Backslashes become ``/``; empty, ``.`` and ``..`` parts are dropped (so ``../x`` and
    ``/etc/x`` stay inside the prefix); Unicode is NFC-normalised; control, format (bidi,
    zero-width) and glob / Windows-reserved characters become ``_``; names made only of dots
    become underscores, names made only of blanks (and dots) too; each part is cut to 200
    UTF-8 bytes.

    Raises
    ------
    ValueError
        If nothing usable is left.
    """
    text = unicodedata.normalize("NFC", os.fspath(relpath)).replace("\\", "/")
    parts = []
    for raw in text.split("/"):
        part = raw
        if part.isascii():      # the usual name: one pass of the regex, same result
            part = _UNSAFE_ASCII.sub("_", part).strip()
        else:
            part = "".join("_" if (not ch.isprintable() or ch in _UNSAFE_NAME_CHARS) else ch
                           for ch in part).strip()
        if part in ("", ".", ".."):
            if raw not in ("", ".", ".."):
                # a name of blanks (and dots) alone, "in/ ", " ..": underscores, not dropped
                # (its folder's name took its place, and a listing's whole pattern failed
                # with "has no usable name": GCS review 43, diff review 43)
                parts.append("_" * max(1, len(part)))
            continue
        if set(part) == {"."}:
            part = "_" * len(part)
        part = _cut_to_bytes(part, _MAX_NAME_BYTES)
        parts.append(part)
    if not parts:
        raise ValueError(f"relative path {relpath!r} has no usable name")
    return "/".join(parts)


def join_under(prefix: str, relpath: str) -> str:
    """``prefix + "/" + relpath`` after checking that the result stays inside ``prefix``.

    Raises
    ------
    ValueError
        If ``relpath`` would escape ``prefix`` (it is sanitised first, so this is a last guard).
    """
    rel = sanitize_relpath(relpath)
    prefix = prefix.rstrip("/")
    joined = f"{prefix}/{rel}"
    p_protocol, p_path = split_protocol(prefix)
    j_protocol, j_path = split_protocol(joined)
    inside, root = posixpath.normpath(j_path), posixpath.normpath(p_path)
    if p_protocol != j_protocol or not is_under(inside, root) or inside == root:
        raise ValueError(f"output path {relpath!r} escapes the output prefix {prefix!r}")
    return joined


def distinct_relpath(relpath: PathOrUri, max_name_bytes: int = _MAX_NAME_BYTES) -> str:
    """:func:`sanitize_relpath`, keeping different relative paths apart.

    Sanitising is not one-to-one: ``a:b.png`` and ``a_b.png``, a name and its NFD spelling, two
    long names that differ after 200 bytes, ``a\\b.png`` and ``a/b.png`` would give one name.
    So when it changes a part of the path (anything more than dropping empty and ``.`` parts),
    or the file name is longer than ``max_name_bytes``, the file name is cut to fit and ``~``
    and the first 12 hex digits of the SHA-256 of the path are appended to it. Other paths keep
    their name; the result is a fixed point (passing it again returns it).

    Parameters
    ----------
    relpath : str or os.PathLike
    max_name_bytes : int
        The longest file name (last part, UTF-8 bytes) to return; at least 32, at most 200.

    Examples
    --------
    >>> distinct_relpath("trips/photo.png")
    'trips/photo.png'
    >>> distinct_relpath("a:b.png")  # doctest: +ELLIPSIS
    'a_b.png~...'

    Raises
    ------
    ValueError
        If nothing usable is left, or ``max_name_bytes`` is out of range.
    """
    if not 32 <= max_name_bytes <= _MAX_NAME_BYTES:
        raise ValueError(f"max_name_bytes must be in 32..{_MAX_NAME_BYTES}, got {max_name_bytes!r}")
    text = os.fspath(relpath)
    safe = sanitize_relpath(text)
    plain = "/".join(part for part in text.split("/") if part not in ("", "."))
    folder, name = posixpath.split(safe)
    if safe == plain and len(name.encode("utf-8")) <= max_name_bytes:
        return safe
    digest = hashlib.sha256(plain.encode("utf-8", "surrogatepass")).hexdigest()[:_DIGEST_CHARS]
    name = _cut_to_bytes(name, max_name_bytes - 1 - _DIGEST_CHARS)
    name = f"{name}~{digest}"
    return posixpath.join(folder, name) if folder else name


def output_name(relpath: str, tag: str, extension: str) -> str:
    """The output name of an input: its whole relative path (extension included), the settings
    tag, the output extension.

    ``"a/b/photo.png"``, tag ``"1a2b"``, ``".jpg"`` -> ``"a/b/photo.png.1a2b.jpg"``. The
    input's extension stays in the name, so ``photo.png``, ``photo.gif`` and ``photo.jpg``
    that all become JPEG get three names; with :func:`distinct_relpath`, two different
    relative paths never share an output name (for one tag and extension). The same input and
    tag always give the same name (``--skip_existing`` relies on it), and the names of one
    input for different extensions differ only in the extension. A long input name is cut
    (with a digest, see :func:`distinct_relpath`) so that the whole name stays within 200 bytes.
    """
    room = _MAX_NAME_BYTES - len(f".{tag}".encode("utf-8")) - _MAX_EXTENSION_BYTES
    if len(extension.encode("utf-8")) > _MAX_EXTENSION_BYTES or room < 32:
        raise ValueError(f"tag {tag!r} or extension {extension!r} too long for an output name")
    return f"{distinct_relpath(relpath, room)}.{tag}{extension}"


def output_stem(relpath: str, tag: str) -> str:
    """:func:`output_name` without the extension, which ``format auto`` picks by content only
    after decoding: ``"trips/x.jpg"``, tag ``"1a2b"`` -> ``"trips/x.jpg.1a2b"``. The names of one
    input and tag differ only after it."""
    return output_name(relpath, tag, "")


def is_output_name(name: str, tag: str) -> bool:
    """True if the file name ``name`` is an :func:`output_name` of the settings ``tag``: it
    ends with ``.<tag>.<extension>`` (``photo.png.3f9a1c2b7d.jpg`` for ``3f9a1c2b7d``)."""
    return re.fullmatch(rf".+\.{re.escape(tag)}\.[A-Za-z0-9]{{2,5}}", posixpath.basename(name),
                        re.S) is not None


def output_source(name: str) -> Optional[str]:
    """The input file name that ``name`` would be the :func:`output_name` of, for *any*
    settings (``photo.png.3f9a1c2b7d.jpg`` -> ``photo.png``: a 10-digit hexadecimal tag
    between the input's name and the output's extension), or ``None``."""
    match = re.fullmatch(r"(.+)\.[0-9a-f]{10}\.[A-Za-z0-9]{2,5}", posixpath.basename(name), re.S)
    return None if match is None else match.group(1)


def set_apart(name: str) -> bool:
    """True if the file name ``name`` ends as :func:`distinct_relpath` sets a name apart:
    ``~`` and 12 hex digits of a digest (``a?b.jpg`` -> ``a_b.jpg~23a6f1b1f1bd``)."""
    return re.search(rf"~[0-9a-f]{{{_DIGEST_CHARS}}}$", posixpath.basename(name)) is not None


def undecodable(text: str) -> bool:
    """True if ``text`` holds bytes that were not UTF-8 (Python's surrogate escapes, as in a
    Linux file name from a Latin-1 system: ``caf\\xe9.jpg``)."""
    return any("\udc80" <= ch <= "\udcff" for ch in text)


#: Lone surrogates that are not Python's escapes of undecodable bytes (``\\udc80``-``\\udcff``):
#: a Windows name (argv, ``os.listdir``) may hold them, and no UTF-8 coder takes them.
_LONE_SURROGATE = re.compile("[\ud800-\udc7f\udd00-\udfff]")


def shown(text: str) -> str:
    """``text`` with its undecodable bytes written ``\\xNN`` and any other lone surrogate
    ``\\uNNNN`` (a string every coder, the manifest and a terminal take)."""
    text = _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


#: Characters a terminal acts on instead of showing (C0 and C1 controls, DEL) and the
#: bidirectional controls that show a name in another order (``photo\u202egpj.exe``), each to
#: its escape as Python writes it.
_NOT_SHOWN = {code: f"\\x{code:02x}" for code in [*range(0x20), 0x7F, *range(0x80, 0xA0)]}
_NOT_SHOWN.update({0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"})
_NOT_SHOWN.update({code: f"\\u{code:04x}" for code in
                   [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]})
_NOT_SHOWN_BUT_LINES = {code: escape for code, escape in _NOT_SHOWN.items() if code != 0x0A}


def for_terminal(text: str, line_breaks: bool = False) -> str:
    """``text`` (a file name, or a message naming one) as a terminal or a log may show it: its
    control characters escaped (``\\x1b``, ``\\x07``, ``\\r``: a name with an escape
    sequence recoloured or erased the job's log and summary lines; review 27), its
    bidirectional controls too, its undecodable bytes as :func:`shown`. With
    ``line_breaks=True``, ``\\n`` stays a line break (a message of several lines)."""
    return shown(text).translate(_NOT_SHOWN_BUT_LINES if line_breaks else _NOT_SHOWN)
