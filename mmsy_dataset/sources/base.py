"""The source interface and its registry.

A source yields base VQA items per task and partition; construction turns them into MM-SY
records. Sources never decide options, tones or splits.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from mmsy_dataset.schemas import BaseItem, Provenance, QuestionRecord
from mmsy_dataset.tasks import Partition, Task


@dataclass(frozen=True)
class SourceInfo:
    """What the dataset card says about a source."""

    name: str
    description: str
    license: str
    """SPDX-like license id of the images and texts the source produces."""
    attribution: str = ""
    """Attribution text the license requires (rendered into the card)."""
    details: dict[str, Any] = field(default_factory=dict)
    """Facts worth recording (image size, smallest glyph size, files read, skipped ids)."""


@runtime_checkable
class Source(Protocol):
    """Yields base items. Iteration order is deterministic for a given configuration."""

    name: str

    def items(self, task: Task, partition: Partition) -> Iterator[BaseItem]:
        """Items of one task in one partition, in a deterministic order (possibly endless)."""
        ...

    def info(self) -> SourceInfo: ...


@runtime_checkable
class RecordSource(Source, Protocol):
    """A source whose records already exist (an imported release): the build skips construction.

    Returns records by config and split, in a deterministic order; configs it cannot provide
    faithfully are left out (and said so in `info()`), never invented.
    """

    def records(
        self, provenance: Provenance, tasks: tuple[Task, ...], configs: tuple[str, ...]
    ) -> dict[str, dict[str, list[QuestionRecord]]]: ...


SourceFactory = Callable[..., Source]
_REGISTRY: dict[str, SourceFactory] = {}


def register_source(name: str) -> Callable[[SourceFactory], SourceFactory]:
    def decorate(factory: SourceFactory) -> SourceFactory:
        _REGISTRY[name] = factory
        return factory

    return decorate


def get_source(name: str, **options: Any) -> Source:
    """Build a registered source; a miss names the closest match and every known source."""
    # Importing the package registers the built-in sources.
    import mmsy_dataset.sources  # noqa: F401

    try:
        factory = _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"Unknown source {name!r}.{hint} Available: {', '.join(sorted(_REGISTRY))}") from None
    return factory(**options)


def source_names() -> list[str]:
    import mmsy_dataset.sources  # noqa: F401

    return sorted(_REGISTRY)
