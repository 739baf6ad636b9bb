"""`mmsy eval --amplify`: recorded in run.json, compared on resume, bad input refused in one line."""

from __future__ import annotations

import json

import pytest

from mmsy_dataset.cli import main
from tests.engine.helpers import make_records, save_tiny, write_dataset


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("amplify-cli")
    save_tiny(root / "model")
    write_dataset(root / "data", make_records(n_questions=2))
    return root


def _eval(folders, out, *extra):
    return main(["eval", "--model", str(folders / "model"), "--dataset", str(folders / "data"), "--out", str(out),
                 "--configs", "sycophancy", "correction_without_answer", "--mode", "option", "--no-progress",
                 "--n-bootstrap", "10", *extra])


def test_run_json_records_the_amplification_and_resume_compares_it(folders, tmp_path, capsys):
    out = tmp_path / "run"
    assert _eval(folders, out, "--amplify", "2-2:0.9", "--amplify-queries", "all") == 0
    run = json.loads((out / "run.json").read_text())
    assert run["settings"]["amplify"] == {"first": 2, "last": 2, "lam": 0.9, "queries": "all"}
    assert run["amplification"]["spec"] == "2-2:0.9" and run["amplification"]["text_layers"] == 2
    before = (out / "predictions.jsonl").read_text()
    capsys.readouterr()
    assert _eval(folders, out, "--amplify", "2-2:1.5", "--amplify-queries", "all") == 2
    err = capsys.readouterr().err
    assert "different settings" in err and "amplify" in err
    assert (out / "predictions.jsonl").read_text() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--amplify", "2-3:0.9"], "outside the model's 2 text layers (1-2)"),
        (["--amplify", "2-1:0.9"], "reversed layer range 2-1"),
        (["--amplify", "1-2:-0.5"], "lambda must be a finite number >= 0"),
        (["--amplify", "1-2"], "expected FIRST-LAST:LAMBDA"),
        (["--amplify-queries", "all"], "--amplify-queries needs --amplify"),
    ],
)
def test_bad_input_gets_one_line_and_writes_nothing(folders, tmp_path, capsys, args, message):
    out = tmp_path / "never"
    assert _eval(folders, out, *args) == 2
    err = capsys.readouterr().err.strip()
    assert message in " ".join(err.split()) and err.startswith("error:")
    assert not out.exists()


def test_an_api_model_cannot_be_amplified(tmp_path, capsys):
    out = tmp_path / "never"
    code = main(["eval", "--api-base", "http://127.0.0.1:9/v1", "--api-model", "m", "--dataset", "d", "--out",
                 str(out), "--amplify", "1-2:0.9"])
    assert code == 2 and "has no attention to change" in capsys.readouterr().err
    assert not out.exists()
