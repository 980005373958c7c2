"""``python -m pipeline ...``: run the batch job (see :mod:`pipeline.main`)."""
import logging
import os
import signal
import sys
import threading

from compress_core.storage import for_terminal

from transforms.manifest import manifest_prefix

from .main import RemoteRunInterrupted, RunStopped, exit_status, interrupted, run, summarize_metrics
from .preflight import earlier_run_folders

#: The exit status of a run stopped by Ctrl-C (128 + SIGINT, as a shell reports it).
INTERRUPTED = 130
#: The exit status of a run stopped by SIGTERM (128 + 15).
TERMINATED = 143
#: The exit status of a run the runner stopped (:class:`~pipeline.main.RunStopped`).
STOPPED = 3


class _DropInterrupts(logging.Filter):
    """Drops the runner's log record of a step stopped by Ctrl-C (its traceback, 50 lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and interrupted(record.exc_info[1]))


class ShownMessages(logging.Formatter):
    """Messages that no file name can forge, erase or recolour lines of: a text argument (a
    name, a URI) has its control characters escaped, line breaks included (``bad\\n2026-...``:
    an uploaded file named ``bad\\n2026-12-05 00:00:00,000 INFO pipeline.main: run X: ...``
    forged a log line, security review 26; ``\\x1b[2K`` erased one, review 27); the message's
    own line breaks stay (the run's summary is several lines), and each line after the first
    is indented, so that nothing inside a message starts a line as a record does (names in
    other arguments, an exception's message, keep their line breaks under that rule). A
    traceback is written as Python formats it."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        if isinstance(record.args, tuple) and record.args:
            try:
                record.message = str(record.msg) % tuple(
                    for_terminal(arg) if isinstance(arg, str) else arg for arg in record.args)
            except (TypeError, ValueError):   # (as logging itself would have failed)
                pass
        first, *rest = for_terminal(record.message, line_breaks=True).split("\n")
        record.message = "\n".join(
            [first, *(line if line[:1].isspace() or not line else "  " + line for line in rest)])
        return super().formatMessage(record)


def main(argv=None) -> int:
    """Entry point: configure logging, run, return the exit status."""
    logging.basicConfig(level=logging.INFO, force=True)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(ShownMessages("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger("apache_beam").setLevel(logging.WARNING)
    steps = logging.getLogger("apache_beam.runners.common")
    if not any(isinstance(f, _DropInterrupts) for f in steps.filters):
        steps.addFilter(_DropInterrupts())
    # "No shards found to finalize" when a run has no dead letters is not news.
    logging.getLogger("apache_beam.io.filebasedsink").setLevel(logging.ERROR)
    terms: list = []
    # the launch as it goes: its job, and its result once the job has finished (its manifest
    # written: its status stands), set inside run() before the summary is logged (a SIGTERM
    # right after the summary's "manifest:" line had ended a finished run with 143)
    progress: dict = {}

    said = threading.Event()   # the interrupt reached main's own handling: no more nudges

    def terminate(signum, frame):   # as Ctrl-C (what timeout, systemd and Kubernetes send:
        terms.append(signum)        # it ended the run without a word, exit status 143)
        if "result" not in progress:
            if len(terms) == 1:
                _nudge_until(said)
            raise KeyboardInterrupt

    main_thread = threading.current_thread() is threading.main_thread()
    before = signal.signal(signal.SIGTERM, terminate) if main_thread else None
    try:
        result = run(argv, progress=progress)
        progress.setdefault("result", result)
        return exit_status(summarize_metrics(result))
    except BaseException as exc:  # noqa: BLE001 - an interrupt is said in one line
        said.set()
        if "result" in progress and interrupted(exc):   # (a Ctrl-C once the run was over:
            return exit_status(summarize_metrics(progress["result"]))   # its status)
        if isinstance(exc, RunStopped) and not interrupted(exc):
            # (the runner's 100-400 lines of traceback had ended it, exit status 1: the
            # status of a run whose every image failed; operator review 28)
            print(f"error: {for_terminal(str(exc))}; the runner's traceback: "
                  f"{_traceback_file(exc)}", file=sys.stderr)
            return STOPPED
        if not interrupted(exc):
            raise
        how = "terminated (SIGTERM)" if terms else "interrupted"
        if isinstance(exc, RemoteRunInterrupted):
            print(f"{how}: {for_terminal(str(exc))}"
                  + ("; each output it wrote is whole (written atomically); a --skip_existing "
                     "rerun resumes it (docs/pipeline.md, Reruns)" if exc.cancelled else ""),
                  file=sys.stderr)
        elif _manifest_written(progress):
            # stopped as it ended: Beam had written the manifest, and had not yet returned
            job = progress["job"]
            print(f"{how}: run {job.run_id} was stopped as it ended: its manifest was "
                  f"written ({manifest_prefix(job.manifest, job.run_id)}); python -m "
                  f"pipeline.report {job.manifest} says what it did (its outputs are whole; "
                  "a --skip_existing rerun needs another --run_id)", file=sys.stderr)
        else:
            print(f"{how}: the run stopped before writing its manifest; each output it wrote "
                  "is whole (written atomically); a --skip_existing rerun resumes it "
                  "(docs/pipeline.md, Reruns)", file=sys.stderr)
        return TERMINATED if terms else INTERRUPTED
    finally:
        said.set()
        if main_thread:
            signal.signal(signal.SIGTERM, before)


#: Seconds between the SIGTERMs a launcher sends itself while a first one has not ended its
#: run (:func:`_nudge_until`).
NUDGE_SECONDS = 15.0


def _nudge_until(said: threading.Event) -> None:
    """After a first SIGTERM: the same again every :data:`NUDGE_SECONDS` until ``said``. With
    ``--direct_running_mode multi_processing``, Beam's clean-up after the interrupt joined a
    worker's thread that never ended, and the launcher hung for good on one SIGTERM, its lease
    written on (Kubernetes sends one, then SIGKILL: a pod ended without a word; diff review
    44, 3 runs in 4 at 1.5-2 s after the launch); a second SIGTERM breaks the join."""
    def nudge():
        while not said.wait(NUDGE_SECONDS):
            os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=nudge, name="sigterm-nudge", daemon=True).start()


def _manifest_written(progress: dict) -> bool:
    """Whether the interrupted run's manifest partition exists (Beam moves its parts there
    once they are whole), where the launch got that far; a store that cannot be asked says
    no."""
    job = progress.get("job")
    if job is None:
        return False
    try:
        return manifest_prefix(job.manifest, job.run_id) in earlier_run_folders(
            job.manifest, job.dead_letters, job.run_id, progress.get("storage"))
    except Exception:   # noqa: BLE001 - a store that cannot be asked now: as before
        return False


def _traceback_file(exc: BaseException) -> str:
    """Where the runner's traceback of ``exc`` is kept (a file in the temporary folder), or
    why it is not."""
    import tempfile
    import traceback

    try:
        with tempfile.NamedTemporaryFile("w", prefix="semantic-compress-stopped-",
                                         suffix=".txt", delete=False,
                                         errors="backslashreplace") as fh:
            fh.write("".join(traceback.format_exception(exc)))
        return fh.name
    except OSError as error:   # (the temporary folder's disk full too)
        return f"not kept ({error})"


def ignore_signals_once_done() -> None:
    """After the run (its outputs and manifest written): SIGTERM and Ctrl-C ignored while
    Python shuts Beam's and torch's modules down (0.5-1.5 s, its own handlers already reset
    there, which ignored signals are not): a scheduler's timeout landing then had ended a
    finished run with status 143 (130) and not a word (README review 39); it exits with the
    run's own status."""
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_IGN)


def exit_now(status: int) -> None:
    """End an interrupted run's process at once, its output flushed, with ``status``. An
    interrupt (Ctrl-C, a scheduler's SIGTERM) may land inside Beam's ``StateSampler.start()``
    between starting its sampling thread, which is no daemon, and marking it started: nothing
    stops that thread, Python's exit waited on it for ever, and with SIGTERM and Ctrl-C then
    ignored only SIGKILL ended it (job review 44: 2 SIGTERMs in about 25). The run is over and
    said; each output it wrote is whole."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):   # (a closed pipe, a closed stream)
            pass
    os._exit(status)


if __name__ == "__main__":
    # the program as typed, in the usage and errors of Beam's own option parser too
    # (operator review 24: a bare --dry_run was refused as "__main__.py: error: ...")
    sys.argv[0] = "python -m pipeline"
    status = main()
    if status in (INTERRUPTED, TERMINATED):
        exit_now(status)
    ignore_signals_once_done()
    sys.exit(status)
