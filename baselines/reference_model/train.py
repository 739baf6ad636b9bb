"""Train the MM-SY reference model (a small LLaVA) from scratch on the synthetic world, on CPU.

    python baselines/reference_model/train.py --out runs/reference            # the committed model
    python baselines/reference_model/train.py --quick --out /tmp/ref-quick    # seconds: smoke test

See README.md beside this file for time, figures and how the committed weights were made.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Sleeping, not spinning, OpenMP workers: on a shared 2-core machine a spinning thread waiting
# for a descheduled one burns the step's time (measured: 0.72 s/step steady vs spikes of 5 s).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main(argv: list[str] | None = None) -> int:
    from mmsy_dataset.reference.model import REFERENCE_CONFIG
    from mmsy_dataset.reference.train import QUICK_TRAIN, TrainConfig, train

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="output folder (checkpoint/, history.jsonl)")
    p.add_argument("--quick", action="store_true", help="tiny model, a few steps (tests, smoke runs)")
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "mmsy" / "reference", help="image pools")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--warmup", type=int)
    p.add_argument("--images-per-task", type=int)
    p.add_argument("--eval-every", type=int)
    p.add_argument("--vision-steps", type=int, help="stage 1: patch-label pre-training steps of the vision tower")
    p.add_argument("--aux-weight", type=float, help="stage 2: weight of the patch-label loss (0 = off)")
    p.add_argument(
        "--model",
        type=json.loads,
        default={},
        help='JSON overrides of the model config, e.g. {"patch_size": 16}',
    )
    p.add_argument(
        "--train",
        type=json.loads,
        default={},
        help='JSON overrides of any other training setting, e.g. {"lookup_weight": 1, "lookup_layers": [3]}',
    )
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)

    cfg = QUICK_TRAIN if args.quick else TrainConfig(model=REFERENCE_CONFIG)
    overrides = {
        "seed": args.seed,
        "threads": args.threads,
        "steps": args.steps,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "warmup": args.warmup,
        "images_per_task": args.images_per_task,
        "eval_every": args.eval_every,
        "vision_steps": args.vision_steps,
        "aux_weight": args.aux_weight,
    }
    cfg = dataclasses.replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
    if args.model:
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, **args.model))
    if args.train:
        try:
            cfg = cfg.override(args.train)
        except ValueError as error:
            p.error(str(error))
    result = train(cfg, out_dir=args.out, cache_dir=args.cache, progress=not args.no_progress)
    print(f"done in {result.seconds / 60:.1f} min; checkpoint: {args.out / 'checkpoint'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
