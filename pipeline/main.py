"""The batch job: match images, compress them, write outputs, a manifest and dead letters.

Graph (step labels as they appear in the runner's UI)::

    MatchImages      globs / URI lists -> InputFile           (fsspec, on a worker; each
                     input once, no two with one name, no name an earlier run of the
                     manifest wrote for another input)
    DistributeImages Reshuffle                                 (spread the work)
    CompressImages   plan -> read -> compress -> journal, atomic write  (transforms.compress)
    WriteManifest    rows -> <manifest>/run_id=<id>/part-*.parquet
    ForgetJournal    <manifest>/_journal/run_id=<id>/launch=<tag>/ removed  (transforms.journal)
    WriteDeadLetters failures -> <output>/_dead_letters/run_id=<id>/failures-*.jsonl

Run it with ``python -m pipeline --input 'photos/**/*.jpg' --output out`` (DirectRunner) or
any runner's standard flags; see ``python -m pipeline --help`` and docs/pipeline.md.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
from typing import Dict, Optional, Sequence

import apache_beam as beam
from apache_beam.options.pipeline_options import (
    DebugOptions,
    DirectOptions,
    GoogleCloudOptions,
    PipelineOptions,
    SetupOptions,
    StandardOptions,
    TestOptions,
    WorkerOptions,
)
from apache_beam.runners.runner import PipelineState

from compress_core.flags import in_flags
from compress_core.storage import merge_storage_options
from transforms.compress import CompressImages
from transforms.dead_letters import WriteDeadLetters, clear_stopped_letters
from transforms.earlier_outputs import EarlierOutputs
from transforms.journal import RunJournal
from transforms.manifest import manifest_prefix
from transforms.manifest_writer import WriteManifest, clear_stopped_parts
from transforms.matching import MatchImages
from transforms import metrics
from transforms.metrics import METRICS_NAMESPACE
from transforms.storage_options import (fill_pipeline_options,
                                       storage_options_from_pipeline_options)

from .lease import LaunchLease
from .options import JOB_DEFAULT_SCALE, JobOptions, build_parser, parse_args
from .report.summary import RunSummary, format_summary
from .preflight import (dry_run_problem, empty_folder_name_warnings, gcs_credentials_problem,
                        gcs_locations_problem, is_dataflow, launch_problem,
                        launcher_python_warning, local_paths_problem, missing_encoder_problem,
                        missing_weights_problem, runner_package_problem, runs_locally,
                        workers_without_faces)

__all__ = ["run", "build_pipeline", "summarize_metrics", "exit_status", "RunStopped",
           "RemoteRunInterrupted"]

_LOG = logging.getLogger(__name__)


def build_pipeline(p: beam.Pipeline, job: JobOptions,
                   storage_options: Optional[Dict] = None) -> Dict[str, beam.PCollection]:
    """Add the job's steps to ``p``.

    Parameters
    ----------
    p : apache_beam.Pipeline
    job : JobOptions
    storage_options : dict, optional
        fsspec options per protocol (default: ``job.storage_options``).

    Returns
    -------
    dict
        The ``rows`` and ``failures`` PCollections (for tests and extensions).
    """
    so = job.storage_options if storage_options is None else storage_options
    journal = RunJournal(job.manifest, job.run_id, so)   # (which input each output is for)
    earlier = EarlierOutputs(job.manifest, job.output, job.settings.params_hash(), job.run_id,
                             storage_options=so)
    matched = p | "MatchImages" >> MatchImages(
        patterns=job.inputs, input_lists=job.input_lists, input_base=job.input_base,
        exclude=(job.output, job.manifest, job.dead_letters_root),
        storage_options=so, earlier=earlier)
    files = matched["files"] | "DistributeImages" >> beam.Reshuffle()
    out = {"files": files, "failures": matched["failures"]} | "CompressImages" >> CompressImages(
        job.settings, job.output, job.run_id, skip_existing=job.skip_existing,
        storage_options=so, worker_threads=job.worker_threads,
        max_seconds_per_image=job.max_seconds_per_image, journal=journal,
        job_folders=(job.manifest, job.dead_letters_root))
    parts = out["rows"] | "WriteManifest" >> WriteManifest(job.manifest, job.run_id,
                                                           num_shards=job.manifest_shards)
    # (the manifest now names every output written: the run's journal has said its piece)
    letters = out["failures"] | "WriteDeadLetters" >> WriteDeadLetters(
        job.dead_letters, job.run_id, storage_options=so, within=job.output, journal=journal)
    # (after the dead letters too, which mark the journal: a mark written after it was
    # removed stayed behind a finished run)
    _ = parts | "ForgetJournal" >> beam.Map(lambda _, written, journal=journal: journal.forget(),
                                            written=beam.pvalue.AsList(letters))
    return out


def _auto_worker_threads(options: PipelineOptions) -> Optional[int]:
    """Threads per worker process when several DirectRunner processes share this machine."""
    direct = options.view_as(DirectOptions)
    if (direct.direct_running_mode or "in_memory") != "multi_processing":
        return None
    workers = max(1, int(direct.direct_num_workers or 1))
    return max(1, (os.cpu_count() or 1) // workers)


#: The loggers whose INFO lines a local worker process keeps where Beam's harness is quieted
#: (:func:`_quiet_local_workers`): this job's own.
_OWN_LOGGERS = ("pipeline", "transforms", "compress_core")


def _quiet_local_workers(options: PipelineOptions) -> None:
    """The DirectRunner's ``multi_processing`` workers log at WARNING but for this job's own
    loggers, where the flags do not say otherwise (``--default_sdk_harness_log_level``,
    ``--sdk_harness_log_level_overrides``): each worker process wrote Beam's harness start-up
    at INFO (two workers and 47 photos: 46 of 75 lines; job review 46)."""
    direct = options.view_as(DirectOptions)
    if not _is_direct_runner(options) or direct.direct_running_mode != "multi_processing":
        return
    worker = options.view_as(WorkerOptions)
    if worker.default_sdk_harness_log_level is None and \
            worker.sdk_harness_log_level_overrides is None:
        worker.default_sdk_harness_log_level = "WARNING"
        worker.sdk_harness_log_level_overrides = {name: "INFO" for name in _OWN_LOGGERS}


def _dataflow_threads(options: PipelineOptions, job: JobOptions) -> JobOptions:
    """On Dataflow, one image at a time per worker process and one thread for its work, where
    the flags do not say otherwise (``--number_of_worker_harness_threads``,
    ``--worker_threads``): the README's command set neither, and each of Dataflow's Python
    processes (one per vCPU) then took several images at once, about 0.5 GB each at 24 MP
    (packaging review 41), each with all the machine's cores for torch and Numba."""
    if not is_dataflow(options.view_as(StandardOptions).runner):
        return job
    debug = options.view_as(DebugOptions)
    if debug.number_of_worker_harness_threads is None:
        # with one process per VM (Dataflow's advice to load a large model once per VM), one
        # image at a time per vCPU: 1 had left 3 of an n2-standard-4's 4 vCPUs idle, said
        # nowhere (Dataflow review 45)
        one_process = debug.lookup_experiment("no_use_multiple_sdk_containers")
        threads = _vcpus(options.view_as(WorkerOptions).machine_type) if one_process else 1
        debug.number_of_worker_harness_threads = threads
        _LOG.info("--number_of_worker_harness_threads %d (one image at a time per %s; give it "
                  "to run more)", threads, "vCPU of the VM's one worker process" if one_process
                  else "worker process")
    return job if job.worker_threads is not None else _replace(job, worker_threads=1)


def _vcpus(machine_type: Optional[str]) -> int:
    """The vCPUs of a Compute Engine machine type (``n2-standard-4``: 4, ``custom-6-16384`` and
    ``n2-custom-6-16384``: 6); 1 where none is given (Dataflow's default batch machine,
    ``n1-standard-1``) or the name says none (``e2-small``)."""
    name = (machine_type or "").rsplit("/", 1)[-1]
    found = re.fullmatch(r"(?:[a-z0-9]+-)?custom-(\d+)-\d+(?:-ext)?", name) or \
        re.fullmatch(r"[a-z0-9]+-[a-z]+-(\d+)(?:-[a-z0-9]+)*", name)
    return max(1, int(found.group(1))) if found else 1


def _is_direct_runner(options: PipelineOptions) -> bool:
    name = options.view_as(StandardOptions).runner or "DirectRunner"
    return isinstance(name, str) and name.lower() in ("directrunner", "direct")


def run(argv: Optional[Sequence[str]] = None, save_main_session: bool = True,
        test_pipeline: Optional[beam.Pipeline] = None, progress: Optional[dict] = None):
    """Build and run the job, wait for it, log a summary.

    Parameters
    ----------
    argv : sequence of str, optional
        Command-line arguments (default ``sys.argv[1:]``); our flags plus any Beam flags.
    save_main_session : bool
        Beam's ``--save_main_session`` (pickle the ``__main__`` module's globals for workers).
    test_pipeline : apache_beam.Pipeline, optional
        Run in this pipeline (e.g. a ``TestPipeline``) instead of a new one; its options then
        configure Beam's file systems.
    progress : dict, optional
        Filled as the launch goes (for :mod:`pipeline.__main__`, whose interrupt handler
        reads it): ``"job"`` (the parsed :class:`~pipeline.options.JobOptions`) and
        ``"storage"`` once the run starts, ``"result"`` once the job has finished (its
        manifest written), before the summary is read and logged.

    Returns
    -------
    apache_beam.runners.runner.PipelineResult
        Finished; ``summarize_metrics(result)`` gives the counts.

    Raises
    ------
    SystemExit
        Status 2 on invalid flags, a ``--run_id`` an earlier run of this manifest used, an
        ``--output`` / ``--manifest`` that is a file or cannot be written, a local path on
        Dataflow, ``--dry_run`` on another runner, an output format whose encoder or a model
        whose weights are missing where the job runs here (:mod:`pipeline.preflight`), a
        runner whose package is missing (Dataflow without ``apache-beam[gcp]``), or another
        launch running into the same manifest (:mod:`pipeline.lease`). A dry run asks no
        store (it builds the job offline).
    """
    job, beam_argv = parse_args(argv)
    options = test_pipeline.options if test_pipeline is not None else PipelineOptions(beam_argv)
    # before the Pipeline, whose option checks may ask the cloud (a default bucket)
    problem = local_paths_problem(options.view_as(StandardOptions).runner, {
        "--input": job.inputs, "--input_list": job.input_lists, "--input_base": [job.input_base],
        "--output": [job.output], "--manifest": [job.manifest]})
    problem = problem or dry_run_problem(options.view_as(StandardOptions).runner,
                                         options.view_as(TestOptions).dry_run)
    problem = problem or gcs_locations_problem(
        options.view_as(StandardOptions).runner,
        options.view_as(GoogleCloudOptions).temp_location,
        options.view_as(GoogleCloudOptions).staging_location,
        options.view_as(TestOptions).dry_run)
    problem = problem or missing_encoder_problem(options.view_as(StandardOptions).runner,
                                                 job.settings)
    problem = problem or missing_weights_problem(options.view_as(StandardOptions).runner,
                                                 job.settings)
    if problem:
        build_parser().error(problem)
    warning = workers_without_faces(options.view_as(StandardOptions).runner,
                                    options.view_as(SetupOptions).setup_file,
                                    options.view_as(WorkerOptions).sdk_container_image,
                                    job.settings)
    if warning:
        _LOG.warning("%s", warning)
    warning = launcher_python_warning(options.view_as(StandardOptions).runner,
                                      options.view_as(WorkerOptions).sdk_container_image)
    if warning:
        _LOG.warning("%s", warning)
    for warning in empty_folder_name_warnings({
            "--input": job.inputs, "--input_list": job.input_lists,
            "--input_base": [job.input_base], "--output": [job.output],
            # (the default <output>/_manifest: said of --output already)
            "--manifest": ([] if job.manifest == f"{job.output.rstrip('/')}/_manifest"
                           else [job.manifest])}):
        _LOG.warning("%s", warning)
    for unused in job.settings.options_without_a_map():   # (said, not refused: they enter
        _LOG.warning("%s", in_flags(unused, "job"))     # the output names since before)
    dry_run = options.view_as(TestOptions).dry_run not in (None, False, "")
    # a launch asks the stores first: a runner whose package is missing is said before (a
    # dry run asks none, and Beam's checks of its options come first there, as before)
    problem = None if dry_run else (
        runner_package_problem(options.view_as(StandardOptions).runner)
        or gcs_credentials_problem({"--manifest": job.manifest}))
    if problem:
        build_parser().error(problem)
    problem = fill_pipeline_options(   # (Beam's --s3_* too; no secrets in Dataflow's console)
        options, job.storage_options,
        secrets=not is_dataflow(options.view_as(StandardOptions).runner))
    if problem:
        build_parser().error(problem)
    storage = merge_storage_options(storage_options_from_pipeline_options(options),
                                    job.storage_options)
    # (a dry run asks no store: it builds the Dataflow job offline, submitting nothing)
    problem = None if dry_run else launch_problem(job.output, job.manifest, job.dead_letters,
                                                  job.run_id, storage,
                                                  inputs=job.inputs,
                                                  input_lists=job.input_lists)
    if problem:  # (said before the Pipeline is made, whose log says what would run)
        build_parser().error(problem)
    job = _dataflow_threads(options, job)
    _quiet_local_workers(options)
    if test_pipeline is not None:
        p = test_pipeline
    else:
        options.view_as(SetupOptions).save_main_session = save_main_session
        try:
            p = beam.Pipeline(options=options)
        except (ValueError, ImportError) as exc:   # Beam's own checks of its options (a
            # runner's: Dataflow's project and buckets; --pickle_library dill without dill):
            # one line, as this job's own (a 17-line traceback, exit 1)
            build_parser().error(" ".join(str(exc).split()))
        except Exception as exc:  # noqa: BLE001 - Dataflow's checks asking the cloud
            if not is_dataflow(options.view_as(StandardOptions).runner):
                raise
            # (its default bucket, looked for without --temp_location: a RetryError after 2
            # minutes offline, a 150-line traceback and exit 1; Dataflow review 45)
            cloud = options.view_as(GoogleCloudOptions)
            build_parser().error(
                f"Beam's checks of the Dataflow options failed ({type(exc).__name__}: "
                f"{' '.join(str(exc).split())[:300]})" + (
                    "" if cloud.temp_location or cloud.staging_location else
                    "; without --temp_location Beam looks for or makes a default bucket, "
                    "which needs Cloud Storage and the right to create buckets: give "
                    "--temp_location gs://<bucket>/<folder>"))
    if job.worker_threads is None:
        threads = _auto_worker_threads(options)
        if threads is not None:
            job = _replace(job, worker_threads=threads)
    build_pipeline(p, job, storage)
    # one launch at a time per manifest (pipeline.lease): before the run reads anything;
    # nothing between this and the run below may stop the launch (its lease would stay)
    lease = None if dry_run else LaunchLease(job.manifest, job.run_id, storage)
    try:
        problem = lease.acquire() if lease is not None else None
    except Exception as exc:  # noqa: BLE001 - the store's own errors, said in one line
        problem = (f"--manifest {job.manifest}: the launch's lease cannot be written there "
                   f"({type(exc).__name__}: {' '.join(str(exc).split())})")
    if problem:
        build_parser().error(problem)
    runner = options.view_as(StandardOptions).runner or "DirectRunner"
    with lease or contextlib.nullcontext(), _worker_thread_env(options, job.worker_threads):
        # (inside the lease's with block, entered first: an interrupt from here on releases it)
        if not dry_run:   # (a stopped launch's, whose failures this one tries again;
            # launch_problem has refused a finished run's id, and the lease any launch running)
            clear_stopped_letters(job.dead_letters, storage)
            clear_stopped_parts(manifest_prefix(job.manifest, job.run_id), storage)
        if progress is not None:
            progress.update(job=job, storage=storage)
        _LOG.info("run %s: %s -> %s (manifest %s) on %s%s", job.run_id,
                  ", ".join(job.inputs + job.input_lists), job.output, job.manifest, runner,
                  # (--format webp alone halved every side, and only the summary's "89%
                  # saved" hinted at it: docs review 45)
                  f"; no size target given: each side scaled by {JOB_DEFAULT_SCALE:g}, the "
                  "job's default (--scale 1 keeps the size)" if job.default_scale else "")
        try:
            result = p.run()
        except ImportError as exc:  # a runner whose extra is missing (Dataflow: [gcp])
            build_parser().error(f"--runner {runner}: {exc}")
        except Exception as exc:   # (the DirectRunner runs the job here)
            if interrupted(exc):   # (Ctrl-C: pipeline.__main__ says it)
                raise
            if not runs_locally(runner):
                # a runner that runs the job elsewhere had not started it: a launch's error,
                # said whole (Flink's job server, offline, was "a step failed", exit status 3,
                # its cause cut in the middle of a URL: docs review 34)
                build_parser().error(f"--runner {runner}: the job was not started: "
                                     f"{type(exc).__name__}: {' '.join(str(exc).split())}")
            raise _stopped(job.run_id, exc) from exc
        try:
            result.wait_until_finish()
        except KeyboardInterrupt as exc:
            if runs_locally(runner):   # (the direct runners ran the job inside p.run())
                raise
            # the job runs elsewhere (Dataflow, Flink, Spark), and goes on after this launcher
            # unless it is cancelled (a scheduler's timeout, SIGTERM, had said "the run
            # stopped" while the job ran on, and a --skip_existing retry paid for it twice)
            raise RemoteRunInterrupted(job.run_id, runner, result) from exc
        except Exception as exc:
            if interrupted(exc):
                raise
            raise _stopped(job.run_id, exc) from exc
        if progress is not None:   # (finished: an interrupt from here on ends no run)
            progress["result"] = result
    if dry_run:   # (its summary said "0 images ... outputs: ..." as if a run had found none)
        _LOG.info("run %s: dry run: the %s job was built and its options checked; it was not "
                  "submitted, and nothing was read or written", job.run_id, runner)
        return result
    summary = summarize_metrics(result, job)
    _LOG.info(format_summary(summary))   # (its own lines kept: pipeline.__main__)
    if summary.unwritten or summary.letters_unwritten:
        _LOG.error("run %s: %s could not be written (a full disk, a folder the job may not "
                   "write: see the failures and the log): exit status 1", job.run_id,
                   " and ".join(f"{n} {what}" for n, what in (
                       (summary.unwritten, "output(s)"),
                       (summary.letters_unwritten, "dead letter(s)")) if n))
    elif exit_status(summary):
        _LOG.error("run %s: every image failed (%d), nothing was written%s: exit status 1",
                   job.run_id, summary.failed, _skips_said(summary))
    return result


def interrupted(exc: Optional[BaseException]) -> bool:
    """Whether ``exc`` is, or was raised while handling, a ``KeyboardInterrupt`` (the runner
    raises its own error for one that stopped a step)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


class RemoteRunInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM while the launcher waited for a job that runs elsewhere (Dataflow,
    Flink, Spark): the job is cancelled through the runner's public
    ``PipelineResult.cancel()``; where that fails, or a second interrupt stops it (Beam
    retries the service for minutes offline), the message names the job that may still run;
    where the job had ended first, it says so.

    Attributes
    ----------
    run_id, runner : str
    job_id : str or None
        The runner's id of the job, where its result gives one (``job_id()``).
    cancelled : bool
        Whether the runner took the cancel of a job still running.
    ended : str or None
        The state of a job that had ended before the cancel (``DONE``, ``FAILED`` ...).
    reason : str or None
        Why the cancel failed.
    """

    def __init__(self, run_id: str, runner: str, result):
        self.run_id, self.runner, self.reason, self.ended = run_id, runner, None, None
        job_id = getattr(result, "job_id", None)
        try:
            self.job_id = str(job_id()) if callable(job_id) else None
        except Exception:   # noqa: BLE001 - a job id is said where the runner has one
            self.job_id = None
        try:
            state = result.cancel()
        except KeyboardInterrupt:   # (a second Ctrl-C or SIGTERM: stop asking, say so)
            self.reason = "a second interrupt stopped the cancel"
        except Exception as exc:   # noqa: BLE001 - said, with the job left running
            self.reason = " ".join(f"{type(exc).__name__}: {exc}".split())
        else:
            if isinstance(state, str) and state != PipelineState.CANCELLED \
                    and PipelineState.is_terminal(state):
                self.ended = state   # (Beam's cancel of an ended job logs and returns)
        self.cancelled = self.reason is None and self.ended is None
        job = f"{runner} job {self.job_id}" if self.job_id else f"its {runner} job"
        if self.cancelled:
            said = (f"run {run_id}: {job} was cancelled before it wrote its manifest (the "
                    "runner took the cancel; its workers stop within minutes)")
        elif self.ended == PipelineState.DONE:
            said = (f"run {run_id}: {job} had finished (DONE) before the cancel; its manifest "
                    "says what it did")
        elif self.ended:
            said = (f"run {run_id}: {job} had ended ({self.ended}) before the cancel; the "
                    "runner's log says why, and a --skip_existing rerun resumes it "
                    "(docs/pipeline.md, Reruns)")
        else:
            how = (f"gcloud dataflow jobs cancel {self.job_id or 'JOB_ID'} --region REGION"
                   if is_dataflow(runner) else "the cluster's own tools")
            said = (f"run {run_id}: {job} may still be running: the cancel failed "
                    f"({self.reason}); it will write its outputs and manifest unless you cancel "
                    f"it ({how}); a rerun before it ends would compress the same images again")
        super().__init__(said)


#: What each of the job's steps does, in a stopped run's line (:class:`RunStopped`).
_STEPS = {"MatchImages": "listing the inputs", "DistributeImages": "spreading the inputs",
          "CompressImages": "compressing the images", "WriteManifest": "writing the manifest",
          "WriteDeadLetters": "writing the dead letters"}


class RunStopped(RuntimeError):
    """The runner stopped the run before it finished: a whole step failed, not one image
    (which is a row): a sink that could not write (the output's disk full, a store gone), an
    error of the job's own. Raised from the runner's error.

    Attributes
    ----------
    run_id : str
    step : str or None
        The job's step that failed (``WriteManifest``, ``WriteDeadLetters`` ...), where the
        runner's error names it.
    cause : str
        The runner's error: the line that states the exception (a worker's relayed
        traceback's last), without the step's name.
    """

    def __init__(self, run_id: str, step: Optional[str], cause: str):
        self.run_id, self.step, self.cause = run_id, step, cause
        doing = _STEPS.get(step, f"its step {step}" if step else "a step")
        super().__init__(
            f"run {run_id} stopped: {doing} failed ({cause}); its manifest was not written. "
            "Each output it wrote is whole (written atomically): a --skip_existing rerun "
            "adopts them once the cause is mended (docs/pipeline.md, Reruns)")


def _stopped(run_id: str, error: Exception) -> RunStopped:
    """:class:`RunStopped` for the runner's ``error``."""
    # (a step named inside the repr of an exception's arguments has its quotes escaped: an
    # S3ClientError's tuple left "[while running \'WriteManifest/...\']" in the line, cut at
    # 300 characters in the middle of the step's name; edge review 37)
    text = str(error).strip().replace("\\'", "'")
    step = re.search(r"\[while running '([^'/\]]+)", text)
    lines = [line.strip() for line in
             re.sub(r"\s*\[while running '[^\]]*'\]", "", text).splitlines() if line.strip()]
    # the error itself: a worker's relayed traceback (the multi-threaded and multi-process
    # modes) ends with it; "Traceback (most recent call last):" was taken for it (diff review)
    said = [line for line in lines if _ERROR_LINE.match(line)]
    cause = said[-1] if said else lines[0] if lines else type(error).__name__
    if len(cause) > _CAUSE_CHARS:   # (at a word near the end; a long path or URL is cut
        kept = cause[:_CAUSE_CHARS]   # where it must be, not dropped: diff review 37)
        word = kept.rsplit(" ", 1)[0]
        cause = (word if len(word) >= _CAUSE_CHARS - 40 else kept) + " ..."
    if not cause.startswith(type(error).__name__) and type(error) is not RuntimeError \
            and not said:
        cause = f"{type(error).__name__}: {cause}"
    if _WORKER_LOST in text:
        # (the words of a multi_processing worker's end: a process the system killed, out of
        # memory, raises nothing of its own; the line said "a step failed (Channel closed
        # prematurely.)", which named neither: job review 43)
        cause = ("a worker process ended while it held images (killed: the system's "
                 f"out-of-memory killer, kill -9?); {_WORKER_LOST}")
    return RunStopped(run_id, step.group(1) if step else None, cause)


#: What the DirectRunner says when a worker process of its multi_processing mode ends.
_WORKER_LOST = "Channel closed prematurely"


#: The most of the runner's error a stopped run's line repeats (the runner's traceback file
#: holds all of it).
_CAUSE_CHARS = 300

#: A line that states an exception, as Python writes its last line of a traceback.
_ERROR_LINE = re.compile(r"[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b(: .*)?$")


def _skips_said(summary: RunSummary) -> str:
    """What the skips beside a failed run were: written before, or failed before."""
    written = summary.skipped - summary.failed_before
    said = [f"{n} skipped, {why} before" for n, why in ((written, "written"),
                                                      (summary.failed_before, "failed")) if n]
    return f" ({'; '.join(said)})" if said else ""


@contextlib.contextmanager
def _worker_thread_env(options: PipelineOptions, threads: Optional[int]):
    """Thread limits for the DirectRunner's worker processes, through their environment.

    ``multi_processing`` workers are child processes started during ``run()``; with
    ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` / ``NUMBA_NUM_THREADS`` set they never start more
    threads than their share of the cores (OpenMP teams of several threads per worker on a busy
    machine spin-wait for each other and run many times slower). The launcher's environment is
    restored afterwards.
    """
    direct = options.view_as(DirectOptions)
    if not threads or (direct.direct_running_mode or "in_memory") != "multi_processing" \
            or not _is_direct_runner(options):
        yield
        return
    names = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
    saved = {k: os.environ.get(k) for k in names}
    os.environ.update({k: str(threads) for k in names})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _replace(job: JobOptions, **changes) -> JobOptions:
    import dataclasses

    return dataclasses.replace(job, **changes)


def _counter(result, name: str) -> Optional[int]:
    from apache_beam.metrics.metric import MetricsFilter

    try:
        found = result.metrics().query(
            MetricsFilter().with_namespace(METRICS_NAMESPACE).with_name(name))["counters"]
    except Exception:  # noqa: BLE001 - some runners do not report metrics
        return None
    if not found:
        return 0
    values = [c.committed if c.committed is not None else c.attempted for c in found]
    return int(sum(v or 0 for v in values))


def exit_status(summary: RunSummary) -> int:
    """The job's exit status: 1 when images were read and every one failed (nothing written:
    weights missing on the workers, a bucket of files the job cannot decode), so that a
    scheduler sees the run fail; else 0. A run with some failures exits 0 (a bad file never
    stops the rest; its row, dead letter and the summary say what happened), and so does a run
    with nothing to do (no input matched, everything skipped). Skipped inputs are not read: a
    daily ``--skip_existing`` run whose every new photo failed exited 0 beside its skips, and
    now exits 1. Files that no decoder recognises as a picture (a sidecar ``.xmp`` or
    ``Thumbs.db`` that a folder input takes; ``error_type="NotAnImageError"``): beside skipped
    inputs they alone do not fail the run (the daily run of a folder with one sidecar and
    nothing new exited 1 every day); alone, they still do. Pictures that fail (truncated or
    corrupt, empty files, a HEIC without its decoder, a file named like a picture whose bytes
    no decoder recognises: :func:`compress_core.images.named_like_a_picture`) always count.
    A ``--skip_existing`` rerun reads neither again while it is the same file
    (:func:`transforms.plan.fails_again`: skipped, failed before). After an upgrade (or
    without ``--skip_existing``) they are tried again; pictures that an earlier run failed on
    and that fail again (``images_failed_again``) do not fail the run beside skipped inputs
    either: the first nightly run after an upgrade exited 1 on one damaged photo it had
    skipped every night before (compat review 27). Nor do files whose name is not UTF-8
    (``inputs_named_not_utf8``), which no run reads until they are renamed and no rerun skips:
    one Latin-1 name in a folder made every quiet night's ``--skip_existing`` run exit 1 (docs
    review 28). Other failures to list (a folder the job may not read, a store down, a named
    input that is not there) count: they may pass, and a scheduler should see them. And any
    output the job could not write (``outputs_unwritten``: a full disk, a folder it may not
    write) makes it 1 however many were written: a night whose disk filled up after 8 of 15
    outputs exited 0 (operator review 39); the storage's failure, not a picture's. So does a
    dead letter it could not write (``dead_letters_unwritten``)."""
    if summary.unwritten or summary.letters_unwritten:
        return 1
    if not summary.failed or summary.ok:
        return 0
    excused = summary.not_images + summary.failed_again + summary.not_utf8
    return 1 if summary.failed > excused or not summary.skipped else 0


def summarize_metrics(result, job: Optional[JobOptions] = None) -> RunSummary:
    """A :class:`RunSummary` from a finished run's metrics (images ok/failed/skipped, bytes)."""
    get = lambda name: _counter(result, name) or 0  # noqa: E731
    return RunSummary(
        run_id=job.run_id if job else "?",
        ok=get(metrics.IMAGES_OK), failed=get(metrics.IMAGES_FAILED),
        skipped=get(metrics.IMAGES_SKIPPED),
        bytes_in=get(metrics.BYTES_IN), bytes_out=get(metrics.BYTES_OUT),
        model_loads=_counter(result, metrics.MODEL_LOADS),
        set_apart=get(metrics.NAMES_SET_APART), replaced=get(metrics.IMAGES_REPLACED),
        damaged=get(metrics.OUTPUTS_DAMAGED),
        unrecorded=get(metrics.SKIPPED_UNRECORDED),
        failed_before=get(metrics.SKIPPED_FAILED_BEFORE),
        not_adopted=get(metrics.UNRECORDED_NOT_ADOPTED),
        same_bytes=get(metrics.IMAGES_UNCHANGED_BY_SHA256),
        missed=get(metrics.QUALITY_TARGET_MISSED),
        missed_by_case=get(metrics.INPUTS_MISSED_BY_CASE),
        not_images=get(metrics.INPUTS_NOT_IMAGES), failed_again=get(metrics.IMAGES_FAILED_AGAIN),
        not_utf8=get(metrics.INPUTS_NAMED_NOT_UTF8),
        letters_unwritten=get(metrics.DEAD_LETTERS_UNWRITTEN),
        unwritten=get(metrics.OUTPUTS_UNWRITTEN),
        named_otherwise=get(metrics.NAMED_OTHERWISE),
        larger=get(metrics.OUTPUTS_LARGER_THAN_INPUT),
        output=job.output if job else None,
        manifest=manifest_prefix(job.manifest, job.run_id) if job else None,
        dead_letters=job.dead_letters if job else None,
    )
