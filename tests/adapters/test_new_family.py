"""The complete new adapter that `docs/models.md` ("Adding a family") shows really works: run
from the page itself on the tiny LLaVA, it encodes, scores and matches the naive loop."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from mmsy_dataset.adapters import registry
from tests.adapters.families import CONV, check_engine_equals_naive, request
from tests.engine.helpers import tiny_adapter

DOC = Path(__file__).resolve().parents[2] / "docs" / "models.md"


def _example() -> str:
    section = DOC.read_text(encoding="utf-8").split("## Adding a family", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "docs/models.md: no python example under 'Adding a family'"
    return match.group(1)


@pytest.fixture
def plain_qa(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The documented adapter class, registered in a copy of the registry."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    module = types.ModuleType("plain_qa_example")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(_example(), str(DOC), "exec"), module.__dict__)
    assert registry.get_adapter("plain_qa") is module.PlainQAAdapter
    return module.PlainQAAdapter


def test_the_documented_adapter_is_under_80_lines() -> None:
    assert len(_example().splitlines()) < 80


@pytest.mark.slow
def test_the_documented_adapter_scores_like_the_naive_loop(plain_qa: Any) -> None:
    llava = tiny_adapter()
    adapter = plain_qa(llava.model, llava.processor, model_id="plain", device="cpu")
    adapter.use_chat_format("family")
    encoded = adapter.encode_request(request(CONV))
    assert len(encoded.image_positions) == llava.n_image_tokens  # the processor's own count
    assert adapter.render(CONV).endswith("A:")
    check_engine_equals_naive(adapter)
