"""Command-line options of the batch job.

Our flags are parsed with :func:`argparse.ArgumentParser.parse_known_args`; everything else
(``--runner``, ``--direct_num_workers``, ``--direct_running_mode``, ``--project``, ``--region``,
``--temp_location``, ``--setup_file``, ``--s3_endpoint_url`` ...) goes to Beam's
``PipelineOptions`` untouched. Values are validated here, once, before any graph is built.
"""
from __future__ import annotations

import argparse
import functools
import datetime as _dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from compress_core.flags import (BuildVersion, OneLineParser, add_option_flags, flag_name,
                                  in_flags, option_values, spelled_otherwise, spellings)
from compress_core.request import EVERY_TARGET, OPTIONS, option
from compress_core.storage import folder_uri, normalize_uri, shown, undecodable
from transforms.compress import CompressSettings
from transforms.manifest import RUN_ID

__all__ = ["JobOptions", "build_parser", "parse_args", "new_run_id", "JOB_DEFAULT_SCALE"]

#: The job's ``scale`` where no target is given (``EVERY_TARGET``) and the method is not jpeg:
#: an archive job halves each side unless told otherwise.
JOB_DEFAULT_SCALE = 0.5


def new_run_id() -> str:
    """A fresh, sortable run id: UTC time plus 6 random hex digits (``20261125T130501Z-1a2b3c``)."""
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{now}-{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class JobOptions:
    """The job's own options, validated.

    Attributes
    ----------
    inputs : tuple of str
        Globs, folders or files (``--input``, repeatable).
    input_lists : tuple of str
        Text files of URIs (``--input_list``, repeatable).
    input_base : str or None
        Folder that output names of listed URIs are made relative to.
    output : str
        Output folder, spelled once (:func:`~compress_core.storage.folder_uri`: a local folder
        as its absolute path, ``s3a://`` as ``s3://`` ...).
    manifest : str
        Manifest root (default ``<output>/_manifest``), spelled as ``output``.
    dead_letters : str
        Dead-letter folder of this run (``<output>/_dead_letters/run_id=<id>``); every run's
        are in :attr:`dead_letters_root`.
    run_id : str
    skip_existing : bool
    settings : CompressSettings
    storage_options : dict
        ``{protocol: fsspec kwargs}`` from ``--storage_options``.
    worker_threads : int or None
        Threads per worker process for torch/numba (None: automatic).
    manifest_shards : int
        At most this many manifest part files (0: one per bundle).
    max_seconds_per_image : float or None
        Per-image compression time budget; longer images become ``TimeoutError`` rows.
    default_scale : bool
        No size target was given: the job's default ``scale`` (:data:`JOB_DEFAULT_SCALE`) is
        in ``settings``.
    """

    inputs: Tuple[str, ...]
    input_lists: Tuple[str, ...]
    input_base: Optional[str]
    output: str
    manifest: str
    dead_letters: str
    run_id: str
    skip_existing: bool
    settings: CompressSettings
    storage_options: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    worker_threads: Optional[int] = None
    manifest_shards: int = 0
    max_seconds_per_image: Optional[float] = None
    default_scale: bool = False

    @property
    def dead_letters_root(self) -> str:
        """The folder of every run's dead letters (``<output>/_dead_letters``): like the
        manifest, never an input (with ``--output`` = the input folder, a ``**`` glob matched
        the earlier runs' ``failures-*.jsonl``, one more error row per rerun)."""
        return self.dead_letters.rsplit("/run_id=", 1)[0]


def _glob_problem(pattern: str) -> Optional[str]:
    """Why fsspec would refuse ``pattern``, or ``None``: ``**`` must be a whole path component
    (``photos/**.jpg`` raises "'**' can only be an entire path component" when listed, which the
    job would report as one failed input, with exit status 0)."""
    for part in pattern.split("/"):
        if "**" in part and part != "**":
            hint = ""
            if part.startswith("**") and "**" not in part[2:]:
                fixed = pattern.replace(part, "**/*" + part[2:], 1)
                hint = f" (for every {part[2:]} below: {fixed!r})"
            return (f"--input {pattern!r}: '**' must be a whole path component, "
                    f"not part of {part!r}{hint}")
    return None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _json_object(text: str) -> Dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r} ({exc})") from None
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise argparse.ArgumentTypeError(
            'expected a JSON object of objects, e.g. {"s3": {"endpoint_url": "http://..."}}')
    return value


def _unwritable(flag: str, uri: str) -> Optional[str]:
    """Why Beam cannot write the manifest or the dead letters under ``uri``, or ``None``: its
    file systems know local paths, ``gs://``, ``s3://``, ``azfs://``, ``hdfs://`` and plug-ins,
    not every fsspec protocol (``memory://``, ``az://``, ``abfs://``); the run stopped after all
    its work, in WriteManifest. A known one whose package is missing here passes (the workers
    may have it)."""
    from apache_beam.io.filesystems import FileSystems

    try:
        FileSystems.get_filesystem(uri)
    except ValueError:
        protocol = uri.split("://", 1)[0]
        return (f"{flag} {uri!r}: Beam, which writes the manifest and the dead letters, has "
                f"no file system for {protocol}:// (local paths, gs://, s3://, azfs://, "
                "hdfs:// ...)")
    except Exception:  # noqa: BLE001 - a known scheme without its package: the workers decide
        pass
    return None


def build_parser() -> argparse.ArgumentParser:
    """The parser of the job's own flags (Beam's flags are left to ``PipelineOptions``)."""
    p = OneLineParser(
        prog="python -m pipeline",
        description="Compress images with content-aware retargeting on Apache Beam. "
        "Unknown flags (--runner, --direct_num_workers, --project ...) go to Beam.",
    )
    version = p.add_argument("--version", action=BuildVersion, help="print the build and exit")
    p.own_flags = frozenset(version.option_strings)   # (a parse fills no destination for it)
    io = p.add_argument_group("inputs and outputs")
    io.add_argument("--input", action="append", default=[], metavar="GLOB",
                    help="Glob ('**' recurses), folder or file; local or any fsspec URI "
                    "(gs://, s3://, file://). Repeatable.")
    io.add_argument("--input_list", action="append", default=[], metavar="URI",
                    help="Text file of input URIs, one a line ('#' comments). Repeatable.")
    io.add_argument("--input_base", default=None, metavar="URI",
                    help="Name outputs relative to this folder, which holds every input "
                    "(default: for one --input, the folder before its first glob character; "
                    "for several, the deepest folder above all; for listed URIs, the folder "
                    "they share).")
    io.add_argument("--output", required=True, metavar="URI",
                    help="Output folder; images go to <output>/<relative path>.<params hash>.<ext>.")
    io.add_argument("--manifest", default=None, metavar="URI",
                    help="Manifest folder (default <output>/_manifest); each run writes "
                    "run_id=<id>/part-*.parquet under it, and reads the earlier runs' rows so "
                    "that no input takes an output name written for another input.")
    io.add_argument("--run_id", default=None,
                    help="Id of this run (default: UTC time + random suffix). Letters, digits, "
                    "'.', '_' and '-'; an id an earlier run of the manifest used is refused.")
    io.add_argument("--skip_existing", action="store_true",
                    help="Inputs whose output already exists are not processed (manifest rows "
                    "say 'skipped').")
    io.add_argument("--storage_options", type=_json_object, default={}, metavar="JSON",
                    help='fsspec options per protocol, e.g. \'{"gs": {"token": "anon"}}\'. '
                    "Beam's --s3_* flags also configure s3fs.")
    io.add_argument("--manifest_shards", type=int, default=0,
                    help="At most this many manifest part files (default 0: one per bundle).")

    c = p.add_argument_group(
        "compression (as SemanticCompressor.compress)",
        f"With no size target ({', '.join(flag_name(option(n), 'job') for n in EVERY_TARGET)}) "
        f"and not --method jpeg, each side is scaled by {JOB_DEFAULT_SCALE:g}.")
    # every batch option of compress_core.request.OPTIONS, spelled --name
    add_option_flags(p, "job", group=c)

    w = p.add_argument_group("workers")
    w.add_argument("--worker_threads", type=_positive_int, default=None,
                   help="torch and numba threads per worker process (default: CPU cores / "
                   "--direct_num_workers in multi_processing mode, 1 on Dataflow, else the "
                   "libraries' defaults).")
    return p


def _not_ours(token: str, args: argparse.Namespace) -> Optional[str]:
    """Why ``token``, left over for Beam, is a mistake for one of the job's flags, or None.

    The command line's spellings (``--target-quality``, ``--width``, ``-s``), hyphens for
    underscores (``--skip-existing``) and the per-image masks are no flags of the job: Beam
    would drop them with a warning, and the job would run without them (``--target-bytes
    5000`` gave outputs of any size, at the job's default scale 0.5)."""
    if not token.startswith("-"):
        return None
    name = token.split("=", 1)[0]
    if not name.startswith("--") and len(name) > 2 and name[:2] in _command_line_only():
        name = name[:2]   # short flags run together or with their value: -qv, -oout
    underscored = "--" + name.lstrip("-").replace("-", "_")
    meant = None
    for opt in OPTIONS:
        if not opt.batch and (name in spellings(opt, "cli") or underscored[2:] == opt.name):
            return f"{name}: {opt.name} is a per-image option; the job cannot take it"
        meant = meant or (spelled_otherwise(opt, "job").get(name) if opt.batch else None)
    if meant is None and underscored[2:] in vars(args) and underscored != name:
        meant = underscored
    if meant is None and name in _command_line_only():
        return (f"{name} is a flag of the command line (python -m semantic_compress), not of "
                "the job (Beam would drop it, and the job run without it)")
    if meant is None:
        return None
    return (f"{name} is no flag of the job: it is spelled {meant} here (Beam would drop it, "
            "and the job run without it)")


@functools.lru_cache(maxsize=None)   # (asked for each flag left over for Beam: two parsers)
def _command_line_only() -> frozenset:
    """The command line's own flags (``--json``, ``-q``, ``--verbose``, ``--analyze``, ``-o``
    ...) that are no flag of the job: Beam dropped them with a warning ("Unparseable argument:
    --json") and the job ran (new user's review 30)."""
    from compress_core.cli import build_parser as command_line_parser

    return command_line_parser().own_flags - job_flags()


def _stray(beam_argv: Sequence[str]) -> Optional[str]:
    """Why words left over for Beam that follow no flag are a mistake, or None.

    Each flag takes one value. ``--input photos/*.jpg`` unquoted is expanded by the shell into
    ``--input photos/a.jpg photos/b.jpg ...``: the job took the first file, Beam warned
    "Discarding unparseable args" for the others, and the run compressed one photo, exit
    status 0. A word is a value where Beam's own parse of its flags takes it as one
    (``--runner DataflowRunner``; not after a switch: ``--no_use_public_ips in/b.jpg``)."""
    words = [token for token in beam_argv if not token.startswith("-")]
    if not words:
        return None
    from apache_beam.options.pipeline_options import PipelineOptions

    options = PipelineOptions(list(beam_argv))
    parsed = options.get_all_options(drop_default=True, retain_unknown_options=True)
    # a flag given its default value (--direct_running_mode in_memory, --sdk_location
    # default) is dropped from that parse: its word was taken for a stray one
    every = options.get_all_options(drop_default=False, retain_unknown_options=True)
    given = [every.get(token[2:]) for token in beam_argv
             if token.startswith("--") and "=" not in token and token[2:] in every]
    values = set()
    for value in [*parsed.values(), *given]:
        for item in (value if isinstance(value, (list, tuple)) else [value]):
            values.add(str(item))
    stray = [word for word in words if word not in values and not _same_number(word, values)]
    if not stray:
        return None
    more = f" and {len(stray) - 1} more" if len(stray) > 1 else ""
    return (f"unexpected argument {stray[0]!r}{more}: each flag takes one value. A glob the "
            "shell expanded gives several: quote it (--input 'photos/*.jpg'), or give --input "
            "once per file")


def _same_number(word: str, values) -> bool:
    """Whether ``word`` is a number that Beam parsed into one of ``values`` (``02`` as 2)."""
    try:
        number = float(word)
    except ValueError:
        return False
    for value in values:
        try:
            if float(value) == number:
                return True
        except ValueError:
            continue
    return False


def job_flags(parser: Optional[argparse.ArgumentParser] = None) -> set:
    """Every long flag of the job (``--input`` ... ``--no_preserve_aspect``), read through
    argparse's public API: the options' spellings from the option table, the others' from the
    destinations a parse fills (each such flag is ``--<dest>``), ``--version``'s from the
    parser's ``own_flags``."""
    parser = parser or build_parser()
    option_names = {o.name for o in OPTIONS}
    filled = vars(parser.parse_known_args(["--output", "o"])[0])
    return ({f"--{dest}" for dest in filled if dest not in option_names}
            | {s for o in OPTIONS if o.batch for s in spellings(o, "job") if s.startswith("--")}
            | set(getattr(parser, "own_flags", ())))


def _misspelt(beam_argv: Sequence[str], parser: argparse.ArgumentParser) -> Optional[str]:
    """Why a flag left over for Beam is a typo of one of the job's flags, or None.

    A flag Beam does not know either, and close to one of ours (``--skip_exisitng``,
    ``--max_dimenson``): Beam warned "Unparseable argument ... Did you mean '--spark_version'?"
    and dropped it, and the job ran without it, exit status 0. Flags Beam knows, and unknown
    ones far from ours (a runner plug-in's), still go to Beam."""
    import difflib

    names = [t.split("=", 1)[0] for t in beam_argv if t.startswith("--") and len(t) > 2]
    if not names:
        return None
    from apache_beam.options.pipeline_options import PipelineOptions

    ours = sorted(job_flags(parser))
    # the command line's spellings too, each for the job's flag (a typo of --width, --widht,
    # was far from --target_width and went to Beam, which dropped it: outputs at the default
    # scale, exit status 0; new-user review 42)
    other = {spelling: flag for opt in OPTIONS if opt.batch
             for spelling, flag in spelled_otherwise(opt, "job").items()}
    beam = set(PipelineOptions([]).get_all_options(drop_default=False))
    for name in names:
        if name[2:] in beam or name[2:].replace("-", "_") in beam:
            continue
        close = difflib.get_close_matches(name, ours + sorted(other), n=1, cutoff=0.8)
        if close:
            return (f"{name} is no flag of the job or of Beam: did you mean "
                    f"{other.get(close[0], close[0])}? (Beam would drop it, and the job run "
                    "without it)")
    return None


def parse_args(argv: Optional[Sequence[str]] = None) -> Tuple[JobOptions, List[str]]:
    """Split ``argv`` into validated :class:`JobOptions` and the arguments meant for Beam.

    Raises
    ------
    SystemExit
        On invalid flags (one line on stderr, exit status 2).
    """
    parser = build_parser()
    args, beam_argv = parser.parse_known_args(argv)
    for token in beam_argv:
        problem = _not_ours(token, args)
        if problem:
            parser.error(problem)
    problem = _stray(beam_argv) or _misspelt(beam_argv, parser)
    if problem:
        parser.error(problem)
    for flag, values in (("--input", args.input), ("--input_list", args.input_list),
                         ("--output", [args.output]), ("--manifest", [args.manifest]),
                         ("--input_base", [args.input_base]), ("--run_id", [args.run_id])):
        for value in values:
            if value is not None and not value.strip():
                # made absolute, '' is the working folder: every file below it an input, or
                # every output in it; an empty --run_id was a fresh one without a word (edge
                # review 37: a scheduler's unset $RUN_ID)
                parser.error(f"{flag} {value!r}: empty (an unset shell variable?"
                             f"{' Leave it out for a new run id.' if flag == '--run_id' else ''})")
            if value is not None and undecodable(value):
                # bytes that are not UTF-8 (a Latin-1 folder name): no coder takes them
                parser.error(f"{flag} {shown(value)}: not UTF-8 (the bytes shown as \\xNN); "
                             "the job takes UTF-8 names only: rename it")
    if not args.input and not args.input_list:
        parser.error("give --input GLOB or --input_list URI")
    for pattern in args.input:
        problem = _glob_problem(pattern)
        if problem:
            parser.error(problem)
    run_id = args.run_id or new_run_id()
    if not RUN_ID.fullmatch(run_id):
        parser.error(f"--run_id {run_id!r}: use letters, digits, '.', '_' and '-' "
                     "(it becomes a folder name run_id=<id>)")
    values = option_values(args, "job")
    default_scale = (not any(name in values for name in EVERY_TARGET)
                     and values.get("method") != "jpeg")
    if default_scale:
        values["scale"] = JOB_DEFAULT_SCALE
    try:
        settings = CompressSettings(**values)
    except (ValueError, TypeError) as exc:  # (said in the job's flags, not in parameters)
        parser.error(in_flags(str(exc), "job"))
    if args.manifest_shards < 0:
        parser.error("--manifest_shards must be >= 0")
    # one spelling per folder (file:// and local:// as plain paths, s3a:// as s3:// ...): the
    # one Beam writes to, and the one earlier runs' rows are compared with
    output = folder_uri(args.output)
    below = output.rstrip("/")        # "" for the root folder: "/_manifest", not "//_manifest"
    manifest = folder_uri(args.manifest) if args.manifest else f"{below}/_manifest"
    for flag, uri in (("--output", output), ("--manifest", manifest)):
        problem = _unwritable(flag, uri)
        if problem:
            parser.error(problem)
    job = JobOptions(
        inputs=tuple(args.input),
        input_lists=tuple(args.input_list),
        input_base=normalize_uri(args.input_base) if args.input_base else None,
        output=output,
        manifest=manifest,
        dead_letters=f"{below}/_dead_letters/run_id={run_id}",
        run_id=run_id,
        skip_existing=args.skip_existing,
        settings=settings,
        storage_options=args.storage_options,
        worker_threads=args.worker_threads,
        manifest_shards=args.manifest_shards,
        max_seconds_per_image=settings.max_seconds,
        default_scale=default_scale,
    )
    return job, beam_argv
