"""When two answers name the same thing (gray/grey, bike/bicycle, tennis/tennis racket).

Option building refuses such distractors, and sources compare answers with the same rule, so it
sits in its own module that both import.
"""

from __future__ import annotations

import re

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
