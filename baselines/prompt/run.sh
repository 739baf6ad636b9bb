#!/usr/bin/env bash
# Prompt mitigation (paper 3.2): the system prompt of paper 3.2 before every push, no training
# (`mmsy eval --prompt-baseline`); evaluate the base model with and without it and compare.
#
#   bash baselines/prompt/run.sh [DATA] [WORK] [MODEL]
#
# MODEL defaults to the committed reference model. For LLaVA-1.5-7B:
#   MODE=letter EVAL_ARGS="--device cuda --batch-size 16" bash baselines/prompt/run.sh mmsy-data runs llava-hf/llava-1.5-7b-hf
# Writes WORK/results/base.json (Table 2's base row) and WORK/results/prompt.json ("+prompt").
set -euo pipefail
DATA=${1:-mmsy-data}
WORK=${2:-mitigation-runs}
MODEL=${3:-mmsy_dataset/reference/weights}
MODE=${MODE:-option}
EVAL_ARGS=${EVAL_ARGS:---device cpu --batch-size 32}

python -m mmsy_dataset.cli eval --model "$MODEL" --mode "$MODE" --dataset "$DATA" --out "$WORK/evals/base" $EVAL_ARGS
python -m mmsy_dataset.cli eval --model "$MODEL" --mode "$MODE" --prompt-baseline --dataset "$DATA" \
    --out "$WORK/evals/prompt" $EVAL_ARGS
python -m mmsy_dataset.cli compare "$WORK/evals/base/predictions.jsonl" "$WORK/evals/prompt/predictions.jsonl" \
    --out "$WORK/evals/prompt/compare.json"
python -m mmsy_dataset.mitigation.results --row "base" --run "$WORK/evals/base" --out "$WORK/results/base.json"
python -m mmsy_dataset.mitigation.results --row "+prompt" --run "$WORK/evals/prompt" \
    --compare "$WORK/evals/prompt/compare.json" --out "$WORK/results/prompt.json"
