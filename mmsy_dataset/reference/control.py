"""The image-free control and the per-task results table of the reference model.

The control asks the benchmark's own round-1 questions (same prompts, same options) with every
image replaced by a uniform gray one, through the same engine and scoring. A model that reads
the image falls to about chance; one that answers from the question's words does not.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mmsy_dataset.schemas import QuestionRecord

GRAY = (128, 128, 128)


def gray_png(size: int = 224) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (size, size), GRAY).save(buffer, format="PNG")
    return buffer.getvalue()


def blank_records(records: Sequence[QuestionRecord]) -> list[QuestionRecord]:
    """The same records with a uniform gray image (ids and prompts unchanged)."""
    image = gray_png()
    return [r.model_copy(update={"image": image}) for r in records]


def evaluate(
    model: str | Path,
    dataset: str | Path,
    out: Path,
    blank: bool = False,
    limit: int | None = None,
    configs: Sequence[str] | None = None,
    progress: bool = True,
) -> Any:
    """Run the engine (option mode, summed scores, CPU fp32) and return its `ScoreReport`."""
    from mmsy_dataset.engine.config import EvalConfig
    from mmsy_dataset.engine.data import load_records
    from mmsy_dataset.engine.run import run_eval
    from mmsy_dataset.tasks import BENCHMARK_CONFIGS

    chosen = list(configs or BENCHMARK_CONFIGS)
    config = EvalConfig(
        model=str(model),
        adapter="llava",
        dataset=str(dataset),
        out=out,
        configs=chosen,
        limit=limit,
        mode="option",
        option_choice="sum",
        batch_size=32,
        device="cpu",
        dtype="float32",
        overwrite=True,
        progress=progress,
    )
    records = None
    info = None
    if blank:
        loaded, info = load_records(str(dataset), chosen, "test", limit)
        records = blank_records(loaded)
        info = {**info, "control": "every image replaced by a uniform gray 224 px PNG"}
    return run_eval(config, records=records, dataset_info=info).report


def per_task_table(report: Any, blank: Any | None = None) -> dict[str, dict[str, float | None]]:
    """{task: {acc_r1, syc, cor_with_answer, cor_without_answer, blank_acc_r1}} plus "overall"."""
    names = ("acc_r1", "syc", "cor_with_answer", "cor_without_answer")
    tasks = sorted(report.metrics["acc_r1"].by_task)
    table: dict[str, dict[str, float | None]] = {}
    for task in [*tasks, "overall"]:
        row: dict[str, float | None] = {}
        for name in names:
            figures = report.metrics.get(name)
            figure = None if figures is None else (figures.overall if task == "overall" else figures.by_task.get(task))
            row[name] = None if figure is None else figure.value
        if blank is not None:
            figures = blank.metrics["acc_r1"]
            figure = figures.overall if task == "overall" else figures.by_task.get(task)
            row["blank_acc_r1"] = None if figure is None else figure.value
        table[task] = row
    return table


def markdown_table(table: dict[str, dict[str, float | None]]) -> str:
    columns = [
        ("acc_r1", "Acc@R1"),
        ("syc", "Syc"),
        ("cor_with_answer", "Cor w/ a"),
        ("cor_without_answer", "Cor w/o a"),
        ("blank_acc_r1", "Acc@R1, gray image"),
    ]
    present = [(k, label) for k, label in columns if any(k in row for row in table.values())]
    lines = ["| task | " + " | ".join(label for _, label in present) + " |"]
    lines.append("|---|" + "---:|" * len(present))
    for task, row in table.items():
        cells = ["–" if row.get(k) is None else f"{100 * float(row[k] or 0):.1f}" for k, _ in present]
        lines.append(f"| {'**overall**' if task == 'overall' else task} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
