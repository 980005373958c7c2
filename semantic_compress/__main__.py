"""``python -m semantic_compress IMAGE [IMAGE ...] [options]``."""
import sys

from compress_core.cli import main

if __name__ == "__main__":
    sys.exit(main())
