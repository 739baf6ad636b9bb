"""What a task generator returns, and the helpers generators share.

A generator gets its own seeded RNG and returns a :class:`Draft`: question, answer, pools and a
scene. Answers are drawn uniformly from the pool first and the scene is built around them, so
no answer is more frequent than another, and phrasings are drawn independently of the answer.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from mmsy_dataset.sources.synthetic.scene import Box, Scene

T = TypeVar("T")

#: Smallest glyph used anywhere, as a fraction of the image side (counting's 5 x 5 grid).
MIN_GLYPH_FRACTION = 0.17
FRAME_COLOR = (220, 20, 20)


@dataclass
class Draft:
    question: str
    answer: str
    pool: tuple[str, ...]
    preferred: tuple[str, ...]
    scene: Scene
    relation: dict[str, object] = field(default_factory=dict)


#: rng for this item, and the item's yes/no bit (balanced in every pair of consecutive items).
Generator = Callable[[random.Random, bool], Draft]


def distinct(rng: random.Random, pool: Sequence[T], k: int, first: T | None = None) -> list[T]:
    """`k` distinct values from `pool`, starting with `first` when given."""
    rest = [v for v in pool if v != first]
    picked = rng.sample(rest, k - (first is not None))
    return ([first] if first is not None else []) + picked


def shuffled(rng: random.Random, values: Sequence[T]) -> tuple[T, ...]:
    """Preferred distractors in random order, so a consumer taking the first few is not biased."""
    out = list(values)
    rng.shuffle(out)
    return tuple(out)


def article(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


#: How a question singles out one item of a row; drawn independently of the answer.
RELATIONS: dict[str, tuple[str, ...]] = {
    "framed": ("inside the red frame", "in the red box"),
    "leftmost": ("on the far left", "furthest to the left"),
    "rightmost": ("on the far right", "furthest to the right"),
}


@dataclass(frozen=True)
class Slot:
    x: float
    y: float


def row_slots(rng: random.Random, k: int, size: float) -> list[Slot]:
    """`k` positions left to right, one per column, at random heights, never overlapping."""
    margin = 0.04
    width = (1 - 2 * margin) / k
    slots = []
    for c in range(k):
        x = margin + (c + 0.5) * width + rng.uniform(-1, 1) * max(0.0, (width - size) / 2) * 0.3
        y = rng.uniform(0.15 + size / 2, 0.85 - size / 2)
        slots.append(Slot(x, y))
    return slots


def single_out(rng: random.Random, k: int) -> tuple[str, int, str]:
    """Pick a relation and the column it designates: (relation, column, phrase)."""
    relation = rng.choice(sorted(RELATIONS))
    column = {"leftmost": 0, "rightmost": k - 1}.get(relation, rng.randrange(k))
    return relation, column, rng.choice(RELATIONS[relation])


def frame_around(slot: Slot, size: float) -> Box:
    pad = size * 0.58
    return Box("frame", slot.x - pad, slot.y - pad, slot.x + pad, slot.y + pad, FRAME_COLOR)
