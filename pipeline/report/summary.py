"""One run in a few lines (the job's log, ``./run_local.sh``), from Beam's metrics or from the
run's manifest read with pyarrow."""
from __future__ import annotations

import os.path
import posixpath
import unicodedata
from dataclasses import dataclass
from typing import Dict, Optional

import pyarrow as pa
import pyarrow.compute as pc

from compress_core.storage import for_terminal
from transforms.manifest import SKIP_FAILED_BEFORE, manifest_prefix

from .cells import fmt_bytes
from .reading import load_manifest
from .stats import totals, without_uri

__all__ = ["RunSummary", "summarize_manifest", "format_summary", "summary_report"]

#: Columns the summary reads besides the report's.
_LISTED = ["run_id", "input_uri", "status", "error_type", "error_message", "output_uri",
           "input_width", "input_height", "output_width", "output_height", "input_bytes",
           "output_bytes", "byte_ratio", "pixel_ratio", "total_ms", "retained_energy_ratio",
           "processed_at", "skip_reason"]


@dataclass(frozen=True)
class RunSummary:
    """Counts of one run (from Beam metrics or from the manifest)."""

    run_id: str
    ok: int
    failed: int
    skipped: int
    bytes_in: int
    bytes_out: int
    model_loads: Optional[int] = None
    output: Optional[str] = None
    manifest: Optional[str] = None
    dead_letters: Optional[str] = None
    mean_byte_ratio: Optional[float] = None
    mean_pixel_ratio: Optional[float] = None
    error_types: Optional[Dict[str, int]] = None
    set_apart: int = 0      # inputs named with their URI's digest (a name another input has)
    replaced: int = 0       # inputs replaced since their outputs (compressed again, ok or not)
    damaged: int = 0        # outputs of another size than recorded, or empty (written again)
    unrecorded: int = 0     # skipped against outputs no manifest row names for their input
    not_adopted: int = 0    # unrecorded outputs of other files, as the journal says: written
    #                         again (compressed, ok or not)
    failed_before: int = 0  # skipped: an earlier run failed the same file the same way
    same_bytes: int = 0     # skipped after a read: the time alone changed, the SHA-256 did not
    missed: int = 0         # ok, but scoring below --target_quality (the format's best)
    missed_by_case: int = 0  # files an --input glob left out only by case (*.jpg, IMG_1.JPG)
    larger: int = 0         # ok, but the output is larger than its input (byte_ratio > 1)
    not_images: int = 0     # failed: files no decoder recognises as a picture (a sidecar)
    failed_again: int = 0   # failed: pictures an earlier run failed on (another build, or
    #                         no --skip_existing), not images excepted
    not_utf8: int = 0       # failed unread: file names that are not UTF-8 (until renamed)
    named_otherwise: int = 0  # written before under other names: a second copy (--input_base)
    letters_unwritten: int = 0  # failures whose dead letters could not be written
    unwritten: int = 0      # failed at the write stage: outputs the job could not write

    @property
    def total(self) -> int:
        return self.ok + self.failed + self.skipped


#: The summary's lines for counts that are shown only when not zero: (RunSummary field, text).
_COUNT_LINES = (
    ("set_apart", "names set apart: {} (another input of this run or an earlier one has the "
                  "name; each got its URI's digest)"),
    ("replaced", "replaced since their outputs: {} (another size, content token or "
                 "modification time than when the output was written: compressed again; each "
                 "is counted ok or failed above)"),
    ("damaged", "outputs damaged since written: {} (empty, or of another size than their "
                "row recorded: compressed again; each is counted ok or failed above)"),
    ("same_bytes", "modified but unchanged: {} (their time alone changed; read, the same "
                   "SHA-256 as recorded, skipped)"),
    ("unrecorded", "skipped against unrecorded outputs: {} (no earlier run's manifest row "
                   "names them for these inputs: a run stopped before writing its manifest, "
                   "or one with another --manifest; see docs/pipeline.md, Reruns)"),
    ("not_adopted", "not adopted: {} (outputs of their names that a stopped run wrote for "
                    "other files, as its journal says, or that a run under another --manifest "
                    "wrote again: compressed again; each is counted ok or failed above)"),
    ("failed_before", "skipped, failed before: {} (an earlier run failed the same file with "
                      "these settings and library build, by an error it would meet again: a "
                      "damaged picture, a file that is no picture, a picture over "
                      "--max_pixels, a link to nothing; their rows say skip_reason 'failed "
                      "before' and its error; replace, mend or remove them, raise "
                      "--max_pixels, or run them without --skip_existing)"),
    ("named_otherwise", "named otherwise than before: {} (earlier runs of these settings wrote "
                        "their outputs under other names: names now start from another folder, "
                        "or a folder is named through another link, and what this run wrote of "
                        "them is a second copy; the log names an --input_base that keeps the "
                        "earlier names)"),
    ("missed", "quality target missed: {} (even the format's best encoding scores below "
               "--target_quality; written with their quality_score)"),
    ("larger", "larger than their input: {} (written all the same; their rows say byte_ratio "
               "> 1: a low-quality input, or a lossless output of a photo)"),
    ("unwritten", "failed to write: {} (compressed, but the output could not be written: "
                  "a full disk, a folder the job may not write, a link below --output it does "
                  "not write through, the store refusing; the exit status is 1: see the "
                  "failures and the log)"),
    ("not_images", "failed, not images: {} (no decoder recognises them: a sidecar or Thumbs.db "
                   "in a folder input; a --skip_existing rerun skips them as failed before, "
                   "any other fails them again: keep them out with a glob, "
                   "--input 'photos/**/*.jpg')"),
    ("failed_again", "failed again: {} (an earlier run failed on the same files; tried "
                     "again because the library build changed, or without --skip_existing; "
                     "beside skipped inputs they alone do not make the exit status 1)"),
    ("not_utf8", "failed, names not UTF-8: {} (their rows show the bytes that are not as "
                 "\\xNN; no run reads them until they are renamed; beside skipped inputs "
                 "they alone do not make the exit status 1)"),
    ("missed_by_case", "left out by case: {} (files whose names differ from an --input glob "
                       "only in case, IMG_0001.JPG for *.jpg: not inputs; the log names them "
                       "and the glob that takes them)"),
)


def _read_run(manifest_root: str, run_id: str, storage_options: Optional[Dict]) -> pa.Table:
    return load_manifest(manifest_root, [run_id], storage_options, columns=_LISTED)


def summarize_manifest(manifest_root: str, run_id: str, storage_options: Optional[Dict] = None,
                       table: Optional[pa.Table] = None) -> RunSummary:
    """A :class:`RunSummary` computed from one run's manifest files (or from ``table``, its
    rows as read by :func:`~pipeline.report.load_manifest`)."""
    if table is None:
        table = _read_run(manifest_root, run_id, storage_options)
    t = totals(table)
    errors = table.filter(pc.fill_null(pc.equal(table["status"], "error"), False))
    counts = {d["values"]: d["counts"]
              for d in pc.value_counts(pc.fill_null(errors["error_type"], "(none)")).to_pylist()}
    return RunSummary(
        run_id=run_id, ok=t["ok"], failed=t["error"], skipped=t["skipped"],
        bytes_in=t["bytes_in"], bytes_out=t["bytes_out"],
        manifest=manifest_prefix(manifest_root, run_id),
        mean_byte_ratio=t["mean_byte_ratio"], mean_pixel_ratio=t["mean_pixel_ratio"],
        error_types=counts, failed_before=t["skipped_failed_before"],
        unrecorded=t["skipped_unrecorded"],
    )


def format_summary(s: RunSummary) -> str:
    """A few lines for a log or a terminal."""
    lines = [f"run {s.run_id}: {s.total} images: {s.ok} ok, {s.failed} failed, {s.skipped} skipped"]
    if s.ok:
        saved = 1.0 - s.bytes_out / s.bytes_in if s.bytes_in else 0.0
        line = (f"  bytes in {fmt_bytes(s.bytes_in)} -> out {fmt_bytes(s.bytes_out)} "
                f"({saved:.0%} saved)")
        ratios = [f"{name} ratio {value:.3f}" for name, value in (
            ("byte", s.mean_byte_ratio), ("pixel", s.mean_pixel_ratio)) if value is not None]
        if ratios:
            line += "; mean " + ", ".join(ratios)
        lines.append(line)
    if s.model_loads is not None:
        lines.append(f"  model loads: {s.model_loads}")
    for name, text in _COUNT_LINES:
        if getattr(s, name):
            lines.append(f"  {text.format(getattr(s, name))}")
    if s.error_types:
        lines.append("  failures: " + ", ".join(f"{k} x{v}"
                                                 for k, v in sorted(s.error_types.items())))
    for label, value in (("outputs", s.output), ("manifest", s.manifest),
                         ("dead letters", None if not s.failed else s.dead_letters
                          if not s.letters_unwritten else
                          f"{s.dead_letters}: not written for {s.letters_unwritten} (see the "
                          "log; the manifest's error rows hold them)")):
        if value:
            lines.append(f"  {label}: {value}")
    return "\n".join(lines)


def _first_rows(table: pa.Table, n: int) -> list:
    """Up to ``n`` rows as dicts: errors first, then ok, then skipped, each by input URI."""
    out = []
    for status in ("error", "ok", "skipped"):
        if len(out) >= n:
            break
        part = table.filter(pc.fill_null(pc.equal(table["status"], status), False))
        part = part.sort_by("input_uri").slice(0, n - len(out))
        out += part.to_pylist()
    return out


def _shown_names(uris, width: int = 28) -> list:
    """The input URIs as the run's screen shows them: below their deepest common folder
    (``trips/china.jpg``, not ``china.jpg``: two ``x.jpg`` of two folders are told apart),
    ``...`` and the last characters where longer than ``width``."""
    if not uris:
        return []
    common = posixpath.dirname(os.path.commonprefix(uris)) if len(uris) > 1 else \
        posixpath.dirname(uris[0])
    names = [for_terminal(u[len(common):].lstrip("/") if common else u) for u in uris]
    shown = []
    for name in names:
        if _columns(name) > width:   # the last characters that fit after "..."
            kept, used = len(name), 0
            while kept and used + _columns(name[kept - 1]) <= width - 3:
                kept -= 1
                used += _columns(name[kept])
            name = "..." + name[kept:]
        shown.append(name)
    return shown


def _columns(text: str) -> int:
    """The terminal columns ``text`` takes: East Asian wide and fullwidth characters (CJK,
    most emoji) two, combining marks none, others one (Python's padding counts characters:
    a name in Japanese pushed its line's columns out of line; review 27)."""
    return sum(0 if unicodedata.combining(ch) else
               2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _padded(text: str, width: int) -> str:
    """``text`` padded with spaces to ``width`` terminal columns (:func:`_columns`)."""
    return text + " " * max(0, width - _columns(text))


def summary_report(manifest_root: str, run_id: str, storage_options: Optional[Dict] = None,
                   max_rows: int = 12) -> str:
    """One screen about a finished run, from its manifest: totals, then a line per image.

    Parameters
    ----------
    manifest_root : str
        The manifest folder (``--manifest``).
    run_id : str
    storage_options : dict, optional
    max_rows : int
        Most image lines shown (errors first).
    """
    table = _read_run(manifest_root, run_id, storage_options)
    s = summarize_manifest(manifest_root, run_id, table=table)
    lines = [format_summary(s)]
    ok_uris = table.filter(pc.fill_null(pc.equal(table["status"], "ok"), False))["output_uri"]
    if len(ok_uris):
        common = os.path.commonprefix(pc.drop_null(ok_uris).to_pylist())
        lines.append(f"  outputs in: {os.path.dirname(common)}")
    shown = _first_rows(table, max_rows)
    names = _shown_names([r["input_uri"] for r in shown])
    if shown:
        lines.append("")
        lines.append(f"  {'input':<28} {'status':<8} {'size':<19} {'bytes':<19} "
                     f"{'ratio':>5} {'ms':>6}")
    for r, name in zip(shown, names):
        if r["status"] == "error" or r.get("skip_reason") == SKIP_FAILED_BEFORE:
            said = "error" if r["status"] == "error" else "skipped, failed before:"
            message = for_terminal(without_uri(r["error_message"], r["input_uri"]) or "")
            lines.append(f"  {_padded(name, 28)} {said:<8} {r['error_type']}: {message[:48]}")
            continue
        size = (f"{r['input_width']}x{r['input_height']}->{r['output_width']}x{r['output_height']}"
                if r["output_width"] else "")
        nbytes = (f"{fmt_bytes(r['input_bytes'])}->{fmt_bytes(r['output_bytes'])}"
                  if r["input_bytes"] is not None and r["output_bytes"] is not None else "")
        ratio = f"{r['byte_ratio']:.2f}" if r["byte_ratio"] is not None else ""
        ms = f"{r['total_ms']:.0f}" if r["total_ms"] is not None else ""
        lines.append(f"  {_padded(name, 28)} {r['status']:<8} {size:<19} {nbytes:<19} "
                     f"{ratio:>5} {ms:>6}")
    if table.num_rows > len(shown):
        lines.append(f"  ... and {table.num_rows - len(shown)} more (see the manifest)")
    # (a name's escape sequences had recoloured and erased the lines: review 27)
    return for_terminal("\n".join(lines), line_breaks=True)
