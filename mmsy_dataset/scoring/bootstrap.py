"""Seeded cluster bootstrap, vectorised.

Records of one question share round 1 (and so whether they enter the Syc or the Cor
denominator): they are not independent. The resampling unit is therefore the question, and a
replicate is a vector of multiplicities over questions. Any count that is a sum over records is
a dot product with per-question sums, so all cells of all metrics are resampled with one
matrix product per chunk of replicates.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

#: Replicates drawn at once; bounds the weight matrix to chunk x questions floats.
CHUNK = 250


def cluster_weights(n_clusters: int, n_boot: int, seed: int, chunk: int = CHUNK) -> Iterator[np.ndarray]:
    """Multiplicity matrices [b, n_clusters] (float32), b <= chunk, n_boot rows in all.

    One generator seeded once, so the replicates depend only on (seed, n_clusters, n_boot),
    never on the chunk size or on which metrics are computed.
    """
    rng = np.random.default_rng(seed)
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        draws = rng.integers(0, n_clusters, size=(b, n_clusters)) if n_clusters else np.zeros((b, 0), int)
        offsets = (np.arange(b) * n_clusters)[:, None]
        counts = np.bincount((draws + offsets).ravel(), minlength=b * n_clusters)
        yield counts.reshape(b, n_clusters).astype(np.float32)
        done += b


def per_cluster(question: np.ndarray, n_clusters: int, cell: np.ndarray, n_cells: int, mask: np.ndarray) -> np.ndarray:
    """[n_clusters, n_cells] counts of masked records per question and cell."""
    flat = np.bincount(question[mask] * n_cells + cell[mask], minlength=n_clusters * n_cells).astype(np.float32)
    return flat.reshape(n_clusters, n_cells)


def resample(n_q: np.ndarray, k_q: np.ndarray, n_boot: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap replicates of the column totals: ([n_boot, C] n, [n_boot, C] k)."""
    n_clusters, n_cols = n_q.shape
    n_out = np.empty((n_boot, n_cols), dtype=np.float64)
    k_out = np.empty((n_boot, n_cols), dtype=np.float64)
    row = 0
    for weights in cluster_weights(n_clusters, n_boot, seed):
        b = weights.shape[0]
        n_out[row : row + b] = weights @ n_q
        k_out[row : row + b] = weights @ k_q
        row += b
    return n_out, k_out


def percentile_ci(replicates: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval per column, ignoring NaN replicates; NaN where a column has none."""
    alpha = (1.0 - confidence) / 2.0
    n_cols = replicates.shape[1] if replicates.ndim == 2 else 0
    low = np.full(n_cols, np.nan)
    high = np.full(n_cols, np.nan)
    if replicates.size == 0:
        return low, high
    finite = ~np.isnan(replicates)
    ok = finite.any(axis=0)
    if ok.any():
        sub = replicates[:, ok]
        low[ok] = np.nanquantile(sub, alpha, axis=0)
        high[ok] = np.nanquantile(sub, 1.0 - alpha, axis=0)
    return low, high
