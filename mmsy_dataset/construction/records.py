"""Turn base items into MM-SY records of every config.

Every random choice draws from an RNG keyed by (seed, purpose, question id), never from a
shared stream, so a record does not change when another record is added or the build order
changes: ids and contents are stable across rebuilds of the same version.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from mmsy_dataset.construction.options import build_options
from mmsy_dataset.construction.templates import (
    AGREE_TEMPLATES,
    NO_ANSWER_TEMPLATES,
    PUSH_TEMPLATES,
    STICK_TEMPLATES,
    option_phrase,
    round1_prompt,
    template_id,
)
from mmsy_dataset.errors import BuildError
from mmsy_dataset.schemas import (
    BaseItem,
    CorrectionWithAnswerRecord,
    CorrectionWithoutAnswerRecord,
    DPORecord,
    MultiRoundRecord,
    ProbingRecord,
    Provenance,
    SFTRecord,
    SycophancyRecord,
)
from mmsy_dataset.tasks import LETTERS, Mode, Tone

_SHORT = {
    "sycophancy": "syc",
    "correction_with_answer": "cwa",
    "correction_without_answer": "cwo",
    "multi_round": "mr",
    "probing": "probe",
    "sft": "sft",
    "dpo": "dpo",
}


def rng_for(seed: int, *keys: object) -> random.Random:
    """An RNG private to one decision; string seeding is stable across processes and platforms."""
    return random.Random(":".join(["mmsy", str(seed), *map(str, keys)]))


@dataclass(frozen=True)
class Question:
    """A base item with its options fixed: what every record on this question shares."""

    item: BaseItem
    options: list[str]
    answer_letter: str
    prompt: str

    @property
    def letters(self) -> tuple[str, ...]:
        return LETTERS[: len(self.options)]

    def wrong_letters(self) -> list[str]:
        return [letter for letter in self.letters if letter != self.answer_letter]

    def phrase(self, letter: str) -> str:
        return option_phrase(letter, self.options[self.letters.index(letter)])


@dataclass(frozen=True)
class RecordFactory:
    """Builds records for one build (version, seed, source)."""

    version: str
    seed: int
    source: str
    tones: tuple[Tone, ...] = tuple(Tone)

    @property
    def provenance(self) -> Provenance:
        return Provenance(version=self.version, source=self.source, seed=self.seed)

    # -- questions -------------------------------------------------------------------------

    def question(self, item: BaseItem, position: int) -> Question:
        rng = rng_for(self.seed, "options", item.item_id)
        try:
            options, letter = build_options(item.answer, item.preferred_distractors, item.answer_pool, position, rng)
        except BuildError as error:
            raise BuildError(f"question {item.item_id} (task {item.task.value}): {error}") from None
        prompt = round1_prompt(item.question, LETTERS[: len(options)], options)
        return Question(item=item, options=options, answer_letter=letter, prompt=prompt)

    def _common(self, q: Question, config: str, suffix: str) -> dict[str, object]:
        item = q.item
        return {
            "id": f"{item.item_id}:{_SHORT[config]}{suffix}",
            "question_id": item.item_id,
            "image_id": item.image_id,
            "image": item.image,
            "task": item.task,
            "question": item.question,
            "options": q.options,
            "answer": item.answer,
            "answer_letter": q.answer_letter,
            "prompt": q.prompt,
            "provenance": self.provenance,
        }

    def push_letter(self, q: Question) -> str:
        """The wrong option the user pushes; the same for every tone and round of a question."""
        return rng_for(self.seed, "push", q.item.item_id).choice(q.wrong_letters())

    def _template(self, family: Sequence[str], name: str, *keys: object) -> tuple[str, str]:
        index = rng_for(self.seed, "template", name, *keys).randrange(len(family))
        return family[index], template_id(name, index)

    def _push(self, q: Question, config: str, tone: Tone, letter: str) -> dict[str, object]:
        template, tid = self._template(PUSH_TEMPLATES[tone], tone.value, config, q.item.item_id)
        return {
            "tone": tone,
            "template_id": tid,
            "push": template.format(option=q.phrase(letter)),
            "push_letter": letter,
            "push_option": q.options[q.letters.index(letter)],
        }

    # -- benchmark configs -------------------------------------------------------------------

    def sycophancy(self, q: Question) -> list[SycophancyRecord]:
        letter = self.push_letter(q)
        return [
            SycophancyRecord(
                **self._common(q, "sycophancy", f":{tone.value}"),
                **self._push(q, "sycophancy", tone, letter),
            )
            for tone in self.tones
        ]

    def correction_with_answer(self, q: Question) -> list[CorrectionWithAnswerRecord]:
        return [
            CorrectionWithAnswerRecord(
                **self._common(q, "correction_with_answer", f":{tone.value}"),
                **self._push(q, "correction_with_answer", tone, q.answer_letter),
            )
            for tone in self.tones
        ]

    def correction_without_answer(self, q: Question) -> list[CorrectionWithoutAnswerRecord]:
        records = []
        for tone in self.tones:
            template, tid = self._template(NO_ANSWER_TEMPLATES[tone], f"noans-{tone.value}", q.item.item_id)
            records.append(
                CorrectionWithoutAnswerRecord(
                    **self._common(q, "correction_without_answer", f":{tone.value}"),
                    tone=tone,
                    template_id=tid,
                    push=template,
                )
            )
        return records

    def multi_round(self, q: Question, tone: Tone, rounds: int) -> MultiRoundRecord:
        letter = self.push_letter(q)
        templates = PUSH_TEMPLATES[tone]
        if not 1 <= rounds <= min(5, len(templates)):
            raise BuildError(f"multi_round_pushes: expected 1-5, got {rounds}")
        picks = rng_for(self.seed, "multi_round", q.item.item_id).sample(range(len(templates)), rounds)
        return MultiRoundRecord(
            **self._common(q, "multi_round", ""),
            tone=tone,
            template_ids=[template_id(tone.value, i) for i in picks],
            pushes=[templates[i].format(option=q.phrase(letter)) for i in picks],
            push_letter=letter,
            push_option=q.options[q.letters.index(letter)],
        )

    # -- training and analysis configs -----------------------------------------------------------

    def probing(self, q: Question, tone: Tone) -> ProbingRecord:
        return ProbingRecord(
            **self._common(q, "probing", ""),
            **self._push(q, "probing", tone, self.push_letter(q)),
        )

    def _dialogue(self, q: Question, mode: Mode, tone: Tone) -> tuple[dict[str, object], str, str]:
        """Shared fields of the SFT and DPO dialogue on a question, plus (true, false) letters."""
        if mode is Mode.REFUSE_MISLEADING:
            round1, push, false = q.answer_letter, self.push_letter(q), self.push_letter(q)
        else:
            false = rng_for(self.seed, "round1", q.item.item_id).choice(q.wrong_letters())
            round1, push = false, q.answer_letter
        fields = dict(self._push(q, "dialogue", tone, push))
        fields.pop("push_option")
        fields.update(mode=mode, round1_letter=round1)
        return fields, q.answer_letter, false

    def _replies(self, q: Question, mode: Mode, true: str, false: str) -> tuple[str, str, str, str]:
        """(chosen, chosen id, rejected, rejected id): chosen always ends on the true option."""
        keep, keep_id = self._template(STICK_TEMPLATES, "stick", q.item.item_id)
        agree, agree_id = self._template(AGREE_TEMPLATES, "agree", q.item.item_id)
        if mode is Mode.REFUSE_MISLEADING:
            return keep.format(option=q.phrase(true)), keep_id, agree.format(option=q.phrase(false)), agree_id
        return agree.format(option=q.phrase(true)), agree_id, keep.format(option=q.phrase(false)), keep_id

    def sft(self, q: Question, mode: Mode, tone: Tone) -> SFTRecord:
        fields, true, false = self._dialogue(q, mode, tone)
        chosen, chosen_id, _, _ = self._replies(q, mode, true, false)
        return SFTRecord(
            **self._common(q, "sft", ""),
            **fields,
            response=chosen,
            response_template_id=chosen_id,
        )

    def dpo(self, q: Question, mode: Mode, tone: Tone) -> DPORecord:
        fields, true, false = self._dialogue(q, mode, tone)
        chosen, chosen_id, rejected, rejected_id = self._replies(q, mode, true, false)
        return DPORecord(
            **self._common(q, "dpo", ""),
            **fields,
            chosen=chosen,
            rejected=rejected,
            chosen_template_id=chosen_id,
            rejected_template_id=rejected_id,
        )
