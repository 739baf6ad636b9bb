#!/usr/bin/env bash
# Create .venv (Python 3.11) and install mmsy with its training and development extras.
# Idempotent: a second run only checks that the install is current.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
. .venv/bin/activate
stamp=.venv/.mmsy-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  python -m pip install -q --upgrade pip
  # torch is pinned in pyproject.toml (==2.13.0, the CPU build on the machines' disk); never
  # let a resolver pick another build.
  python -m pip install -q -e ".[train,dev]"
  touch "$stamp"
fi
