#!/usr/bin/env bash
# Set everything up on a fresh machine and run the main job on the embedded default:
# build the synthetic MM-SY benchmark (no downloads) into ./mmsy-data, evaluate the committed
# reference model on it (CPU), print its sycophancy table and where the report is.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
export HF_HUB_OFFLINE=1
mmsy demo "$@"
