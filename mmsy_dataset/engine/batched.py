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
request (it gets a tree of its own). Each request is scored in the forward that computes its
last token (no logits are kept in the tree), so one that ends where an earlier call already
computed reruns that token.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from mmsy_dataset.adapters.base import VLMAdapter
from mmsy_dataset.api.prompts import EncodedPrompt
from mmsy_dataset.api.requests import ScoreRequest, ScoreResult
from mmsy_dataset.api.scorer import TokenStats
from mmsy_dataset.engine import tree
from mmsy_dataset.engine.kv import KVState, extend, greedy, prefill, select


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
            if node.computed:  # computed by an earlier call: its last token runs again, for its logits
                pending.append(tree.reopen(node))
        call.keep = {n for n, idx in call.targets.items() if any(requests[i].continued for i in idx)}
        self._held = self.held_tokens()
        self._compute(call, pending)
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
        """Keep each row's new slots as its node's segment; score the requests ending there, in
        the forward that computed their last token (what `analysis.capture` reads)."""
        counts = [len(n.tokens) for n in nodes]
        for node, kv, n, row in zip(nodes, tree.segments(state, start, counts), counts, range(len(nodes)), strict=True):
            node.kv, node.call = kv, self._calls
            assert state.image is not None
            node.image = state.image[row, start : start + n].clone()
        self._held += sum(counts)
        self.peak_tokens = max(self.peak_tokens, self._held)
        done = [row for row, n in enumerate(nodes) if n in call.targets]
        flat = [(i, row) for row in done for i in call.targets[nodes[row]]]
        if flat:
            scorer = {"letter": self._letters, "option": self._options, "text": self._generate}[call.mode]
            scorer(
                [call.requests[i] for i, _ in flat],
                state,
                [row for _, row in flat],
                [call.results[i] for i, _ in flat],
            )
        for node in (nodes[r] for r in done):
            if node not in call.keep and not node.children:  # scored, and nothing builds on it
                self._held -= len(node.tokens)
                node.kv = node.image = None

    def _release(self, call: _Call) -> None:
        """Drop every node no `continued` request of this call ends at or passes through."""
        for key, top in list(self._trees.items()):
            if not tree.prune(top, call.keep):
                del self._trees[key]

    # Mode scorers: request k ends at row rows[k] of `state`, the batch just computed; its
    # result is out[k] (requests that are the same sequence share a row).
    def _letters(self, requests: list[ScoreRequest], state: KVState, rows: list[int], out: list[ScoreResult]) -> None:
        logprobs = torch.log_softmax(state.last_logits.float(), dim=-1)
        for req, row, res in zip(requests, rows, out, strict=True):
            labels = self._labels.get(req.letters)
            if labels is None:
                labels = self._labels[req.letters] = self.adapter.label_token_ids(req.letters)
            res.scores = [float(torch.logsumexp(logprobs[row, labels[x]], dim=0)) for x in req.letters]

    def _options(self, requests: list[ScoreRequest], state: KVState, rows: list[int], out: list[ScoreResult]) -> None:
        """Each option's continuation scored on top of the request's state (its last token's
        output is not needed, so all but the last token are fed); once per row and option."""
        first = torch.log_softmax(state.last_logits.float(), dim=-1)
        prefix = self.adapter.answer_prefix()
        jobs = sorted({(row, o) for req, row in zip(requests, rows, strict=True) for o in req.options})
        conts = {o: self.adapter.continuation_ids(prefix + o) for _, o in jobs}
        totals: dict[tuple[int, str], float] = {}
        for batch in _chunks(list(range(len(jobs))), self.batch_size):
            feeds = [conts[jobs[b][1]][:-1] for b in batch]
            logprobs = None
            if any(feeds):
                _, logprobs = extend(self.adapter, state, [jobs[b][0] for b in batch], feeds, all_logprobs=True)
            for r, b in enumerate(batch):
                row, option = jobs[b]
                cont = conts[option]
                total = float(first[row, cont[0]])
                for t in range(1, len(cont)):
                    assert logprobs is not None
                    total += float(logprobs[r, t - 1, cont[t]])
                totals[(row, option)] = total
        for req, row, res in zip(requests, rows, out, strict=True):
            res.scores = [totals[(row, o)] for o in req.options]
            res.scores_norm = [totals[(row, o)] / max(1, len(o.encode("utf-8"))) for o in req.options]

    def _generate(self, requests: list[ScoreRequest], state: KVState, rows: list[int], out: list[ScoreResult]) -> None:
        unique = sorted(set(rows))
        replies = greedy(self.adapter, select(state, unique), self.max_new_tokens)
        texts = {row: self.adapter.decode(ids) for row, ids in zip(unique, replies, strict=True)}
        for row, res in zip(rows, out, strict=True):
            res.text = texts[row]
