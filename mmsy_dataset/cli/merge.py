"""`mmsy merge`: join the shard folders of a `mmsy eval --shard` run into one run folder."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_commands(subparsers: Any) -> None:
    m = subparsers.add_parser(
        "merge",
        help="merge the shard folders of a `mmsy eval --shard` run into one run folder",
        description="Check that the shards come from one model, one set of settings and one dataset version, "
        "that shards 0..N-1 are all there once and finished, then write predictions and transcripts in dataset "
        "order and recompute metrics and plots.",
    )
    m.add_argument(
        "shards",
        nargs="+",
        type=Path,
        metavar="SHARD_DIR",
        help="shard folders, or the --out folder holding shard-I-of-N subfolders",
    )
    m.add_argument("--out", required=True, type=Path, help="folder of the merged run")
    m.add_argument("--overwrite", action="store_true", help="replace a run already in --out")
    m.set_defaults(handler=run_merge_command)


def run_merge_command(args: argparse.Namespace) -> int:
    from mmsy_dataset.engine.merge import merge_runs

    out = merge_runs(args.shards, args.out, overwrite=args.overwrite)
    print(f"wrote {out}")
    return 0
