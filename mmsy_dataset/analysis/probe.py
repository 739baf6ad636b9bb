"""Layer-wise logistic probes (paper 4.1, eq. 5) and their test AUC with a bootstrap interval.

One scikit-learn logistic regression per layer on the last token's hidden state (standardised,
classes weighted by their inverse frequency: a model that gives in 95 % of the time would
otherwise get a probe that learns the prior). Positive class: the model keeps the true
option (eq. 5's first case). AUC is computed on the test split; it is undefined (None), never
0.5, when the test split lacks one of the classes, and a bootstrap replicate that lacks one is
dropped from the interval.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict

from mmsy_dataset.analysis.capture import AnalysisError
from mmsy_dataset.analysis.contexts import KEEPS, TAKES, Contexts
from mmsy_dataset.scoring.bootstrap import cluster_weights, percentile_ci


class LayerAUC(BaseModel):
    """The probe of one layer."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    layer: int
    """1-based decoder layer (its output)."""
    auc: float | None
    """Test ROC AUC of the probe's score for 'keeps the true option'; None when undefined."""
    ci_low: float | None = None
    ci_high: float | None = None


class ProbeResult(BaseModel):
    """One model's probes."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    label: str
    model: str
    train: dict[str, int]
    """Counts of the train contexts by eq. 5 class (and the left-out cases)."""
    test: dict[str, int]
    layers: list[LayerAUC]
    undefined: str | None = None
    """Why every AUC is undefined (the test split lacks a class), if it is."""


def weighted_auc(scores: np.ndarray, positive: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUC (ties count a half) for each row of `weights` [b, n] (multiplicities); NaN where a
    class has zero weight. All pairs at once: n_pos x n_neg comparisons, then two products."""
    pos, neg = scores[positive], scores[~positive]
    pairs = (pos[:, None] > neg[None, :]).astype(np.float64) + 0.5 * (pos[:, None] == neg[None, :])
    w_pos, w_neg = weights[:, positive], weights[:, ~positive]
    num = np.einsum("bi,ij,bj->b", w_pos, pairs, w_neg)
    den = w_pos.sum(1) * w_neg.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _labelled(contexts: Contexts) -> tuple[np.ndarray, np.ndarray]:
    keep = (contexts.labels == KEEPS) | (contexts.labels == TAKES)
    assert contexts.hidden is not None
    return contexts.hidden[keep], contexts.labels[keep] == KEEPS


def fit_probes(
    train: Contexts,
    test: Contexts,
    *,
    label: str,
    model: str,
    n_bootstrap: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> ProbeResult:
    """Train a probe per layer on `train`, score it on `test`."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x_train, y_train = _labelled(train)
    x_test, y_test = _labelled(test)
    counts = train.counts()
    if y_train.all() or not y_train.any():
        empty = "takes_pushed" if y_train.all() else "keeps_true"
        raise AnalysisError(
            f"model {label}: probing train split: no context in class {empty!r} "
            f"(counts {counts}); a probe needs both eq. 5 classes"
        )
    undefined = None
    if y_test.all() or not y_test.any():
        undefined = f"the test split has no context in class {'takes_pushed' if y_test.all() else 'keeps_true'!r}"
    weights = np.vstack([np.ones((1, len(y_test)), np.float32), *cluster_weights(len(y_test), n_bootstrap, seed)])
    layers = []
    for layer in range(train.n_layers):
        if undefined:
            layers.append(LayerAUC(layer=layer + 1, auc=None))
            continue
        probe = make_pipeline(
            StandardScaler(), LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000, random_state=seed)
        )
        probe.fit(x_train[:, layer], y_train)
        scores = probe.decision_function(x_test[:, layer])
        aucs = weighted_auc(scores, y_test, weights)
        low, high = percentile_ci(aucs[1:, None], confidence) if n_bootstrap else ([np.nan], [np.nan])
        layers.append(
            LayerAUC(
                layer=layer + 1,
                auc=float(aucs[0]),
                ci_low=None if np.isnan(low[0]) else float(low[0]),
                ci_high=None if np.isnan(high[0]) else float(high[0]),
            )
        )
    return ProbeResult(label=label, model=model, train=counts, test=test.counts(), layers=layers, undefined=undefined)
