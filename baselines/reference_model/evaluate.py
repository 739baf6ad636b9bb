"""Evaluate a reference-model checkpoint on the synthetic benchmark, with the image-free control.

    mmsy build --out mmsy-data --configs sycophancy,correction_with_answer,correction_without_answer,multi_round
    python baselines/reference_model/evaluate.py --model runs/reference/checkpoint --dataset mmsy-data \
        --out runs/reference/eval [--install]

Writes OUT/full (the `mmsy eval` report), OUT/blank (round 1 with gray images), and
results.json / results.md beside this script. `--install` copies the checkpoint to the
package's committed weights and records the fixed-subset figures the tests reproduce.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

HERE = Path(__file__).parent


def main(argv: list[str] | None = None) -> int:
    import torch

    from mmsy_dataset.reference import RECORDED_RESULTS, WEIGHTS_DIR, load_reference_model
    from mmsy_dataset.reference.check import subset_figures
    from mmsy_dataset.reference.control import evaluate, markdown_table, per_task_table

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--dataset", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--limit", type=int)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--install", action="store_true", help="copy the checkpoint into the package and record figures")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    full = evaluate(args.model, args.dataset, args.out / "full", limit=args.limit, progress=not args.no_progress)
    blank = evaluate(
        args.model,
        args.dataset,
        args.out / "blank",
        blank=True,
        limit=args.limit,
        configs=["sycophancy"],
        progress=not args.no_progress,
    )
    table = per_task_table(full, blank)
    results = {
        "model": str(args.model),
        "dataset": str(args.dataset),
        "mode": "option (summed log-likelihood)",
        "table": table,
        "headline": {k: full.metrics[k].overall.value for k in full.metrics},
    }
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (HERE / "results.md").write_text(markdown_table(table) + "\n")
    print(markdown_table(table))
    if args.install:
        WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
        for path in sorted(args.model.iterdir()):
            if path.is_file():
                shutil.copy2(path, WEIGHTS_DIR / path.name)
        model, processor = load_reference_model(WEIGHTS_DIR)
        figures = subset_figures(model, processor)
        RECORDED_RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"installed into {WEIGHTS_DIR}; subset figures {figures}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
