"""Fingerprints of model weights for run.json: merge and resume compare them. Shared by the
engine and every adapter, so it sits in the api layer and needs only the standard library."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

#: Files above this size are fingerprinted from their safetensors header and sampled blocks:
#: hashing 14 GB of weights would take longer than a quick evaluation.
FULL_HASH_LIMIT = 64 * 2**20
SAMPLE = 2**20


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
