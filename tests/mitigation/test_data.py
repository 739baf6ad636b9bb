"""Training rows: what TRL tokenizes is what the evaluation engine scores, and the targets are
the paper's y_true / y_false."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmsy_dataset.errors import InputError
from mmsy_dataset.hub.reader import read_records
from mmsy_dataset.mitigation.config import DPOSettings, SFTSettings, load_settings
from mmsy_dataset.mitigation.data import load_training_dataset
from mmsy_dataset.tasks import LETTERS


def _conversation(prompt: list[dict]) -> tuple:
    from mmsy_dataset.api.conversation import Message

    texts = [next(p["text"] for p in m["content"] if p["type"] == "text") for m in prompt]
    return tuple(Message(m["role"], t, image=i == 0) for i, (m, t) in enumerate(zip(prompt, texts, strict=True)))


@pytest.mark.slow
def test_sft_rows_tokenize_as_the_engine_and_learn_only_the_reply(train_data: Path, tiny_model: Path) -> None:
    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    from mmsy_dataset.adapters.llava import LlavaAdapter
    from mmsy_dataset.mitigation.train import training_chat_template
    from mmsy_dataset.models.tiny import load_tiny_llava

    model, processor = load_tiny_llava(tiny_model)
    adapter = LlavaAdapter(model, processor, device="cpu")
    processor.chat_template = training_chat_template("llava", model.config, processor)
    rows = load_training_dataset(train_data, "sft", answer_format="option", reply="answer", limit=4)
    collator = DataCollatorForVisionLanguageModeling(processor, completion_only_loss=True)
    for row in rows:
        batch = collator([dict(row)])
        ids, labels = batch["input_ids"][0].tolist(), batch["labels"][0].tolist()
        prompt = adapter.encode(_conversation(row["prompt"])).input_ids
        reply = row["completion"][0]["content"][0]["text"]
        target = adapter.continuation_ids(adapter.answer_prefix() + reply)
        assert ids[: len(prompt)] == prompt  # the engine's round-2 prompt, image tokens included
        assert ids[len(prompt) : len(prompt) + len(target)] == target
        learned = [i for i, label in enumerate(labels) if label != -100]
        # Loss only on the assistant's reply (and its end-of-turn token), never on the prompt.
        assert learned == list(range(len(prompt), len(ids)))
        assert ids[-1] == processor.tokenizer.eos_token_id


@pytest.mark.slow
def test_rows_hold_the_true_and_false_options(train_data: Path) -> None:
    sft = {r.id: r for r in read_records(train_data, "sft", "train")}
    dpo = {r.id: r for r in read_records(train_data, "dpo", "train")}
    for row in load_training_dataset(train_data, "sft", "option", "answer"):
        record = sft[row["id"]]
        assert row["completion"][0]["content"][0]["text"] == record.answer
        assert row["prompt"][1]["content"][0]["text"] == record.option_text(record.round1_letter)
        assert row["prompt"][2]["content"][0]["text"] == record.push
    for row in load_training_dataset(train_data, "dpo", "letter", "answer"):
        record = dpo[row["id"]]
        chosen, rejected = row["chosen"][0]["content"][0]["text"], row["rejected"][0]["content"][0]["text"]
        assert chosen == record.answer_letter and rejected != chosen and rejected in LETTERS
        # Refuse misleading: rejected takes the pushed option; accept correction: keeps the wrong one.
        assert rejected == (record.push_letter if record.mode.value == "refuse_misleading" else record.round1_letter)
    sentences = load_training_dataset(train_data, "dpo", "option", "response", limit=3)
    for row in sentences:
        assert row["chosen"][0]["content"][0]["text"] == dpo[row["id"]].chosen


def test_a_build_without_training_configs_is_refused(no_training_data: Path) -> None:
    for method in ("sft", "dpo"):
        with pytest.raises(InputError, match=f"no '{method}' config here"):
            load_training_dataset(no_training_data, method)


def test_settings_files_are_validated(tmp_path: Path) -> None:
    good = tmp_path / "dpo.yaml"
    good.write_text("model: some/vlm\nbeta: 0.2\nlora: {r: 4, alpha: 8}\n")
    settings = load_settings("dpo", good)
    assert isinstance(settings, DPOSettings) and settings.beta == 0.2 and settings.lora is not None
    assert settings.learning_rate == 1e-6  # paper B.2's DPO default
    bad = tmp_path / "sft.json"
    cases = [
        ({"model": "m", "learning_rate": -1}, "learning_rate"),
        ({"model": "m", "answer_format": "number"}, "answer_format"),
        ({"model": "m", "lr": 1e-5}, r"unknown setting\(s\) \['lr'\]"),
        ({"learning_rate": 1e-5}, "field 'model'"),
        ({"model": "m", "method": "dpo"}, "for 'dpo', not 'sft'"),
        ({"model": "m", "trainer_args": {"seed": 3}}, "top-level"),
    ]
    for data, message in cases:
        bad.write_text(json.dumps(data))
        with pytest.raises(InputError, match=message) as error:
            load_settings("sft", bad)
        assert str(bad) in str(error.value)
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not valid json"):
        load_settings("sft", bad)
    assert SFTSettings(model="m").settings() == SFTSettings(model="m", logging_steps=3).settings()


def test_reference_mix_rows_are_the_reference_dialogues() -> None:
    from mmsy_dataset.mitigation.reference_mix import reference_rows

    rows = reference_rows(6, ["vqa", "correction"], seed=1)
    assert rows == reference_rows(6, ["vqa", "correction"], seed=1)  # seeded
    assert {r["id"].split(":")[1] for r in rows} <= {"vqa", "correction"}
    for row in rows:
        assert row["prompt"][0]["content"][1] == {"type": "image"}
        options_line = row["prompt"][0]["content"][0]["text"].splitlines()[-1]
        assert row["completion"][0]["content"][0]["text"] in options_line
        assert len(row["prompt"]) == (1 if row["id"].endswith("vqa") else 3)
