"""`mmsy demo`: the whole benchmark on a laptop CPU, without a download.

Builds (or reuses) the synthetic MM-SY benchmark configs, evaluates the committed reference
model on them in `option` mode with the evaluation engine, prints the results table and where
the report (metrics, plots, transcripts) is. A second run reuses the dataset and resumes or
reuses the evaluation, so it is the quickest way to look at the outputs again.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from mmsy_dataset.tasks import BENCHMARK_CONFIGS


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
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: the cores available)")
    p.add_argument("--rebuild", action="store_true", help="rebuild the dataset even if a matching one exists")
    p.add_argument("--overwrite", action="store_true", help="redo the evaluation instead of resuming it")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(handler=run_demo)


def demo_build_config() -> Any:
    """The benchmark configs only, at default sizes: about 1,500 images, seconds to build."""
    from mmsy_dataset.build import BuildConfig

    return BuildConfig(configs=tuple(BENCHMARK_CONFIGS))


def same_benchmark(build: dict[str, Any], config: Any) -> bool:
    """Whether a build's settings give `config`'s benchmark: equal in everything but `configs`,
    of which it may hold more (records are seeded per question, so the extra configs a full
    `mmsy build` writes do not change the benchmark's; tested)."""
    wanted = config.model_dump(mode="json")
    rest = {k: v for k, v in build.items() if k != "configs"}
    return rest == {k: v for k, v in wanted.items() if k != "configs"} and set(wanted["configs"]) <= set(
        build.get("configs", ())
    )


def reusable(folder: Path, config: Any) -> bool:
    """Whether `folder` holds an intact build with `config`'s benchmark (re-hashed, about a second)."""
    from mmsy_dataset.errors import MmsyError
    from mmsy_dataset.hub.manifest import read_manifest, verify_folder

    if not (folder / "mmsy_manifest.json").is_file():
        return False
    try:
        manifest = read_manifest(folder)
        return same_benchmark(manifest.build, config) and not verify_folder(folder)
    except (OSError, ValueError, MmsyError):
        return False


def ensure_dataset(folder: Path, rebuild: bool, console: Any) -> Path:
    from mmsy_dataset.build import build_dataset

    config = demo_build_config()
    if not rebuild and reusable(folder, config):
        console.print(f"[green]reusing[/] the dataset in {folder}")
        return folder
    overwrite = folder.exists() and any(folder.iterdir())
    if overwrite and not rebuild:
        what = "an MM-SY build with other settings" if (folder / "mmsy_manifest.json").exists() else "other files"
        raise FileExistsError(
            f"{folder} holds {what}; the demo keeps it: pass --data for another folder, or --rebuild to replace it"
        )
    console.print(f"building the synthetic benchmark into {folder} ...")
    result = build_dataset(config, folder, overwrite=overwrite, console=console)
    console.print(f"built {result.items:,} questions in {result.seconds:.0f} s")
    return folder


def run_demo(args: argparse.Namespace) -> int:
    from rich.console import Console

    from mmsy_dataset.engine.config import EvalConfig
    from mmsy_dataset.engine.run import run_eval
    from mmsy_dataset.reference import WEIGHTS_DIR

    console = Console(stderr=True)
    started = time.perf_counter()
    model = args.model or WEIGHTS_DIR
    if not (model / "model.safetensors").exists():
        raise FileNotFoundError(f"no model weights in {model}")
    data = ensure_dataset(args.data, args.rebuild, console)
    config = EvalConfig(
        model=str(model),
        adapter="llava",
        dataset=str(data),
        out=args.out,
        configs=list(BENCHMARK_CONFIGS),
        limit=args.limit,
        mode="option",
        option_choice="sum",
        batch_size=args.batch_size,
        device="cpu",
        dtype="float32",
        overwrite=args.overwrite,
        progress=not args.no_progress,
        threads=args.threads,
    )
    result = run_eval(config, console=console)
    out = result.folder.out
    minutes = (time.perf_counter() - started) / 60
    console.print(f"\n[bold]Report[/] in {out}/ ({minutes:.1f} min in all):")
    console.print(_report_grid(out))
    return 0


def _report_grid(out: Path) -> Any:
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column()
    for name, what in _report_files(out):
        grid.add_row(f"  {name}", what)
    return grid


def _report_files(out: Path) -> list[tuple[str, str]]:
    """The report's files that exist, with what each holds."""
    described = [
        ("metrics.json", "Acc@R1, Syc, Cor w/ and w/o answer per task, tone and overall, with CIs"),
        ("predictions.jsonl", "one scored prediction per record (submission input)"),
        ("transcripts", "the dialogues as the model saw them, one file per config"),
        ("plots", "headline bars, Syc by task x tone, multi-round curve (PNG)"),
        ("run.json", "settings, model, dataset version, timing"),
    ]
    found = []
    for name, what in described:
        matches = sorted(out.glob(f"{name}*"))
        if matches:
            found.append((matches[0].name + ("/" if matches[0].is_dir() else ""), what))
    known = {n for n, _ in described}
    for path in sorted(out.iterdir()):
        if not any(path.name.startswith(k) for k in known):
            found.append((path.name + ("/" if path.is_dir() else ""), ""))
    return found
