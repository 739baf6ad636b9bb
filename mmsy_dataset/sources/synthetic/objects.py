"""Object recognition, object presence, counting and colour: questions about which things are where.

Every scene holds several objects so that the answer needs the asked relation (the framed one,
the one named, the ones of one kind), and the other objects present become the distractors.
"""

from __future__ import annotations

import random

from mmsy_dataset.sources.synthetic.common import (
    Draft,
    article,
    distinct,
    frame_around,
    row_slots,
    shuffled,
    single_out,
)
from mmsy_dataset.sources.synthetic.glyphs import (
    CATEGORY_OF,
    COLORS,
    NUMBERS,
    OBJECT_BY_NAME,
    OBJECT_NAMES,
    OBJECTS_BY_CATEGORY,
    TINTABLE,
)
from mmsy_dataset.sources.synthetic.scene import Glyph, Scene, grid_cells, jitter, plain_background
from mmsy_dataset.tasks import YES_NO

_TINTABLE_BY_NAME = {t.name: t for t in TINTABLE}

RECOGNITION_PHRASES = (
    "What is the object {rel}?",
    "Which object can be seen {rel}?",
    "What is shown {rel}?",
    "What do you see {rel}?",
)
PRESENCE_PHRASES = (
    "Is there {x} in the picture?",
    "Does the image contain {x}?",
    "Can you see {x} here?",
    "Is {x} visible in this image?",
)
COUNTING_PHRASES = (
    "How many {many} are there?",
    "How many {many} can you count?",
    "What is the number of {many} in the picture?",
    "How many {many} are in the image?",
)
COLOR_PHRASES = (
    "What color is the {x}?",
    "What is the color of the {x}?",
    "Which color does the {x} have?",
    "The {x} in the picture is what color?",
)


def object_recognition(rng: random.Random, yes: bool) -> Draft:
    answer = rng.choice(OBJECT_NAMES)
    k = rng.choice((3, 4))
    relation, column, phrase = single_out(rng, k)
    others = distinct(rng, OBJECT_NAMES, k, answer)[1:]
    names = [*others[:column], answer, *others[column:]]
    size = 0.19 if k == 4 else 0.22
    slots = row_slots(rng, k, size)
    scene = Scene(plain_background(rng))
    for name, slot in zip(names, slots, strict=True):
        role = "target" if name == answer else "other"
        scene.glyphs.append(Glyph(name, OBJECT_BY_NAME[name].code, slot.x, slot.y, size, role=role))
    if relation == "framed":
        scene.boxes.append(frame_around(slots[column], size))
    question = rng.choice(RECOGNITION_PHRASES).format(rel=phrase)
    return Draft(question, answer, OBJECT_NAMES, shuffled(rng, others), scene, {"relation": relation})


def object_presence(rng: random.Random, yes: bool) -> Draft:
    asked = rng.choice(OBJECT_NAMES)
    siblings = [t.name for t in OBJECTS_BY_CATEGORY[CATEGORY_OF[asked]] if t.name != asked]
    sibling = rng.choice(siblings)
    k = rng.choice((3, 4, 5))
    # A sibling of the asked object (same category) is always there: "an animal is present" is
    # never enough to answer, and yes and no scenes hold the same number of objects.
    fill = [n for n in OBJECT_NAMES if n not in (asked, sibling)]
    present = ([asked] if yes else []) + [sibling] + rng.sample(fill, k - 2 if yes else k - 1)
    scene = Scene(plain_background(rng))
    cells = rng.sample(grid_cells(3, 3), k)
    size = 0.22
    for name, (x, y, cell) in zip(present, cells, strict=True):
        gx, gy = jitter(rng, x, y, cell, size)
        scene.glyphs.append(Glyph(name, OBJECT_BY_NAME[name].code, gx, gy, size, role="asked" if name == asked else ""))
    question = rng.choice(PRESENCE_PHRASES).format(x=article(asked))
    answer = YES_NO[0] if yes else YES_NO[1]
    return Draft(question, answer, YES_NO, (), scene, {"asked": asked})


def counting(rng: random.Random, yes: bool) -> Draft:
    n = rng.randint(1, len(NUMBERS))
    m = rng.choice([v for v in range(1, len(NUMBERS) + 1) if v != n])
    counted, other, *singles = distinct(rng, OBJECT_NAMES, 2 + rng.randint(0, 2))
    names = [counted] * n + [other] * m + singles
    cells = rng.sample(grid_cells(5, 5), len(names))
    size = 0.17
    scene = Scene(plain_background(rng))
    for name, (x, y, cell) in zip(names, cells, strict=True):
        gx, gy = jitter(rng, x, y, cell, size)
        scene.glyphs.append(
            Glyph(name, OBJECT_BY_NAME[name].code, gx, gy, size, role="counted" if name == counted else "")
        )
    question = rng.choice(COUNTING_PHRASES).format(many=OBJECT_BY_NAME[counted].many)
    return Draft(question, NUMBERS[n - 1], NUMBERS, (NUMBERS[m - 1],), scene, {"counted": counted, "other": other})


def color(rng: random.Random, yes: bool) -> Draft:
    color_names = tuple(COLORS)
    answer = rng.choice(color_names)
    k = rng.choice((3, 4))
    colors = distinct(rng, color_names, k, answer)
    names = distinct(rng, tuple(_TINTABLE_BY_NAME), k)
    cells = rng.sample(grid_cells(2, 2) if k == 4 else grid_cells(3, 3), k)
    size = 0.26 if k == 4 else 0.22
    scene = Scene(plain_background(rng))
    for i, (name, tint, (x, y, cell)) in enumerate(zip(names, colors, cells, strict=True)):
        gx, gy = jitter(rng, x, y, cell, size)
        scene.glyphs.append(Glyph(name, _TINTABLE_BY_NAME[name].code, gx, gy, size, tint, "target" if i == 0 else ""))
    question = rng.choice(COLOR_PHRASES).format(x=names[0])
    return Draft(question, answer, color_names, shuffled(rng, colors[1:]), scene, {"asked": names[0]})
