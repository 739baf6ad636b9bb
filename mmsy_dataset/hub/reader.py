"""Read a built MM-SY folder (or a Hub dataset repo) back into pydantic records.

The engine and the submission checks read parquet directly with pyarrow rather than through
`datasets.load_dataset`: no cache directory, no image decoding, and a bad row is reported with
its file, row and field instead of a deep Arrow traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from pydantic import ValidationError

from mmsy_dataset.errors import InputError
from mmsy_dataset.hub.manifest import CARD, MANIFEST
from mmsy_dataset.schemas import CONFIG_SPLITS, QuestionRecord, record_type


def resolve_dataset(dataset: str | Path, revision: str | None = None) -> Path:
    """A local folder as is; anything else is taken as a Hub dataset repo id and downloaded."""
    path = Path(dataset)
    if path.is_dir():
        return path
    if path.exists() or str(dataset).startswith((".", "/", "~")):
        raise InputError("not a dataset folder", file=path)
    from huggingface_hub import snapshot_download

    try:
        local = snapshot_download(repo_id=str(dataset), repo_type="dataset", revision=revision)
    except Exception as error:  # hub errors are many; the message is what the user needs
        raise InputError(
            f"could not fetch dataset repo {dataset!r} from the Hub ({type(error).__name__}: {error}). "
            "Pass a local folder written by `mmsy build` instead."
        ) from None
    return Path(local)


def split_files(folder: Path, config: str, split: str) -> list[Path]:
    if split not in CONFIG_SPLITS.get(config, ()):
        raise InputError(f"config {config!r} has no split {split!r}; it has {CONFIG_SPLITS.get(config)}")
    files = sorted((folder / "data" / config).glob(f"{split}-*.parquet"))
    if not files:
        hint = "" if (folder / MANIFEST).exists() or (folder / CARD).exists() else " (is this an MM-SY folder?)"
        raise InputError(f"no parquet files for config {config!r} split {split!r}{hint}", file=folder)
    return files


def _row_to_record(cls: type[QuestionRecord], row: dict[str, Any], path: Path, index: int) -> QuestionRecord:
    image = row.get("image")
    if isinstance(image, dict):
        row["image"] = image.get("bytes")
    try:
        return cls.model_validate(row)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        rid = row.get("id", f"row {index}")
        raise InputError(f"{first['msg']} (row {index})", file=path, record=rid, field=field) from None


def read_records(
    folder: str | Path,
    config: str,
    split: str = "test",
    limit: int | None = None,
) -> list[QuestionRecord]:
    """Records of one config/split, in file order; `limit` keeps the first n."""
    root = resolve_dataset(folder)
    cls = record_type(config)
    records: list[QuestionRecord] = []
    for path in split_files(root, config, split):
        try:
            table = pq.read_table(path)
        except Exception as error:
            raise InputError(f"unreadable parquet ({error})", file=path) from None
        for index, row in enumerate(table.to_pylist()):
            if limit is not None and len(records) >= limit:
                return records
            records.append(_row_to_record(cls, row, path, index))
    return records


def read_columns(folder: str | Path, config: str, split: str, columns: list[str]) -> dict[str, list[Any]]:
    """Selected columns of a split without building records (ids for validation, say)."""
    root = resolve_dataset(folder)
    out: dict[str, list[Any]] = {c: [] for c in columns}
    for path in split_files(root, config, split):
        try:
            table = pq.read_table(path, columns=columns)
        except Exception as error:
            raise InputError(f"unreadable parquet ({error})", file=path) from None
        for column in columns:
            out[column] += table.column(column).to_pylist()
    return out
