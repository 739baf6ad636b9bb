"""Hidden states and attention shares come through every local family's adapter."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mmsy_dataset.analysis.capture import decoder_layers, use_eager_attention
from mmsy_dataset.analysis.contexts import ROUND1_WRONG, collect
from mmsy_dataset.engine.runner import Engine
from mmsy_dataset.predictions import ScoringMode
from tests.analysis.test_capture import probing_records


def _family(name: str) -> Any:
    if name == "qwen2_vl":
        from tests.adapters.test_qwen2_vl import tiny_qwen

        return tiny_qwen("2")
    if name == "blip2":
        from tests.adapters.test_blip2 import tiny_blip2

        return tiny_blip2()
    from tests.adapters.test_idefics3 import tiny_idefics3

    return tiny_idefics3()


@pytest.mark.parametrize(
    ("name", "mode"),
    [("qwen2_vl", ScoringMode.OPTION), ("blip2", ScoringMode.LETTER), ("idefics3", ScoringMode.LETTER)],
)
def test_layers_and_attention_through_the_family_adapter(name: str, mode: ScoringMode) -> None:
    adapter = _family(name)
    n_layers = len(decoder_layers(adapter))
    use_eager_attention(adapter)
    records = probing_records()
    contexts = collect(adapter, records, mode, hidden=True, attention=True, batch_size=3)
    assert contexts.hidden is not None and contexts.hidden.shape[:2] == (len(records), n_layers)
    pushed = contexts.labels != ROUND1_WRONG
    dialogues = Engine(adapter, mode).run(records)
    assert pushed.any() and pushed.tolist() == [len(d.turns) > 1 for d in dialogues]
    assert contexts.image_ratio is not None and contexts.image_mass is not None
    assert np.isfinite(contexts.image_ratio[pushed]).all() and (contexts.image_ratio[pushed] > 0).all()
    assert ((contexts.image_mass[pushed] > 0) & (contexts.image_mass[pushed] < 1)).all()
    assert np.abs(contexts.hidden[pushed]).sum() > 0
