"""The report as Markdown, with its plots as PNG files."""
from __future__ import annotations

import re
from typing import List

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
    manifest_line,
    run_cells,
    score_cells,
    time_rows,
    top_cells,
    stored_rows,
    totals_rows,
)
from .stats import Report

__all__ = ["render_markdown"]


#: Characters a cell escapes: ``|`` (a cell's end), ``<`` (a file name or error message
#: holding ``<img src=x onerror=...>`` or ``<0>`` is text, not HTML a viewer renders or
#: drops), ``[`` and ``]`` (``[x](javascript:...).jpg`` is a name, not a link: compat review
#: 27), `` ` `` and ``*`` (code and emphasis), ``&`` (``x&amp;y.jpg`` is that name, not
#: ``x&y.jpg``: manifest review 29), and the backslash that escapes them.
_MD_ESCAPED = str.maketrans({ch: "\\" + ch for ch in "\\|<[]`*&"} | {"\n": " ", "\r": " "})


def _md_cell(s) -> str:
    """A table cell, its Markdown escaped (:data:`_MD_ESCAPED`), its control and
    bidirectional characters written out as the log writes them (operator review 39: U+202E
    reversed a name; diff review 39: a line break in a name read as a space)."""
    return for_terminal("" if s is None else str(s)).translate(_MD_ESCAPED)


def _md_alt(s: str) -> str:
    """An image's alt text: brackets and backslashes escaped (it ends at a bare ``]``)."""
    return s.translate(str.maketrans({ch: "\\" + ch for ch in "\\[]"}))


def _md_table(head: List[str], rows: List[List[str]]) -> str:
    out = ["| " + " | ".join(_md_cell(h) or " " for h in head) + " |",
           "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def _code(s) -> str:
    """``s`` as code (a path): its controls written out, its backquotes kept inside (the
    fence a run of backquotes longer than any in it, CommonMark's rule)."""
    text = for_terminal(str(s))
    if "`" not in text:
        return f"`{text}`"
    fence = "`" * (max(len(run) for run in re.findall("`+", text)) + 1)
    return f"{fence} {text} {fence}"


def _error_table(errors) -> str:
    """A table of rows by error type (``Report.errors``, ``Report.failed_before``)."""
    rows = [[e["error_type"], f"{e['count']:,}",
             "; ".join(f"{x['input_uri']}: {(x['error_message'] or '')[:200]}"
                       for x in e["examples"])] for e in errors]
    return _md_table(["error type", "rows", "examples (input: message)"], rows)


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
             f"{manifest_line(rep, _code)} · {len(rep.runs)} run(s): {', '.join(rep.runs)} · "
             f"generated {rep.generated_at}", "", "## Totals", "",
             _md_table(["measure", "value"],
                       [list(r) for r in totals_rows(t) + stored_rows(rep.stored)]), "",
             DEFINITIONS, ""]
    if len(rep.by_run) > 1:
        base = rep.by_run[0]
        rows = [run_cells(r) for r in rep.by_run] + [delta_cells(r, base)
                                                      for r in rep.by_run[1:]]
        lines += ["## Runs compared", "", f"Differences are against the first run, "
                  f"{_md_cell(base['run_id'])}. {_md_cell(RUNS_NOTE)}.", "",
                  _md_table(RUN_HEAD, rows), ""]
    lines += ["## By settings", "",
              "One row per setting (the params column: method, output format, quality or byte "
              "budget ...), named by the settings that differ.", "",
              _md_table(CONFIG_HEAD, [config_cells(r) for r in rep.by_config]), "",
              "## By output format (ok rows, summed over runs)", "",
              _md_table(FORMAT_HEAD, [format_cells(r) for r in rep.by_format])
              if rep.by_format else "No ok images.", "",
              "## Distributions", ""]
    images = {}
    for key, figure in rep.plots.items():
        buf = io.BytesIO()
        plots.to_png(figure, buf)
        images[f"{key}.png"] = buf.getvalue()
        lines.append(f"![{_md_alt(plots.summary(figure))}]({image_dir}/{key}.png)")
        lines.append("")
    lines += ["## Processing time", "", _md_table(TIME_HEAD, time_rows(rep)), "",
              f"### Slowest {len(rep.slowest)} images", "",
              _md_table(TOP_HEAD, [top_cells(r) for r in rep.slowest]) if rep.slowest
              else "No timings.", "",
              "### Highest byte ratios (compressed least) among ok images", "",
              _md_table(TOP_HEAD, [top_cells(r) for r in rep.worst_ratio])
              if rep.worst_ratio else "No ok images.", ""]
    if rep.lowest_scores:
        lines += [f"### Lowest quality scores ({len(rep.lowest_scores)} images, quality auto "
                  "or a byte budget)",
                  "", _md_table(SCORE_HEAD, [score_cells(r) for r in rep.lowest_scores]), ""]
    lines += ["## Errors", ""]
    if rep.errors:
        lines.append(_error_table(rep.errors))
    else:
        lines.append("No errors in these runs." if rep.failed_before else "No errors.")
    if rep.failed_before:
        lines += ["", f"### {FAILED_BEFORE_TITLE}", "", _error_table(rep.failed_before)]
    lines.append("")
    return "\n".join(lines), images
