"""``python -m pipeline.report MANIFEST_URI ...`` (see :mod:`pipeline.report`)."""
import logging
import sys

from .cli import main

if __name__ == "__main__":  # pragma: no cover
    logging.basicConfig(level=logging.WARNING)
    sys.exit(main())
