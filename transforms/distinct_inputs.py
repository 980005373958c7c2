"""One element per input, one input per output name: the last step of matching.

Patterns and URI lists are expanded independently (on workers, in parallel), so they can meet:

* the same file matched twice (overlapping globs such as ``photos/*`` and ``photos/x*``, a URI
  listed twice, a path both listed and matched, ``/p/x.jpg`` and ``file:///p/x.jpg``) would be
  compressed twice, with two manifest rows for one input;
* two different files given the same relative name (``in/a/*`` names ``in/a/x.jpg``
  ``x.jpg``; a list holding ``in/b/x.jpg`` alone names it ``x.jpg`` too; so do two lists, or
  patterns outside ``--input_base``) would share one output: both rows ``ok``, the last
  write winning;
* names that differ only in case (``IMG_1.jpg`` and ``IMG_1.JPG``, ``Trips/x.jpg`` and
  ``trips/x.jpg``) are one file on a case-insensitive disk (macOS, Windows, a bucket synced
  to one): the second output replaced the first there;
* an input given a name that an earlier run wrote for another input (a scheduled run over
  ``incoming/2026-12-02/`` after one over ``incoming/2026-12-01/``, both holding
  ``IMG_0001.JPG``) would replace that output, or with ``--skip_existing`` be skipped against
  it (:mod:`transforms.earlier_outputs` reads who owns which name from the manifest).

:class:`DistinctInputs` keeps one :class:`~transforms.matching.InputFile` per input (the one
the listing gave a size, then the first name) and, where several inputs still share a name
(compared case-folded, :func:`name_key`), appends ``~`` and 12 hex digits of the SHA-256 of
each one's URI to its name (:func:`name_apart`), as
:func:`compress_core.storage.distinct_relpath` does for names that sanitising merged. The
input an earlier run wrote the name for keeps it (whether or not other inputs of this run
share it); every other input of a name owned by an earlier run gets its digest. Names that
no other input, of this run or an earlier one, has are left as they are, so the same inputs
always get the same names (``--skip_existing`` reruns rely on it). Each input also learns the
size its file had when an earlier run wrote its output under its final name
(``InputFile.earlier_size``: ``--skip_existing`` compresses a file replaced under its name
again).
"""
from __future__ import annotations

import hashlib
import logging
import os
import posixpath
import re
from typing import Iterable, Iterator, Mapping, Optional, Tuple

import apache_beam as beam
from apache_beam.metrics import Metrics

from compress_core.storage import local_path, output_stem

from .metrics import METRICS_NAMESPACE

__all__ = ["input_key", "name_key", "name_apart", "DistinctInputs"]

_LOG = logging.getLogger(__name__)

#: Hex digits of the URI digest :func:`name_apart` appends (as ``distinct_relpath``).
_DIGEST_CHARS = 12

#: The digest :func:`name_apart` appended, in an output stem (``x.jpg~<digest>.<tag>``).
_SET_APART = re.compile(rf"~[0-9a-f]{{{_DIGEST_CHARS}}}(\.[0-9a-f]+)$")


def input_key(uri: str) -> str:
    """What identifies an input's file: the normalised local path for local paths and
    ``file://`` URIs (``/p/./x.jpg``, ``file:///p/x.jpg`` and ``/p/x.jpg`` are one file), the
    URI itself otherwise."""
    path = local_path(uri)
    return os.path.normpath(path) if path is not None else uri


def name_apart(relpath: str, uri: str) -> str:
    """``relpath`` with ``~`` and 12 hex digits of the SHA-256 of ``uri`` appended to its file
    name: ``("x.jpg", "/in/b/x.jpg")`` -> ``"x.jpg~<digest>"``."""
    digest = hashlib.sha256(input_key(uri).encode("utf-8", "surrogatepass")).hexdigest()
    folder, name = posixpath.split(relpath)
    name = f"{name}~{digest[:_DIGEST_CHARS]}"
    return posixpath.join(folder, name) if folder else name


def name_key(relpath: str) -> str:
    """The key under which two output names are one file on some store: the name case-folded
    (``IMG_1.JPG`` and ``img_1.jpg`` are one file on macOS and Windows disks)."""
    return relpath.casefold()


def _preferred(item) -> Tuple:
    return (item.size is None, item.relpath, item.uri)


def _one_per_input(keyed: Tuple[str, Iterable]):
    key, items = keyed
    items = sorted(items, key=_preferred)
    if len(items) > 1:
        _LOG.info("input %s was matched %d times; it is compressed once", key, len(items))
    return items[0]


def _apart(keyed: Tuple[str, Mapping[str, Iterable]], tag: Optional[str] = None) -> Iterator:
    """One output name's inputs of this run (and the earlier owners of it and of its names set
    apart, if any) -> the inputs, each one not its owner set apart."""
    key, grouped = keyed
    items = sorted(grouped["files"], key=lambda f: f.uri)
    if not items:
        return
    owners = {}         # name key as written -> its latest claim (EarlierOwner)
    for name, claim in grouped.get("earlier") or ():
        if name not in owners or claim > owners[name]:
            owners[name] = claim
    earlier = owners.get(key)
    if earlier is None:
        keeper = items[0] if len(items) == 1 else None
    else:
        keeper = next((f for f in items if input_key(f.uri) == earlier.owner), None)
    others = [f for f in items if f is not keeper]
    if others and len(items) > 1:
        _LOG.warning("%d inputs would share the output name %s (%s; names are compared "
                     "ignoring case); %s a digest of its input's URI (name outputs by their "
                     "folders with --input_base)",
                     len(items), items[0].relpath, ", ".join(f.uri for f in items),
                     "each name gets" if keeper is None else
                     f"{keeper.uri} keeps it (an earlier run wrote it for it), each other gets")
    elif others:   # expected in scheduled runs over new folders: no warning
        _LOG.info("run %s wrote the output name %s for %s; %s gets a digest of its URI "
                  "instead of replacing that output", earlier.run_id, items[0].relpath,
                  earlier.input_uri, items[0].uri)
    if others:
        Metrics.counter(METRICS_NAMESPACE, "names_set_apart").inc(len(others))
    named = [keeper] if keeper is not None else []
    named += [item._replace(relpath=name_apart(item.relpath, item.uri)) for item in others]
    for item in named:
        yield _with_earlier_size(item, owners, tag)


def _with_earlier_size(item, owners: Mapping, tag: Optional[str]):
    """``item`` with the size its input had when an earlier run wrote its output under its
    (final) name, when the manifest says that run wrote it for this very input."""
    if tag is None or not owners:
        return item
    owner = owners.get(name_key(output_stem(item.relpath, tag)))
    if owner is None or owner.owner != input_key(item.uri):
        return item
    return item._replace(earlier_size=owner.input_bytes)


def _under_names(keyed: Tuple[str, object]) -> Iterator[Tuple[str, Tuple[str, object]]]:
    """An earlier claim on a name, keyed by that name and, for a name set apart by
    :func:`name_apart` (``x.jpg~<digest>.<tag>``), by the name it was set apart from
    (``x.jpg.<tag>``): the inputs named ``x.jpg`` in this run meet the claims on both."""
    key, owner = keyed
    yield key, (key, owner)
    shared = _SET_APART.sub(r"\1", key)
    if shared != key:
        yield shared, (key, owner)


class DistinctInputs(beam.PTransform):
    """InputFiles -> one per input, no two with the same name (module docstring).

    Two shuffles over the matched files (by input, then by name); only the file names travel.

    Parameters
    ----------
    earlier : transforms.earlier_outputs.EarlierOutputs, optional
        The owners of the output names earlier runs wrote: a name an earlier run wrote for
        another input is set apart as a name shared in this run is, and an input that owns
        its name keeps it. Names are then compared as written
        (:func:`~compress_core.storage.output_stem` of ``earlier.tag``).
    """

    def __init__(self, earlier=None):
        super().__init__()
        self._earlier = earlier

    def expand(self, files):
        tag = self._earlier.tag if self._earlier is not None else None
        by_name = {"files": (files
                             | "KeyByInput" >> beam.Map(lambda f: (input_key(f.uri), f))
                             | "GroupByInput" >> beam.GroupByKey()
                             | "OnePerInput" >> beam.Map(_one_per_input)
                             | "KeyByName" >> beam.Map(_keyed_by_name, tag))}
        if self._earlier is not None:
            by_name["earlier"] = (files.pipeline
                                  | "EarlierOutputs" >> self._earlier
                                  | "UnderSharedNames" >> beam.FlatMap(_under_names))
        return (by_name
                | "GroupByName" >> beam.CoGroupByKey()
                | "NamesApart" >> beam.FlatMap(_apart, tag))


def _keyed_by_name(item, tag: Optional[str]) -> Tuple[str, object]:
    """``(name key, item)``: the relative path, or with ``tag`` the output name as written."""
    return name_key(output_stem(item.relpath, tag) if tag is not None else item.relpath), item
