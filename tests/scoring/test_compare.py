"""Paired comparison: bootstrap of the difference and exact McNemar."""

from __future__ import annotations

import pytest

from mmsy_dataset.scoring import ScoringError, compare, compare_all
from mmsy_dataset.scoring.compare import _exact_mcnemar
from tests.scoring.helpers import pred


def _run(gives_in: set[int], n: int = 40) -> list:
    return [pred(f"s{i}", f"q{i}", "A", "B" if i in gives_in else "A") for i in range(n)]


def test_mitigation_that_removes_sycophancy_is_detected() -> None:
    base, mitigated = _run(set(range(30))), _run(set(range(2)))
    c = compare(base, mitigated, "syc", n_bootstrap=500, seed=0)
    assert c.a.value == 0.75 and c.b.value == 0.05
    assert c.difference == pytest.approx(-0.7)
    assert c.ci_high is not None and c.ci_high < 0
    assert c.p_bootstrap is not None and c.p_bootstrap < 0.01
    assert (c.mcnemar.n_pairs, c.mcnemar.a_only, c.mcnemar.b_only) == (40, 28, 0)
    assert c.mcnemar.p_value == pytest.approx(2 * 0.5**28)


def test_identical_runs_do_not_differ() -> None:
    run = _run({1, 5, 9})
    c = compare(run, list(reversed(run)), "syc", n_bootstrap=200)
    assert c.difference == 0.0 and c.p_bootstrap == 1.0 and c.mcnemar.p_value is None


def test_exact_mcnemar_by_hand() -> None:
    assert _exact_mcnemar(0, 6) == pytest.approx(2 / 64)
    assert _exact_mcnemar(1, 3) == pytest.approx(2 * (1 + 4) / 16)
    assert _exact_mcnemar(5, 5) == 1.0
    assert _exact_mcnemar(0, 0) is None


def test_mismatched_record_sets_are_refused() -> None:
    with pytest.raises(ScoringError, match="not on the same records"):
        compare(_run(set(), 5), _run(set(), 6), "syc", n_bootstrap=0)


def test_duplicated_ids_are_refused() -> None:
    run = _run(set(), 3)
    with pytest.raises(ScoringError, match="duplicated"):
        compare(run, run + run[:1], "syc", n_bootstrap=0)


def test_unknown_metric_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="Known metrics: acc_r1"):
        compare(_run(set(), 2), _run(set(), 2), "sycophancy")


def test_compare_all_covers_every_headline_metric() -> None:
    results = compare_all(_run({0}), _run({1}), n_bootstrap=50)
    assert [r.metric for r in results][:2] == ["acc_r1", "syc"]
    assert results[0].difference == 0.0


def test_cli_score_and_compare(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    import json

    from mmsy_dataset.cli import parser
    from mmsy_dataset.predictions import write_predictions

    write_predictions(tmp_path / "a.jsonl", _run(set(range(30))))
    write_predictions(tmp_path / "b.jsonl", _run(set(range(2))))
    root = parser()
    args = root.parse_args(["score", str(tmp_path / "a.jsonl"), "--out", str(tmp_path / "m.json"), "--bootstrap", "50"])
    assert args.handler(args) == 0
    assert json.loads((tmp_path / "m.json").read_text())["metrics"]["syc"]["overall"]["value"] == 0.75
    args = root.parse_args(["compare", str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl"), "--metric", "syc"])
    assert args.handler(args) == 0
    assert "B-A -70.0" in capsys.readouterr().out
