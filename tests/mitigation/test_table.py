"""baselines/results.md: tables from recorded rows, and findings judged by their stated rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmsy_dataset.mitigation.table import findings, load_rows, main, render

KEYS = ("acc_r1", "syc", "cor_with_answer", "cor_without_answer")


def _fig(value: float) -> dict:
    return {"value": value, "ci_low": value - 0.02, "ci_high": value + 0.02, "n": 100}


def _vs(difference: float, p: float) -> dict:
    return {"difference": difference, "ci_low": difference - 0.03, "ci_high": difference + 0.03,
            "p_bootstrap": p, "p_mcnemar": p}


def _row(name: str, changes: dict[str, tuple[float, float]] | None) -> dict:
    base = {"acc_r1": 0.88, "syc": 0.94, "cor_with_answer": 0.95, "cor_without_answer": 0.01}
    row = {"row": name, "model": "ref", "mode": "option", "metrics": {}}
    for key in KEYS:
        row["metrics"][key] = _fig(base[key] + (changes or {}).get(key, (0.0, 1.0))[0])
    if changes is not None:
        row["vs_base"] = {k: _vs(*changes.get(k, (0.0, 1.0))) for k in KEYS}
    return row


def _rows(dpo_cor: float = -0.2) -> dict[str, dict]:
    return {
        "base": _row("base", None),
        "+prompt": _row("+prompt", {"syc": (-0.01, 0.4)}),
        "+SFT": _row("+SFT", {"syc": (-0.6, 0.0)}),
        "+DPO": _row("+DPO", {"syc": (-0.7, 0.0), "cor_with_answer": (dpo_cor, 0.0 if dpo_cor < 0 else 0.5)}),
    }


def _amplification(low_acc: float = -0.1) -> dict:
    runs = []
    for name, acc, syc in (("all", (-0.05, 0.01), (-0.1, 0.0)), ("low", (low_acc, 0.0), (-0.05, 0.0)),
                           ("high", (0.0, 1.0), (-0.02, 0.001))):
        runs.append({"range": name, "lam": 0.9, "metrics": {k: _fig(0.5) for k in KEYS},
                     "vs_base": {"acc_r1": _vs(*acc), "syc": _vs(*syc), "cor_with_answer": _vs(0.0, 1.0),
                                 "cor_without_answer": _vs(0.0, 1.0)}})
    runs.append({**runs[2], "lam": 1.5})  # a sweep point that is not a Table 3 row
    return {"table_lambda": 0.9, "queries": "after-image", "shard": "0/2",
            "ranges": {"all": [1, 4], "low": [1, 2], "high": [3, 4]},
            "base": {"metrics": {k: _fig(0.5) for k in KEYS}}, "runs": runs}


def test_findings_follow_the_numbers_and_their_rules():
    lines = findings(_rows(), _amplification())
    assert len(lines) == 6 and all("**holds**" in line for line in lines), lines
    assert "ΔSyc: prompt -1.0 [-4.0, +2.0], p 0.400" in lines[0]
    flipped = findings(_rows(dpo_cor=0.05), _amplification(low_acc=0.01))
    assert "**does not hold**" in flipped[3] and "**does not hold**" in flipped[5]
    assert "**holds**" in flipped[4]  # the high-layer row did not change


def test_render_writes_both_tables_in_row_order(tmp_path: Path):
    text = render(_rows(), _amplification(), "amplification/lambda_sweep.png")
    table2 = [line for line in text.splitlines() if line.startswith("| +") or line.startswith("| base")]
    assert [line.split(" | ")[0] for line in table2[:4]] == ["| base", "| +prompt", "| +SFT", "| +DPO"]
    assert "| ⊕ 3-4 (high), λ 0.9 | 50.0 [48.0, 52.0]<br>+0.0 [-3.0, +3.0], p 1.000" in text
    assert text.count("λ 0.9 |") == 3  # the lambda 1.5 sweep point is not a Table 3 row
    assert "![lambda sweep](amplification/lambda_sweep.png)" in text


def test_cli_reads_row_files_and_refuses_a_missing_row(tmp_path: Path, capsys):
    rows = tmp_path / "rows"
    rows.mkdir()
    for name, row in _rows().items():
        (rows / f"{name.strip('+').lower()}.json").write_text(json.dumps(row))
    amp = tmp_path / "amp.json"
    amp.write_text(json.dumps(_amplification()))
    out = tmp_path / "results.md"
    assert main(["--rows", str(rows), "--amplification", str(amp), "--out", str(out)]) == 0
    assert out.read_text().startswith("# Mitigation baselines")
    (rows / "dpo.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"rows: no Table 2 row for \+DPO"):
        load_rows([rows])
    listed = tmp_path / "dpo-and-sft.json"  # a method's results.json may hold several rows
    listed.write_text(json.dumps([_rows()["+DPO"], _rows()["+SFT"]]))
    assert sorted(load_rows([rows, listed])) == ["+DPO", "+SFT", "+prompt", "base"]
