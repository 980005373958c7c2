"""Storage for the pipeline: match inputs, read bytes, write outputs atomically, name outputs.

Every URI goes through fsspec (local paths, ``file://``, ``gs://`` with gcsfs, ``s3://`` with
s3fs, others by plug-in). Per-protocol settings come from ``storage_options``, a dict keyed by
protocol (``{"s3": {"endpoint_url": ...}, "gs": {"token": "anon"}}``); the pipeline fills it from
``--storage_options`` and Beam's own ``--s3_*`` options (see
:func:`storage_options_from_pipeline_options`).

Outputs are written atomically: on local disks to a hidden temporary file in the target folder,
then ``os.replace``; on object stores with one PUT (an object appears complete or not at all).
Output names are deterministic and never leave the output prefix (:func:`sanitize_relpath`,
:func:`join_under`).
"""
from __future__ import annotations

import json
import logging
import os
import posixpath
import traceback
import unicodedata
import uuid
from typing import Any, Dict, Iterator, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam.metrics import Metrics

from compress_core.errors import ImageReadError

__all__ = [
    "METRICS_NAMESPACE",
    "InputFile",
    "Failure",
    "split_protocol",
    "is_local_uri",
    "normalize_uri",
    "get_filesystem",
    "storage_options_from_pipeline_options",
    "merge_storage_options",
    "glob_base",
    "common_base",
    "match_pattern",
    "read_uri_list",
    "relative_paths",
    "read_bytes",
    "file_size",
    "write_atomic",
    "sanitize_relpath",
    "join_under",
    "is_under",
    "output_name",
    "MatchImages",
    "WriteDeadLetters",
    "failure_record",
]

_LOG = logging.getLogger(__name__)

#: Namespace of every Beam metric the pipeline reports.
METRICS_NAMESPACE = "semantic_compress"

_GLOB_CHARS = "*?["
_PROTOCOL_ALIASES = {"gcs": "gs", "s3a": "s3", "local": "file"}
#: Characters replaced by ``_`` in output names: glob magic, Windows-reserved, backslash.
_UNSAFE_NAME_CHARS = set('*?[]<>|:"\\')
_MAX_NAME_BYTES = 200


class InputFile(NamedTuple):
    """One matched input.

    Attributes
    ----------
    uri : str
        Full URI (or absolute local path) of the input.
    relpath : str
        Its path relative to the matched base (used to name the output), already sanitised.
    size : int or None
        Size in bytes when the listing gave it.
    """

    uri: str
    relpath: str
    size: Optional[int] = None


class Failure(NamedTuple):
    """A failed input, carried as data to the manifest and the dead-letter files.

    Attributes
    ----------
    input_uri : str
        The input (or the pattern / list file, for ``stage="match"``).
    stage : str
        Where it failed: ``match``, ``plan``, ``read``, ``setup``, ``compress`` or ``write``.
    error_type : str
        The exception's class name (``ImageDecodeError`` ...).
    error_message : str
        The exception's message.
    traceback : str
        The formatted traceback (dead letters only).
    output_uri : str or None
        The output it would have had, when known.
    input_bytes : int or None
        Size of the input, when known.
    input_sha256 : str or None
        Hash of the input bytes, when they were read.
    """

    input_uri: str
    stage: str
    error_type: str
    error_message: str
    traceback: str = ""
    output_uri: Optional[str] = None
    input_bytes: Optional[int] = None
    input_sha256: Optional[str] = None

    @classmethod
    def from_exception(cls, exc: BaseException, input_uri: str, stage: str, **fields) -> "Failure":
        """Build a failure from a caught exception (type name, message, traceback)."""
        message = str(exc) or repr(exc)
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return cls(input_uri=str(input_uri), stage=stage, error_type=type(exc).__name__,
                   error_message=message, traceback=tb, **fields)


# --------------------------------------------------------------------------- URIs and filesystems


def split_protocol(uri: str) -> Tuple[Optional[str], str]:
    """``"s3://b/k"`` -> ``("s3", "b/k")``; a local path -> ``(None, path)``."""
    text = os.fspath(uri)
    if "://" in text:
        protocol, rest = text.split("://", 1)
        return protocol.lower(), rest
    return None, text


def is_local_uri(uri: str) -> bool:
    """True for local paths and ``file://`` URIs."""
    protocol, _ = split_protocol(uri)
    return protocol in (None, "file", "local")


def normalize_uri(uri: str) -> str:
    """Make a local path absolute (so that every worker process sees the same file); strip a
    trailing ``/``. Remote URIs are returned unchanged apart from the trailing ``/``."""
    text = os.fspath(uri).strip()
    protocol, rest = split_protocol(text)
    if protocol is None:
        text = os.path.abspath(os.path.expanduser(text))
    elif protocol in ("file", "local"):
        text = "file://" + os.path.abspath(rest)
    return text.rstrip("/") if len(text) > 1 else text


def _protocol_options(protocol: Optional[str], storage_options: Optional[Mapping[str, Any]]) -> Dict:
    if not storage_options:
        return {}
    key = _PROTOCOL_ALIASES.get(protocol or "file", protocol or "file")
    for name, value in storage_options.items():
        if _PROTOCOL_ALIASES.get(name, name) == key:
            return dict(value or {})
    return {}


def get_filesystem(uri: str, storage_options: Optional[Mapping[str, Any]] = None):
    """Return ``(fs, path)`` for ``uri``, with the options of its protocol applied.

    Parameters
    ----------
    uri : str
        Local path or fsspec URI.
    storage_options : dict, optional
        ``{protocol: {kwarg: value}}``; the entry of ``uri``'s protocol is passed to fsspec.
    """
    import fsspec.core

    protocol, _ = split_protocol(uri)
    fs, path = fsspec.core.url_to_fs(os.fspath(uri), **_protocol_options(protocol, storage_options))
    return fs, path


def _is_local_fs(fs) -> bool:
    from fsspec.implementations.local import LocalFileSystem

    return isinstance(fs, LocalFileSystem)


def _to_uri(fs, path: str, like: str) -> str:
    """Turn an fsspec path back into a URI in the style of ``like`` (the user's pattern)."""
    protocol, _ = split_protocol(like)
    if protocol is None:
        return path
    if _is_local_fs(fs):
        return "file://" + path
    return f"{protocol}://{path}"


def storage_options_from_pipeline_options(options) -> Dict[str, Dict[str, Any]]:
    """fsspec options implied by Beam's standard options (``--s3_endpoint_url`` and friends).

    So that one set of flags configures both Beam's file systems (manifest, dead letters) and
    fsspec (images).

    Parameters
    ----------
    options : apache_beam.options.pipeline_options.PipelineOptions or None
    """
    if options is None:
        return {}
    from apache_beam.options.pipeline_options import S3Options

    s3 = options.view_as(S3Options)
    s3_opts: Dict[str, Any] = {}
    if s3.s3_endpoint_url:
        s3_opts["endpoint_url"] = s3.s3_endpoint_url
    if s3.s3_access_key_id:
        s3_opts["key"] = s3.s3_access_key_id
    if s3.s3_secret_access_key:
        s3_opts["secret"] = s3.s3_secret_access_key
    if s3.s3_session_token:
        s3_opts["token"] = s3.s3_session_token
    if s3.s3_region_name:
        s3_opts.setdefault("client_kwargs", {})["region_name"] = s3.s3_region_name
    if s3.s3_verify is not None:
        s3_opts.setdefault("client_kwargs", {})["verify"] = s3.s3_verify
    if s3.s3_disable_ssl:
        s3_opts["use_ssl"] = False
    return {"s3": s3_opts} if s3_opts else {}


def merge_storage_options(*layers: Optional[Mapping[str, Mapping[str, Any]]]) -> Dict[str, Dict]:
    """Merge ``{protocol: {kwarg: value}}`` dicts; later layers win per kwarg."""
    merged: Dict[str, Dict[str, Any]] = {}
    for layer in layers:
        for protocol, opts in (layer or {}).items():
            key = _PROTOCOL_ALIASES.get(protocol, protocol)
            merged.setdefault(key, {}).update(dict(opts or {}))
    return merged


# --------------------------------------------------------------------------- matching


def glob_base(pattern: str) -> str:
    """The folder part of ``pattern`` before its first glob character.

    ``"gs://b/photos/2026/**/*.jpg"`` -> ``"gs://b/photos/2026"``; a pattern without glob
    characters is returned as is (a file or a folder).
    """
    text = os.fspath(pattern)
    cut = min((text.find(c) for c in _GLOB_CHARS if c in text), default=-1)
    if cut < 0:
        return text.rstrip("/") or text
    return text[:cut].rsplit("/", 1)[0]


def _hidden(relpath: str) -> bool:
    return any(part.startswith((".", "_")) for part in relpath.split("/"))


def is_under(path: str, prefix: str) -> bool:
    """True if ``path`` is ``prefix`` or inside it (plain string paths, ``/`` separated)."""
    path, prefix = path.rstrip("/"), prefix.rstrip("/")
    return path == prefix or path.startswith(prefix + "/")


def match_pattern(pattern: str, storage_options: Optional[Mapping] = None,
                  exclude: Sequence[str] = (), base: Optional[str] = None) -> List[InputFile]:
    """Expand a glob (or a folder, or one file) into :class:`InputFile` s, sorted by URI.

    Relative paths (which name the outputs) are relative to ``base`` when given and above the
    match, else to the pattern's folder (:func:`glob_base`; for a single file, its folder).

    A folder matches every file below it except hidden ones (a path part starting with ``.`` or
    ``_``, such as ``_manifest``). Files under any ``exclude`` prefix (the run's own outputs)
    are dropped, so that an output folder inside the input folder is never read back; an
    ``exclude`` prefix that contains the pattern's base folder is ignored (the caller asked
    for it).

    Raises
    ------
    ImageReadError
        If listing fails (missing bucket, permission ...).
    """
    fs, path = get_filesystem(pattern, storage_options)
    base_uri = glob_base(pattern)
    _, base_path = get_filesystem(base_uri, storage_options)
    # An excluded folder that holds the pattern itself was asked for explicitly: keep it.
    excluded = [e for e in (get_filesystem(x, storage_options)[1] for x in exclude if x)
                if not is_under(base_path, e)]
    try:
        if not any(c in path for c in _GLOB_CHARS) and fs.isdir(path):
            found = fs.find(path, detail=True)
            folder = True
        else:
            found = fs.glob(path, detail=True)
            folder = False
    except Exception as exc:  # noqa: BLE001 - every listing error is a read error here
        raise ImageReadError(f"{pattern}: cannot list ({type(exc).__name__}: {exc})") from exc
    if not any(c in path for c in _GLOB_CHARS) and not folder:
        base_path = posixpath.dirname(path.rstrip("/"))
    if base is not None and split_protocol(base)[0] == split_protocol(pattern)[0]:
        wanted = get_filesystem(base, storage_options)[1] if base else ""
        if not wanted or is_under(base_path, wanted):
            base_path = wanted
    files = []
    for item_path, info in sorted(found.items()):
        if info.get("islink"):  # listings describe the link itself: follow it
            try:
                info = fs.info(item_path)
            except (FileNotFoundError, OSError):
                pass  # a dangling link: kept, so that its read error gets a row
        if info.get("type", "file") not in ("file", "other"):
            continue
        if info.get("type") == "other" and not info.get("islink"):
            continue  # sockets, devices, FIFOs
        if any(is_under(item_path, e) for e in excluded):
            continue
        rel = posixpath.relpath(item_path, base_path) if base_path else item_path
        if folder and _hidden(rel):
            continue
        size = info.get("size")
        files.append(InputFile(_to_uri(fs, item_path, pattern), sanitize_relpath(rel),
                               int(size) if size is not None else None))
    return files


def read_uri_list(list_uri: str, storage_options: Optional[Mapping] = None) -> List[str]:
    """Read a text file of input URIs: one a line, blank lines and ``#`` comments ignored.

    Raises
    ------
    ImageReadError
        If the list cannot be read.
    """
    data = read_bytes(list_uri, storage_options)
    uris = []
    for line in data.decode("utf-8-sig").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            uris.append(normalize_uri(line))
    return uris


def relative_paths(uris: Sequence[str], base: Optional[str] = None) -> List[str]:
    """Relative output paths for listed URIs: relative to ``base`` when they are below it, else
    relative to the deepest folder the URIs share (with protocol and bucket kept when they
    differ). Returned paths are sanitised."""
    split = [split_protocol(u) for u in uris]
    if base:
        b_protocol, b_path = split_protocol(normalize_uri(base))
    rels: List[Optional[str]] = [None] * len(uris)
    rest_idx = []
    for i, (protocol, path) in enumerate(split):
        if base and (protocol or None) == (b_protocol or None) and is_under(path, b_path) \
                and path.rstrip("/") != b_path.rstrip("/"):
            rels[i] = posixpath.relpath(path, b_path)
        else:
            rest_idx.append(i)
    if rest_idx:
        protocols = {split[i][0] for i in rest_idx}
        if len(protocols) == 1:
            dirs = [posixpath.dirname(split[i][1]) for i in rest_idx]
            try:
                common = posixpath.commonpath(dirs)
            except ValueError:  # absolute and relative paths mixed
                common = ""
            for i in rest_idx:
                rels[i] = posixpath.relpath(split[i][1], common) if common else split[i][1]
        else:
            for i in rest_idx:
                protocol, path = split[i]
                rels[i] = f"{protocol or 'local'}/{path}"
    return [sanitize_relpath(r) for r in rels]


# --------------------------------------------------------------------------- reading and writing


def read_bytes(uri: str, storage_options: Optional[Mapping] = None) -> bytes:
    """Read a whole object or file.

    Raises
    ------
    ImageReadError
        If it does not exist, is a folder, or cannot be read; the message names the URI.
    """
    try:
        fs, path = get_filesystem(uri, storage_options)
        return fs.cat_file(path)
    except FileNotFoundError as exc:
        raise ImageReadError(f"{uri}: no such file") from exc
    except IsADirectoryError as exc:
        raise ImageReadError(f"{uri}: is a directory, not a file") from exc
    except ImageReadError:
        raise
    except Exception as exc:  # noqa: BLE001 - fsspec back-ends raise many types
        raise ImageReadError(f"{uri}: cannot read ({type(exc).__name__}: {exc})") from exc


def file_size(uri: str, storage_options: Optional[Mapping] = None) -> Optional[int]:
    """Size in bytes of an existing file, or ``None`` when there is no file at ``uri``.

    Listing caches are dropped first, so a file written earlier in the same process is seen.
    """
    fs, path = get_filesystem(uri, storage_options)
    try:
        fs.invalidate_cache(path)
    except Exception:  # noqa: BLE001 - cache invalidation is best effort
        pass
    try:
        info = fs.info(path)
    except FileNotFoundError:
        return None
    if info.get("type", "file") != "file":
        return None
    size = info.get("size")
    return int(size) if size is not None else 0


def write_atomic(uri: str, data: bytes, storage_options: Optional[Mapping] = None) -> None:
    """Write ``data`` to ``uri`` so that the file is complete or absent, never partial.

    Local disks: write a hidden temporary file in the target folder, ``fsync``, then
    ``os.replace`` (atomic on POSIX). Object stores: one upload (S3 PUT or completed multipart
    upload, GCS upload), which the store makes visible only when complete. An existing file is
    replaced.
    """
    fs, path = get_filesystem(uri, storage_options)
    if _is_local_fs(fs):
        folder, name = os.path.split(path)
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, f".{name}.{uuid.uuid4().hex}.tmp")
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
    else:
        fs.pipe_file(path, bytes(data))
        try:
            fs.invalidate_cache(path)
        except Exception:  # noqa: BLE001
            pass


# --------------------------------------------------------------------------- output names


def sanitize_relpath(relpath: str) -> str:
    """Make a relative path safe to append to an output prefix.

    Backslashes become ``/``; empty, ``.`` and ``..`` parts are dropped (so ``../x`` and
    ``/etc/x`` stay inside the prefix); Unicode is NFC-normalised; control, format (bidi,
    zero-width) and glob / Windows-reserved characters become ``_``; names made only of dots
    become underscores; each part is cut to 200 UTF-8 bytes.

    Raises
    ------
    ValueError
        If nothing usable is left.
    """
    text = unicodedata.normalize("NFC", os.fspath(relpath)).replace("\\", "/")
    parts = []
    for part in text.split("/"):
        part = "".join("_" if (not ch.isprintable() or ch in _UNSAFE_NAME_CHARS) else ch
                       for ch in part).strip()
        if part in ("", ".", ".."):
            continue
        if set(part) == {"."}:
            part = "_" * len(part)
        while len(part.encode("utf-8")) > _MAX_NAME_BYTES:
            part = part[:-1]
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
    if p_protocol != j_protocol or not is_under(posixpath.normpath(j_path), posixpath.normpath(p_path)) \
            or posixpath.normpath(j_path) == posixpath.normpath(p_path):
        raise ValueError(f"output path {relpath!r} escapes the output prefix {prefix!r}")
    return joined


def output_name(relpath: str, tag: str, extension: str) -> str:
    """``"a/b/photo.jpg"``, tag ``"1a2b"``, ``".webp"`` -> ``"a/b/photo.1a2b.webp"``."""
    rel = sanitize_relpath(relpath)
    folder, name = posixpath.split(rel)
    stem, dot, _suffix = name.rpartition(".")
    if not dot or not stem:
        stem = name
    new = f"{stem}.{tag}{extension}"
    return posixpath.join(folder, new) if folder else new


# --------------------------------------------------------------------------- transforms


class _ExpandPattern(beam.DoFn):
    """Pattern (glob, folder or file URI) -> :class:`InputFile` s; a failed listing -> Failure."""

    FAILED = "failed"

    def __init__(self, storage_options=None, exclude: Sequence[str] = (),
                 base: Optional[str] = None):
        self._storage_options = dict(storage_options or {})
        self._exclude = tuple(exclude)
        self._base = base
        self._matched = Metrics.counter(METRICS_NAMESPACE, "inputs_matched")

    def process(self, pattern: str) -> Iterator:
        try:
            files = match_pattern(pattern, self._storage_options, self._exclude, self._base)
        except Exception as exc:  # noqa: BLE001 - failures are data
            _LOG.error("Cannot match %s: %s", pattern, exc)
            yield beam.pvalue.TaggedOutput(self.FAILED, Failure.from_exception(exc, pattern, "match"))
            return
        if not files:
            _LOG.warning("Input pattern %s matched no files", pattern)
        self._matched.inc(len(files))
        yield from files


class _ExpandUriList(beam.DoFn):
    """Text file of URIs -> :class:`InputFile` s (names relative to ``base`` or the shared
    folder); an unreadable list -> Failure. Listed files are not checked here: a missing one
    fails at the read step with its own row."""

    FAILED = "failed"

    def __init__(self, storage_options=None, base: Optional[str] = None,
                 exclude: Sequence[str] = ()):
        self._storage_options = dict(storage_options or {})
        self._base = base
        self._exclude = tuple(exclude)
        self._matched = Metrics.counter(METRICS_NAMESPACE, "inputs_matched")

    def process(self, list_uri: str) -> Iterator:
        try:
            uris = read_uri_list(list_uri, self._storage_options)
            uris = [u for u in uris if not any(is_under(split_protocol(u)[1], split_protocol(e)[1])
                                               and split_protocol(u)[0] == split_protocol(e)[0]
                                               for e in self._exclude)]
            rels = relative_paths(uris, self._base)
        except Exception as exc:  # noqa: BLE001 - failures are data
            _LOG.error("Cannot read the input list %s: %s", list_uri, exc)
            yield beam.pvalue.TaggedOutput(self.FAILED, Failure.from_exception(exc, list_uri, "match"))
            return
        self._matched.inc(len(uris))
        for uri, rel in zip(uris, rels):
            yield InputFile(uri, rel, None)


class MatchImages(beam.PTransform):
    """Expand input patterns and URI lists into a PCollection of :class:`InputFile`.

    Matching runs on a worker (not at graph construction), so it sees what the job's service
    account sees. Returns a dict: ``files`` (InputFile) and ``failures`` (:class:`Failure`,
    for patterns or lists that could not be listed or read).

    Parameters
    ----------
    patterns : sequence of str
        Globs (``**`` recurses), folders or single files, local or any fsspec URI.
    input_lists : sequence of str
        Text files of URIs, one a line.
    input_base : str, optional
        Folder that output names are made relative to (listed URIs and matches below it).
        Without it, several patterns share the deepest folder above all of them (so that
        ``--input a/ --input b/`` give ``a/x.jpg`` and ``b/x.jpg``, not two ``x.jpg``).
    exclude : sequence of str
        Prefixes never matched (the job's output and manifest folders).
    storage_options : dict, optional
        ``{protocol: fsspec kwargs}``.
    """

    def __init__(self, patterns: Sequence[str] = (), input_lists: Sequence[str] = (),
                 input_base: Optional[str] = None, exclude: Sequence[str] = (),
                 storage_options: Optional[Mapping] = None):
        super().__init__()
        if not patterns and not input_lists:
            raise ValueError("MatchImages needs at least one pattern or input list")
        self._patterns = [normalize_uri(p) if not any(c in p for c in _GLOB_CHARS) else
                          _normalize_pattern(p) for p in patterns]
        self._lists = [normalize_uri(u) for u in input_lists]
        self._base = normalize_uri(input_base) if input_base else None
        self._pattern_base = self._base if self._base else common_base(self._patterns)
        self._exclude = tuple(exclude)
        self._storage_options = dict(storage_options or {})

    def expand(self, pbegin):
        files, failures = [], []
        if self._patterns:
            res = (pbegin
                   | "CreatePatterns" >> beam.Create(self._patterns, reshuffle=False)
                   | "ExpandPatterns" >> beam.ParDo(
                       _ExpandPattern(self._storage_options, self._exclude, self._pattern_base)
                   ).with_outputs(_ExpandPattern.FAILED, main="files"))
            files.append(res.files)
            failures.append(res[_ExpandPattern.FAILED])
        if self._lists:
            res = (pbegin
                   | "CreateLists" >> beam.Create(self._lists, reshuffle=False)
                   | "ExpandLists" >> beam.ParDo(
                       _ExpandUriList(self._storage_options, self._base, self._exclude)
                   ).with_outputs(_ExpandUriList.FAILED, main="files"))
            files.append(res.files)
            failures.append(res[_ExpandUriList.FAILED])
        return {
            "files": tuple(files) | "FlattenFiles" >> beam.Flatten(),
            "failures": tuple(failures) | "FlattenFailures" >> beam.Flatten(),
        }


def common_base(patterns: Sequence[str]) -> Optional[str]:
    """The deepest folder above every pattern's base, when there are several patterns on one
    protocol (``None`` for one pattern, or for patterns on different protocols)."""
    if len(patterns) < 2:
        return None
    split = [split_protocol(glob_base(p)) for p in patterns]
    protocols = {protocol for protocol, _ in split}
    if len(protocols) != 1:
        return None
    protocol = protocols.pop()
    try:
        common = posixpath.commonpath([path for _, path in split])
    except ValueError:
        return None
    return f"{protocol}://{common}" if protocol else (common or None)


def _normalize_pattern(pattern: str) -> str:
    """Absolute local globs (workers may run elsewhere); remote globs unchanged."""
    protocol, rest = split_protocol(pattern)
    if protocol is None:
        return os.path.abspath(os.path.expanduser(pattern))
    if protocol in ("file", "local"):
        return "file://" + os.path.abspath(rest)
    return pattern


def failure_record(failure: Failure, run_id: str) -> Dict[str, Any]:
    """The dead-letter record (a JSON object) of a failure."""
    record = failure._asdict()
    record["run_id"] = run_id
    return record


class WriteDeadLetters(beam.PTransform):
    """Write failures as JSON lines under ``<prefix>/failures-*.jsonl`` (nothing when none).

    Parameters
    ----------
    prefix : str
        Folder URI, e.g. ``<output>/_dead_letters/run_id=<id>``.
    run_id : str
        Stored in each record.
    """

    def __init__(self, prefix: str, run_id: str):
        super().__init__()
        self._prefix = prefix.rstrip("/")
        self._run_id = run_id

    def expand(self, failures):
        run_id = self._run_id
        return (failures
                | "ToJson" >> beam.Map(lambda f: json.dumps(failure_record(f, run_id), sort_keys=True,
                                                            default=str))
                | "WriteJsonLines" >> beam.io.WriteToText(
                    f"{self._prefix}/failures", file_name_suffix=".jsonl", skip_if_empty=True))
