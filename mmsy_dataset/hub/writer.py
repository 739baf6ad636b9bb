"""Write constructed splits as a Hugging Face Hub dataset repo folder.

Layout: `README.md` (card with `configs` / `dataset_info` YAML), `data/<config>/<split>-NNNNN-of-NNNNN.parquet`
with images embedded, and `mmsy_manifest.json`. The folder is assembled in a sibling temporary
directory and moved into place only when complete, so a failed build never leaves a folder
that looks finished, and an existing dataset is replaced only after the new one is whole.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import datasets as hf_datasets
from datasets import Dataset, Features

from mmsy_dataset.errors import BuildError
from mmsy_dataset.features import features_for, to_row
from mmsy_dataset.hub.manifest import shard_name
from mmsy_dataset.schemas import QuestionRecord, record_type

Tick = Callable[[int], None]


def check_output(out: Path, overwrite: bool) -> None:
    """Refuse early (before any work) when the output cannot or must not be written."""
    if out.exists() and not out.is_dir():
        raise BuildError(f"output path {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise BuildError(f"output folder {out} is not empty; pass --overwrite to replace it")
    parent = out.parent if out.parent != Path("") else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BuildError(f"cannot create the output's parent folder {parent}: {error.strerror}") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BuildError(f"output folder {out}: parent {parent} is not writable")


def staging_dir(out: Path) -> Path:
    """A fresh temporary folder beside `out` (same file system, so the final move is a rename)."""
    try:
        return Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    except OSError as error:
        raise BuildError(f"cannot write next to {out}: {error.strerror}") from None


def publish(staging: Path, out: Path) -> None:
    """Move the finished staging folder to `out`, replacing what was there only at the end."""
    trash = None
    if out.exists():
        trash = out.parent / f".{out.name}.old-{os.getpid()}"
        out.rename(trash)
    staging.rename(out)
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)


def write_split(
    folder: Path,
    config: str,
    split: str,
    records: Sequence[QuestionRecord],
    shard_rows: int,
    tick: Tick | None = None,
) -> tuple[list[str], int]:
    """Parquet shards of one split: their paths relative to `folder`, and the split's Arrow size."""
    cls = record_type(config)
    wrong = [r.id for r in records if type(r) is not cls]
    if wrong:
        raise BuildError(f"config {config}: records of another type, e.g. {wrong[:3]}")
    features = features_for(cls)
    total = max(1, math.ceil(len(records) / shard_rows))
    paths = []
    num_bytes = 0
    quiet = hf_datasets.are_progress_bars_disabled()
    hf_datasets.disable_progress_bars()  # our own rich progress reports the writing
    try:
        for index in range(total):
            rel, size = _write_shard(folder, config, split, records, features, index, total, shard_rows)
            num_bytes += size
            paths.append(rel)
            if tick:
                tick(min(shard_rows, len(records) - index * shard_rows))
    finally:
        if not quiet:
            hf_datasets.enable_progress_bars()
    return paths, num_bytes


def _write_shard(
    folder: Path,
    config: str,
    split: str,
    records: Sequence[QuestionRecord],
    features: Features,
    index: int,
    total: int,
    shard_rows: int,
) -> tuple[str, int]:
    chunk = records[index * shard_rows : (index + 1) * shard_rows]
    rel = shard_name(config, split, index, total)
    path = folder / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    dataset = Dataset.from_list([to_row(r) for r in chunk], features=features)
    dataset.to_parquet(str(path))
    return rel, dataset.data.nbytes
