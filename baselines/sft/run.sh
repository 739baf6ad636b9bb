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
DATA=${1:-mmsy-data}
WORK=${2:-mitigation-runs}
CONFIG=${3:-baselines/sft/reference.json}
MODE=${MODE:-option}
EVAL_ARGS=${EVAL_ARGS:---device cpu --batch-size 32}
LAUNCH=${LAUNCH:-python -m}
BASE=$(python -c "import json,sys; print(json.load(open(sys.argv[1]))['model'])" "$CONFIG")

$LAUNCH mmsy_dataset.cli train sft --config "$CONFIG" --dataset "$DATA" --out "$WORK/models/sft"
python -m mmsy_dataset.cli eval --model "$BASE" --mode "$MODE" --dataset "$DATA" --out "$WORK/evals/base" $EVAL_ARGS
python -m mmsy_dataset.cli eval --model "$WORK/models/sft" --mode "$MODE" --dataset "$DATA" --out "$WORK/evals/sft" $EVAL_ARGS
python -m mmsy_dataset.cli compare "$WORK/evals/base/predictions.jsonl" "$WORK/evals/sft/predictions.jsonl" \
    --out "$WORK/evals/sft/compare.json"
python -m mmsy_dataset.mitigation.results --row "+SFT" --run "$WORK/evals/sft" \
    --compare "$WORK/evals/sft/compare.json" --out "$WORK/results/sft.json"
