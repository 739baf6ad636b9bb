import argparse
import json

import pytest

from mmsy_dataset.cli import main
from mmsy_dataset.cli.eval import add_commands, config_from_args
from tests.engine.helpers import make_records, save_tiny, write_dataset


def test_flags_map_to_config(tmp_path):
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["eval", "--model", "m", "--dataset", "d", "--out", str(tmp_path), "--mode", "option",
                              "--configs", "sycophancy", "multi_round", "--limit", "5", "--prompt-baseline",
                              "--trust-remote-code", "--dtype", "bfloat16", "--batch-size", "4"])
    config = config_from_args(args)
    assert config.mode.value == "option" and config.configs == ["sycophancy", "multi_round"]
    assert config.limit == 5 and config.prompt_baseline and config.trust_remote_code and config.batch_size == 4
    assert config.chat_format == "auto" and config.threads is None
    args = parser.parse_args(["eval", "--model", "m", "--dataset", "d", "--out", "o", "--chat-format", "family",
                              "--threads", "3"])
    config = config_from_args(args)
    assert config.chat_format == "family" and config.threads == 3
    assert "threads" not in config.settings() and config.settings()["chat_format"] == "family"
    with pytest.raises(SystemExit):
        parser.parse_args(["eval", "--model", "m", "--dataset", "d", "--out", "o", "--configs", "sft"])


@pytest.mark.slow
def test_eval_from_folders_with_detection_and_limit(tmp_path):
    model, data, out = tmp_path / "model", tmp_path / "data", tmp_path / "out"
    save_tiny(model)
    write_dataset(data, make_records(n_questions=2))
    code = main(["eval", "--model", str(model), "--dataset", str(data), "--out", str(out), "--limit", "2",
                 "--configs", "sycophancy", "correction_with_answer", "--mode", "option", "--no-progress",
                 "--n-bootstrap", "10"])
    assert code == 0
    rows = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and {r["mode"] for r in rows} == {"option"}
    run = json.loads((out / "run.json").read_text())
    assert run["dataset"]["records"] == {"sycophancy": 2, "correction_with_answer": 2}
    assert run["model"]["weights"]["files"] and run["settings"]["trust_remote_code"] is False


def test_shard_and_api_flags_map_to_config(tmp_path):
    from mmsy_dataset.errors import MmsyError

    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["eval", "--dataset", "d", "--out", str(tmp_path), "--shard", "1/4",
                              "--api-base", "http://127.0.0.1:9/v1", "--api-model", "m", "--api-key-env", "K",
                              "--max-concurrency", "3", "--timeout", "7", "--retries", "2"])
    config = config_from_args(args)
    assert config.shard.index == 1 and config.run_dir == tmp_path / "shard-1-of-4"
    assert config.model == "m" and config.api.key_env == "K" and config.api.max_concurrency == 3
    assert "key_env" not in config.settings()["api"] and "timeout" not in config.settings()["api"]
    with pytest.raises(MmsyError, match="--model is required"):
        config_from_args(parser.parse_args(["eval", "--dataset", "d", "--out", "o"]))
    with pytest.raises(ValueError, match="expected 'i/n'"):
        config_from_args(parser.parse_args(["eval", "--model", "m", "--dataset", "d", "--out", "o", "--shard", "4"]))
