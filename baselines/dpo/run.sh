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
DATA=${1:-mmsy-data}
WORK=${2:-mitigation-runs}
CONFIG=${3:-baselines/dpo/reference.json}
MODE=${MODE:-option}
EVAL_ARGS=${EVAL_ARGS:---device cpu --batch-size 32}
LAUNCH=${LAUNCH:-python -m}
BASE=$(python -c "import json,sys; print(json.load(open(sys.argv[1]))['model'])" "$CONFIG")

$LAUNCH mmsy_dataset.cli train dpo --config "$CONFIG" --dataset "$DATA" --out "$WORK/models/dpo"
python -m mmsy_dataset.cli eval --model "$BASE" --mode "$MODE" --dataset "$DATA" --out "$WORK/evals/base" $EVAL_ARGS
python -m mmsy_dataset.cli eval --model "$WORK/models/dpo" --mode "$MODE" --dataset "$DATA" --out "$WORK/evals/dpo" $EVAL_ARGS
python -m mmsy_dataset.cli compare "$WORK/evals/base/predictions.jsonl" "$WORK/evals/dpo/predictions.jsonl" \
    --out "$WORK/evals/dpo/compare.json"
python -m mmsy_dataset.mitigation.results --row "+DPO" --run "$WORK/evals/dpo" \
    --compare "$WORK/evals/dpo/compare.json" --out "$WORK/results/dpo.json"
