"""SFT and DPO through TRL on a tiny LLaVA: weights move, the saved folder evaluates like the base
model, LoRA is merged, and bad input stops the run before anything is written."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr
from pathlib import Path

import pytest

from mmsy_dataset.errors import InputError
from mmsy_dataset.mitigation.config import load_settings
from mmsy_dataset.mitigation.train import RECORD, run_training


def _weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def _settings(method: str, model: Path, **extra: object):
    base = {
        "model": str(model),
        "max_steps": 2,
        "per_device_train_batch_size": 4,
        "learning_rate": 1e-3,
        "logging_steps": 1,
        "save_steps": 1,
        "reply": "answer",
    }
    return load_settings(method, {**base, **extra})


def _changed(before: dict, after: dict) -> set[str]:
    import torch

    return {k for k in before if not torch.equal(before[k], after[k])}


@pytest.mark.slow
def test_sft_trains_saves_an_evaluable_model_and_resumes_only_with_equal_settings(
    train_data: Path, tiny_model: Path, tmp_path: Path
) -> None:
    from mmsy_dataset.engine.config import EvalConfig
    from mmsy_dataset.engine.run import run_eval

    out = tmp_path / "sft"
    settings = _settings("sft", tiny_model)
    result = run_training(settings, train_data, out, progress=False)
    assert result.steps == 2 and result.rows == 10 and not result.resumed
    changed = _changed(_weights(tiny_model), _weights(out))
    assert any("language_model" in k for k in changed)
    assert not any("vision_tower" in k for k in changed)  # frozen by default, as LLaVA-1.5
    config = json.loads((out / "config.json").read_text())
    assert config["mmsy_image_placement"] == "after"  # evaluates in the reference model's format
    assert (out / "chat_template.jinja").read_text() == (tiny_model / "chat_template.jinja").read_text()
    assert not (out / "checkpoints").exists()
    record = json.loads((out / RECORD).read_text())
    assert record["status"] == "done" and record["result"]["steps"] == 2

    run = run_eval(
        EvalConfig(
            model=str(out),
            dataset=str(train_data),
            out=tmp_path / "eval",
            mode="option",
            limit=3,
            device="cpu",
            progress=False,
            n_bootstrap=10,
        ),
    )
    assert json.loads((run.folder.out / "run.json").read_text())["settings"]["model"] == str(out)
    from mmsy_dataset.mitigation.results import COLUMNS, table_row

    row = table_row("+SFT", run.folder.out)
    assert row["model"] == str(out) and set(row["metrics"]) == set(COLUMNS)
    assert all(set(figure) == {"value", "ci_low", "ci_high", "n"} for figure in row["metrics"].values())

    # A rerun with equal settings finds the finished run; other settings are refused untouched.
    assert run_training(settings, train_data, out, progress=False).skipped
    before = {p: p.stat().st_mtime_ns for p in out.iterdir()}
    with pytest.raises(InputError, match=r"other settings is here \(settings.learning_rate 0.001 -> 0.002\)"):
        run_training(_settings("sft", tiny_model, learning_rate=2e-3), train_data, out, progress=False)
    assert {p: p.stat().st_mtime_ns for p in out.iterdir()} == before


@pytest.mark.slow
def test_dpo_full_and_sft_lora_train(train_data: Path, tiny_model: Path, tmp_path: Path) -> None:
    dpo = run_training(_settings("dpo", tiny_model, beta=0.1), train_data, tmp_path / "dpo", progress=False)
    assert dpo.steps == 2 and dpo.rows == 20
    assert _changed(_weights(tiny_model), _weights(tmp_path / "dpo"))
    log = [json.loads(line) for line in (tmp_path / "dpo" / "train_log.jsonl").read_text().splitlines()]
    assert any("rewards/margins" in entry for entry in log)  # DPO's loss, not SFT's

    lora = {"r": 4, "alpha": 8, "dropout": 0.0}
    run_training(_settings("sft", tiny_model, lora=lora), train_data, tmp_path / "lora", progress=False)
    merged = _weights(tmp_path / "lora")
    assert set(merged) == set(_weights(tiny_model))  # an ordinary model folder: adapter merged
    changed = _changed(_weights(tiny_model), merged)
    assert changed and all("language_model" in k and "proj" in k for k in changed)


@pytest.mark.slow
def test_a_stopped_run_resumes_from_its_checkpoint(train_data: Path, tiny_model: Path, tmp_path: Path) -> None:
    from transformers import TrainerCallback

    class StopAtTwo(TrainerCallback):
        def on_step_end(self, args: object, state: object, control: object, **kwargs: object) -> None:
            if state.global_step == 2:  # type: ignore[attr-defined]
                raise KeyboardInterrupt

    out = tmp_path / "sft"
    settings = _settings("sft", tiny_model, max_steps=3, per_device_train_batch_size=2)
    with pytest.raises(KeyboardInterrupt):
        run_training(settings, train_data, out, progress=False, callbacks=[StopAtTwo()])
    assert json.loads((out / RECORD).read_text())["status"] == "running"
    assert (out / "checkpoints" / "checkpoint-1").is_dir()  # saved every step; step 2 never completed
    with pytest.raises(InputError, match="other settings"):
        run_training(_settings("sft", tiny_model, max_steps=4, per_device_train_batch_size=2), train_data, out)
    resumed = run_training(settings, train_data, out, progress=False)
    assert resumed.resumed and resumed.steps == 3
    assert json.loads((out / RECORD).read_text())["status"] == "done"


def _cli(*argv: str) -> tuple[int, str]:
    from mmsy_dataset.cli import main

    err = io.StringIO()
    with redirect_stderr(err):
        code = main(list(argv))
    text = err.getvalue()
    assert text.count("error:") <= 1 and "Traceback" not in text  # one message (rich wraps it at 80 columns)
    return code, " ".join(text.split())


def test_bad_input_gets_one_line_and_writes_nothing(
    train_data: Path, no_training_data: Path, tiny_model: Path, tmp_path: Path
) -> None:
    config = tmp_path / "sft.json"
    config.write_text(json.dumps({"model": str(tiny_model), "max_steps": 1}))
    out = tmp_path / "out"

    code, err = _cli("train", "sft", "--config", str(config), "--dataset", str(no_training_data), "--out", str(out))
    assert code == 2 and "no 'sft' config here" in err
    code, err = _cli("train", "dpo", "--config", str(config), "--dataset", str(no_training_data), "--out", str(out))
    assert code == 2 and "no 'dpo' config here" in err

    text_model = tmp_path / "bert"
    text_model.mkdir()
    (text_model / "config.json").write_text(json.dumps({"model_type": "bert"}))
    for model in (text_model, tmp_path / "missing"):
        config.write_text(json.dumps({"model": str(model)}))
        code, err = _cli("train", "sft", "--config", str(config), "--dataset", str(train_data), "--out", str(out))
        assert code == 2 and "is not a VLM the adapters know" in err and "field 'model'" in err
    assert not out.exists()

    config.write_text(json.dumps({"model": str(tiny_model), "beta": 0.1}))
    code, err = _cli("train", "sft", "--config", str(config), "--dataset", str(train_data), "--out", str(out))
    assert code == 2 and "unknown setting(s) ['beta']" in err

    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    config.write_text(json.dumps({"model": str(tiny_model)}))
    code, err = _cli(
        "train", "sft", "--config", str(config), "--dataset", str(train_data), "--out", str(out), "--overwrite"
    )
    assert code == 2 and "holds no mmsy_train.json" in err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
