"""`--shard i/n` and `mmsy merge`: a split run merges into the unsharded run's predictions."""

import io
import json

import pytest
from rich.console import Console

from mmsy_dataset.cli import main
from mmsy_dataset.engine.config import EvalConfig
from mmsy_dataset.engine.merge import MergeError, merge_runs
from mmsy_dataset.engine.run import run_eval
from mmsy_dataset.engine.shard import Shard, select, shard_of
from tests.engine.helpers import make_records, save_tiny, tiny_adapter, write_dataset

DATASET = {"version": "1.0.0", "checksum": "abc", "records": {"all": 48}}
QUIET = Console(file=io.StringIO())


def _run(out, records, shard=None, dataset=DATASET, **kw):
    config = EvalConfig(model="tiny", dataset="d", out=out, n_bootstrap=50, progress=False,
                        shard=Shard.parse(shard) if shard else None, **kw)
    return run_eval(config, adapter=tiny_adapter(), records=records, dataset_info=dict(dataset), console=QUIET)


def _lines(path):
    return path.read_text(encoding="utf-8").splitlines()


def test_partition_is_deterministic_and_keeps_questions_together():
    records = make_records()
    parts = [select(records, Shard.parse(f"{i}/3"))[0] for i in range(3)]
    assert sorted(r.id for p in parts for r in p) == sorted(r.id for r in records)
    for part in parts:
        for record in part:
            assert shard_of(record.question_id, 3) == parts.index(part)
    # Pinned: the same question lands in the same shard on any machine and Python process
    # (sha256, not the salted built-in hash), so shards run on different machines merge.
    assert [shard_of(q, 7) for q in ("q1", "q2", "abc")] == [4, 4, 2]
    with pytest.raises(ValueError, match="0 <= i < n"):
        Shard.parse("2/2")
    with pytest.raises(ValueError, match="expected 'i/n'"):
        Shard.parse("1-of-2")
    assert Shard.parse("auto", {"RANK": "2", "WORLD_SIZE": "4"}) == Shard(index=2, count=4)
    assert Shard.parse("auto", {"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "3"}).count == 3
    with pytest.raises(ValueError, match="'auto' needs RANK"):
        Shard.parse("auto", {})


@pytest.mark.slow
def test_sharded_run_merged_equals_unsharded(tmp_path):
    records = make_records(rounds=2)
    assert all(select(records, Shard.parse(f"{i}/2"))[0] for i in range(2)), "both shards need questions"
    # One question per forward: the same float operations whatever the split (a different batch
    # composition changes the last bits of fp32 matmuls, which is not what this test is about).
    exact = {"batch_size": 1, "chunk_questions": 1}
    _run(tmp_path / "whole", records, **exact)
    for i in range(2):
        result = _run(tmp_path / "split", records, shard=f"{i}/2", **exact)
        assert result.folder.out == tmp_path / "split" / f"shard-{i}-of-2"
    # Resuming a finished shard skips everything.
    again = _run(tmp_path / "split", records, shard="1/2", **exact)
    assert again.info["stats"]["dialogues"] == 0 and again.info["stats"]["skipped_finished"] > 0

    merged = merge_runs([tmp_path / "split"], tmp_path / "merged", console=QUIET)
    order = {r.id: i for i, r in enumerate(records)}
    whole = sorted(_lines(tmp_path / "whole" / "predictions.jsonl"), key=lambda x: order[json.loads(x)["record_id"]])
    assert _lines(merged / "predictions.jsonl") == whole  # byte-identical, in dataset order
    for path in (tmp_path / "whole" / "transcripts").glob("*.jsonl"):
        rows = sorted(_lines(path), key=lambda x: order[json.loads(x)["record_id"]])
        assert _lines(merged / "transcripts" / path.name) == rows
    metrics = (merged / "metrics.json", tmp_path / "whole" / "metrics.json")
    assert json.loads(metrics[0].read_text()) == json.loads(metrics[1].read_text())
    run = json.loads((merged / "run.json").read_text())
    assert run["settings"]["shard"] is None and [s["shard"] for s in run["merged_from"]] == [0, 1]
    assert len(whole) == len(records) and (merged / "plots" / "headline.png").exists()


@pytest.mark.slow
def test_merge_refuses_mismatched_incomplete_or_missing_shards(tmp_path):
    records = make_records(n_questions=3, rounds=1)
    _run(tmp_path / "a", records, shard="0/2")
    _run(tmp_path / "a", records, shard="1/2")
    _run(tmp_path / "b", records, shard="1/2", prompt_baseline=True)
    _run(tmp_path / "c", records, shard="1/2", dataset={**DATASET, "version": "1.0.1"})
    _run(tmp_path / "d", records, shard="1/3")
    shard0, shard1 = tmp_path / "a" / "shard-0-of-2", tmp_path / "a" / "shard-1-of-2"
    cases = [
        ([shard0, tmp_path / "b" / "shard-1-of-2"], r"setting prompt_baseline: False in .* but True in"),
        ([shard0, tmp_path / "c" / "shard-1-of-2"], r"dataset version: '1.0.0' in .* but '1.0.1' in"),
        ([shard0, tmp_path / "d" / "shard-1-of-3"], r"shard count: 2 in .* but 3 in"),
        ([shard0], r"shard\(s\) \[1\] of 2 missing"),
        ([shard0, shard1, shard1], r"shard 1 given 2 times"),
        ([tmp_path / "nothing"], r"run.json: missing"),
    ]
    for dirs, message in cases:
        with pytest.raises(MergeError, match=message):
            merge_runs(dirs, tmp_path / "out", console=QUIET)
    lines = _lines(shard1 / "predictions.jsonl")
    (shard1 / "predictions.jsonl").write_text("\n".join(lines[:-2]) + "\n")
    with pytest.raises(MergeError, match=r"shard 1 is unfinished \(2 of"):
        merge_runs([shard0, shard1], tmp_path / "out", console=QUIET)
    assert not (tmp_path / "out" / "predictions.jsonl").exists()


@pytest.mark.slow
def test_cli_shard_and_merge(tmp_path, capsys):
    model, data, out = tmp_path / "model", tmp_path / "data", tmp_path / "out"
    save_tiny(model)
    write_dataset(data, make_records(n_questions=4, rounds=1))
    common = ["eval", "--model", str(model), "--dataset", str(data), "--out", str(out), "--configs", "sycophancy",
              "multi_round", "--no-progress", "--n-bootstrap", "10"]
    assert main([*common, "--shard", "0/2"]) == 0 and main([*common, "--shard", "1/2"]) == 0
    assert main(["merge", str(out), "--out", str(out)]) == 0
    assert len(_lines(out / "predictions.jsonl")) == 24
    run = json.loads((out / "run.json").read_text())
    assert run["dataset"]["records"] == {"sycophancy": 12, "multi_round": 12}
    capsys.readouterr()
    assert main(["merge", str(out), "--out", str(out)]) == 2
    assert "already holds a run" in capsys.readouterr().err


def test_a_shard_whose_model_fails_to_load_leaves_no_folder(tmp_path):
    records = make_records()
    dataset = tmp_path / "data"
    write_dataset(dataset, records)
    out = tmp_path / "shard0"
    code = main(["eval", "--model", str(tmp_path / "no-such-model"), "--dataset", str(dataset), "--out", str(out),
                 "--shard", "0/2", "--no-progress"])
    assert code == 2
    assert not out.exists()
