"""Launch-time checks against the storage: problems that would only show after the work.

* A run id names one run. Parts are named ``part-SSSSS-of-NNNNN-<tag>.parquet`` in
  ``<manifest>/run_id=<id>/``: a second run under the same ``--run_id`` would add its parts
  beside the first run's (one run of mixed rows in every report). A fresh id (the default)
  never collides; an explicit ``--run_id`` can (:func:`earlier_run_folders`). Two runs
  launched at once under one id both pass (neither has written yet); the tag, new at each
  launch (:mod:`transforms.files`), keeps their parts apart: the rows of both are kept, in
  one partition (before the tag, the later run's parts replaced the earlier's).
* ``--output`` and ``--manifest`` must be folders (or not exist yet): a file there failed every
  image's write, then the manifest's, with a traceback after all the work
  (:func:`not_folders`). A local one must be one this user can make and write into
  (:func:`compress_core.storage.cannot_write`, the command line's ``-o`` check too):
  ``--output /proc/out`` or under a file, or a folder without write permission, failed the
  same way.
* The S3 and GCS buckets of ``--input``, ``--input_list``, ``--output`` and ``--manifest`` must
  exist (:func:`missing_bucket`; where the store says they do not): a missing manifest
  bucket failed the run after the images were written, a missing input bucket "matched no
  files" and exited 0.
* On Dataflow, no input, output or manifest may be a local path (:func:`local_paths_problem`):
  the workers' disks are not this machine's.
* Beam's ``--dry_run`` builds a Dataflow job without submitting it; other runners ignore it and
  ran the whole job (:func:`dry_run_problem`).
* On Dataflow, workers made by ``--setup_file`` alone lack the face detector: a warning
  (:func:`workers_without_faces`).

A store that cannot be asked at launch (no credentials there, no fsspec driver, unreachable,
no answer in :data:`ANSWER_SECONDS`) passes: the run starts, as it did without these checks.
It is asked once (:class:`Stores`):
an unreachable GCS had taken eleven questions, each retried six times by gcsfs with a
traceback logged, about five minutes and 572 lines before the run started.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import threading
import time
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from compress_core.deadline import call_within
from compress_core.errors import exception_line
from compress_core.flags import flag_name
from compress_core.request import option as request_option
from compress_core.storage import (cannot_write, fresh_info, get_filesystem, local_path,
                                   split_protocol, store_protocol)
from transforms.manifest import manifest_prefix

__all__ = ["earlier_run_folders", "not_folders", "launch_problem", "local_paths_problem",
           "cannot_write", "dry_run_problem", "missing_bucket", "Stores",
           "workers_without_faces"]

#: Dataflow's runners: workers that never share this machine's disk (Flink and Spark clusters
#: may mount one folder on every node, so their local paths are left to the user), the only
#: runner that honours --dry_run, the launch checks of its buckets and image.
_DATAFLOW_RUNNERS = ("dataflowrunner", "testdataflowrunner")

_LOG = logging.getLogger(__name__)


#: The loggers of the file systems whose retries log each failure with a traceback (gcsfs:
#: "_request out of retries on exception"), quiet while the launch asks: one line says it.
_RETRY_LOGGERS = ("gcsfs",)


#: How long the retry loggers stay quiet after a launch question given up on, at most.
QUIET_AT_MOST = 300.0

_QUIET_LOCK = threading.Lock()
_QUIET: Dict[str, object] = {"askers": 0, "levels": []}


def _hush() -> None:
    with _QUIET_LOCK:
        if not _QUIET["askers"]:
            loggers = [logging.getLogger(name) for name in _RETRY_LOGGERS]
            _QUIET["levels"] = [(logger, logger.level) for logger in loggers]
            for logger in loggers:
                logger.setLevel(logging.CRITICAL)
        _QUIET["askers"] += 1


def _unhush() -> None:
    with _QUIET_LOCK:
        _QUIET["askers"] -= 1
        if not _QUIET["askers"]:
            for logger, level in _QUIET["levels"]:
                logger.setLevel(level)


@contextlib.contextmanager
def _quiet_retries() -> Iterator[List[threading.Thread]]:
    """The retry loggers quiet while a launch question is asked, and after it while a
    question given up on (the threads the caller adds to the list yielded) still runs, for
    :data:`QUIET_AT_MOST` at most: its retries had logged two 50-line gcsfs tracebacks 17-53 s
    after the launch went on (Dataflow review 31); a store frozen for good would otherwise
    have hidden the run's own retries in this process (a DirectRunner's; diff review 31)."""
    _hush()
    abandoned: List[threading.Thread] = []
    try:
        yield abandoned
    finally:
        if abandoned:
            def after():   # (a store frozen for good: the loggers speak again after a while)
                end = time.monotonic() + QUIET_AT_MOST
                for thread in abandoned:
                    thread.join(max(0.0, end - time.monotonic()))
                _unhush()

            threading.Thread(target=after, name="launch-question-quiet", daemon=True).start()
        else:
            _unhush()


#: How long the launch waits for a store's answer to one question (its own retries
#: included); one that does not answer in time is asked nothing more, as an unreachable one.
ANSWER_SECONDS = 30.0

#: Error codes by which S3 (and S3-compatible stores) refuse the credentials themselves, for
#: every bucket: no role's limit on one bucket, so the run cannot do anything there.
_CREDENTIALS_REFUSED = ("InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken",
                        "ExpiredToken", "InvalidClientTokenId", "AuthFailure")


#: The object a launch asks an S3 bucket for, to hear why the store refused a question.
_PROBE = ".semantic-compress-launch-probe"


class CredentialsRefused(Exception):
    """A store refused the credentials themselves (not a bucket's permission): raised by
    :meth:`Stores.info`, said at launch (cloud review 40: a wrong key or secret started the
    run, failed every step, and its last line said the outputs it wrote were whole)."""


def _refused_credentials(exc: BaseException) -> Optional[str]:
    """``<code>: <the store's message>`` where ``exc`` (or what caused it) refuses the
    credentials."""
    seen = 0
    while exc is not None and seen < 5:
        response = getattr(exc, "response", None)
        error = response.get("Error", {}) if isinstance(response, dict) else {}
        if error.get("Code") in _CREDENTIALS_REFUSED:
            return f"{error['Code']}: {error.get('Message') or 'refused'}"
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def _ask(question):
    """``question()``, the launch's question to a store: its drivers' retry logs quiet, and
    given up after :data:`ANSWER_SECONDS` (a frozen store held the launch for good: review
    28; its thread is left to end, the loggers quiet until it does)."""
    with _quiet_retries() as abandoned:
        try:
            return call_within(ANSWER_SECONDS, question, name="launch-question")
        except TimeoutError as exc:
            if getattr(exc, "thread", None) is not None:
                abandoned.append(exc.thread)
            raise


class Stores:
    """The launch's questions to the stores (module docstring): ``info(uri)`` asks afresh; a
    store that could not answer once (unreachable, no credentials, no driver) is asked
    nothing more, and one warning says so. A refusal (HTTP 403) passes that question alone:
    permissions are per bucket. Local paths are always asked."""

    def __init__(self, storage_options: Optional[Dict] = None):
        self.storage_options = storage_options
        self._silent: Dict[str, str] = {}        # store -> why it is not asked again
        self._probed: Dict[str, Optional[str]] = {}   # store -> its credentials' refusal

    def _probe_credentials(self, uri: str, store: str) -> Optional[str]:
        """Why an S3 store refused a question (:data:`_CREDENTIALS_REFUSED`), once per store:
        S3 answers a HEAD (what ``info`` asks) with a bare 403, so one GET of an object that
        is not there (:data:`_PROBE`) hears the code: the credentials refused, or a bucket's
        AccessDenied (which passes), or no such key (the credentials hold)."""
        if store != "s3":
            return None
        if store not in self._probed:
            def probe():
                fs, path = get_filesystem(uri, self.storage_options)
                fs.cat_file(f"{path.split('/', 1)[0]}/{_PROBE}", start=0, end=1)

            try:
                _ask(probe)
                self._probed[store] = None
            except Exception as exc:  # noqa: BLE001 - its code, if any, says
                self._probed[store] = _refused_credentials(exc)
        return self._probed[store]

    def info(self, uri: str) -> Optional[dict]:
        """``fs.info`` of ``uri``; None where the store cannot be asked. Raises
        ``FileNotFoundError`` where the store says nothing is there."""
        store = store_protocol(uri) or "file"
        if store in self._silent:
            return None
        try:
            return _ask(lambda: fresh_info(uri, self.storage_options))
        except FileNotFoundError:
            raise
        except Exception as exc:  # noqa: BLE001 - see the module docstring
            if store == "file":  # (cheap to ask again; a file where a folder is asked for:
                _LOG.debug("cannot check %s: %s", uri, exc)   # nothing there as a folder)
                return None
            refused = isinstance(exc, PermissionError) or str(exc).startswith("Forbidden")
            # (asked again only where the store refused: not where it timed out or was not
            # reached, which had doubled the launch's wait: diff review 40)
            code = _refused_credentials(exc) or (self._probe_credentials(uri, store)
                                                 if refused else None)
            if code is not None:
                raise CredentialsRefused(f"the store refused the credentials ({code})") from exc
            if refused:
                # a refusal (S3's AccessDenied, GCS's 403), at once: a role's limit on this
                # bucket, not on the store (another bucket may still be checked)
                _LOG.debug("cannot check %s: %s", uri, exc)
                return None
            self._silent[store] = why = exception_line(exc)
            _LOG.warning("cannot ask %s at launch (%s); the launch checks of %s:// URIs are "
                         "skipped and the run starts", uri, why, store)
            return None


def _info(uri: str, stores: Stores) -> Optional[dict]:
    """``fs.info`` of ``uri`` (fresh), ``None`` when nothing is there or the store cannot be
    asked."""
    try:
        return stores.info(uri)
    except FileNotFoundError:
        return None


def earlier_run_folders(manifest: str, dead_letters: str, run_id: str,
                        storage_options: Optional[Dict] = None,
                        stores: Optional[Stores] = None) -> List[str]:
    """The run's manifest partition and dead-letter folder that exist already (none for a new
    run). ``stores``: the launch's questions (one made with ``storage_options`` otherwise)."""
    stores = stores or Stores(storage_options)
    partition = manifest_prefix(manifest, run_id)
    found = [folder for folder in (partition, dead_letters) if _info(folder, stores) is not None
             and not (folder == partition and (_empty_local_folder(folder)
                                               or _stopped_parts_only(folder, stores)))]
    if found == [dead_letters] and _info(
            f"{manifest.rstrip('/')}/_journal/run_id={run_id}", stores) is not None:
        # dead letters and a journal, no manifest partition: a run under this id that was
        # stopped before its manifest (SIGTERM, a step failing: exit 130/143/3), whose retry
        # under its id the journal is kept for; its dead letters were refused as a finished
        # run's, and every retry of a scheduler's fixed id stopped with exit status 2
        return []
    return found


def _stopped_parts_only(partition: str, stores: Stores) -> bool:
    """Whether a run's manifest folder holds nothing but the parts of a launch stopped while
    Beam moved them into place (:func:`transforms.manifest_writer.stopped_parts`): no
    finished run. On S3, which copies each part, a SIGTERM there left 2 of 8 parts; the
    launch said its manifest was written, and every retry under its id was refused while the
    report read the run as whole (S3 review 49). A store that cannot be asked: not known."""
    from transforms.manifest_writer import stopped_parts

    try:
        stale, names = _ask(lambda: stopped_parts(partition, stores.storage_options))
    except Exception:  # noqa: BLE001 - as before: the folder stands for a finished run
        return False
    return bool(stale) and len(stale) == len(names)


def _empty_local_folder(uri: str) -> bool:
    """Whether ``uri`` is a local folder holding nothing: what Beam's ``mkdirs`` leaves of a
    run's manifest partition whose part could not be moved there (``transforms.files``; an
    object store has no empty folders). No run's manifest: a retry under the same ``--run_id``
    had been refused as an earlier run's (job review 46)."""
    path = local_path(uri)
    if path is None:
        return False
    try:
        with os.scandir(path) as entries:
            return next(entries, None) is None
    except OSError:
        return False


def not_folders(folders: Dict[str, str], storage_options: Optional[Dict] = None,
                stores: Optional[Stores] = None) -> Dict[str, str]:
    """``{flag: uri}`` of the ``folders`` (``{flag: uri}``) that exist as something else than a
    folder (a file)."""
    stores = stores or Stores(storage_options)
    bad = {}
    for flag, uri in folders.items():
        info = _info(uri, stores)
        if info is not None and info.get("type") not in ("directory", None):
            bad[flag] = uri
    return bad


#: Object stores whose URIs start with a bucket (or container) that must exist before a run.
_BUCKET_STORES = ("s3", "gs")


def missing_bucket(flags: Dict[str, Sequence[Optional[str]]],
                   storage_options: Optional[Dict] = None,
                   stores: Optional[Stores] = None) -> Optional[str]:
    """Why a bucket that ``flags`` (``{flag: URIs}``) name cannot be used, or None: the store
    says it does not exist. A missing ``--manifest`` bucket had let the images be written,
    then failed the run with Beam's tracebacks and no manifest; a missing ``--input`` bucket
    had "matched no files" and exited 0. A store that cannot be asked (unreachable, no fsspec
    driver) passes, as above, and so does one that refuses to say (HTTP 403: a role may read
    and write objects under a prefix without the right to ask of the bucket itself)."""
    from compress_core.storage import split_protocol

    stores = stores or Stores(storage_options)
    asked = {}
    for flag, uris in flags.items():
        for uri in uris:
            if not uri or store_protocol(uri) not in _BUCKET_STORES:
                continue
            bucket = split_protocol(uri)[1].split("/", 1)[0]
            key = (store_protocol(uri), bucket)
            if key not in asked:
                try:   # (a refusal passes too: a role may write objects under a prefix
                    # and not ask of the bucket)
                    stores.info(f"{key[0]}://{bucket}")
                    asked[key] = ""
                except FileNotFoundError:  # the store says so (S3's NoSuchBucket, GCS's 404)
                    asked[key] = "does not exist"
                except CredentialsRefused as exc:
                    return f"{flag} {uri}: {exc}"
            if asked[key]:
                return f"{flag} {uri}: the bucket {bucket} {asked[key]}"
    return None


def launch_problem(output: str, manifest: str, dead_letters: str, run_id: str,
                   storage_options: Optional[Dict] = None,
                   inputs: Sequence[str] = (),
                   input_lists: Sequence[str] = ()) -> Optional[str]:
    """Why the run cannot start (one line naming the flag), or None."""
    try:
        return _launch_problem(output, manifest, dead_letters, run_id, Stores(storage_options),
                               inputs, input_lists)
    except CredentialsRefused as exc:   # (asked of a bucket first, where the flag is named)
        return f"--output {output}: {exc}"


def _launch_problem(output, manifest, dead_letters, run_id, stores, inputs, input_lists):
    problem = missing_bucket({"--input": list(inputs), "--input_list": list(input_lists),
                              "--output": [output], "--manifest": [manifest]}, stores=stores)
    if problem:
        return problem
    bad = not_folders({"--output": output, "--manifest": manifest}, stores=stores)
    if bad:
        flag, uri = next(iter(bad.items()))
        return f"{flag} {uri}: is a file, not a folder"
    problem = cannot_write({"--output": output, "--manifest": manifest})
    if problem:
        return problem
    found = earlier_run_folders(manifest, dead_letters, run_id, stores=stores)
    if found:
        return (f"--run_id {run_id!r}: an earlier run has this id ({found[0]} exists); give "
                "another --run_id, or none for a fresh one")
    return None


def local_paths_problem(runner, flags: Dict[str, Sequence[Optional[str]]]) -> Optional[str]:
    """Why ``flags`` (``{flag: values}``) cannot be used with ``runner``, or None: Dataflow's
    workers cannot reach this machine's disk. A local ``--output`` or ``--manifest`` was
    written on the workers' own disks, lost with them, and a local ``--input`` matched nothing
    there (0 images); the job ended with status 0 either way."""
    if not is_dataflow(runner):
        return None
    name = _runner_name(runner)
    for flag, values in flags.items():
        for value in values:
            if value and store_protocol(value) is None:
                return (f"{flag} {value}: a local path, which {name}'s workers cannot reach "
                        "(their own disks, lost with them); give a bucket URI (gs://...)")
    return None


def missing_encoder_problem(runner, settings) -> Optional[str]:
    """Where the job runs here (its workers are this machine): why ``--format`` (or, under
    ``auto``, ``--photo_format``) cannot be written, or ``--allocation semantic`` cannot
    rewrite JPEG coefficients, naming the package to install
    (:meth:`CompressRequest.missing_package`); else None. Each image had failed with that
    message, after being read and compressed, and the run exited 1 (new-user review 42). A
    runner elsewhere has its own packages: not asked."""
    missing = settings.missing_package() if runs_locally(runner) else None
    if missing is None:
        return None
    option, reason = missing
    return f"{flag_name(request_option(option), 'job')} {getattr(settings, option)}: {reason}"


def missing_weights_problem(runner, settings) -> Optional[str]:
    """Where the job runs here: why the CNN of ``--energy``/``--model`` cannot be loaded (its
    weights neither on disk nor to be downloaded: :func:`compress_core.energy.weights.
    weights_problem`), where importance maps are computed; else None. Each image had failed
    with it, ``WeightsNotFoundError`` rows and exit status 1 (job review 43). A runner elsewhere
    has its own files: not asked."""
    from compress_core.energy.weights import model_weights_problem

    if not runs_locally(runner) or not settings.computes_maps:
        return None
    return model_weights_problem(settings.energy, settings.model)


def workers_without_faces(runner, setup_file: Optional[str], container: Optional[str],
                          settings) -> Optional[str]:
    """A warning where Dataflow's workers would lack the face detector, or None: built by
    ``--setup_file`` with no container, they pip-install the library's requirements, but not
    ``facenet-pytorch``, which installs only with ``--no-deps`` (its metadata pins an old
    torch): every image of an energy with a CNN (and its face term) whose importance map is
    computed fails, after minutes of installing torch on each worker (deploy review 25); none
    is where every picture keeps its aspect (the default scale 0.5: scaled whole)."""
    from compress_core.energy.registry import uses_model

    if not is_dataflow(runner) or not setup_file or container \
            or not settings.computes_maps or not uses_model(settings.energy):
        return None
    return (f"--setup_file without --sdk_container_image: the workers cannot install "
            f"facenet-pytorch (only with --no-deps), which --energy {settings.energy} needs; "
            "every image whose map it computes will fail. Build the image of "
            "docker/Dockerfile and pass it with "
            "--sdk_container_image, or use --energy gradient or saliency "
            "(docs/pipeline.md, Dataflow)")


#: The Python of the worker image docker/Dockerfile builds (``FROM apache/beam_python3.11_sdk``;
#: a test keeps the two the same).
IMAGE_PYTHON = (3, 11)


#: Stores whose keys keep an empty folder name (HDFS and local disks normalise ``//``).
_KEY_STORES = frozenset({"gs", "s3", "az", "abfs", "memory"})


def empty_folder_name_warnings(flags: Dict[str, Sequence[Optional[str]]]) -> List[str]:
    """A warning for each store URI of ``flags`` (``{flag: [URI, ...]}``) with an empty folder
    name (``gs://bucket//out``): object stores keep it, so it is another folder than
    ``gs://bucket/out`` (cloud review 38: a rerun with the slash doubled compressed every image
    again into a second tree, without a word). Local paths are normalised, not warned of."""
    said = []
    for flag, uris in flags.items():
        for uri in uris:
            protocol, rest = split_protocol(uri) if uri else (None, "")
            if protocol is None or store_protocol(uri) not in _KEY_STORES:
                continue
            rest = rest.split("?", 1)[0]   # (a query's URL is no folder)
            if "//" in rest.rstrip("/"):
                fixed = f"{protocol}://" + re.sub("/{2,}", "/", rest)
                said.append(f"{flag} {uri}: an empty folder name ('//'); object stores keep it, "
                            f"so this is another folder than {fixed}")
    return said


def launcher_python_warning(runner, container: Optional[str],
                            launcher: Optional[Tuple[int, int]] = None) -> Optional[str]:
    """A warning where Dataflow's workers run a container image and this launcher's Python
    (``launcher``, major and minor; the running one by default) is not :data:`IMAGE_PYTHON`,
    the Python of the image docker/Dockerfile builds, or None. Beam pickles the job's
    functions with cloudpickle, code objects included, for the workers' Python: made on 3.13
    they failed to load on 3.11 ("SystemError: no locals found when setting up
    annotations"), made on 3.10 too, once the workers had started (Dataflow review 31). Beam
    picks a matching image only where none is given. A warning, not a refusal: an image built
    on another Python (``FROM apache/beam_python3.12_sdk``) is the user's to choose."""
    launcher = tuple(sys.version_info[:2] if launcher is None else launcher)
    if not is_dataflow(runner) or not container or launcher == IMAGE_PYTHON:
        return None
    have, want = ".".join(map(str, launcher)), ".".join(map(str, IMAGE_PYTHON))
    return (f"this launcher runs Python {have}; the image docker/Dockerfile builds runs "
            f"Python {want}, and Beam pickles the job's code for the workers' Python: launched "
            f"from {have}, its steps fail to load on {want} workers once they start. Launch "
            f"from Python {want}, or build the image FROM apache/beam_python{have}_sdk "
            "(docs/pipeline.md, Dataflow)")


def is_dataflow(runner) -> bool:
    """Whether ``runner`` (a name as Beam takes it, a dotted path, or an instance) is
    Dataflow's."""
    return _runner_key(runner) in _DATAFLOW_RUNNERS


#: Beam's runners that run the job in this process (and its workers): ``run()`` returns when
#: the job is over. Every other one (Dataflow, Flink, Spark, a portable job server) runs it
#: elsewhere, and the job goes on after ``run()`` returns.
_LOCAL_RUNNERS = ("", "directrunner", "bundlebaseddirectrunner", "switchingdirectrunner",
                  "pythonrpcdirectrunner", "fnapirunner")


def runs_locally(runner) -> bool:
    """Whether ``runner`` runs the job here (Beam's direct runners; None: the default)."""
    return _runner_key(runner) in _LOCAL_RUNNERS


def _runner_name(runner) -> str:
    """The runner's class name (a dotted path as Beam takes it, or an instance)."""
    name = runner if isinstance(runner, str) else type(runner).__name__ if runner else ""
    return name.rsplit(".", 1)[-1]


def _runner_key(runner) -> str:
    """The runner's class name in lower case, as Beam looks a ``--runner`` up: any case, the
    ``Runner`` suffix optional (``direct``, ``Direct`` and ``DirectRunner`` are one runner; a
    step that failed under ``--runner direct`` was said as a job not started: diff review
    34)."""
    name = _runner_name(runner).lower()
    return name if not name or name.endswith("runner") else name + "runner"


#: A Cloud Storage path Dataflow takes for its temporary and staging files: ``gs://<bucket>/...``
#: with a bucket named as Beam's own check wants it (lowercase letters, digits, ``-_.``) and a
#: ``/`` after it (Beam refuses ``gs://my-bucket``: "Did you mean gs://my-bucket/").
_GCS_LOCATION = re.compile(r"gs://[a-z0-9][-_a-z0-9.]+[a-z0-9]/.*", re.S)


def gcs_locations_problem(runner, temp_location: Optional[str],
                          staging_location: Optional[str], dry_run=None) -> Optional[str]:
    """Why Dataflow's ``--temp_location`` / ``--staging_location`` cannot be used, or None:
    where every one given is no Cloud Storage path Beam accepts (``gs://B/tmp``: a bucket name
    in capitals), Beam's check of the options falls back to creating a default bucket of its
    own, asking the network: offline, a dry run of the README's example waited 2 minutes and
    ended in a 136-line traceback (docs review 28). A valid one, or none given (the default
    bucket is then Beam's documented choice), is no problem, but for a dry run (``dry_run``:
    Beam's ``--dry_run`` as given), which builds the job offline: without either, Beam's
    search for its default bucket waited 2 minutes and ended in a traceback, exit 1
    (Dataflow review 45)."""
    if not is_dataflow(runner):
        return None
    given = {flag: value for flag, value in (("--temp_location", temp_location),
                                             ("--staging_location", staging_location))
             if value}
    if not given and dry_run not in (None, False, ""):
        return (f"--dry_run={dry_run} without --temp_location: Beam would look for (or make) a "
                "default bucket of its own, asking Cloud Storage; give --temp_location "
                "gs://<bucket>/<folder> for a job built offline")
    if not given or any(_GCS_LOCATION.fullmatch(value) for value in given.values()):
        return None
    flag, value = next(iter(given.items()))
    return (f"{flag} {value}: not a Cloud Storage path Dataflow takes (gs://<bucket>/<folder>, "
            "the bucket named in lowercase letters, digits, '-', '_' and '.'); without one Beam "
            "would make a default bucket of its own")


def runner_package_problem(runner) -> Optional[str]:
    """Why ``runner`` cannot run here, its package missing, or None: the DataflowRunner
    without Beam's ``[gcp]`` extra, found the way Beam finds it when it submits (importing
    its Dataflow API client). Said before any store is asked: where Cloud Storage could not
    be reached either, a launch waited 7 minutes for the launch questions and Beam's own
    checks of its buckets before Beam's line said the extra was missing (Dataflow review 31)."""
    if not is_dataflow(runner):
        return None
    import apache_beam

    try:
        import apache_beam.runners.dataflow.internal.apiclient  # noqa: F401
    except ImportError:
        return (f"--runner {_runner_name(runner)}: Google Cloud Dataflow runner not available, "
                "please install apache_beam[gcp] (pip install "
                f"\"apache-beam[gcp]=={apache_beam.__version__}\")")
    return None


def gcs_credentials_problem(flags: Dict[str, Optional[str]]) -> Optional[str]:
    """Why Beam would write a ``gs://`` folder of ``flags`` (``{flag: URI}``: the manifest,
    which Beam's sink writes; the images and dead letters go through fsspec) anonymously, or
    None: Beam asks Google's default credentials only where
    ``google-auth-httplib2`` is installed (requirements.txt and the ``[pipeline]`` extra carry
    it; Beam's ``[gcp]`` extra too), and without it connects anonymously: a private bucket then
    refuses the manifest once every image is written, at every run (cloud review 38). Not
    asked under ``STORAGE_EMULATOR_HOST`` (an emulator takes anonymous clients)."""
    import importlib.util

    if os.environ.get("STORAGE_EMULATOR_HOST") or importlib.util.find_spec(
            "google_auth_httplib2") is not None:
        return None
    for flag, uri in flags.items():
        if uri and store_protocol(uri) == "gs":
            return (f"{flag} {uri}: Beam writes it with Google's default credentials only "
                    "where google-auth-httplib2 is installed; without it Beam connects "
                    "anonymously and a private bucket refuses it after the images are written "
                    "(pip install google-auth-httplib2; requirements.txt and the [pipeline] "
                    "extra carry it)")
    return None


def dry_run_problem(runner, dry_run) -> Optional[str]:
    """Why Beam's ``--dry_run`` (``dry_run``: its value, text as given) cannot be used with
    ``runner``, or None. Only the DataflowRunner honours it (it builds the job and submits
    nothing); the DirectRunner ignored it and compressed every input, writing outputs and a
    manifest. Beam takes any value given as set (``--dry_run=False`` too), and so does this."""
    if dry_run in (None, False, ""):
        return None
    if is_dataflow(runner):
        return None
    name = _runner_name(runner) or "DirectRunner"
    return (f"--dry_run={dry_run}: only the DataflowRunner builds a job without running it; "
            f"{name} would run the whole job (drop --dry_run, or give --runner "
            "DataflowRunner)")
