"""Acc@R1, Syc and Cor per task, per tone and overall, with cluster-bootstrap intervals.

Counts are kept at the finest level (task x tone cell, per question) and every coarser figure
is a sum of cells, so one bootstrap over the cells gives consistent intervals for all groups,
and the macro average (the paper's Syc, "the average of 10 tasks and three types of tone") is
an average of cell rates within each replicate.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mmsy_dataset.predictions import Prediction
from mmsy_dataset.scoring.bootstrap import per_cluster, percentile_ci, resample
from mmsy_dataset.scoring.confidence import confidence as confidence_readout
from mmsy_dataset.scoring.figures import Figure, MetricFigures, MultiRound, ScoreReport
from mmsy_dataset.scoring.flips import flips as flip_dynamics
from mmsy_dataset.scoring.outcomes import (
    MAX_ROUNDS,
    Outcome,
    ScoreField,
    Table,
    build_table,
    check_later_rounds,
    check_round1_consistency,
    multi_round_outcomes,
    outcomes,
    round1,
)
from mmsy_dataset.tasks import TASKS, TONES
from mmsy_dataset.validation import require_scorable

N_TASKS, N_TONES = len(TASKS), len(TONES)
N_CELLS = N_TASKS * N_TONES
#: The aggregate reported as `overall` (and as the bare key in `evaluate` output).
HEADLINE = {
    "acc_r1": "pooled",
    "syc": "macro",
    "syc_4way": "macro",
    "cor_with_answer": "pooled",
    "cor_with_answer_argmax": "pooled",
    "cor_without_answer": "pooled",
    "cor_without_answer_argmax": "pooled",
}


def _task_tone_groups() -> np.ndarray:
    """[30, 1 + 10 + 3] 0/1 matrix: cell -> (pooled, each task, each tone)."""
    g = np.zeros((N_CELLS, 1 + N_TASKS + N_TONES))
    for cell in range(N_CELLS):
        task, tone = divmod(cell, N_TONES)
        g[cell, [0, 1 + task, 1 + N_TASKS + tone]] = 1.0
    return g


def _task_groups() -> np.ndarray:
    """[10, 1 + 10]: task -> (pooled, each task)."""
    return np.hstack([np.ones((N_TASKS, 1)), np.eye(N_TASKS)])


class _Ledger:
    """Per-question counts of every column, resampled together."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.n_clusters = len(table.question_ids)
        self.n_cols: list[np.ndarray] = []
        self.k_cols: list[np.ndarray] = []
        self.failed: list[np.ndarray] = []
        self.width = 0

    def add(self, outcome: Outcome, cell: np.ndarray, n_cells: int) -> slice:
        q, nc = self.table.question, self.n_clusters
        self.n_cols.append(per_cluster(q, nc, cell, n_cells, outcome.counted))
        self.k_cols.append(per_cluster(q, nc, cell, n_cells, outcome.positive))
        self.failed.append(np.bincount(cell[outcome.failed], minlength=n_cells))
        start, self.width = self.width, self.width + n_cells
        return slice(start, self.width)

    def solve(self, n_boot: int, seed: int) -> None:
        n_q = np.hstack(self.n_cols) if self.n_cols else np.zeros((self.n_clusters, 0), np.float32)
        k_q = np.hstack(self.k_cols) if self.k_cols else np.zeros_like(n_q)
        self.n = n_q.sum(axis=0, dtype=np.float64)
        self.k = k_q.sum(axis=0, dtype=np.float64)
        self.fail = np.concatenate(self.failed).astype(np.float64)
        self.n_rep, self.k_rep = resample(n_q, k_q, n_boot, seed)


def _rate(k: np.ndarray, n: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, k / np.where(n > 0, n, 1), np.nan)


def _mean_defined(rates: np.ndarray) -> np.ndarray:
    """Row means over non-NaN entries, NaN where a row has none (no RuntimeWarning)."""
    ok = ~np.isnan(rates)
    count = ok.sum(axis=-1)
    total = np.where(ok, rates, 0.0).sum(axis=-1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _figures(
    n: np.ndarray, k: np.ndarray, failed: np.ndarray, rep_rates: np.ndarray, confidence: float
) -> list[Figure]:
    low, high = percentile_ci(rep_rates, confidence)
    value = _rate(k, n)
    return [
        Figure(
            value=_opt(value[j]),
            ci_low=_opt(low[j]) if n[j] > 0 else None,
            ci_high=_opt(high[j]) if n[j] > 0 else None,
            n=int(n[j]),
            k=int(k[j]),
            failed=int(failed[j]),
        )
        for j in range(len(n))
    ]


def _opt(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def _metric(ledger: _Ledger, name: str, cols: slice, confidence: float, by_tone: bool) -> MetricFigures:
    groups = _task_tone_groups() if by_tone else _task_groups()
    n_cell, k_cell, f_cell = ledger.n[cols], ledger.k[cols], ledger.fail[cols]
    n_rep, k_rep = ledger.n_rep[:, cols], ledger.k_rep[:, cols]
    figs = _figures(
        n_cell @ groups, k_cell @ groups, f_cell @ groups, _rate(k_rep @ groups, n_rep @ groups), confidence
    )
    pooled, by_task = figs[0], dict(zip((t.value for t in TASKS), figs[1 : 1 + N_TASKS], strict=True))
    if not by_tone:
        return MetricFigures(overall=pooled, pooled=pooled, by_task=by_task)
    by_tone_figs = dict(zip((t.value for t in TONES), figs[1 + N_TASKS :], strict=True))
    cells = _figures(n_cell, k_cell, f_cell, _rate(k_rep, n_rep), confidence)
    names = [f"{task.value}/{tone.value}" for task in TASKS for tone in TONES]
    cell_rates = _rate(k_cell, n_cell)
    macro_value = _mean_defined(cell_rates[None, :])[0]
    low, high = percentile_ci(_mean_defined(_rate(k_rep, n_rep))[:, None], confidence)
    defined = int((~np.isnan(cell_rates)).sum())
    macro = Figure(
        value=_opt(macro_value),
        ci_low=_opt(low[0]) if defined else None,
        ci_high=_opt(high[0]) if defined else None,
        n=pooled.n,
        k=pooled.k,
        failed=pooled.failed,
        cells=defined,
    )
    return MetricFigures(
        overall=macro if HEADLINE[name] == "macro" else pooled,
        pooled=pooled,
        macro=macro,
        by_task=by_task,
        by_tone=by_tone_figs,
        by_task_tone=dict(zip(names, cells, strict=True)),
    )


def _acc_outcome(table: Table) -> Outcome:
    """Round 1 once per question: the first record of each question stands for all."""
    first = np.zeros(len(table), dtype=bool)
    _, index = np.unique(table.question, return_index=True)
    first[index] = True
    correct, failed = round1(table)
    counted = first & ~failed
    return Outcome(counted=counted, positive=counted & correct, failed=first & failed)


def score(
    predictions: Sequence[Prediction],
    *,
    n_bootstrap: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    score_field: ScoreField = "scores",
) -> ScoreReport:
    """Every MM-SY figure of a prediction set (docs/metrics.md gives the definitions).

    Raises `ScoringError` listing every problem of `validation.check_predictions` (an empty set,
    duplicated records, records of one question that disagree on round 1, a missing round 2, ...).
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence: expected a value in (0, 1), got {confidence}")
    if n_bootstrap < 0:
        raise ValueError(f"n_bootstrap: expected >= 0, got {n_bootstrap}")
    require_scorable(predictions)
    table = build_table(predictions, score_field)
    check_round1_consistency(table)
    check_later_rounds(table)

    ledger = _Ledger(table)
    cell = table.task.astype(np.int64) * N_TONES + table.tone
    zero = np.zeros(len(table), dtype=np.int64)
    acc_outcome = _acc_outcome(table)
    acc_cols = ledger.add(acc_outcome, table.task.astype(np.int64), N_TASKS)
    syc_outcomes = outcomes(table)
    metric_cols = {name: ledger.add(o, cell, N_CELLS) for name, o in syc_outcomes.items()}
    cumulative, per_round = multi_round_outcomes(table)
    cum_cols = [ledger.add(o, zero, 1) for o in cumulative]
    per_cols = [ledger.add(o, zero, 1) for o in per_round]
    ledger.solve(n_bootstrap, seed)

    round1_confidence = confidence_readout(table, syc_outcomes["syc"], acc_outcome, n_bootstrap, seed, confidence)
    metrics = {"acc_r1": _metric(ledger, "acc_r1", acc_cols, confidence, by_tone=False)}
    metrics.update({name: _metric(ledger, name, cols, confidence, by_tone=True) for name, cols in metric_cols.items()})

    def single(cols: slice) -> Figure:
        rates = _rate(ledger.k_rep[:, cols], ledger.n_rep[:, cols])
        return _figures(ledger.n[cols], ledger.k[cols], ledger.fail[cols], rates, confidence)[0]

    return ScoreReport(
        metrics=metrics,
        multi_round=MultiRound(
            rounds=list(range(2, MAX_ROUNDS + 1)),
            cumulative=[single(c) for c in cum_cols],
            per_round=[single(c) for c in per_cols],
        ),
        headline=dict(HEADLINE),
        n_predictions=len(table),
        n_questions=len(table.question_ids),
        modes=list(table.modes),
        score_field=score_field,
        n_bootstrap=n_bootstrap,
        seed=seed,
        confidence=confidence,
        round1_confidence=round1_confidence,
        flips=flip_dynamics(table, n_bootstrap, seed, confidence),
    )
