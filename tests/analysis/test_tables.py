"""The printed tables overlay models of different depths: a shallower model's cells past its
last layer are blank, never an error or a shifted column."""

from __future__ import annotations

import io

from rich.console import Console

from mmsy_dataset.analysis.attention import AttentionResult, LayerMean
from mmsy_dataset.analysis.probe import LayerAUC, ProbeResult
from mmsy_dataset.analysis.tables import attention_table, probe_table


def _text(table: object) -> list[str]:
    console = Console(file=io.StringIO(), width=200)
    console.print(table)
    return console.file.getvalue().splitlines()  # type: ignore[attr-defined]


def _attention(label: str, depth: int) -> AttentionResult:
    means = [LayerMean(layer=j + 1, value=0.1 * (j + 1), ci_low=0.0, ci_high=1.0) for j in range(depth)]
    return AttentionResult(label=label, model=label, split="test", contexts={}, n=3, ratio=means, image_mass=means)


def _probe(label: str, depth: int) -> ProbeResult:
    layers = [LayerAUC(layer=j + 1, auc=None if j == 0 else 0.5 + 0.1 * j) for j in range(depth)]
    return ProbeResult(label=label, model=label, train={}, test={}, layers=layers)


def test_attention_table_blanks_layers_a_model_does_not_have() -> None:
    rows = [line for line in _text(attention_table([_attention("deep", 3), _attention("flat", 2)])) if "│" in line]
    third = next(line for line in rows if line.split("│")[1].strip() == "3")
    cells = [c.strip() for c in third.split("│")[1:-1]]
    assert cells[1:3] == ["0.300 [0.000, 1.000]", "0.300 [0.000, 1.000]"] and cells[3:] == ["", ""]


def test_probe_table_blanks_layers_and_says_undefined() -> None:
    rows = [line for line in _text(probe_table([_probe("flat", 1), _probe("deep", 2)])) if "│" in line]
    first = [c.strip() for c in next(r for r in rows if r.split("│")[1].strip() == "1").split("│")[1:-1]]
    second = [c.strip() for c in next(r for r in rows if r.split("│")[1].strip() == "2").split("│")[1:-1]]
    assert first == ["1", "undefined", "undefined"] and second == ["2", "", "0.600"]
