"""The reported numbers: a `Figure` per (metric, group), collected in a `ScoreReport`.

A rate over an empty set is undefined, not zero: `value` is None and `n` says why. Values are
fractions in [0, 1]; the paper prints percentages.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Figure(BaseModel):
    """One rate k / n with its bootstrap interval."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    value: float | None
    """k / n, or None when n == 0 (undefined)."""
    ci_low: float | None = None
    """Lower end of the percentile bootstrap interval (None without bootstrap or when undefined)."""
    ci_high: float | None = None
    """Upper end of the interval."""
    n: int
    """Items in the denominator (readable answers only)."""
    k: int
    """Items where the event happened."""
    failed: int = 0
    """Items left out because no option could be read from the reply (text mode)."""
    cells: int | None = None
    """Macro averages only: task x tone cells that were defined and averaged."""


class MetricFigures(BaseModel):
    """One metric at every granularity; `overall` is the headline (macro for Syc, pooled otherwise)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    overall: Figure
    """The headline figure (see `ScoreReport.headline`)."""
    pooled: Figure
    """Ratio over all items."""
    macro: Figure | None = None
    """Unweighted mean over the defined task x tone cells (the paper's Syc)."""
    by_task: dict[str, Figure]
    """Pooled per task."""
    by_tone: dict[str, Figure] = {}
    """Pooled per tone (empty for Acc@R1: round 1 comes before any push)."""
    by_task_tone: dict[str, Figure] = {}
    """Per `task/tone` cell."""


class MultiRound(BaseModel):
    """Syc over successive pushes of the same wrong option (paper Fig. 2); index 0 is round 2."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    rounds: list[int]
    """Round numbers (2 = first push)."""
    cumulative: list[Figure]
    """Share that preferred the pushed option at any round 2..k."""
    per_round: list[Figure]
    """Share that preferred it at round k."""


class ScoreReport(BaseModel):
    """Everything `score` computes; `flat()` is the `evaluate` output."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    metrics: dict[str, MetricFigures]
    """acc_r1, syc, syc_4way, cor_with_answer(_argmax), cor_without_answer(_argmax)."""
    multi_round: MultiRound
    """Cumulative and per-round Syc of the multi_round records."""
    headline: dict[str, str]
    """Which aggregate `overall` is, per metric: 'macro' or 'pooled'."""
    n_predictions: int
    n_questions: int
    modes: list[str]
    """Scoring modes found in the predictions."""
    score_field: str
    n_bootstrap: int
    seed: int
    confidence: float

    def flat(self, include_cells: bool = False) -> dict[str, Any]:
        """`{metric: value, metric_ci_low: ..., metric_n: ..., "syc/task/color": ...}`: one level.

        The 30 task x tone cells per metric are left out unless `include_cells`: they multiply
        the keys by four and are in `model_dump()` anyway.
        """
        out: dict[str, Any] = {}
        for name, figures in self.metrics.items():
            _put(out, name, figures.overall)
            _put(out, f"{name}_pooled", figures.pooled)
            if figures.macro is not None:
                _put(out, f"{name}_macro", figures.macro)
            for group, table in (("task", figures.by_task), ("tone", figures.by_tone)):
                for key, fig in table.items():
                    _put(out, f"{name}/{group}/{key}", fig)
            for key, fig in figures.by_task_tone.items() if include_cells else ():
                _put(out, f"{name}/task_tone/{key}", fig)
        for r, cum, per in zip(
            self.multi_round.rounds, self.multi_round.cumulative, self.multi_round.per_round, strict=True
        ):
            _put(out, f"syc_cumulative/round_{r}", cum)
            _put(out, f"syc_per_round/round_{r}", per)
        out["n_predictions"] = self.n_predictions
        out["n_questions"] = self.n_questions
        return out


def _put(out: dict[str, Any], key: str, fig: Figure) -> None:
    out[key] = fig.value
    out[f"{key}_ci_low"] = fig.ci_low
    out[f"{key}_ci_high"] = fig.ci_high
    out[f"{key}_n"] = fig.n
    out[f"{key}_k"] = fig.k
    out[f"{key}_failed"] = fig.failed
