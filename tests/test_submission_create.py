"""`mmsy submission create`: a real `mmsy eval` run (tiny LLaVA on a tiny build) into a submission
that `mmsy submission validate` accepts; a merged sharded run the same; bad runs write nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mmsy_dataset.cli import main
from mmsy_dataset.construction import Sizes
from mmsy_dataset.submission import load_submission, validate_submission_file
from mmsy_dataset.tasks import Task
from tests.engine.helpers import save_tiny, tiny_adapter
from tests.helpers import build_small

SIZES = Sizes(questions_per_task=2, probing_train=0, probing_test=0, sft=0, dpo=0)
TASKS = (Task.COLOR, Task.OBJECT_PRESENCE)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A dataset, a model, a whole run, a sharded run merged, and another build of the dataset."""
    root = tmp_path_factory.mktemp("submission-create")
    paths = {name: root / name for name in ("ds", "other_ds", "model", "whole", "split", "merged")}
    build_small(paths["ds"], tasks=TASKS, sizes=SIZES)
    build_small(paths["other_ds"], tasks=TASKS, sizes=SIZES, seed=1)
    save_tiny(paths["model"])
    common = ["eval", "--model", str(paths["model"]), "--dataset", str(paths["ds"]), "--no-progress"]
    common += ["--n-bootstrap", "0"]
    assert main([*common, "--out", str(paths["whole"])]) == 0
    for i in range(2):
        assert main([*common, "--out", str(paths["split"]), "--shard", f"{i}/2"]) == 0
    assert main(["merge", str(paths["split"]), "--out", str(paths["merged"])]) == 0
    return paths


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # an error line is one line, not wrapped at 80


@pytest.mark.slow
def test_submission_from_a_run_is_filled_from_run_json_and_validates(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sub.json"
    argv = ["submission", "create", str(runs["whole"]), "--name", "tiny-llava", "--out", str(out)]
    assert main([*argv, "--mitigation", "dpo", "--details", "beta 0.1"]) == 0
    assert "valid submission of 40 predictions, checked against the dataset at" in capsys.readouterr().out
    run = json.loads((runs["whole"] / "run.json").read_text())
    data = json.loads(out.read_text())
    assert data["model"] == {
        "name": "tiny-llava",
        "weights_sha256": run["model"]["weights"]["combined"],
        "parameters": sum(p.numel() for p in tiny_adapter().model.parameters()),
    }
    assert data["dataset"] == {"version": run["dataset"]["version"], "checksum": run["dataset"]["checksum"]}
    manifest = json.loads((runs["ds"] / "mmsy_manifest.json").read_text())
    assert data["dataset"]["checksum"] == manifest["checksum"]
    assert data["mode"] == run["mode"]["used"] == "letter"
    assert (data["mitigation"], data["mitigation_details"]) == ("dpo", "beta 0.1")
    lines = (runs["whole"] / "predictions.jsonl").read_text().splitlines()
    assert data["predictions"] == [json.loads(line) for line in lines]
    assert validate_submission_file(out, runs["ds"]) == []
    assert main(["submission", "validate", str(out), "--dataset", str(runs["ds"])]) == 0


@pytest.mark.slow
def test_merged_sharded_run_works_the_same(runs: dict[str, Path], tmp_path: Path) -> None:
    whole, merged = tmp_path / "whole.json", tmp_path / "merged.json"
    for run, out in ((runs["whole"], whole), (runs["merged"], merged)):
        assert main(["submission", "create", str(run), "--name", "tiny", "--out", str(out)]) == 0
    a, b = json.loads(whole.read_text()), json.loads(merged.read_text())
    assert {k: v for k, v in a.items() if k != "predictions"} == {k: v for k, v in b.items() if k != "predictions"}
    assert sorted(p["record_id"] for p in a["predictions"]) == sorted(p["record_id"] for p in b["predictions"])
    assert len(load_submission(merged).predictions) == 40


@pytest.mark.slow
@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("no_predictions", "predictions.jsonl: missing: the run has written no predictions"),
        ("torn_line", "predictions.jsonl: line 40 is cut off (the run was interrupted while writing)"),
        ("fewer_lines", "predictions.jsonl: 30 predictions for the 40 records the run was given"),
        ("unfinished", "run.json: the run has not finished"),
        ("no_run_json", "run.json: missing"),
        ("a_shard", "this is one shard of a split run; join the shards with `mmsy merge` first"),
    ],
)
def test_bad_run_folder_gets_one_line_and_writes_nothing(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str, message: str
) -> None:
    run = tmp_path / "run"
    if damage == "a_shard":
        shutil.copytree(runs["split"] / "shard-0-of-2", run)
    else:
        shutil.copytree(runs["whole"], run)
    predictions = run / "predictions.jsonl"
    if damage == "no_predictions":
        predictions.unlink()
    elif damage == "torn_line":
        predictions.write_bytes(predictions.read_bytes()[:-25])
    elif damage == "fewer_lines":
        predictions.write_text("".join(predictions.read_text().splitlines(keepends=True)[:30]))
    elif damage == "unfinished":
        info = json.loads((run / "run.json").read_text())
        (run / "run.json").write_text(json.dumps({**info, "finished": None}))
    elif damage == "no_run_json":
        (run / "run.json").unlink()
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    out = tmp_path / "sub.json"
    assert main(["submission", "create", str(run), "--name", "x", "--out", str(out)]) == 2
    assert message in one_error_line(capsys)
    assert not out.exists() and not list(tmp_path.glob(".sub.json.tmp*"))
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before  # the run is left as it was


@pytest.mark.slow
def test_other_dataset_build_or_existing_out_writes_nothing(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sub.json"
    argv = ["submission", "create", str(runs["whole"]), "--name", "x", "--out", str(out)]
    assert main([*argv, "--dataset", str(runs["other_ds"])]) == 2
    err = capsys.readouterr().err
    assert "dataset.checksum: does not match the dataset's mmsy_manifest.json checksum" in err
    assert not out.exists()
    out.write_text("keep me")
    assert main(argv) == 2
    assert "sub.json: exists; choose another --out or pass --overwrite" in one_error_line(capsys)
    assert out.read_text() == "keep me"
