"""Reading the benchmark for a run, and the facts about data and weights that run.json records."""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path
from typing import Any

from mmsy_dataset.schemas import QuestionRecord

#: Files above this size are fingerprinted from their safetensors header and sampled blocks:
#: hashing 14 GB of weights would take longer than a quick evaluation.
FULL_HASH_LIMIT = 64 * 2**20
SAMPLE = 2**20


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


def _file_fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    size = path.stat().st_size
    with path.open("rb") as handle:
        if size <= FULL_HASH_LIMIT:
            for block in iter(lambda: handle.read(SAMPLE), b""):
                digest.update(block)
            return digest.hexdigest()
        header_len = int.from_bytes(handle.read(8), "little") if path.suffix == ".safetensors" else 0
        handle.seek(0)
        digest.update(handle.read(8 + min(header_len, size)))
        for offset in (size // 2, max(0, size - SAMPLE)):
            handle.seek(offset)
            digest.update(handle.read(SAMPLE))
        digest.update(str(size).encode())
    return "sampled:" + digest.hexdigest()


def weights_fingerprint(model_source: str) -> dict[str, Any]:
    """Per-file fingerprints of a local model folder's weights (and the Hub revision if cached)."""
    folder = Path(model_source)
    if not folder.is_dir():
        try:
            from huggingface_hub import snapshot_download

            folder = Path(snapshot_download(model_source, allow_patterns=["*.json"], local_files_only=True))
        except Exception:  # a remote id not in the cache: record the id alone
            return {"files": {}, "revision": None}
    files = sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin"))
    out = {p.name: _file_fingerprint(p) for p in files}
    combined = hashlib.sha256(json.dumps(out, sort_keys=True).encode()).hexdigest()
    revision = folder.name if folder.parent.name == "snapshots" else None
    return {"files": out, "combined": combined, "revision": revision}


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in ("mmsy", "torch", "transformers", "tokenizers", "datasets", "huggingface-hub", "pydantic"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out
