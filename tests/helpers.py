"""Shared test builders: a tiny in-memory source, quick builds."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

from PIL import Image

from mmsy_dataset.schemas import BaseItem
from mmsy_dataset.sources.base import SourceInfo, register_source
from mmsy_dataset.tasks import Partition, Task

COLORS = {
    "red": (220, 30, 30),
    "green": (30, 180, 60),
    "blue": (30, 60, 220),
    "yellow": (240, 220, 30),
    "purple": (140, 40, 170),
    "orange": (250, 140, 20),
    "black": (10, 10, 10),
    "white": (250, 250, 250),
    "brown": (120, 70, 20),
    "pink": (250, 150, 190),
}


def png(color: tuple[int, int, int], size: int = 16, mark: int = 0) -> bytes:
    image = Image.new("RGB", (size, size), color)
    image.putpixel((mark % size, (mark // size) % size), (mark % 251, 7, 3))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


class FixtureSource:
    """Coloured squares, all ten tasks asked as 'colour' questions: fast and exact."""

    name = "fixture"

    def __init__(self, seed: int = 0, limit: int | None = None, image_size: int = 16) -> None:
        self.seed = seed
        self.limit = limit
        self.size = image_size

    def items(self, task: Task, partition: Partition) -> Iterator[BaseItem]:
        names = sorted(COLORS)
        index = 0
        while self.limit is None or index < self.limit:
            tag = f"{partition.value[0]}-{task.value}-{index:05d}"
            yes_no = task is Task.OBJECT_PRESENCE
            color = names[(index * 7 + self.seed) % len(names)]
            answer = ("yes" if index % 2 == 0 else "no") if yes_no else color
            yield BaseItem(
                item_id=f"fixture-{tag}",
                image_id=f"img-{tag}",
                image=png(
                    COLORS[color],
                    self.size,
                    mark=index * 31 + len(task.value) + (7 if partition is Partition.TRAIN else 0) * 1000,
                ),
                question=f"Is the square {color}?" if yes_no else "What colour is the square?",
                answer=answer,
                task=task,
                answer_pool=("yes", "no") if yes_no else tuple(names),
                source=self.name,
                meta=json.dumps({"color": color}),
            )
            index += 1

    def info(self) -> SourceInfo:
        return SourceInfo(name=self.name, description="Coloured squares for tests.", license="CC0-1.0")


register_source("fixture")(FixtureSource)


def small_config(**overrides: object):
    from mmsy_dataset.build import BuildConfig
    from mmsy_dataset.construction import Sizes

    sizes = Sizes(questions_per_task=8, probing_train=20, probing_test=10, sft=10, dpo=20)
    base = {"source": "fixture", "sizes": sizes, "shard_rows": 100}
    base.update(overrides)
    return BuildConfig(**base)  # type: ignore[arg-type]


def build_small(out: Path, **overrides: object):
    from rich.console import Console

    from mmsy_dataset.build import build_dataset

    return build_dataset(small_config(**overrides), out, console=Console(file=io.StringIO()))
