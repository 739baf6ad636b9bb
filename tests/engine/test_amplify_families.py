"""Amplification on every local family that reports its image positions (tiny random models)."""

from __future__ import annotations

from typing import Any

import pytest

from mmsy_dataset.engine.amplify import Amplifier
from mmsy_dataset.engine.config import AmplifySettings
from mmsy_dataset.engine.naive import naive_run
from mmsy_dataset.engine.runner import Engine
from mmsy_dataset.predictions import ScoringMode
from tests.adapters.test_blip2 import tiny_blip2, tiny_instructblip
from tests.adapters.test_idefics3 import tiny_idefics3
from tests.adapters.test_internvl import tiny_internvl
from tests.adapters.test_llava_next import tiny_next
from tests.adapters.test_qwen2_vl import tiny_qwen
from tests.engine.helpers import make_records

pytestmark = pytest.mark.slow

FAMILIES = {
    "blip2": tiny_blip2,
    "instructblip": tiny_instructblip,
    "idefics3": tiny_idefics3,
    "internvl": tiny_internvl,
    "llava_next": tiny_next,
    "qwen2_vl": lambda: tiny_qwen("2"),
    "qwen2_5_vl": lambda: tiny_qwen("2.5"),
}


def _scores(adapter: Any, records: Any) -> list[list[float]]:
    engine = Engine(adapter, ScoringMode.LETTER, batch_size=3, chunk_questions=2)
    return [turn.scores for d in engine.run(records) for turn in d.prediction(ScoringMode.LETTER).rounds]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_amplification_runs_cached_and_uncached_alike(family):
    adapter = FAMILIES[family]()
    records = make_records(n_questions=2, rounds=1)
    base = _scores(adapter, records)
    with Amplifier(adapter, AmplifySettings(first=1, last=2, lam=0.0)):
        zero = _scores(adapter, records)
    with Amplifier(adapter, AmplifySettings(first=1, last=2, lam=2.0, queries="all")):
        amplified = _scores(adapter, records)
        slow = [t.scores for p in naive_run(adapter, records, ScoringMode.LETTER) for t in p.rounds]
    for b, z in zip(base, zero, strict=True):
        assert z == pytest.approx(b, abs=1e-5)
    assert max(abs(x - y) for a, b in zip(base, amplified, strict=False) for x, y in zip(a, b, strict=True)) > 1e-2
    assert len(slow) == len(amplified)
    for a, s in zip(amplified, slow, strict=True):
        assert a == pytest.approx(s, abs=1e-4)
