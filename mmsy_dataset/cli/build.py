"""`mmsy build`: a versioned MM-SY dataset folder in the Hugging Face Hub layout."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from mmsy_dataset.tasks import CONFIGS, TASKS, parse_task


def _csv(kind: str, known: Sequence[str]) -> Callable[[str], tuple[str, ...]]:
    def parse(value: str) -> tuple[str, ...]:
        items = tuple(v.strip() for v in value.split(",") if v.strip())
        bad = [v for v in items if v not in known]
        if bad:
            raise argparse.ArgumentTypeError(f"unknown {kind} {bad}; known: {', '.join(known)}")
        return items

    return parse


def add_commands(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "build",
        help="build a versioned MM-SY dataset folder in the Hugging Face Hub layout",
        description="Build MM-SY from a source into a Hub-layout folder (parquet + card + manifest).",
    )
    p.add_argument("--out", type=Path, default=Path("mmsy-data"), help="output folder (default: mmsy-data)")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder")
    p.add_argument("--source", default="synthetic", help="synthetic (default), tdiuc or mmsy-release")
    p.add_argument("--version", dest="dataset_version", default="1.0.0", help="semantic version (default 1.0.0)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    p.add_argument("--tasks", type=_csv("tasks", [t.value for t in TASKS]), help="comma-separated task subset")
    p.add_argument("--configs", type=_csv("configs", CONFIGS), help="comma-separated config subset")
    sizes = p.add_argument_group("sizes")
    sizes.add_argument("--questions-per-task", type=int, default=150)
    sizes.add_argument("--multi-round-pushes", type=int, default=5)
    sizes.add_argument("--probing-train", type=int, default=3000)
    sizes.add_argument("--probing-test", type=int, default=800)
    sizes.add_argument("--sft", type=int, default=1000)
    sizes.add_argument("--dpo", type=int, default=10000)
    sizes.add_argument("--shard-rows", type=int, default=5000, help="rows per parquet file")
    synthetic = p.add_argument_group("synthetic source")
    synthetic.add_argument("--image-size", type=int, help="image side in pixels (default 224)")
    synthetic.add_argument("--font", dest="font_path", type=Path, help="OpenMoji COLRv0 font file")
    real = p.add_argument_group("real sources")
    real.add_argument("--tdiuc-dir", type=Path, help="TDIUC release folder (source tdiuc)")
    real.add_argument("--path", dest="release_path", type=Path, help="released MM-SY parquet file or folder")
    real.add_argument("--skip-missing", action="store_true", help="skip questions whose image is missing")
    p.set_defaults(handler=run_build)


def _source_options(args: argparse.Namespace) -> dict[str, Any]:
    candidates = {
        "image_size": args.image_size,
        "font_path": str(args.font_path) if args.font_path else None,
        "tdiuc_dir": str(args.tdiuc_dir) if args.tdiuc_dir else None,
        "path": str(args.release_path) if args.release_path else None,
        "skip_missing": True if args.skip_missing else None,
    }
    return {k: v for k, v in candidates.items() if v is not None}


def run_build(args: argparse.Namespace) -> int:
    from mmsy_dataset.build import BuildConfig, build_dataset, summary_table
    from mmsy_dataset.construction import Sizes

    console = Console(stderr=True)
    config = BuildConfig(
        version=args.dataset_version,
        seed=args.seed,
        source=args.source,
        source_options=_source_options(args),
        tasks=tuple(parse_task(t) for t in args.tasks) if args.tasks else TASKS,
        configs=args.configs or CONFIGS,
        sizes=Sizes(
            questions_per_task=args.questions_per_task,
            multi_round_pushes=args.multi_round_pushes,
            probing_train=args.probing_train,
            probing_test=args.probing_test,
            sft=args.sft,
            dpo=args.dpo,
        ),
        shard_rows=args.shard_rows,
    )
    result = build_dataset(config, args.out, overwrite=args.overwrite, console=console)
    out = Console()
    out.print(summary_table(result))
    out.print(
        f"Wrote [bold]{result.out}[/bold]: {result.items:,} questions drawn, "
        f"{result.size_bytes / 2**20:.1f} MiB, {result.seconds:.1f} s, checksum {result.checksum[:16]}…"
    )
    return 0
