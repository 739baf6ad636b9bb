"""Dialogues per second: the local engine against a real vLLM server, its prefix cache on and off.

    bash scripts/setup_vllm.sh   # once: vLLM's own environment
    MMSY_VLLM_PYTHON=$(bash scripts/setup_vllm.sh) python benchmarks/vllm_vs_local.py --questions-per-task 2

Same tiny LLaVA (tests/adapters/vllm_server.py) on both sides, same synthetic benchmark, one
scoring mode. The local engine shares each question's round-1 KV cache itself; over HTTP the
client sends a question's requests together and vLLM's automatic prefix caching may reuse the
shared prefix (whole KV blocks only: the tiny model's prompts are about 60 to 150 tokens, so the
server runs with 32-token blocks instead of its CPU default of 128). Prints dialogues per
second for the three, the ratios, and the server's prefix cache hit rate from its Prometheus
`/metrics`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mmsy_dataset.cli import main as mmsy
from tests.adapters.vllm_server import save_vllm_checkpoint, serve_vllm, vllm_python
from tests.engine.helpers import WORDS


def _eval(args: list[str], out: Path) -> tuple[float, int]:
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # the run's own report tables
        assert mmsy(["eval", *args, "--out", str(out), "--no-progress", "--n-bootstrap", "10"]) == 0
    seconds = time.perf_counter() - start
    return seconds, len((out / "predictions.jsonl").read_text().splitlines())


def _prefix_cache(base: str) -> tuple[float, float]:
    """(queried, hit) prefix-cache tokens so far, from vLLM's Prometheus metrics."""
    root = base.removesuffix("/v1")
    with urllib.request.urlopen(f"{root}/metrics", timeout=10) as response:
        text = response.read().decode()

    def total(name: str) -> float:
        return sum(float(v) for v in re.findall(rf"^vllm:{name}_total\{{[^}}]*\}} ([0-9.e+]+)$", text, re.M))

    return total("prefix_cache_queries"), total("prefix_cache_hits")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions-per-task", type=int, default=2)
    parser.add_argument("--mode", choices=("letter", "option", "text"), default="option")
    parser.add_argument("--max-concurrency", type=int, default=8)
    parser.add_argument(
        "--block-size", type=int, default=32, help="server KV block (tokens); the prefix cache reuses whole blocks"
    )
    args = parser.parse_args()
    python = vllm_python()
    if python is None:
        raise SystemExit("set MMSY_VLLM_PYTHON to vLLM's interpreter (bash scripts/setup_vllm.sh prints it)")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = root / "data"
        with contextlib.redirect_stdout(io.StringIO()):
            code = mmsy(["build", "--out", str(data), "--questions-per-task", str(args.questions_per_task),
                         "--configs", "sycophancy,correction_with_answer,correction_without_answer,multi_round",
                         "--image-size", "64"])  # fmt: skip
        assert code == 0
        checkpoint = save_vllm_checkpoint(root / "checkpoint", WORDS)
        common = ["--dataset", str(data), "--mode", args.mode]
        local_s, dialogues = _eval(["--model", str(checkpoint), *common], root / "local")
        rows = [("local engine (1 thread)", local_s, dialogues, None)]
        for caching in (True, False):
            log = root / f"server-{caching}.log"
            with serve_vllm(python, checkpoint, log, prefix_caching=caching, block_size=args.block_size) as server:
                api = ["--api-base", server.base, "--api-model", server.model,
                       "--max-concurrency", str(args.max_concurrency), *common]  # fmt: skip
                queried0, hit0 = _prefix_cache(server.base)
                seconds, n = _eval(api, root / f"vllm-{caching}")
                queried, hit = _prefix_cache(server.base)
                rate = (hit - hit0) / (queried - queried0) if queried > queried0 else None
                rows.append((f"vLLM, prefix cache {'on' if caching else 'off'}", seconds, n, rate))
    print(f"{dialogues} dialogues, mode {args.mode}, {args.questions_per_task} questions per task")
    print(f"{'':28} {'seconds':>8} {'dialogues/s':>12} {'vs local':>9} {'cache hits':>11}")
    for name, seconds, n, rate in rows:
        hits = f"{rate:.1%}" if rate is not None else "-"
        print(f"{name:28} {seconds:8.1f} {n / seconds:12.2f} {local_s / seconds:8.2f}x {hits:>11}")
    print(json.dumps({name: round(n / seconds, 3) for name, seconds, n, _ in rows}))


if __name__ == "__main__":
    main()
