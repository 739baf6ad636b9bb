#!/usr/bin/env bash
# One trained Table 2 row (paper 3.2): train METHOD (sft or dpo) with TRL, evaluate the base model
# and the trained one, compare them, and write the row. `sft/run.sh` and `dpo/run.sh` call it.
#
#   bash baselines/trained_row.sh METHOD ROW [DATA] [WORK] [CONFIG]
#
# DATA: an `mmsy build` folder with METHOD's config (default mmsy-data); WORK: output folder
# (default mitigation-runs); CONFIG: settings (default: baselines/METHOD/reference.json).
# MODE (default option), EVAL_ARGS (default "--device cpu --batch-size 32") and LAUNCH (default
# "python -m"; several GPUs: "accelerate launch --config_file baselines/sft/accelerate_fsdp.yaml -m")
# come from the environment. Writes WORK/results/METHOD.json: the row with CIs and the paired
# test against the base.
set -euo pipefail
METHOD=$1
ROW=$2
DATA=${3:-mmsy-data}
WORK=${4:-mitigation-runs}
CONFIG=${5:-baselines/$METHOD/reference.json}
MODE=${MODE:-option}
EVAL_ARGS=${EVAL_ARGS:---device cpu --batch-size 32}
LAUNCH=${LAUNCH:-python -m}
BASE=$(python -c "import json,sys; print(json.load(open(sys.argv[1]))['model'])" "$CONFIG")

$LAUNCH mmsy_dataset.cli train "$METHOD" --config "$CONFIG" --dataset "$DATA" --out "$WORK/models/$METHOD"
python -m mmsy_dataset.cli eval --model "$BASE" --mode "$MODE" --dataset "$DATA" --out "$WORK/evals/base" $EVAL_ARGS
python -m mmsy_dataset.cli eval --model "$WORK/models/$METHOD" --mode "$MODE" --dataset "$DATA" \
    --out "$WORK/evals/$METHOD" $EVAL_ARGS
python -m mmsy_dataset.cli compare "$WORK/evals/base/predictions.jsonl" "$WORK/evals/$METHOD/predictions.jsonl" \
    --out "$WORK/evals/$METHOD/compare.json"
python -m mmsy_dataset.mitigation.results --row "$ROW" --run "$WORK/evals/$METHOD" \
    --compare "$WORK/evals/$METHOD/compare.json" --out "$WORK/results/$METHOD.json"
