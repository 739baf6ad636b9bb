"""Splitting one evaluation across GPUs or machines: `--shard i/n`.

Shards partition *questions*, not records: every record of a question shares its round-1
answer (and, in the engine, its round-1 KV cache), so a question's records must be scored
together. A question goes to shard `sha256(question_id) mod n`: stable across machines,
Python versions and dataset orderings, and independent of which other questions exist.

Each shard writes its own folder (`<out>/shard-<i>-of-<n>`) and resumes on its own. Beside the
usual outputs it writes `shard.json`: the records assigned to it with their positions in the
dataset, so that `mmsy merge` can check that each shard finished its share and can restore
the dataset order without reading the dataset again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from mmsy_dataset.schemas import QuestionRecord

SHARD_FILE = "shard.json"
_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


class Shard(BaseModel):
    """Shard `index` of `count` (0-based: a job array's `$SLURM_ARRAY_TASK_ID` fits as is)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int
    count: int

    @classmethod
    def parse(cls, spec: str, env: Mapping[str, str] | None = None) -> Shard:
        """`"i/n"` with 0 <= i < n, or `"auto"`: the launcher's rank and world size (`RANK` /
        `WORLD_SIZE` from `accelerate launch` or `torchrun`, else a SLURM job array's
        `SLURM_ARRAY_TASK_ID` / `SLURM_ARRAY_TASK_COUNT`)."""
        if spec.strip() == "auto":
            env = os.environ if env is None else env
            for rank, size in (("RANK", "WORLD_SIZE"), ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT")):
                if rank in env and size in env:
                    spec = f"{env[rank]}/{env[size]}"
                    break
            else:
                raise ValueError("shard: 'auto' needs RANK and WORLD_SIZE (accelerate, torchrun) or a SLURM job array")
        match = _SPEC.match(spec)
        if not match:
            raise ValueError(f"shard: expected 'i/n' (for example 0/4), got {spec!r}")
        index, count = int(match.group(1)), int(match.group(2))
        return cls(index=index, count=count).check()

    def check(self) -> Shard:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"shard: expected 0 <= i < n, got {self.index}/{self.count}")
        return self

    @property
    def folder_name(self) -> str:
        return f"shard-{self.index}-of-{self.count}"

    def owns(self, question_id: str) -> bool:
        return shard_of(question_id, self.count) == self.index


def shard_of(question_id: str, count: int) -> int:
    digest = hashlib.sha256(question_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def select(records: Sequence[QuestionRecord], shard: Shard) -> tuple[list[QuestionRecord], dict[str, int]]:
    """This shard's records, and their positions in the whole (dataset-ordered) record list."""
    mine = [(i, r) for i, r in enumerate(records) if shard.owns(r.question_id)]
    return [r for _, r in mine], {r.id: i for i, r in mine}


def write_shard_file(folder: Path, shard: Shard, positions: dict[str, int], total: int) -> None:
    from mmsy_dataset.engine.outputs import write_json

    write_json(folder / SHARD_FILE, {**shard.model_dump(), "total_records": total, "positions": positions})


def read_shard_file(folder: Path) -> dict[str, Any]:
    path = folder / SHARD_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; is {folder} a folder written by `mmsy eval --shard i/n`?")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data
