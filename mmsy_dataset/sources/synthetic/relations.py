"""Positional reasoning, utility affordance and attributes: the answer depends on where a thing is.

Positional answers are exact by construction: the answer is the only object on the asked side
of the anchor (every other object sits level with or beyond the anchor), and it is next to it.
Utility and attribute questions single out one item of a row (framed, leftmost, rightmost), and
the other items of the row are valid wrong answers that are really in the picture.
"""

from __future__ import annotations

import random

from mmsy_dataset.sources.synthetic.common import (
    Draft,
    distinct,
    frame_around,
    row_slots,
    shuffled,
    single_out,
)
from mmsy_dataset.sources.synthetic.glyphs import (
    CLOCKS,
    MOODS,
    OBJECT_BY_NAME,
    OBJECT_NAMES,
    PATTERNS,
    SHAPES,
    TOOLS,
)
from mmsy_dataset.sources.synthetic.scene import Glyph, Scene, Shape, grid_cells, jitter, plain_background

PURPOSES: tuple[str, ...] = tuple(TOOLS)

#: (column step, row step) of each relation, in reading order of the grid.
DIRECTIONS: dict[str, tuple[int, int]] = {
    "to the left of": (-1, 0),
    "to the right of": (1, 0),
    "above": (0, -1),
    "below": (0, 1),
}
POSITIONAL_PHRASES = (
    "What is {rel} the {a}?",
    "Which object is {rel} the {a}?",
    "What can you see {rel} the {a}?",
    "What object is placed {rel} the {a}?",
)
EDGES: dict[str, tuple[int, int]] = {"left": (-1, 0), "right": (1, 0), "top": (0, -1), "bottom": (0, 1)}
EDGE_PHRASES = (
    "Which object is closest to the {edge} edge?",
    "What is the object nearest the {edge} edge of the picture?",
    "What can you see next to the {edge} edge?",
    "Which object is the nearest to the {edge} side?",
)
UTILITY_PHRASES = (
    "What is the object {rel} used for?",
    "What can the item {rel} be used for?",
    "What is the purpose of the object {rel}?",
    "What would you use the thing {rel} for?",
)
MOOD_PHRASES = (
    "What is the mood of the face {rel}?",
    "How does the face {rel} feel?",
    "Which emotion does the face {rel} show?",
)
CLOCK_PHRASES = (
    "What time does the clock {rel} show?",
    "Which hour is shown on the clock {rel}?",
    "What time is it on the clock {rel}?",
)
PATTERN_PHRASES = (
    "What pattern is on the {shape}?",
    "Which pattern fills the {shape}?",
    "What is the pattern of the {shape}?",
)
_SHAPE_COLORS = ((200, 40, 40), (40, 90, 200), (30, 140, 60), (150, 60, 170), (210, 120, 20), (60, 60, 60))


def positional_reasoning(rng: random.Random, yes: bool) -> Draft:
    """Half the questions name an anchor, half ask for the object nearest an edge.

    An anchored question names the anchor, which is a distractor that can never be right; the
    edge questions name nothing, which keeps a text-only guesser near chance on the task.
    """
    if rng.random() < 0.5:
        return _nearest_edge(rng)
    rel = rng.choice(sorted(DIRECTIONS))
    dc, dr = DIRECTIONS[rel]
    anchors = [(r, c) for r in range(3) for c in range(3) if 0 <= r + dr < 3 and 0 <= c + dc < 3]
    ar, ac = rng.choice(anchors)
    target = (ar + dr, ac + dc)
    # Every other object is level with the anchor or on the opposite side: the answer is unique.
    allowed = [
        (r, c)
        for r in range(3)
        for c in range(3)
        if (r, c) not in ((ar, ac), target) and (c - ac) * dc + (r - ar) * dr <= 0
    ]
    cells = [(ar, ac), target, *rng.sample(allowed, min(len(allowed), rng.choice((3, 4))))]
    answer = rng.choice(OBJECT_NAMES)
    names = [answer, *distinct(rng, OBJECT_NAMES, len(cells), answer)[1:]]
    anchor = names[1]
    names[0], names[1] = anchor, answer  # cells[0] is the anchor's cell, cells[1] the answer's
    scene = _grid_scene(rng, names, cells, ("anchor", "answer"))
    question = rng.choice(POSITIONAL_PHRASES).format(rel=rel, a=anchor)
    preferred = shuffled(rng, [n for n in names if n != answer])
    return Draft(question, answer, OBJECT_NAMES, preferred, scene, {"relation": rel, "anchor": anchor})


def _nearest_edge(rng: random.Random) -> Draft:
    edge = rng.choice(sorted(EDGES))
    dc, dr = EDGES[edge]
    line = [(r, c) for r in range(3) for c in range(3) if (c - 1) * dc + (r - 1) * dr == 1]
    target = rng.choice(line)
    # Nothing else on the asked edge's row or column: the answer is the only object there.
    allowed = [(r, c) for r in range(3) for c in range(3) if (c - 1) * dc + (r - 1) * dr < 1]
    cells = [target, *rng.sample(allowed, rng.choice((3, 4)))]
    answer = rng.choice(OBJECT_NAMES)
    names = distinct(rng, OBJECT_NAMES, len(cells), answer)
    scene = _grid_scene(rng, names, cells, ("answer",))
    question = rng.choice(EDGE_PHRASES).format(edge=edge)
    return Draft(question, answer, OBJECT_NAMES, shuffled(rng, names[1:]), scene, {"relation": f"{edge} edge"})


def _grid_scene(rng: random.Random, names: list[str], cells: list[tuple[int, int]], roles: tuple[str, ...]) -> Scene:
    centres = grid_cells(3, 3)
    size = 0.24
    scene = Scene(plain_background(rng))
    for i, (name, (r, c)) in enumerate(zip(names, cells, strict=True)):
        x, y, cell = centres[r * 3 + c]
        gx, gy = jitter(rng, x, y, cell, size)
        scene.glyphs.append(
            Glyph(name, OBJECT_BY_NAME[name].code, gx, gy, size, role=roles[i] if i < len(roles) else "other")
        )
    return scene


def utility_affordance(rng: random.Random, yes: bool) -> Draft:
    answer = rng.choice(PURPOSES)
    k = rng.choice((3, 4))
    relation, column, phrase = single_out(rng, k)
    others = distinct(rng, PURPOSES, k, answer)[1:]
    purposes = [*others[:column], answer, *others[column:]]
    size = 0.19 if k == 4 else 0.22
    slots = row_slots(rng, k, size)
    scene = Scene(plain_background(rng))
    for purpose, slot in zip(purposes, slots, strict=True):
        tool = TOOLS[purpose]
        scene.glyphs.append(
            Glyph(tool.name, tool.code, slot.x, slot.y, size, role="target" if purpose == answer else "other")
        )
    if relation == "framed":
        scene.boxes.append(frame_around(slots[column], size))
    question = rng.choice(UTILITY_PHRASES).format(rel=phrase)
    return Draft(question, answer, PURPOSES, shuffled(rng, others), scene, {"relation": relation})


def attribute(rng: random.Random, yes: bool) -> Draft:
    """One of three attribute sub-pools (mood, time shown, pattern); `answer_pool` is the sub-pool."""
    kind = rng.choice(("mood", "clock", "pattern"))
    if kind == "pattern":
        return _pattern(rng)
    things = MOODS if kind == "mood" else CLOCKS
    names = tuple(t.name for t in things)
    answer = rng.choice(names)
    k = rng.choice((2, 3))
    relation, column, phrase = single_out(rng, k)
    others = distinct(rng, names, k, answer)[1:]
    values = [*others[:column], answer, *others[column:]]
    size = 0.28 if k == 3 else 0.34
    slots = row_slots(rng, k, size)
    code = {t.name: t.code for t in things}
    scene = Scene(plain_background(rng))
    for value, slot in zip(values, slots, strict=True):
        scene.glyphs.append(
            Glyph(value, code[value], slot.x, slot.y, size, role="target" if value == answer else "other")
        )
    if relation == "framed":
        scene.boxes.append(frame_around(slots[column], size))
    question = rng.choice(MOOD_PHRASES if kind == "mood" else CLOCK_PHRASES).format(rel=phrase)
    return Draft(question, answer, names, shuffled(rng, others), scene, {"attribute": kind, "relation": relation})


def _pattern(rng: random.Random) -> Draft:
    answer = rng.choice(PATTERNS)
    k = rng.choice((2, 3))
    patterns = distinct(rng, PATTERNS, k, answer)
    shapes = distinct(rng, SHAPES, k)
    size = 0.28 if k == 3 else 0.34
    slots = row_slots(rng, k, size)
    order = rng.sample(range(k), k)
    scene = Scene(plain_background(rng))
    for i, column in enumerate(order):
        scene.shapes.append(
            Shape(
                shapes[i],
                patterns[i],
                rng.choice(_SHAPE_COLORS),
                slots[column].x,
                slots[column].y,
                size,
                "target" if i == 0 else "other",
            )
        )
    question = rng.choice(PATTERN_PHRASES).format(shape=shapes[0])
    return Draft(
        question, answer, PATTERNS, shuffled(rng, patterns[1:]), scene, {"attribute": "pattern", "asked": shapes[0]}
    )
