"""Per-task answer pools built from TDIUC's own answers, and frequency-weighted distractors.

Two things keep the options from leaking the answer without the image:

- Only answers seen at least `min_count` times enter a pool (the long tail of TDIUC answers is
  mostly annotation noise), and a question is drawn only when its answer is covered by the
  pool. Otherwise a rare correct answer would stand out among frequent distractors.
- Distractors are sampled with the same frequency weights the answers occur with, so the
  frequent answers ("white", "2", "kitchen") appear about as often as wrong options as they do
  as right ones; a uniform draw over the pool would make "pick the most typical option" a
  winning text-only strategy.

Variant spellings (gray/grey, tv/television, ...) are merged into the most frequent spelling,
so no two pool values are variants of each other and, because `are_variants` is checked again
against each question's answer, no distractor is another name of the answer.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from mmsy_dataset.answers import are_variants
from mmsy_dataset.tasks import YES_NO, is_yes_no

#: Answers seen fewer times than this in a task (per COCO split) are left out of its pool.
POOL_MIN_COUNT = 3
#: At most this many distinct answers per task pool (the most frequent ones).
POOL_MAX_SIZE = 100
#: Distractors a multiple-choice question needs.
DISTRACTORS = 3


@dataclass(frozen=True)
class AnswerPool:
    """Distinct answers of one task, most frequent first, with their (merged) frequencies."""

    values: tuple[str, ...]
    counts: tuple[int, ...]

    def covers(self, answer: str) -> bool:
        """Whether the answer (or one of its variants) is in the pool."""
        return is_yes_no(answer) or any(are_variants(answer, value) for value in self.values)

    def distractors(self, answer: str, rng: random.Random, k: int = DISTRACTORS) -> tuple[str, ...]:
        """k pool values that are not variants of the answer, drawn without replacement with
        probability proportional to frequency (Efraimidis-Spirakis keys)."""
        if is_yes_no(answer):
            return ()
        keyed = [
            (rng.random() ** (1.0 / count), value)
            for value, count in zip(self.values, self.counts, strict=True)
            if not are_variants(value, answer)
        ]
        keyed.sort(key=lambda pair: (-pair[0], pair[1]))
        return tuple(value for _, value in keyed[:k])


YES_NO_POOL = AnswerPool(values=YES_NO, counts=(1, 1))


def build_pool(answers: Iterable[str], min_count: int = POOL_MIN_COUNT, max_size: int = POOL_MAX_SIZE) -> AnswerPool:
    """The pool of one task from all its answers (yes/no answers excluded: they get two options)."""
    tally = Counter(answer for answer in answers if not is_yes_no(answer))
    values: list[str] = []
    counts: list[int] = []
    for value, count in sorted(tally.items(), key=lambda pair: (-pair[1], pair[0])):
        if count < min_count:
            break
        same = next((i for i, kept in enumerate(values) if are_variants(value, kept)), None)
        if same is not None:
            counts[same] += count  # another spelling of a kept answer: the first (most frequent) wins
        elif len(values) < max_size:
            values.append(value)
            counts.append(count)
    return AnswerPool(values=tuple(values), counts=tuple(counts))


__all__ = ["DISTRACTORS", "POOL_MAX_SIZE", "POOL_MIN_COUNT", "YES_NO_POOL", "AnswerPool", "build_pool"]
