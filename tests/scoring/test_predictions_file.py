"""Malformed predictions: errors name the file, the line, the record and the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from mmsy_dataset.predictions import PredictionsFileError, read_predictions, write_predictions
from tests.scoring.helpers import make, pred, turn


def test_round_trip(tmp_path: Path) -> None:
    preds = [pred("a", "q1", "A", "B"), make("b", "q2", [turn(1, "A", [1.0, 0.0, 0.0, 0.0])])]
    path = tmp_path / "p.jsonl"
    write_predictions(path, preds)
    assert read_predictions(path) == preds


def test_truncated_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    good = pred("a", "q1", "A", "B").model_dump_json()
    path.write_text(good + "\n" + good[: len(good) // 2] + "\n")
    with pytest.raises(PredictionsFileError, match=r"p\.jsonl:2: \(line\): invalid JSON.*truncated"):
        read_predictions(path)


def test_bad_letter_names_line_record_and_field(tmp_path: Path) -> None:
    raw = json.loads(pred("rec-7", "q1", "A", "B").model_dump_json())
    raw["rounds"][1]["choice"] = "E"
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(raw) + "\n")
    with pytest.raises(PredictionsFileError, match=r"p\.jsonl:1: record rec-7: .*rounds\[1\]\.choice: 'E'"):
        read_predictions(path)


def test_wrong_number_of_scores_names_the_field() -> None:
    with pytest.raises(ValidationError, match=r"rounds\[0\]\.scores: expected 4 values, got 3"):
        make("x", "q", [turn(1, "A", [1.0, 0.0, 0.0])])


def test_letter_beyond_a_yes_no_question() -> None:
    with pytest.raises(ValidationError, match=r"rounds\[0\]\.choice: 'C'"):
        pred("x", "q", "C", n_options=2)


def test_nan_score_is_refused() -> None:
    with pytest.raises(ValidationError, match="NaN"):
        make("x", "q", [turn(1, "A", [float("nan"), 0.0, 0.0, 0.0])])


def test_unknown_field_names_it(tmp_path: Path) -> None:
    raw = json.loads(pred("r", "q1", "C").model_dump_json())
    raw["confidence"] = 0.3
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(raw) + "\n")
    with pytest.raises(PredictionsFileError, match="confidence: Extra inputs are not permitted"):
        read_predictions(path)
