"""The synthetic world's catalogue and scenes: font coverage, pool hygiene, exact answers."""

from __future__ import annotations

import itertools
import json

import pytest
from fontTools.ttLib import TTFont

from mmsy_dataset.sources.synthetic import GENERATORS, SyntheticSource
from mmsy_dataset.sources.synthetic.glyphs import NUMBERS, SCENES, all_code_points
from mmsy_dataset.sources.synthetic.render import default_font_path
from mmsy_dataset.tasks import TASKS, Partition, Task


@pytest.fixture(scope="module")
def source() -> SyntheticSource:
    return SyntheticSource(image_size=64)


def scenes(source: SyntheticSource, task: Task, n: int = 120) -> list[tuple[str, str, dict]]:
    items = itertools.islice(source.items(task, Partition.TRAIN), n)
    return [(i.question, i.answer, json.loads(i.meta)) for i in items]


def test_every_glyph_is_in_the_font() -> None:
    cmap = TTFont(default_font_path())["cmap"].getBestCmap()
    missing = sorted(f"U+{c:04X}" for c in all_code_points() if c not in cmap)
    assert not missing


def test_generator_for_every_task() -> None:
    assert set(GENERATORS) == set(TASKS)


def test_pool_values_are_not_stem_variants_of_each_other(source: SyntheticSource) -> None:
    for task in TASKS:
        pool = source.item(task, Partition.TRAIN, 0).answer_pool
        stems = [v.replace(" ", "")[:5] for v in pool if len(v) >= 5 and "o'clock" not in v]
        assert len(stems) == len(set(stems)), (task, pool)
        for a, b in itertools.permutations(pool, 2):
            assert a not in b.split(), (task, a, b)


def test_positional_answer_is_the_only_object_on_the_asked_side(source: SyntheticSource) -> None:
    for question, answer, meta in scenes(source, Task.POSITIONAL_REASONING):
        glyphs = meta["scene"]["glyphs"]
        relation = meta["question"]["relation"]
        if relation.endswith(" edge"):
            key, sign = {"left": ("x", -1), "right": ("x", 1), "top": ("y", -1), "bottom": ("y", 1)}[
                relation.split()[0]
            ]
            best = max(glyphs, key=lambda g: sign * g[key])
            assert best["name"] == answer
            assert all(sign * (best[key] - g[key]) > 0.1 for g in glyphs if g is not best)
            continue
        anchor = next(g for g in glyphs if g["role"] == "anchor")
        assert anchor["name"] in question and answer not in question.rstrip("?").split()
        key, sign = {"to the left of": ("x", -1), "to the right of": ("x", 1), "above": ("y", -1),
                     "below": ("y", 1)}[relation]  # fmt: skip
        beyond = [g["name"] for g in glyphs if sign * (g[key] - anchor[key]) > 0.1]
        assert beyond == [answer]


@pytest.mark.slow
def test_counting_answer_matches_the_scene(source: SyntheticSource) -> None:
    for _, answer, meta in scenes(source, Task.COUNTING):
        counted = meta["question"]["counted"]
        n = sum(g["name"] == counted for g in meta["scene"]["glyphs"])
        assert NUMBERS[n - 1] == answer


def test_counting_glyphs_never_overlap(source: SyntheticSource) -> None:
    for _, _, meta in scenes(source, Task.COUNTING, 60):
        glyphs = meta["scene"]["glyphs"]
        for a, b in itertools.combinations(glyphs, 2):
            gap = max(abs(a["x"] - b["x"]), abs(a["y"] - b["y"]))
            assert gap >= (a["size"] + b["size"]) / 2 - 1e-9


def test_presence_answer_matches_the_scene(source: SyntheticSource) -> None:
    for _, answer, meta in scenes(source, Task.OBJECT_PRESENCE):
        names = {g["name"] for g in meta["scene"]["glyphs"]}
        assert (meta["question"]["asked"] in names) == (answer == "yes")


def test_framed_target_is_the_answer(source: SyntheticSource) -> None:
    for task in (Task.OBJECT_RECOGNITION, Task.UTILITY_AFFORDANCE, Task.ACTIVITY_RECOGNITION):
        for _, _, meta in scenes(source, task):
            frames = meta["scene"]["boxes"]
            if meta["question"].get("relation") != "framed":
                assert not frames
                continue
            (frame,) = frames
            inside = [g for g in meta["scene"]["glyphs"] if frame["x0"] < g["x"] < frame["x1"]]
            assert [g["role"] for g in inside] == ["target"]


def test_scene_answer_has_most_of_the_objects(source: SyntheticSource) -> None:
    own = {name: {t.name for t in things} for name, things in SCENES.items()}
    for _, answer, meta in scenes(source, Task.SCENE_RECOGNITION):
        names = [g["name"] for g in meta["scene"]["glyphs"]]
        assert sum(n in own[answer] for n in names) >= 3
        for decoy in meta["question"]["decoys"]:
            assert sum(n in own[decoy] for n in names) <= 1
