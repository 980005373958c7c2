"""Regenerate ``tests/reliability/README.md``: run the reliability tests and write their table.

Usage (from the repository root)::

    .venv/bin/python tests/reliability/make_readme.py [extra pytest arguments]

A plain ``pytest`` run never rewrites the tracked README; this command is the one that does
(``conftest.py`` writes the table to the file named by ``SEMANTIC_COMPRESS_RELIABILITY_README``).
The exit status is pytest's; the README is written even when a test fails (the failure is a row
of the table).
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
#: The variable conftest.py reads (``conftest.README_ENV``; a test checks they agree).
README_ENV = "SEMANTIC_COMPRESS_RELIABILITY_README"


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    env = dict(os.environ, **{README_ENV: os.path.join(HERE, "README.md")})
    root = os.path.dirname(os.path.dirname(HERE))
    return subprocess.call([sys.executable, "-m", "pytest", HERE, "-p", "no:cacheprovider",
                            *argv], cwd=root, env=env)


if __name__ == "__main__":
    sys.exit(main())
