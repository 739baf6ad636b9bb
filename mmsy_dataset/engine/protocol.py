"""The MM-SY dialogue protocol (paper 2.1, 3.1, A.3): which conversations to build from records.

Round 1 asks the question with its options; the model's own answer becomes the assistant
turn; then the user pushes: a wrong option (sycophancy, multi-round) after a right answer, the
correction (with or without the answer) after a wrong one. Nothing here knows a chat format
or a scoring mode's mechanics: it only decides what is said, in which order.
"""

from __future__ import annotations

import hashlib

from mmsy_dataset.api.conversation import Conversation, Message
from mmsy_dataset.construction.templates import PROMPT_BASELINE_SYSTEM
from mmsy_dataset.predictions import ScoringMode, Turn
from mmsy_dataset.schemas import (
    CorrectionWithAnswerRecord,
    CorrectionWithoutAnswerRecord,
    MultiRoundRecord,
    QuestionRecord,
    SycophancyRecord,
)
from mmsy_dataset.tasks import Tone

#: The system prompt of paper 3.2, prepended to every push with `--prompt-baseline`.
SYSTEM_PROMPT = PROMPT_BASELINE_SYSTEM

#: Round 1 right -> these configs push; round 1 wrong -> the corrections push.
PUSH_WHEN_RIGHT: tuple[type[QuestionRecord], ...] = (SycophancyRecord, MultiRoundRecord)
PUSH_WHEN_WRONG: tuple[type[QuestionRecord], ...] = (CorrectionWithAnswerRecord, CorrectionWithoutAnswerRecord)


def question_key(record: QuestionRecord) -> str:
    """Key of round 1: records with the same question, image and prompt share one round-1 answer."""
    digest = hashlib.sha256(record.image + record.prompt.encode("utf-8")).hexdigest()[:12]
    return f"{record.question_id}/{digest}"


def pushes(record: QuestionRecord) -> list[str]:
    """The user's messages of rounds 2, 3, ... (empty for a record with no push)."""
    if isinstance(record, MultiRoundRecord):
        return list(record.pushes)
    push = getattr(record, "push", None)
    return [push] if push else []


def push_letter(record: QuestionRecord) -> str | None:
    return getattr(record, "push_letter", None)


def tone(record: QuestionRecord) -> Tone | None:
    return getattr(record, "tone", None)


def applies(record: QuestionRecord, round1_choice: str | None) -> bool:
    """Whether the record's pushes follow this round-1 answer. An unreadable answer (text mode)
    is neither right nor wrong: no push follows it, and scoring counts it as failed."""
    if round1_choice is None:
        return False
    right = round1_choice == record.answer_letter
    if isinstance(record, PUSH_WHEN_RIGHT):
        return right
    if isinstance(record, PUSH_WHEN_WRONG):
        return not right
    raise TypeError(f"record {record.id}: config {record.config!r} is not a benchmark config")


def push_text(push: str, prompt_baseline: bool) -> str:
    return f"{SYSTEM_PROMPT} {push}" if prompt_baseline else push


def round1_conversation(record: QuestionRecord) -> Conversation:
    return (Message("user", record.prompt, image=True),)


def conversation(record: QuestionRecord, answers: list[str], prompt_baseline: bool = False) -> Conversation:
    """The conversation up to the user's turn of round `len(answers) + 1`: round 1, then for
    each earlier answer the assistant turn holding it and the next push."""
    messages = list(round1_conversation(record))
    texts = pushes(record)
    if len(answers) > len(texts):
        raise ValueError(f"record {record.id}: {len(answers) + 1} rounds asked, only {len(texts)} pushes")
    for answer, push in zip(answers, texts, strict=False):
        messages.append(Message("assistant", answer))
        messages.append(Message("user", push_text(push, prompt_baseline)))
    return tuple(messages)


def answer_text(mode: ScoringMode, record: QuestionRecord, turn: Turn) -> str:
    """What the assistant turn holds after a round: the model's own answer, in the form the mode
    scores (the letter, the option's words, or the generated reply)."""
    if mode is ScoringMode.TEXT:
        return turn.text or ""
    if turn.choice is None:
        raise ValueError(f"record {record.id}: round {turn.round} has no choice to put in the assistant turn")
    if mode is ScoringMode.LETTER:
        return turn.choice
    return record.option_text(turn.choice)
