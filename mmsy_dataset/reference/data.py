"""Training examples for the reference model: round-1 VQA plus the dialogue mix.

The text is exactly what the evaluation engine renders for LLaVA-1.5 (`USER: <image>\\n{prompt}
ASSISTANT: {answer}</s>USER: {push} ASSISTANT: ...`), with the dataset's own round-1 prompt and
push templates, so the model is evaluated on the distribution it was trained on. Options are
redrawn (distractors and the correct position) every time an image is reused.

The dialogue kinds implement the paper's hypothesis (A.5) that instruction data teaches
agreement: after a push naming an option the assistant adopts it, whether its round-1 answer
was right (sycophancy) or wrong (correction with answer); after a push naming none it repeats
itself (so, like LLaVA-1.5 in Table 2, correction without an answer rarely happens). Loss falls
only on assistant turns, never on a deliberately wrong round-1 answer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from mmsy_dataset.construction.options import build_options
from mmsy_dataset.construction.templates import (
    INSTRUCTION,
    NO_ANSWER_TEMPLATES,
    PUSH_TEMPLATES,
    option_phrase,
    round1_prompt,
)
from mmsy_dataset.reference.lookup import question_focus
from mmsy_dataset.reference.pool import PoolItem
from mmsy_dataset.tasks import LETTERS, Tone

IGNORE = -100


class Kind(StrEnum):
    VQA = "vqa"  # round 1 only, right answer
    SYCOPHANCY = "sycophancy"  # right answer, push a wrong option, adopt it
    CORRECTION = "correction"  # wrong answer (no loss), push the right option, adopt it
    NO_ANSWER = "no_answer"  # right or wrong answer, push without an option, repeat the answer
    MULTI_ROUND = "multi_round"  # right answer, 2-5 pushes of one wrong option, adopt it each time


#: Share of each kind in the dialogue stage of training (documented in the model card).
DEFAULT_MIX: dict[Kind, float] = {
    Kind.VQA: 0.5,
    Kind.SYCOPHANCY: 0.18,
    Kind.CORRECTION: 0.1,
    Kind.NO_ANSWER: 0.15,  # 0.1 left a model that reads the image moving without an option
    Kind.MULTI_ROUND: 0.07,
}


@dataclass(frozen=True)
class Turn:
    role: str  # "user" | "assistant"
    text: str
    loss: bool = False


@dataclass
class Dialogue:
    kind: Kind
    turns: list[Turn] = field(default_factory=list)
    question: str = ""  # the round-1 question, for `lookup.question_focus`


def draw_options(item: PoolItem, rng: random.Random) -> tuple[list[str], int]:
    """Options as construction builds them (answer + preferred, then pool distractors), correct index."""
    n = 2 if item.answer in ("yes", "no") else 4
    options, letter = build_options(item.answer, item.preferred, item.pool, rng.randrange(n), rng)
    return options, LETTERS.index(letter)


def _push(rng: random.Random, letter: str, option: str) -> str:
    tone = rng.choice(list(Tone))
    return rng.choice(PUSH_TEMPLATES[tone]).format(option=option_phrase(letter, option))


def make_dialogue(item: PoolItem, kind: Kind, rng: random.Random) -> Dialogue:
    options, right = draw_options(item, rng)
    letters = LETTERS[: len(options)]
    wrong = rng.choice([i for i in range(len(options)) if i != right])
    dialogue = Dialogue(kind, [Turn("user", round1_prompt(item.question, letters, options))], item.question)
    say = dialogue.turns.append
    if kind is Kind.VQA:
        say(Turn("assistant", options[right], loss=True))
    elif kind is Kind.SYCOPHANCY:
        say(Turn("assistant", options[right], loss=True))
        say(Turn("user", _push(rng, letters[wrong], options[wrong])))
        say(Turn("assistant", options[wrong], loss=True))
    elif kind is Kind.CORRECTION:
        say(Turn("assistant", options[wrong]))
        say(Turn("user", _push(rng, letters[right], options[right])))
        say(Turn("assistant", options[right], loss=True))
    elif kind is Kind.NO_ANSWER:
        first = rng.choice([right, wrong])
        say(Turn("assistant", options[first], loss=first == right))
        say(Turn("user", rng.choice(NO_ANSWER_TEMPLATES[rng.choice(list(Tone))])))
        say(Turn("assistant", options[first], loss=True))
    else:
        say(Turn("assistant", options[right], loss=True))
        for _ in range(rng.randint(2, 5)):
            say(Turn("user", _push(rng, letters[wrong], options[wrong])))
            say(Turn("assistant", options[wrong], loss=True))
    return dialogue


def render(
    dialogue: Dialogue, eos: str = "</s>", generation_prompt: bool = False, image_after: bool = False
) -> tuple[str, list[tuple[int, int]]]:
    """The llava-1.5 text (as the engine's adapter renders it) and the character spans to learn:
    each learned assistant turn from the space before its words through `</s>`. `image_after`
    puts the image after the first user text instead of before it (the reference model's format)."""
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    length = 0
    for i, turn in enumerate(dialogue.turns):
        if turn.role == "user" and i == 0 and image_after:
            text = f"USER: {turn.text}\n<image> "
        elif turn.role == "user":
            text = f"USER: {'<image>' + chr(10) if i == 0 else ''}{turn.text} "
        else:
            text = f"ASSISTANT: {turn.text}{eos}"
            if turn.loss:
                start = length + len("ASSISTANT:")
                spans.append((start, length + len(text)))
        parts.append(text)
        length += len(text)
    if generation_prompt:
        parts.append("ASSISTANT:")
    return "".join(parts), spans


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]
    kind: Kind
    index: int  # image index in the pool
    focus: tuple[int, ...] = ()  # tokens of what the round-1 question asks about (lookup.py)
    focus_text: str = ""


class Encoder:
    """Tokenises rendered dialogues, expands `<image>` to the model's image tokens, masks labels."""

    def __init__(self, tokenizer: Any, image_tokens: int, image_after: bool = False) -> None:
        self.tokenizer = tokenizer
        self.image_tokens = image_tokens
        self.image_after = image_after
        self.image_id = int(tokenizer.convert_tokens_to_ids("<image>"))

    def encode(self, dialogue: Dialogue, index: int, generation_prompt: bool = False) -> Encoded:
        text, spans = render(dialogue, str(self.tokenizer.eos_token), generation_prompt, self.image_after)
        enc = self.tokenizer(text, add_special_tokens=True, return_offsets_mapping=True)
        ids: list[int] = []
        labels: list[int] = []
        focus: list[int] = []
        span = question_focus(dialogue.question) if dialogue.question else None
        focus_text = dialogue.question[span[0] : span[1]] if span is not None else ""
        if span is not None:
            at = text.index("\n" + dialogue.question + "\n") + 1
            span = (at + span[0], at + span[1])
        for token, (start, end) in zip(enc["input_ids"], enc["offset_mapping"], strict=True):
            learn = end > start and any(start < hi and end > lo for lo, hi in spans)
            if span is not None and end > start and start < span[1] and end > span[0]:
                focus.append(len(ids))
            if token == self.image_id:
                ids.extend([token] * self.image_tokens)
                labels.extend([IGNORE] * self.image_tokens)
                continue
            ids.append(token)
            labels.append(token if learn else IGNORE)
        return Encoded(ids, labels, dialogue.kind, index, tuple(focus), focus_text)


def vocabulary_corpus(items: list[PoolItem]) -> list[str]:
    """Text the tokenizer is trained on: instructions, templates, questions and every answer pool."""
    lines = [INSTRUCTION, *(t for family in PUSH_TEMPLATES.values() for t in family)]
    lines += [t for family in NO_ANSWER_TEMPLATES.values() for t in family]
    pools = sorted({word for item in items for word in (*item.pool, item.answer)})
    lines += [" ".join(pools)] * 4
    lines += sorted({item.question for item in items})
    return lines
