"""The reference loop: every request from scratch, one at a time, no cache reuse, no padding.

It is what evaluation frameworks do per dialogue, and the ground truth the engine is tested
against (scores equal within 1e-4) and benchmarked against.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from mmsy_dataset.adapters.base import VLMAdapter
from mmsy_dataset.api.requests import ScoreRequest, ScoreResult
from mmsy_dataset.api.scorer import TokenStats
from mmsy_dataset.engine import protocol
from mmsy_dataset.engine.kv import forward_image_keys, image_key_flags
from mmsy_dataset.predictions import Prediction, ScoringMode, Turn
from mmsy_dataset.schemas import QuestionRecord


@torch.no_grad()
def _logprobs(
    adapter: VLMAdapter, ids: list[int], request: ScoreRequest, stats: TokenStats, image_positions: list[int]
) -> torch.Tensor:
    """Log-probabilities at every position of one full sequence (seq, vocab)."""
    input_ids = torch.tensor([ids], dtype=torch.long, device=adapter.device)
    mask = torch.ones_like(input_ids)
    positions = torch.arange(len(ids), device=adapter.device)[None]
    pixels = adapter.request_image_inputs([request])
    with forward_image_keys(image_key_flags([image_positions], len(ids), adapter.device)):
        hidden = adapter.hidden_states(input_ids, mask, positions, adapter.make_cache(None), pixels)
    stats.add(int(mask.sum()), int(mask.numel()))
    return torch.log_softmax(adapter.lm_logits(hidden[0]), dim=-1)


def naive_score(
    adapter: VLMAdapter, requests: Sequence[ScoreRequest], mode: str, stats: TokenStats | None = None
) -> list[ScoreResult]:
    """Letter or option scores of each request, each option's sequence run from scratch."""
    stats = stats if stats is not None else TokenStats()
    results = []
    for req in requests:
        encoded = adapter.encode_request(req)
        ids = encoded.input_ids
        res = ScoreResult(prompt=adapter.render(req.conversation), n_prompt_tokens=len(ids))
        if mode == "letter":
            last = _logprobs(adapter, ids, req, stats, encoded.image_positions)[-1]
            labels = adapter.label_token_ids(req.letters)
            res.scores = [float(torch.logsumexp(last[labels[letter]], dim=0)) for letter in req.letters]
        elif mode == "option":
            res.scores, res.scores_norm = [], []
            for option in req.options:
                cont = adapter.continuation_ids(adapter.answer_prefix() + option)
                lp = _logprobs(adapter, ids + cont, req, stats, encoded.image_positions)
                total = sum(float(lp[len(ids) - 1 + t, token]) for t, token in enumerate(cont))
                res.scores.append(total)
                res.scores_norm.append(total / max(1, len(option.encode("utf-8"))))
        else:
            raise ValueError(f"mode: the naive loop scores 'letter' or 'option', not {mode!r}")
        results.append(res)
    return results


def naive_run(
    adapter: VLMAdapter,
    records: Sequence[QuestionRecord],
    mode: ScoringMode,
    prompt_baseline: bool = False,
    stats: TokenStats | None = None,
) -> list[Prediction]:
    """The protocol the slow way: each record's dialogue alone, round 1 recomputed every time."""
    from mmsy_dataset.engine.runner import Dialogue

    stats = stats if stats is not None else TokenStats()
    out = []
    for record in records:
        dialogue = Dialogue(record, protocol.question_key(record))
        while True:
            conv = protocol.conversation(record, dialogue.answers, prompt_baseline)
            request = ScoreRequest(dialogue.key, record.image, conv, record.letters(), tuple(record.options))
            result = naive_score(adapter, [request], mode.value, stats)[0]
            assert result.scores is not None
            best = max(range(len(result.scores)), key=result.scores.__getitem__)
            turn = Turn(
                round=len(dialogue.turns) + 1,
                scores=result.scores,
                scores_norm=result.scores_norm,
                choice=record.letters()[best],
            )
            dialogue.turns.append(turn)
            dialogue.answers.append(protocol.answer_text(mode, record, turn))
            done = len(dialogue.turns) > len(protocol.pushes(record))
            if done or not protocol.applies(record, dialogue.turns[0].choice):
                break
        out.append(dialogue.prediction(mode))
    return out
