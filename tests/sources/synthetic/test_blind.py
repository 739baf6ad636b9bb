"""Blind check (issue 2): a text-only option scorer stays near chance on every task."""

from __future__ import annotations

import random

import pytest

from mmsy_dataset.sources.synthetic import SyntheticSource
from mmsy_dataset.sources.synthetic.blind import blind_accuracy, build_options
from mmsy_dataset.tasks import TASKS, Partition, Task

#: Allowed margin over chance; ~3 standard errors at 400 test items.
MARGIN = 0.08


@pytest.fixture(scope="module")
def source() -> SyntheticSource:
    return SyntheticSource(image_size=64)


def test_options_prefer_scene_distractors(source: SyntheticSource) -> None:
    item = source.item(Task.POSITIONAL_REASONING, Partition.TRAIN, 0)
    options = build_options(item, random.Random(0))
    assert len(options) == 4 and item.answer in options
    assert len(set(options) & set(item.preferred_distractors)) == min(3, len(item.preferred_distractors))
    yes_no = source.item(Task.OBJECT_PRESENCE, Partition.TRAIN, 0)
    assert sorted(build_options(yes_no, random.Random(0))) == ["no", "yes"]


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS, ids=str)
def test_text_only_scorer_is_near_chance(source: SyntheticSource, task: Task) -> None:
    result = blind_accuracy(source, task, n_train=600, n_test=400)
    assert result.accuracy <= result.chance + MARGIN, result
