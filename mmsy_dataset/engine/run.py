"""`mmsy eval` end to end: load, resume, run the engine with progress, write every output."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mmsy_dataset.adapters.base import ModelAdapter, VLMAdapter
from mmsy_dataset.api.prompts import LoadOptions
from mmsy_dataset.engine.config import EvalConfig
from mmsy_dataset.engine.data import load_records, package_versions
from mmsy_dataset.engine.outputs import RunFolder
from mmsy_dataset.engine.report import compute_metrics, summary_table, write_metrics, write_plots
from mmsy_dataset.engine.runner import Dialogue, Engine
from mmsy_dataset.engine.shard import Shard, select, write_shard_file
from mmsy_dataset.errors import MmsyError
from mmsy_dataset.predictions import ScoringMode
from mmsy_dataset.schemas import QuestionRecord
from mmsy_dataset.threads import set_torch_threads, thread_facts


@dataclass
class RunResult:
    folder: RunFolder
    report: Any
    """The scoring library's `ScoreReport` (None if there were no predictions)."""
    info: dict[str, Any]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _progress(enabled: bool, console: Any) -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]} dialogues/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
    )


def run_eval(
    config: EvalConfig,
    adapter: ModelAdapter | None = None,
    records: Sequence[QuestionRecord] | None = None,
    dataset_info: dict[str, Any] | None = None,
    console: Any = None,
) -> RunResult:
    """Run (or resume) an evaluation into `config.run_dir` (`out`, or its shard's subfolder).

    `adapter` and `records` may be given directly (tests, notebooks); otherwise they are loaded
    from `config.model` / `config.dataset`.
    """
    import torch
    from rich.console import Console

    console = console or Console(stderr=True)
    if config.amplify is not None:  # refuse a bad range before anything is written
        from mmsy_dataset.engine.amplify import preflight

        preflight(config.amplify, adapter or config.model, config.api, config.trust_remote_code)
    folder = RunFolder(config.run_dir)
    previous = folder.start(config.settings(), config.overwrite)
    done = folder.finished_ids() if previous is not None else set()

    if records is None:
        records, dataset_info = load_records(config.dataset, config.configs, config.split, config.limit)
    else:
        records = [r for r in records if r.config in config.configs]
    dataset_info = dataset_info or {"source": config.dataset}
    shard_file: tuple[Shard, dict[str, int], int] | None = None  # written once the model has loaded
    if config.shard is not None:
        total = len(records)
        records, positions = select(records, config.shard)
        shard_file = (config.shard, positions, total)
    threads = set_torch_threads(config.threads)
    torch.manual_seed(config.seed)
    if config.api is not None and config.chat_format != "auto":
        raise MmsyError("--chat-format: a model behind an HTTP API is prompted with the server's own chat template")
    if adapter is None and config.api is not None:
        from mmsy_dataset.adapters.http import OpenAIAdapter

        adapter = OpenAIAdapter.from_settings(config.api)
    elif adapter is None:
        from mmsy_dataset.adapters.registry import load_adapter

        options = LoadOptions(config.device, config.dtype, config.trust_remote_code, config.chat_format)
        adapter = load_adapter(config.model, config.adapter, options)
    elif isinstance(adapter, VLMAdapter) and config.chat_format != "auto":
        adapter.use_chat_format(config.chat_format)
    amplifier = None
    if config.amplify is not None:
        from mmsy_dataset.engine.amplify import Amplifier

        amplifier = Amplifier(adapter, config.amplify)
    try:
        return _evaluate(
            config, adapter, records, dataset_info, console, folder, previous, done, threads, amplifier, shard_file
        )
    finally:
        if amplifier is not None:
            amplifier.remove()


def _evaluate(
    config: EvalConfig,
    adapter: ModelAdapter,
    records: Sequence[QuestionRecord],
    dataset_info: dict[str, Any],
    console: Any,
    folder: RunFolder,
    previous: dict[str, Any] | None,
    done: set[str],
    threads: int,
    amplifier: Any,
    shard_file: tuple[Shard, dict[str, int], int] | None,
) -> RunResult:
    """The run itself, once the folder is prepared and the model loaded (and amplified). The
    folder's first file is written here, so a model that fails to load leaves no folder."""
    mode_name, fallback = adapter.resolve_mode(config.mode.value)
    mode = ScoringMode(mode_name)
    if fallback:
        console.print(f"[yellow]scoring in {mode.value} mode instead of {config.mode.value}: {fallback}[/]")

    info: dict[str, Any] = {
        "settings": config.settings(),
        "performance": {
            "batch_size": config.batch_size,
            "chunk_questions": config.chunk_questions,
            **thread_facts(threads),
        },
        "model": {**adapter.describe(), "weights": adapter.weights_info(config.model)},
        "mode": {"requested": config.mode.value, "used": mode.value, "fallback": fallback},
        "dataset": dataset_info,
        "versions": package_versions(),
        "started": (previous or {}).get("started", _now()),
        "resumed": (previous or {}).get("resumed", 0) + (1 if previous is not None else 0),
        "finished": None,
    }
    if amplifier is not None:
        info["amplification"] = amplifier.describe()
    folder.write_run(info)
    if shard_file is not None:
        write_shard_file(folder.out, *shard_file)

    todo = [r for r in records if r.id not in done]
    engine = Engine(
        adapter,
        mode,
        prompt_baseline=config.prompt_baseline,
        batch_size=config.batch_size,
        chunk_questions=config.chunk_questions,
        max_new_tokens=config.max_new_tokens,
        option_choice=config.option_choice,
    )

    chat_format = adapter.chat_format

    def sink(dialogues: list[Dialogue]) -> None:
        folder.append(
            [d.prediction(engine.mode) for d in dialogues],
            [{**d.transcript(engine.mode, config.prompt_baseline), "chat_format": chat_format} for d in dialogues],
        )

    start = time.perf_counter()
    with _progress(config.progress, console) as progress:
        task = progress.add_task("mmsy eval", total=len(todo), rate="–")

        def advance(n: int) -> None:
            progress.advance(task, n)
            elapsed = time.perf_counter() - start
            completed = progress.tasks[0].completed
            progress.update(task, rate=f"{completed / elapsed:.1f}" if elapsed > 0 else "–")

        engine.run(todo, sink=sink, advance=advance)
    elapsed = time.perf_counter() - start

    predictions = folder.predictions()
    report = None
    if predictions:
        field = "scores_norm" if mode is ScoringMode.OPTION and config.option_choice == "norm" else "scores"
        report = compute_metrics(predictions, config.n_bootstrap, config.seed, field)
        write_metrics(folder.out, report)
        write_plots(folder.out, report, title=f"({adapter.model_id})")
        console.print(summary_table(report, title=f"MM-SY · {adapter.model_id} · {mode.value} mode"))
    info["finished"] = _now()
    info["stats"] = {
        **engine.stats.as_dict(),
        "kv_sharing": adapter.kv_sharing,
        **adapter.run_stats(),
        "skipped_finished": len(records) - len(todo),
        "seconds": round(elapsed, 3),
        "dialogues_per_second": round(len(todo) / elapsed, 3) if elapsed > 0 else None,
    }
    folder.write_run(info)
    return RunResult(folder, report, info)
