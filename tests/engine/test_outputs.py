import json

import pytest

from mmsy_dataset.engine.config import EvalConfig
from mmsy_dataset.engine.outputs import RunFolder, RunFolderError, repair_jsonl
from mmsy_dataset.engine.run import run_eval
from tests.engine.helpers import make_records, tiny_adapter


def test_repair_cuts_a_torn_last_line(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"a": ')
    assert repair_jsonl(path) == len('{"a": ')
    assert path.read_text() == '{"a": 1}\n{"a": 2}\n'
    path.write_text('{"a": 1}\n{"a"\n')  # newline-terminated but not JSON
    repair_jsonl(path)
    assert path.read_text() == '{"a": 1}\n'
    assert repair_jsonl(path) == 0


def _config(out, **kw):
    return EvalConfig(model="tiny", dataset="mem", out=out, n_bootstrap=50, progress=False, **kw)


@pytest.mark.slow
def test_full_output_folder(tmp_path):
    records = make_records(n_questions=2)
    result = run_eval(_config(tmp_path), adapter=tiny_adapter(), records=records)
    rows = [json.loads(x) for x in (tmp_path / "predictions.jsonl").read_text().splitlines()]
    assert sorted(r["record_id"] for r in rows) == sorted(r.id for r in records)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert "syc" in metrics["metrics"] and metrics["metrics"]["acc_r1"]["overall"]["n"] == 2
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["settings"]["mode"] == "letter" and run["versions"]["torch"] and run["finished"]
    assert run["model"]["adapter"] == "llava"
    lines = (tmp_path / "transcripts" / "multi_round.jsonl").read_text().splitlines()
    transcript = json.loads(lines[0])
    assert transcript["rounds"][0]["prompt"].startswith("USER: <image>\n")
    assert transcript["messages"][0]["image"] is True
    # The multi_round records here have three pushes: no flips plot (it needs five).
    assert {p.name for p in (tmp_path / "plots").iterdir()} == {
        "syc_task_tone.png", "headline.png", "multi_round.png", "syc_by_confidence.png", "calibration.png"
    }
    assert result.report.n_predictions == len(records)


@pytest.mark.slow
def test_different_settings_are_refused(tmp_path):
    records = make_records(n_questions=1)
    run_eval(_config(tmp_path), adapter=tiny_adapter(), records=records)
    with pytest.raises(RunFolderError, match=r"different settings \(mode: 'letter' -> 'option'\)"):
        run_eval(_config(tmp_path, mode="option"), adapter=tiny_adapter(), records=records)
    # batch size is performance-only; --overwrite starts afresh
    run_eval(_config(tmp_path, batch_size=2), adapter=tiny_adapter(), records=records)
    run_eval(_config(tmp_path, mode="option", overwrite=True), adapter=tiny_adapter(), records=records)
    assert RunFolder(tmp_path).predictions()[0].mode.value == "option"
