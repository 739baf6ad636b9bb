"""Options of a multiple-choice question: distractors, synonym filtering, letter balance.

A distractor that is another name of the answer (gray/grey, bike/bicycle) makes a "wrong"
push actually right and corrupts Syc; a correct letter that favours one position lets a
position-biased model look accurate. Both are prevented here, for every source.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence

from mmsy_dataset.errors import BuildError
from mmsy_dataset.tasks import LETTERS, YES_NO

#: Groups of words that name the same thing; any two members are variants of each other.
SYNONYM_GROUPS: tuple[frozenset[str], ...] = tuple(
    frozenset(group)
    for group in (
        {"gray", "grey"},
        {"bike", "bicycle", "cycle"},
        {"motorbike", "motorcycle"},
        {"tv", "television", "telly"},
        {"couch", "sofa"},
        {"phone", "cellphone", "telephone", "mobile", "smartphone"},
        {"plane", "airplane", "aeroplane", "jet", "aircraft"},
        {"doughnut", "donut"},
        {"kitty", "cat", "kitten"},
        {"dog", "puppy", "doggy"},
        {"car", "automobile"},
        {"ocean", "sea"},
        {"stone", "rock"},
        {"pants", "trousers"},
        {"cap", "hat"},
        {"mug", "cup"},
        {"glasses", "spectacles", "eyeglasses"},
        {"purse", "handbag"},
        {"laptop", "notebook", "computer"},
        {"bus", "coach"},
        {"taxi", "cab"},
        {"ship", "boat"},
        {"snowboarding", "snowboard"},
        {"soccer", "football"},
        {"hotdog", "hot dog", "sausage"},
        {"photo", "picture", "photograph"},
        {"big", "large", "huge"},
        {"small", "little", "tiny"},
        {"happy", "glad", "joyful"},
        {"sad", "unhappy"},
        {"angry", "mad"},
        {"kitchen", "cookhouse"},
        {"one", "1"},
        {"two", "2"},
        {"three", "3"},
        {"four", "4"},
        {"five", "5"},
        {"six", "6"},
        {"seven", "7"},
        {"eight", "8"},
        {"nine", "9"},
        {"ten", "10"},
        {"zero", "0", "none"},
        # Frequent in TDIUC (COCO objects, scenes, materials, colours, people).
        {"eleven", "11"},
        {"twelve", "12"},
        {"refrigerator", "fridge"},
        {"bathroom", "restroom", "washroom", "lavatory"},
        {"living room", "lounge", "family room"},
        {"wood", "wooden"},
        {"metal", "metallic"},
        {"beige", "tan"},
        {"purple", "violet"},
        {"maroon", "burgundy"},
        {"cow", "cattle"},
        {"sheep", "lamb"},
        {"man", "guy", "gentleman"},
        {"woman", "lady"},
        {"child", "kid"},
        {"racket", "racquet"},
        {"frisbee", "disc"},
        {"tie", "necktie"},
        {"store", "shop"},
        {"street", "road"},
        {"beach", "shore", "seashore"},
    )
)
_SYNONYM_OF: dict[str, frozenset[str]] = {word: group for group in SYNONYM_GROUPS for word in group}
_SUFFIXES = ("ing", "ers", "er", "es", "ed", "s", "y")


def _stem(word: str) -> str:
    """A crude stemmer: enough to see that ski/skiing, box/boxes, surfer/surfing are one word."""
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            word = word[: -len(suffix)]
            break
    # skiing -> ski, running -> run (doubled consonant), racquet/racket spelling aside.
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiou":
        word = word[:-1]
    return word


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def normalise(text: str) -> str:
    return " ".join(_tokens(text))


def _canonical_words(text: str) -> frozenset[str]:
    """Stemmed words of an answer, each synonym group reduced to one representative."""
    words = set()
    for token in _tokens(text):
        group = _SYNONYM_OF.get(token)
        words.add(_stem(min(group)) if group else _stem(token))
    return frozenset(words)


def are_variants(a: str, b: str) -> bool:
    """True when two answers may name the same thing: equal, synonyms, stem- or word-variants.

    Deliberately strict: when the words of one answer are a subset of the other's ("tennis"
    and "tennis racket", "red" and "dark red"), they count as variants, since a user pushing
    one of them may be right in a reader's eyes. Answers that merely share a word ("five
    o'clock" and "six o'clock") are distinct.
    """
    na, nb = normalise(a), normalise(b)
    if na == nb or na.replace(" ", "") == nb.replace(" ", ""):
        return True
    if nb in _SYNONYM_OF.get(na, frozenset()):
        return True
    wa, wb = _canonical_words(a), _canonical_words(b)
    return bool(wa and wb) and (wa <= wb or wb <= wa)


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
