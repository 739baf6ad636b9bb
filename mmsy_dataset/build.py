"""`mmsy build`: source -> construction -> Hub-layout folder, with progress and a summary.

Everything the output depends on is in `BuildConfig` and is written to the manifest, so a
folder can be rebuilt byte for byte from its own manifest.
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from mmsy_dataset.construction import RecordFactory, Sizes, construct
from mmsy_dataset.construction.plan import items_needed
from mmsy_dataset.hub.card import render_card
from mmsy_dataset.hub.manifest import (
    CARD,
    LISTED_DUPLICATES,
    DuplicateImages,
    Manifest,
    data_checksum,
    sha256_file,
    write_manifest,
)
from mmsy_dataset.hub.writer import check_output, publish, staging_dir, write_split
from mmsy_dataset.sources import get_source
from mmsy_dataset.sources.base import RecordSource
from mmsy_dataset.tasks import CONFIGS, TASKS, Task

_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$")


class BuildConfig(BaseModel):
    """Everything a build's output depends on."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    version: str = "1.0.0"
    """Semantic version written into the card and every record."""
    seed: int = 0
    """Seed of every random choice (scenes, options, templates, tones)."""
    source: str = "synthetic"
    """Registered source name (synthetic, tdiuc, mmsy-release)."""
    source_options: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments of the source (image_size, font_path, tdiuc_dir, ...)."""
    tasks: tuple[Task, ...] = TASKS
    """Tasks to include."""
    configs: tuple[str, ...] = CONFIGS
    """Hub configs to write."""
    sizes: Sizes = Sizes()
    """Questions and records per part."""
    shard_rows: int = Field(5000, ge=1)
    """Rows per parquet file."""

    @field_validator("version")
    @classmethod
    def _semver(cls, value: str) -> str:
        if not _SEMVER.match(value):
            raise ValueError(f"version {value!r} is not a semantic version (MAJOR.MINOR.PATCH)")
        return value

    @field_validator("configs")
    @classmethod
    def _configs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [c for c in value if c not in CONFIGS]
        if unknown:
            raise ValueError(f"unknown configs {unknown}; known: {', '.join(CONFIGS)}")
        return tuple(c for c in CONFIGS if c in value)

    def command(self) -> str:
        """The `mmsy build` command line that reproduces this configuration."""
        parts = ["mmsy build", f"--source {self.source}", f"--version {self.version}", f"--seed {self.seed}"]
        flags = {"font_path": "font", "path": "path"}
        for key, value in sorted(self.source_options.items()):
            flag = "--" + flags.get(key, key).replace("_", "-")
            if value is True:
                parts.append(flag)
            elif value not in (False, None):
                parts.append(f"{flag} {value}")
        if self.tasks != TASKS:
            parts.append("--tasks " + ",".join(t.value for t in self.tasks))
        if self.configs != CONFIGS:
            parts.append("--configs " + ",".join(self.configs))
        for name, value in self.sizes.model_dump().items():
            if value != Sizes.model_fields[name].default:
                parts.append(f"--{name.replace('_', '-')} {value}")
        return " ".join(parts) + " --out OUT"


@dataclass(frozen=True)
class BuildResult:
    out: Path
    counts: dict[str, dict[str, dict[str, int]]]
    """Records per config, split and task."""
    checksum: str
    seconds: float
    items: int
    """Base items (images) drawn from the source."""
    size_bytes: int


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def build_dataset(
    config: BuildConfig,
    out: str | Path,
    *,
    overwrite: bool = False,
    console: Console | None = None,
) -> BuildResult:
    """Build the dataset folder at `out`; nothing appears there unless the build completes."""
    from mmsy_dataset import __version__

    console = console or Console(stderr=True)
    out = Path(out)
    check_output(out, overwrite)
    source = get_source(config.source, seed=config.seed, **config.source_options)
    factory = RecordFactory(version=config.version, seed=config.seed, source=source.name)
    start = time.perf_counter()
    n_items = items_needed(config.tasks, config.sizes, config.configs)
    staging = staging_dir(out)
    duplicates: DuplicateImages | None = None
    try:
        with _progress(console) as progress:
            if isinstance(source, RecordSource):  # an imported release: its records are final
                splits = source.records(factory.provenance, config.tasks, config.configs)
                n_items = len({r.question_id for rs in splits.values() for records in rs.values() for r in records})
            else:
                drawing = progress.add_task("drawing questions", total=n_items)
                made = construct(
                    source,
                    factory,
                    config.tasks,
                    config.sizes,
                    config.configs,
                    tick=lambda n: progress.advance(drawing, n),
                )
                splits = made.splits
                if made.excluded:
                    duplicates = DuplicateImages(count=len(made.excluded), first_ids=made.excluded[:LISTED_DUPLICATES])
            splits = {c: {s: rs for s, rs in by_split.items() if rs} for c, by_split in splits.items()}
            splits = {c: by_split for c, by_split in splits.items() if by_split}
            n_records = sum(len(rs) for by_split in splits.values() for rs in by_split.values())
            writing = progress.add_task("writing parquet", total=n_records)
            num_bytes: dict[str, dict[str, int]] = {}
            for name, by_split in splits.items():
                for split, records in by_split.items():
                    _, size = write_split(
                        staging,
                        name,
                        split,
                        records,
                        config.shard_rows,
                        tick=lambda n: progress.advance(writing, n),
                    )
                    num_bytes.setdefault(name, {})[split] = size
        files = {p.relative_to(staging).as_posix(): sha256_file(p) for p in sorted(staging.rglob("*.parquet"))}
        checksum = data_checksum(files)
        info = source.info()
        card = render_card(
            splits,
            num_bytes,
            version=config.version,
            seed=config.seed,
            checksum=checksum,
            info=info,
            builder=f"mmsy {__version__}",
            build_command=config.command(),
            duplicates=duplicates,
        )
        (staging / CARD).write_text(card, encoding="utf-8")
        files[CARD] = sha256_file(staging / CARD)
        counts = {c: {s: len(rs) for s, rs in by_split.items()} for c, by_split in splits.items()}
        write_manifest(
            staging,
            Manifest(
                version=config.version,
                seed=config.seed,
                source=source.name,
                checksum=checksum,
                counts=counts,
                files=dict(sorted(files.items())),
                build=config.model_dump(mode="json"),
                source_info={
                    "name": info.name,
                    "license": info.license,
                    "attribution": info.attribution,
                    "details": info.details,
                },
                duplicate_images=duplicates,
            ),
        )
        publish(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    per_task: dict[str, dict[str, dict[str, int]]] = {}
    for name, by_split in splits.items():
        for split, records in by_split.items():
            tally: dict[str, int] = {}
            for r in records:
                tally[r.task.value] = tally.get(r.task.value, 0) + 1
            per_task.setdefault(name, {})[split] = tally
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return BuildResult(out, per_task, checksum, time.perf_counter() - start, n_items, size)


_SHORT_CONFIG = {
    "sycophancy": "syc",
    "correction_with_answer": "cor w/ a",
    "correction_without_answer": "cor w/o a",
    "multi_round": "multi",
    "probing": "probe",
    "sft": "sft",
    "dpo": "dpo",
}


_SHORT_TASK = {
    "activity_recognition": "activity",
    "object_presence": "presence",
    "object_recognition": "object",
    "positional_reasoning": "position",
    "scene_recognition": "scene",
    "sport_recognition": "sport",
    "utility_affordance": "affordance",
}


def summary_table(result: BuildResult) -> Table:
    """Records per task (rows) and config/split (columns): the build's closing summary."""
    columns = [(c, s) for c, splits in result.counts.items() for s in splits]
    tasks = sorted({t for splits in result.counts.values() for tally in splits.values() for t in tally})
    table = Table(title="MM-SY build: records per task, config and split")
    table.add_column("task", no_wrap=True)
    for config, split in columns:
        suffix = "" if len(result.counts[config]) == 1 else f" {split}"
        table.add_column(_SHORT_CONFIG.get(config, config) + suffix, justify="right")
    for task in tasks:
        table.add_row(_SHORT_TASK.get(task, task), *[str(result.counts[c][s].get(task, 0)) for c, s in columns])
    table.add_row(
        "total", *[str(sum(result.counts[c][s].values())) for c, s in columns], style="bold", end_section=True
    )
    return table


__all__ = ["BuildConfig", "BuildResult", "build_dataset", "summary_table"]
