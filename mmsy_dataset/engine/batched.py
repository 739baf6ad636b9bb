"""Batched scoring with shared prefixes: each group's prefix (image + round 1) is computed once.

A `BatchedScorer` lives for one chunk of questions. The first time it sees a group it prefills
the group's longest common prefix (stopping one token before the shortest request, so every
request has a suffix whose last position gives the answer logits) and keeps that KV state;
every later request of the group (other tones, corrections, later rounds) only runs its
suffix on a copy of that state. A request whose tokens do not start with its group's prefix
(a tokenizer merging across the boundary) is prefilled on its own and counted in `fallbacks`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from mmsy_dataset.adapters.base import EncodedPrompt, VLMAdapter
from mmsy_dataset.engine.kv import KVState, TokenStats, extend, greedy, prefill
from mmsy_dataset.engine.requests import ScoreRequest, ScoreResult


@dataclass(frozen=True)
class _Slot:
    state: int
    row: int
    prefix: tuple[int, ...]


def _common_prefix(seqs: Sequence[Sequence[int]]) -> int:
    first, n = seqs[0], min(len(s) for s in seqs)
    for i in range(n):
        if any(s[i] != first[i] for s in seqs[1:]):
            return i
    return n


def _chunks(items: list[int], size: int) -> list[list[int]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class BatchedScorer:
    def __init__(self, adapter: VLMAdapter, batch_size: int = 8, max_new_tokens: int = 32) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size: expected >= 1, got {batch_size}")
        self.adapter = adapter
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.stats = TokenStats()
        self.fallbacks = 0
        self._slots: dict[str, _Slot] = {}
        self._states: list[KVState] = []
        self._labels: dict[tuple[str, ...], dict[str, list[int]]] = {}

    # --- prefixes ----------------------------------------------------------------------------
    def _prefill(
        self, keys: list[str], prefixes: list[list[int]], owners: list[ScoreRequest], images: list[list[int]]
    ) -> None:
        """Prefill each key's prefix; `images` holds each prefix's image positions."""
        for batch in _chunks(list(range(len(keys))), self.batch_size):
            pixels = self.adapter.request_image_inputs([owners[i] for i in batch])
            state = prefill(self.adapter, [prefixes[i] for i in batch], pixels, self.stats, [images[i] for i in batch])
            self._states.append(state)
            for row, i in enumerate(batch):
                self._slots[keys[i]] = _Slot(len(self._states) - 1, row, tuple(prefixes[i]))

    def _plan(self, requests: Sequence[ScoreRequest], encoded: list[EncodedPrompt]) -> list[_Slot]:
        """The prefix slot of each request, prefilling the groups seen for the first time."""
        members: dict[str, list[int]] = defaultdict(list)
        for i, req in enumerate(requests):
            members[req.group].append(i)
        keys: list[str] = []
        prefixes: list[list[int]] = []
        owners: list[ScoreRequest] = []
        images: list[list[int]] = []
        for group, idx in members.items():
            if group in self._slots:
                continue
            seqs = [encoded[i].input_ids for i in idx]
            length = min(_common_prefix(seqs), min(len(s) for s in seqs) - 1)
            last_image = max((p for i in idx for p in encoded[i].image_positions), default=-1)
            if length <= last_image:
                raise ValueError(
                    f"group {group!r}: requests differ before the end of the image; "
                    "requests of one group must share the image and the first user turn"
                )
            keys.append(group)
            prefixes.append(seqs[0][:length])
            owners.append(requests[idx[0]])
            images.append([p for p in encoded[idx[0]].image_positions if p < length])
        self._prefill(keys, prefixes, owners, images)

        slots: list[_Slot] = []
        fallback_keys: list[str] = []
        fallback_prefixes: list[list[int]] = []
        fallback_owners: list[ScoreRequest] = []
        fallback_images: list[list[int]] = []
        for i, req in enumerate(requests):
            slot = self._slots[req.group]
            ids = encoded[i].input_ids
            if len(ids) > len(slot.prefix) and tuple(ids[: len(slot.prefix)]) == slot.prefix:
                slots.append(slot)
                continue
            key = f"\0fallback:{len(self._slots)}:{i}"
            fallback_keys.append(key)
            fallback_prefixes.append(ids[:-1])
            fallback_owners.append(req)
            fallback_images.append([p for p in encoded[i].image_positions if p < len(ids) - 1])
            slots.append(_Slot(-1, -1, (len(fallback_keys) - 1,)))
        if fallback_keys:
            self.fallbacks += len(fallback_keys)
            self._prefill(fallback_keys, fallback_prefixes, fallback_owners, fallback_images)
            slots = [self._slots[fallback_keys[s.prefix[0]]] if s.state < 0 else s for s in slots]
        return slots

    # --- scoring -----------------------------------------------------------------------------
    def run(self, requests: Sequence[ScoreRequest], mode: str) -> list[ScoreResult]:
        """One result per request, in order. `mode` is a `ScoringMode` value."""
        scorer = {"letter": self._letters, "option": self._options, "text": self._generate}.get(mode)
        if scorer is None:
            raise ValueError(f"mode: unknown scoring mode {mode!r}; expected letter, option or text")
        encoded = [self.adapter.encode_request(r) for r in requests]
        slots = self._plan(requests, encoded)
        results = [
            ScoreResult(prompt=self.adapter.render(r.conversation), n_prompt_tokens=len(e.input_ids))
            for r, e in zip(requests, encoded, strict=True)
        ]
        by_state: dict[int, list[int]] = defaultdict(list)
        for i, slot in enumerate(slots):
            by_state[slot.state].append(i)
        for state_index, idx in by_state.items():
            for batch in _chunks(idx, self.batch_size):
                rows = [slots[i].row for i in batch]
                suffixes = [encoded[i].input_ids[len(slots[i].prefix) :] for i in batch]
                state, _ = extend(self.adapter, self._states[state_index], rows, suffixes)
                scorer([requests[i] for i in batch], state, [results[i] for i in batch])
        return results

    def _letters(self, requests: list[ScoreRequest], state: KVState, out: list[ScoreResult]) -> None:
        logprobs = torch.log_softmax(state.last_logits.float(), dim=-1)
        for i, (req, res) in enumerate(zip(requests, out, strict=True)):
            labels = self._labels.get(req.letters)
            if labels is None:
                labels = self._labels[req.letters] = self.adapter.label_token_ids(req.letters)
            res.scores = [float(torch.logsumexp(logprobs[i, labels[letter]], dim=0)) for letter in req.letters]

    def _options(self, requests: list[ScoreRequest], state: KVState, out: list[ScoreResult]) -> None:
        first = torch.log_softmax(state.last_logits.float(), dim=-1)
        prefix = self.adapter.answer_prefix()
        jobs = [
            (i, j, self.adapter.continuation_ids(prefix + option))
            for i, req in enumerate(requests)
            for j, option in enumerate(req.options)
        ]
        totals: dict[tuple[int, int], float] = {}
        for batch in _chunks(list(range(len(jobs))), self.batch_size):
            rows = [jobs[b][0] for b in batch]
            # The last continuation token's own output is not needed: feed all but the last.
            feeds = [jobs[b][2][:-1] for b in batch]
            logprobs = None
            if any(feeds):
                _, logprobs = extend(self.adapter, state, rows, feeds, all_logprobs=True)
            for r, b in enumerate(batch):
                i, j, cont = jobs[b]
                total = float(first[i, cont[0]])
                for t in range(1, len(cont)):
                    assert logprobs is not None
                    total += float(logprobs[r, t - 1, cont[t]])
                totals[(i, j)] = total
        for i, (req, res) in enumerate(zip(requests, out, strict=True)):
            res.scores = [totals[(i, j)] for j in range(len(req.options))]
            res.scores_norm = [
                totals[(i, j)] / max(1, len(option.encode("utf-8"))) for j, option in enumerate(req.options)
            ]

    def _generate(self, requests: list[ScoreRequest], state: KVState, out: list[ScoreResult]) -> None:
        for res, ids in zip(out, greedy(self.adapter, state, self.max_new_tokens), strict=True):
            res.text = self.adapter.decode(ids)
