"""``python -m pipeline ...``: run the batch job (see :mod:`pipeline.main`)."""
import logging
import sys

from .main import exit_status, run, summarize_metrics


def main(argv=None) -> int:
    """Entry point: configure logging, run, return the exit status."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        force=True)
    logging.getLogger("apache_beam").setLevel(logging.WARNING)
    # "No shards found to finalize" when a run has no dead letters is not news.
    logging.getLogger("apache_beam.io.filebasedsink").setLevel(logging.ERROR)
    return exit_status(summarize_metrics(run(argv)))


if __name__ == "__main__":
    sys.exit(main())
