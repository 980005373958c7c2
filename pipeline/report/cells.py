"""Numbers as table cells, shared by the HTML and Markdown renderings."""
from __future__ import annotations

import datetime as _dt
from typing import Any, Callable, Dict, List

from .stats import Report

__all__ = ["fmt_bytes", "fmt_num", "fmt_pct", "fmt_delta", "totals_rows", "stored_rows",
           "CONFIG_HEAD", "config_cells", "FORMAT_HEAD", "format_cells", "RUN_HEAD",
           "run_cells", "delta_cells", "TOP_HEAD", "top_cells", "SCORE_HEAD", "score_cells",
           "TIME_HEAD", "time_rows", "DEFINITIONS", "manifest_line", "json_default",
           "FAILED_BEFORE_TITLE"]


def fmt_bytes(n) -> str:
    """A byte count in decimal units (1 KB = 1000 B, as storage consoles and ``du --si``
    count): ``1.5 MB`` is 1,500,000 bytes; "" for None."""
    if n is None:
        return ""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 999.95 or unit == "TB":  # (999,960 B is "1.0 MB", not "1000.0 KB")
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return ""  # pragma: no cover


def fmt_num(v, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, int):
        return f"{v:,}"
    return f"{v:.{digits}f}"


def fmt_pct(v) -> str:
    return "–" if v is None else f"{100 * v:.1f}%"


def fmt_delta(v, base, pct=False, size=False, digits: int = 3) -> str:
    """``v - base`` with its sign: percentage points (``pct``), a byte size in the units of
    :func:`fmt_bytes` (``size``: the rows above it show 23.4 KB, their difference had been
    -23,429: manifest review 29), else a count or a ratio, with the ``digits`` of the cells
    it is the difference of (a score and milliseconds: 1)."""
    if v is None or base is None:
        return ""
    d = v - base
    if pct:
        return f"{100 * d:+.1f} pt"
    if size:
        return ("+" if d >= 0 else "-") + fmt_bytes(abs(d))
    if isinstance(v, int) and isinstance(base, int):
        return f"{d:+,}"
    return f"{d:+.{digits}f}"


def totals_rows(t: Dict[str, Any]) -> List[tuple]:
    return [
        ("images (rows, summed over runs)", fmt_num(t["images"])),
        ("ok / error / skipped", f"{t['ok']:,} / {t['error']:,} / {t['skipped']:,}"),
        ("skipped as failed before (inputs an earlier run failed, unchanged: damaged, or over "
         "--max_pixels)",
         fmt_num(t["skipped_failed_before"])),
        ("skipped against unrecorded outputs (adopted: written by a run stopped before its "
         "manifest)", fmt_num(t["skipped_unrecorded"])),
        ("bytes in (ok rows, summed over runs)",
         f"{fmt_bytes(t['bytes_in'])} ({t['bytes_in']:,} B)"),
        ("bytes out (ok rows, summed over runs)",
         f"{fmt_bytes(t['bytes_out'])} ({t['bytes_out']:,} B)"),
        ("bytes saved (summed over runs)",
         f"{fmt_bytes(t['bytes_saved'])} ({fmt_pct(t['saved_fraction'])})"),
        ("byte ratio: mean / median",
         f"{fmt_num(t['mean_byte_ratio'])} / {fmt_num(t['median_byte_ratio'])}"),
        ("pixel ratio: mean / median",
         f"{fmt_num(t['mean_pixel_ratio'])} / {fmt_num(t['median_pixel_ratio'])}"),
        ("retained energy ratio: mean", fmt_num(t["mean_retained_energy_ratio"])),
        ("time per ok image: median", f"{fmt_num(t['median_total_ms'], 1)} ms"),
        ("quality score reached (quality auto or a byte budget): median / lowest",
         f"{fmt_num(t['median_quality_score'], 1)} / {fmt_num(t['lowest_quality_score'], 1)}"
         f" ({t['scored']:,} scored images)"),
        ("largest stretch of the content", fmt_num(t["max_stretch"])),
        ("ok rows with faces kept (faces null where no map was computed)",
         fmt_num(t["images_with_faces"])),
        ("processed", f"{t['first_processed_at'] or '–'} … {t['last_processed_at'] or '–'}"),
    ]


def stored_rows(st: Dict[str, Any]) -> List[tuple]:
    """The "stored now" figures (:func:`~pipeline.report.stats.stored_now`): each output file
    once, by its latest ok row."""
    if not st:
        return []
    return [
        ("outputs stored now (latest row per output file that wrote it or found it there)",
         fmt_num(st["outputs"])),
        ("bytes out stored now", f"{fmt_bytes(st['bytes_out'])} ({st['bytes_out']:,} B)"),
        ("bytes saved by the outputs stored now",
         f"{fmt_bytes(st['bytes_saved'])} ({fmt_pct(st['saved_fraction'])}; their "
         f"{fmt_num(st['inputs'])} inputs {fmt_bytes(st['bytes_in'])}, each once)"),
    ]


CONFIG_HEAD = ["settings (what differs)", "method", "energy", "model", "images", "ok", "error",
               "skipped", "bytes in", "bytes out", "saved", "mean byte ratio",
               "mean pixel ratio", "mean retained energy", "median score", "lowest score",
               "max stretch", "mean ms"]


def config_cells(r) -> List[str]:
    return [r["settings"], r["method"] or "–", r["energy"] or "–", r["model"] or "–",
            fmt_num(r["images"]),
            fmt_num(r["ok"]), fmt_num(r["error"]), fmt_num(r["skipped"]), fmt_bytes(r["bytes_in"]),
            fmt_bytes(r["bytes_out"]), fmt_pct(r["saved_fraction"]), fmt_num(r["mean_byte_ratio"]),
            fmt_num(r["mean_pixel_ratio"]), fmt_num(r["mean_retained_energy_ratio"]),
            fmt_num(r["median_quality_score"], 1), fmt_num(r["lowest_quality_score"], 1),
            fmt_num(r["max_stretch"]), fmt_num(r["mean_total_ms"], 1)]


FORMAT_HEAD = ["output format", "ok outputs", "bytes in", "bytes out", "bytes saved", "saved"]


def format_cells(r) -> List[str]:
    return [r["output_format"], fmt_num(r["ok"]), fmt_bytes(r["bytes_in"]),
            fmt_bytes(r["bytes_out"]), fmt_bytes(r["bytes_saved"]), fmt_pct(r["saved_fraction"])]


RUN_HEAD = ["run", "images", "ok", "error", "skipped", "bytes in", "bytes out", "saved",
             "mean byte ratio", "median byte ratio", "mean pixel ratio", "median score",
             "median ms", "failing", "first processed"]
#: The heading of the inputs skipped as failed before, under the errors: still broken, and
#: named (a rerun that skipped them had said "No errors.", manifest review 38).
FAILED_BEFORE_TITLE = ("Skipped as failed before (unchanged since an earlier run failed them: "
                       "still damaged, or over the pixel limit)")

#: Said under the runs' table: what "failing" counts (a run with no error showed 25%:
#: manifest review 29).
RUNS_NOTE = ("failing: the share of a run's rows that are errors or inputs skipped because an "
             "earlier run failed them (skip_reason 'failed before'), still damaged")


def _failing(r) -> float:
    """The share of a run's inputs failing: its errors and the skips of inputs that failed
    before (review 2 of session 24: a quiet night that skipped its damaged files read as an
    error rate down 100 points)."""
    failing = r["error"] + r["skipped_failed_before"]
    return failing / r["images"] if r["images"] else None


def run_cells(r) -> List[str]:
    lost = r.get("parts_left_out")
    run = r["run_id"] if not lost else f"{r['run_id']} ({lost} part(s) LEFT OUT)"
    return [run, fmt_num(r["images"]), fmt_num(r["ok"]), fmt_num(r["error"]),
            fmt_num(r["skipped"]),
            fmt_bytes(r["bytes_in"]), fmt_bytes(r["bytes_out"]), fmt_pct(r["saved_fraction"]),
            fmt_num(r["mean_byte_ratio"]), fmt_num(r["median_byte_ratio"]),
            fmt_num(r["mean_pixel_ratio"]), fmt_num(r["median_quality_score"], 1),
            fmt_num(r["median_total_ms"], 1), fmt_pct(_failing(r)),
            r["first_processed_at"] or "–"]


def delta_cells(r, base) -> List[str]:
    """A run's differences from ``base``, under :data:`RUN_HEAD` (the failing share was
    written under "first processed": compat review 27)."""
    return [f"Δ {r['run_id']} vs {base['run_id']}", fmt_delta(r["images"], base["images"]),
            fmt_delta(r["ok"], base["ok"]), fmt_delta(r["error"], base["error"]),
            fmt_delta(r["skipped"], base["skipped"]),
            fmt_delta(r["bytes_in"], base["bytes_in"], size=True),
            fmt_delta(r["bytes_out"], base["bytes_out"], size=True),
            fmt_delta(r["saved_fraction"], base["saved_fraction"], pct=True),
            fmt_delta(r["mean_byte_ratio"], base["mean_byte_ratio"]),
            fmt_delta(r["median_byte_ratio"], base["median_byte_ratio"]),
            fmt_delta(r["mean_pixel_ratio"], base["mean_pixel_ratio"]),
            fmt_delta(r["median_quality_score"], base["median_quality_score"], digits=1),
            fmt_delta(r["median_total_ms"], base["median_total_ms"], digits=1),
            fmt_delta(_failing(r), _failing(base), pct=True), ""]


TOP_HEAD = ["input", "run", "status", "bytes in", "bytes out", "byte ratio", "decode ms",
             "energy ms", "resize ms", "encode ms", "total ms"]


def top_cells(r) -> List[str]:
    return [r["input_uri"], r["run_id"], r["status"], fmt_bytes(r["input_bytes"]),
            fmt_bytes(r["output_bytes"]), fmt_num(r["byte_ratio"]), fmt_num(r["decode_ms"], 1),
            fmt_num(r["energy_ms"], 1), fmt_num(r["resize_ms"], 1), fmt_num(r["encode_ms"], 1),
            fmt_num(r["total_ms"], 1)]


SCORE_HEAD = ["input", "run", "quality", "score", "bytes in", "bytes out", "byte ratio"]


def score_cells(r) -> List[str]:
    return [r["input_uri"], r["run_id"], fmt_num(r["quality"]), fmt_num(r["quality_score"], 1),
            fmt_bytes(r["input_bytes"]), fmt_bytes(r["output_bytes"]), fmt_num(r["byte_ratio"])]


def time_rows(rep: Report) -> List[List[str]]:
    q, s = rep.time_quantiles, rep.stage_ms
    return [["per ok image, ms", fmt_num(q["p50"], 1), fmt_num(q["p90"], 1), fmt_num(q["p99"], 1),
             fmt_num(q["max"], 1), fmt_num(s["decode_ms"], 1), fmt_num(s["energy_ms"], 1),
             fmt_num(s["resize_ms"], 1), fmt_num(s["encode_ms"], 1), fmt_num(s["total_ms"], 1)]]


TIME_HEAD = ["", "p50", "p90", "p99", "max", "mean decode", "mean energy", "mean resize",
              "mean encode", "mean total"]

DEFINITIONS = ("Bytes in/out and the ratios count ok rows only (the images the run wrote), "
                "summed over the runs read: an output a rerun without --skip_existing wrote "
                "again counts once per run. The 'stored now' figures count each output file "
                "once, by its latest ok row (what the output folder holds, as far as the runs "
                "read know), and each input they were made from once (bytes saved: the inputs "
                "less every output stored, which an input with outputs of several settings "
                "has several of); "
                "byte ratio = output bytes / input bytes (lower is better); skipped rows "
                "(outputs that already existed) and errors are counted, not measured. The quality "
                "score is the SSIMULACRA2 score quality=auto or a byte budget reached (none for a "
                "fixed quality; 100 is identical, and heavy losses score below 0, without a "
                "lower bound); "
                "for rows written with allocation semantic (see their params) it is the score "
                "of the picture written, below the target by design (the bytes go to what "
                "matters, the background pays); "
                "stretch is how much the content's aspect was changed (1 = none).")


def manifest_line(rep: Report, code: Callable[[str], str]) -> str:
    """The header's "Manifest ..." line; ``code`` renders a label or URI as code (escaped as
    the page needs). Several folders: each one read, ``label = URI``, and those not read."""
    if not rep.folders:
        line = f"Manifest {code(rep.manifest)}"
    else:
        line = "Manifests " + ", ".join(f"{code(label)} = {code(uri)}"
                                        for label, uri in rep.folders.items())
    if rep.skipped_folders:
        line += (" (not read, none of the runs asked for is in them: "
                 + ", ".join(code(uri) for uri in rep.skipped_folders) + ")")
    if rep.parts_left_out:
        line += (f" · LEFT OUT, {len(rep.parts_left_out)} part(s) that cannot be read (cut "
                 "short or corrupt) or are no part the job wrote (a Parquet file of another "
                 "schema); their rows are in no figure here: "
                 + ", ".join(code(name) for name in rep.parts_left_out))
    if rep.runs_without_parts:
        line += (f" · NO PART for {len(rep.runs_without_parts)} run(s) (stopped while "
                 "writing the manifest, or its parts removed; nothing of them is read): "
                 + ", ".join(code(run) for run in rep.runs_without_parts))
    return line


def json_default(o):
    if isinstance(o, (_dt.datetime, _dt.date)):
        return o.isoformat()
    raise TypeError(type(o).__name__)
