"""Batched scoring on a prefix tree of KV states: every distinct token prefix is computed once.

A `BatchedScorer` lives for one chunk of questions and keeps, per question (request group and
the tokens up to the end of the image), a radix tree of KV states (`engine.tree`). Each call's
requests are inserted into their trees; the nodes that do not exist yet are computed level by
level, a level being every node whose ancestors are all computed, batched across questions
(`batch_size` rows per forward): roots by a prefill with the image, the others by extending
their parents' paths. So round 1's prompt is computed once per question, the round-1 answer and
the turn separator once per question however many records push after it, the parts two pushes
share once, and round k extends round k-1's state: only the new answer and push are run.

Memory: after a call the tree keeps only the paths of the requests marked `continued` (a later
round extends them) and drops every other node, so between calls it holds the unique tokens of
the conversations still going. During a call it also holds the call's new nodes, except that a
request's node that nothing builds on and no later round extends is dropped as soon as it is
scored, and one materialized batch (`batch_size` paths).
A request that leaves a state cached by an earlier call in its middle (a tokenizer merging
across the turn boundary) splits that state, reusing the part before the split, and is counted
in `fallbacks`, as is one whose tokens up to the image differ from its question's first
request (it gets a tree of its own).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from mmsy_dataset.adapters.base import EncodedPrompt, VLMAdapter
from mmsy_dataset.engine import tree
from mmsy_dataset.engine.kv import KVState, TokenStats, extend, greedy, prefill, select
from mmsy_dataset.engine.requests import ScoreRequest, ScoreResult


def _chunks(items: list[int], size: int) -> list[list[int]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class _Call:
    """One `run` call's bookkeeping: the requests each tree node answers, and each tree's owner."""

    def __init__(self, requests: Sequence[ScoreRequest], encoded: list[EncodedPrompt], mode: str) -> None:
        self.requests = requests
        self.encoded = encoded
        self.mode = mode
        self.results: list[ScoreResult] = []
        self.targets: dict[tree.Node, list[int]] = {}
        self.keep: set[tree.Node] = set()
        """Nodes where a `continued` request ends: kept, with their paths, for the next call."""
        self.owners: dict[tree.Node, int] = {}
        """Top of a tree -> a request of this call in it (for the image inputs of a prefill)."""


class BatchedScorer:
    """Scores a chunk's requests on a per-question prefix tree of KV states (see the module)."""

    def __init__(self, adapter: VLMAdapter, batch_size: int = 8, max_new_tokens: int = 32) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size: expected >= 1, got {batch_size}")
        self.adapter = adapter
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.stats = TokenStats()
        self.fallbacks = 0
        self.peak_tokens = 0
        """The most tokens whose keys and values the trees held at once."""
        self._trees: dict[tuple[str, tuple[int, ...]], tree.Node] = {}
        self._groups: dict[str, tuple[int, ...]] = {}
        self._calls = 0
        self._held = 0
        self._labels: dict[tuple[str, ...], dict[str, list[int]]] = {}

    def held_tokens(self) -> int:
        """Tokens whose keys and values the trees hold now."""
        return sum(tree.held_tokens(top) for top in self._trees.values())

    # --- planning ----------------------------------------------------------------------------
    def _insert(self, call: _Call, index: int, pending: list[tree.Node]) -> tree.Node:
        req, ids = call.requests[index], call.encoded[index].input_ids
        image_end = max(call.encoded[index].image_positions, default=-1) + 1
        key = (req.group, tuple(ids[:image_end]))
        first = self._groups.setdefault(req.group, key[1])
        if first != key[1]:
            self.fallbacks += 1  # another image prefix in the same group: a tree of its own
        top = self._trees.get(key)
        if top is None:
            top = self._trees[key] = tree.Node(None, ())
        call.owners.setdefault(top, index)
        node, created, split_cached = tree.insert(top, ids)
        if split_cached:
            self.fallbacks += 1
        pending.extend(created)
        return node

    # --- scoring -----------------------------------------------------------------------------
    def run(self, requests: Sequence[ScoreRequest], mode: str) -> list[ScoreResult]:
        """One result per request, in order. `mode` is a `ScoringMode` value."""
        if mode not in ("letter", "option", "text"):
            raise ValueError(f"mode: unknown scoring mode {mode!r}; expected letter, option or text")
        encoded = [self.adapter.encode_request(r) for r in requests]
        call = _Call(requests, encoded, mode)
        call.results = [
            ScoreResult(prompt=self.adapter.render(r.conversation), n_prompt_tokens=len(e.input_ids))
            for r, e in zip(requests, encoded, strict=True)
        ]
        self._calls += 1
        pending: list[tree.Node] = []
        for i in range(len(requests)):
            call.targets.setdefault(self._insert(call, i, pending), []).append(i)
        for node in call.targets:
            if node.computed and node.last is None:  # ends where no logits were kept
                pending.append(tree.reopen(node))
        cached = [node for node in call.targets if node.computed]
        call.keep = {n for n, idx in call.targets.items() if any(requests[i].continued for i in idx)}
        self._held = self.held_tokens()
        self._compute(call, pending)
        for batch in _chunks(list(range(len(cached))), self.batch_size):
            nodes = [cached[i] for i in batch]
            state = tree.materialize(nodes, self.stats) if mode != "letter" else None
            self._score(call, nodes, state, list(range(len(nodes))))
        self._release(call)
        return call.results

    def _compute(self, call: _Call, pending: list[tree.Node]) -> None:
        """Compute the pending nodes level by level, scoring each request as its node is done."""
        while pending:
            ready = [n for n in pending if n.ready()]
            assert ready, "prefix tree: pending nodes under an uncomputed node"
            chosen = set(ready)
            pending[:] = [n for n in pending if n not in chosen]
            roots = [n for n in ready if n.is_root]
            others = [n for n in ready if not n.is_root]
            for batch in _chunks(list(range(len(roots))), self.batch_size):
                self._prefill(call, [roots[i] for i in batch])
            for batch in _chunks(list(range(len(others))), self.batch_size):
                self._extend(call, [others[i] for i in batch])

    def _prefill(self, call: _Call, nodes: list[tree.Node]) -> None:
        owners = [call.owners[n.parent] for n in nodes if n.parent is not None]
        images = [
            [p for p in call.encoded[o].image_positions if p < len(n.tokens)]
            for o, n in zip(owners, nodes, strict=True)
        ]
        pixels = self.adapter.request_image_inputs([call.requests[o] for o in owners])
        state = prefill(self.adapter, [list(n.tokens) for n in nodes], pixels, self.stats, images)
        offsets = (state.lengths - state.mask.sum(-1)).tolist()
        for node, offset in zip(nodes, offsets, strict=True):
            node.offset = int(offset)
        self._store(call, nodes, state, 0)

    def _extend(self, call: _Call, nodes: list[tree.Node]) -> None:
        parents = [n.parent for n in nodes if n.parent is not None]
        base = tree.materialize(parents, self.stats)
        state, _ = extend(self.adapter, base, None, [list(n.tokens) for n in nodes])
        for node, parent in zip(nodes, parents, strict=True):
            node.offset = parent.offset
        self._store(call, nodes, state, int(base.mask.shape[1]))

    def _store(self, call: _Call, nodes: list[tree.Node], state: KVState, start: int) -> None:
        """Keep each row's new slots as its node's segment; score the requests ending there."""
        counts = [len(n.tokens) for n in nodes]
        for node, kv, n, row in zip(nodes, tree.segments(state, start, counts), counts, range(len(nodes)), strict=True):
            node.kv, node.call = kv, self._calls
            assert state.image is not None
            node.image = state.image[row, start : start + n].clone()
        self._held += sum(counts)
        self.peak_tokens = max(self.peak_tokens, self._held)
        rows = [row for row, n in enumerate(nodes) if n in call.targets]
        for row in rows:
            nodes[row].last = state.last_logits[row].clone()
        if rows:
            self._score(call, [nodes[r] for r in rows], state, rows)
        for node in (nodes[r] for r in rows):
            if node not in call.keep and not node.children:  # scored, and nothing builds on it
                self._held -= len(node.tokens)
                node.kv = node.image = node.last = None

    def _release(self, call: _Call) -> None:
        """Drop every node no `continued` request of this call ends at or passes through."""
        for key, top in list(self._trees.items()):
            if not tree.prune(top, call.keep):
                del self._trees[key]

    def _score(self, call: _Call, nodes: list[tree.Node], state: KVState | None, rows: list[int]) -> None:
        scorer: Callable[[_Call, list[tree.Node], KVState | None, list[int]], None] = {
            "letter": self._letters,
            "option": self._options,
            "text": self._generate,
        }[call.mode]
        scorer(call, nodes, state, rows)

    def _letters(self, call: _Call, nodes: list[tree.Node], state: KVState | None, rows: list[int]) -> None:
        for node in nodes:
            assert node.last is not None
            logprobs = torch.log_softmax(node.last.float(), dim=-1)
            for i in call.targets[node]:
                letters = call.requests[i].letters
                labels = self._labels.get(letters)
                if labels is None:
                    labels = self._labels[letters] = self.adapter.label_token_ids(letters)
                call.results[i].scores = [float(torch.logsumexp(logprobs[labels[x]], dim=0)) for x in letters]

    def _options(self, call: _Call, nodes: list[tree.Node], state: KVState | None, rows: list[int]) -> None:
        """Each option's continuation scored on top of the request's state (its last token's
        output is not needed, so all but the last token are fed)."""
        assert state is not None
        prefix = self.adapter.answer_prefix()
        jobs: list[tuple[int, int, str, list[int]]] = []  # (node index, row, option, continuation)
        for k, (node, row) in enumerate(zip(nodes, rows, strict=True)):
            distinct = {o for i in call.targets[node] for o in call.requests[i].options}
            jobs.extend((k, row, o, self.adapter.continuation_ids(prefix + o)) for o in sorted(distinct))
        first = {row: torch.log_softmax(state.last_logits[row].float(), dim=-1) for row in rows}
        totals: dict[tuple[int, str], float] = {}
        for batch in _chunks(list(range(len(jobs))), self.batch_size):
            feeds = [jobs[b][3][:-1] for b in batch]
            logprobs = None
            if any(feeds):
                _, logprobs = extend(self.adapter, state, [jobs[b][1] for b in batch], feeds, all_logprobs=True)
            for r, b in enumerate(batch):
                k, row, option, cont = jobs[b]
                total = float(first[row][cont[0]])
                for t in range(1, len(cont)):
                    assert logprobs is not None
                    total += float(logprobs[r, t - 1, cont[t]])
                totals[(k, option)] = total
        for k, node in enumerate(nodes):
            for i in call.targets[node]:
                options = call.requests[i].options
                call.results[i].scores = [totals[(k, o)] for o in options]
                call.results[i].scores_norm = [totals[(k, o)] / max(1, len(o.encode("utf-8"))) for o in options]

    def _generate(self, call: _Call, nodes: list[tree.Node], state: KVState | None, rows: list[int]) -> None:
        assert state is not None
        replies = greedy(self.adapter, select(state, rows), self.max_new_tokens)
        for node, ids in zip(nodes, replies, strict=True):
            text = self.adapter.decode(ids)
            for i in call.targets[node]:
                call.results[i].text = text
