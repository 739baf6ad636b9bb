"""Ratios of per-item sums with a question-level bootstrap, for figures beyond the cell ledger.

`metrics.py` keeps its counts per task x tone cell; confidence bins and flip dynamics group
items differently and some are means (a sum of values over a count), so they go through this
small helper: per-question sums of the denominator and the numerator, resampled with the same
seeded cluster weights (`bootstrap.resample`), one column per figure.
"""

from __future__ import annotations

import numpy as np

from mmsy_dataset.scoring.bootstrap import percentile_ci, resample


def ratios(
    question: np.ndarray,
    n_clusters: int,
    counted: np.ndarray,
    values: np.ndarray,
    n_boot: int,
    seed: int,
    confidence: float,
) -> list[tuple[float | None, float | None, float | None, int, float]]:
    """Per column j of `counted` / `values` [items, cols]: (sum(values) / sum(counted), CI low,
    CI high, n, k) over the counted items; None where nothing is counted."""
    counted = counted.astype(np.float64)
    n_q = np.zeros((n_clusters, counted.shape[1]))
    k_q = np.zeros_like(n_q)
    np.add.at(n_q, question, counted)
    np.add.at(k_q, question, counted * np.nan_to_num(values.astype(np.float64)))
    n, k = n_q.sum(0), k_q.sum(0)
    low = high = np.full(counted.shape[1], np.nan)
    if n_boot:
        n_rep, k_rep = resample(n_q.astype(np.float32), k_q.astype(np.float32), n_boot, seed)
        with np.errstate(invalid="ignore", divide="ignore"):
            rep = np.where(n_rep > 0, k_rep / np.where(n_rep > 0, n_rep, 1), np.nan)
        low, high = percentile_ci(rep, confidence)
    out: list[tuple[float | None, float | None, float | None, int, float]] = []
    for j in range(counted.shape[1]):
        if n[j] == 0:
            out.append((None, None, None, 0, 0.0))
            continue
        ci = (None, None) if np.isnan(low[j]) else (float(low[j]), float(high[j]))
        out.append((float(k[j] / n[j]), ci[0], ci[1], int(n[j]), float(k[j])))
    return out
