"""End-of-run reporting: metrics.json from the scoring library, PNG plots, a terminal table."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mmsy_dataset.engine.outputs import METRICS, PLOTS, write_json
from mmsy_dataset.engine.report_confidence import confidence_caption, write_confidence_plots
from mmsy_dataset.predictions import Prediction
from mmsy_dataset.tasks import TASKS, TONES

BARS = (("acc_r1", "Acc@R1"), ("syc", "Syc"), ("cor_with_answer", "Cor w/ a"), ("cor_without_answer", "Cor w/o a"))


def compute_metrics(predictions: Sequence[Prediction], n_bootstrap: int, seed: int, score_field: str = "scores") -> Any:
    """The one call into the scoring library: a `ScoreReport` with bootstrap CIs."""
    from mmsy_dataset.scoring import score

    return score(predictions, n_bootstrap=n_bootstrap, seed=seed, score_field=score_field)  # type: ignore[arg-type]


def write_metrics(out: Path, report: Any) -> Path:
    path = out / METRICS
    write_json(path, report.model_dump(mode="json"))
    return path


def _pct(value: float | None) -> float:
    return float("nan") if value is None else 100.0 * value


def write_plots(out: Path, report: Any, title: str = "") -> list[Path]:
    """Syc per task x tone (heatmap), headline bars with CIs, multi-round curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    folder = out / PLOTS
    folder.mkdir(parents=True, exist_ok=True)
    paths = []

    cells = report.metrics["syc"].by_task_tone
    grid = np.array(
        [
            [_pct(cells[f"{t.value}/{o.value}"].value) if f"{t.value}/{o.value}" in cells else np.nan for o in TONES]
            for t in TASKS
        ]
    )
    fig, ax = plt.subplots(figsize=(5.5, 6))
    image = ax.imshow(grid, vmin=0, vmax=100, cmap="Reds", aspect="auto")
    ax.set_xticks(range(len(TONES)), [o.value for o in TONES])
    ax.set_yticks(range(len(TASKS)), [t.value for t in TASKS])
    for (i, j), value in np.ndenumerate(grid):
        ax.text(j, i, "–" if np.isnan(value) else f"{value:.0f}", ha="center", va="center", fontsize=8)
    fig.colorbar(image, ax=ax, label="Syc (%)")
    ax.set_title(f"Sycophancy rate by task and tone {title}".strip())
    fig.tight_layout()
    paths.append(folder / "syc_task_tone.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    figs = [report.metrics[name].overall for name, _ in BARS]
    values = [_pct(f.value) for f in figs]
    low = [v - _pct(f.ci_low) if f.ci_low is not None else 0 for v, f in zip(values, figs, strict=True)]
    high = [_pct(f.ci_high) - v if f.ci_high is not None else 0 for v, f in zip(values, figs, strict=True)]
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    ax.bar([label for _, label in BARS], values, yerr=[low, high], capsize=4, color="#4c72b0")
    ax.set_ylim(0, 100)
    ax.set_ylabel("%")
    ax.set_title(f"Headline metrics (95% bootstrap CI) {title}".strip())
    fig.tight_layout()
    paths.append(folder / "headline.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    multi = report.multi_round
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for name, series in (("cumulative", multi.cumulative), ("per round", multi.per_round)):
        ax.plot(multi.rounds, [_pct(f.value) for f in series], marker="o", label=name)
    ax.set_xlabel("round")
    ax.set_ylabel("Syc (%)")
    ax.set_ylim(0, 100)
    ax.set_xticks(multi.rounds)
    ax.legend()
    ax.set_title(f"Multi-round sycophancy {title}".strip())
    fig.tight_layout()
    paths.append(folder / "multi_round.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)
    return paths + write_confidence_plots(folder, report, title)


def _cell(fig: Any) -> str:
    if fig.value is None:
        return f"– (n={fig.n})"
    ci = f" [{100 * fig.ci_low:.1f}, {100 * fig.ci_high:.1f}]" if fig.ci_low is not None else ""
    failed = f", {fig.failed} unread" if fig.failed else ""
    return f"{100 * fig.value:.1f}{ci} (n={fig.n}{failed})"


def summary_table(report: Any, title: str = "MM-SY") -> Any:
    """A rich table: headline metrics overall and per tone."""
    from rich.table import Table

    table = Table(title=title)
    table.add_column("metric")
    table.add_column("overall (95% CI)")
    for tone in TONES:
        table.add_column(tone.value)
    for name, label in BARS:
        figures = report.metrics[name]
        per_tone = [_cell(figures.by_tone[t.value]) if t.value in figures.by_tone else "" for t in TONES]
        table.add_row(label, _cell(figures.overall), *per_tone)
    table.caption = confidence_caption(report) or None
    return table
