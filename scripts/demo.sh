#!/usr/bin/env bash
# Set everything up on a fresh machine and run the main job on the embedded default:
# build the synthetic MM-SY (no downloads) into ./mmsy-data and print its summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
export HF_HUB_OFFLINE=1
mmsy build --out mmsy-data --overwrite "$@"
