"""Batched KV-cache states: prefill a prefix once, extend it with many suffixes.

Padding is on the right everywhere, so a padded slot always follows a real token and no query
row is ever fully masked (fully masked rows give NaNs in SDPA that leak through zero weights).
After an extension the cache therefore holds padding *between* real tokens; the 2-D attention
mask hides it and position ids are passed explicitly as the count of real tokens before each
token, so RoPE sees exactly the positions of an unpadded, uncached forward.

Each state also records which of its cache slots hold image keys (from the adapter's
`EncodedPrompt.image_positions`), and every forward publishes the flags of its keys in
`FORWARD_IMAGE_KEYS`: attention hooks (amplification, `mmsy_dataset.engine.amplify`) read
them there, so they see cached round-1 image keys, padding and merged rows exactly as laid out.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from mmsy_dataset.api.scorer import TokenStats

if TYPE_CHECKING:
    from mmsy_dataset.adapters.base import VLMAdapter

#: Image-key flags of the forward in progress: (rows, key slots) bool, True where the key is an
#: image token, in the layout of the forward's 2-D attention mask (cached slots, then new ones).
#: None outside a forward, or when the caller did not say where the images are.
FORWARD_IMAGE_KEYS: ContextVar[torch.Tensor | None] = ContextVar("FORWARD_IMAGE_KEYS", default=None)


@contextmanager
def forward_image_keys(flags: torch.Tensor | None) -> Iterator[None]:
    """Publish `flags` (see `FORWARD_IMAGE_KEYS`) for the duration of one forward."""
    token = FORWARD_IMAGE_KEYS.set(flags)
    try:
        yield
    finally:
        FORWARD_IMAGE_KEYS.reset(token)


def image_key_flags(
    positions: Sequence[Sequence[int]] | None, width: int, device: torch.device | str
) -> torch.Tensor | None:
    """(rows, width) bool flags, True at each row's image positions; None if `positions` is None."""
    if positions is None:
        return None
    flags = torch.zeros((len(positions), width), dtype=torch.bool)
    for row, where in enumerate(positions):
        flags[row, list(where)] = True
    return flags.to(device)


@dataclass
class KVState:
    """Per-row KV cache (one (keys, values) pair per layer), mask and real lengths."""

    layers: list[tuple[torch.Tensor, torch.Tensor]]
    mask: torch.Tensor  # (rows, slots), 1 = real token
    lengths: torch.Tensor  # (rows,), next position id: real tokens (+ the adapter's position offset)
    last_logits: torch.Tensor  # (rows, vocab) at each row's last real token
    stats: TokenStats = field(default_factory=TokenStats)
    image: torch.Tensor | None = None  # (rows, slots) bool, True at image keys; None: not known

    @property
    def rows(self) -> int:
        return int(self.mask.shape[0])


def _pad_right(seqs: Sequence[Sequence[int]], pad: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(1, max((len(s) for s in seqs), default=1))
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, seq in enumerate(seqs):
        ids[i, : len(seq)] = torch.tensor(list(seq), dtype=torch.long)
        mask[i, : len(seq)] = 1
    return ids.to(device), mask.to(device)


def _cache_layers(cache: Any) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(layer.keys, layer.values) for layer in cache.layers]


def _gather_last(hidden: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    index = (lengths - 1).clamp(min=0).to(hidden.device)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), index]


@torch.no_grad()
def prefill(
    adapter: VLMAdapter,
    seqs: Sequence[Sequence[int]],
    image_inputs: dict[str, torch.Tensor] | None,
    stats: TokenStats | None = None,
    image_positions: Sequence[Sequence[int]] | None = None,
) -> KVState:
    """Run full sequences (with their images) from an empty cache. `image_positions` (per row,
    indices into the sequence) marks the image keys for attention hooks."""
    stats = stats if stats is not None else TokenStats()
    ids, mask = _pad_right(seqs, adapter.pad_token_id, adapter.device)
    positions = torch.arange(ids.shape[1], device=ids.device).expand_as(ids)
    image = image_key_flags(image_positions, ids.shape[1], mask.device)
    cache = adapter.make_cache(None)
    with forward_image_keys(image):
        hidden = adapter.hidden_states(ids, mask, positions, cache, image_inputs)
    stats.add(int(mask.sum()), int(mask.numel()))
    lengths = mask.sum(-1)
    last = adapter.lm_logits(_gather_last(hidden, lengths))
    offsets = adapter.position_offsets(ids, mask, image_inputs)
    if offsets is not None:
        lengths = lengths + offsets.to(lengths.device, lengths.dtype)
    return KVState(_cache_layers(cache), mask, lengths, last, stats, image)


def select(state: KVState, rows: Sequence[int]) -> KVState:
    """The state of `rows` (in that order), copied out of `state` without a forward."""
    index = torch.tensor(list(rows), dtype=torch.long, device=state.mask.device)
    return KVState(
        [(k.index_select(0, index), v.index_select(0, index)) for k, v in state.layers],
        state.mask.index_select(0, index),
        state.lengths.index_select(0, index),
        state.last_logits.index_select(0, index),
        state.stats,
        state.image.index_select(0, index) if state.image is not None else None,
    )


@torch.no_grad()
def extend(
    adapter: VLMAdapter,
    state: KVState,
    rows: Sequence[int] | None,
    suffixes: Sequence[Sequence[int]],
    all_logprobs: bool = False,
) -> tuple[KVState, torch.Tensor | None]:
    """Append `suffixes[i]` to row `rows[i]` of `state` (all rows, in order, if `rows` is None).

    Returns the new state (one row per suffix; `state` is left unchanged) and, if asked, the
    log-probabilities at every suffix position (rows, suffix_len, vocab). An empty suffix is
    allowed (the row is carried along, its last logits kept).
    """
    device = state.mask.device
    base = state if rows is None else select(state, rows)
    layers = base.layers
    base_mask, base_len, base_last, base_image = base.mask, base.lengths, base.last_logits, base.image
    ids, new_mask = _pad_right(suffixes, adapter.pad_token_id, adapter.device)
    new_mask = new_mask.to(device)
    positions = base_len[:, None] + new_mask.cumsum(-1) - 1
    positions = torch.where(new_mask.bool(), positions, base_len[:, None])
    mask = torch.cat([base_mask, new_mask], dim=1)
    image = torch.cat([base_image, torch.zeros_like(new_mask, dtype=torch.bool)], 1) if base_image is not None else None
    cache = adapter.make_cache(layers)
    with forward_image_keys(image):
        hidden = adapter.hidden_states(ids, mask, positions, cache, None)
    state.stats.add(int(new_mask.sum()), int(new_mask.numel()))
    added = new_mask.sum(-1)
    last = adapter.lm_logits(_gather_last(hidden, added))
    last = torch.where((added > 0)[:, None], last, base_last)
    logprobs = torch.log_softmax(adapter.lm_logits(hidden), dim=-1) if all_logprobs else None
    new_state = KVState(_cache_layers(cache), mask, base_len + added, last, state.stats, image)
    return new_state, logprobs


@torch.no_grad()
def greedy(adapter: VLMAdapter, state: KVState, max_new_tokens: int) -> list[list[int]]:
    """Greedy decoding of every row of `state`, until an end-of-sequence token or the limit."""
    eos = adapter.eos_token_ids
    out: list[list[int]] = [[] for _ in range(state.rows)]
    done = [False] * state.rows
    for _ in range(max_new_tokens):
        choice = state.last_logits.argmax(-1).tolist()
        feed: list[list[int]] = []
        for i, token in enumerate(choice):
            if not done[i]:
                if token in eos:
                    done[i] = True
                else:
                    out[i].append(int(token))
            feed.append([] if done[i] else [int(token)])
        if all(done):
            break
        state, _ = extend(adapter, state, None, feed)
    return out
