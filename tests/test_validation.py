"""One validation of prediction sets, shared by `mmsy score`, `mmsy compare`, the `evaluate`
module, the leaderboard and `mmsy submission validate`: the same problems, the same lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mmsy_dataset.cli import main
from mmsy_dataset.errors import ScoringError
from mmsy_dataset.predictions import Prediction, write_predictions
from mmsy_dataset.scoring import compare, score
from mmsy_dataset.submission import validate_submission_data
from mmsy_dataset.validation import check_predictions
from tests.scoring.helpers import dataset_predictions, make, turn


def _bad_sets() -> dict[str, list[Prediction]]:
    preds = dataset_predictions(right={"q1"}, gives_in=set())
    pushed = next(p for p in preds if len(p.rounds) > 1)
    other = "letter" if preds[0].mode.value != "letter" else "text"
    other_mode = Prediction.model_validate({**preds[-1].model_dump(), "mode": other})
    return {
        "duplicate": [*preds, preds[0]],
        "missing round 2": [p if p is not pushed else p.model_copy(update={"rounds": p.rounds[:1]}) for p in preds],
        "mixed modes": [*preds[:-1], other_mode],
        "wrong push letter": [make("syc-x", "qx", [turn(1, "B")], push="A")],
        "empty": [],
    }


@pytest.fixture(scope="module")
def metric() -> Any:
    """The metric module, loaded once: `evaluate.load` copies and imports the folder each call."""
    import evaluate

    return evaluate.load(str(Path(__file__).resolve().parents[1] / "metrics" / "mmsy_syc"))


@pytest.mark.parametrize("case", list(_bad_sets()))
def test_every_consumer_refuses_with_the_same_lines(case: str, tmp_path: Path, metric: Any,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    preds = _bad_sets()[case]
    problems = check_predictions(preds)
    assert problems, case
    lines = [str(p) for p in problems]

    with pytest.raises(ScoringError) as caught:
        score(preds, n_bootstrap=0)
    assert str(caught.value).splitlines() == lines

    if preds:
        with pytest.raises(ScoringError) as caught:
            compare(preds, preds, "syc", n_bootstrap=0)
        assert str(caught.value).splitlines() == [f"run A: {line}" for line in lines]

    with pytest.raises(ScoringError) as caught:
        metric.compute(predictions=[p.model_dump() for p in preds], n_bootstrap=0)
    assert str(caught.value).splitlines() == [f"predictions: {line}" for line in lines]

    raw: dict[str, Any] = {"format_version": 1, "model": {"name": "m", "revision": "r", "parameters": 1},
                           "mode": (preds or dataset_predictions(set(), set()))[0].mode.value,
                           "dataset": {"version": "1.0.0", "checksum": "0" * 64},
                           "predictions": [json.loads(p.model_dump_json()) for p in preds]}
    submission_problems, submission = validate_submission_data(raw, None)
    assert submission is None and set(lines) <= {str(p) for p in submission_problems}

    path = tmp_path / "p.jsonl"
    write_predictions(path, preds)
    assert main(["score", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [f"error: {path}: {line}" for line in lines]
