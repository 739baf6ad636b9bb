"""Every family renders with the checkpoint's own chat template when it has one.

Each tiny checkpoint gets a template that differs from its family's built-in format (other role
markers, the BOS written by the template itself, nothing between the generation prompt and the
answer). The engine must then score, token for token, what `apply_chat_template` makes of the
transcript's messages, with scores still equal to the from-scratch loop; `--chat-format family`
brings the built-in format back; the label tokens follow the one rule of docs/engine.md.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import torch

from mmsy_dataset.adapters.base import LABEL_SPELLINGS, VLMAdapter
from mmsy_dataset.api.conversation import Message
from mmsy_dataset.api.prompts import LoadOptions
from mmsy_dataset.api.requests import ScoreRequest
from mmsy_dataset.engine import protocol
from mmsy_dataset.engine.runner import Engine
from mmsy_dataset.errors import MmsyError
from mmsy_dataset.predictions import ScoringMode
from tests.adapters.families import CONV, check_engine_equals_naive, pil
from tests.engine.helpers import make_records


def _llava() -> VLMAdapter:
    from tests.engine.helpers import tiny_adapter

    return tiny_adapter()


def _next() -> VLMAdapter:
    from tests.adapters.test_llava_next import tiny_next

    return tiny_next()


def _blip2() -> VLMAdapter:
    from tests.adapters.test_blip2 import tiny_blip2

    return tiny_blip2()


def _instructblip() -> VLMAdapter:
    from tests.adapters.test_blip2 import tiny_instructblip

    return tiny_instructblip()


def _qwen2() -> VLMAdapter:
    from tests.adapters.test_qwen2_vl import tiny_qwen

    return tiny_qwen("2")


def _qwen25() -> VLMAdapter:
    from tests.adapters.test_qwen2_vl import tiny_qwen

    return tiny_qwen("2.5")


def _idefics3() -> VLMAdapter:
    from tests.adapters.test_idefics3 import tiny_idefics3

    return tiny_idefics3()


def _internvl() -> VLMAdapter:
    from tests.adapters.test_internvl import tiny_internvl

    return tiny_internvl()


#: family -> (tiny adapter, what its processor's template writes for an image part)
FAMILIES: dict[str, tuple[Callable[[], VLMAdapter], str]] = {
    "llava": (_llava, "<image>\n"),
    "llava_next": (_next, "<image>\n"),
    "blip2": (_blip2, ""),
    "instructblip": (_instructblip, ""),
    "qwen2_vl": (_qwen2, "<|vision_start|><|image_pad|><|vision_end|>"),
    "qwen2_5_vl": (_qwen25, "<|vision_start|><|image_pad|><|vision_end|>"),
    "idefics3": (_idefics3, "<image>"),
    "internvl": (_internvl, "<IMG_CONTEXT>\n"),
}


def other_template(image: str) -> str:
    """A format no family uses: `{bos}<|role|>\\n{content}{eos}\\n...<|assistant|>\\n`, with the
    BOS written by the template (so the tokenizer must not add a second one)."""
    return (
        "{{ bos_token }}{% for m in messages %}{{ '<|' + m['role'] + '|>\n' }}"
        "{% if m['content'] is string %}{{ m['content'] }}{% else %}{% for c in m['content'] %}"
        "{% if c['type'] == 'image' %}{{ '" + image.replace("\n", "\\n") + "' }}"
        "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}"
        "{{ eos_token }}{{ '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
    )


def with_template(adapter: VLMAdapter, template: str | None, owner: str = "processor") -> VLMAdapter:
    """The same weights behind a processor (or, `owner="tokenizer"`, a tokenizer) holding `template`."""
    processor = copy.copy(adapter.processor)
    tokenizer = copy.copy(adapter.tokenizer)
    processor.tokenizer = tokenizer
    processor.chat_template = template if owner == "processor" else None
    tokenizer.chat_template = template if owner == "tokenizer" else None
    return type(adapter)(adapter.model, processor, model_id=f"{adapter.model_id}+template", device=adapter.device)


def _tokens_of_template(adapter: VLMAdapter, messages: list[dict[str, Any]], image: bytes) -> list[int]:
    """`processor.apply_chat_template(..., tokenize=True)` of the transcript's messages: the
    processor renders, then tokenizes with the image expanded, as a user of the checkpoint would."""
    conversation = tuple(Message(m["role"], m["text"], m["image"]) for m in messages)
    template = adapter.template_messages(conversation)
    for message in template:
        for part in message["content"]:
            if part["type"] == "image":
                part["image"] = pil(image)
    if not adapter.image_in_text:  # BLIP-2: the query tokens go before the text; give the image anyway
        text = adapter.processor.apply_chat_template(template, add_generation_prompt=True, tokenize=False)
        bos = adapter.tokenizer.bos_token
        special = not (bos is not None and text.startswith(bos))
        out = adapter.processor(images=[pil(image)], text=[text], add_special_tokens=special, return_tensors="pt")
        return list(out["input_ids"][0].tolist())
    out = adapter.processor.apply_chat_template(
        template, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"
    )
    return list(out["input_ids"][0].tolist())


@pytest.mark.parametrize(
    "family", [f if f == "llava" else pytest.param(f, marks=pytest.mark.slow) for f in FAMILIES]
)
def test_scored_prompts_are_the_checkpoint_template_token_for_token(family: str) -> None:
    build, image_text = FAMILIES[family]
    base = build()
    adapter = with_template(base, other_template(image_text))
    assert adapter.chat_format == "template"
    assert adapter.answer_prefix() == ""  # `<|assistant|>\n` then the answer
    records = make_records(n_questions=2, rounds=2)
    for mode in (ScoringMode.LETTER, ScoringMode.OPTION):
        engine = Engine(adapter, mode, batch_size=3, chunk_questions=2)
        dialogues = engine.run(records)
        for d in dialogues:
            transcript = d.transcript(mode, False)
            users = [i for i, m in enumerate(transcript["messages"]) if m["role"] == "user"]
            for turn, end in zip(transcript["rounds"], users, strict=False):
                messages = transcript["messages"][: end + 1]
                conversation = tuple(Message(m["role"], m["text"], m["image"]) for m in messages)
                assert turn["prompt"] == adapter.processor.apply_chat_template(
                    adapter.template_messages(conversation), add_generation_prompt=True, tokenize=False
                )
                ids = adapter.encode_request(ScoreRequest(d.key, d.record.image, conversation, ("A",), ("x",)))
                assert ids.input_ids == _tokens_of_template(adapter, messages, d.record.image), (family, turn)
                bos = adapter.tokenizer.bos_token_id
                if bos is not None:  # the template's BOS, never doubled
                    assert ids.input_ids.count(bos) == 1
    check_engine_equals_naive(adapter, records)


@pytest.mark.parametrize("family", ["llava", "qwen2_vl", "idefics3", "blip2"])
def test_family_flag_brings_the_built_in_format_back(family: str) -> None:
    build, image_text = FAMILIES[family]
    adapter = with_template(build(), other_template(image_text))
    templated = adapter.render(CONV)
    adapter.use_chat_format("family")
    assert adapter.chat_format == "family" and adapter.render(CONV) == adapter.render_family(CONV) != templated
    plain = with_template(build(), None)  # no template at all: the family's format
    assert plain.chat_format == "family" and plain.render(CONV) == adapter.render(CONV)
    with pytest.raises(MmsyError, match="no chat template"):
        plain.use_chat_format("template")


@pytest.mark.parametrize("family", ["llava_next", "internvl"])
def test_families_without_a_built_in_format_refuse_the_family_flag(family: str) -> None:
    with pytest.raises(MmsyError, match="no built-in chat format"):
        FAMILIES[family][0]().use_chat_format("family")


@pytest.mark.slow
def test_a_tokenizer_template_gets_string_contents_and_no_second_bos() -> None:
    """A template on the tokenizer only (a text model's): contents are strings with the
    family's image placeholder, tokenized as `tokenizer.apply_chat_template` does."""
    adapter = with_template(_llava(), other_template("<image>\n"), owner="tokenizer")
    assert adapter.template_owner() is adapter.tokenizer and adapter.chat_format == "template"
    request = ScoreRequest("q", make_records(1)[0].image, CONV, ("A", "B"), ("red", "blue"))
    ids = adapter.encode_request(request).input_ids
    messages = adapter.template_messages(CONV, string_content=True)
    reference = adapter.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    reference = list(reference["input_ids"] if hasattr(reference, "keys") else reference)
    image = adapter.image_token_id  # type: ignore[attr-defined]
    collapsed = [t for i, t in enumerate(ids) if t != image or i == 0 or ids[i - 1] != image]
    assert collapsed == reference and ids.count(adapter.tokenizer.bos_token_id) == 1
    check_engine_equals_naive(adapter, make_records(n_questions=2, rounds=2))


@pytest.mark.parametrize("family", FAMILIES)
def test_label_tokens_follow_the_one_rule(family: str) -> None:
    """Every family: the first tokens of " A", "A", " (A", "(A" after the generation prompt,
    less those that start another label too, whatever the answer prefix (Qwen2-VL, InternVL: none)."""
    adapter = FAMILIES[family][0]()
    letters = ("A", "B", "C", "D")
    firsts = {x: {adapter.continuation_ids(f.format(x))[0] for f in LABEL_SPELLINGS} for x in letters}
    labels = adapter.label_token_ids(letters)
    for letter in letters:
        others = set().union(*(firsts[o] for o in letters if o != letter))
        assert set(labels[letter]) == firsts[letter] - others
        # " A" and "A" are different tokens in every tokenizer here, and both count.
        assert {adapter.continuation_ids(" " + letter)[0], adapter.continuation_ids(letter)[0]} <= set(labels[letter])


def test_reference_model_template_renders_the_family_format() -> None:
    """The committed reference model's template writes exactly the LLaVA format it was trained on
    (image after the question), so `auto` reproduces its recorded figures."""
    from mmsy_dataset.adapters.llava import LlavaAdapter
    from mmsy_dataset.reference import WEIGHTS_DIR

    adapter = LlavaAdapter.load(str(WEIGHTS_DIR), LoadOptions(device="cpu"))
    assert adapter.chat_format == "template" and adapter.image_after
    family = copy.copy(adapter)
    family.__dict__.pop("_answer_prefix", None)
    family.use_chat_format("family")
    records = make_records(n_questions=1, rounds=3)
    conversations = [CONV, (Message("system", "Be careful."), *CONV)]
    conversations += [protocol.conversation(r, ["B"] * len(protocol.pushes(r)), True) for r in records]
    for conv in conversations:
        for gen in (True, False):
            assert adapter.render(conv, gen) == family.render(conv, gen)
        request = ScoreRequest("q", records[0].image, conv, ("A", "B"), ("red", "blue"))
        assert adapter.encode_request(request).input_ids == family.encode_request(request).input_ids
    assert adapter.answer_prefix() == family.answer_prefix() == " "
    assert adapter.label_token_ids(("A", "B")) == family.label_token_ids(("A", "B"))
    assert torch.equal(torch.tensor(adapter.continuation_ids(" red")), torch.tensor(family.continuation_ids(" red")))
