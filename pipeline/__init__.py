"""The Beam batch job (``python -m pipeline``): options, graph and ``run()``."""
import logging


class _WithoutBigQueryNotice(logging.Filter):
    """Beam's import-time warning that BigQuery's client libraries are missing (the job uses
    no BigQuery): it was the first line of every run, ``--help``, launch errors and the
    summaries ``./run_local.sh`` prints. Set here, before any module of the job imports Beam."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("apitools not found")


logging.getLogger().addFilter(_WithoutBigQueryNotice())
