"""Figure 3 of the paper, one line per model: probe AUC (left) and ā_l (right) per layer,
plus the image's total attention (appendix C.1). Shaded bands are the bootstrap intervals;
an undefined point is a gap, never drawn at 0.5."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mmsy_dataset.analysis.attention import AttentionResult, LayerMean
from mmsy_dataset.analysis.probe import ProbeResult


def _series(
    ax: Any, label: str, layers: list[int], values: list[float | None], lows: list[Any], highs: list[Any]
) -> None:
    import numpy as np

    nan = float("nan")
    v = np.array([nan if x is None else x for x in values], dtype=float)
    lo = np.array([nan if x is None else x for x in lows], dtype=float)
    hi = np.array([nan if x is None else x for x in highs], dtype=float)
    (line,) = ax.plot(layers, v, marker="o", label=label)
    if not np.isnan(lo).all():
        ax.fill_between(layers, lo, hi, alpha=0.2, color=line.get_color())


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    for ax in fig.axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _figure() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(5.5, 3.8))


def plot_probe(results: Sequence[ProbeResult], path: Path) -> Path:
    """Figure 3 (left): test AUC of each layer's probe, one line per model."""
    fig, ax = _figure()
    for r in results:
        layers = [x.layer for x in r.layers]
        label = r.label if not r.undefined else f"{r.label} (AUC undefined)"
        _series(
            ax, label, layers, [x.auc for x in r.layers], [x.ci_low for x in r.layers], [x.ci_high for x in r.layers]
        )
    ax.axhline(0.5, color="gray", lw=0.8, ls="--")
    ax.set_xlabel("layer")
    ax.set_ylabel("probe AUC (test)")
    ax.set_ylim(0, 1)
    ax.legend()
    ax.set_title("Probing: keeps the true option vs takes the pushed one")
    return _save(fig, path)


def _plot_means(results: Sequence[AttentionResult], field: str, ylabel: str, title: str, path: Path) -> Path:
    fig, ax = _figure()
    for r in results:
        points: list[LayerMean] = getattr(r, field)
        _series(
            ax,
            r.label,
            [p.layer for p in points],
            [p.value for p in points],
            [p.ci_low for p in points],
            [p.ci_high for p in points],
        )
    ax.set_xlabel("layer")
    ax.set_ylabel(ylabel)
    ax.legend()
    ax.set_title(title)
    return _save(fig, path)


def plot_attention(results: Sequence[AttentionResult], folder: Path) -> list[Path]:
    """Figure 3 (right): ā_l per layer; and the image's total attention (appendix C.1)."""
    return [
        _plot_means(
            results,
            "ratio",
            "ā_l (image / text, per token)",
            "Attention ratio at the round-2 answer",
            folder / "attention_ratio.png",
        ),
        _plot_means(
            results,
            "image_mass",
            "attention mass on the image",
            "Total attention on image tokens",
            folder / "attention_mass.png",
        ),
    ]
