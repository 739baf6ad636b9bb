"""Reading the benchmark for a run, and the facts about data and weights that run.json records."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import Any

from mmsy_dataset.schemas import QuestionRecord


def load_records(
    dataset: str, configs: list[str], split: str = "test", limit: int | None = None
) -> tuple[list[QuestionRecord], dict[str, Any]]:
    """Records of the chosen configs (at most `limit` each), and the dataset's facts for run.json."""
    from mmsy_dataset.hub import read_records, resolve_dataset

    folder = resolve_dataset(dataset)
    records: list[QuestionRecord] = []
    counts = {}
    for config in configs:
        part = read_records(folder, config, split=split, limit=limit)
        counts[config] = len(part)
        records.extend(part)
    return records, {**dataset_facts(folder), "source": dataset, "records": counts}


def dataset_facts(folder: Path) -> dict[str, Any]:
    """Version, seed, source and checksum from `mmsy_manifest.json` (what the build wrote)."""
    manifest = folder / "mmsy_manifest.json"
    if not manifest.exists():
        return {"folder": str(folder), "manifest": None}
    data = json.loads(manifest.read_text(encoding="utf-8"))
    keep = ("version", "seed", "source", "checksum", "data_checksum")
    return {"folder": str(folder), **{k: data[k] for k in keep if k in data}}


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in ("mmsy", "torch", "transformers", "tokenizers", "datasets", "huggingface-hub", "pydantic"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out
