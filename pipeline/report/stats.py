"""The report's numbers: totals, groups, errors, extremes and plots, computed with pyarrow
compute kernels and NumPy over the columns (no per-row Python loops)."""
from __future__ import annotations

import datetime as _dt
import json
import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from compress_core.request import canonical_json, hashed_params
from compress_core.storage import input_key
from transforms.manifest import SKIP_FAILED_BEFORE, SKIP_UNRECORDED

from . import plots
from .reading import parts_left_out, runs_read, runs_without_parts
from .settings import settings_labels

__all__ = ["Report", "build_report", "totals", "TOP_N", "EXAMPLES", "MAX_ERROR_TYPES",
           "SCATTER_POINTS", "stored_now", "without_uri"]

#: Rows listed in the "slowest" / "worst ratio" tables; example URIs per error type.
TOP_N = 10
EXAMPLES = 3
MAX_ERROR_TYPES = 30
#: Points drawn in the scatter plot (a random sample beyond that, seed 0).
SCATTER_POINTS = 2000


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


def _column(table: pa.Table, name: str, typ: pa.DataType) -> pa.ChunkedArray:
    """``table[name]``, or nulls for a table without it (:func:`totals` of the few columns
    the run summary reads, :mod:`pipeline.report.summary`)."""
    if name in table.column_names:
        return table[name]
    return pa.chunked_array([pa.nulls(table.num_rows, typ)])


def _faces_count(faces) -> int:
    return _py(pc.sum(pc.cast(pc.fill_null(pc.greater(faces, 0), False), pa.int64()))) or 0


def _skipped_as(table: pa.Table, reason: str) -> pa.ChunkedArray:
    """Bool per row of ``table``: skipped for ``reason`` (its ``skip_reason``)."""
    return pc.fill_null(pc.equal(_column(table, "skip_reason", pa.string()), reason), False)


def _skipped_for(table: pa.Table, reason: str) -> int:
    """How many rows of ``table`` were skipped for ``reason``."""
    return _py(pc.sum(pc.cast(_skipped_as(table, reason), pa.int64()))) or 0


def totals(table: pa.Table) -> Dict[str, Any]:
    """The headline numbers of ``table`` (see the module docstring for the definitions)."""
    status = table["status"]
    counts = {d["values"]: d["counts"] for d in pc.value_counts(status).to_pylist()}
    ok = table.filter(pc.equal(status, "ok"))
    bytes_in = _py(pc.sum(ok["input_bytes"])) or 0
    bytes_out = _py(pc.sum(ok["output_bytes"])) or 0
    scores = _column(ok, "quality_score", pa.float64())
    when = table["processed_at"]
    first, last = pc.min(when).as_py(), pc.max(when).as_py()
    return {
        "images": table.num_rows,
        "ok": counts.get("ok", 0),
        "error": counts.get("error", 0),
        "skipped": counts.get("skipped", 0),
        # skipped as failed before: damaged inputs (or over the pixel limit) not read again
        "skipped_failed_before": _skipped_for(table, SKIP_FAILED_BEFORE),
        # skipped against outputs no row named: adopted from a run stopped before its manifest
        "skipped_unrecorded": _skipped_for(table, SKIP_UNRECORDED),
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
        # quality="auto" rows: the SSIMULACRA2 score each reached (null for a fixed quality)
        "scored": pc.count(scores).as_py(),
        "median_quality_score": _median(scores),
        "lowest_quality_score": _py(pc.min(scores)),
        "max_stretch": _py(pc.max(_column(ok, "stretch", pa.float64()))),
        "images_with_faces": _faces_count(_column(ok, "faces", pa.int32())),
        "first_processed_at": first.isoformat() if first else None,
        "last_processed_at": last.isoformat() if last else None,
    }


def _each_value_once(column, spell) -> pa.Array:
    """``column`` (strings) with ``spell`` applied once per distinct value, as strings."""
    encoded = column.combine_chunks().dictionary_encode()
    spelt = pa.array([None if value is None else spell(value)
                      for value in encoded.dictionary.to_pylist()], pa.string())
    return pa.DictionaryArray.from_arrays(encoded.indices, spelt).cast(pa.string())


def _input_keys(uris: pa.ChunkedArray) -> pa.Array:
    """One spelling per input file, the job's (:func:`compress_core.storage.input_key`, which
    the job's rows have recorded since 2026-12-05; older rows kept the ``--input``'s
    spelling)."""
    return _each_value_once(uris, input_key)


def stored_now(table: pa.Table) -> Dict[str, Any]:
    """What the outputs hold now, as far as the rows read know: the latest row (by
    ``processed_at``) of each ``output_uri`` that wrote it (``ok``) or found it there
    (``skipped``: written before, or adopted from a stopped run, which no ``ok`` row names;
    stores review 23: 36 outputs counted of 40 stored; not a skip as failed before, which
    names no output), once. A report of a ``--skip_existing`` night alone said 0 outputs
    stored, its skipped rows naming every one (report review 42). A rerun without ``--skip_existing`` rewrites its outputs,
    and :func:`totals` counts them once per run; this counts each file once. The inputs they
    were made from count once each too, by their latest such row: an input with outputs of
    several settings was counted once per output, and the bytes "saved" exceeded the inputs'
    size (compat review 27); ``bytes_saved`` is what replacing the inputs by every output
    stored would save."""
    status = table["status"]
    uri = _column(table, "output_uri", pa.string())
    found = pc.and_(pc.equal(status, "skipped"),
                    pc.invert(_skipped_as(table, SKIP_FAILED_BEFORE)))
    written = pc.or_kleene(pc.equal(status, "ok"), found)
    keep = pc.and_(pc.fill_null(written, False), pc.is_valid(uri))
    ok = pa.table({"output_uri": uri, "input_uri": table["input_uri"],
                   "processed_at": table["processed_at"], "input_bytes": table["input_bytes"],
                   "output_bytes": table["output_bytes"]}
                  ).filter(keep).sort_by([("processed_at", "ascending")])
    outputs = ok.group_by("output_uri", use_threads=False).aggregate(
        [("output_bytes", "last")])   # in time order: the latest
    # one input however its row spelt it: releases before 2026-12-05 recorded an input given
    # as file:///p/x.jpg under that spelling, later ones as /p/x.jpg (the job's input_key)
    ok = ok.append_column("input_key", _input_keys(ok["input_uri"]))
    inputs = ok.group_by("input_key", use_threads=False).aggregate([("input_bytes", "last")])
    bytes_in = _py(pc.sum(inputs["input_bytes_last"])) or 0
    bytes_out = _py(pc.sum(outputs["output_bytes_last"])) or 0
    return {"outputs": outputs.num_rows, "inputs": inputs.num_rows, "bytes_in": bytes_in,
            "bytes_out": bytes_out, "bytes_saved": bytes_in - bytes_out,
            "saved_fraction": (bytes_in - bytes_out) / bytes_in if bytes_in else None}


def _group_table(table: pa.Table, keys: List[str]) -> List[Dict[str, Any]]:
    """Counts, bytes, mean ratios and the median and lowest score per distinct ``keys``
    (ok-only measures on ok rows)."""
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
        "score": pc.if_else(ok, table["quality_score"], null_f),
        "stretch": pc.if_else(ok, table["stretch"], null_f),
    })
    agg = work.group_by(keys, use_threads=False).aggregate([
        ("n", "sum"), ("is_ok", "sum"), ("is_error", "sum"), ("is_skipped", "sum"),
        ("in", "sum"), ("out", "sum"), ("byte_ratio", "mean"), ("pixel_ratio", "mean"),
        ("retained", "mean"), ("ms", "mean"), ("score", "list"), ("score", "min"),
        ("stretch", "max"),
    ])
    # exact medians of the scores (below 0 without a bound, they would dominate a mean)
    medians = [_median(s.values) if s.values is not None else None
               for s in agg["score_list"].combine_chunks()]
    agg = agg.drop_columns(["score_list"])
    rows = []
    for r, median in zip(agg.to_pylist(), medians):  # one row per group: a handful
        bytes_in, bytes_out = r["in_sum"] or 0, r["out_sum"] or 0
        rows.append({
            **{k: r[k] for k in keys},
            "images": r["n_sum"], "ok": r["is_ok_sum"], "error": r["is_error_sum"],
            "skipped": r["is_skipped_sum"], "bytes_in": bytes_in, "bytes_out": bytes_out,
            "saved_fraction": (bytes_in - bytes_out) / bytes_in if bytes_in else None,
            "mean_byte_ratio": r["byte_ratio_mean"], "mean_pixel_ratio": r["pixel_ratio_mean"],
            "mean_retained_energy_ratio": r["retained_mean"], "mean_total_ms": r["ms_mean"],
            "median_quality_score": median, "lowest_quality_score": r["score_min"],
            "max_stretch": r["stretch_max"],
        })
    rows.sort(key=lambda r: (-r["images"], *[str(r[k]) for k in keys]))
    return rows


def _settings_of(params: Optional[str]) -> Optional[str]:
    """A ``params`` value as the output names' hash reads it (``max_pixels`` left out:
    :func:`compress_core.request.hashed_params`), so that runs that wrote the same outputs
    are one setting (a rerun with another --max_pixels was listed apart: compat review 27)."""
    try:
        parsed = json.loads(params) if params is not None else None
    except ValueError:
        return params
    return canonical_json(hashed_params(parsed)) if isinstance(parsed, dict) else params


def _by_settings(table: pa.Table) -> List[Dict[str, Any]]:
    """:func:`_group_table` per setting (the ``params`` column: what was asked for, output
    format, quality or byte budget included), each named by what differs (``settings``)."""
    params = _each_value_once(table["params"], _settings_of)
    table = table.set_column(table.schema.get_field_index("params"), "params", params)
    rows = _group_table(table, ["params", "method", "energy", "model"])
    labels = settings_labels(r["params"] for r in rows)
    return [{"settings": labels[r["params"]], **r} for r in rows]


def _by_format(ok: pa.Table) -> List[Dict[str, Any]]:
    """Per output format of the ok rows: outputs written, bytes in/out and saved."""
    fmt = pc.fill_null(ok["output_format"], "(none)")
    work = pa.table({"output_format": fmt, "input_bytes": ok["input_bytes"],
                     "output_bytes": ok["output_bytes"]})
    agg = work.group_by("output_format", use_threads=False).aggregate(
        [([], "count_all"), ("input_bytes", "sum"), ("output_bytes", "sum")])
    rows = []
    for r in agg.to_pylist():
        bytes_in, bytes_out = r["input_bytes_sum"] or 0, r["output_bytes_sum"] or 0
        rows.append({"output_format": r["output_format"], "ok": r["count_all"],
                     "bytes_in": bytes_in, "bytes_out": bytes_out,
                     "bytes_saved": bytes_in - bytes_out,
                     "saved_fraction": (bytes_in - bytes_out) / bytes_in if bytes_in else None})
    return sorted(rows, key=lambda r: (-r["bytes_saved"], r["output_format"]))


def without_uri(message: Optional[str], uri: Optional[str]) -> Optional[str]:
    """The error message without the input URI it starts with (the job's messages do: shown
    beside the URI, the path was printed twice)."""
    if message and uri and message.startswith(f"{uri}: "):
        return message[len(uri) + 2:]
    return message


def _errors(table: pa.Table) -> List[Dict[str, Any]]:
    """The error rows by type (the most frequent first), with a few examples of each."""
    return _by_error_type(table.filter(pc.fill_null(pc.equal(table["status"], "error"), False)))


def _failed_before(table: pa.Table) -> List[Dict[str, Any]]:
    """The rows skipped as failed before (inputs still damaged, or still over the pixel
    limit), by the error their rows carry: the files a night's report names as still broken
    (its error table alone had said "No errors." of a rerun that skipped them)."""
    return _by_error_type(table.filter(_skipped_as(table, SKIP_FAILED_BEFORE)))


def _by_error_type(err: pa.Table) -> List[Dict[str, Any]]:
    if err.num_rows == 0:
        return []
    etype = pc.fill_null(err["error_type"], "(none)")
    err = err.set_column(err.schema.get_field_index("error_type"), "error_type", etype)
    counts = err.group_by("error_type", use_threads=False).aggregate([("input_uri", "count")])
    counts = counts.sort_by([("input_uri_count", "descending"), ("error_type", "ascending")])
    out = []
    for r in counts.slice(0, MAX_ERROR_TYPES).to_pylist():
        # (the first rows of a type: a million alike are not all read for three examples)
        ex = err.filter(pc.equal(err["error_type"], r["error_type"])).slice(0, 10_000)
        examples, seen = [], set()
        # (distinct inputs: one damaged file of three runs was its type's three examples:
        # report review 42)
        for u, m, run in zip(ex["input_uri"].to_pylist(), ex["error_message"].to_pylist(),
                             ex["run_id"].to_pylist()):
            if u in seen:
                continue
            seen.add(u)
            examples.append({"input_uri": u, "error_message": without_uri(m, u), "run_id": run})
            if len(examples) == EXAMPLES:
                break
        out.append({"error_type": r["error_type"], "count": r["input_uri_count"],
                    "examples": examples})
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


def _lowest_scores(ok: pa.Table, k: int = TOP_N) -> List[Dict[str, Any]]:
    """The ``k`` ok rows with the lowest ``quality_score`` (quality="auto"), lowest first."""
    rows = ok.filter(pc.is_valid(ok["quality_score"]))
    if rows.num_rows == 0:
        return []
    order = [("quality_score", "ascending"), ("input_uri", "ascending"), ("run_id", "ascending")]
    idx = pc.select_k_unstable(rows, k=min(k, rows.num_rows), sort_keys=order)
    keep = ["run_id", "input_uri", "quality", "quality_score", "input_bytes", "output_bytes",
            "byte_ratio"]
    return sorted(rows.select(keep).take(idx).to_pylist(),
                  key=lambda r: (r["quality_score"], r["input_uri"], r["run_id"]))


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
    by_format: List[Dict[str, Any]]
    errors: List[Dict[str, Any]]
    slowest: List[Dict[str, Any]]
    worst_ratio: List[Dict[str, Any]]
    lowest_scores: List[Dict[str, Any]]
    time_quantiles: Dict[str, Optional[float]]
    stage_ms: Dict[str, Optional[float]]
    stored: Dict[str, Any] = field(default_factory=dict)   # :func:`stored_now`
    plots: Dict[str, Any] = field(default_factory=dict)
    generated_at: str = ""
    #: several manifest folders: {label: URI} of those read; their runs are named
    #: ``<label>/<run id>``
    folders: Dict[str, str] = field(default_factory=dict)
    #: folders given but not read: none of the runs asked for is in them
    skipped_folders: List[str] = field(default_factory=list)
    #: the rows skipped as failed before, by error type (as ``errors``)
    failed_before: List[Dict[str, Any]] = field(default_factory=list)
    #: manifest parts that could not be read, left out (:func:`.reading.parts_left_out`)
    parts_left_out: List[str] = field(default_factory=list)
    #: runs whose folders hold no part (:func:`.reading.runs_without_parts`)
    runs_without_parts: List[str] = field(default_factory=list)

    def json_totals(self) -> Dict[str, Any]:
        """What ``--json`` prints: the totals, overall and per run (and the folders read,
        when several were)."""
        out = {"manifest": self.manifest, "runs": self.runs, "totals": self.totals,
               "stored_now": self.stored,
               "by_format": {r["output_format"]: {k: v for k, v in r.items()
                                                  if k != "output_format"}
                             for r in self.by_format},
               "by_run": {r["run_id"]: {k: v for k, v in r.items() if k != "run_id"}
                          for r in self.by_run}}
        if self.folders:
            out["folders"] = dict(self.folders)
        if self.skipped_folders:
            out["skipped_folders"] = list(self.skipped_folders)
        if self.parts_left_out:
            out["parts_left_out"] = list(self.parts_left_out)
        if self.runs_without_parts:
            out["runs_without_parts"] = list(self.runs_without_parts)
        return out


def build_report(table: pa.Table, manifest: str = "", runs: Optional[Sequence[str]] = None,
                 folders: Optional[Dict[str, str]] = None,
                 skipped_folders: Sequence[str] = ()) -> Report:
    """Compute every number and plot of the report from manifest rows.

    Parameters
    ----------
    table : pyarrow.Table
        Manifest rows with (at least) the :data:`COLUMNS`.
    manifest : str
        The manifest URI (shown in the report).
    runs : sequence of str, optional
        Run order for the comparison (default: by first ``processed_at``, then id; runs
        without rows that :func:`~pipeline.report.load_manifest` read come last).
    folders : dict, optional
        ``{label: URI}`` of several manifest folders read into ``table``
        (:func:`~pipeline.report.load_manifests`), shown in the report.
    skipped_folders : sequence of str
        Folders given but not read (none of ``runs`` is in them), named in the report.
    """
    run_col = table["run_id"]
    present = pc.unique(run_col).to_pylist()
    runs = list(dict.fromkeys(runs or []))   # (--run A --run A: "2 run(s): A, A")
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
    else:  # so do the runs without rows that load_manifest read
        order += sorted(r for r in runs_read(table) if r not in order)
    by_run = []
    left_out = parts_left_out(table)
    for run in order:
        t = totals(table.filter(pc.equal(run_col, run)))
        # (a run whose only part cannot be read looked like an empty run: report review 42)
        lost = sum(f"run_id={run}/" in name.replace("\\", "/") for name in left_out)
        by_run.append({"run_id": run, **t, **({"parts_left_out": lost} if lost else {})})

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
    if not both.num_rows and n_ok:   # no map computed (the default scale since session 29)
        note = (f"none of the {n_ok:,} ok images has an importance map: they kept their "
                "aspect (scaled whole) or were re-encoded, which compute none")
    elif both.num_rows < n_ok:   # (on the plot's one line: plots.NOTE_CHARS)
        note = (f"{both.num_rows:,} of {n_ok:,} ok images have an importance map"
                + (f", {SCATTER_POINTS:,} drawn" if note else ""))
    figures = {
        "byte_ratio": plots.histogram(_np(ok["byte_ratio"]), "Byte ratio (output / input bytes)",
                                      "byte ratio", note=f"{n_ok:,} ok images"),
        "retained_energy": plots.histogram(_np(ok["retained_energy_ratio"]),
                                           "Retained energy ratio", "retained energy ratio"),
        "energy_vs_ratio": plots.Scatter("Energy mean vs byte ratio", "energy mean",
                                         "byte ratio", xs.tolist(), ys.tolist(), note=note),
        "total_ms": plots.histogram(ms, "Processing time per image", "total ms", log_x=True),
    }
    scores = _np(ok["quality_score"])
    if scores.size:  # runs with quality="auto" only
        figures["quality_score"] = plots.histogram(
            scores, "SSIMULACRA2 score reached (quality auto or a byte budget)", "score",
            note=f"{scores.size:,} of {n_ok:,} ok images")
    return Report(
        manifest=manifest, runs=order, totals=totals(table), by_run=by_run,
        by_config=_by_settings(table), by_format=_by_format(ok),
        errors=_errors(table), slowest=_top(table, "total_ms"),
        worst_ratio=_top(ok, "byte_ratio"), lowest_scores=_lowest_scores(ok),
        time_quantiles=qs, stage_ms=stage, stored=stored_now(table), plots=figures,
        generated_at=_dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        folders=dict(folders or {}), skipped_folders=list(skipped_folders),
        failed_before=_failed_before(table), parts_left_out=parts_left_out(table),
        runs_without_parts=runs_without_parts(table),
    )
