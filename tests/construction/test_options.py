from __future__ import annotations

import random
from collections import Counter

import pytest

from mmsy_dataset.answers import are_variants
from mmsy_dataset.construction.options import balanced_positions, build_options, pick_distractors
from mmsy_dataset.errors import BuildError


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("gray", "grey"),
        ("bike", "bicycle"),
        ("tv", "television"),
        ("ski", "skiing"),
        ("surfing", "surfer"),
        ("tennis", "tennis racket"),
        ("Dog", "dogs"),
        ("motorbike", "motorcycle"),
        ("2", "two"),
        ("box", "boxes"),
    ],
)
def test_variants_are_detected(a: str, b: str) -> None:
    assert are_variants(a, b)
    assert are_variants(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [("cat", "dog"), ("red", "blue"), ("tennis", "golf"), ("3", "4"), ("bus", "boat"), ("five o'clock", "six o'clock"),
     ("ping pong", "table tennis")],
)
def test_distinct_answers_are_not_variants(a: str, b: str) -> None:
    assert not are_variants(a, b)


def test_distractors_skip_variants_of_the_answer_and_of_each_other() -> None:
    pool = ["grey", "gray", "blue", "navy", "bicycle", "red", "reds"]
    for seed in range(50):
        picked = pick_distractors("gray", [], pool, 3, random.Random(seed))
        assert len(picked) == 3
        assert not any(are_variants(p, "gray") for p in picked)
        assert not any(are_variants(a, b) for i, a in enumerate(picked) for b in picked[i + 1 :])


def test_preferred_distractors_come_first() -> None:
    picked = pick_distractors("cat", ["dog", "cow"], ["ant", "bee", "owl", "pig"], 3, random.Random(0))
    assert set(picked[:2]) == {"dog", "cow"}


def test_a_pool_too_small_is_a_clear_error() -> None:
    with pytest.raises(BuildError, match="needs 3 distractors"):
        pick_distractors("red", [], ["red", "blue", "reddish"], 3, random.Random(0))


@pytest.mark.parametrize(("n", "k"), [(150, 4), (151, 4), (10, 2), (7, 3)])
def test_positions_are_balanced(n: int, k: int) -> None:
    counts = Counter(balanced_positions(n, k, random.Random(1)))
    assert sum(counts.values()) == n
    assert max(counts.values()) - min(counts.values()) <= 1
    assert set(counts) == set(range(k))


def test_yes_no_questions_get_two_options_with_the_answer_where_asked() -> None:
    assert build_options("no", [], ["yes", "no"], 0, random.Random(0)) == (["no", "yes"], "A")
    assert build_options("no", [], ["yes", "no"], 1, random.Random(0)) == (["yes", "no"], "B")
    assert build_options("yes", [], ["yes", "no"], 1, random.Random(0)) == (["no", "yes"], "B")


def test_four_options_put_the_answer_at_the_position() -> None:
    for position in range(4):
        options, letter = build_options("cat", [], ["dog", "cow", "owl", "pig", "cat"], position, random.Random(3))
        assert options[position] == "cat" and letter == "ABCD"[position]
        assert len(set(options)) == 4
