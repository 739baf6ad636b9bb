"""`mmsy demo`: build (or reuse) the synthetic benchmark and evaluate the bundled reference model.

The work is in `mmsy_dataset.demo`; this module parses the flags and prints the report's files.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mmsy_dataset.cli.common import add_threads_option


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help="build the synthetic benchmark and evaluate the bundled reference model on it (CPU, offline)",
        description="Build (or reuse) the synthetic MM-SY benchmark, evaluate the committed reference model "
        "(a small LLaVA trained on the synthetic world) in option mode, and print its sycophancy.",
    )
    p.add_argument("--data", type=Path, default=Path("mmsy-data"), help="dataset folder (default: mmsy-data)")
    p.add_argument("--out", type=Path, default=Path("mmsy-demo-run"), help="report folder (default: mmsy-demo-run)")
    p.add_argument("--model", type=Path, default=None, help="model folder (default: the committed reference model)")
    p.add_argument("--limit", type=int, default=None, help="at most N records per config (a quicker look)")
    p.add_argument("--batch-size", type=int, default=32)
    add_threads_option(p)
    p.add_argument("--rebuild", action="store_true", help="rebuild the dataset even if a matching one exists")
    p.add_argument("--overwrite", action="store_true", help="redo the evaluation instead of resuming it")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(handler=run_demo_command)


def run_demo_command(args: argparse.Namespace) -> int:
    from rich.console import Console

    from mmsy_dataset.demo import run_demo

    console = Console(stderr=True)
    result = run_demo(
        args.data,
        args.out,
        console=console,
        model=args.model,
        limit=args.limit,
        batch_size=args.batch_size,
        threads=args.threads,
        rebuild=args.rebuild,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    console.print(f"\n[bold]Report[/] in {result.out}/ ({result.seconds / 60:.1f} min in all):")
    console.print(_report_grid(result.out))
    return 0


def _report_grid(out: Path) -> Any:
    from rich.table import Table

    from mmsy_dataset.demo import report_files

    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column()
    for name, what in report_files(out):
        grid.add_row(f"  {name}", what)
    return grid
