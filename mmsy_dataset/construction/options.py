"""Options of a multiple-choice question: distractors, synonym filtering, letter balance.

A distractor that is another name of the answer (gray/grey, bike/bicycle) makes a "wrong"
push actually right and corrupts Syc; a correct letter that favours one position lets a
position-biased model look accurate. Both are prevented here, for every source.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

from mmsy_dataset.answers import are_variants, normalise
from mmsy_dataset.errors import BuildError
from mmsy_dataset.tasks import LETTERS, YES_NO


def pick_distractors(
    answer: str,
    preferred: Sequence[str],
    pool: Sequence[str],
    k: int,
    rng: random.Random,
) -> list[str]:
    """k distinct distractors, preferred ones first (in random order), then from the pool.

    Raises BuildError when the candidates cannot supply k valid distractors.
    """
    chosen: list[str] = []

    def take(candidates: Iterable[str]) -> None:
        ordered = sorted(set(candidates))
        rng.shuffle(ordered)
        for candidate in ordered:
            if len(chosen) == k:
                return
            if are_variants(candidate, answer) or any(are_variants(candidate, c) for c in chosen):
                continue
            chosen.append(candidate)

    take(preferred)
    take(pool)
    if len(chosen) < k:
        raise BuildError(
            f"answer {answer!r}: needs {k} distractors that are not variants of the answer or of each "
            f"other, but its pool offers only {len(chosen)} ({sorted(set(pool))}). Enlarge the task's "
            "answer pool."
        )
    return chosen


def balanced_positions(n: int, n_options: int, rng: random.Random) -> list[int]:
    """Positions for the correct option of n questions: each position used n/n_options times (±1)."""
    positions = [i % n_options for i in range(n)]
    start = rng.randrange(n_options)
    positions = [(p + start) % n_options for p in positions]
    rng.shuffle(positions)
    return positions


def build_options(
    answer: str,
    preferred: Sequence[str],
    pool: Sequence[str],
    position: int,
    rng: random.Random,
) -> tuple[list[str], str]:
    """Option texts (answer at `position`) and the correct letter; yes/no gets two options."""
    if normalise(answer) in YES_NO:
        other = YES_NO[1] if normalise(answer) == YES_NO[0] else YES_NO[0]
        options = [answer, other] if position == 0 else [other, answer]
        return options, LETTERS[position]
    distractors = pick_distractors(answer, preferred, pool, 3, rng)
    options = [*distractors[:position], answer, *distractors[position:]]
    return options, LETTERS[position]
