"""The record ids of a built dataset folder, read without decoding a single image.

Submission validation needs, per benchmark record, only its id and the facts a prediction must
repeat (question, letters, task, tone, number of pushes). Reading those few parquet columns
keeps validation fast on a folder of several hundred megabytes of images.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mmsy_dataset.tasks import BENCHMARK_CONFIGS

MANIFEST = "mmsy_manifest.json"
_COLUMNS = ("id", "question_id", "options", "answer_letter", "push_letter", "task", "tone", "pushes")


class DatasetIndexError(ValueError):
    """A dataset folder that cannot be indexed; the message names the file."""


@dataclass(frozen=True)
class RecordFacts:
    """What a prediction must agree with, for one dataset record."""

    config: str
    question_id: str
    n_options: int
    answer_letter: str
    push_letter: str | None
    task: str
    tone: str | None
    n_pushes: int
    """Pushes in the dialogue: 1, or 1-5 for multi_round."""


@dataclass(frozen=True)
class DatasetIndex:
    """Manifest facts and the benchmark records of one dataset build."""

    version: str
    checksum: str
    records: dict[str, RecordFacts]


def load_dataset_index(folder: str | Path, configs: tuple[str, ...] = BENCHMARK_CONFIGS) -> DatasetIndex:
    """Index of the benchmark configs' `test` split of a Hub-layout folder with a manifest."""
    import pyarrow.parquet as pq

    folder = Path(folder)
    manifest_path = folder / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        version, checksum = str(manifest["version"]), str(manifest["checksum"])
    except FileNotFoundError:
        raise DatasetIndexError(f"{manifest_path}: not found; is {folder} a built MM-SY dataset folder?") from None
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DatasetIndexError(f"{manifest_path}: unreadable manifest ({exc!r}); rebuild the dataset") from None
    records: dict[str, RecordFacts] = {}
    for config in configs:
        files = sorted((folder / "data" / config).glob("test-*.parquet"))
        for path in files:
            schema = pq.read_schema(path)
            columns = [c for c in _COLUMNS if c in schema.names]
            rows = pq.read_table(path, columns=columns).to_pylist()
            for row in rows:
                records[row["id"]] = RecordFacts(
                    config=config,
                    question_id=row["question_id"],
                    n_options=len(row["options"]),
                    answer_letter=row["answer_letter"],
                    push_letter=row.get("push_letter"),
                    task=row["task"],
                    tone=row.get("tone"),
                    n_pushes=len(row["pushes"]) if row.get("pushes") is not None else 1,
                )
    if not records:
        raise DatasetIndexError(f"{folder}/data: no benchmark parquet files (data/<config>/test-*.parquet)")
    return DatasetIndex(version=version, checksum=checksum, records=records)
