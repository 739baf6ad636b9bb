"""Attention to the image per layer (paper 4.2, eq. 6, and appendix C.1), with bootstrap CIs.

For each context that got a round 2 (round 1 right), at the round-2 answer position (the last
token of the context) and for each layer, the attention row averaged over heads gives

- ratio: mean attention to an image token / mean attention to a text token (eq. 6's a_l,i
  over a_l,t; every real non-image token is text, the answer position included);
- mass: the total attention on the image tokens (appendix C.1).

ā_l is the mean of the per-context ratios over the contexts; the interval resamples contexts.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict

from mmsy_dataset.analysis.contexts import Contexts
from mmsy_dataset.scoring.bootstrap import cluster_weights, percentile_ci


class LayerMean(BaseModel):
    """A per-layer mean over contexts with its interval."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    layer: int
    """1-based decoder layer."""
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None


class AttentionResult(BaseModel):
    """One model's attention statistics."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    label: str
    model: str
    split: str
    contexts: dict[str, int]
    """Counts by eq. 5 class; the statistics use every context with a round 2."""
    n: int
    """Contexts averaged."""
    ratio: list[LayerMean]
    """ā_l (eq. 6)."""
    image_mass: list[LayerMean]
    """Total attention on the image tokens (appendix C.1)."""


def _means(values: np.ndarray, n_bootstrap: int, seed: int, confidence: float) -> list[LayerMean]:
    """Column means of `values` [contexts, layers] with percentile intervals over contexts."""
    n = values.shape[0]
    if n == 0:
        return [LayerMean(layer=j + 1, value=None) for j in range(values.shape[1])]
    reps = [w @ values / w.sum(1, keepdims=True) for w in cluster_weights(n, n_bootstrap, seed)]
    low, high = percentile_ci(np.vstack(reps), confidence) if reps else (None, None)
    out = []
    for j, value in enumerate(values.mean(0)):
        ci = (float(low[j]), float(high[j])) if low is not None and high is not None else (None, None)
        out.append(LayerMean(layer=j + 1, value=float(value), ci_low=ci[0], ci_high=ci[1]))
    return out


def attention_stats(
    contexts: Contexts,
    *,
    label: str,
    model: str,
    split: str,
    n_bootstrap: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> AttentionResult:
    assert contexts.image_ratio is not None and contexts.image_mass is not None
    keep = contexts.pushed
    ratio, mass = contexts.image_ratio[keep], contexts.image_mass[keep]
    return AttentionResult(
        label=label,
        model=model,
        split=split,
        contexts=contexts.counts(),
        n=int(keep.sum()),
        ratio=_means(ratio, n_bootstrap, seed, confidence),
        image_mass=_means(mass, n_bootstrap, seed, confidence),
    )
