"""Probe AUC: the weighted AUC is the pairwise AUC of the bootstrap's repeated items, probes
find a planted direction, empty classes are an error (train) or an undefined AUC (test), never
0.5."""

from __future__ import annotations

import numpy as np
import pytest

from mmsy_dataset.analysis.attention import attention_stats
from mmsy_dataset.analysis.capture import AnalysisError
from mmsy_dataset.analysis.contexts import KEEPS, ROUND1_WRONG, TAKES, THIRD_OPTION, Contexts
from mmsy_dataset.analysis.probe import fit_probes, weighted_auc


def contexts(labels: list[int], seed: int = 0, signal_layer: int = 1, n_layers: int = 3) -> Contexts:
    """Hidden states where only `signal_layer` (0-based) carries the label."""
    rng = np.random.default_rng(seed)
    y = np.asarray(labels, dtype=np.int8)
    hidden = rng.normal(size=(len(y), n_layers, 8)).astype(np.float32)
    hidden[:, signal_layer, 0] += 3.0 * (y == KEEPS)
    ratio = rng.uniform(0.5, 1.5, size=(len(y), n_layers))
    return Contexts([f"r{i}" for i in range(len(y))], y, hidden, ratio, ratio / 4, n_layers)


def _pairwise_auc(positive: np.ndarray, scores: np.ndarray) -> float:
    """The AUC by its definition: over every (positive, negative) pair, 1 when the positive
    scores higher, 1/2 on a tie."""
    pos, neg = scores[positive][:, None], scores[~positive][None, :]
    return float(((pos > neg) + 0.5 * (pos == neg)).mean())


def test_weighted_auc_is_the_pairwise_auc_of_the_repeated_items() -> None:
    rng = np.random.default_rng(1)
    scores = np.round(rng.normal(size=40), 1)  # ties on purpose
    positive = rng.random(40) < 0.3
    weights = rng.integers(0, 3, size=(5, 40)).astype(np.float32)
    weights[:, np.flatnonzero(positive)[0]] += 1
    weights[:, np.flatnonzero(~positive)[0]] += 1
    got = weighted_auc(scores, positive, weights)
    for b in range(5):
        idx = np.repeat(np.arange(40), weights[b].astype(int))
        assert got[b] == pytest.approx(_pairwise_auc(positive[idx], scores[idx]))
    no_positive = weights.copy()
    no_positive[:, positive] = 0
    assert np.isnan(weighted_auc(scores, positive, no_positive)).all()


def test_probe_finds_the_layer_that_carries_the_label() -> None:
    labels = [KEEPS] * 40 + [TAKES] * 60 + [ROUND1_WRONG] * 5 + [THIRD_OPTION] * 5
    result = fit_probes(contexts(labels, 0), contexts(labels, 1), label="m", model="x", n_bootstrap=200)
    aucs = [layer.auc for layer in result.layers]
    assert aucs[1] > 0.95 and abs(aucs[0] - 0.5) < 0.2 and abs(aucs[2] - 0.5) < 0.2
    assert result.layers[1].ci_low <= aucs[1] <= result.layers[1].ci_high
    assert result.train == {"keeps_true": 40, "takes_pushed": 60, "round1_wrong": 5, "third_option": 5}
    again = fit_probes(contexts(labels, 0), contexts(labels, 1), label="m", model="x", n_bootstrap=200)
    assert again == result


def test_one_empty_class_in_train_is_an_error() -> None:
    train = contexts([TAKES] * 30 + [ROUND1_WRONG] * 3)
    with pytest.raises(AnalysisError, match="no context in class 'keeps_true'"):
        fit_probes(train, contexts([KEEPS, TAKES] * 5), label="base", model="x")


def test_one_empty_class_in_test_leaves_the_auc_undefined() -> None:
    result = fit_probes(contexts([KEEPS, TAKES] * 20), contexts([TAKES] * 10), label="m", model="x")
    assert all(layer.auc is None and layer.ci_low is None for layer in result.layers)
    assert result.undefined == "the test split has no context in class 'keeps_true'"


def test_attention_means_use_every_context_with_a_round_2() -> None:
    c = contexts([KEEPS, TAKES, THIRD_OPTION, ROUND1_WRONG])
    assert c.image_ratio is not None
    c.image_ratio[3] = np.nan
    result = attention_stats(c, label="m", model="x", split="test", n_bootstrap=50)
    assert result.n == 3
    assert result.ratio[0].value == pytest.approx(float(c.image_ratio[:3, 0].mean()))
    assert result.ratio[0].ci_low <= result.ratio[0].value <= result.ratio[0].ci_high
