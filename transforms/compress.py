"""Compress images in Beam: plan outputs, read, compress (model once per worker), write.

The public composite is :class:`CompressImages`; its steps are small DoFns named by role:

``PlanOutputs`` (:class:`~transforms.plan.PlanOutput`)
    Deterministic output URI per input; ``skipped`` rows, before anything is read, for inputs
    whose output exists already (``skip_existing``) or that would fail again
    (:mod:`transforms.plan`).
``ReadImages`` (:class:`_ReadImage`)
    The input's bytes through fsspec (a listed URI, which no listing described, is first
    asked which file it holds: one metadata request).
``CompressImage`` (:class:`_CompressImage`)
    :meth:`compress_core.SemanticCompressor.compress` on the bytes. The energy function (and
    its CNN) is built for the first image that reaches the step, shared by every DoFn
    instance of a worker process through :class:`apache_beam.utils.shared.Shared`, so a
    process loads the model at most once, and a run whose inputs are all skipped not at all;
    each load is counted by the ``model_loads`` metric and logged.
``WriteImages`` (:class:`_WriteImage`)
    Atomic write of the encoded bytes (:func:`compress_core.storage.write_atomic`), then the
    ``ok`` row.

Every step runs through :class:`~transforms.failures.CatchFailures` (Beam's
``with_exception_handling()``): any exception on an element becomes a
:class:`~transforms.failures.Failure` (never a crashed bundle), then an ``error`` row in the
manifest and a dead letter. A worker that cannot build the compress engine fails each of its
images with the reason.
"""
from __future__ import annotations

import functools
import gc
import hashlib
import io
import logging
import os
import sys
import threading
import time
import traceback
from typing import Any, Dict, Iterator, List, Mapping, NamedTuple, Optional, Sequence

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.utils.shared import Shared

from compress_core.deadline import call_within
from compress_core.errors import ImageTooLargeError, NotAnImageError
from compress_core.flags import in_flags
from compress_core.heap import release_freed_heap
from compress_core.images import DEFAULT_MAX_PIXELS, largest_file
from compress_core.storage import path_below, read_bytes, write_atomic
from compress_core.warm_up import warm_up

from . import manifest
from .failures import FAILED, CatchFailures, Failure
from .identity import FileIdentity, identity_columns, stated
from .journal import RunJournal, journal_columns
from .matching import NAME_NOT_UTF8
from . import metrics
from .metrics import METRICS_NAMESPACE
from .plan import FAILS_THE_SAME, OVER_ITS_LIMIT, SKIPPED, PlannedImage, PlanOutput
from .settings import CompressSettings

__all__ = [
    "CompressSettings",
    "ImageBytes",
    "CompressedImage",
    "CompressImages",
    "failure_row",
    "model_load_count",
]

_LOG = logging.getLogger(__name__)

# Loads of the compress engine in this process (tests and benchmarks read it).
_LOADS_LOCK = threading.Lock()
_LOADS_IN_PROCESS = 0


def model_load_count() -> int:
    """How many times this process built a compress engine (re-encoding ones too: the
    ``model_loads`` metric counts those with an energy function)."""
    return _LOADS_IN_PROCESS


class ImageBytes(NamedTuple):
    """An input's bytes, read (``identity``: which file they came from, recorded in its row)."""

    uri: str
    relpath: str
    output_uri: str
    data: bytes
    identity: Optional[FileIdentity] = None
    failed_before: bool = False     # (as PlannedImage's)

    def failure_fields(self) -> Dict[str, Any]:
        """What a failure of this input records (:class:`~transforms.failures.Failure`)."""
        return {"input_uri": self.uri, "output_uri": self.output_uri,
                "input_bytes": len(self.data),
                "input_sha256": hashlib.sha256(self.data).hexdigest(),
                "failed_before": self.failed_before, **identity_columns(self.identity)}


class CompressedImage(NamedTuple):
    """An encoded output waiting to be written, with its (almost complete) manifest row."""

    uri: str
    output_uri: str
    data: bytes
    row: Dict[str, Any]

    def failure_fields(self) -> Dict[str, Any]:
        """What a failure of this input records (:class:`~transforms.failures.Failure`)."""
        return {"input_uri": self.uri, "output_uri": self.output_uri,
                "input_bytes": self.row.get("input_bytes"),
                "input_sha256": self.row.get("input_sha256"),
                "input_modified": self.row.get("input_modified"),
                "input_etag": self.row.get("input_etag")}


def failure_row(failure: Failure, run_id: str, settings: CompressSettings) -> Dict[str, Any]:
    """The manifest row (``status="error"``) of a failure."""
    return manifest.error_row(
        run_id, failure.input_uri, failure.error_type, failure.error_message,
        output_uri=failure.output_uri, input_bytes=failure.input_bytes,
        input_sha256=failure.input_sha256, input_modified=failure.input_modified,
        input_etag=failure.input_etag, **settings.row_columns())


class _ReadImage(beam.DoFn):
    """PlannedImage -> ImageBytes (fsspec read; a listed URI is asked which file it is first;
    a file larger than a picture of ``--max_pixels`` can be is refused, unread)."""

    def __init__(self, storage_options: Optional[Mapping] = None,
                 max_bytes: Optional[int] = None):
        self._storage_options = dict(storage_options or {})
        self._max_bytes = max_bytes
        self._read = Metrics.counter(METRICS_NAMESPACE, metrics.BYTES_READ)

    def process(self, item: PlannedImage) -> Iterator:
        if item.identity is None:
            # a listed URI: which file it holds is asked before the read (a row that recorded
            # it after would vouch for a file replaced in between)
            item = stated(item, self._storage_options)
        if self._max_bytes is not None and (item.size or 0) > self._max_bytes:
            raise ImageTooLargeError(f"{item.uri}: {item.size:,} bytes, more than a picture of "
                                     f"--max_pixels holds ({self._max_bytes:,}); not read")
        # (and while reading: a file grows, or is replaced, after it is listed)
        data = read_bytes(item.uri, self._storage_options, self._max_bytes)
        self._read.inc(len(data))
        if item.size is not None and len(data) != item.size:
            # changed since it was listed (truncated, replaced): its row records the file
            # read, not the listing's time or token beside the bytes' size and SHA-256 (a
            # truncated photo failed again unrecognised each night, exit status 1; a replaced
            # one was read again every run: fault review 28); where the file is not of the
            # size read either (changed again), the listing's stays (a rerun reads it again)
            restated = stated(item, self._storage_options)
            if restated.size == len(data):
                item = restated
        yield ImageBytes(item.uri, item.relpath, item.output_uri, data, item.identity,
                         item.failed_before)


def _named(item: ImageBytes) -> io.BytesIO:
    """``item``'s bytes as a file named by its URI: the library's errors name the input (a
    dead letter says ``gs://b/x.jpg: empty file``, not ``<bytes>: empty file``)."""
    data = io.BytesIO(item.data)
    data.name = item.uri
    return data


class _Engine:
    """A compressor with its energy function (and CNN) loaded; one per worker process."""

    def __init__(self, settings: CompressSettings, worker_threads: Optional[int]):
        global _LOADS_IN_PROCESS
        start = time.perf_counter()
        from compress_core import SemanticCompressor
        from compress_core.images import let_pillow_open

        let_pillow_open(settings.max_pixels)   # (this worker's process is the job's)
        self.compressor = SemanticCompressor.from_request(settings)
        # re-encoding reads no importance map (no CNN), unless allocation="semantic" spreads its
        # bytes by one, nor does the hybrid method where every picture keeps its aspect (the
        # default scale 0.5: the whole picture scaled); else loaded here, not inside the first
        # image's time budget
        uses_energy = settings.computes_maps
        self.loads_model = uses_energy  # (what the model_loads metric counts)
        if uses_energy:
            _preload(self.compressor.energy_function)   # (a CNN's: torch is imported here)
        if worker_threads:   # (after the load: where torch is not imported, nothing to set)
            _limit_torch_threads(worker_threads)
        warm = time.perf_counter()
        warm_up(self.compressor, settings)
        self.seconds = time.perf_counter() - start
        with _LOADS_LOCK:
            _LOADS_IN_PROCESS += 1
            count = _LOADS_IN_PROCESS
        # method jpeg reads no map: naming a CNN there said it was loaded when it was not
        what = (f"energy={settings.energy} model={settings.model}" if uses_energy
                else "re-encoding only (no importance map)" if not settings.reads_importance
                else "whole pictures scaled (no importance map)")
        _LOG.info("compress engine loaded: %s in %.2f s, %.2f s of it warming up (pid %d, "
                  "load #%d in this process)", what, self.seconds, time.perf_counter() - warm,
                  os.getpid(), count)


def _preload(energy) -> None:
    """Load the CNN of an energy function (or of a hybrid's members) now, not on first use."""
    load = getattr(energy, "load", None)
    if callable(load):
        load()
    for member in getattr(energy, "energies", ()) or ():
        _preload(member)


def _peak_rss_mb() -> int:
    """Peak resident set size of this process in MiB (Linux: ru_maxrss is in KiB)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak / 1024) if not sys.platform == "darwin" else int(peak / 1024 / 1024)


def _limit_torch_threads(n: int) -> None:
    """``torch.set_num_threads`` (per thread under OpenMP: call it on the computing thread).
    Where torch is not imported it is not imported for this: settings that compute no
    importance map never import it (1.4 s and about 470 MB per process), and a bundle after
    one whose picture did (:meth:`_CompressImage.start_bundle`) sets its threads."""
    torch = sys.modules.get("torch")
    if torch is None:
        return
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def _limit_numba_threads(n: int) -> None:
    """``numba.set_num_threads`` is per thread: call it on the thread that runs the bundle."""
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency
        return
    n = max(1, min(int(n), numba.config.NUMBA_NUM_THREADS))
    if numba.get_num_threads() != n:
        numba.set_num_threads(n)


def _grace(seconds: float) -> float:
    """How long past its budget a compression may take to notice it and stop by itself."""
    return max(1.0, 0.25 * seconds)


def _call_with_budget(fn, seconds: float, worker_threads: Optional[int] = None,
                      grace: float = 0.0):
    """``fn()`` on a daemon thread; :class:`TimeoutError` if it takes longer than ``seconds``.

    The compression itself is given the budget (``compress(max_seconds=)``) and stops at its
    next step with :class:`~compress_core.errors.CompressionTimeoutError`. Python cannot stop a
    thread from outside, so a call that does not return even then (stuck in one native step) is
    *abandoned*: its result is dropped when it ends, and it keeps its CPU until then (the row is
    a ``TimeoutError`` error now; the worker goes on with the next image).
    """
    def limited():
        if worker_threads:
            _limit_torch_threads(worker_threads)
            _limit_numba_threads(worker_threads)
        return fn()

    try:
        return call_within(seconds + grace, limited, name="compress-with-budget")
    except TimeoutError as exc:
        if not getattr(exc, "abandoned", False):   # (fn's own TimeoutError, as it is)
            raise
        late = TimeoutError(f"compressing took longer than the per-image budget of {seconds:g} "
                            "s (--max_seconds_per_image); the image was abandoned")
        late.thread = exc.thread   # (still running: :meth:`_CompressImage._settle` joins it)
        raise late from None


@functools.lru_cache(maxsize=None)
def job_code() -> str:
    """The code the workers run, as :func:`compress_core._version.code_id` of the library's
    and these transforms' modules (the codec packages' versions left out: a launcher installed
    from version ranges need not share them with an image built from the pins)."""
    import compress_core
    import transforms
    from compress_core._version import code_id

    return code_id(*(os.path.dirname(os.path.abspath(package.__file__))
                     for package in (compress_core, transforms)))


def _say_another_build(launched_by: Optional[str]) -> None:
    """An error in the worker's log where its code (:func:`job_code`) is not ``launched_by``,
    the launcher's: a container image built from older code ran the new launcher's settings
    and names without a word, and only the rows' ``library_version`` told it afterwards
    (Dataflow review 31). The rows keep saying the worker's build."""
    worker = job_code()
    if launched_by and worker != launched_by:
        _LOG.error("this worker's code (compress_core and transforms: %s; build %s) is not the "
                   "launcher's (%s): its outputs and rows are this worker's (rebuild the "
                   "container image from the launcher's code, tagged with its build: "
                   "docs/pipeline.md, Dataflow)", worker, manifest.library_version(),
                   launched_by)


class _CompressImage(beam.DoFn):
    """ImageBytes -> CompressedImage; the engine is built lazily, once per worker process, on
    the first image that reaches it (a rerun whose every input is skipped loads no CNN: that
    cost 7-16 s per worker), before that image's time budget starts."""

    def __init__(self, settings: CompressSettings, run_id: str,
                 worker_threads: Optional[int] = None, shared: Optional[Shared] = None,
                 max_seconds: Optional[float] = None, launched_by: Optional[str] = None):
        self._settings = settings
        self._launched_by = launched_by   # the launcher's code (job_code)
        self._max_seconds = max_seconds if max_seconds is not None else settings.max_seconds
        self._run_id = run_id
        self._worker_threads = worker_threads
        self._shared = shared or Shared()
        self._engine: Optional[_Engine] = None
        self._build_error: Optional[BaseException] = None
        self._loads = Metrics.counter(METRICS_NAMESPACE, metrics.MODEL_LOADS)
        self._load_ms = Metrics.distribution(METRICS_NAMESPACE, metrics.MODEL_LOAD_MS)
        self._compress_ms = Metrics.distribution(METRICS_NAMESPACE, metrics.COMPRESS_MS)
        self._peak_rss = Metrics.distribution(METRICS_NAMESPACE, metrics.WORKER_PEAK_RSS_MB)
        self._missed = Metrics.counter(METRICS_NAMESPACE, metrics.QUALITY_TARGET_MISSED)
        self._larger = Metrics.counter(METRICS_NAMESPACE, metrics.OUTPUTS_LARGER_THAN_INPUT)
        self._abandoned: List[threading.Thread] = []  # compressions past their budget, running

    def _build_engine(self) -> None:
        """The shared engine, built by the first DoFn instance of this process that needs it
        (its load reported in the metrics), or the reason it cannot be built."""
        built = []

        def build():
            _say_another_build(self._launched_by)   # (once per worker process)
            engine = _Engine(self._settings, self._worker_threads)
            built.append(engine)
            return engine

        try:
            self._engine = self._shared.acquire(build, tag=self._settings.engine_key())
        except Exception as exc:  # noqa: BLE001 - every element will report it
            _LOG.error("cannot build the compress engine (energy=%s, model=%s): %s: %s",
                       self._settings.energy, self._settings.model, type(exc).__name__, exc)
            self._build_error = exc
            return
        if built and built[0].loads_model:  # (re-encoding only loads no model)
            self._loads.inc()
            self._load_ms.update(int(built[0].seconds * 1000.0))

    def start_bundle(self):
        if self._worker_threads:
            # Both settings are per thread (OpenMP's nthreads ICV, numba's thread mask): apply
            # them on the thread that runs this bundle.
            _limit_torch_threads(self._worker_threads)
            _limit_numba_threads(self._worker_threads)

    def finish_bundle(self):
        # Peak resident memory of this worker process so far (the distribution's max is the
        # largest worker's peak).
        self._peak_rss.update(_peak_rss_mb())

    def _settle(self) -> None:
        """Wait for the compressions abandoned at their budget to stop, before the next image.

        An abandoned compression stops at its next step (``CompressionTimeoutError``) but
        keeps its pictures until then: a 45-megapixel re-encode's step is one encode of 2-4 s.
        Started beside them, the next images had several full-size compressions in memory at
        once (a process at 9.1 GiB with ``--max_seconds_per_image 3`` against 3.8 GiB without;
        large-photo review 29). Each is waited for once, at most one more budget and grace; one
        still running then (stuck in a native step) is left, with a warning, and not waited
        for again."""
        if not self._abandoned:
            return
        end = time.monotonic() + self._max_seconds + _grace(self._max_seconds)
        for thread in self._abandoned:
            thread.join(max(0.0, end - time.monotonic()))
        stuck = sum(thread.is_alive() for thread in self._abandoned)
        if stuck:
            _LOG.warning("%d compression(s) abandoned at --max_seconds_per_image %g s still run "
                         "after %g s more; the next images start beside them", stuck,
                         self._max_seconds, self._max_seconds + _grace(self._max_seconds))
        self._abandoned = []

    def _compressed(self, item: ImageBytes):
        """The library's result for ``item``, within ``--max_seconds_per_image``."""
        compress = self._engine.compressor.compress
        kwargs = self._settings.compress_kwargs()
        if self._max_seconds:
            # the library stops itself at the budget (CompressionTimeoutError); a step that
            # cannot check the clock (a hung decoder) is abandoned after a grace period
            kwargs["max_seconds"] = self._max_seconds
            try:
                return _call_with_budget(lambda: compress(_named(item), **kwargs),
                                         self._max_seconds, self._worker_threads,
                                         grace=_grace(self._max_seconds))
            except TimeoutError as exc:
                if getattr(exc, "thread", None) is not None:
                    self._abandoned.append(exc.thread)
                raise
        return compress(_named(item), **kwargs)

    def process(self, item: ImageBytes) -> Iterator:
        self._settle()
        if self._engine is None and self._build_error is None:
            self._build_engine()
        if self._engine is None:
            # the reason the engine could not be built (e.g. weights missing on this worker)
            raise self._build_error or RuntimeError("compress engine not built")
        try:
            result = self._compressed(item)
        except MemoryError as exc:
            ran_out = " ".join(str(exc).split())
            where = "".join(traceback.format_tb(exc.__traceback__)[-4:])   # (text: no frames)
        else:
            ran_out = None
        if ran_out is not None:
            # raised again here, past the handler: the first one's traceback held the call's
            # frames and with them the picture's arrays, alive while Beam pickled the failure
            # (the input's bytes) beside them; that ran out of memory again outside any
            # image's error handling, and the whole run stopped, at every rerun (job review 43)
            gc.collect()   # (any cycle that still holds them)
            release_freed_heap()
            error = MemoryError("the worker ran out of memory compressing this picture"
                                + (f" ({ran_out})" if ran_out else "") + ": workers with more "
                                "memory, or a lower --max_pixels (such pictures refused "
                                "unread), keep it from failing")
            error.add_note(f"where it ran out (the first error's last frames):\n{where}")
            raise error
        output_uri = item.output_uri
        if not output_uri.endswith(result.extension):
            # The name lied about the content (e.g. a PNG named .jpg): use the real suffix.
            output_uri = output_uri.rsplit(".", 1)[0] + result.extension
        # (the library hashed the same bytes: item.data, read whole from the file object)
        digest = result.input_sha256 or hashlib.sha256(item.data).hexdigest()
        row = manifest.ok_row(self._run_id, item.uri, output_uri, result, digest,
                              **identity_columns(item.identity),
                              **self._settings.row_columns())
        total = (result.timings or {}).get("total_ms")
        if total is not None:
            self._compress_ms.update(int(total))
        missed = result.missed_target()
        if missed:  # written all the same (the format's best), as the command line does
            self._missed.inc()
            _LOG.warning("%s: %s (its row says quality_score)", item.uri,
                         in_flags(missed, "job"))
        if result.compressed_bytes > len(item.data):
            # written all the same (the pixels asked for); an archive should hear of it
            self._larger.inc()
            _LOG.warning("%s: the output (%s, %d bytes) is larger than the input (%d bytes): "
                         "byte_ratio %.3f", item.uri, result.format, result.compressed_bytes,
                         len(item.data), result.compressed_bytes / max(1, len(item.data)))
        out = CompressedImage(item.uri, output_uri, bytes(result.data), row)
        # (the result holds the picture's pixels at every stage: a worker near its memory's
        # end ran out of it while Beam sized the element yielded beside them, outside any
        # image's error handling, and the whole run stopped at each rerun: job review 43)
        del result
        yield out


class _WriteImage(beam.DoFn):
    """CompressedImage -> its ``ok`` manifest row, after an atomic write of the bytes."""

    def __init__(self, storage_options: Optional[Mapping] = None, output: Optional[str] = None,
                 journal: Optional[RunJournal] = None):
        self._storage_options = dict(storage_options or {})
        self._output = output   # (no symbolic link below it is written through)
        self._journal = journal   # (told first which input the output is written for)
        self._ok = Metrics.counter(METRICS_NAMESPACE, metrics.IMAGES_OK)
        self._bytes_in = Metrics.counter(METRICS_NAMESPACE, metrics.BYTES_IN)
        self._bytes_out = Metrics.counter(METRICS_NAMESPACE, metrics.BYTES_OUT)

    def process(self, item: CompressedImage) -> Iterator:
        if self._journal is not None and self._output is not None:
            self._journal.record(path_below(item.output_uri, self._output) or item.output_uri,
                                 **journal_columns(item.row))
        write_atomic(item.output_uri, item.data, self._storage_options, within=self._output)
        self._ok.inc()
        self._bytes_in.inc(int(item.row.get("input_bytes") or 0))
        self._bytes_out.inc(len(item.data))
        yield item.row


class _FailureToRow(beam.DoFn):
    """Failure -> ``error`` manifest row (and the ``images_failed`` metric; inputs that are
    no picture, :class:`~compress_core.errors.NotAnImageError`, also ``inputs_not_images``;
    other pictures that an earlier run failed on, ``images_failed_again``; files whose name
    is not UTF-8, ``inputs_named_not_utf8``; failures to write an output,
    ``outputs_unwritten``: see :func:`pipeline.main.exit_status`)."""

    def __init__(self, settings: CompressSettings, run_id: str):
        self._settings = settings
        self._run_id = run_id
        self._failed = Metrics.counter(METRICS_NAMESPACE, metrics.IMAGES_FAILED)
        self._not_images = Metrics.counter(METRICS_NAMESPACE, metrics.INPUTS_NOT_IMAGES)
        self._failed_again = Metrics.counter(METRICS_NAMESPACE, metrics.IMAGES_FAILED_AGAIN)
        self._not_utf8 = Metrics.counter(METRICS_NAMESPACE, metrics.INPUTS_NAMED_NOT_UTF8)
        self._unwritten = Metrics.counter(METRICS_NAMESPACE, metrics.OUTPUTS_UNWRITTEN)

    def process(self, failure: Failure) -> Iterator[Dict[str, Any]]:
        self._failed.inc()
        if failure.stage == "write":   # (the storage's failure, not the picture's)
            self._unwritten.inc()
        elif failure.stage == "match" and NAME_NOT_UTF8 in failure.error_message:
            self._not_utf8.inc()   # (never read, and no run can until it is renamed)
        elif failure.error_type == NotAnImageError.__name__:
            self._not_images.inc()
        elif failure.failed_before and (failure.error_type in FAILS_THE_SAME
                                        or failure.error_type == OVER_ITS_LIMIT):
            # (a failure that may pass, a read or a new build's own error, is not excused)
            self._failed_again.inc()
        _LOG.warning("failed %s at %s: %s: %s", failure.input_uri, failure.stage,
                     failure.error_type, failure.error_message)
        yield failure_row(failure, self._run_id, self._settings)


class CompressImages(beam.PTransform):
    """Compress a PCollection of :class:`~transforms.matching.InputFile` into outputs and rows.

    The input is that PCollection, or a dict ``{"files": ..., "failures": ...}`` (what
    :class:`~transforms.matching.MatchImages` returns) whose earlier failures join the rows and the
    failures of this transform.

    Parameters
    ----------
    settings : CompressSettings
        What to do to every image.
    output : str
        Output prefix (local folder or fsspec URI); outputs go to
        ``<output>/<relpath>.<params hash><ext>``, the input's extension kept in the name
        (:func:`compress_core.storage.output_name`).
    run_id : str
        Stored in every row.
    skip_existing : bool
        Inputs whose output exists already become ``skipped`` rows, with no read or compute,
        unless the manifest says that output was made from another file under the input's URI
        (another size, content token or modification time).
    storage_options : dict, optional
        ``{protocol: fsspec kwargs}``.
    worker_threads : int, optional
        Threads per worker process for torch and the numba kernels (``None``: library defaults).
    max_seconds_per_image : float, optional
        Time budget of one image's compression; a longer one becomes an ``error`` row with
        ``error_type="TimeoutError"`` (``None``: no budget).
    journal : RunJournal, optional
        Each output is journalled there before it is written, and the journals of stopped
        launches say which input their unrecorded outputs were made from
        (:mod:`transforms.journal`; the caller calls its ``forget()`` once the manifest is in
        place). ``None``: no journal.
    job_folders : sequence of str, optional
        Folders below ``output`` that are the job's own (the manifest's, the dead letters'):
        an input whose output would lie in one is an ``error`` row, not written there.

    Returns
    -------
    dict
        ``rows``: manifest rows (dicts, one per input: ok, skipped or error);
        ``failures``: :class:`~transforms.failures.Failure` records for the dead-letter output.
    """

    def __init__(self, settings: CompressSettings, output: str, run_id: str,
                 skip_existing: bool = False, storage_options: Optional[Mapping] = None,
                 worker_threads: Optional[int] = None,
                 max_seconds_per_image: Optional[float] = None,
                 journal: Optional[RunJournal] = None, job_folders: Sequence[str] = ()):
        super().__init__()
        self._job_folders = tuple(job_folders)
        self._max_seconds = max_seconds_per_image
        self._journal = journal
        self._settings = settings
        self._output = output.rstrip("/")
        self._run_id = run_id
        self._skip_existing = skip_existing
        self._storage_options = dict(storage_options or {})
        self._worker_threads = worker_threads

    def expand(self, inputs):
        if isinstance(inputs, dict):
            files, earlier = inputs["files"], inputs.get("failures")
        else:
            files, earlier = inputs, None
        s, run_id, so = self._settings, self._run_id, self._storage_options
        planned = files | "PlanOutputs" >> CatchFailures(
            PlanOutput(s, self._output, run_id, self._skip_existing, so,
                        journal=self._journal.reader() if self._journal else None,
                        job_folders=self._job_folders),
            "plan", SKIPPED)
        read = planned["ok"] | "ReadImages" >> CatchFailures(
            _ReadImage(so, largest_file(s.max_pixels or DEFAULT_MAX_PIXELS)), "read")
        compressed = read["ok"] | "CompressImage" >> CatchFailures(
            _CompressImage(s, run_id, self._worker_threads, max_seconds=self._max_seconds,
                           launched_by=job_code()),
            "compress")
        written = compressed["ok"] | "WriteImages" >> CatchFailures(
            _WriteImage(so, self._output, journal=self._journal), "write")
        failure_parts = [step[FAILED] for step in (planned, read, compressed, written)]
        if earlier is not None:
            failure_parts.append(earlier)
        failures = tuple(failure_parts) | "CollectFailures" >> beam.Flatten()
        error_rows = failures | "ErrorRows" >> beam.ParDo(_FailureToRow(s, run_id))
        rows = (written["ok"], planned[SKIPPED], error_rows) | "CollectRows" >> beam.Flatten()
        return {"rows": rows, "failures": failures}
