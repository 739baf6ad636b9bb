#!/usr/bin/env bash
# Rerun every mitigation row of the paper's Table 2 (base, +prompt, +SFT, +DPO) and Table 3 /
# Figure 7 (attention amplification) on the bundled reference model, from an empty folder, on a
# CPU; then turn each row into a leaderboard submission, build the leaderboard page from them,
# and rewrite baselines/results.md.
#
#   bash baselines/reproduce.sh [WORK]        # default WORK: baselines-work
#
# WORK receives the dataset build (unless DATA names one), the trained models, every evaluation
# run, the Table 2 rows, the submissions and the page. Every step resumes: a killed reproduction
# continues where it stopped when started again with the same WORK. About 1.5 to 2 hours on two
# CPU cores (each full evaluation takes a few minutes; SFT and DPO train in about 10 minutes each).
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-baselines-work}
DATA=${DATA:-$WORK/mmsy-data}
MODEL=mmsy_dataset/reference/weights
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 MPLBACKEND=Agg
mmsy() { python -m mmsy_dataset.cli "$@"; }

if [ ! -f "$DATA/mmsy_manifest.json" ]; then
  mmsy build --out "$DATA"
fi

# Table 2: base and +prompt, +SFT, +DPO (each script writes WORK/results/<row>.json).
bash baselines/prompt/run.sh "$DATA" "$WORK" "$MODEL"
bash baselines/sft/run.sh "$DATA" "$WORK" baselines/sft/reference.json
bash baselines/dpo/run.sh "$DATA" "$WORK" baselines/dpo/reference.json

# Table 3 and Figure 7: the layer ranges at the paper's lambda and the lambda sweep.
python baselines/amplification/run.py --config baselines/amplification/reference.json \
  --dataset "$DATA" --out "$WORK/amplification"
# The high-layer row on the whole benchmark, for the leaderboard (the sweep scores a subset).
mmsy eval --model "$MODEL" --mode option --device cpu --dataset "$DATA" --amplify 3-4:0.9 \
  --out "$WORK/evals/amplification-high"

# One leaderboard submission per row, and the page built from them.
submit() {  # RUN MITIGATION DETAILS
  mmsy submission create "$WORK/evals/$1" --name "MM-SY reference model" --mitigation "$2" \
    --details "$3" --out "$WORK/submissions/$1.json" --overwrite
}
mkdir -p "$WORK/submissions"
submit base none "the committed weights"
submit prompt prompt "the system prompt of paper 3.2 before every push (mmsy eval --prompt-baseline)"
submit sft sft "TRL SFTTrainer, baselines/sft/reference.json"
submit dpo dpo "TRL DPOTrainer, baselines/dpo/reference.json"
submit amplification-high amplification "eq. 7 on text layers 3-4 of 4, lambda 0.9, after-image query rows"
mmsy leaderboard build "$WORK/submissions" --dataset "$DATA" --out baselines/leaderboard

python -m mmsy_dataset.mitigation.table --rows "$WORK/results" \
  --amplification baselines/amplification/results.json --sweep-plot amplification/lambda_sweep.png \
  --out baselines/results.md
