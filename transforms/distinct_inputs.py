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
:func:`compress_core.storage.distinct_relpath` does for names that sanitising merged. An input
keeps the name an earlier run last wrote for it, given or set apart (whether or not other
inputs of this run share it); every other input of a name an earlier run wrote gets its
digest. Names that no other input, of this run or an earlier one, has are left as they are, so
the same inputs always get the same names (``--skip_existing`` reruns rely on it). A name set
apart is itself checked: if another input of this run is given it, or an earlier run wrote it
for another input (a file named ``x.jpg~<digest>`` of its own), the digest is appended twice
(and the claims on that name reach the input too, :func:`once_apart`, so it keeps it).
Each input also learns what the manifest recorded when an earlier run wrote its output under
its final name (``InputFile.earlier_size``, ``earlier_identity`` and ``earlier_extension``:
``--skip_existing`` compresses a file replaced under its name again, and checks the output of
the format it was last written in).
"""
from __future__ import annotations

import functools
import hashlib
import logging
import os
import posixpath
import re
from typing import Iterable, Iterator, Mapping, NamedTuple, Optional, Tuple

import apache_beam as beam
from apache_beam.metrics import Metrics

from compress_core.storage import input_key, local_path, output_stem

from .identity import FileIdentity, from_epoch_us, identity_differs, recorded_identity
from .metrics import METRICS_NAMESPACE, NAMED_OTHERWISE, NAMES_SET_APART

__all__ = ["input_key", "file_key", "name_key", "name_apart", "once_apart", "DistinctInputs",
           "NAMED_OTHERWISE", "EarlierName"]

_LOG = logging.getLogger(__name__)


class EarlierName(NamedTuple):
    """An output name an earlier run wrote for an input (these settings, this output folder;
    :data:`transforms.earlier_outputs.WRITTEN` gives its fields as a plain tuple, keyed by the
    input): :class:`DistinctInputs` tells when this run names the input otherwise (``--input``
    spelled from another folder: a second copy). Tuples order by the row's time (``max``
    picks the latest)."""

    processed_at: str    # ISO time of the row ("" when the manifest has none)
    stem: str            # transforms.earlier_outputs.stem_of_output (its name, tag included)
    run_id: str


# NAMED_OTHERWISE (transforms.metrics) names the metric and :func:`_apart`'s tagged output of the
# inputs that earlier runs of these settings wrote under other output names than this run gives
# them: their ``--input`` was spelled from another folder (``bucket/`` then
# ``bucket/kodak/*.png``), so this run writes a second copy of each.

#: Hex digits of the URI digest :func:`name_apart` appends (as ``distinct_relpath``).
_DIGEST_CHARS = 12

#: A name set apart twice (``x.jpg~<d>~<d>``, then ``.<tag>`` in an output stem).
_TWICE = re.compile(rf"(~[0-9a-f]{{{_DIGEST_CHARS}}})(\1)(\.[0-9a-f]+)?$")


def file_key(uri: str) -> str:
    """What groups the spellings of one input file, in a run and across runs: its
    :func:`input_key`, with the symbolic links in a local path's folders resolved (through a
    cache of folders). A folder reached through a link and by its own path, named by two
    ``--input`` patterns, had every photo compressed twice, each under its pattern's name;
    reached through a link one night and by its own path the next, a second copy of each was
    written under the other name without a word (paths review 42). A link to a file is a name
    of its own, as a folder listing gives it (``find -L``). Names and their digests keep
    :func:`input_key`, the path as spelt. A folder that cannot be resolved keeps its
    spelling."""
    key = input_key(uri)
    if local_path(uri) is None:
        return key
    try:
        folder, name = os.path.split(key)
        return os.path.join(_resolved_folder(folder), name)
    except (OSError, ValueError):
        return key


@functools.lru_cache(maxsize=4096)
def _resolved_folder(folder: str) -> str:
    return os.path.realpath(folder)


def same_input(owner: str, key: str) -> bool:
    """Whether two :func:`input_key` values name one file: equal, or local paths to one file
    under two spellings (a folder reached through a symbolic link one night and by its own
    path the next: every photo was compressed again under a name set apart, operator review
    39). Keys stay as spelt (the manifest records the path given); the disk is asked only
    where they differ."""
    if owner == key:
        return True
    if local_path(owner) is not None and local_path(key) is not None:
        try:
            return os.path.realpath(owner) == os.path.realpath(key)
        except (OSError, ValueError):
            return False
    return False


def _owns(claim, key: str, item) -> bool:
    """Whether the earlier ``claim`` on a name is ``item``'s (its :func:`input_key` ``key``):
    recorded for that key, or for another spelling of the same file (:func:`same_input`)
    unless what is known of both says another file (its size, or its modification time or
    content token): a link re-pointed since (``current`` from 2024/ to 2025/) resolves to
    another photo, which had adopted, and replaced, the other's output (diff review 39).
    Where nothing can be compared (an ``--input_list``'s inputs are not listed; manifests
    before schema 3 hold no time) the spelling decides, as before; a file edited in place
    and reached by another spelling is told from a re-pointed link by nothing, and gets a
    second copy rather than replace an output that may be another photo's."""
    if claim.owner == key:
        return True
    if not same_input(claim.owner, key):
        return False
    if claim.input_bytes is not None and item.size is not None \
            and claim.input_bytes != item.size:
        return False
    then = recorded_identity(from_epoch_us(claim.input_modified)
                             if claim.input_modified is not None else None,
                             claim.input_etag or None)
    return not identity_differs(item.identity, then)


def name_apart(relpath: str, uri: str) -> str:
    """``relpath`` with ``~`` and 12 hex digits of the SHA-256 of ``uri`` appended to its file
    name: ``("x.jpg", "/in/b/x.jpg")`` -> ``"x.jpg~<digest>"``."""
    digest = hashlib.sha256(input_key(uri).encode("utf-8", "surrogatepass")).hexdigest()
    folder, name = posixpath.split(relpath)
    name = f"{name}~{digest[:_DIGEST_CHARS]}"
    return posixpath.join(folder, name) if folder else name


def once_apart(key: str) -> Optional[str]:
    """For the key of a name set apart twice (``x.jpg~<d>~<d>.<tag>``, :class:`DistinctInputs`),
    the key of the name set apart once (``x.jpg~<d>.<tag>``), where the input that was set
    apart twice meets its claims; ``None`` for any other key."""
    match = _TWICE.search(key)
    return key[:match.start(2)] + key[match.end(2):] if match else None


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


def _one_per_input_with_history(keyed: Tuple[str, Mapping[str, Iterable]]) -> Iterator:
    """:func:`_one_per_input`, with the input's latest earlier failure (``earlier_failure``)
    and the output name an earlier run last wrote for it (``written_as``); nothing for an
    input of the manifest that this run did not match."""
    key, grouped = keyed
    items = list(grouped.get("files") or ())
    if items:
        failures = list(grouped.get("failed") or ())
        written = list(grouped.get("written") or ())   # (EarlierName's fields)
        yield _one_per_input((key, items))._replace(
            earlier_failure=max(failures) if failures else None,
            written_as=EarlierName(*max(written)) if written else None)


#: The roles of a name for an input: the name it was given, and the one it is set apart to.
_GIVEN, _APART = "given", "apart"


class _Candidate(NamedTuple):
    """One of an input's two possible names, as met in the group of that name."""

    role: str                        # _GIVEN or _APART
    item: object                     # the InputFile (relpath: its given name)
    claim: Optional[object]          # the latest earlier claim on that name, if any
    given_to_another: bool = False   # _APART only: another input of this run is given it
    claim_twice: Optional[object] = None   # _APART only: the latest on the name set apart twice


def _written(relpath: str, tag: Optional[str]) -> str:
    """The key of a name as written: the output stem with ``tag`` (the relative path without),
    case-folded."""
    return name_key(output_stem(relpath, tag) if tag is not None else relpath)


def _under_both_names(item, tag: Optional[str]) -> Iterator[Tuple[str, Tuple]]:
    """An input under its given name and under the name it would be set apart to (with the
    key of its given name): each meets the earlier claims on that name, and the inputs of this
    run given that name."""
    given = _written(item.relpath, tag)
    yield given, (_GIVEN, item, given)
    yield _written(name_apart(item.relpath, item.uri), tag), (_APART, item, given)


def _claims_of_name(keyed: Tuple[str, Mapping[str, Iterable]]) -> Iterator:
    """One name's inputs (given it, or set apart to it) and earlier claims -> each input,
    keyed by its given name, with the latest claim on this name."""
    _, grouped = keyed
    claims, twice = [], []              # on this name; on it set apart again (once_apart)
    for claim in grouped.get("earlier") or ():
        (twice if claim.twice else claims).append(claim)
    latest = max(claims) if claims else None
    latest_twice = max(twice) if twice else None
    candidates = list(grouped["files"])
    given = {item.uri for role, item, _ in candidates if role == _GIVEN}
    for role, item, key in candidates:
        if role == _GIVEN:
            yield key, _Candidate(role, item, latest)
            continue
        taken = bool(given - {item.uri})
        if taken or latest is not None or latest_twice is not None:   # else nothing to tell
            yield key, _Candidate(role, item, latest, taken, latest_twice)


def _apart(keyed: Tuple[str, Iterable[_Candidate]], tag: Optional[str]) -> Iterator:
    """One given name's inputs of this run, each with the earlier claims on that name and on
    its name set apart -> the inputs, named (module docstring):

    1. an input keeps the name an earlier run last wrote for it (the given one, or the one set
       apart once or twice, whichever it wrote last);
    2. a name nobody wrote and no other input of this run is given stays as it is;
    3. any other input is set apart (:func:`name_apart`), twice if another input of this run
       is literally given the name set apart, or an earlier run wrote it for another input
       (``x.jpg~<digest>`` as a file's own name).

    An input that keeps no earlier name but was written before under another one (a name of
    another spelling of ``--input``: :data:`NAMED_OTHERWISE`) is also given, tagged
    :data:`NAMED_OTHERWISE`, as ``(uri, EarlierName, name now)``.
    """
    _, candidates = keyed
    given, apart = None, {}
    for candidate in candidates:
        if candidate.role == _GIVEN:
            given = candidate.claim
        else:
            apart[candidate.item.uri] = candidate
    items = sorted({c.item.uri: c.item for c in candidates}.values(), key=lambda f: f.uri)
    alone = given is None and len(items) == 1
    set_apart = []
    for item in items:
        before, item = item.written_as, item._replace(written_as=None)   # (told here only)
        given_name = item.relpath
        key, own_apart = input_key(item.uri), apart.get(item.uri)
        apart_once = name_apart(item.relpath, item.uri)
        owned = [(claim, name) for claim, name in
                 ((given, item.relpath),
                  (own_apart.claim if own_apart else None, apart_once),
                  (own_apart.claim_twice if own_apart else None,
                   name_apart(apart_once, item.uri)))
                 if claim is not None and _owns(claim, key, item)]
        if owned:
            claim, name = max(owned, key=lambda pair: pair[0])
            yield _with_earlier(item._replace(relpath=name), claim)
        else:
            if not alone:
                set_apart.append(item)
                taken = own_apart is not None and (own_apart.given_to_another or (
                    own_apart.claim is not None and not _owns(own_apart.claim, key, item)))
                item = item._replace(
                    relpath=name_apart(apart_once, item.uri) if taken else apart_once)
            yield item
            # (an earlier name that is this input's given one, not its own: another file that
            # a link named then, re-pointed since, was set apart from it, not named otherwise)
            if before is not None and name_key(before.stem) not in (
                    _written(item.relpath, tag), _written(given_name, tag)):
                Metrics.counter(METRICS_NAMESPACE, NAMED_OTHERWISE).inc()
                yield beam.pvalue.TaggedOutput(NAMED_OTHERWISE, (item.uri, before, item.relpath))
    if set_apart:
        _report_set_apart(items, set_apart, given)


def _report_set_apart(items, set_apart, given) -> None:
    Metrics.counter(METRICS_NAMESPACE, NAMES_SET_APART).inc(len(set_apart))
    if len(items) > 1:
        apart_uris = {f.uri for f in set_apart}   # (by URI: set_apart's have no written_as)
        kept = [f for f in items if f.uri not in apart_uris]
        _LOG.warning("%d inputs would share the output name %s (%s; names are compared "
                     "ignoring case); %s a digest of its input's URI (name outputs by their "
                     "folders with --input_base)",
                     len(items), items[0].relpath, ", ".join(f.uri for f in items),
                     "each name gets" if not kept else
                     f"{', '.join(f.uri for f in kept)} keep the names earlier runs wrote for "
                     "them, each other gets")
    else:   # expected in scheduled runs over new folders: no warning
        _LOG.info("run %s wrote the output name %s for %s; %s gets a digest of its URI "
                  "instead of replacing that output", given.run_id, items[0].relpath,
                  given.input_uri, items[0].uri)


def _say_named_otherwise(count: int, first: Tuple, tag: str) -> None:
    """A warning for the ``count`` inputs named otherwise than before (:func:`_apart`), with
    the first of them (``(uri, EarlierName, name now)``) and the ``--input_base`` that gives
    it its earlier name, where its URI ends with that name."""
    uri, before, now = first
    earlier = before.stem[:-len(tag) - 1] if before.stem.endswith(f".{tag}") else before.stem
    key = input_key(uri)
    base = key[:-len(earlier) - 1] if key.endswith(f"/{earlier}") else None
    _LOG.warning("%d input(s) have outputs of these settings that earlier runs wrote under "
                 "other names (%s: %s by run %s, %s now%s): names now start from another "
                 "folder (the base of --input or --input_list), or name a folder through "
                 "another link, so what this run writes of them is a second copy. %s", count,
                 uri, earlier, before.run_id, now, ", ..." if count > 1 else "",
                 f"--input_base {base} names {'the first' if count > 1 else 'it'} as before."
                 if base else
                 "--input_base names them as before where the base changed; spell a folder "
                 "reached through a link as the earlier runs did (docs/pipeline.md, Output "
                 "names).")


def _with_earlier(item, claim):
    """``item`` with what the earlier run that wrote its output (under its final name) for it
    recorded: the input's size, modification time, content token and SHA-256 then, and the
    output's extension and size. A failure of the input before that output was written is no
    longer its latest outcome (diff review 24: an input that failed, then was compressed, then
    lost its output, was skipped as failed before)."""
    modified = claim.input_modified
    identity = recorded_identity(from_epoch_us(modified) if modified is not None else None,
                                 claim.input_etag or None, claim.input_sha256 or None)
    failed = item.earlier_failure
    if failed is not None and failed.processed_at <= claim.processed_at:
        item = item._replace(earlier_failure=None)
    return item._replace(earlier_size=claim.input_bytes,
                         earlier_extension=claim.extension or None,
                         earlier_output_bytes=claim.output_bytes,
                         earlier_identity=identity if identity != FileIdentity() else None)


class DistinctInputs(beam.PTransform):
    """InputFiles -> one per input, no two with the same name (module docstring).

    Three shuffles over the matched files (by input, with the earlier failures and the names
    written for it; by each of an input's two possible names, with the earlier claims on
    them; by given name); only the file names travel.

    Parameters
    ----------
    earlier : transforms.earlier_outputs.EarlierOutputs, optional
        The claims on the output names earlier runs wrote: a name an earlier run wrote for
        another input is set apart as a name shared in this run is, and an input keeps the
        name an earlier run wrote for it. Names are then compared as written
        (:func:`~compress_core.storage.output_stem` of ``earlier.tag``). An input written
        before under another name than it is given now is counted
        (:data:`NAMED_OTHERWISE`) and told in a warning (one per bundle of the naming step).
    """

    def __init__(self, earlier=None):
        super().__init__()
        self._earlier = earlier

    def expand(self, files):
        from .earlier_outputs import CLAIMS, FAILURES, WRITTEN  # (it reads names from this)

        tag = self._earlier.tag if self._earlier is not None else None
        # folders resolved afresh for each run a process builds (a link re-pointed between two
        # runs of one scheduler's process was read as before: diff review 42)
        _resolved_folder.cache_clear()
        keyed = files | "KeyByInput" >> beam.Map(lambda f: (file_key(f.uri), f))
        if self._earlier is None:
            inputs = (keyed
                      | "GroupByInput" >> beam.GroupByKey()
                      | "OnePerInput" >> beam.Map(_one_per_input))
        else:
            earlier = files.pipeline | "EarlierOutputs" >> self._earlier
            inputs = ({"files": keyed, "failed": earlier[FAILURES],
                       "written": earlier[WRITTEN]}
                      | "GroupByInput" >> beam.CoGroupByKey()
                      | "OnePerInput" >> beam.FlatMap(_one_per_input_with_history))
        by_name = {"files": inputs | "UnderBothNames" >> beam.FlatMap(_under_both_names, tag)}
        if self._earlier is not None:
            by_name["earlier"] = earlier[CLAIMS]
        return (by_name
                | "GroupByName" >> beam.CoGroupByKey()
                | "ClaimsOfNames" >> beam.FlatMap(_claims_of_name)
                | "GroupByGivenName" >> beam.GroupByKey()
                | "NamesApart" >> beam.ParDo(_NamesApart(tag)))


class _NamesApart(beam.DoFn):
    """:func:`_apart` over the given names' groups, with one warning per bundle for the inputs
    it names otherwise than before (:func:`_say_named_otherwise`; the metric counts them all
    for the run's summary). A global count and sample had been the one warning of the run, but
    Beam's BundleBasedDirectRunner fails a job with a global combine whose bundle it retries
    (an assertion in its GroupByKey)."""

    def __init__(self, tag: Optional[str]):
        self._tag = tag

    def start_bundle(self):
        self._otherwise, self._first = 0, None

    def process(self, keyed) -> Iterator:
        for out in _apart(keyed, self._tag):
            if isinstance(out, beam.pvalue.TaggedOutput):
                self._otherwise += 1
                self._first = out.value if self._first is None else min(self._first, out.value)
            else:
                yield out

    def finish_bundle(self):
        if self._otherwise:
            _say_named_otherwise(self._otherwise, self._first, self._tag)
