#!/usr/bin/env bash
# Run the test suite in the project virtualenv (created on first use). Extra arguments go to
# pytest, e.g. ./run_tests.sh tests/compress_core -k seams
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$root/scripts/ensure_venv.sh"
cd "$root"
exec "$root/.venv/bin/python" -m pytest "$@"
