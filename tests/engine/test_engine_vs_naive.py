import pytest

from mmsy_dataset.engine.naive import naive_run
from mmsy_dataset.engine.runner import Engine
from mmsy_dataset.predictions import ScoringMode
from tests.engine.helpers import make_records, tiny_adapter


@pytest.mark.parametrize("mode", [ScoringMode.LETTER, pytest.param(ScoringMode.OPTION, marks=pytest.mark.slow)])
def test_engine_scores_equal_naive_loop(mode):
    records = make_records(n_questions=3, rounds=2)
    # Small batches and chunks: several prefill batches, padding, rows from different prefixes.
    engine = Engine(tiny_adapter(), mode, batch_size=3, chunk_questions=2, prompt_baseline=True)
    fast = [d.prediction(mode) for d in engine.run(records)]
    slow = naive_run(tiny_adapter(), records, mode, prompt_baseline=True)
    assert engine.stats.prefix_fallbacks == 0
    for a, b in zip(fast, slow, strict=True):
        assert [t.choice for t in a.rounds] == [t.choice for t in b.rounds], a.record_id
        for ta, tb in zip(a.rounds, b.rounds, strict=True):
            assert ta.scores == pytest.approx(tb.scores, abs=1e-4)
            if mode is ScoringMode.OPTION:
                assert ta.scores_norm == pytest.approx(tb.scores_norm, abs=1e-4)
    assert any(len(p.rounds) > 2 for p in fast)


def test_text_mode_generates_and_counts_extraction():
    records = make_records(n_questions=2)
    engine = Engine(tiny_adapter(), ScoringMode.TEXT, max_new_tokens=6)
    predictions = [d.prediction(ScoringMode.TEXT) for d in engine.run(records)]
    assert all(p.rounds[0].text is not None and p.rounds[0].scores is None for p in predictions)
    assert sum(engine.stats.extraction.values()) == len(records)
