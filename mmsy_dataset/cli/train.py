"""`mmsy train sft|dpo`: the paper's SFT and DPO mitigations (3.2) through TRL, on an `mmsy build`.

Needs the optional training stack (`pip install 'mmsy[train]'`: trl, peft, accelerate). Multi-GPU
runs go through `accelerate launch -m mmsy_dataset.cli train ...` with an accelerate config
(baselines/sft/README.md).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="fine-tune a VLM against sycophancy with SFT or DPO (paper 3.2) through TRL",
        description="Train SFT (on the build's `sft` config) or DPO (on its `dpo` config) with TRL's trainers; "
        "the output folder is an ordinary model folder that `mmsy eval --model OUT` loads. A stopped run "
        "resumes when rerun with the same settings.",
    )
    p.add_argument("method", choices=("sft", "dpo"), help="sft or dpo")
    p.add_argument("--config", required=True, type=Path, help="settings file (JSON or YAML; see baselines/sft/)")
    p.add_argument("--dataset", required=True, help="folder written by `mmsy build` (with the sft / dpo config)")
    p.add_argument("--out", required=True, type=Path, help="output model folder")
    p.add_argument("--overwrite", action="store_true", help="replace a previous training run in --out")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(handler=run_train)


def run_train(args: argparse.Namespace) -> int:
    from rich.console import Console

    from mmsy_dataset.mitigation.config import load_settings
    from mmsy_dataset.mitigation.train import run_training

    console = Console(stderr=True)
    settings = load_settings(args.method, args.config)
    result = run_training(
        settings,
        args.dataset,
        args.out,
        overwrite=args.overwrite,
        progress=not args.no_progress,
        console=console,
        config_file=args.config,
    )
    if not result.skipped:
        loss = f", final mean loss {result.train_loss:.4f}" if result.train_loss is not None else ""
        console.print(
            f"{args.method.upper()}: {result.rows:,} rows, {result.steps} steps in {result.seconds / 60:.1f} min{loss}"
            f"{' (resumed)' if result.resumed else ''}; model in [bold]{result.out}[/bold]"
        )
    print(json.dumps(result.to_json()))
    return 0
