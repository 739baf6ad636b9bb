"""Activity, sport and scene recognition: the answer is what the group or the setting shows.

Each scene carries a decoy (a person doing something else, another sport's equipment off the
field, an object from another setting), so spotting one salient glyph is not enough: the model
has to find which glyphs belong to the asked group. The decoy's label is a preferred distractor.
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
from mmsy_dataset.sources.synthetic.glyphs import ACTIVITIES, PLAYERS, SCENE_BACKGROUNDS, SCENES, SPORTS
from mmsy_dataset.sources.synthetic.scene import (
    Background,
    Box,
    Glyph,
    Scene,
    blobs,
    grid_cells,
    jitter,
    plain_background,
)

ACTIVITY_NAMES: tuple[str, ...] = tuple(t.name for t in ACTIVITIES)
_ACTIVITY = {t.name: t for t in ACTIVITIES}
SPORT_NAMES: tuple[str, ...] = tuple(t.name for t in SPORTS)
_SPORT = {t.name: t for t in SPORTS}
SCENE_NAMES: tuple[str, ...] = tuple(SCENES)

MAJORITY_PHRASES = (
    "What are most of the people doing?",
    "What activity are most people in the picture doing?",
    "What are the majority of the people doing?",
)
SINGLE_PHRASES = (
    "What is the person {rel} doing?",
    "What activity is the person {rel} doing?",
    "What is the person {rel} busy with?",
)
SPORT_PHRASES = (
    "What sport is being played on the field?",
    "Which sport are the players on the field playing?",
    "What game are the people on the court playing?",
    "Which sport is played inside the marked area?",
)
SCENE_PHRASES = (
    "What kind of place is shown?",
    "Where was this picture taken?",
    "What setting does this image show?",
    "Which place does the scene depict?",
)
_FIELD_COLORS = ((90, 160, 80), (200, 110, 70), (70, 120, 190), (190, 150, 100))


def activity_recognition(rng: random.Random, yes: bool) -> Draft:
    answer = rng.choice(ACTIVITY_NAMES)
    if rng.random() < 0.5:
        return _majority(rng, answer)
    k = rng.choice((3, 4))
    relation, column, phrase = single_out(rng, k)
    others = distinct(rng, ACTIVITY_NAMES, k, answer)[1:]
    acts = [*others[:column], answer, *others[column:]]
    size = 0.19 if k == 4 else 0.22
    slots = row_slots(rng, k, size)
    scene = Scene(plain_background(rng))
    for act, slot in zip(acts, slots, strict=True):
        scene.glyphs.append(
            Glyph(act, _ACTIVITY[act].code, slot.x, slot.y, size, role="target" if act == answer else "other")
        )
    if relation == "framed":
        scene.boxes.append(frame_around(slots[column], size))
    question = rng.choice(SINGLE_PHRASES).format(rel=phrase)
    return Draft(question, answer, ACTIVITY_NAMES, shuffled(rng, others), scene, {"relation": relation})


def _majority(rng: random.Random, answer: str) -> Draft:
    group = rng.choice((2, 3))
    decoy = rng.choice([a for a in ACTIVITY_NAMES if a != answer])
    acts = [answer] * group + [decoy]
    cells = rng.sample(grid_cells(2, 3), len(acts))
    size = 0.24
    scene = Scene(plain_background(rng))
    for act, (x, y, cell) in zip(acts, cells, strict=True):
        gx, gy = jitter(rng, x, y, cell, size)
        scene.glyphs.append(Glyph(act, _ACTIVITY[act].code, gx, gy, size, role="group" if act == answer else "decoy"))
    question = rng.choice(MAJORITY_PHRASES)
    return Draft(question, answer, ACTIVITY_NAMES, (decoy,), scene, {"relation": "majority"})


def sport_recognition(rng: random.Random, yes: bool) -> Draft:
    """Players and equipment on a court; another sport's equipment lies outside it."""
    answer = rng.choice(SPORT_NAMES)
    decoy = rng.choice([s for s in SPORT_NAMES if s != answer])
    scene = Scene(plain_background(rng))
    scene.boxes.append(Box("field", 0.04, 0.3, 0.96, 0.96, rng.choice(_FIELD_COLORS)))
    inside = [PLAYERS[i] for i in rng.sample(range(len(PLAYERS)), rng.choice((1, 2)))]
    inside += [_SPORT[answer]] * rng.choice((1, 2))
    rng.shuffle(inside)
    size = 0.2
    cells = rng.sample([(x, 0.3 + y * 0.66, cell * 0.66) for x, y, cell in grid_cells(2, 4, 0.0)], len(inside))
    for thing, (x, y, _cell) in zip(inside, cells, strict=True):
        gx, gy = jitter(rng, x, y, 0.24, size)
        scene.glyphs.append(
            Glyph(thing.name, thing.code, gx, gy, size, role="equipment" if thing.name == answer else "player")
        )
    dx = rng.uniform(0.12, 0.88)
    scene.glyphs.append(Glyph(decoy, _SPORT[decoy].code, dx, 0.14, 0.17, role="decoy"))
    question = rng.choice(SPORT_PHRASES)
    return Draft(question, answer, SPORT_NAMES, (decoy,), scene, {"decoy": decoy})


def scene_recognition(rng: random.Random, yes: bool) -> Draft:
    """Three or four characteristic objects on the setting's backdrop, plus one or two intruders."""
    answer = rng.choice(SCENE_NAMES)
    own = SCENES[answer]
    decoy_scenes = distinct(rng, [s for s in SCENE_NAMES if s != answer], rng.choice((1, 1, 2)))
    own_names = {t.name for t in own}
    decoys = [rng.choice([t for t in SCENES[s] if t.name not in own_names]) for s in decoy_scenes]
    things = rng.sample(own, rng.choice((3, 4))) + decoys
    top, bottom, horizon = SCENE_BACKGROUNDS[answer]
    scene = Scene(Background(top, bottom, horizon, blobs(rng, top, rng.randint(1, 3))))
    cells = rng.sample(grid_cells(3, 3), len(things))
    size = 0.22
    for thing, (x, y, cell) in zip(things, cells, strict=True):
        gx, gy = jitter(rng, x, y, cell, size)
        scene.glyphs.append(Glyph(thing.name, thing.code, gx, gy, size, role="decoy" if thing in decoys else "setting"))
    question = rng.choice(SCENE_PHRASES)
    return Draft(question, answer, SCENE_NAMES, shuffled(rng, decoy_scenes), scene, {"decoys": decoy_scenes})
