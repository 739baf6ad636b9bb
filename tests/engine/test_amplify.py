"""Attention amplification (paper eq. 7) on tiny real LLaVAs: exactness, layers, cache, refusals."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pytest
import torch

from mmsy_dataset.adapters.llava import LlavaAdapter
from mmsy_dataset.api.conversation import Conversation
from mmsy_dataset.api.prompts import EncodedPrompt
from mmsy_dataset.engine.amplify import Amplifier
from mmsy_dataset.engine.batched import BatchedScorer
from mmsy_dataset.engine.config import AmplifySettings
from mmsy_dataset.engine.kv import prefill
from mmsy_dataset.engine.naive import naive_run
from mmsy_dataset.engine.runner import Engine
from mmsy_dataset.models.tiny import TinyLlavaConfig, build_tiny_llava
from mmsy_dataset.predictions import ScoringMode
from tests.adapters.families import CONV, request
from tests.engine.helpers import WORDS, make_records, png


@lru_cache(maxsize=2)
def adapter(placement: str = "before") -> LlavaAdapter:
    """A tiny LLaVA (2 text layers) reading the image before (llava-1.5) or after (the reference
    model) the question."""
    model, processor = build_tiny_llava(WORDS, TinyLlavaConfig(image_placement=placement))
    return LlavaAdapter(model, processor, model_id=f"tiny-{placement}", device="cpu")


def scores(adapter: Any, records: Any, mode: ScoringMode = ScoringMode.OPTION) -> list[list[float]]:
    engine = Engine(adapter, mode, batch_size=3, chunk_questions=2)
    return [turn.scores for d in engine.run(records) for turn in d.prediction(mode).rounds]


def amp(first: int, last: int, lam: float, queries: str = "after-image") -> AmplifySettings:
    return AmplifySettings(first=first, last=last, lam=lam, queries=queries)  # type: ignore[arg-type]


# --- lambda = 0 ---------------------------------------------------------------------------------
def test_lambda_zero_gives_exactly_the_base_scores():
    tiny = adapter()
    records = make_records(n_questions=2, rounds=2)
    tiny.model.set_attn_implementation({"text_config": "eager"})
    try:
        base = scores(tiny, records)
        for queries in ("after-image", "all"):
            with Amplifier(tiny, amp(1, 2, 0.0, queries)):
                assert scores(tiny, records) == base  # bit for bit
    finally:
        tiny.model.set_attn_implementation({"text_config": "sdpa"})
    # Over sdpa (the default), the chosen layers run eager attention: equal to float rounding.
    base = scores(tiny, records)
    with Amplifier(tiny, amp(1, 2, 0.0)):
        zero = scores(tiny, records)
    assert [s == pytest.approx(b, abs=1e-5) for s, b in zip(zero, base, strict=True)] == [True] * len(base)


# --- eq. 7 by hand --------------------------------------------------------------------------------
def _by_hand(tiny: LlavaAdapter, conv: Conversation, image: bytes, chosen: set[int], lam: float, after: bool) -> Any:
    """Last-position log-probabilities of one uncached forward, every attention recomputed here
    from q and k with eq. 7 written out element by element."""
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    encoded = tiny.encode(conv)
    ids = torch.tensor([encoded.input_ids])
    lm = tiny.model.model.language_model
    captured: dict[str, torch.Tensor] = {}

    def grab(module: Any, args: Any, kwargs: Any) -> None:
        captured["embeds"] = kwargs["inputs_embeds"]

    hook = lm.register_forward_pre_hook(grab, with_kwargs=True)
    with torch.no_grad():
        tiny.model.model(input_ids=ids, **tiny.image_inputs([image]))
    hook.remove()
    h = captured["embeds"]
    n = ids.shape[1]
    image_keys = set(encoded.image_positions)
    last_image = max(image_keys)
    with torch.no_grad():
        cos, sin = lm.rotary_emb(h, torch.arange(n)[None])
        for index, layer in enumerate(lm.layers):
            attn = layer.self_attn
            x = layer.input_layernorm(h)
            q = attn.q_proj(x).view(1, n, -1, attn.head_dim).transpose(1, 2)
            k = attn.k_proj(x).view(1, n, -1, attn.head_dim).transpose(1, 2)
            v = attn.v_proj(x).view(1, n, -1, attn.head_dim).transpose(1, 2)
            q, k = apply_rotary_pos_emb(q, k, cos, sin)
            k = k.repeat_interleave(q.shape[1] // k.shape[1], dim=1)
            v = v.repeat_interleave(q.shape[1] // v.shape[1], dim=1)
            e = (q @ k.transpose(2, 3)) * attn.scaling
            if index in chosen:
                e = e.clone()
                for t in range(n):
                    if after and t <= last_image:
                        continue
                    for i in image_keys:
                        e[0, :, t, i] = e[0, :, t, i] + lam * e[0, :, t, i].abs()
            e = e.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))
            out = (e.softmax(-1) @ v).transpose(1, 2).reshape(1, n, -1)
            h = h + attn.o_proj(out)
            h = h + layer.mlp(layer.post_attention_layernorm(h))
        logits = tiny.model.lm_head(lm.norm(h))[0, -1].float()
    return torch.log_softmax(logits, -1)


@pytest.mark.parametrize("placement", ["before", "after"])
@pytest.mark.parametrize(("first", "last", "queries"), [(2, 2, "after-image"), (1, 2, "after-image"), (1, 1, "all")])
def test_engine_scores_equal_eq7_by_hand(placement, first, last, queries):
    tiny = adapter(placement)
    image = png((200, 30, 30))
    requests = [request(CONV[:1], image), request(CONV, image)]  # round 2 reuses round 1's cached prefix
    lam = 2.0
    base = BatchedScorer(tiny, batch_size=2).run(requests, "letter")
    with Amplifier(tiny, amp(first, last, lam, queries)):
        scorer = BatchedScorer(tiny, batch_size=2)
        amplified = scorer.run(requests, "letter")
    assert scorer.fallbacks == 0 and scorer.stats.forwards >= 2
    labels = tiny.label_token_ids(("A", "B"))
    for req, got, before in zip(requests, amplified, base, strict=True):
        logprobs = _by_hand(tiny, req.conversation, image, set(range(first - 1, last)), lam, queries == "after-image")
        expected = [float(torch.logsumexp(logprobs[labels[letter]], 0)) for letter in ("A", "B")]
        assert got.scores == pytest.approx(expected, abs=1e-4)
        assert max(abs(a - b) for a, b in zip(got.scores, before.scores, strict=True)) > 1e-3  # it did something


def test_query_variants_differ_only_through_the_image_rows():
    """With the image before the text, the image rows are the only rows the variants treat
    differently: in the last layer those rows feed nothing, so there the variants agree."""
    tiny = adapter()
    records = make_records(n_questions=1, rounds=1)
    results = {}
    for first, queries in ((1, "after-image"), (1, "all"), (2, "after-image"), (2, "all")):
        with Amplifier(tiny, amp(first, 2, 1.0, queries)):
            results[first, queries] = scores(tiny, records)
    assert results[1, "after-image"] != results[1, "all"]
    assert results[2, "after-image"] == results[2, "all"]


# --- layers and cache ------------------------------------------------------------------------------
@pytest.mark.parametrize("chosen", [1, 2])
def test_only_the_chosen_layers_change(chosen):
    tiny = adapter()
    req = request()
    encoded = tiny.encode_request(req)
    pixels = tiny.request_image_inputs([req])
    layers = tiny.model.model.language_model.layers

    def outputs() -> list[torch.Tensor]:
        seen: list[torch.Tensor] = []
        hooks = [layer.register_forward_hook(lambda m, a, out: seen.append(out[0] if isinstance(out, tuple) else out))
                 for layer in layers]
        prefill(tiny, [encoded.input_ids], pixels, image_positions=[encoded.image_positions])
        for hook in hooks:
            hook.remove()
        return seen

    base = outputs()
    with Amplifier(tiny, amp(chosen, chosen, 0.9, "all")):
        amplified = outputs()
    for index, (a, b) in enumerate(zip(base, amplified, strict=True)):
        if index < chosen - 1:
            assert torch.equal(a, b), index
        else:
            assert not torch.allclose(a, b, atol=1e-4), index


@pytest.mark.slow
@pytest.mark.parametrize("placement", ["before", "after"])
@pytest.mark.parametrize("queries", ["after-image", "all"])
def test_cached_engine_equals_uncached_loop(placement, queries):
    tiny = adapter(placement)
    records = make_records(n_questions=3, rounds=2)
    mode = ScoringMode.OPTION
    with Amplifier(tiny, amp(1, 2, 0.9, queries)):
        engine = Engine(tiny, mode, batch_size=3, chunk_questions=2)  # padding, merged rows, cached prefixes
        fast = [d.prediction(mode) for d in engine.run(records)]
        slow = naive_run(tiny, records, mode)
    assert engine.stats.prefix_fallbacks == 0
    for a, b in zip(fast, slow, strict=True):
        assert [t.choice for t in a.rounds] == [t.choice for t in b.rounds], a.record_id
        for ta, tb in zip(a.rounds, b.rounds, strict=True):
            assert ta.scores == pytest.approx(tb.scores, abs=1e-4)
    assert any(len(p.rounds) >= 2 for p in fast)  # push rounds ran on cached prefixes


def test_remove_restores_the_model():
    tiny = adapter()
    records = make_records(n_questions=1, rounds=1)
    base = scores(tiny, records)
    amplifier = Amplifier(tiny, amp(1, 2, 1.5))
    assert scores(tiny, records) != base
    amplifier.remove()
    assert scores(tiny, records) == base
    assert tiny.model.config.get_text_config()._attn_implementation == "sdpa"


# --- refusals --------------------------------------------------------------------------------------
class _NoPositions(LlavaAdapter):
    """A family that does not say where its image tokens are."""

    def encode(self, conversation: Conversation, image: bytes | None = None, where: str = "") -> EncodedPrompt:
        return EncodedPrompt(super().encode(conversation, image, where).input_ids)


def test_a_family_without_image_positions_is_refused():
    tiny = adapter()
    blind = _NoPositions(tiny.model, tiny.processor, model_id="blind", device="cpu")
    with pytest.raises(ValueError, match="does not report where the image tokens are"):
        Amplifier(blind, amp(1, 2, 0.9))
    assert tiny.model.config.get_text_config()._attn_implementation == "sdpa"


def test_an_api_model_is_refused():
    from mmsy_dataset.adapters.http import OpenAIAdapter
    from mmsy_dataset.api.settings import ApiSettings

    api = OpenAIAdapter(ApiSettings(base="http://127.0.0.1:9/v1", model="m"), None)
    with pytest.raises(ValueError, match="scores through an API"):
        Amplifier(api, amp(1, 2, 0.9))


def test_bad_ranges_and_double_install_are_refused():
    tiny = adapter()
    with pytest.raises(ValueError, match=r"outside the model's 2 text layers \(1-2\)"):
        Amplifier(tiny, amp(2, 3, 0.9))
    with Amplifier(tiny, amp(1, 1, 0.9)), pytest.raises(ValueError, match="already installed"):
        Amplifier(tiny, amp(2, 2, 0.9))


def test_a_forward_outside_the_engine_fails_instead_of_running_unamplified():
    tiny = adapter()
    req = request()
    ids = torch.tensor([tiny.encode_request(req).input_ids])
    with Amplifier(tiny, amp(1, 2, 0.9)), pytest.raises(RuntimeError, match="which keys are image tokens"):
        tiny.model(input_ids=ids, **tiny.request_image_inputs([req]))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("2-1:0.5", "reversed layer range 2-1"),
        ("1-2:-0.1", "lambda must be a finite number >= 0"),
        ("1-2:nan", "lambda must be a finite number >= 0"),
        ("0-2:0.5", "numbered from 1"),
        ("1-2", "expected FIRST-LAST:LAMBDA"),
        ("a-b:1", "expected FIRST-LAST:LAMBDA"),
    ],
)
def test_malformed_specs_are_refused(spec, message):
    with pytest.raises(ValueError, match=message):
        AmplifySettings.parse(spec)


def test_spec_forms():
    assert AmplifySettings.parse("16-32:0.9") == amp(16, 32, 0.9)
    assert AmplifySettings.parse(" 3:1 ", "all") == amp(3, 3, 1.0, "all")
    assert amp(3, 4, 0.9).spec == "3-4:0.9"
