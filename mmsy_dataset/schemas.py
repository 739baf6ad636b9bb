"""Pydantic records of MM-SY: base VQA items and the records of every Hub config.

These classes are the single definition of the data: the parquet / `datasets.Features`
schema is derived from them by :mod:`mmsy_dataset.features`, never written by hand. Field
docstrings double as the column descriptions in the dataset card.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from mmsy_dataset.tasks import LETTERS, Mode, Task, Tone


class ImageColumn:
    """Marker in `Annotated[bytes, ImageColumn()]`: the column is a `datasets.Image` feature."""

    def __repr__(self) -> str:
        return "ImageColumn()"


ImageBytes = Annotated[bytes, ImageColumn()]


class Record(BaseModel):
    """Common configuration: frozen, strict about unknown fields, field docstrings kept."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # Images are bytes blobs: keep reprs (and error messages) readable.
        for name, value in super().__repr_args__():
            yield name, (f"<{len(value)} bytes>" if isinstance(value, bytes) else value)


class BaseItem(Record):
    """A visual question with its gold answer, as a source yields it, before MM-SY construction."""

    item_id: str
    """Stable id of the question in its source (TDIUC question_id, synthetic id, ...)."""
    image_id: str
    """Stable id of the image; several questions may share one image."""
    image: bytes
    """Encoded image file (PNG or JPEG bytes)."""
    question: str
    """The question, without options."""
    answer: str
    """The gold answer, lower-case words."""
    task: Task
    """One of the ten MM-SY tasks."""
    answer_pool: tuple[str, ...]
    """Values the distractors may be drawn from (the task's pool, or a sub-pool such as patterns)."""
    preferred_distractors: tuple[str, ...] = ()
    """Item-specific distractors drawn before the pool (objects present in the scene, the anchor)."""
    source: str
    """Name of the source that produced the item."""
    meta: str = "{}"
    """JSON with source-specific details (scene layout, TDIUC ans_source), for audits."""

    @field_validator("question", "answer")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value


class Provenance(Record):
    """Where a record came from; identical inputs give identical provenance."""

    version: str
    """Semantic version of the MM-SY build."""
    source: str
    """Source of the base items (synthetic, tdiuc, mmsy-release)."""
    seed: int
    """Seed of the build."""


class QuestionRecord(Record):
    """Fields shared by every record: the round-1 multiple-choice question."""

    config: ClassVar[str] = ""

    id: str
    """Record id, stable across rebuilds of the same version."""
    question_id: str
    """Id of the base question; every record built on one question shares it."""
    image_id: str
    """Id of the image."""
    image: ImageBytes
    """The image."""
    task: Task
    """One of the ten MM-SY tasks."""
    question: str
    """The question without options."""
    options: list[str]
    """Option texts in letter order (A, B, C, D); two options for yes/no questions."""
    answer: str
    """The correct option's text."""
    answer_letter: str
    """Letter of the correct option."""
    prompt: str
    """Round-1 user message: instruction, question and lettered options (no image placeholder)."""
    provenance: Provenance
    """Version, source and seed of the build."""

    @model_validator(mode="after")
    def _check_options(self) -> QuestionRecord:
        if len(self.options) not in (2, 4):
            raise ValueError(f"options: expected 2 or 4 options, got {len(self.options)}")
        if len(set(self.options)) != len(self.options):
            raise ValueError(f"options: duplicate option texts {self.options}")
        letters = LETTERS[: len(self.options)]
        if self.answer_letter not in letters:
            raise ValueError(f"answer_letter: {self.answer_letter!r} not in {letters}")
        if self.options[letters.index(self.answer_letter)] != self.answer:
            raise ValueError("answer: does not match the option at answer_letter")
        return self

    def letters(self) -> tuple[str, ...]:
        return LETTERS[: len(self.options)]

    def option_text(self, letter: str) -> str:
        return self.options[self.letters().index(letter)]


class PushRecord(QuestionRecord):
    """A question with the user's round-2 message naming an option."""

    tone: Tone
    """Tone of the push."""
    template_id: str
    """Id of the push template used (tone-NN)."""
    push: str
    """The user's round-2 message, rendered."""
    push_letter: str
    """Letter of the option the user pushes."""
    push_option: str
    """Text of the option the user pushes."""

    @model_validator(mode="after")
    def _check_push(self) -> PushRecord:
        if self.push_letter not in self.letters():
            raise ValueError(f"push_letter: {self.push_letter!r} not in {self.letters()}")
        if self.option_text(self.push_letter) != self.push_option:
            raise ValueError("push_option: does not match the option at push_letter")
        return self


class SycophancyRecord(PushRecord):
    """Round 2 pushes a wrong option; scored when round 1 was right (paper 2.1, A.2)."""

    config: ClassVar[str] = "sycophancy"

    @model_validator(mode="after")
    def _wrong_push(self) -> SycophancyRecord:
        if self.push_letter == self.answer_letter:
            raise ValueError("push_letter: a sycophancy push must name a wrong option")
        return self


class CorrectionWithAnswerRecord(PushRecord):
    """Round 2 pushes the correct option; scored when round 1 was wrong (paper 3.3)."""

    config: ClassVar[str] = "correction_with_answer"

    @model_validator(mode="after")
    def _right_push(self) -> CorrectionWithAnswerRecord:
        if self.push_letter != self.answer_letter:
            raise ValueError("push_letter: a correction push must name the correct option")
        return self


class CorrectionWithoutAnswerRecord(QuestionRecord):
    """Round 2 says the answer is wrong without naming one (paper 3.3, 'hint without answer')."""

    config: ClassVar[str] = "correction_without_answer"

    tone: Tone
    """Tone of the push."""
    template_id: str
    """Id of the push template used (tone-NN)."""
    push: str
    """The user's round-2 message, rendered; it names no option."""


class MultiRoundRecord(QuestionRecord):
    """Up to five successive pushes of the same wrong option (paper 2.2 RQ4, Fig. 2)."""

    config: ClassVar[str] = "multi_round"

    tone: Tone
    """Tone of every push."""
    template_ids: list[str]
    """Template ids of the pushes, round 2 first; no template repeats within a dialogue."""
    pushes: list[str]
    """The user's messages of rounds 2, 3, ..., rendered."""
    push_letter: str
    """Letter of the wrong option pushed in every round."""
    push_option: str
    """Text of that option."""

    @model_validator(mode="after")
    def _check_rounds(self) -> MultiRoundRecord:
        if not 1 <= len(self.pushes) <= 5 or len(self.pushes) != len(self.template_ids):
            raise ValueError("pushes: expected 1-5 pushes, one template id each")
        if self.push_letter == self.answer_letter or self.push_letter not in self.letters():
            raise ValueError(f"push_letter: {self.push_letter!r} must be a wrong option")
        return self


class ProbingRecord(SycophancyRecord):
    """A sycophancy context for the layer-wise probe (paper 4.1); never a benchmark question."""

    config: ClassVar[str] = "probing"


class TrainingDialogue(QuestionRecord):
    """Fields shared by SFT and DPO dialogues (paper 3.2)."""

    mode: Mode
    """refuse_misleading: round 1 right, user pushes a wrong option; accept_correction: the reverse."""
    round1_letter: str
    """The assistant's round-1 answer (correct for refuse_misleading, wrong for accept_correction)."""
    tone: Tone
    """Tone of the push."""
    template_id: str
    """Id of the push template."""
    push: str
    """The user's round-2 message."""
    push_letter: str
    """Letter the user pushes (wrong for refuse_misleading, correct for accept_correction)."""

    @model_validator(mode="after")
    def _check_mode(self) -> TrainingDialogue:
        right = self.answer_letter
        if self.mode is Mode.REFUSE_MISLEADING:
            ok = self.round1_letter == right and self.push_letter != right
        else:
            ok = self.round1_letter != right and self.push_letter == right
        if not ok or {self.round1_letter, self.push_letter} - set(self.letters()):
            raise ValueError(f"round1_letter/push_letter: inconsistent with mode {self.mode.value}")
        return self


class SFTRecord(TrainingDialogue):
    """One SFT dialogue whose target keeps (or takes) the true option (paper eq. 2)."""

    config: ClassVar[str] = "sft"

    response: str
    """Target assistant reply in round 2; it commits to the correct option."""
    response_template_id: str
    """Id of the response template."""


class DPORecord(TrainingDialogue):
    """One preference pair: chosen keeps / takes the true option, rejected the false one (eq. 3-4)."""

    config: ClassVar[str] = "dpo"

    chosen: str
    """Preferred reply: commits to the correct option."""
    rejected: str
    """Dispreferred reply: commits to the false option."""
    chosen_template_id: str
    """Id of the chosen reply's template."""
    rejected_template_id: str
    """Id of the rejected reply's template."""


#: Record class of each Hub config.
RECORD_TYPES: dict[str, type[QuestionRecord]] = {
    cls.config: cls
    for cls in (
        SycophancyRecord,
        CorrectionWithAnswerRecord,
        CorrectionWithoutAnswerRecord,
        MultiRoundRecord,
        ProbingRecord,
        SFTRecord,
        DPORecord,
    )
}

#: Splits of each Hub config.
CONFIG_SPLITS: dict[str, tuple[str, ...]] = {
    "sycophancy": ("test",),
    "correction_with_answer": ("test",),
    "correction_without_answer": ("test",),
    "multi_round": ("test",),
    "probing": ("train", "test"),
    "sft": ("train",),
    "dpo": ("train",),
}


def record_type(config: str) -> type[QuestionRecord]:
    try:
        return RECORD_TYPES[config]
    except KeyError:
        raise ValueError(f"Unknown config {config!r}. Known configs: {', '.join(RECORD_TYPES)}") from None


__all__ = [
    "CONFIG_SPLITS",
    "RECORD_TYPES",
    "BaseItem",
    "CorrectionWithAnswerRecord",
    "CorrectionWithoutAnswerRecord",
    "DPORecord",
    "ImageBytes",
    "ImageColumn",
    "MultiRoundRecord",
    "ProbingRecord",
    "Provenance",
    "PushRecord",
    "QuestionRecord",
    "Record",
    "SFTRecord",
    "SycophancyRecord",
    "TrainingDialogue",
    "record_type",
]
