"""The training mix: dialogue kinds, loss masks, and tokens identical to what the engine scores."""

from __future__ import annotations

import random

import pytest

from mmsy_dataset.reference.data import IGNORE, Encoder, Kind, make_dialogue, render
from mmsy_dataset.reference.pool import PoolItem
from mmsy_dataset.tasks import Task

ITEM = PoolItem(
    task=Task.COLOR,
    question="What color is the car?",
    answer="red",
    pool=("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "gray"),
    preferred=("blue", "green"),
)


@pytest.fixture(scope="module")
def processor():
    from mmsy_dataset.models.tiny import TinyLlavaConfig, build_processor, build_tokenizer
    from mmsy_dataset.reference.data import vocabulary_corpus

    config = TinyLlavaConfig(vocab_size=500)
    return build_processor(build_tokenizer(vocabulary_corpus([ITEM]), config), config)


def _learned(encoder: Encoder, kind: Kind, seed: int = 0) -> tuple[list[str], list[str]]:
    dialogue = make_dialogue(ITEM, kind, random.Random(seed))
    enc = encoder.encode(dialogue, 0)
    tok = encoder.tokenizer
    spans, current = [], []
    for token, label in zip(enc.input_ids, enc.labels, strict=True):
        if label == IGNORE:
            if current:
                spans.append(tok.decode(current).strip())
                current = []
        else:
            assert label == token
            current.append(label)
    if current:
        spans.append(tok.decode(current).strip())
    said = [t.text for t in dialogue.turns if t.role == "assistant"]
    return spans, said


def test_each_kind_learns_the_right_turns(processor) -> None:
    encoder = Encoder(processor.tokenizer, image_tokens=16)
    for seed in range(20):
        spans, said = _learned(encoder, Kind.VQA, seed)
        assert said == ["red"] and spans == ["red</s>"]
        spans, said = _learned(encoder, Kind.SYCOPHANCY, seed)
        assert said[0] == "red" and said[1] != "red" and spans == [f"{s}</s>" for s in said]
        spans, said = _learned(encoder, Kind.CORRECTION, seed)
        assert said[0] != "red" and said[1] == "red" and spans == ["red</s>"]  # the wrong answer is not learned
        spans, said = _learned(encoder, Kind.NO_ANSWER, seed)
        assert said[0] == said[1] and len(spans) == (2 if said[0] == "red" else 1)
        spans, said = _learned(encoder, Kind.MULTI_ROUND, seed)
        assert 3 <= len(said) <= 6 and said[0] == "red" and len(set(said[1:])) == 1 and len(spans) == len(said)


def test_push_names_the_option_it_asks_for() -> None:
    dialogue = make_dialogue(ITEM, Kind.SYCOPHANCY, random.Random(3))
    push, answer = dialogue.turns[2].text, dialogue.turns[3].text
    assert f") {answer}" in push


def test_image_tokens_are_expanded_and_never_learned(processor) -> None:
    encoder = Encoder(processor.tokenizer, image_tokens=16)
    enc = encoder.encode(make_dialogue(ITEM, Kind.VQA, random.Random(0)), 7)
    positions = [i for i, t in enumerate(enc.input_ids) if t == encoder.image_id]
    assert len(positions) == 16 and positions == list(range(positions[0], positions[0] + 16))
    assert all(enc.labels[i] == IGNORE for i in positions) and enc.index == 7


@pytest.mark.parametrize("placement", ["before", "after"])
def test_text_and_tokens_match_the_engine(processor, placement: str) -> None:
    """Training sees exactly the prompt the llava adapter renders, and the answer's tokens are the
    continuation the engine scores in option mode, with the image before or after the question."""
    from mmsy_dataset.adapters.llava import LlavaAdapter
    from mmsy_dataset.api.conversation import Message
    from mmsy_dataset.models.tiny import TinyLlavaConfig, build_model

    config = TinyLlavaConfig(vocab_size=500, image_placement=placement)
    adapter = LlavaAdapter(build_model(processor.tokenizer, config), processor)
    adapter.use_chat_format("family")  # the format training renders (the fixture's template is image-first)
    after = placement == "after"
    assert adapter.image_after is after
    dialogue = make_dialogue(ITEM, Kind.SYCOPHANCY, random.Random(1))
    turns = dialogue.turns
    conversation = (
        Message("user", turns[0].text, image=True),
        Message("assistant", turns[1].text),
        Message("user", turns[2].text),
    )
    text, _ = render(dialogue, image_after=after)
    prompt = adapter.render(conversation)
    assert text == f"{prompt} {turns[3].text}</s>"
    assert text.startswith(f"USER: {turns[0].text}\n<image> " if after else f"USER: <image>\n{turns[0].text} ")
    encoder = Encoder(processor.tokenizer, image_tokens=adapter.n_image_tokens, image_after=after)
    ids = encoder.encode(dialogue, 0).input_ids
    expected = adapter.encode(conversation).input_ids + adapter.continuation_ids(" " + turns[3].text)
    assert ids[: len(expected)] == expected
