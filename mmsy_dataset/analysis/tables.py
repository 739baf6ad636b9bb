"""The analyses' results as rich tables, one row per layer and a column (or two) per model:
what `mmsy analyze` prints next to the figures it writes."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from mmsy_dataset.analysis.attention import AttentionResult
from mmsy_dataset.analysis.probe import ProbeResult


def _cell(value: float | None, low: float | None, high: float | None, digits: int = 3) -> str:
    """A figure with its interval; `undefined` (never a number) where it has none."""
    if value is None:
        return "undefined"
    ci = f" [{low:.{digits}f}, {high:.{digits}f}]" if low is not None and high is not None else ""
    return f"{value:.{digits}f}{ci}"


def probe_table(results: Sequence[ProbeResult]) -> Table:
    """Test AUC per layer with its bootstrap interval, a column per model (blank past a
    shallower model's last layer)."""
    table = Table(title="Probe AUC per layer (test, 95% bootstrap CI)")
    table.add_column("layer")
    for r in results:
        table.add_column(r.label)
    for j in range(max(len(r.layers) for r in results)):
        table.add_row(
            str(j + 1),
            *(
                _cell(r.layers[j].auc, r.layers[j].ci_low, r.layers[j].ci_high) if j < len(r.layers) else ""
                for r in results
            ),
        )
    return table


def attention_table(results: Sequence[AttentionResult]) -> Table:
    """ā_l and the image's attention mass per layer, two columns per model (blank past a
    shallower model's last layer)."""
    table = Table(title="ā_l per layer (image / text attention per token) and image attention mass")
    table.add_column("layer")
    for r in results:
        table.add_column(f"{r.label} ā_l")
        table.add_column(f"{r.label} mass")
    for j in range(max(len(r.ratio) for r in results)):
        cells = []
        for r in results:
            if j >= len(r.ratio):
                cells += ["", ""]
                continue
            cells += [
                _cell(r.ratio[j].value, r.ratio[j].ci_low, r.ratio[j].ci_high),
                _cell(r.image_mass[j].value, r.image_mass[j].ci_low, r.image_mass[j].ci_high),
            ]
        table.add_row(str(j + 1), *cells)
    return table
