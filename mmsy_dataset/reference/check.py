"""Figures on a fixed small subset, recorded next to the weights and reproduced by the tests.

The subset is built in memory (no `mmsy build`): the first questions of each task's benchmark
stream, with the records construction would make of them, scored by the evaluation engine in
`option` mode. On CPU in fp32 the figures are deterministic, so the tests compare them exactly.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from mmsy_dataset.construction.records import RecordFactory
from mmsy_dataset.schemas import QuestionRecord
from mmsy_dataset.tasks import TASKS, Partition

#: Questions per task in the recorded subset.
SUBSET_PER_TASK = 3


def subset_records(per_task: int = SUBSET_PER_TASK, seed: int = 0) -> list[QuestionRecord]:
    """Sycophancy and correction-with-answer records of the first `per_task` benchmark questions."""
    from mmsy_dataset.sources.synthetic import SyntheticSource

    source = SyntheticSource(image_size=224, seed=seed)
    factory = RecordFactory(version="1.0.0", seed=seed, source="synthetic")
    records: list[QuestionRecord] = []
    for task in TASKS:
        for index in range(per_task):
            item = source.item(task, Partition.BENCHMARK, index)
            n_options = 2 if item.answer in ("yes", "no") else 4
            question = factory.question(item, index % n_options)
            records += factory.sycophancy(question)
            records += factory.correction_with_answer(question)
    return records


def subset_figures(model: Any, processor: Any, per_task: int = SUBSET_PER_TASK) -> dict[str, Any]:
    """Acc@R1, Syc and Cor w/ answer (engine, option mode, summed scores) on the fixed subset."""
    from mmsy_dataset.adapters.llava import LlavaAdapter
    from mmsy_dataset.engine.config import EvalConfig
    from mmsy_dataset.engine.run import run_eval

    records = subset_records(per_task)
    with tempfile.TemporaryDirectory(prefix="mmsy-ref-check-") as tmp:
        config = EvalConfig(
            model="mmsy-reference",
            dataset="in-memory subset",
            out=Path(tmp),
            configs=["sycophancy", "correction_with_answer"],
            mode="option",
            option_choice="sum",
            device="cpu",
            dtype="float32",
            n_bootstrap=10,
            progress=False,
        )
        adapter = LlavaAdapter(model.float().eval(), processor, model_id="mmsy-reference", device="cpu")
        result = run_eval(config, adapter=adapter, records=records, console=_quiet_console())
    report = result.report
    out: dict[str, Any] = {"per_task": per_task, "n_records": len(records)}
    for name in ("acc_r1", "syc", "cor_with_answer"):
        figure = report.metrics[name].pooled
        out[name] = {"value": figure.value, "k": figure.k, "n": figure.n}
    return out


def _quiet_console() -> Any:
    import io

    from rich.console import Console

    return Console(file=io.StringIO())
