"""The checksum manifest of a built dataset folder, and the folder layout.

`mmsy_manifest.json` pins the exact bytes of every file: leaderboard submissions quote the
dataset checksum, and the engine records it in `run.json`, so a score is tied to the data.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from mmsy_dataset.errors import InputError

MANIFEST = "mmsy_manifest.json"
CARD = "README.md"


def shard_name(config: str, split: str, index: int, total: int) -> str:
    return f"data/{config}/{split}-{index:05d}-of-{total:05d}.parquet"


def split_glob(config: str, split: str) -> str:
    return f"data/{config}/{split}-*.parquet"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def data_checksum(files: dict[str, str]) -> str:
    """One sha256 over the data files' (path, sha256) pairs: the dataset's identity."""
    lines = "".join(f"{sha}  {path}\n" for path, sha in sorted(files.items()) if path.startswith("data/"))
    return hashlib.sha256(lines.encode()).hexdigest()


#: How many left-out item ids the card and manifest list.
LISTED_DUPLICATES = 20


class DuplicateImages(BaseModel):
    """Training / probing items left out because their image bytes equal a benchmark image."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    count: int
    """How many items were left out (others were drawn in their place)."""
    first_ids: list[str]
    """The first left-out item ids, in the order they were drawn."""


class Manifest(BaseModel):
    """What `mmsy_manifest.json` holds."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    name: str = "mmsy"
    """Dataset name."""
    version: str
    """Semantic version of the build."""
    seed: int
    """Seed of the build."""
    source: str
    """Source of the base items."""
    checksum: str
    """sha256 over the data files (see `data_checksum`)."""
    counts: dict[str, dict[str, int]]
    """Records per config and split."""
    files: dict[str, str]
    """sha256 of every file in the folder except this manifest, by relative path."""
    build: dict[str, Any]
    """The full build configuration, for rebuilding."""
    source_info: dict[str, Any]
    """What the source reports about itself (license, attribution, details)."""
    duplicate_images: DuplicateImages | None = None
    """Training / probing items left out for showing a benchmark image (absent: none were)."""

    @field_validator("files")
    @classmethod
    def _inside_the_folder(cls, files: dict[str, str]) -> dict[str, str]:
        """Paths are relative and stay in the folder: a manifest from elsewhere never makes
        `verify_folder` read (or hash a huge) file outside it."""
        for rel in files:
            parts = PurePosixPath(rel).parts
            if not rel or rel.startswith(("/", "\\")) or ".." in parts or ":" in rel or "\\" in rel:
                raise ValueError(f"{rel!r} is not a path inside the dataset folder")
        return files


def write_manifest(folder: Path, manifest: Manifest) -> None:
    text = json.dumps(manifest.model_dump(mode="json", exclude_none=True), indent=2, sort_keys=True) + "\n"
    (folder / MANIFEST).write_text(text, encoding="utf-8")


def read_manifest(folder: str | Path) -> Manifest:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise InputError("no MM-SY manifest here; is this a folder written by `mmsy build`?", file=path)
    try:
        return Manifest.model_validate_json(path.read_bytes())
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        raise InputError(f"invalid manifest: {first['msg']}", file=path, field=field) from None


def verify_folder(folder: str | Path) -> list[str]:
    """Problems found when re-hashing a dataset folder against its manifest (empty: intact)."""
    root = Path(folder)
    manifest = read_manifest(root)
    problems = []
    for rel, sha in sorted(manifest.files.items()):
        path = root / rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
        elif sha256_file(path) != sha:
            problems.append(f"{rel}: checksum mismatch")
    if data_checksum(manifest.files) != manifest.checksum:
        problems.append(f"{MANIFEST}: dataset checksum does not match the listed files")
    return problems
