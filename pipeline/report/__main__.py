"""``python -m pipeline.report MANIFEST_URI ...`` (see :mod:`pipeline.report`)."""
import logging
import sys

from .cli import main

if __name__ == "__main__":  # pragma: no cover
    logging.basicConfig(level=logging.WARNING)
    # gcsfs logs each request it gives up on with its traceback (6 of 50 lines each for a
    # store that is down, cloud review 38); the report says the failure in one line
    logging.getLogger("gcsfs").setLevel(logging.CRITICAL)
    sys.exit(main())
