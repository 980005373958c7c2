"""The report as one self-contained HTML page (CSS and SVG inline, no scripts, no links)."""
from __future__ import annotations

import html
import json
from typing import List, Optional

from compress_core.storage import for_terminal

from . import plots
from .cells import (
    CONFIG_HEAD,
    FORMAT_HEAD,
    DEFINITIONS,
    FAILED_BEFORE_TITLE,
    RUN_HEAD,
    RUNS_NOTE,
    SCORE_HEAD,
    TIME_HEAD,
    TOP_HEAD,
    config_cells,
    delta_cells,
    format_cells,
    fmt_bytes,
    fmt_num,
    fmt_pct,
    json_default,
    manifest_line,
    run_cells,
    score_cells,
    time_rows,
    top_cells,
    stored_rows,
    totals_rows,
)
from .stats import MAX_ERROR_TYPES, Report

__all__ = ["render_html"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;
max-width:1180px;color:#222;padding:0 16px}
h1{font-size:1.5em;margin-bottom:4px}
h2{font-size:1.2em;margin-top:32px;border-bottom:1px solid #ddd}
.meta{color:#666;font-size:.9em}table{border-collapse:collapse;font-size:.88em;margin:8px 0}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.delta td{background:#fafae8;font-style:italic}
.plots{display:flex;flex-wrap:wrap;gap:12px}.plots svg{border:1px solid #ddd}
.uri{word-break:break-all;max-width:520px}.msg{color:#822;max-width:560px;word-break:break-word}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}
.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:130px}
.card b{display:block;font-size:1.4em}.card span{color:#666;font-size:.85em}
.scroll{overflow-x:auto;max-width:100%}
"""


def _e(s) -> str:
    """Text as HTML shows it: escaped, with its control and bidirectional characters written
    out as the log writes them (a name holding U+202E showed reversed: operator review 39;
    one holding a line break showed a space there: diff review 39)."""
    return html.escape(for_terminal("" if s is None else str(s)))


def _code(s) -> str:
    return f"<code>{_e(s)}</code>"


def _html_table(head: List[str], rows: List[List[str]], classes: Optional[List[str]] = None,
                row_classes: Optional[List[str]] = None) -> str:
    # a table wider than the page scrolls in its box, not the whole page (the runs compared,
    # 1390 px in a 1280 px window, had cut off their last columns: manifest review 29)
    out = ["<div class=\"scroll\"><table><thead><tr>", *(f"<th>{_e(h)}</th>" for h in head),
           "</tr></thead><tbody>"]
    for i, row in enumerate(rows):
        rc = f' class="{row_classes[i]}"' if row_classes and row_classes[i] else ""
        out.append(f"<tr{rc}>")
        for j, cell in enumerate(row):
            c = f' class="{classes[j]}"' if classes and classes[j] else ""
            out.append(f"<td{c}>{_e(cell)}</td>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _num_classes(head, text_cols) -> List[str]:
    return ["" if i in text_cols else "n" for i in range(len(head))]


def _error_table(errors) -> List[str]:
    """The HTML of a table of rows by error type (``Report.errors``, ``Report.failed_before``)."""
    rows = []
    for e in errors:
        ex = "".join(f"<div class=\"uri\">{_e(x['input_uri'])}</div>"
                     f"<div class=\"msg\">{_e((x['error_message'] or '')[:300])}</div>"
                     for x in e["examples"])
        rows.append(f"<tr><td>{_e(e['error_type'])}</td><td class=\"n\">{e['count']:,}</td>"
                    f"<td>{ex}</td></tr>")
    out = ["<div class=\"scroll\"><table><thead><tr><th>error type</th><th>rows</th>"
           "<th>examples (input, message)</th></tr></thead><tbody>", *rows,
           "</tbody></table></div>"]
    if len(errors) == MAX_ERROR_TYPES:
        out.append(f"<p class=\"meta\">The {MAX_ERROR_TYPES} most frequent error types.</p>")
    return out


def render_html(rep: Report) -> str:
    """The report as one self-contained HTML page (CSS and SVG inline, no scripts, no links)."""
    t = rep.totals
    data = json.dumps(rep.json_totals(), default=json_default).replace("</", "<\\/")
    cards = [("rows (summed over runs)", fmt_num(t["images"])), ("ok", fmt_num(t["ok"])),
             ("errors", fmt_num(t["error"])),
             ("skipped", fmt_num(t["skipped"])),
             ("bytes saved (summed over runs)", fmt_bytes(t["bytes_saved"])),
             ("bytes saved (outputs stored now)", fmt_bytes(rep.stored.get("bytes_saved"))),
             ("saved", fmt_pct(t["saved_fraction"])),
             ("median byte ratio", fmt_num(t["median_byte_ratio"]))]
    p = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        f"<title>Manifest report: {_e(rep.manifest)}</title><style>{_CSS}</style></head><body>",
        "<h1>Semantic Compress: manifest report</h1>",
        f"<p class=\"meta\">{manifest_line(rep, _code)} · {len(rep.runs)} run(s): "
        f"{_e(', '.join(rep.runs))} · generated {_e(rep.generated_at)}</p>",
        f"<script type=\"application/json\" id=\"report-data\">{data}</script>",
        "<div class=\"cards\">",
        *(f"<div class=\"card\"><b>{_e(v)}</b><span>{_e(k)}</span></div>" for k, v in cards),
        "</div><h2 id=\"totals\">Totals</h2>",
        _html_table(["measure", "value"],
                    [list(r) for r in totals_rows(t) + stored_rows(rep.stored)]),
        f"<p class=\"meta\">{_e(DEFINITIONS)}</p>",
    ]
    if len(rep.by_run) > 1:
        base = rep.by_run[0]
        rows, rcls = [], []
        for r in rep.by_run:
            rows.append(run_cells(r))
            rcls.append("")
        for r in rep.by_run[1:]:
            rows.append(delta_cells(r, base))
            rcls.append("delta")
        p += ["<h2 id=\"runs\">Runs compared</h2>",
              f"<p class=\"meta\">Differences are against the first run, {_e(base['run_id'])}. "
              f"{_e(RUNS_NOTE)}.</p>",
              _html_table(RUN_HEAD, rows, _num_classes(RUN_HEAD, {0, len(RUN_HEAD) - 1}), rcls)]
    p += ["<h2 id=\"configs\">By settings</h2>",
          "<p class=\"meta\">One row per setting (the params column: method, output format, "
          "quality or byte budget ...), named by the settings that differ.</p>",
          _html_table(CONFIG_HEAD, [config_cells(r) for r in rep.by_config],
                      _num_classes(CONFIG_HEAD, {0, 1, 2, 3})),
          "<h2 id=\"formats\">By output format (ok rows, summed over runs)</h2>",
          _html_table(FORMAT_HEAD, [format_cells(r) for r in rep.by_format],
                      _num_classes(FORMAT_HEAD, {0})) if rep.by_format
          else "<p>No ok images.</p>"]
    p += ["<h2 id=\"plots\">Distributions</h2><div class=\"plots\">",
          *(plots.to_svg(figure) for figure in rep.plots.values()),
          "</div>"]
    p += ["<h2 id=\"time\">Processing time</h2>",
          _html_table(TIME_HEAD, time_rows(rep), _num_classes(TIME_HEAD, {0})),
          f"<h3>Slowest {len(rep.slowest)} images</h3>",
          _html_table(TOP_HEAD, [top_cells(r) for r in rep.slowest],
                      ["uri"] + _num_classes(TOP_HEAD, {0, 1, 2})[1:]) if rep.slowest
          else "<p>No timings.</p>",
          "<h3>Highest byte ratios (compressed least) among ok images</h3>",
          _html_table(TOP_HEAD, [top_cells(r) for r in rep.worst_ratio],
                      ["uri"] + _num_classes(TOP_HEAD, {0, 1, 2})[1:]) if rep.worst_ratio
          else "<p>No ok images.</p>"]
    if rep.lowest_scores:
        p += [f"<h3>Lowest quality scores ({len(rep.lowest_scores)} images, quality auto or "
              "a byte budget)</h3>",
              _html_table(SCORE_HEAD, [score_cells(r) for r in rep.lowest_scores],
                          ["uri"] + _num_classes(SCORE_HEAD, {0, 1})[1:])]
    p.append("<h2 id=\"errors\">Errors</h2>")
    if rep.errors:
        p += _error_table(rep.errors)
    else:
        p.append("<p>No errors.</p>" if not rep.failed_before else
                 "<p>No errors in these runs.</p>")
    if rep.failed_before:
        p.append(f"<h3>{_e(FAILED_BEFORE_TITLE)}</h3>")
        p += _error_table(rep.failed_before)
    p.append("</body></html>\n")
    return "".join(p)
