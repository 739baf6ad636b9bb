"""A real vLLM OpenAI-compatible server on 127.0.0.1, serving a tiny random LLaVA saved from a config.

vLLM lives in its own virtual environment (`scripts/setup_vllm.sh`; its torch pin must not touch
the project's), named by `MMSY_VLLM_PYTHON`. The checkpoint is the tests' tiny LLaVA with three
changes that make both sides see the same tokens and kernels:
- text attention heads of width 32 (vLLM's CPU attention has no kernel for width 16);
- a chat template that writes `{{ bos_token }}` and a tokenizer that puts the word marker after
  special tokens too (Llama-2's sentencepiece behaviour): vLLM renders the template and tokenizes
  it without special tokens, the local adapter tokenizes its rendering with them, and both then
  give `<s> ▁USER ...`;
- the vision tower's keys renamed to `vision_tower.vision_model.*`, the layout vLLM loads
  (transformers reads both).
Used by `tests/adapters/test_vllm.py` and `benchmarks/vllm_vs_local.py`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

#: Seconds a server may take to answer `GET /v1/models` after its start (about 40 on an idle
#: 2-core machine; much longer while the test suite runs beside it).
READY_TIMEOUT = 600.0


def vllm_python() -> str | None:
    """The vLLM environment's interpreter, from `MMSY_VLLM_PYTHON` (None: not set up)."""
    path = os.environ.get("MMSY_VLLM_PYTHON")
    return path if path and Path(path).is_file() else None


def save_vllm_checkpoint(folder: Path, words: list[str]) -> Path:
    """Write the tiny LLaVA described above into `folder`; returns it."""
    from safetensors.torch import load_file, save_file
    from tokenizers import pre_tokenizers

    from mmsy_dataset.models.tiny import TinyLlavaConfig, build_tiny_llava, save_tiny_llava

    model, processor = build_tiny_llava(words, TinyLlavaConfig(text_hidden=64, text_heads=2, text_kv_heads=1))
    backend = processor.tokenizer.backend_tokenizer
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    template = "{{ bos_token }}" + processor.chat_template
    processor.chat_template = processor.tokenizer.chat_template = template
    save_tiny_llava(model, processor, folder)
    weights = folder / "model.safetensors"
    tensors = load_file(weights)
    renamed = {
        "vision_tower.vision_model." + k.removeprefix("vision_tower.") if k.startswith("vision_tower.") else k: v
        for k, v in tensors.items()
    }
    save_file(renamed, weights, metadata={"format": "pt"})
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    base: str
    """Base URL up to `/v1`."""
    model: str
    """The served model name."""
    process: subprocess.Popen[bytes]
    log: Path


def _ready(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/models", timeout=5) as response:
            return bool(json.loads(response.read()).get("data"))
    except (urllib.error.URLError, OSError, ValueError):
        return False


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group (the API server and its engine workers), then SIGKILL."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    except ProcessLookupError:
        pass


@contextmanager
def serve_vllm(
    python: str,
    checkpoint: Path,
    log: Path,
    prefix_caching: bool = True,
    max_logprobs: int = 1000,
    block_size: int | None = None,
) -> Iterator[Server]:
    """A vLLM server on a free loopback port until the block ends; stopped by its process id
    whatever happens inside the block. `block_size`: KV-cache block in tokens (vLLM's CPU
    default is 128; its prefix cache reuses whole blocks only)."""
    port = free_port()
    command = [
        python, "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(checkpoint), "--served-model-name", "tiny",
        "--host", "127.0.0.1", "--port", str(port),
        "--max-model-len", "1024", "--dtype", "float32", "--enforce-eager",
        "--max-logprobs", str(max_logprobs),
        "--enable-prefix-caching" if prefix_caching else "--no-enable-prefix-caching",
    ]  # fmt: skip
    if block_size is not None:
        command += ["--block-size", str(block_size)]
    env = {
        **os.environ,
        "VLLM_CPU_KVCACHE_SPACE": "1",
        "VLLM_CPU_OMP_THREADS_BIND": "nobind",
        "HF_HUB_OFFLINE": "1",
        "VLLM_NO_USAGE_STATS": "1",
        "DO_NOT_TRACK": "1",
    }
    env.pop("PYTHONPATH", None)
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while not _ready(base):
            if process.poll() is not None:
                tail = log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"vLLM exited with status {process.returncode} before serving; log tail:\n{tail}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"vLLM did not serve within {READY_TIMEOUT:.0f} s; log: {log}")
            time.sleep(1.0)
        yield Server(base, "tiny", process, log)
    finally:
        stop(process)
