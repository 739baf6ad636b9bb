"""The engine: runs the protocol over records, chunk of questions by chunk of questions.

For each chunk, round 1 is asked once per question (one request per question, whatever the
number of tones, corrections and rounds built on it), then each push round of every dialogue
still going. A `BatchedScorer` lives for the chunk and keeps a prefix tree of KV states per
question, so every round only runs the tokens no earlier request had; each request says whether
its dialogue continues (`ScoreRequest.continued`), so the states of finished dialogues are
released round by round. Finished dialogues are handed to a sink as the chunk completes, so a
killed run loses at most one chunk.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mmsy_dataset.adapters.base import ModelAdapter, VLMAdapter
from mmsy_dataset.api.requests import ScoreRequest, ScoreResult
from mmsy_dataset.api.scorer import Scorer
from mmsy_dataset.engine import protocol
from mmsy_dataset.engine.extract import extract_choice
from mmsy_dataset.predictions import Prediction, ScoringMode, Turn
from mmsy_dataset.schemas import QuestionRecord


def make_scorer(adapter: ModelAdapter, batch_size: int, max_new_tokens: int) -> Scorer:
    """The scorer of one chunk: the adapter's own (a model behind an API), else the batched
    prefix-tree scorer over a local model's weights."""
    own = adapter.make_scorer(batch_size, max_new_tokens)
    if own is not None:
        return own
    if not isinstance(adapter, VLMAdapter):
        raise TypeError(f"{adapter.name}: an adapter without local weights must provide make_scorer")
    from mmsy_dataset.engine.batched import BatchedScorer

    return BatchedScorer(adapter, batch_size, max_new_tokens)


@dataclass
class Dialogue:
    """One record's dialogue as it unfolds."""

    record: QuestionRecord
    key: str
    """Round-1 key of the record's question (`protocol.question_key`)."""
    turns: list[Turn] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)

    def prediction(self, mode: ScoringMode) -> Prediction:
        r = self.record
        return Prediction(
            record_id=r.id,
            config=r.config,
            question_id=r.question_id,
            task=r.task,
            tone=protocol.tone(r),
            mode=mode,
            n_options=len(r.options),
            answer_letter=r.answer_letter,
            push_letter=protocol.push_letter(r),
            rounds=self.turns,
        )

    def transcript(self, mode: ScoringMode, prompt_baseline: bool) -> dict[str, Any]:
        """The conversation as the model saw it: each round's exact prompt and its answer."""
        conv = protocol.conversation(self.record, self.answers[: len(self.turns) - 1], prompt_baseline)
        messages = [m.as_dict() for m in conv]
        if self.answers:
            messages.append({"role": "assistant", "text": self.answers[len(self.turns) - 1], "image": False})
        return {
            "record_id": self.record.id,
            "config": self.record.config,
            "question_id": self.record.question_id,
            "mode": mode.value,
            "messages": messages,
            "rounds": [
                {**turn.model_dump(mode="json"), "prompt": prompt}
                for turn, prompt in zip(self.turns, self.prompts, strict=True)
            ],
        }


@dataclass
class EngineStats:
    dialogues: int = 0
    questions: int = 0
    requests: int = 0
    tokens_real: int = 0
    tokens_padded: int = 0
    forwards: int = 0
    prefix_fallbacks: int = 0
    kv_peak_tokens: int = 0
    """The most tokens whose KV states one chunk's prefix trees held at once (0: no local cache)."""
    extraction: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "extraction"}
        return {**out, "extraction": dict(self.extraction)}


Sink = Callable[[list[Dialogue]], None]


class Engine:
    def __init__(
        self,
        adapter: ModelAdapter,
        mode: ScoringMode,
        *,
        prompt_baseline: bool = False,
        batch_size: int = 8,
        chunk_questions: int = 64,
        max_new_tokens: int = 32,
        option_choice: str = "sum",
    ) -> None:
        self.adapter = adapter
        self.mode = ScoringMode(mode)
        self.prompt_baseline = prompt_baseline
        self.batch_size = batch_size
        self.chunk_questions = chunk_questions
        self.max_new_tokens = max_new_tokens
        self.option_choice = option_choice
        self.stats = EngineStats()

    def run(
        self,
        records: Sequence[QuestionRecord],
        sink: Sink | None = None,
        advance: Callable[[int], None] | None = None,
    ) -> list[Dialogue]:
        """Run every record's dialogue; `sink` gets each finished chunk, `advance` the count done."""
        by_question: dict[str, list[QuestionRecord]] = {}
        for record in records:
            by_question.setdefault(protocol.question_key(record), []).append(record)
        keys = list(by_question)
        finished: list[Dialogue] = []
        for start in range(0, len(keys), self.chunk_questions):
            chunk = {k: by_question[k] for k in keys[start : start + self.chunk_questions]}
            dialogues = self._run_chunk(chunk)
            if sink is not None:
                sink(dialogues)
            if advance is not None:
                advance(len(dialogues))
            finished.extend(dialogues)
        return finished

    def _run_chunk(self, chunk: dict[str, list[QuestionRecord]]) -> list[Dialogue]:
        scorer = make_scorer(self.adapter, self.batch_size, self.max_new_tokens)
        firsts = [records[0] for records in chunk.values()]
        pushed = [any(protocol.pushes(r) for r in records) for records in chunk.values()]
        round1 = self._score(
            scorer, list(chunk), firsts, [protocol.round1_conversation(r) for r in firsts], pushed
        )
        dialogues: list[Dialogue] = []
        for (key, records), result in zip(chunk.items(), round1, strict=True):
            for record in records:
                turn = self._turn(1, record, result)
                answer = protocol.answer_text(self.mode, record, turn)
                dialogues.append(Dialogue(record, key, [turn], [answer], [result.prompt]))
        active = [d for d in dialogues if protocol.applies(d.record, d.turns[0].choice)]
        round_ = 2
        while active:
            convs = [protocol.conversation(d.record, d.answers, self.prompt_baseline) for d in active]
            keys = [d.key for d in active]
            # A dialogue with a push left continues: its state is kept for the next round.
            more = [len(protocol.pushes(d.record)) >= round_ for d in active]
            results = self._score(scorer, keys, [d.record for d in active], convs, more)
            for d, result in zip(active, results, strict=True):
                turn = self._turn(round_, d.record, result)
                d.turns.append(turn)
                d.answers.append(protocol.answer_text(self.mode, d.record, turn))
                d.prompts.append(result.prompt)
            round_ += 1
            active = [d for d in active if len(protocol.pushes(d.record)) >= round_ - 1]
        self.stats.dialogues += len(dialogues)
        self.stats.questions += len(chunk)
        self.stats.tokens_real += scorer.stats.real
        self.stats.tokens_padded += scorer.stats.padded
        self.stats.forwards += scorer.stats.forwards
        self.stats.prefix_fallbacks += scorer.fallbacks
        self.stats.kv_peak_tokens = max(self.stats.kv_peak_tokens, int(getattr(scorer, "peak_tokens", 0)))
        return dialogues

    def _score(
        self,
        scorer: Scorer,
        keys: list[str],
        records: list[QuestionRecord],
        convs: list[Any],
        continued: list[bool],
    ) -> list[ScoreResult]:
        requests = [
            ScoreRequest(key, r.image, conv, r.letters(), tuple(r.options), more)
            for key, r, conv, more in zip(keys, records, convs, continued, strict=True)
        ]
        self.stats.requests += len(requests)
        return scorer.run(requests, self.mode.value)

    def _turn(self, round_: int, record: QuestionRecord, result: ScoreResult) -> Turn:
        if self.mode is ScoringMode.TEXT:
            extraction = extract_choice(result.text, record.letters(), tuple(record.options))
            self.stats.extraction[extraction.reason] += 1
            return Turn(round=round_, choice=extraction.choice, text=result.text)
        assert result.scores is not None
        basis = result.scores_norm if self.option_choice == "norm" and result.scores_norm else result.scores
        # No score at all (an API that returned none of the labels): a failure, never a guess.
        best = max(range(len(basis)), key=basis.__getitem__)
        choice = record.letters()[best] if basis[best] > -math.inf else None
        return Turn(round=round_, scores=result.scores, scores_norm=result.scores_norm, choice=choice)
