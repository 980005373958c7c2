#!/usr/bin/env bash
# Create the project virtualenv (.venv) and install requirements.txt + this package (editable)
# when it is missing or requirements.txt / setup.py changed since the last install.
# Usage: scripts/ensure_venv.sh   (prints nothing when already up to date)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"   # (the path run_local.sh and run_tests.sh use)
python="${PYTHON:-python3}"
stamp="$venv/.requirements.sha256"
want="$(cat "$root/requirements.txt" "$root/requirements-nodeps.txt" "$root/setup.py" | sha256sum | cut -d' ' -f1)"

if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "Setting up $venv (first run installs torch, Beam and friends: a few minutes)..." >&2
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade "pip>=23" wheel >&2
"$venv/bin/python" -m pip install --quiet -r "$root/requirements.txt" >&2
"$venv/bin/python" -m pip install --quiet --no-deps -e "$root" >&2
# packages whose metadata pins are wrong for our stack (see the file), without their deps
"$venv/bin/python" -m pip install --quiet --no-deps -r "$root/requirements-nodeps.txt" >&2
# pip check must be clean except for the declared pins of those packages
nodeps="$(grep -v -E '^[[:space:]]*(#|$)' "$root/requirements-nodeps.txt" | sed -E 's/[=<>!~ ].*//' | paste -sd'|' -)"
if ! report="$("$venv/bin/python" -m pip check 2>&1)"; then
  other="$(printf '%s\n' "$report" | grep -v -i -E "^($nodeps) " || true)"
  if [ -n "$other" ]; then printf '%s\n' "$other" >&2; exit 1; fi
fi
echo "$want" > "$stamp"
