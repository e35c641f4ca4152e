#!/bin/sh
# Create bench/.venv (separate from the test venv) with the peers, servers and
# tools the benchmark needs, and erlen installed editable from this work tree.
# Idempotent: a stamp records what was installed; rerun is a no-op until
# requirements.txt, ../pyproject.toml or the Python version changes.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
VENV="$HERE/.venv"
STAMP="$VENV/.bench-stamp"
PY=${PYTHON:-python3}

want=$( (cat "$HERE/requirements.txt" "$HERE/../pyproject.toml"; "$PY" -VV) | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -x "$VENV/bin/python" ]; then
    exit 0
fi

echo "bench/setup.sh: preparing $VENV"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$HERE/requirements.txt"
# `-e ..` relative to bench/: the erlen being benchmarked is the work tree's.
(cd "$HERE" && "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ..)
echo "$want" > "$STAMP"
echo "bench/setup.sh: done"
