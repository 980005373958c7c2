"""Analytics over the Parquet manifests the batch job writes: ``python -m pipeline.report``.

::

    python -m pipeline.report MANIFEST_URI [--run RUN_ID ...] -o report.html [--format html|md]
                              [--json] [--storage_options JSON]

``MANIFEST_URI`` is the job's ``--manifest`` folder (``<output>/_manifest`` by default) on any
fsspec file system (local path, ``file://``, ``s3://``, ``gs://``, ...). It holds one Hive-style
partition per run (``run_id=<id>/part-*.parquet``); every run is reported unless ``--run``
names some. The report is one self-contained HTML file (plots as inline SVG, no network at view
time) or Markdown with PNG plots in ``<name>_files/``; ``--json`` prints the totals to stdout.

Everything is computed with pyarrow compute kernels and NumPy over the columns (no per-row Python
loops), so a million rows take seconds. Definitions (also in the report):

* ``images``: manifest rows; ``ok`` / ``error`` / ``skipped`` by ``status``.
* ``bytes_in`` / ``bytes_out``: summed over ``ok`` rows (the images this run wrote);
  ``bytes_saved = bytes_in - bytes_out``; ``saved_fraction = bytes_saved / bytes_in``.
* ratios (``byte_ratio`` = output / input bytes, ``pixel_ratio``, ``retained_energy_ratio``):
  mean and exact median over ``ok`` rows with a value.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import html
import json
import logging
import math
import os
import posixpath
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from pipeline import report_plots as plots

__all__ = ["ManifestError", "Report", "load_manifest", "list_runs", "build_report",
           "render_html", "render_markdown", "main"]

logger = logging.getLogger(__name__)

#: Manifest columns the report reads (the rest are never loaded).
COLUMNS = [
    "schema_version", "run_id", "input_uri", "status", "error_type", "error_message",
    "input_bytes", "output_bytes", "pixel_ratio", "byte_ratio", "method", "energy", "model",
    "energy_mean", "retained_energy_ratio", "decode_ms", "energy_ms", "resize_ms", "encode_ms",
    "total_ms", "processed_at",
]
#: Rows listed in the "slowest" / "worst ratio" tables; example URIs per error type.
TOP_N = 10
EXAMPLES = 3
MAX_ERROR_TYPES = 30
#: Points drawn in the scatter plot (a random sample beyond that, seed 0).
SCATTER_POINTS = 2000


class ManifestError(Exception):
    """The manifest folder or a requested run is missing (the command exits with status 2)."""


# --------------------------------------------------------------------------- reading


def _filesystem(uri: str, storage_options: Optional[Dict] = None):
    from fsspec.implementations.local import LocalFileSystem

    from compress_core.storage import get_filesystem

    fs, path = get_filesystem(uri, storage_options)
    try:
        fs.invalidate_cache()
    except Exception:  # pragma: no cover - not every file system caches
        pass
    return fs, path.rstrip("/") or path, isinstance(fs, LocalFileSystem)


def list_runs(uri: str, storage_options: Optional[Dict] = None) -> List[str]:
    """The run ids with a partition (``run_id=<id>/``) under the manifest folder ``uri``.

    Raises
    ------
    ManifestError
        If ``uri`` is not an existing folder.
    """
    fs, path, _ = _filesystem(uri, storage_options)
    if not fs.isdir(path):
        raise ManifestError(f"manifest folder not found: {uri}")
    runs = []
    for entry in fs.ls(path, detail=True):
        name = posixpath.basename(entry["name"].rstrip("/"))
        if entry.get("type") == "directory" and name.startswith("run_id="):
            runs.append(name[len("run_id="):])
    return sorted(runs)


def load_manifest(uri: str, runs: Optional[Sequence[str]] = None,
                  storage_options: Optional[Dict] = None) -> pa.Table:
    """Read the report's columns of a manifest (every run, or ``runs``) with pyarrow.dataset.

    Parameters
    ----------
    uri : str
        The manifest folder (any fsspec URI).
    runs : sequence of str, optional
        Run ids to keep; all runs when empty or None.
    storage_options : dict, optional
        ``{protocol: {fsspec kwarg: value}}`` as for the pipeline's ``--storage_options``.

    Returns
    -------
    pyarrow.Table
        The :data:`COLUMNS` (missing ones in older files read as nulls).

    Raises
    ------
    ManifestError
        If the folder is missing, holds no run, or a requested run is not in it (the message
        lists the available runs).
    """
    from transforms.manifest import MANIFEST_SCHEMA

    available = list_runs(uri, storage_options)
    if not available:
        raise ManifestError(f"no runs in manifest folder {uri} (expected run_id=<id>/ folders)")
    wanted = list(dict.fromkeys(runs or []))
    unknown = [r for r in wanted if r not in available]
    if unknown:
        raise ManifestError(f"unknown run id(s) {', '.join(map(repr, unknown))} in {uri}; "
                            f"available runs: {', '.join(available)}")
    fs, path, local = _filesystem(uri, storage_options)
    if local:  # pyarrow's own local file system reads faster than through fsspec
        import pyarrow.fs as pafs

        fs, path = pafs.LocalFileSystem(), os.path.abspath(path)
    schema = pa.schema([MANIFEST_SCHEMA.field(c) for c in COLUMNS])
    partitioning = ds.partitioning(pa.schema([("run_id", pa.string())]), flavor="hive")
    dataset = ds.dataset(path, filesystem=fs, format="parquet", partitioning=partitioning,
                         schema=schema)
    flt = ds.field("run_id").isin(wanted) if wanted else None
    return dataset.to_table(columns=COLUMNS, filter=flt)


# --------------------------------------------------------------------------- computing


def _py(scalar):
    v = scalar.as_py() if isinstance(scalar, pa.Scalar) else scalar
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _median(values) -> Optional[float]:
    values = pc.drop_null(values)
    if len(values) == 0:
        return None
    return _py(pc.quantile(values, q=0.5, interpolation="linear")[0])


def _mean(values) -> Optional[float]:
    return _py(pc.mean(values)) if pc.count(values).as_py() else None


def totals(table: pa.Table) -> Dict[str, Any]:
    """The headline numbers of ``table`` (see the module docstring for the definitions)."""
    status = table["status"]
    counts = {d["values"]: d["counts"] for d in pc.value_counts(status).to_pylist()}
    ok = table.filter(pc.equal(status, "ok"))
    bytes_in = _py(pc.sum(ok["input_bytes"])) or 0
    bytes_out = _py(pc.sum(ok["output_bytes"])) or 0
    when = table["processed_at"]
    first, last = pc.min(when).as_py(), pc.max(when).as_py()
    return {
        "images": table.num_rows,
        "ok": counts.get("ok", 0),
        "error": counts.get("error", 0),
        "skipped": counts.get("skipped", 0),
        "bytes_in": bytes_in,
        "bytes_out": bytes_out,
        "bytes_saved": bytes_in - bytes_out,
        "saved_fraction": (bytes_in - bytes_out) / bytes_in if bytes_in else None,
        "mean_byte_ratio": _mean(ok["byte_ratio"]),
        "median_byte_ratio": _median(ok["byte_ratio"]),
        "mean_pixel_ratio": _mean(ok["pixel_ratio"]),
        "median_pixel_ratio": _median(ok["pixel_ratio"]),
        "mean_retained_energy_ratio": _mean(ok["retained_energy_ratio"]),
        "median_total_ms": _median(ok["total_ms"]),
        "first_processed_at": first.isoformat() if first else None,
        "last_processed_at": last.isoformat() if last else None,
    }


def _group_table(table: pa.Table, keys: List[str]) -> List[Dict[str, Any]]:
    """Counts, bytes and mean ratios per distinct ``keys`` (ok-only measures on ok rows)."""
    status = table["status"]
    ok = pc.fill_null(pc.equal(status, "ok"), False)
    null_f = pa.scalar(None, pa.float64())
    null_i = pa.scalar(None, pa.int64())
    work = pa.table({
        **{k: table[k] for k in keys},
        "n": pc.cast(pc.is_valid(status), pa.int64()),
        "is_ok": pc.cast(ok, pa.int64()),
        "is_error": pc.cast(pc.fill_null(pc.equal(status, "error"), False), pa.int64()),
        "is_skipped": pc.cast(pc.fill_null(pc.equal(status, "skipped"), False), pa.int64()),
        "in": pc.if_else(ok, table["input_bytes"], null_i),
        "out": pc.if_else(ok, table["output_bytes"], null_i),
        "byte_ratio": pc.if_else(ok, table["byte_ratio"], null_f),
        "pixel_ratio": pc.if_else(ok, table["pixel_ratio"], null_f),
        "retained": pc.if_else(ok, table["retained_energy_ratio"], null_f),
        "ms": pc.if_else(ok, table["total_ms"], null_f),
    })
    agg = work.group_by(keys, use_threads=False).aggregate([
        ("n", "sum"), ("is_ok", "sum"), ("is_error", "sum"), ("is_skipped", "sum"),
        ("in", "sum"), ("out", "sum"), ("byte_ratio", "mean"), ("pixel_ratio", "mean"),
        ("retained", "mean"), ("ms", "mean"),
    ])
    rows = []
    for r in agg.to_pylist():  # one row per group: a handful
        bytes_in, bytes_out = r["in_sum"] or 0, r["out_sum"] or 0
        rows.append({
            **{k: r[k] for k in keys},
            "images": r["n_sum"], "ok": r["is_ok_sum"], "error": r["is_error_sum"],
            "skipped": r["is_skipped_sum"], "bytes_in": bytes_in, "bytes_out": bytes_out,
            "saved_fraction": (bytes_in - bytes_out) / bytes_in if bytes_in else None,
            "mean_byte_ratio": r["byte_ratio_mean"], "mean_pixel_ratio": r["pixel_ratio_mean"],
            "mean_retained_energy_ratio": r["retained_mean"], "mean_total_ms": r["ms_mean"],
        })
    rows.sort(key=lambda r: (-r["images"], *[str(r[k]) for k in keys]))
    return rows


def _errors(table: pa.Table) -> List[Dict[str, Any]]:
    err = table.filter(pc.fill_null(pc.equal(table["status"], "error"), False))
    if err.num_rows == 0:
        return []
    etype = pc.fill_null(err["error_type"], "(none)")
    err = err.set_column(err.schema.get_field_index("error_type"), "error_type", etype)
    counts = err.group_by("error_type", use_threads=False).aggregate([("input_uri", "count")])
    counts = counts.sort_by([("input_uri_count", "descending"), ("error_type", "ascending")])
    out = []
    for r in counts.slice(0, MAX_ERROR_TYPES).to_pylist():
        ex = err.filter(pc.equal(err["error_type"], r["error_type"])).slice(0, EXAMPLES)
        out.append({
            "error_type": r["error_type"], "count": r["input_uri_count"],
            "examples": [{"input_uri": u, "error_message": m, "run_id": run}
                         for u, m, run in zip(ex["input_uri"].to_pylist(),
                                              ex["error_message"].to_pylist(),
                                              ex["run_id"].to_pylist())],
        })
    return out


def _top(table: pa.Table, column: str, k: int = TOP_N) -> List[Dict[str, Any]]:
    rows = table.filter(pc.is_valid(table[column]))
    if rows.num_rows == 0:
        return []
    idx = pc.select_k_unstable(rows, k=min(k, rows.num_rows), sort_keys=[(column, "descending")])
    keep = ["run_id", "input_uri", "status", "input_bytes", "output_bytes", "byte_ratio",
            "pixel_ratio", "decode_ms", "energy_ms", "resize_ms", "encode_ms", "total_ms"]
    top = rows.select(keep).take(idx).to_pylist()
    return sorted(top, key=lambda r: -r[column])


def _np(values) -> np.ndarray:
    values = pc.drop_null(values)
    if len(values) == 0:
        return np.zeros(0, dtype=np.float64)
    return values.to_numpy().astype(np.float64, copy=False)


@dataclass
class Report:
    """Everything the report shows, as plain data (JSON-able except ``plots``)."""

    manifest: str
    runs: List[str]
    totals: Dict[str, Any]
    by_run: List[Dict[str, Any]]
    by_config: List[Dict[str, Any]]
    errors: List[Dict[str, Any]]
    slowest: List[Dict[str, Any]]
    worst_ratio: List[Dict[str, Any]]
    time_quantiles: Dict[str, Optional[float]]
    stage_ms: Dict[str, Optional[float]]
    plots: Dict[str, Any] = field(default_factory=dict)
    generated_at: str = ""

    def json_totals(self) -> Dict[str, Any]:
        """What ``--json`` prints: the totals, overall and per run."""
        return {"manifest": self.manifest, "runs": self.runs, "totals": self.totals,
                "by_run": {r["run_id"]: {k: v for k, v in r.items() if k != "run_id"}
                           for r in self.by_run}}


def build_report(table: pa.Table, manifest: str = "", runs: Optional[Sequence[str]] = None
                 ) -> Report:
    """Compute every number and plot of the report from manifest rows.

    Parameters
    ----------
    table : pyarrow.Table
        Manifest rows with (at least) the :data:`COLUMNS`.
    manifest : str
        The manifest URI (shown in the report).
    runs : sequence of str, optional
        Run order for the comparison (default: by first ``processed_at``, then id).
    """
    run_col = table["run_id"]
    present = pc.unique(run_col).to_pylist()
    if runs:
        order = [r for r in runs if r in present] + sorted(r for r in present if r not in runs)
    else:
        starts = table.group_by("run_id", use_threads=False).aggregate(
            [("processed_at", "min")]).to_pylist()
        far = _dt.datetime.max.replace(tzinfo=_dt.timezone.utc)
        order = [r["run_id"] for r in sorted(
            starts, key=lambda r: (r["processed_at_min"] or far, r["run_id"]))]
    if runs:  # requested runs with no rows (an empty run) still get a line
        order += [r for r in runs if r not in order]
    by_run = []
    for run in order:
        t = totals(table.filter(pc.equal(run_col, run)))
        by_run.append({"run_id": run, **t})

    ok = table.filter(pc.fill_null(pc.equal(table["status"], "ok"), False))
    ms = _np(ok["total_ms"])
    qs = {f"p{int(q * 100)}": (float(np.quantile(ms, q)) if ms.size else None)
          for q in (0.5, 0.9, 0.99)}
    qs["max"] = float(ms.max()) if ms.size else None
    stage = {c: _mean(ok[c]) for c in ("decode_ms", "energy_ms", "resize_ms", "encode_ms",
                                       "total_ms")}

    n_ok = ok.num_rows
    both = ok.filter(pc.and_(pc.is_valid(ok["energy_mean"]), pc.is_valid(ok["byte_ratio"])))
    xs, ys = _np(both["energy_mean"]), _np(both["byte_ratio"])
    note = ""
    if xs.size > SCATTER_POINTS:
        pick = np.sort(np.random.default_rng(0).choice(xs.size, SCATTER_POINTS, replace=False))
        xs, ys = xs[pick], ys[pick]
        note = f"{SCATTER_POINTS:,} of {both.num_rows:,} images (random sample)"
    figures = {
        "byte_ratio": plots.histogram(_np(ok["byte_ratio"]), "Byte ratio (output / input bytes)",
                                      "byte ratio", note=f"{n_ok:,} ok images"),
        "retained_energy": plots.histogram(_np(ok["retained_energy_ratio"]),
                                           "Retained energy ratio", "retained energy ratio"),
        "energy_vs_ratio": plots.Scatter("Energy mean vs byte ratio", "energy mean",
                                         "byte ratio", xs.tolist(), ys.tolist(), note=note),
        "total_ms": plots.histogram(ms, "Processing time per image", "total ms", log_x=True),
    }
    return Report(
        manifest=manifest, runs=order, totals=totals(table), by_run=by_run,
        by_config=_group_table(table, ["method", "energy", "model"]),
        errors=_errors(table), slowest=_top(table, "total_ms"),
        worst_ratio=_top(ok, "byte_ratio"), time_quantiles=qs, stage_ms=stage, plots=figures,
        generated_at=_dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
    )


# --------------------------------------------------------------------------- formatting


def _bytes(n) -> str:
    if n is None:
        return ""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""  # pragma: no cover


def _num(v, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, int):
        return f"{v:,}"
    return f"{v:.{digits}f}"


def _pct(v) -> str:
    return "–" if v is None else f"{100 * v:.1f}%"


def _delta(v, base, pct=False) -> str:
    if v is None or base is None:
        return ""
    d = v - base
    if pct:
        return f"{100 * d:+.1f} pt"
    if isinstance(v, int) and isinstance(base, int):
        return f"{d:+,}"
    return f"{d:+.3f}"


def _totals_rows(t: Dict[str, Any]) -> List[tuple]:
    return [
        ("images", _num(t["images"])),
        ("ok / error / skipped", f"{t['ok']:,} / {t['error']:,} / {t['skipped']:,}"),
        ("bytes in (ok images)", f"{_bytes(t['bytes_in'])} ({t['bytes_in']:,} B)"),
        ("bytes out (ok images)", f"{_bytes(t['bytes_out'])} ({t['bytes_out']:,} B)"),
        ("bytes saved", f"{_bytes(t['bytes_saved'])} ({_pct(t['saved_fraction'])})"),
        ("byte ratio: mean / median", f"{_num(t['mean_byte_ratio'])} / {_num(t['median_byte_ratio'])}"),
        ("pixel ratio: mean / median", f"{_num(t['mean_pixel_ratio'])} / {_num(t['median_pixel_ratio'])}"),
        ("retained energy ratio: mean", _num(t["mean_retained_energy_ratio"])),
        ("time per ok image: median", f"{_num(t['median_total_ms'], 1)} ms"),
        ("processed", f"{t['first_processed_at'] or '–'} … {t['last_processed_at'] or '–'}"),
    ]


_CONFIG_HEAD = ["method", "energy", "model", "images", "ok", "error", "skipped", "bytes in",
                "bytes out", "saved", "mean byte ratio", "mean pixel ratio",
                "mean retained energy", "mean ms"]


def _config_cells(r) -> List[str]:
    return [r["method"] or "–", r["energy"] or "–", r["model"] or "–", _num(r["images"]),
            _num(r["ok"]), _num(r["error"]), _num(r["skipped"]), _bytes(r["bytes_in"]),
            _bytes(r["bytes_out"]), _pct(r["saved_fraction"]), _num(r["mean_byte_ratio"]),
            _num(r["mean_pixel_ratio"]), _num(r["mean_retained_energy_ratio"]),
            _num(r["mean_total_ms"], 1)]


_RUN_HEAD = ["run", "images", "ok", "error", "skipped", "bytes in", "bytes out", "saved",
             "mean byte ratio", "median byte ratio", "mean pixel ratio", "median ms",
             "first processed"]


def _run_cells(r) -> List[str]:
    return [r["run_id"], _num(r["images"]), _num(r["ok"]), _num(r["error"]), _num(r["skipped"]),
            _bytes(r["bytes_in"]), _bytes(r["bytes_out"]), _pct(r["saved_fraction"]),
            _num(r["mean_byte_ratio"]), _num(r["median_byte_ratio"]),
            _num(r["mean_pixel_ratio"]), _num(r["median_total_ms"], 1),
            r["first_processed_at"] or "–"]


def _delta_cells(r, base) -> List[str]:
    def rate(x):
        return x["error"] / x["images"] if x["images"] else None

    return [f"Δ {r['run_id']} vs {base['run_id']}", _delta(r["images"], base["images"]),
            _delta(r["ok"], base["ok"]), _delta(r["error"], base["error"]),
            _delta(r["skipped"], base["skipped"]), _delta(r["bytes_in"], base["bytes_in"]),
            _delta(r["bytes_out"], base["bytes_out"]),
            _delta(r["saved_fraction"], base["saved_fraction"], pct=True),
            _delta(r["mean_byte_ratio"], base["mean_byte_ratio"]),
            _delta(r["median_byte_ratio"], base["median_byte_ratio"]),
            _delta(r["mean_pixel_ratio"], base["mean_pixel_ratio"]),
            _delta(r["median_total_ms"], base["median_total_ms"]),
            f"error rate {_delta(rate(r), rate(base), pct=True)}".strip()]


_TOP_HEAD = ["input", "run", "status", "bytes in", "bytes out", "byte ratio", "decode ms",
             "energy ms", "resize ms", "encode ms", "total ms"]


def _top_cells(r) -> List[str]:
    return [r["input_uri"], r["run_id"], r["status"], _bytes(r["input_bytes"]),
            _bytes(r["output_bytes"]), _num(r["byte_ratio"]), _num(r["decode_ms"], 1),
            _num(r["energy_ms"], 1), _num(r["resize_ms"], 1), _num(r["encode_ms"], 1),
            _num(r["total_ms"], 1)]


def _time_rows(rep: Report) -> List[List[str]]:
    q, s = rep.time_quantiles, rep.stage_ms
    return [["per ok image, ms", _num(q["p50"], 1), _num(q["p90"], 1), _num(q["p99"], 1),
             _num(q["max"], 1), _num(s["decode_ms"], 1), _num(s["energy_ms"], 1),
             _num(s["resize_ms"], 1), _num(s["encode_ms"], 1), _num(s["total_ms"], 1)]]


_TIME_HEAD = ["", "p50", "p90", "p99", "max", "mean decode", "mean energy", "mean resize",
              "mean encode", "mean total"]

_DEFINITIONS = ("Bytes in/out and the ratios count ok rows only (the images the run wrote); "
                "byte ratio = output bytes / input bytes (lower is better); skipped rows "
                "(outputs that already existed) and errors are counted, not measured.")


def _json_default(o):
    if isinstance(o, (_dt.datetime, _dt.date)):
        return o.isoformat()
    raise TypeError(type(o).__name__)


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;
max-width:1180px;color:#222;padding:0 16px}
h1{font-size:1.5em;margin-bottom:4px}h2{font-size:1.2em;margin-top:32px;border-bottom:1px solid #ddd}
.meta{color:#666;font-size:.9em}table{border-collapse:collapse;font-size:.88em;margin:8px 0}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.delta td{background:#fafae8;font-style:italic}
.plots{display:flex;flex-wrap:wrap;gap:12px}.plots svg{border:1px solid #ddd}
.uri{word-break:break-all;max-width:520px}.msg{color:#822;max-width:560px;word-break:break-word}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}
.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:130px}
.card b{display:block;font-size:1.4em}.card span{color:#666;font-size:.85em}
"""


def _e(s) -> str:
    return html.escape("" if s is None else str(s))


def _html_table(head: List[str], rows: List[List[str]], classes: Optional[List[str]] = None,
                row_classes: Optional[List[str]] = None) -> str:
    out = ["<table><thead><tr>", *(f"<th>{_e(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for i, row in enumerate(rows):
        rc = f' class="{row_classes[i]}"' if row_classes and row_classes[i] else ""
        out.append(f"<tr{rc}>")
        for j, cell in enumerate(row):
            c = f' class="{classes[j]}"' if classes and classes[j] else ""
            out.append(f"<td{c}>{_e(cell)}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _num_classes(head, text_cols) -> List[str]:
    return ["" if i in text_cols else "n" for i in range(len(head))]


def render_html(rep: Report) -> str:
    """The report as one self-contained HTML page (CSS and SVG inline, no scripts, no links)."""
    t = rep.totals
    data = json.dumps(rep.json_totals(), default=_json_default).replace("</", "<\\/")
    cards = [("images", _num(t["images"])), ("ok", _num(t["ok"])), ("errors", _num(t["error"])),
             ("skipped", _num(t["skipped"])), ("bytes saved", _bytes(t["bytes_saved"])),
             ("saved", _pct(t["saved_fraction"])),
             ("median byte ratio", _num(t["median_byte_ratio"]))]
    p = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        f"<title>Manifest report: {_e(rep.manifest)}</title><style>{_CSS}</style></head><body>",
        "<h1>Semantic Compress: manifest report</h1>",
        f"<p class=\"meta\">Manifest <code>{_e(rep.manifest)}</code> · {len(rep.runs)} run(s): "
        f"{_e(', '.join(rep.runs))} · generated {_e(rep.generated_at)}</p>",
        f"<script type=\"application/json\" id=\"report-data\">{data}</script>",
        "<div class=\"cards\">",
        *(f"<div class=\"card\"><b>{_e(v)}</b><span>{_e(k)}</span></div>" for k, v in cards),
        "</div><h2 id=\"totals\">Totals</h2>",
        _html_table(["measure", "value"], [list(r) for r in _totals_rows(t)]),
        f"<p class=\"meta\">{_e(_DEFINITIONS)}</p>",
    ]
    if len(rep.by_run) > 1:
        base = rep.by_run[0]
        rows, rcls = [], []
        for r in rep.by_run:
            rows.append(_run_cells(r))
            rcls.append("")
        for r in rep.by_run[1:]:
            rows.append(_delta_cells(r, base))
            rcls.append("delta")
        p += ["<h2 id=\"runs\">Runs compared</h2>",
              f"<p class=\"meta\">Differences are against the first run, {_e(base['run_id'])}.</p>",
              _html_table(_RUN_HEAD, rows, _num_classes(_RUN_HEAD, {0, 12}), rcls)]
    p += ["<h2 id=\"configs\">By method, energy and model</h2>",
          _html_table(_CONFIG_HEAD, [_config_cells(r) for r in rep.by_config],
                      _num_classes(_CONFIG_HEAD, {0, 1, 2}))]
    p += ["<h2 id=\"plots\">Distributions</h2><div class=\"plots\">",
          *(plots.to_svg(rep.plots[k]) for k in ("byte_ratio", "retained_energy",
                                                  "energy_vs_ratio", "total_ms")),
          "</div>"]
    p += ["<h2 id=\"time\">Processing time</h2>",
          _html_table(_TIME_HEAD, _time_rows(rep), _num_classes(_TIME_HEAD, {0})),
          f"<h3>Slowest {len(rep.slowest)} images</h3>",
          _html_table(_TOP_HEAD, [_top_cells(r) for r in rep.slowest],
                      ["uri"] + _num_classes(_TOP_HEAD, {0, 1, 2})[1:]) if rep.slowest
          else "<p>No timings.</p>",
          "<h3>Highest byte ratios (compressed least) among ok images</h3>",
          _html_table(_TOP_HEAD, [_top_cells(r) for r in rep.worst_ratio],
                      ["uri"] + _num_classes(_TOP_HEAD, {0, 1, 2})[1:]) if rep.worst_ratio
          else "<p>No ok images.</p>"]
    p.append("<h2 id=\"errors\">Errors</h2>")
    if rep.errors:
        rows = []
        for e in rep.errors:
            ex = "".join(f"<div class=\"uri\">{_e(x['input_uri'])}</div>"
                         f"<div class=\"msg\">{_e((x['error_message'] or '')[:300])}</div>"
                         for x in e["examples"])
            rows.append(f"<tr><td>{_e(e['error_type'])}</td><td class=\"n\">{e['count']:,}</td>"
                        f"<td>{ex}</td></tr>")
        p += ["<table><thead><tr><th>error type</th><th>rows</th><th>examples (input, message)"
              "</th></tr></thead><tbody>", *rows, "</tbody></table>"]
        if len(rep.errors) == MAX_ERROR_TYPES:
            p.append(f"<p class=\"meta\">The {MAX_ERROR_TYPES} most frequent error types.</p>")
    else:
        p.append("<p>No errors.</p>")
    p.append("</body></html>\n")
    return "".join(p)


# --------------------------------------------------------------------------- Markdown


def _md_cell(s) -> str:
    s = "" if s is None else str(s)
    return s.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def _md_table(head: List[str], rows: List[List[str]]) -> str:
    out = ["| " + " | ".join(_md_cell(h) or " " for h in head) + " |",
           "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def render_markdown(rep: Report, image_dir: str) -> tuple:
    """The report as Markdown plus its PNG plots.

    Returns
    -------
    (str, dict)
        The Markdown text (images linked as ``<image_dir>/<name>.png``) and
        ``{file name: PNG bytes}``.
    """
    import io

    t = rep.totals
    lines = ["# Semantic Compress: manifest report", "",
             f"Manifest `{rep.manifest}` · {len(rep.runs)} run(s): {', '.join(rep.runs)} · "
             f"generated {rep.generated_at}", "", "## Totals", "",
             _md_table(["measure", "value"], [list(r) for r in _totals_rows(t)]), "",
             _DEFINITIONS, ""]
    if len(rep.by_run) > 1:
        base = rep.by_run[0]
        rows = [_run_cells(r) for r in rep.by_run] + [_delta_cells(r, base)
                                                      for r in rep.by_run[1:]]
        lines += ["## Runs compared", "", f"Differences are against the first run, "
                  f"{base['run_id']}.", "", _md_table(_RUN_HEAD, rows), ""]
    lines += ["## By method, energy and model", "",
              _md_table(_CONFIG_HEAD, [_config_cells(r) for r in rep.by_config]), "",
              "## Distributions", ""]
    images = {}
    for key in ("byte_ratio", "retained_energy", "energy_vs_ratio", "total_ms"):
        buf = io.BytesIO()
        plots.to_png(rep.plots[key], buf)
        images[f"{key}.png"] = buf.getvalue()
        lines.append(f"![{rep.plots[key].title}]({image_dir}/{key}.png)")
        lines.append("")
    lines += ["## Processing time", "", _md_table(_TIME_HEAD, _time_rows(rep)), "",
              f"### Slowest {len(rep.slowest)} images", "",
              _md_table(_TOP_HEAD, [_top_cells(r) for r in rep.slowest]) if rep.slowest
              else "No timings.", "",
              "### Highest byte ratios (compressed least) among ok images", "",
              _md_table(_TOP_HEAD, [_top_cells(r) for r in rep.worst_ratio])
              if rep.worst_ratio else "No ok images.", "", "## Errors", ""]
    if rep.errors:
        rows = [[e["error_type"], f"{e['count']:,}",
                 "; ".join(f"{x['input_uri']}: {(x['error_message'] or '')[:200]}"
                           for x in e["examples"])] for e in rep.errors]
        lines.append(_md_table(["error type", "rows", "examples (input: message)"], rows))
    else:
        lines.append("No errors.")
    lines.append("")
    return "\n".join(lines), images


# --------------------------------------------------------------------------- command line


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m pipeline.report",
        description="Report over the batch job's Parquet manifests: totals, tables per "
                    "method/energy/model, plots, errors and a comparison of runs.")
    p.add_argument("manifest", metavar="MANIFEST_URI",
                   help="the manifest folder (--manifest of the job, default <output>/_manifest); "
                        "any fsspec URI")
    p.add_argument("--run", dest="runs", action="extend", nargs="+", default=[],
                   metavar="RUN_ID", help="runs to report (repeatable; default: every run)")
    p.add_argument("-o", "--output", help="report file (default report.html / report.md; "
                                          "with --json alone, none is written)")
    p.add_argument("--format", choices=("html", "md"), default=None,
                   help="html (one self-contained file) or md (Markdown + PNGs in "
                        "<name>_files/); default from -o's suffix, else html")
    p.add_argument("--json", action="store_true", help="print the totals as JSON on stdout")
    p.add_argument("--storage_options", type=json.loads, default=None, metavar="JSON",
                   help="fsspec options per protocol, e.g. '{\"s3\": {\"anon\": true}}'")
    return p


def write_report(rep: Report, output: str, fmt: str, storage_options=None) -> str:
    """Write ``rep`` to ``output`` (any fsspec URI) as ``fmt``; returns ``output``."""
    from compress_core.storage import get_filesystem

    fs, path = get_filesystem(output, storage_options)
    parent = posixpath.dirname(path)
    if parent:
        fs.makedirs(parent, exist_ok=True)
    if fmt == "html":
        with fs.open(path, "w", encoding="utf-8") as f:
            f.write(render_html(rep))
        return output
    stem = posixpath.splitext(posixpath.basename(path))[0]
    image_dir = f"{stem}_files"
    text, images = render_markdown(rep, image_dir)
    folder = posixpath.join(parent, image_dir) if parent else image_dir
    fs.makedirs(folder, exist_ok=True)
    for name, data in images.items():
        with fs.open(posixpath.join(folder, name), "wb") as f:
            f.write(data)
    with fs.open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return output


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The command line; returns the exit status (2 for a missing manifest or run)."""
    args = _parser().parse_args(argv)
    fmt = args.format or ("md" if (args.output or "").lower().endswith(".md") else "html")
    try:
        table = load_manifest(args.manifest, args.runs, args.storage_options)
    except ManifestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rep = build_report(table, manifest=args.manifest, runs=args.runs or None)
    output = args.output or (None if args.json else f"report.{fmt}")
    if output:
        write_report(rep, output, fmt, args.storage_options)
        logger.info("report written to %s", output)
        if not args.json:
            print(output)
    if args.json:
        print(json.dumps(rep.json_totals(), indent=2, default=_json_default))
    return 0


if __name__ == "__main__":  # pragma: no cover
    logging.basicConfig(level=logging.WARNING)
    sys.exit(main())
