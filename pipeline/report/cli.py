"""``python -m pipeline.report``: the command line and writing a report to any fsspec URI."""
from __future__ import annotations

import argparse
import json
import logging
import posixpath
import sys
from typing import Optional, Sequence

from compress_core.cli import say, stdout_failed
from compress_core.flags import OneLineParser, any_case

from .cells import json_default
from .html_page import render_html
from .markdown_page import render_markdown
from .folders import distinct_folders, folders_read, folders_skipped, load_manifests
from .reading import ManifestError
from .stats import Report, build_report

__all__ = ["main", "write_report"]

logger = logging.getLogger("pipeline.report")


#: The report command's name in its messages.
PROG = "python -m pipeline.report"


def _parser() -> argparse.ArgumentParser:
    # errors in one line, as the command line's and the job's (a misspelt flag had printed the
    # whole usage: options review 41)
    p = OneLineParser(
        prog=PROG,
        description="Report over the batch job's Parquet manifests: totals, tables per "
                    "setting and output format, plots, errors and a comparison of runs.")
    p.add_argument("manifests", metavar="MANIFEST_URI", nargs="+",
                   help="the manifest folder (--manifest of the job, default <output>/_manifest); "
                        "any fsspec URI. Several folders (this week's and last week's) are "
                        "read into one report, each run named <folder>/<run id>")
    own = [
        # one id per --run: several after one flag swallowed a folder given after them
        p.add_argument("--run", dest="runs", action="append", default=[], metavar="RUN_ID",
                       help="a run to report (repeat it for several: --run A --run B; default: "
                            "every run; with several folders, the run in each that has it, or "
                            "<folder>/<run id> as the report names it)"),
        p.add_argument("-o", "--output", help="report file (default report.html / report.md; "
                                              "with --json alone, none is written)"),
        p.add_argument("--format", choices=("html", "md"), type=any_case(("html", "md")),
                       default=None,
                       help="html (one self-contained file) or md (Markdown + PNGs in "
                            "<name>_files/); default from -o's suffix, else html"),
        p.add_argument("--json", action="store_true",
                       help="print the totals as JSON on stdout"),
        p.add_argument("--storage_options", type=json.loads, default=None, metavar="JSON",
                       help="fsspec options per protocol, e.g. '{\"s3\": {\"anon\": true}}'"),
    ]
    p.own_flags = frozenset(name for action in own for name in action.option_strings)
    return p


def write_report(rep: Report, output: str, fmt: str, storage_options=None) -> str:
    """Write ``rep`` to ``output`` (any fsspec URI) as ``fmt``; returns ``output``."""
    from compress_core.storage import get_filesystem, write_atomic

    # rendered first, then written atomically: a report that cannot be rendered (or a write
    # cut short) leaves the previous report whole, not an empty or half-written file
    if fmt == "html":
        write_atomic(output, render_html(rep).encode("utf-8"), storage_options)
        return output
    fs, path = get_filesystem(output, storage_options)
    parent = posixpath.dirname(path)
    stem = posixpath.splitext(posixpath.basename(path))[0]
    image_dir = f"{stem}_files"
    text, images = render_markdown(rep, image_dir)
    folder = posixpath.join(parent, image_dir) if parent else image_dir
    fs.makedirs(folder, exist_ok=True)
    for name, data in images.items():
        with fs.open(posixpath.join(folder, name), "wb") as f:
            f.write(data)
    write_atomic(output, text.encode("utf-8"), storage_options)
    return output


#: The suffixes each report format is written under.
_SUFFIXES = {"html": (".html", ".htm"), "md": (".md", ".markdown")}


def _suffix_problem(output: Optional[str], fmt: str) -> Optional[str]:
    """Why ``-o output`` cannot hold a ``fmt`` report (a name of another kind, such as
    ``totals.json``, which received HTML), or None. A name without a suffix is taken as is."""
    if not output:
        return None
    suffix = posixpath.splitext(output.rstrip("/"))[1].lower()
    if not suffix or suffix in _SUFFIXES[fmt]:
        return None
    hint = ("; --json prints the totals as JSON on stdout" if suffix == ".json" else "")
    return (f"-o {output}: a {fmt} report is written as "
            f"{' or '.join(_SUFFIXES[fmt])}, not {suffix}{hint}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The command line; returns the exit status (2 for a missing manifest or run, or a
    report that cannot be written)."""
    parser = _parser()
    args = parser.parse_args(argv)
    del stdout_failed[:]   # (main() run again in one process)
    if hasattr(sys.stdout, "reconfigure"):   # (a report's name no console encoding holds)
        sys.stdout.reconfigure(errors="backslashreplace")
    fmt = args.format or ("md" if (args.output or "").lower().endswith(".md") else "html")
    problem = _suffix_problem(args.output, fmt)
    if problem:
        parser.error(problem)
    try:
        table = load_manifests(args.manifests, args.runs, args.storage_options)
    except ManifestError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    folders = distinct_folders(args.manifests)
    if len(folders) == 1:
        rep = build_report(table, manifest=folders[0], runs=args.runs or None)
    else:   # runs labelled by folder, in the order they were processed
        read = folders_read(table)
        rep = build_report(table, manifest=", ".join(read.values()), folders=read,
                           skipped_folders=folders_skipped(table))
    output = args.output or (None if args.json else f"report.{fmt}")
    if output:
        try:
            write_report(rep, output, fmt, args.storage_options)
        except OSError as exc:  # a folder, a folder that cannot be made, no permission
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            return 2
        logger.info("report written to %s", output)
        if not args.json:
            say(output, PROG, "the report file is written")
    if args.json:   # (| head -c1 had printed a BrokenPipeError's traceback, exit 1)
        say(json.dumps(rep.json_totals(), indent=2, default=json_default), PROG,
            f"the report is written to {output}" if output else None)
    # standard output on a full disk: its totals lost, said as the command line's
    # (it said "semantic-compress: error: ... the images are still written", exit 0;
    # diff review 5, 47)
    return 2 if stdout_failed else 0
