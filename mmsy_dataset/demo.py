"""The demo: the whole benchmark on a laptop CPU, without a download.

Builds (or reuses) the synthetic MM-SY benchmark configs and evaluates the committed reference
model on them in `option` mode with the evaluation engine. A second run reuses the dataset and
resumes or reuses the evaluation, so it is the quickest way to look at the outputs again.
`mmsy demo` (mmsy_dataset/cli/demo.py) parses the flags and prints; the work is here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmsy_dataset.tasks import BENCHMARK_CONFIGS


@dataclass(frozen=True)
class DemoResult:
    """Where the report is and how long the whole demo took (build included)."""

    out: Path
    seconds: float


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
    """The demo's dataset in `folder`: reused when it matches, built when the folder is empty or
    `rebuild` is set; a folder holding anything else is never overwritten without `rebuild`."""
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


def run_demo(
    data: Path,
    out: Path,
    *,
    console: Any,
    model: Path | None = None,
    limit: int | None = None,
    batch_size: int = 32,
    threads: int | None = None,
    rebuild: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> DemoResult:
    """Build or reuse the benchmark in `data`, evaluate `model` (default: the committed reference
    model) on CPU in option mode into `out`. `overwrite` redoes the evaluation instead of resuming it."""
    from mmsy_dataset.engine.config import EvalConfig
    from mmsy_dataset.engine.run import run_eval
    from mmsy_dataset.reference import WEIGHTS_DIR

    started = time.perf_counter()
    model = model or WEIGHTS_DIR
    if not (model / "model.safetensors").exists():
        raise FileNotFoundError(f"no model weights in {model}")
    ensure_dataset(data, rebuild, console)
    config = EvalConfig(
        model=str(model),
        adapter="llava",
        dataset=str(data),
        out=out,
        configs=list(BENCHMARK_CONFIGS),
        limit=limit,
        mode="option",
        option_choice="sum",
        batch_size=batch_size,
        device="cpu",
        dtype="float32",
        overwrite=overwrite,
        progress=progress,
        threads=threads,
    )
    result = run_eval(config, console=console)
    return DemoResult(out=result.folder.out, seconds=time.perf_counter() - started)


def report_files(out: Path) -> list[tuple[str, str]]:
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
