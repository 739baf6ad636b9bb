"""`mmsy eval --api-base` against a real vLLM server equals the local engine on the same checkpoint.

Needs vLLM's own environment (`bash scripts/setup_vllm.sh`, then `MMSY_VLLM_PYTHON`); skipped
without it, except where `MMSY_REQUIRE_VLLM=1` (CI sets it) makes a missing server a failure.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mmsy_dataset.cli import main
from tests.adapters.vllm_server import Server, save_vllm_checkpoint, serve_vllm, vllm_python
from tests.engine.helpers import WORDS, make_records, write_dataset

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

#: Float32 on both sides; measured differences are about 5e-6 (different kernels, same maths).
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Server, Path, Path]:
    python = vllm_python()
    if python is None:
        if os.environ.get("MMSY_REQUIRE_VLLM") == "1":
            pytest.fail("MMSY_REQUIRE_VLLM=1 but MMSY_VLLM_PYTHON names no interpreter: run scripts/setup_vllm.sh")
        pytest.skip("vLLM is not set up: run `bash scripts/setup_vllm.sh` and set MMSY_VLLM_PYTHON")
    root = tmp_path_factory.mktemp("vllm")
    checkpoint = save_vllm_checkpoint(root / "checkpoint", WORDS)
    data = root / "data"
    write_dataset(data, make_records(n_questions=4, rounds=2))
    with serve_vllm(python, checkpoint, root / "server.log") as server:
        yield server, checkpoint, data


def _predictions(folder: Path) -> dict[str, dict]:
    rows = [json.loads(line) for line in (folder / "predictions.jsonl").read_text().splitlines()]
    return {r["record_id"]: r for r in rows}


def _same(remote: dict[str, dict], local: dict[str, dict]) -> None:
    assert remote.keys() == local.keys()
    for rid, r in remote.items():
        l_rounds, r_rounds = local[rid]["rounds"], r["rounds"]
        assert [t.get("choice") for t in r_rounds] == [t.get("choice") for t in l_rounds], rid
        for a, b in zip(r_rounds, l_rounds, strict=True):
            assert a.get("text") == b.get("text"), rid
            for key in ("scores", "scores_norm"):
                if b.get(key) is not None:
                    assert a[key] == pytest.approx(b[key], abs=TOLERANCE), (rid, key)


def _eval(*args: str) -> None:
    common = ["--configs", "sycophancy", "correction_with_answer", "multi_round",
              "--no-progress", "--n-bootstrap", "10", "--max-new-tokens", "6"]  # fmt: skip
    assert main(["eval", *args, *common]) == 0


@pytest.mark.parametrize("mode", ["letter", "option", "text"])
def test_vllm_scores_equal_the_local_engine(setup, tmp_path, mode):
    server, checkpoint, data = setup
    from transformers import AutoTokenizer

    vocab = len(AutoTokenizer.from_pretrained(checkpoint))  # vLLM dies on top_logprobs > vocabulary
    _eval("--model", str(checkpoint), "--dataset", str(data), "--out", str(tmp_path / "local"), "--mode", mode)
    _eval("--api-base", server.base, "--api-model", server.model, "--top-logprobs", str(vocab),
          "--dataset", str(data), "--out", str(tmp_path / "remote"), "--mode", mode)  # fmt: skip
    run = json.loads((tmp_path / "remote" / "run.json").read_text())
    assert run["mode"]["used"] == mode and run["mode"]["fallback"] is None
    assert run["model"]["server"]["model"] == "tiny" and run["model"]["server"]["version"]
    _same(_predictions(tmp_path / "remote"), _predictions(tmp_path / "local"))


def test_shards_against_one_server_merge_into_the_single_run(setup, tmp_path):
    server, _, data = setup
    api = ["--api-base", server.base, "--api-model", server.model, "--dataset", str(data), "--mode", "option"]
    _eval(*api, "--out", str(tmp_path / "single"))
    for shard in ("0/2", "1/2"):
        _eval(*api, "--out", str(tmp_path / "sharded"), "--shard", shard)
    assert main(["merge", str(tmp_path / "sharded"), "--out", str(tmp_path / "sharded")]) == 0
    merged, single = _predictions(tmp_path / "sharded"), _predictions(tmp_path / "single")
    assert merged.keys() == single.keys()
    for rid, row in single.items():
        assert [t["scores"] for t in merged[rid]["rounds"]] == [t["scores"] for t in row["rounds"]], rid
