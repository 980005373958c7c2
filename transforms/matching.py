"""Matching inputs: globs, folders and URI lists -> :class:`InputFile` s, on a worker.

Relative paths of the matches name the outputs (:func:`compress_core.storage.output_name`), so
they are sanitised here (:func:`compress_core.storage.distinct_relpath`: two different paths
stay two different names) and never leave the output prefix. Hidden files and folders of a
folder input (a path part starting with ``.``, a folder starting with ``_``, such as
``_manifest``) and the job's own output folders are never matched.
"""
from __future__ import annotations

import codecs
import fnmatch
import functools
import logging
import os
import posixpath
import re
from typing import Iterator, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam.metrics import Metrics

from compress_core.codec import extension
from compress_core.errors import ImageReadError
from compress_core.images import named_like_a_picture
from compress_core.options import ImageFormat
from compress_core.storage import (
    BUCKET_STORES,
    escaped_hint,
    get_filesystem,
    is_local_filesystem,
    is_under,
    distinct_relpath,
    local_path,
    normalize_uri,
    read_bytes,
    shown,
    split_protocol,
    store_protocol,
    undecodable,
)

from .distinct_inputs import DistinctInputs, EarlierName, input_key
from .earlier_outputs import EarlierFailure
from .failures import FAILED, CatchFailures, Failure
from .identity import FileIdentity, identity_columns, listing_identity
from .metrics import INPUTS_MATCHED, INPUTS_MISSED_BY_CASE, METRICS_NAMESPACE

__all__ = [
    "InputFile",
    "glob_base",
    "common_base",
    "match_pattern",
    "case_variant",
    "match_with_case",
    "missed_by_case",
    "read_uri_list",
    "relative_paths",
    "MatchImages",
]

_LOG = logging.getLogger(__name__)

_GLOB_CHARS = "*?["
#: Output of the matched files whose names are not UTF-8 (their failures).
#: What the failure of a file name that is not UTF-8 says (:func:`not_utf8_failure`).
NAME_NOT_UTF8 = "the file name is not UTF-8"
#: The match step's failures of single names (not UTF-8) and folders it cannot list.
MATCH_FAILED = "match_failed"


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
    earlier_size : int or None
        Its size when the earlier run that wrote its output (under this name) read it, from
        the manifest (:mod:`transforms.earlier_outputs`); ``--skip_existing`` compresses it
        again when ``size`` differs (the file was replaced under the same name).
    earlier_extension : str or None
        The extension of that output (``.webp``): ``format auto`` picks it by content, so a
        replaced file may have left outputs under other extensions; ``--skip_existing`` checks
        this one.
    identity : transforms.identity.FileIdentity or None
        Its modification time and content token from the listing; ``None`` for a listed URI
        (``--input_list``), which nothing listed.
    earlier_identity : transforms.identity.FileIdentity or None
        What the manifest recorded of them when that output was written (``None`` when it
        recorded neither, as manifests before schema version 3); ``--skip_existing``
        compresses the input again when they say it is another file
        (:func:`~transforms.identity.identity_differs`).
    earlier_failure : transforms.earlier_outputs.EarlierFailure or None
        The latest failure of this input in an earlier run of these settings into this
        output folder, from the manifest; ``--skip_existing`` skips an input whose failure
        the same file would meet again (:func:`transforms.plan.fails_again`).
    earlier_output_bytes : int or None
        The size of that output as the manifest recorded it (written, or adopted by a
        ``--skip_existing`` run); ``--skip_existing`` writes it again when the file has another
        size now (emptied, cut short, replaced by hand).
    written_as : transforms.distinct_inputs.EarlierName or None
        The output name an earlier run of these settings into this output folder last wrote
        for this input, from the manifest: :class:`~transforms.distinct_inputs.DistinctInputs`
        counts and logs the inputs this run names otherwise (a second copy of each), and
        gives every input on with ``None`` here.
    """

    uri: str
    relpath: str
    size: Optional[int] = None
    earlier_size: Optional[int] = None
    earlier_extension: Optional[str] = None
    identity: Optional[FileIdentity] = None
    earlier_identity: Optional[FileIdentity] = None
    earlier_failure: Optional[EarlierFailure] = None
    written_as: Optional[EarlierName] = None
    earlier_output_bytes: Optional[int] = None

    def failure_fields(self) -> dict:
        """What a failure of this input records (see :class:`~transforms.failures.Failure`)."""
        return {"input_uri": self.uri, "input_bytes": self.size,
                **identity_columns(self.identity)}


def _to_uri(fs, path: str, like: str) -> str:
    """An fsspec path of a file that the pattern ``like`` matched, as the input's URI in one
    spelling whatever the pattern's (:func:`~compress_core.storage.input_key`): a local
    file as its normalised path (``file:///in/x.jpg`` and ``/in/./x.jpg`` match
    ``/in/x.jpg``), a store's object with the
    canonical name of its protocol (``s3a://`` as ``s3://``). The manifest's ``input_uri``
    then names one file alike in every run (an analyst's count of distinct inputs over runs
    that spelled ``--input`` otherwise counted a file twice)."""
    return input_key(path if is_local_filesystem(fs) else f"{split_protocol(like)[0]}://{path}")


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
    """A hidden file of a folder input: a part starting with ``.`` (``.cache/``, ``._x.jpg``),
    or a folder starting with ``_`` (``_manifest/``, ``_dead_letters/``, ``_beam_temp-...``).
    A *file* starting with ``_`` is no such thing: Nikon and Sony cameras name their Adobe RGB
    photos ``_DSC0001.JPG``."""
    *folders, name = relpath.split("/")
    return name.startswith(".") or any(part.startswith((".", "_")) for part in folders)


def _dot_name(name: str) -> bool:
    """A name a shell's ``*`` does not match: one starting with ``.`` (not ``.``/``..``)."""
    return name.startswith(".") and name not in (".", "..")


def _dotted(relpath: str) -> bool:
    return any(_dot_name(part) for part in relpath.split("/"))


def _dots_spelled(pattern: str, match: str) -> bool:
    """True if every name of ``match`` that starts with ``.`` is matched by a component of
    ``pattern`` that starts with ``.`` too (both relative to the glob's base), as in a shell:
    ``*`` and ``**`` match no ``.x`` name, ``.*`` and ``.cache/*`` do (``**/.h.jpg`` takes
    ``a/.h.jpg``, not ``.git/.h.jpg``)."""
    pat = [p for p in pattern.split("/") if p not in ("", ".")]
    names = [m for m in match.split("/") if m not in ("", ".")]

    @functools.lru_cache(maxsize=None)
    def fits(i: int, j: int) -> bool:
        if i == len(pat):
            return j == len(names)
        if pat[i] == "**":  # any number of names, none of them hidden
            return fits(i + 1, j) or (j < len(names) and not _dot_name(names[j])
                                      and fits(i, j + 1))
        return (j < len(names) and fnmatch.fnmatchcase(names[j], pat[i])
                and (not _dot_name(names[j]) or pat[i].startswith("."))
                and fits(i + 1, j + 1))

    return fits(0, 0)


def match_pattern(pattern: str, storage_options: Optional[Mapping] = None,
                  exclude: Sequence[str] = (), base: Optional[str] = None) -> List[InputFile]:
    """Expand a glob (or a folder, or one file) into :class:`InputFile` s, sorted by URI.

    Relative paths (which name the outputs) are relative to ``base`` when given and above the
    match, else to the pattern's folder (:func:`glob_base`; for a single file, its folder).

    A folder matches every file below it except hidden ones (a path part starting with ``.``,
    or a folder starting with ``_``, such as ``_manifest``). A glob, as in a shell, matches no
    name starting with ``.`` (macOS's ``._IMG_1.jpg`` and ``.DS_Store``) unless the pattern
    spells the dot (``photos/.*``). Files under any ``exclude`` prefix (the run's own outputs)
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
    literal = not any(c in path for c in _GLOB_CHARS)
    hidden = {}   # {"_x/": [paths]}: pictures a folder input leaves out, said below
    try:
        if not literal and _exists(fs, path):
            # a file or folder whose name holds glob characters ("Photos [2024]"): the glob
            # would match other names ("Photos 2") or none, the name means itself
            literal = True
            base_path = path.rstrip("/")
        if not literal and pattern.endswith("/"):
            # each matched folder a folder input, its hidden files dropped below it there
            found, folder = _list_folders(fs, path, base_path, hidden), True
        else:
            found, folder = _list(fs, path, literal, pattern.endswith("/"))
        if folder and is_local_filesystem(fs):
            outputs = [get_filesystem(x, storage_options) for x in exclude if x]
            found = _through_folder_links(fs, found, path.rstrip("/"),
                                          [p for f, p in outputs if is_local_filesystem(f)])
    except Exception as exc:  # noqa: BLE001 - every listing error is a read error here
        raise ImageReadError(f"{pattern}: cannot list ({type(exc).__name__}: {exc})") from exc
    if literal and not folder:
        base_path = posixpath.dirname(path.rstrip("/"))
    # An excluded folder that holds the pattern itself was asked for explicitly: keep it.
    excluded = _exclusions_of(base_path,
                              [get_filesystem(x, storage_options)[1] for x in exclude if x])
    hidden = {name: kept for name, paths in hidden.items()   # (a glob of folders': the job's
              if (kept := [p for p in paths             # own folders are no one's photos)
                           if not any(is_under(p, e) for e in excluded)])}
    # hidden is below what was asked for: --input data/_incoming is no hidden folder, whatever
    # folder above it (--input_base, several --input) names the outputs
    own_base = base_path
    pattern_below = _below(path, own_base)
    if base is not None and store_protocol(base) == store_protocol(pattern):
        wanted = get_filesystem(base, storage_options)[1] if base else ""
        if not wanted or is_under(base_path, wanted):
            base_path = wanted
    files, left_out, slashed = [], {}, []
    for item_path, info in sorted(found.items()):
        if item_path.endswith("/"):
            # an object store's folder marker (S3's "Create folder": an empty key "x/"); one
            # that holds bytes was left out unsaid (GCS review 43): said below
            if info.get("size"):
                slashed.append(_to_uri(fs, item_path, pattern))
            continue
        if info.get("islink"):  # listings describe the link itself: follow it
            try:
                info = fs.info(item_path)
            except (FileNotFoundError, OSError):
                pass  # a dangling link: kept, so that its read error gets a row
        if info.get("type", "file") not in ("file", "other"):
            continue
        if info.get("type") == "other" and not info.get("islink") and (folder or not literal):
            continue  # sockets, devices, FIFOs a listing meets (one named is an input: its
            # read is an error row, "is a FIFO, not a file"; it "matched no files", exit 0)
        holder = next((e for e in excluded if is_under(item_path, e)), None)
        if holder is not None:
            if _a_photo_of_the_user(item_path, holder):
                left_out.setdefault(holder, []).append(item_path)
            continue
        below = _below(item_path, own_base)
        if folder and literal and _hidden(below):
            left = _in_underscore_folder(below)  # (said below: a '_Selects' folder's photos)
            if left is not None:
                hidden.setdefault(left, []).append(item_path)
            continue
        if (not folder and not literal and _dotted(below)
                and not _dots_spelled(pattern_below, below)):
            continue  # as in a shell, '*' does not match '.x' (macOS's ._IMG_1.jpg, .DS_Store)
        rel = _relative(item_path, base_path) if base_path else item_path
        size = info.get("size")
        files.append(InputFile(_to_uri(fs, item_path, pattern), distinct_relpath(rel),
                               int(size) if size is not None else None,
                               identity=listing_identity(info)))
    for holder, paths in left_out.items():
        _warn_left_out(holder, [_to_uri(fs, p, pattern) for p in paths])
    if hidden:
        _warn_hidden(pattern, hidden)
    if slashed:
        _LOG.warning("%s: %d object(s) left out whose names end in '/', as a folder marker's, "
                     "but that hold bytes (%s%s): no output can be named after them; copy them "
                     "to names without the '/' to compress them", pattern, len(slashed),
                     ", ".join(slashed[:3]), ", ..." if len(slashed) > 3 else "")
    return files


#: An output name of any settings: ``<input name>.<10 hex>.<output extension>`` (the codec's
#: extensions of the formats it writes).
_ANY_OUTPUT = re.compile(r".+\.[0-9a-f]{10}(%s)" % "|".join(
    re.escape(extension(f)) for f in ImageFormat if f is not ImageFormat.AUTO), re.S)


def _a_photo_of_the_user(path: str, folder: str) -> bool:
    """Whether ``path``, in the job's own ``folder`` (its output or manifest), is an image
    the user put there: not hidden below it (``_manifest/``, temporary ``.x`` files), not an
    output of any settings, and named like a picture."""
    name = posixpath.basename(path)
    if _hidden(posixpath.relpath(path, folder)) or _ANY_OUTPUT.fullmatch(name):
        return False
    return named_like_a_picture(name)


def _in_underscore_folder(relpath: str) -> Optional[str]:
    """The first ``_x/`` folder of ``relpath``, where it names a picture left out only for
    that folder (none of its names begins with ``.``: caches such as ``.thumbnails/`` and
    macOS's ``._IMG_1.jpg`` are no one's photos); else ``None``."""
    *folders, name = relpath.split("/")
    if any(part.startswith(".") for part in (*folders, name)) or not named_like_a_picture(name):
        return None
    return next((f"{part}/" for part in folders if part.startswith("_")), None)


def _warn_hidden(pattern: str, hidden: Mapping[str, Sequence[str]]) -> None:
    """Log the pictures a folder input left out in ``_x/`` folders (operator review 24: the
    photos of a Lightroom-style ``_Selects/`` folder were left out with no word)."""
    count = sum(len(paths) for paths in hidden.values())
    where = ", ".join(f"{name} {len(paths)}" for name, paths in sorted(hidden.items())[:5])
    _LOG.warning("Input folder %s left out %d picture(s) in folders whose names begin with "
                 "'_' (%s%s): a folder input takes none (the job's own _manifest ...); give "
                 "such a folder as an --input of its own to take it", pattern, count, where,
                 ", ..." if len(hidden) > 5 else "")


def _warn_left_out(folder: str, uris: Sequence[str]) -> None:
    """Log the user's images found in the job's own folder, which are never inputs (an
    --output ~/Pictures/Exports below --input ~/Pictures left the exports out silently)."""
    _LOG.warning("%d image file(s) in the output folder %s are not inputs (%s%s): the job's "
                 "own folders (--output, --manifest) are never read back; move them out, or "
                 "give another --output", len(uris), folder, ", ".join(uris[:3]),
                 ", ..." if len(uris) > 3 else "")


#: The last part of a glob that case_variant rewrites: a wildcard before a plain extension.
_EXTENSION_GLOB = re.compile(
    r"^(?P<head>[^\[\]]*[*?][^\[\]]*)\.(?P<ext>[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*)$")


def case_variant(pattern: str) -> Optional[str]:
    """``pattern`` with the extension of its last part in any case (``photos/**/*.jpg`` ->
    ``photos/**/*.[jJ][pP][gG]``), or ``None`` when its last part is not a wildcard before a
    plain extension (a name, ``*``, a set of characters written on purpose)."""
    head, slash, last = pattern.rpartition("/")
    found = _EXTENSION_GLOB.match(last)
    if not found:
        return None
    ext = "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in found["ext"])
    return f"{head}{slash}{found['head']}.{ext}"


def match_with_case(pattern: str, storage_options: Optional[Mapping] = None,
                    exclude: Sequence[str] = (), base: Optional[str] = None
                    ) -> Tuple[List[InputFile], List[str]]:
    """``(match_pattern(pattern, ...), URIs it left out only by case)`` from one listing.

    A glob is case-sensitive, as in a shell: cameras name photos ``IMG_0001.JPG``, so
    ``photos/**/*.jpg`` took a phone's ``img_0002.jpg`` and silently left the camera's photos
    out. Where :func:`case_variant` applies, the store is listed once with the extension in any
    case, and the pattern's own matches are those whose name ends with its extension as written
    (the two globs differ in nothing else); other patterns are listed as they are."""
    variant = case_variant(pattern)
    if variant is None or _exists(*get_filesystem(pattern, storage_options)):
        # (a name that exists as written is that file, glob characters and all)
        return match_pattern(pattern, storage_options, exclude, base), []
    extension = "." + pattern.rsplit(".", 1)[1]
    found = match_pattern(variant, storage_options, exclude, base)
    own = [item for item in found if item.uri.endswith(extension)]
    return own, sorted(item.uri for item in found if not item.uri.endswith(extension))


def missed_by_case(pattern: str, matched: Sequence[InputFile],
                   storage_options: Optional[Mapping] = None, exclude: Sequence[str] = (),
                   base: Optional[str] = None) -> List[str]:
    """URIs that ``pattern`` left out only because a glob is case-sensitive
    (:func:`match_with_case`), besides ``matched``."""
    taken = {item.uri for item in matched}
    return [uri for uri in match_with_case(pattern, storage_options, exclude, base)[1]
            if uri not in taken]


def _relative(path: str, base: str) -> str:
    """``path`` relative to the folder ``base``, its own parts kept as they are where it
    starts with ``base``: an object's key may hold ``..`` and empty parts, and
    ``posixpath.relpath`` resolved them (``up/userA/../userB/avatar.jpg`` became
    ``userB/avatar.jpg``, the name of another folder's file, without the digest that a name
    sanitising changed gets: security review 45)."""
    prefix = base.rstrip("/") + "/"
    if base and path.startswith(prefix) and len(path) > len(prefix):
        return path[len(prefix):]
    return posixpath.relpath(path, base)


def _below(path: str, base: str) -> str:
    """``path`` relative to the folder ``base`` (itself when there is no base)."""
    return posixpath.relpath(path, base) if base else path


def _exclusions_of(asked: str, folders: Sequence[str]) -> List[str]:
    """The ``folders`` (the job's output and manifest) that exclude what they hold from an
    input that asked for ``asked``: all but those holding ``asked`` itself, which the caller
    asked for explicitly (``--output`` = the input folder)."""
    return [folder for folder in folders if not is_under(asked, folder)]


def _exists(fs, path: str) -> bool:
    """``fs.exists(path)``; False when the store refuses the question (a glob as a key)."""
    try:
        return bool(fs.exists(path))
    except Exception:  # noqa: BLE001 - the glob is listed next, with its own errors
        return False


def _list(fs, path: str, literal: bool, folder_named: bool = False):
    """``(listing, is_folder)``: every file below ``path`` for a literal folder, else the glob
    (a plain file name globs to itself; a literal name with glob characters is looked up).

    An object store's name may be a file and a folder at once (``in/a.jpg`` beside
    ``in/a.jpg/b.jpg``): its listings give the folder, and the photo was left out unsaid, of
    ``in/*.jpg``, ``in/**/*.jpg`` and of ``--input in/a.jpg`` itself (GCS review 43, diff
    review 43). A folder named like a picture is asked for a file of its name: a glob takes
    both, the name alone the file (``in/a.jpg/``, ``folder_named``, the folder)."""
    if literal and (fs.isdir(path) or (folder_named and not is_local_filesystem(fs)
                                       and _object_named(fs, path) is not None)):
        # (gcsfs says a name that is a file too is no folder: in/a.jpg/ gave nothing)
        photo = None if folder_named else _object_named(fs, path)
        if photo is not None:
            _LOG.warning("%s is a file and a folder of files on its store: the file is the "
                         "input; give %s/ to take the folder's", path, path.rstrip("/"))
            return {path: photo}, False
        return fs.find(path, detail=True), True
    if literal and any(c in path for c in _GLOB_CHARS):
        return {path: fs.info(path)}, False
    found = fs.glob(path, detail=True)
    for name, info in list(found.items()):
        if info.get("type") == "directory":
            photo = _object_named(fs, name)
            if photo is not None:
                found[name.rstrip("/")] = photo
    return found, False


def _object_named(fs, path: str) -> Optional[dict]:
    """On an object store, the listing entry of the object named ``path`` where its name is a
    picture's and an object of that very name exists beside the folder of that name; else
    None (and on local disks, where a name is one or the other)."""
    name = path.rstrip("/")
    if is_local_filesystem(fs) or not named_like_a_picture(name):
        return None
    try:
        try:
            info = fs.info(name, refresh=True)   # (s3fs answers from its listing otherwise)
        except TypeError:
            info = fs.info(name)
    except (FileNotFoundError, OSError):
        return None
    return info if info.get("type") == "file" else None


def _list_folders(fs, path: str, base_path: str, hidden: dict) -> dict:
    """Every file below the folders a glob ending in ``/`` matches (``photos/2026-*/``: as in
    a shell, the ``/`` keeps only folders, and ``*`` matches no ``.x`` folder unless the
    pattern spells the dot). Each is an input folder: its hidden files are left out as for any
    folder input, below it (``photos/*/`` takes ``photos/_DSC/``, not ``photos/a/_tmp/``),
    the pictures of its ``_x/`` folders added to ``hidden`` (``{"_x/": [paths]}``), to be said
    as a folder input says them (docs review 45: they were left out with no word)."""
    pattern_below = _below(path, base_path)
    found = {}
    # globbed without the '/': gcsfs answers 'in/*/' with nothing, and the folders are the
    # matches of type directory on every store
    for folder, info in sorted(fs.glob(path.rstrip("/"), detail=True).items()):
        folder = folder.rstrip("/")
        if info.get("type") != "directory":
            continue
        below = _below(folder, base_path)
        if _dotted(below) and not _dots_spelled(pattern_below, below):
            continue
        for item, item_info in fs.find(folder, detail=True).items():
            inside = posixpath.relpath(item, folder)
            if not _hidden(inside):
                found[item] = item_info
            elif _in_underscore_folder(inside) is not None:   # (a Lightroom _Selects/)
                hidden.setdefault(_in_underscore_folder(inside), []).append(item)
    return found


#: Folders of the kernel's and the devices' pseudo-files, which folder links never lead into.
_SYSTEM_FOLDERS = ("/proc", "/sys", "/dev")


def _through_folder_links(fs, found: dict, root: str, outputs: Sequence[str] = ()) -> dict:
    """``found`` (a folder's listing) with each symbolic link to a folder replaced by the files
    below it, named through the link (``in/2024 -> /mnt/nas/2024`` gives ``2024/x.jpg``), as
    ``find -L`` and ``cp -rL`` read a folder: a folder input means every photo in it, and the
    listing describes a link to a folder as one entry, which was dropped unsaid. A link to a
    folder listed already (links are followed shallowest target first), to a folder above the
    input (a cycle), into one of the run's ``outputs`` folders (outputs are never inputs) or
    into :data:`_SYSTEM_FOLDERS` is left out with a warning. Local disks only: other stores
    have no links."""
    if not any(info.get("islink") for info in found.values()):
        return found
    root = os.path.realpath(root)
    listed = [root]
    outputs = [os.path.realpath(o) for o in outputs]
    out, listing = {}, found
    while listing:
        links = []
        for item, info in listing.items():
            folder = info.get("islink") and _is_folder(fs, item)
            if folder:
                links.append((os.path.realpath(item), item))
            else:  # a file, a link to one, or a dangling link (which gets its error row)
                out[item] = info
        listing = {}
        for target, item in sorted(links, key=lambda link: (len(link[0]), link)):
            # (the shallowest first: a link into a folder another link lists is not followed)
            if is_under(root, target) or any(is_under(target, seen) for seen in listed):
                _LOG.warning("%s links to %s, a folder listed already or above the input: "
                             "not followed again", item, target)
            elif any(is_under(target, o) or is_under(o, target) for o in outputs):
                _LOG.warning("%s links to %s, which holds this run's outputs: not followed",
                             item, target)
            elif any(is_under(target, system) for system in _SYSTEM_FOLDERS):
                # (a link to /proc had the job walk other processes' folders and block for
                # good reading one of their files: security review 26)
                _LOG.warning("%s links to %s, a folder of the system's processes or devices: "
                             "not followed", item, target)
            else:
                listed.append(target)
                listing.update(fs.find(item, detail=True))
    return dict(sorted(out.items()))


def _is_folder(fs, path: str) -> bool:
    try:
        return bool(fs.isdir(path))
    except OSError:
        return False


#: Byte-order marks of the UTF-16 and UTF-32 texts Windows writes ("Unicode" in Notepad,
#: PowerShell 5's ``>``), longest first: UTF-32's little-endian mark begins with UTF-16's.
_WIDE_TEXT = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
              (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _list_text(data: bytes, list_uri: str) -> str:
    """The text of a URI list: UTF-16 or UTF-32 by its byte-order mark, else UTF-8 (a
    byte-order mark skipped; a line that is not UTF-8 keeps its bytes as surrogate escapes, so
    that it fails alone, not the list).

    Raises
    ------
    ImageReadError
        A list with NUL bytes and no byte-order mark (UTF-16 without one: no path holds NUL),
        or one that its byte-order mark's encoding cannot decode.
    """
    for mark, encoding in _WIDE_TEXT:
        if data.startswith(mark):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise ImageReadError(f"{list_uri}: its byte-order mark says {encoding.upper()}, "
                                     f"but it is not {encoding.upper()} text ({exc.reason} at "
                                     f"byte {exc.start}); save the list as UTF-8") from exc
    if b"\x00" in data:
        raise ImageReadError(f"{list_uri}: not a text file of URIs: it holds NUL bytes (UTF-16 "
                             "without a byte-order mark?); save the list as UTF-8, one URI a "
                             "line")
    return data.decode("utf-8-sig", "surrogateescape")


def read_uri_list(list_uri: str, storage_options: Optional[Mapping] = None) -> List[str]:
    """Read a text file of input URIs: one a line, blank lines and ``#`` comments ignored.
    UTF-8, or UTF-16/UTF-32 with a byte-order mark (what Windows calls "Unicode").

    Relative paths in a local list are relative to the working folder (as on the command
    line); in a list on another file system (``gs://b/lists/l.txt``), to the list's folder
    (``photos/x.jpg`` -> ``gs://b/lists/photos/x.jpg``): the working folder of a worker means
    nothing there.

    A list on another file system names objects of buckets only (its own store's, or S3, GCS,
    Azure ...: ``compress_core.storage``'s bucket stores): a line naming another protocol
    (``http://``, ``file://``, an absolute or ``~`` path on the worker's disk) is refused,
    the whole list with it. The worker reads what a line names with its own network
    and service account: a list in a bucket had the job fetch ``http://`` URLs of the
    worker's network (a request to any host and port, the answer's existence in the
    manifest) and compress files of the worker's own disk into the output (security review
    45). A local list (the operator's own) may name any.

    Raises
    ------
    ImageReadError
        If the list cannot be read, or is not such text, or is on another file system and
        names a file elsewhere than its store.
    """
    data = read_bytes(list_uri, storage_options)
    protocol, list_path = split_protocol(list_uri)
    remote = local_path(list_uri) is None
    uris = []
    for number, line in enumerate(_list_text(data, list_uri).splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if remote and "://" not in line and not line.startswith(("/", "~")):
            path = posixpath.normpath(posixpath.join(posixpath.dirname(list_path), line))
            line = f"{protocol}://{path}"
        if remote and store_protocol(line) not in (store_protocol(list_uri), *BUCKET_STORES):
            raise ImageReadError(
                f"{list_uri}: line {number} names {shown(line)[:200]!r}, not an object of "
                "a bucket: a list on a store names objects of buckets only (its worker would "
                "fetch any URL, or read its own disk); list such files in a local "
                "--input_list")
        uris.append(normalize_uri(line))
    return uris


def _outside(uri: str, base: str) -> bool:
    """Whether ``uri`` is not ``base`` or below it (any spelling: ``file://``, ``s3a://``)."""
    return (store_protocol(uri) != store_protocol(base)
            or not is_under(_local_as_plain(normalize_uri(uri))[1],
                            _local_as_plain(normalize_uri(base))[1]))


def relative_paths(uris: Sequence[str], base: Optional[str] = None) -> List[str]:
    """Relative output paths for listed URIs: relative to ``base`` when they are below it, else
    relative to the deepest folder the URIs share (with protocol and bucket kept when they
    differ). Returned paths are sanitised (:func:`~compress_core.storage.distinct_relpath`)."""
    split = [_local_as_plain(u) for u in uris]
    if base:
        b_protocol, b_path = store_protocol(base), _local_as_plain(normalize_uri(base))[1]
    rels: List[Optional[str]] = [None] * len(uris)
    rest_idx = []
    for i, (_, path) in enumerate(split):
        if base and store_protocol(uris[i]) == b_protocol and is_under(path, b_path) \
                and path.rstrip("/") != b_path.rstrip("/"):
            rels[i] = _relative(path, b_path)
        else:
            rest_idx.append(i)
    if base and rest_idx:
        _LOG.warning("--input_base %s is above %d of %d listed URIs (%s%s): the others are "
                     "named relative to the folder they share", base,
                     len(uris) - len(rest_idx), len(uris),
                     ", ".join(uris[i] for i in rest_idx[:3]),
                     ", ..." if len(rest_idx) > 3 else "")
    if rest_idx:
        protocols = {split[i][0] for i in rest_idx}
        if len(protocols) == 1:
            dirs = [posixpath.dirname(split[i][1]) for i in rest_idx]
            try:
                common = posixpath.commonpath(dirs)
            except ValueError:  # absolute and relative paths mixed
                common = ""
            for i in rest_idx:
                rels[i] = _relative(split[i][1], common) if common else split[i][1]
        else:
            for i in rest_idx:
                protocol, path = split[i]
                rels[i] = f"{protocol or 'local'}/{path}"
    return [distinct_relpath(r) for r in rels]


def _local_as_plain(uri: str):
    """``split_protocol``, local URIs as plain paths (``file:///p/x.jpg`` and ``/p/x.jpg`` are
    on one file system: listed together, they share a folder), a store's aliases as the store
    (``s3a://b/x.jpg`` is ``s3://b/x.jpg``: listed with ``s3://`` URIs it had named every output
    of the run by its protocol and bucket, ``s3/b/x.jpg``; cloud review 40)."""
    path = local_path(uri)
    return (None, path) if path is not None else (store_protocol(uri), split_protocol(uri)[1])


# --------------------------------------------------------------------------- transforms


def _missing_named_input(pattern: str, storage_options: Optional[Mapping] = None
                         ) -> Optional[str]:
    """Why ``pattern`` is an error rather than an empty match, or ``None``.

    As Beam's ``EmptyMatchTreatment.ALLOW_IF_WILDCARD``: a glob may match nothing (a daily
    folder with no new photos), a named input must exist (a mistyped ``--input /data/photso``
    ended the run with 0 images and exit status 0). A local path is a file or a folder, empty or
    not; in an object store a folder exists only while something is in it, so there only a name
    with an image suffix (a file) must exist."""
    if any(c in pattern for c in _GLOB_CHARS):
        return None
    if local_path(pattern) is None and (pattern.endswith("/")
                                        or not named_like_a_picture(pattern)):
        return None
    if _exists(*get_filesystem(pattern, storage_options)):
        return None
    return (f"{pattern}: no such file or folder (a named input must exist; a glob that "
            f"matches nothing is only a warning){escaped_hint(pattern, storage_options)}")


def _missing_base(pattern: str, storage_options: Optional[Mapping] = None) -> str:
    """What a local glob that matched nothing says of its folder: ``""`` where the folder
    before its first glob character exists; else that it does not, and the nearest folder
    above it that does. A glob below an unmounted disk or a misspelt folder matched nothing
    with a warning like any quiet night's (edge review 37); a dated folder not made yet
    (``incoming/<date>/*.jpg``) is a quiet night too, so it stays a warning."""
    fs, path = get_filesystem(glob_base(pattern), storage_options)
    if not is_local_filesystem(fs) or not path or _exists(fs, path):
        return ""
    above = posixpath.dirname(path.rstrip("/"))
    while above and not _exists(fs, above) and above != posixpath.dirname(above):
        above = posixpath.dirname(above)
    return (f": its folder {path} does not exist (the nearest folder that does: "
            f"{above or '/'}; a dated folder not made yet, a disk not mounted, or a name "
            "misspelt?)")


def _matched_folders(pattern: str, storage_options: Optional[Mapping] = None) -> str:
    """What a glob that matched no files says of the folders it matched: a glob takes files,
    and one that names folders (``days/2026-12-*``, ``s3://bucket/*``) matched nothing with a
    quiet night's warning (job review 46); ending it in ``/`` takes the files below them."""
    if pattern.endswith("/") or "**" in pattern or not any(c in pattern for c in _GLOB_CHARS):
        return ""   # (a ** glob that matched nothing is not walked again: diff review 46)
    try:
        fs, path = get_filesystem(pattern, storage_options)
        found = fs.glob(path, detail=True)
    except Exception:  # noqa: BLE001 -- only a hint; the match said what it could
        return ""
    folders = sorted(p for p, info in found.items() if info.get("type") == "directory")
    if not folders:
        return ""
    return (f"; it matched {len(folders)} folder(s) ({_to_uri(fs, folders[0], pattern)}"
            f"{', ...' if len(folders) > 1 else ''}): end it in '/' ({pattern}/) to take the "
            "files below them")


#: Most entries :func:`_linked_folders` looks at (a quiet night's empty glob over a large tree
#: stays quick).
_LINKS_LOOKED_AT = 20_000


def _linked_folders(pattern: str, storage_options: Optional[Mapping] = None) -> str:
    """What a local glob that matched nothing says of the links to folders below its folder:
    a glob does not go through them (fsspec's, as Python's ``glob`` without
    ``recursive`` links), where a folder ``--input`` does (operator review 39: a tree of
    linked month folders matched nothing under ``**`` with no word why); ``""`` without
    any."""
    fs, path = get_filesystem(glob_base(pattern), storage_options)
    if not is_local_filesystem(fs) or not path or not os.path.isdir(path):
        return ""
    looked, folders = 0, [path]
    while folders and looked < _LINKS_LOOKED_AT:
        try:
            with os.scandir(folders.pop()) as entries:
                for entry in entries:
                    looked += 1
                    if entry.is_symlink() and entry.is_dir():
                        return (f"; a glob does not go through links to folders ({entry.path} "
                                f"links to {os.path.realpath(entry.path)}): give the folder "
                                f"as --input (--input {path}), which does")
                    if entry.is_dir(follow_symlinks=False):
                        folders.append(entry.path)
        except OSError:
            continue
    return ""


def unreadable_folders(pattern: str, storage_options: Optional[Mapping] = None,
                       exclude: Sequence[str] = ()) -> List[Tuple[str, OSError]]:
    """``(URI, error)`` of each local folder that ``pattern`` would list and cannot (no
    permission to read it): fsspec's listing leaves them out without a word (its ``on_error``
    is not passed below the first folder, fsspec 2026.9), and a folder of three photos made
    ``chmod 000`` was as if empty (no row, exit status 0; for ``--input`` of that folder,
    "matched no files", a quiet night: operator review 28). A folder input is walked whole
    but for its hidden folders (``.x``, ``_x``: their files are no inputs anyway); a glob
    through the folders its parts match (all below ``**``, and below the folders a glob ending
    in ``/`` takes, but for their hidden ones), and folders under ``exclude`` (the job's own)
    are not. Other stores say when they cannot list (an error row)."""
    fs, path = get_filesystem(pattern, storage_options)
    if not is_local_filesystem(fs):
        return []
    literal = not any(c in path for c in _GLOB_CHARS) or _exists(fs, path)
    if literal and not fs.isdir(path):
        return []
    root = path.rstrip("/") if literal else get_filesystem(glob_base(pattern),
                                                           storage_options)[1]
    # the pattern's parts below the root: a folder's n-th part must match the n-th of them
    # (a file name last, which no folder need match, but where the pattern ends with '/')
    parts = [] if literal else _below(path.rstrip("/"), root).split("/")
    if parts and not pattern.endswith("/"):
        parts[-1:] = [] if parts[-1] != "**" else parts[-1:]
    takes_all = pattern.endswith("/") or literal

    def listed(rel: List[str]) -> bool:
        for i, name in enumerate(rel):
            if i >= len(parts):   # below a folder the pattern takes whole
                return takes_all and not name.startswith((".", "_"))
            if parts[i] == "**":
                return not name.startswith(".")
            if ((_dot_name(name) and not parts[i].startswith("."))   # (as in a shell)
                    or not fnmatch.fnmatchcase(name, parts[i])):
                return False
        return True

    skipped = [get_filesystem(x, storage_options)[1].rstrip("/") for x in exclude if x]
    skipped += [os.path.realpath(x) for x in skipped]
    errors: List[OSError] = []
    seen = set()   # (folders are walked through links, as a folder input lists them: once)
    for folder, folders, _ in os.walk(root or ".", onerror=errors.append, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen or any(is_under(real, system) for system in _SYSTEM_FOLDERS):
            folders[:] = []
            continue
        seen.add(real)
        if not os.access(folder, os.X_OK):   # (names listed, none can be asked of: a folder
            # made 644, chmod -R 644; its files were dropped as an unreadable one's)
            errors.append(PermissionError(13, "Permission denied (its names can be read, its "
                                          "files not reached)", folder))
            folders[:] = []
            continue
        rel = [] if folder == root else _below(folder, root).split("/")
        folders[:] = [f for f in folders if listed([*rel, f])
                      and not any(is_under(posixpath.join(folder, f), x)
                                  or is_under(os.path.realpath(posixpath.join(folder, f)), x)
                                  for x in skipped)]
    # (a folder that is not there, or went while walked, is no folder that was not read: a
    # glob under it matches nothing, a warning)
    return [(_to_uri(fs, error.filename, pattern), error) for error in errors
            if isinstance(error.filename, str)
            and not isinstance(error, (FileNotFoundError, NotADirectoryError))]


def _unreadable_folder_failure(uri: str, error: OSError) -> Failure:
    """The ``match`` failure of a folder that cannot be listed (:func:`unreadable_folders`)."""
    return Failure(input_uri=uri, stage="match", error_type=ImageReadError.__name__,
                   error_message=f"{uri}: cannot list ({type(error).__name__}: "
                   f"{error.strerror or error}): the pictures in it are not inputs of this run")


class _ExpandPattern(beam.DoFn):
    """Pattern (glob, folder or file URI) -> :class:`InputFile` s."""

    def __init__(self, storage_options=None, exclude: Sequence[str] = (),
                 base: Optional[str] = None):
        self._storage_options = dict(storage_options or {})
        self._exclude = tuple(exclude)
        self._base = base
        self._matched = Metrics.counter(METRICS_NAMESPACE, INPUTS_MATCHED)
        self._missed_by_case = Metrics.counter(METRICS_NAMESPACE, INPUTS_MISSED_BY_CASE)

    def process(self, pattern: str) -> Iterator:
        files, missed = match_with_case(pattern, self._storage_options, self._exclude,
                                        self._base)
        unreadable = unreadable_folders(pattern, self._storage_options, self._exclude)
        for uri, error in unreadable:
            yield beam.pvalue.TaggedOutput(MATCH_FAILED, _unreadable_folder_failure(uri, error))
        if not files and not unreadable:
            missing = _missing_named_input(pattern, self._storage_options)
            if missing:
                raise ImageReadError(missing)
            hint = (" ('[' opens a set of characters in a glob: write '[[]' for a '[' in a "
                    "name)" if "[" in pattern else "")
            _LOG.warning("Input pattern %s matched no files%s%s", pattern, hint,
                         _missing_base(pattern, self._storage_options)
                         or _matched_folders(pattern, self._storage_options)
                         or _linked_folders(pattern, self._storage_options))
        self._matched.inc(len(files))
        if missed:
            self._missed_by_case.inc(len(missed))
            _LOG.warning("Input pattern %s left out %d file(s) whose names differ from it only "
                         "in case (%s%s): a glob is case-sensitive, as in a shell; write %s to "
                         "take them", pattern, len(missed), ", ".join(missed[:3]),
                         ", ..." if len(missed) > 3 else "", case_variant(pattern))
        for item in files:
            if undecodable(item.uri):
                yield beam.pvalue.TaggedOutput(MATCH_FAILED, not_utf8_failure(item))
            else:
                yield item


def not_utf8_failure(item: InputFile) -> Failure:
    """The failure of a matched or listed file whose name is not UTF-8: Beam's coders, the manifest and
    JSON take no such string (one stopped the whole job with a UnicodeEncodeError), so the file
    is not read; its row names it with the bytes as ``\\xNN``."""
    uri = shown(item.uri)
    return Failure(input_uri=uri, stage="match", error_type=ImageReadError.__name__,
                   error_message=f"{uri}: {NAME_NOT_UTF8} (its bytes that are not "
                   "are shown as \\xNN); rename the file to compress it",
                   input_bytes=item.size, **identity_columns(item.identity))


def _not_excluded(uris: List[str], exclude: Sequence[str]) -> List[str]:
    """``uris`` without those under an ``exclude`` folder (the job's output and manifest),
    except where the list names files in that folder only: as for a pattern, the caller asked
    for them (``--output`` = the folder the listed photos are in; the job's own earlier
    outputs there are left out later, by name, :class:`~transforms.compress.CompressImages`)."""
    keys = [_local_as_plain(u) for u in uris]
    excluded = []
    for folder in exclude:
        if not folder:
            continue
        protocol, path = _local_as_plain(folder)
        mine = [p for proto, p in keys if proto == protocol]
        try:
            shared = posixpath.commonpath(mine) if mine else None
        except ValueError:  # absolute and relative paths mixed
            shared = None
        if shared is None or _exclusions_of(shared, [path]):  # the list did not ask for it
            excluded.append((protocol, path))
    kept, left_out = [], {}
    for u, (proto, p) in zip(uris, keys):
        holder = next((e for e_proto, e in excluded if proto == e_proto and is_under(p, e)),
                      None)
        if holder is None:
            kept.append(u)
        elif _a_photo_of_the_user(p, holder):
            left_out.setdefault(holder, []).append(u)
    for holder, listed in left_out.items():
        _warn_left_out(holder, listed)
    return kept


class _ExpandUriList(beam.DoFn):
    """Text file of URIs -> :class:`InputFile` s (names relative to ``base`` or the shared
    folder). Listed files are not checked here: a missing one fails at the read step with its
    own row."""

    def __init__(self, storage_options=None, base: Optional[str] = None,
                 exclude: Sequence[str] = ()):
        self._storage_options = dict(storage_options or {})
        self._base = base
        self._exclude = tuple(exclude)
        self._matched = Metrics.counter(METRICS_NAMESPACE, INPUTS_MATCHED)

    def process(self, list_uri: str) -> Iterator:
        uris = _not_excluded(read_uri_list(list_uri, self._storage_options), self._exclude)
        if not uris:
            _LOG.warning("Input list %s names no files (blank lines, comments and the job's "
                         "own folders only)", list_uri)
        rels = relative_paths(uris, self._base)
        self._matched.inc(len(uris))
        for uri, rel in zip(uris, rels):
            if undecodable(uri):
                yield beam.pvalue.TaggedOutput(MATCH_FAILED, not_utf8_failure(InputFile(uri, "")))
            else:
                yield InputFile(input_key(uri), rel, None)   # (one spelling: _to_uri)


class MatchImages(beam.PTransform):
    """Expand input patterns and URI lists into a PCollection of :class:`InputFile`.

    Matching runs on a worker (not at graph construction), so it sees what the job's service
    account sees. Returns a dict: ``files`` (InputFile: one per input, whatever matched it how
    often, and no two with the same name, :class:`~transforms.distinct_inputs.DistinctInputs`)
    and ``failures`` (:class:`Failure`, for patterns or lists that could not be listed or read).

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
        Prefixes never matched (the job's output, manifest and dead-letter folders).
    storage_options : dict, optional
        ``{protocol: fsspec kwargs}``.
    earlier : transforms.earlier_outputs.EarlierOutputs, optional
        Who owns the output names earlier runs wrote: names are then kept apart from those
        too (an input whose name an earlier run wrote for another input gets its digest).
    """

    def __init__(self, patterns: Sequence[str] = (), input_lists: Sequence[str] = (),
                 input_base: Optional[str] = None, exclude: Sequence[str] = (),
                 storage_options: Optional[Mapping] = None, earlier=None):
        super().__init__()
        if not patterns and not input_lists:
            raise ValueError("MatchImages needs at least one pattern or input list")
        self._patterns = [normalize_uri(p) if not any(c in p for c in _GLOB_CHARS) else
                          _normalize_pattern(p) for p in patterns]
        self._lists = [normalize_uri(u) for u in input_lists]
        self._base = normalize_uri(input_base) if input_base else None
        self._pattern_base = self._base if self._base else common_base(self._patterns)
        outside = [p for p in self._patterns if self._base and _outside(glob_base(p), self._base)]
        if outside:
            # at graph construction: on the launcher's terminal, whatever the runner
            _LOG.warning("--input_base %s is above none of %s: those are named relative to "
                         "their own folder", self._base, ", ".join(outside))
        self._exclude = tuple(exclude)
        self._storage_options = dict(storage_options or {})
        self._earlier = earlier

    def expand(self, pbegin):
        files, failures = [], []
        if self._patterns:
            res = (pbegin
                   | "CreatePatterns" >> beam.Create(self._patterns, reshuffle=False)
                   | "ExpandPatterns" >> CatchFailures(
                       _ExpandPattern(self._storage_options, self._exclude, self._pattern_base),
                       "match", MATCH_FAILED))
            files.append(res["ok"])
            failures += [res[FAILED], res[MATCH_FAILED]]
        if self._lists:
            res = (pbegin
                   | "CreateLists" >> beam.Create(self._lists, reshuffle=False)
                   | "ExpandLists" >> CatchFailures(
                       _ExpandUriList(self._storage_options, self._base, self._exclude), "match",
                       MATCH_FAILED))
            files.append(res["ok"])
            failures += [res[FAILED], res[MATCH_FAILED]]
        return {
            "files": (tuple(files) | "FlattenFiles" >> beam.Flatten()
                      | "DistinctInputs" >> DistinctInputs(self._earlier)),
            "failures": tuple(failures) | "FlattenFailures" >> beam.Flatten(),
        }


def common_base(patterns: Sequence[str]) -> Optional[str]:
    """The deepest folder above every pattern's base, when there are several patterns on one
    protocol (``None`` for one pattern, or for patterns on different protocols)."""
    if len(patterns) < 2:
        return None
    # (a store's aliases as the store: s3a:// beside s3:// had no common folder)
    split = [(store_protocol(base) or split_protocol(base)[0], split_protocol(base)[1])
             for base in map(glob_base, patterns)]
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
    """Absolute local globs (workers may run elsewhere), a final ``/`` kept; remote globs
    unchanged."""
    protocol, rest = split_protocol(pattern)
    slash = "/" if pattern.endswith("/") else ""   # 'photos/*/': folders only, kept
    if protocol is None:
        return os.path.abspath(os.path.expanduser(pattern)) + slash
    if protocol in ("file", "local"):
        return "file://" + os.path.abspath(rest) + slash
    return pattern
