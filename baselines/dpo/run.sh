#!/usr/bin/env bash
# DPO mitigation (paper 3.2, eq. 3-4): train with TRL's DPOTrainer, evaluate, compare with the base model.
#
#   bash baselines/dpo/run.sh [DATA] [WORK] [CONFIG]
#
# DATA: an `mmsy build` folder with the dpo config (default mmsy-data); WORK: output folder
# (default mitigation-runs); CONFIG: settings (default: the reference-model recipe). For LLaVA-1.5-7B:
#   MODE=letter EVAL_ARGS="--device cuda --batch-size 16" bash baselines/dpo/run.sh mmsy-data runs baselines/dpo/llava-1.5-7b.json
# (several GPUs: LAUNCH="accelerate launch --config_file baselines/sft/accelerate_fsdp.yaml -m").
# Writes WORK/results/dpo.json: Table 2's "+DPO" row with CIs and the paired test against the base.
set -euo pipefail
exec bash "$(dirname "$0")/../trained_row.sh" dpo "+DPO" "$@"
