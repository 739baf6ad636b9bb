#!/usr/bin/env bash
# SFT mitigation (paper 3.2, eq. 2): train with TRL's SFTTrainer, evaluate, compare with the base model.
#
#   bash baselines/sft/run.sh [DATA] [WORK] [CONFIG]
#
# DATA: an `mmsy build` folder with the sft config (default mmsy-data); WORK: output folder
# (default mitigation-runs); CONFIG: settings (default: the reference-model recipe). For LLaVA-1.5-7B:
#   MODE=letter EVAL_ARGS="--device cuda --batch-size 16" bash baselines/sft/run.sh mmsy-data runs baselines/sft/llava-1.5-7b.json
# (several GPUs: LAUNCH="accelerate launch --config_file baselines/sft/accelerate_fsdp.yaml -m").
# Writes WORK/results/sft.json: Table 2's "+SFT" row with CIs and the paired test against the base.
set -euo pipefail
exec bash "$(dirname "$0")/../trained_row.sh" sft "+SFT" "$@"
