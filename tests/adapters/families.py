"""Tiny random models of each family, built from their configs (no download), and the checks
every adapter must pass: engine scores equal a from-scratch loop, and the adapter's own
from-scratch logits equal the transformers model's full forward on the processor's inputs."""

from __future__ import annotations

import io
from typing import Any

import pytest
import torch
from PIL import Image

from mmsy_dataset.api.conversation import Message
from mmsy_dataset.api.requests import ScoreRequest
from mmsy_dataset.engine.naive import naive_run
from mmsy_dataset.engine.runner import Engine
from mmsy_dataset.models.tiny import TinyLlavaConfig, build_tokenizer
from mmsy_dataset.predictions import ScoringMode
from tests.engine.helpers import WORDS, make_records, png

TINY = TinyLlavaConfig()
CONV = (
    Message("user", "What color is the ball?\n(A) red (B) blue", image=True),
    Message("assistant", "A"),
    Message("user", "Sorry, I think the answer is blue."),
)


def tokenizer(chat_template: str | None = None) -> Any:
    tok = build_tokenizer(WORDS, TINY)
    tok.chat_template = chat_template
    return tok


def llama_text(tok: Any, **kw: Any) -> Any:
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                       bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                       tie_word_embeddings=False, **kw)


def clip_vision(image_size: int = 32, patch: int = 8) -> Any:
    from transformers import CLIPVisionConfig

    return CLIPVisionConfig(image_size=image_size, patch_size=patch, hidden_size=32, intermediate_size=64,
                            num_hidden_layers=2, num_attention_heads=2, projection_dim=32)


def opinionated(model: Any, seed: int = 0) -> Any:
    """Seeded weights with std 0.2: a random tiny model with opinions, so scores differ."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            if param.dim() > 1:
                param.normal_(0.0, 0.2)
    return model.eval()


def pil(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def wide_png(color: tuple[int, int, int]) -> bytes:
    image = Image.new("RGB", (80, 36), color)
    image.paste((255 - color[0], 0, 0), (4, 4, 30, 20))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def request(conv: tuple[Message, ...] = CONV, image: bytes | None = None) -> ScoreRequest:
    return ScoreRequest("q0", image or png((200, 30, 30)), conv, ("A", "B"), ("red", "blue"))


def check_engine_equals_naive(adapter: Any, records: Any = None) -> None:
    """Letter and option scores of the batched, prefix-sharing engine equal the naive loop."""
    records = records or make_records(n_questions=2, rounds=2)
    for mode in (ScoringMode.LETTER, ScoringMode.OPTION):
        engine = Engine(adapter, mode, batch_size=3, chunk_questions=2)
        fast = [d.prediction(mode) for d in engine.run(records)]
        slow = naive_run(adapter, records, mode)
        assert engine.stats.prefix_fallbacks == 0
        for a, b in zip(fast, slow, strict=True):
            assert [t.choice for t in a.rounds] == [t.choice for t in b.rounds], a.record_id
            for ta, tb in zip(a.rounds, b.rounds, strict=True):
                assert ta.scores == pytest.approx(tb.scores, abs=1e-4), (mode, a.record_id)
    text = Engine(adapter, ScoringMode.TEXT, max_new_tokens=3, batch_size=4)
    predictions = [d.prediction(ScoringMode.TEXT) for d in text.run(records[:8])]
    assert all(p.rounds[0].text is not None for p in predictions)


def check_logits_equal_model_forward(adapter: Any, req: ScoreRequest, inputs: dict[str, Any]) -> None:
    """The adapter's forward (from scratch, via `hidden_states`) equals the model's own forward
    on the processor's inputs, at the answer position."""
    from mmsy_dataset.engine.kv import prefill

    ids = adapter.encode_request(req).input_ids
    assert ids == inputs["input_ids"][0].tolist()
    state = prefill(adapter, [ids], adapter.request_image_inputs([req]))
    with torch.no_grad():
        reference = adapter.model(**inputs).logits[0, -1].float()
    assert torch.allclose(state.last_logits[0], reference, atol=1e-4)
