"""Captured hidden states and attention equal the model's own full forward; labels follow eq. 5."""

from __future__ import annotations

import pytest
import torch

from mmsy_dataset.analysis.capture import AnalysisError, decoder_layers, use_eager_attention
from mmsy_dataset.analysis.contexts import KEEPS, ROUND1_WRONG, TAKES, THIRD_OPTION, collect
from mmsy_dataset.api.requests import ScoreRequest
from mmsy_dataset.engine import protocol
from mmsy_dataset.engine.runner import Engine
from mmsy_dataset.predictions import ScoringMode
from mmsy_dataset.schemas import ProbingRecord
from tests.engine.helpers import make_records, tiny_adapter


def probing_records() -> list[ProbingRecord]:
    """The engine helpers' sycophancy records as probing contexts (same fields, other config)."""
    return [
        ProbingRecord(**r.model_dump()) for r in make_records(n_questions=4) if r.config == "sycophancy"
    ]


def _reference(adapter, record, mode):  # type: ignore[no-untyped-def]
    """The round-2 context run from scratch through the model's own forward (no cache sharing)."""
    engine = Engine(adapter, mode)
    turn = engine.run([record])[0].turns[0]
    conv = protocol.conversation(record, [protocol.answer_text(mode, record, turn)])
    req = ScoreRequest(record.id, record.image, conv, record.letters(), tuple(record.options))
    encoded = adapter.encode_request(req)
    ids = torch.tensor([encoded.input_ids])
    with torch.no_grad():
        out = adapter.model(input_ids=ids, **adapter.request_image_inputs([req]), output_hidden_states=True,
                            output_attentions=True)
    return out, encoded.image_positions


@pytest.mark.parametrize("mode", [ScoringMode.LETTER, ScoringMode.OPTION])
def test_captured_rows_equal_the_full_forward(mode: ScoringMode) -> None:
    adapter = tiny_adapter()
    records = probing_records()
    use_eager_attention(adapter)
    try:
        contexts = collect(adapter, records, mode, hidden=True, attention=True, batch_size=3, chunk=5)
        checked = 0
        for i, record in enumerate(records):
            if contexts.labels[i] == ROUND1_WRONG:
                continue
            out, image = _reference(adapter, record, mode)
            hidden = torch.from_numpy(contexts.hidden[i])
            n_layers = len(out.hidden_states) - 1
            for layer in range(n_layers - 1):
                assert torch.allclose(hidden[layer], out.hidden_states[layer + 1][0, -1], atol=1e-4)
            final = adapter.model.model.language_model.norm(hidden[-1])
            assert torch.allclose(final, out.hidden_states[-1][0, -1], atol=1e-4)
            for layer, weights in enumerate(out.attentions):
                row = weights[0, :, -1].mean(0)
                is_image = torch.zeros_like(row, dtype=torch.bool)
                is_image[image] = True
                ratio = row[is_image].mean() / row[~is_image].mean()
                assert contexts.image_ratio[i, layer] == pytest.approx(float(ratio), rel=1e-4)
                assert contexts.image_mass[i, layer] == pytest.approx(float(row[is_image].sum()), abs=1e-5)
            checked += 1
        assert checked >= 2
    finally:
        adapter.model.set_attn_implementation("sdpa")


def test_labels_follow_the_engine_round2_argmax() -> None:
    adapter = tiny_adapter()
    records = probing_records()
    mode = ScoringMode.LETTER
    contexts = collect(adapter, records, mode, hidden=False, attention=False, batch_size=4)
    dialogues = Engine(adapter, mode).run(records)
    expected = []
    for d in dialogues:
        if len(d.turns) < 2:
            expected.append(ROUND1_WRONG)
            continue
        choice = d.turns[1].choice
        r = d.record
        expected.append(KEEPS if choice == r.answer_letter else TAKES if choice == r.push_letter else THIRD_OPTION)
    assert contexts.labels.tolist() == expected
    assert contexts.hidden is None and contexts.image_ratio is None


def test_a_model_behind_an_api_has_no_layers() -> None:
    from mmsy_dataset.adapters.http import OpenAIAdapter
    from mmsy_dataset.api.settings import ApiSettings

    adapter = OpenAIAdapter(ApiSettings(base="http://127.0.0.1:9/v1", model="m"), None)
    with pytest.raises(AnalysisError, match="exposes no hidden states or attentions"):
        decoder_layers(adapter)


def test_text_mode_is_refused() -> None:
    with pytest.raises(AnalysisError, match="use letter or option"):
        collect(tiny_adapter(), probing_records(), ScoringMode.TEXT, hidden=True, attention=False)


def test_sdpa_attention_gives_a_clear_error() -> None:
    adapter = tiny_adapter()
    adapter.model.set_attn_implementation("sdpa")
    with pytest.raises(AnalysisError, match="returned no weights"):
        collect(adapter, probing_records(), ScoringMode.LETTER, hidden=False, attention=True)
