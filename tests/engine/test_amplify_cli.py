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


@pytest.mark.slow
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


@pytest.mark.slow
def test_baseline_script_writes_table_plot_and_paired_tests(folders, tmp_path, monkeypatch):
    import importlib.util
    import sys
    from pathlib import Path

    script = Path(__file__).parents[2] / "baselines" / "amplification" / "run.py"
    spec = importlib.util.spec_from_file_location("amplification_recipe", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # pydantic resolves the script's annotations there
    spec.loader.exec_module(module)
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({
        "model": str(folders / "model"), "adapter": "llava", "mode": "option", "device": "cpu", "dtype": "float32",
        "table_lambda": 0.9, "ranges": {"low": [1, 1], "high": [2, 2]}, "lambdas": [0.9, 2.0],
    }))
    results = tmp_path / "results"
    code = module.main(["--config", str(config), "--dataset", str(folders / "data"), "--out", str(tmp_path / "runs"),
                        "--results", str(results), "--no-progress"])
    assert code == 0
    data = json.loads((results / "results.json").read_text())
    assert [(r["range"], r["lam"]) for r in data["runs"]] == [("low", 0.9), ("high", 0.9), ("low", 2.0), ("high", 2.0)]
    assert set(data["runs"][0]["vs_base"]) == {"acc_r1", "syc", "cor_with_answer", "cor_without_answer"}
    table = (results / "results.md").read_text()
    assert "| base |" in table and "⊕ 1-1 (low)" in table and "⊕ 2-2 (high)" in table and "2-2:2" not in table
    assert (results / "lambda_sweep.png").read_bytes()[:4] == b"\x89PNG"
    # A rerun resumes every finished run instead of recomputing it.
    assert module.main(["--config", str(config), "--dataset", str(folders / "data"), "--out",
                        str(tmp_path / "runs"), "--results", str(results), "--no-progress"]) == 0
    again = json.loads((results / "results.json").read_text())
    assert again["runs"] == data["runs"]
