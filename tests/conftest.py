"""Shared test setup: no hub access, a throwaway HF cache, one intra-op thread per test process.

Bytecode is cached for the repository's modules even where `PYTHONDONTWRITEBYTECODE` is set (as
in many container images): each xdist worker imports about 200 of them, and compiling them on
every run cost the quick suite 3 of its 16 seconds on 2 cores. The files go to `__pycache__`
folders, which git ignores.

One torch/OpenMP thread: the tiny models gain nothing from two, and on two cores shared by
pytest-xdist workers (or another busy process) OpenMP's spinning threads made single tests up
to 100x slower (BLIP-2's engine check: 91 s with two threads, 0.6 s with one).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.dont_write_bytecode = False
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("HF_HOME", tempfile.mkdtemp(prefix="mmsy-hf-home-"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OMP_NUM_THREADS", "1")

#: `pytestmark = pytest.mark.slow`, or a list of marks that starts with it.
_MODULE_SLOW = re.compile(r"^pytestmark = (pytest\.mark\.slow$|\[\s*pytest\.mark\.slow,)", re.MULTILINE)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Under `-m "not slow"`, a module marked slow as a whole is not even imported: deselection
    happens after collection, and importing such a module (hypothesis, every adapter family)
    would cost each xdist worker seconds of the quick suite for tests it then drops."""
    if config.getoption("markexpr", "").strip() != "not slow":
        return None
    if collection_path.suffix != ".py" or not collection_path.name.startswith("test_"):
        return None
    return True if _MODULE_SLOW.search(collection_path.read_text(encoding="utf-8")) else None


@pytest.fixture(autouse=True)
def _single_torch_thread() -> Iterator[None]:
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
