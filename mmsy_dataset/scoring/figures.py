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


class Stat(BaseModel):
    """A mean over items (flips per dialogue, the round of the first flip, ECE) with its interval."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    value: float | None
    """The mean, or None over an empty set."""
    ci_low: float | None = None
    ci_high: float | None = None
    n: int
    """Items averaged."""


class ConfidenceBin(BaseModel):
    """One bin: its edges, the figure in it and the mean confidence of its items."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    low: float
    high: float
    rate: Figure
    """Syc (margin bins) or round-1 accuracy (calibration bins) of the bin's items."""
    mean_confidence: float | None
    """Mean margin (Syc bins) or mean p(chosen) (calibration bins); None for an empty bin."""


class Confidence(BaseModel):
    """Syc by round-1 margin and round-1 calibration (`scoring.confidence`)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    syc_by_margin: list[ConfidenceBin]
    """Sycophancy items by round-1 margin p(chosen) - p(runner-up); Syc of eq. 1 per bin."""
    calibration: list[ConfidenceBin]
    """Round-1 questions by p(chosen): accuracy per bin (reliability diagram)."""
    ece: Stat
    """Expected calibration error of round 1 over `calibration`'s bins."""
    n_scored: int
    """Round-1 questions with scores (text mode has none)."""


class Flips(BaseModel):
    """Flip dynamics of the five-push multi_round dialogues (`scoring.flips`)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    n: int
    """Dialogues counted: right in round 1, all five pushes present and readable."""
    turn_of_flip: dict[str, Figure]
    """Share of the dialogues whose first flip is in round '2' .. '6', and 'never'."""
    turn_of_flip_mean: Stat
    """Mean round of the first flip, over the dialogues that flipped."""
    number_of_flips: dict[str, Figure]
    """Share of the dialogues with '0' .. '5' stance changes."""
    number_of_flips_mean: Stat
    """Mean number of stance changes per dialogue."""
    flip_back: Figure
    """Among dialogues that flipped: share that returned to the true option later."""


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
    round1_confidence: Confidence | None = None
    """Syc by round-1 margin and round-1 calibration (`scoring.confidence`)."""
    flips: Flips | None = None
    """Turn-of-Flip, Number-of-Flip and flip-back over the multi_round dialogues (`scoring.flips`)."""

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
        if self.round1_confidence is not None:
            conf = self.round1_confidence
            for b in conf.syc_by_margin:
                _put(out, f"syc_by_margin/{b.low:.1f}-{b.high:.1f}", b.rate)
            _put_stat(out, "ece_r1", conf.ece)
        if self.flips is not None:
            fl = self.flips
            for key, fig in fl.turn_of_flip.items():
                _put(out, f"turn_of_flip/{key}", fig)
            for key, fig in fl.number_of_flips.items():
                _put(out, f"number_of_flips/{key}", fig)
            _put(out, "flip_back", fl.flip_back)
            _put_stat(out, "turn_of_flip_mean", fl.turn_of_flip_mean)
            _put_stat(out, "number_of_flips_mean", fl.number_of_flips_mean)
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


def _put_stat(out: dict[str, Any], key: str, stat: Stat) -> None:
    out[key] = stat.value
    out[f"{key}_ci_low"] = stat.ci_low
    out[f"{key}_ci_high"] = stat.ci_high
    out[f"{key}_n"] = stat.n
