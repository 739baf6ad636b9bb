"""The `mmsy` command line. Thin: parse, call the library, print; errors without tracebacks."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console

from mmsy_dataset.errors import MmsyError
from mmsy_dataset.tasks import CONFIGS, TASKS, parse_task

#: Modules that add their own subcommands with `add_commands(subparsers)`.
COMMAND_MODULES = (
    "mmsy_dataset.cli_scoring",
    "mmsy_dataset.cli_eval",
    "mmsy_dataset.cli_demo",
    "mmsy_dataset.cli_publish",
    "mmsy_dataset.cli_analyze",
    "mmsy_dataset.cli_train",
)

Handler = Callable[[argparse.Namespace], int]


def _csv(kind: str, known: Sequence[str]) -> Callable[[str], tuple[str, ...]]:
    def parse(value: str) -> tuple[str, ...]:
        items = tuple(v.strip() for v in value.split(",") if v.strip())
        bad = [v for v in items if v not in known]
        if bad:
            raise argparse.ArgumentTypeError(f"unknown {kind} {bad}; known: {', '.join(known)}")
        return items

    return parse


def add_build(subparsers: Any) -> None:
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


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="mmsy", description="MM-SY: sycophancy benchmark for VLMs.")
    root.add_argument("--debug", action="store_true", help="show tracebacks")
    subparsers = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_build(subparsers)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name == name:
                continue
            raise
        module.add_commands(subparsers)
    return root


def _validation_message(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        loc = ".".join(str(p) for p in item["loc"])
        msg = item["msg"].removeprefix("Value error, ")
        lines.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(lines)


def error_message(error: BaseException) -> str:
    """The user-facing text of an error: the file first for OS errors, the bare message for
    KeyError (whose str() is a repr), the field for pydantic errors."""
    if isinstance(error, ValidationError):
        return _validation_message(error)
    if isinstance(error, OSError) and error.filename is not None and not isinstance(error, MmsyError):
        target = f" -> {error.filename2}" if error.filename2 else ""
        return f"{error.filename}{target}: {error.strerror or error}"
    if isinstance(error, KeyError) and error.args:
        return str(error.args[0])
    if isinstance(error, ImportError) and not isinstance(error, MmsyError):
        return f"{error} (a package is missing: install it, or the extra that provides it)"
    return str(error) or type(error).__name__


def print_error(message: str) -> None:
    """Each line of `message` on stderr as it is: never wrapped (a script greps a long path
    whole), never read as markup."""
    for line in message.splitlines() or [""]:
        sys.stderr.write(f"error: {line}\n")
    sys.stderr.flush()


#: What a user's input can raise (a bad file, path, flag or checkpoint); printed as lines, exit 2.
USER_ERRORS = (MmsyError, ValidationError, ValueError, OSError, KeyError, ImportError, RuntimeError)


def main(argv: Sequence[str] | None = None) -> int:
    from mmsy_dataset.threads import prefer_passive_wait

    prefer_passive_wait()  # before anything imports torch
    args = parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except USER_ERRORS as error:
        if args.debug:
            raise
        print_error(error_message(error))
        return 2
    except KeyboardInterrupt:
        Console(stderr=True).print("[yellow]interrupted[/yellow]")
        return 130


if __name__ == "__main__":
    sys.exit(main())
