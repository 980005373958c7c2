"""Analytics over the Parquet manifests the batch job writes: ``python -m pipeline.report``.

::

    python -m pipeline.report MANIFEST_URI [MANIFEST_URI ...] [--run RUN_ID] [--run ...] -o report.html
                              [--format html|md] [--json] [--storage_options JSON]

``MANIFEST_URI`` is the job's ``--manifest`` folder (``<output>/_manifest`` by default) on any
fsspec file system (local path, ``file://``, ``s3://``, ``gs://``, ...). It holds one Hive-style
partition per run (``run_id=<id>/part-*.parquet``); every run is reported unless ``--run``
names some. Several folders (this week's ``--output`` and last week's) make one report, each
read once however spelled and each run named ``<folder label>/<run id>``
(:func:`load_manifests`). The report is one self-contained HTML file (plots as inline SVG, no
network at view time) or Markdown with PNG plots in ``<name>_files/``; ``--json`` prints the
totals to stdout.

Everything is computed with pyarrow compute kernels and NumPy over the columns (no per-row Python
loops), so a million rows take seconds. Definitions (also in the report):

* ``images``: manifest rows; ``ok`` / ``error`` / ``skipped`` by ``status``;
  ``skipped_failed_before``: the skipped rows of inputs an earlier run failed, unchanged since
  (``skip_reason`` ``failed before``: damaged files still there); ``skipped_unrecorded``: the
  skipped rows of inputs whose outputs no earlier row named (``unrecorded output``: written by
  a run stopped before its manifest, adopted).
* ``bytes_in`` / ``bytes_out``: summed over ``ok`` rows (the images this run wrote);
  ``bytes_saved = bytes_in - bytes_out``; ``saved_fraction = bytes_saved / bytes_in``. Overall,
  these are sums over the runs: an output rewritten by a rerun counts once per run.
* ``stored_now``: each ``output_uri`` once, by its latest ``ok`` row: what is stored now.
* ratios (``byte_ratio`` = output / input bytes, ``pixel_ratio``, ``retained_energy_ratio``):
  mean and exact median over ``ok`` rows with a value.

Modules, one job each (none imports Beam): :mod:`.reading` (run partitions, columns),
:mod:`.folders` (several manifest folders, runs labelled by folder),
:mod:`.stats` (the numbers), :mod:`.plots` (histograms and scatter as SVG/PNG), :mod:`.cells`
(numbers as table cells), :mod:`.html_page` and :mod:`.markdown_page` (the renderings),
:mod:`.summary` (one run in a few lines, for the job's log and ``./run_local.sh``) and
:mod:`.cli` (the command line).
"""
from .cli import main, write_report
from .html_page import render_html
from .markdown_page import render_markdown
from .folders import load_manifests
from .reading import COLUMNS, ManifestError, list_runs, load_manifest
from .stats import Report, build_report, totals
from .summary import RunSummary, format_summary, summarize_manifest, summary_report

__all__ = ["ManifestError", "Report", "load_manifest", "load_manifests", "list_runs",
           "build_report", "totals", "render_html", "render_markdown", "write_report", "main",
           "COLUMNS", "RunSummary", "summarize_manifest", "format_summary", "summary_report"]
