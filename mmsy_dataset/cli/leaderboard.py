"""`mmsy leaderboard build`: score a folder of submissions into leaderboard.json and index.html."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mmsy_dataset.cli.common import add_bootstrap_options


def add_commands(subparsers: Any) -> None:
    sub = subparsers.add_parser("leaderboard", help="the leaderboard page").add_subparsers(
        dest="leaderboard_command", required=True, metavar="ACTION"
    )
    p = sub.add_parser("build", help="score a folder of submissions into leaderboard.json + index.html")
    p.add_argument("dir", type=Path, help="folder of submission *.json files")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--dataset", type=Path, help="dataset folder to validate the submissions against")
    add_bootstrap_options(p)
    p.set_defaults(handler=run_leaderboard)


def run_leaderboard(args: argparse.Namespace) -> int:
    """Build the page; a rejected submission is listed with its first problems, not an error."""
    from mmsy_dataset.leaderboard import build_leaderboard

    board = build_leaderboard(args.dir, args.out, args.dataset, n_bootstrap=args.bootstrap, seed=args.seed)
    print(f"{args.out}: {len(board['entries'])} entr(y/ies), {len(board['rejected'])} rejected")
    for r in board["rejected"]:
        print(f"  rejected {r['file']}: " + "; ".join(r["problems"][:5]))
    return 0
