"""The prefix tree of KV states behind `BatchedScorer`: what it computes, what it reuses, what
it keeps. Token counts are deterministic, so these are exact checks, not timings."""

import pytest

from mmsy_dataset.api.conversation import Message
from mmsy_dataset.api.requests import ScoreRequest
from mmsy_dataset.engine import protocol
from mmsy_dataset.engine.batched import BatchedScorer
from mmsy_dataset.engine.naive import naive_score
from mmsy_dataset.engine.runner import Engine
from mmsy_dataset.predictions import ScoringMode
from mmsy_dataset.schemas import MultiRoundRecord
from tests.engine.helpers import make_records, minimum_tokens, png, tiny_adapter

IMAGE = png((200, 30, 30))
ROUND1 = (Message("user", "What color is the ball?\n(A) red (B) blue", image=True),)


def req(conv, continued=True, group="q0"):  # type: ignore[no-untyped-def]
    return ScoreRequest(group, IMAGE, conv, ("A", "B"), ("red", "blue"), continued)


def push(conv, answer, text):  # type: ignore[no-untyped-def]
    return (*conv, Message("assistant", answer), Message("user", text))


def ids(conv) -> list[int]:  # type: ignore[no-untyped-def]
    return tiny_adapter().encode(conv).input_ids


def assert_scores_equal_naive(requests, results, mode="letter"):  # type: ignore[no-untyped-def]
    for result, slow in zip(results, naive_score(tiny_adapter(), requests, mode), strict=True):
        assert result.scores == pytest.approx(slow.scores, abs=1e-4)


@pytest.mark.parametrize("mode", [ScoringMode.LETTER, ScoringMode.OPTION])
def test_multi_round_run_computes_exactly_the_unique_token_minimum(mode):
    records = make_records(n_questions=3, rounds=4)
    engine = Engine(tiny_adapter(), mode, batch_size=4, chunk_questions=2)
    dialogues = engine.run(records)
    assert max(len(d.turns) for d in dialogues) == 5
    minimum = minimum_tokens(tiny_adapter(), dialogues, mode)
    assert engine.stats.tokens_real == minimum  # every distinct prefix once
    assert engine.stats.prefix_fallbacks == 0


def test_each_round_runs_only_its_new_tokens():
    """One multi-round dialogue: round k extends round k-1's state, so the tokens run over the
    whole dialogue are exactly those of its last prompt."""
    for record in (r for r in make_records(rounds=4) if isinstance(r, MultiRoundRecord)):
        engine = Engine(tiny_adapter(), ScoringMode.LETTER, batch_size=2)
        (dialogue,) = engine.run([record])
        if len(dialogue.turns) == 5:  # round 1 right: the pushes follow
            break
    assert len(dialogue.turns) == 5
    last = protocol.conversation(record, dialogue.answers[:-1])
    assert engine.stats.tokens_real == len(ids(last))
    assert engine.stats.forwards == 5


def test_round1_answer_and_shared_push_words_run_once():
    """Three pushes after one round-1 answer: the answer and the turn separator, and the words
    two pushes share, are computed once; only what differs runs per request."""
    scorer = BatchedScorer(tiny_adapter(), batch_size=8)
    scorer.run([req(ROUND1)], "letter")
    before = scorer.stats.real
    convs = [push(ROUND1, "A", t) for t in ("Sorry, I think the answer is blue.", "Sorry, I think the answer is red.",
                                             "Your answer is wrong! It is blue.")]
    requests = [req(c) for c in convs]
    results = scorer.run(requests, "letter")
    seqs = [ids(c) for c in convs]
    unique = {tuple(s[:n]) for s in seqs for n in range(len(ids(ROUND1)) + 1, len(s) + 1)}
    assert scorer.stats.real - before == len(unique)
    assert scorer.fallbacks == 0
    assert_scores_equal_naive(requests, results)


def test_identical_requests_are_computed_once():
    scorer = BatchedScorer(tiny_adapter(), batch_size=4)
    conv = push(ROUND1, "A", "Sorry, I think the answer is blue.")
    results = scorer.run([req(conv), req(conv), req(ROUND1)], "letter")
    assert scorer.stats.real == len(ids(conv))
    assert results[0].scores == results[1].scores


def test_states_are_released_when_no_later_round_extends_them():
    scorer = BatchedScorer(tiny_adapter(), batch_size=4)
    scorer.run([req(ROUND1)], "letter")
    assert scorer.held_tokens() == len(ids(ROUND1))  # round 1 is kept for round 2
    going = push(ROUND1, "A", "Sorry, I think the answer is blue.")
    done = push(ROUND1, "A", "Your answer is wrong! It is blue.")
    scorer.run([req(going), req(done, continued=False)], "letter")
    # Only the continued dialogue's path is left: its own tokens, round 1's included.
    assert scorer.held_tokens() == len(ids(going))
    assert scorer.peak_tokens == len({tuple(s[:n]) for s in (ids(going), ids(done)) for n in range(1, len(s) + 1)})
    scorer.run([req(push(going, "B", "Maybe you should think about red instead?"), continued=False)], "letter")
    assert scorer.held_tokens() == 0


def test_engine_holds_at_most_the_chunk_unique_tokens():
    records = make_records(n_questions=2, rounds=3)
    engine = Engine(tiny_adapter(), ScoringMode.LETTER, batch_size=4, chunk_questions=1)
    dialogues = engine.run(records)
    per_question = max(
        minimum_tokens(tiny_adapter(), [d for d in dialogues if d.record.question_id == q], ScoringMode.LETTER)
        for q in ("q0", "q1")
    )
    assert 0 < engine.stats.kv_peak_tokens <= per_question


def test_a_request_leaving_a_cached_state_in_its_middle_splits_it():
    """A sequence that leaves an earlier call's state before its end (what a tokenizer merging
    across a turn boundary does) reuses the part before the split, is counted, and scores as
    if run alone."""
    scorer = BatchedScorer(tiny_adapter(), batch_size=4)
    scorer.run([req(ROUND1)], "letter")
    other = (Message("user", "What color is the ball?\n(A) blue (B) red", image=True),)
    before = scorer.stats.real
    results = scorer.run([req(other)], "letter")
    shared = next(i for i, (a, b) in enumerate(zip(ids(ROUND1), ids(other), strict=False)) if a != b)
    assert scorer.fallbacks == 1
    assert scorer.stats.real - before == len(ids(other)) - shared
    assert_scores_equal_naive([req(other)], results)


@pytest.mark.parametrize("mode", ["letter", "option"])
def test_a_request_ending_inside_a_cached_state_reruns_one_token(mode):
    scorer = BatchedScorer(tiny_adapter(), batch_size=4)
    scorer.run([req(push(ROUND1, "A", "Sorry, I think the answer is blue."))], mode)
    before = scorer.stats.real
    results = scorer.run([req(ROUND1)], mode)
    if mode == "letter":  # (option mode also feeds multi-token options' continuations)
        assert scorer.stats.real - before == 1
    assert_scores_equal_naive([req(ROUND1)], results, mode)
