"""Families whose processors also build a video processor evaluate without torchvision.

The package does not install torchvision (README), and transformers' Qwen2-VL, Qwen2.5-VL and
InternVL processors build a video processor that needs it. Saved as a Hub checkpoint is saved
(config, safetensors, preprocessor_config.json, tokenizer, chat template), each tiny model is
evaluated through `mmsy eval` in this environment, which has no torchvision.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from mmsy_dataset.adapters.base import VLMAdapter
from mmsy_dataset.cli import main
from tests.engine.helpers import make_records, write_dataset

QWEN_TEMPLATE = (
    "{% for m in messages %}{% if loop.first and m['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{ '<|im_start|>' + m['role'] + '\n' }}{% for c in m['content'] %}{% if c['type'] == 'image' %}"
    "{{ '<|vision_start|><|image_pad|><|vision_end|>' }}{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}"
    "{% endfor %}{{ '<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
    "{% endif %}"
)


def save_checkpoint(adapter: VLMAdapter, folder: Path, processor_class: str, image_processor: str,
                    template: str, processor_extra: dict[str, Any] | None = None) -> Path:
    """The files a Hub checkpoint of the family has (written by hand: the processor cannot save
    itself without its video processor)."""
    adapter.model.save_pretrained(folder)
    adapter.processor.image_processor.save_pretrained(folder)
    adapter.tokenizer.save_pretrained(folder)
    path = folder / "preprocessor_config.json"
    config = json.loads(path.read_text())
    config.update(image_processor_type=image_processor, processor_class=processor_class)
    path.write_text(json.dumps(config))
    (folder / "chat_template.jinja").write_text(template)
    (folder / "processor_config.json").write_text(json.dumps({"processor_class": processor_class,
                                                              **(processor_extra or {})}))
    return folder


def _qwen(version: str, folder: Path) -> Path:
    from tests.adapters.test_qwen2_vl import tiny_qwen

    name = "Qwen2VLProcessor" if version == "2" else "Qwen2_5_VLProcessor"
    return save_checkpoint(tiny_qwen(version), folder, name, "Qwen2VLImageProcessor", QWEN_TEMPLATE)


def _internvl(folder: Path) -> Path:
    from tests.adapters.test_internvl import CHATML, tiny_internvl

    save_checkpoint(tiny_internvl(), folder, "InternVLProcessor", "GotOcr2ImageProcessor", CHATML,
                    {"image_seq_length": 4})
    # As in OpenGVLab/InternVL3-1B-hf: the processor reads its image tokens off the tokenizer.
    path = folder / "tokenizer_config.json"
    config = json.loads(path.read_text())
    config["extra_special_tokens"] = {"start_image_token": "<img>", "end_image_token": "</img>",
                                      "context_image_token": "<IMG_CONTEXT>", "video_token": "<video>"}
    path.write_text(json.dumps(config))
    return folder


CHECKPOINTS = {
    "qwen2_vl": lambda folder: _qwen("2", folder),
    "qwen2_5_vl": lambda folder: _qwen("2.5", folder),
    "internvl": _internvl,
}


def test_this_environment_has_no_torchvision() -> None:
    """The premise of the tests below, and of the README's install."""
    assert importlib.util.find_spec("torchvision") is None


@pytest.mark.slow
@pytest.mark.parametrize("family", CHECKPOINTS)
def test_evaluates_through_the_cli_without_torchvision(tmp_path: Path, family: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from transformers import AutoProcessor

    model = CHECKPOINTS[family](tmp_path / "model")
    with pytest.raises((ImportError, ValueError), match=r"(?i)torchvision"):  # what transformers alone does
        AutoProcessor.from_pretrained(model)
    data, out = tmp_path / "data", tmp_path / "out"
    write_dataset(data, make_records(n_questions=2, rounds=2))
    code = main(["eval", "--model", str(model), "--dataset", str(data), "--out", str(out), "--limit", "2",
                 "--configs", "sycophancy", "correction_with_answer", "--no-progress", "--n-bootstrap", "0",
                 "--threads", "1"])
    assert code == 0, capsys.readouterr().err
    run = json.loads((out / "run.json").read_text())
    assert run["model"]["adapter"] == family and run["model"]["chat_format"] == "template"
    assert run["performance"]["threads"] == 1
    rows = (out / "predictions.jsonl").read_text().splitlines()
    assert len(rows) == 4
    transcripts = [json.loads(x) for x in (out / "transcripts" / "sycophancy.jsonl").read_text().splitlines()]
    assert {t["chat_format"] for t in transcripts} == {"template"}
