"""Submission validation against a dataset build: every problem listed, each naming record and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmsy_dataset.cli import parser
from mmsy_dataset.scoring.dataset_index import load_dataset_index
from mmsy_dataset.submission import SubmissionError, load_submission, validate_submission_file
from tests.scoring.helpers import dataset_predictions, submission_dict, write_dataset


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return write_dataset(tmp_path / "ds")


def _write(tmp_path: Path, data: object, name: str = "sub.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_index_reads_ids_and_facts_without_images(dataset: Path) -> None:
    index = load_dataset_index(dataset)
    assert index.version == "1.0.0" and len(index.records) == 15
    facts = index.records["mr-q3"]
    assert (facts.n_options, facts.answer_letter, facts.push_letter, facts.n_pushes) == (2, "B", "A", 3)
    assert index.records["cwo-q1"].push_letter is None


def test_valid_submission_passes(tmp_path: Path, dataset: Path) -> None:
    preds = dataset_predictions(right={"q1", "q3"}, gives_in={"q1"})
    path = _write(tmp_path, submission_dict(preds))
    assert validate_submission_file(path, dataset) == []
    assert len(load_submission(path, load_dataset_index(dataset)).predictions) == 15


def test_every_problem_is_listed_with_record_and_field(tmp_path: Path, dataset: Path) -> None:
    data = submission_dict(dataset_predictions(right={"q1"}, gives_in=set()))
    data["model"].pop("revision")  # neither revision nor checksum
    data["dataset"]["version"] = "0.9.0"
    preds = data["predictions"]
    preds[0]["rounds"][0]["choice"] = "E"  # letter out of range
    preds[1]["answer_letter"] = "C"  # disagrees with the dataset
    preds.append(dict(preds[2]))  # duplicate
    preds.append({**preds[3], "record_id": "syc-q99-strong"})  # unknown id
    missing = preds.pop(5)["record_id"]
    mr = next(p for p in preds if p["record_id"] == "mr-q1")
    mr["rounds"] = mr["rounds"][:2]  # multi-round stopped early
    preds.append({"record_id": "broken"})  # missing fields
    problems = {(p.record, p.field) for p in validate_submission_file(_write(tmp_path, data), dataset)}
    expected = {
        (None, "model"),
        (None, "dataset.version"),
        (preds[0]["record_id"], "rounds[0].choice"),
        (preds[1]["record_id"], "answer_letter"),
        (preds[2]["record_id"], "record_id"),
        ("syc-q99-strong", "record_id"),
        (missing, "record_id"),
        ("mr-q1", "rounds"),
        ("broken", "config"),
        ("broken", "rounds"),
    }
    assert expected <= problems, expected - problems


def test_problem_messages_say_what_is_wrong(tmp_path: Path, dataset: Path) -> None:
    data = submission_dict(dataset_predictions(right={"q1"}, gives_in=set()))
    data["predictions"][0]["rounds"][0]["choice"] = "E"
    with pytest.raises(SubmissionError) as info:
        load_submission(_write(tmp_path, data), load_dataset_index(dataset))
    text = str(info.value)
    assert "record syc-q1-suggestive" in text and "rounds[0].choice: 'E'" in text


def test_round1_must_agree_across_records_of_a_question(tmp_path: Path, dataset: Path) -> None:
    data = submission_dict(dataset_predictions(right={"q2"}, gives_in=set()))
    cwo = next(p for p in data["predictions"] if p["record_id"] == "cwo-q2")
    cwo["rounds"] = [{"round": 1, "choice": "A"}, {"round": 2, "choice": "C"}]
    problems = validate_submission_file(_write(tmp_path, data), dataset)
    assert [(p.record, p.field) for p in problems] == [("cwo-q2", "rounds.0.choice")]


def test_size_limit_and_broken_json(tmp_path: Path, dataset: Path) -> None:
    path = _write(tmp_path, submission_dict(dataset_predictions(right=set(), gives_in=set())))
    [problem] = validate_submission_file(path, dataset, max_bytes=100)
    assert problem.field == "(file)" and "limit" in problem.message
    path.write_text(path.read_text()[:-40])
    [problem] = validate_submission_file(path, dataset)
    assert "invalid JSON at line 1" in problem.message


def test_cli_validate_exit_status(tmp_path: Path, dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = parser()
    good = _write(tmp_path, submission_dict(dataset_predictions(right={"q1"}, gives_in=set())), "good.json")
    args = root.parse_args(["submission", "validate", str(good), "--dataset", str(dataset)])
    assert args.handler(args) == 0
    bad_data = submission_dict(dataset_predictions(right={"q1"}, gives_in=set()))
    bad_data["predictions"] = bad_data["predictions"][:-2]
    bad = _write(tmp_path, bad_data, "bad.json")
    args = root.parse_args(["submission", "validate", str(bad), "--dataset", str(dataset)])
    assert args.handler(args) == 1
    out = capsys.readouterr().out
    assert "record mr-q2: record_id: missing" in out and "record mr-q3: record_id: missing" in out
