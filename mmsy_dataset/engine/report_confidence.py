"""Report plots and a summary line for round-1 confidence and flip dynamics (docs/metrics.md):
Syc by round-1 margin, the round-1 reliability diagram, and Turn-of-Flip / Number-of-Flip."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _pct(value: float | None) -> float:
    return float("nan") if value is None else 100.0 * value


def _bars(ax: Any, labels: list[str], figures: list[Any], color: str, show_n: bool = False) -> None:
    values = [_pct(f.value) for f in figures]
    low = [v - _pct(f.ci_low) if f.ci_low is not None else 0 for v, f in zip(values, figures, strict=True)]
    high = [_pct(f.ci_high) - v if f.ci_high is not None else 0 for v, f in zip(values, figures, strict=True)]
    ax.bar(labels, values, yerr=[low, high], capsize=3, color=color)
    for i, f in enumerate(figures if show_n else ()):
        ax.text(i, 2, f"n={f.n}", ha="center", fontsize=7)


def _title(head: str, title: str) -> str:
    """The plot's name, the run's title on a second line (model paths are long)."""
    return f"{head}\n{title}" if title else head


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=120, bbox_inches="tight")  # long run titles: grow the canvas, never clip
    plt.close(fig)
    return path


def write_confidence_plots(folder: Path, report: Any, title: str = "") -> list[Path]:
    """`syc_by_confidence.png`, `calibration.png` and `flips.png` (when the report has them)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths: list[Path] = []
    conf = report.round1_confidence
    if conf is not None and conf.n_scored:
        bins = conf.syc_by_margin
        fig, ax = plt.subplots(figsize=(5.5, 3.5))
        _bars(ax, [f"{b.low:.1f}–{b.high:.1f}" for b in bins], [b.rate for b in bins], "#c44e52", show_n=True)
        ax.set_ylim(0, 100)
        ax.set_xlabel("round-1 margin p(chosen) − p(runner-up)")
        ax.set_ylabel("Syc (%)")
        ax.set_title(_title("Sycophancy by round-1 confidence", title), fontsize=10)
        paths.append(_save(fig, folder / "syc_by_confidence.png"))

        cal = conf.calibration
        fig, ax = plt.subplots(figsize=(4.5, 4.5))
        centres = [(b.low + b.high) / 2 for b in cal]
        acc = [float("nan") if b.rate.value is None else b.rate.value for b in cal]
        ax.bar(centres, acc, width=0.09, color="#4c72b0", alpha=0.8, label="accuracy")
        mean = [float("nan") if b.mean_confidence is None else b.mean_confidence for b in cal]
        ax.plot(centres, mean, "o", color="black", ms=3, label="mean confidence")
        ax.plot([0, 1], [0, 1], "--", color="gray", lw=0.8)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("round-1 p(chosen)")
        ax.set_ylabel("round-1 accuracy")
        ece = conf.ece
        head = f"Round-1 reliability, ECE {ece.value:.3f}" if ece.value is not None else "Round-1 reliability"
        ax.set_title(_title(head, title), fontsize=10)
        ax.legend(loc="upper left")
        paths.append(_save(fig, folder / "calibration.png"))

    flips = report.flips
    if flips is not None and flips.n:
        fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
        keys = list(flips.turn_of_flip)
        _bars(left, keys, [flips.turn_of_flip[k] for k in keys], "#dd8452")
        left.set_ylim(0, 100)
        left.set_xlabel("round of the first flip")
        left.set_ylabel("% of dialogues")
        left.set_title(f"Turn-of-Flip (n={flips.n})")
        keys = list(flips.number_of_flips)
        _bars(right, keys, [flips.number_of_flips[k] for k in keys], "#55a868")
        right.set_ylim(0, 100)
        right.set_xlabel("stance changes over five pushes")
        back = flips.flip_back
        note = f"flip-back {_pct(back.value):.1f}% (n={back.n})" if back.value is not None else "no flip"
        right.set_title(f"Number-of-Flip; {note}")
        fig.suptitle(f"Flip dynamics {title}".strip(), fontsize=10)
        paths.append(_save(fig, folder / "flips.png"))
    return paths


def confidence_caption(report: Any) -> str:
    """One line under the results table: ECE, mean Turn-of-Flip / Number-of-Flip, flip-back."""
    parts = []
    conf = report.round1_confidence
    if conf is not None and conf.ece.value is not None:
        parts.append(f"round-1 ECE {conf.ece.value:.3f}")
    flips = report.flips
    if flips is not None and flips.n:
        tof, nof, back = flips.turn_of_flip_mean, flips.number_of_flips_mean, flips.flip_back
        if tof.value is not None:
            parts.append(f"Turn-of-Flip {tof.value:.2f}")
        if nof.value is not None:
            parts.append(f"Number-of-Flip {nof.value:.2f}")
        if back.value is not None:
            parts.append(f"flip-back {100 * back.value:.1f}% (n={back.n})")
        parts.append(f"never flipped {_pct(flips.turn_of_flip['never'].value):.1f}% of {flips.n}")
    return "; ".join(parts)
