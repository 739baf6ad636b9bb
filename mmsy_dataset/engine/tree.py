"""A prefix tree of KV states per question: every distinct token prefix is computed once.

A node holds the KV cache of its own tokens only (the edge from its parent), so a path from a
root to a node is that node's whole sequence and a tree stores each distinct prefix once. The
tree is a radix tree: a node's children start with different tokens, and a node is split where
a new sequence leaves it (a node's keys and values at a position depend only on the tokens up
to it, so either half of a split is still exact).

The model still runs on contiguous per-row caches: `materialize` concatenates the segments along
each path into one right-padded batch (`KVState`), the batch is extended by the usual
`kv.extend`, and `segments` cuts each row's new tokens back out as the new nodes' segments.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch

from mmsy_dataset.api.scorer import TokenStats
from mmsy_dataset.engine.kv import KVState


class Node:
    """One edge of the tree: its tokens and, once computed, their keys and values.

    `kv` is (layers, 2, kv_heads, len(tokens), head_dim) (keys and values stacked), `image` is
    (len(tokens),) bool (True at image tokens, for attention hooks), `offset` the path's position
    offset (a family's M-RoPE images take fewer positions than tokens), `call` the scorer call
    that computed it (-1: not computed). No logits are kept: a request is scored in the forward
    that computes its last token."""

    __slots__ = ("call", "children", "image", "kv", "offset", "parent", "tokens")

    def __init__(self, parent: Node | None, tokens: tuple[int, ...]) -> None:
        self.parent = parent
        self.tokens = tokens
        self.children: dict[int, Node] = {}
        self.kv: torch.Tensor | None = None
        self.image: torch.Tensor | None = None
        self.offset = 0
        self.call = -1

    @property
    def computed(self) -> bool:
        return self.kv is not None

    @property
    def is_root(self) -> bool:
        """A root (its parent is the tree's empty top): computed by a prefill with the image."""
        return self.parent is not None and self.parent.parent is None

    def path(self) -> list[Node]:
        """The nodes from the root down to this one (the empty top excluded)."""
        out: list[Node] = []
        node: Node | None = self
        while node is not None and node.parent is not None:
            out.append(node)
            node = node.parent
        return out[::-1]

    def ready(self) -> bool:
        """Whether every node above this one is computed (so this one can be)."""
        return all(node.computed for node in self.path()[:-1])

    def walk(self) -> Iterator[Node]:
        """This node and every node below it."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(node.children.values())


def split(node: Node, at: int) -> Node:
    """Cut `node` after `at` of its tokens (0 < at < len); returns the new upper node, whose only
    child is `node`, now holding the remaining tokens. Computed halves keep their keys and values."""
    assert node.parent is not None and 0 < at < len(node.tokens)
    upper = Node(node.parent, node.tokens[:at])
    node.parent.children[node.tokens[0]] = upper
    upper.offset, upper.call = node.offset, node.call
    if node.kv is not None:
        upper.kv, node.kv = node.kv[..., :at, :].clone(), node.kv[..., at:, :].clone()
    if node.image is not None:
        upper.image, node.image = node.image[:at].clone(), node.image[at:].clone()
    node.tokens = node.tokens[at:]
    node.parent = upper
    upper.children[node.tokens[0]] = node
    return upper


def insert(top: Node, ids: Sequence[int]) -> tuple[Node, list[Node], bool]:
    """The node at which `ids` ends, creating and splitting nodes as needed.

    Returns (node, new uncomputed nodes, whether a node computed before was split: the sequence
    left a cached state in its middle)."""
    node, pos, created, split_cached = top, 0, [], False
    while pos < len(ids):
        child = node.children.get(ids[pos])
        if child is None:
            child = Node(node, tuple(ids[pos:]))
            node.children[ids[pos]] = child
            created.append(child)
            return child, created, split_cached
        rest = ids[pos : pos + len(child.tokens)]
        same = next((i for i, (a, b) in enumerate(zip(child.tokens, rest, strict=False)) if a != b), len(rest))
        if same < len(child.tokens):
            split_cached |= child.computed
            child = split(child, same)
            if not child.computed:
                created.append(child)
        node, pos = child, pos + same
    return node, created, split_cached


def reopen(node: Node) -> Node:
    """Make a computed node computable again, cheaply (a request ending there needs the logits
    of its last token, which are not kept): its last token becomes a node of its own, dropped so
    that the next compute runs only that token."""
    if len(node.tokens) > 1:
        split(node, len(node.tokens) - 1)
    node.kv, node.image, node.call = None, None, -1
    return node


def prune(top: Node, keep: set[Node]) -> bool:
    """Drop every node that is not on the path to a node of `keep`. Returns whether anything is
    left under `top`."""
    marked: set[Node] = set()
    for node in keep:
        for above in node.path():
            marked.add(above)
    stack = [top]
    while stack:
        node = stack.pop()
        node.children = {t: c for t, c in node.children.items() if c in marked}
        stack.extend(node.children.values())
    return bool(top.children)


def held_tokens(top: Node) -> int:
    """Tokens whose keys and values the tree under `top` holds."""
    return sum(len(n.tokens) for n in top.walk() if n.computed)


def materialize(nodes: Sequence[Node], stats: TokenStats) -> KVState:
    """One right-padded batch holding each node's whole path (every path computed), each
    segment copied once into place, to be extended by at least one token per row (its
    `last_logits` are placeholders that the extension replaces)."""
    paths = [node.path() for node in nodes]
    lens = [sum(len(n.tokens) for n in path) for path in paths]
    width = max(lens)
    first = paths[0][0].kv
    assert first is not None
    layers, _, heads, _, dim = first.shape
    device = first.device
    kv = torch.zeros((len(nodes), layers, 2, heads, width, dim), dtype=first.dtype, device=device)
    image = torch.zeros((len(nodes), width), dtype=torch.bool, device=device)
    for row, path in enumerate(paths):
        at = 0
        for node in path:
            assert node.kv is not None and node.image is not None
            n = len(node.tokens)
            kv[row, :, :, :, at : at + n] = node.kv
            image[row, at : at + n] = node.image
            at += n
    real = torch.tensor(lens, device=device)
    mask = (torch.arange(width, device=device)[None, :] < real[:, None]).long()
    lengths = real + torch.tensor([path[0].offset for path in paths], device=device)
    last = torch.zeros((len(nodes), 1), device=device)
    return KVState([(kv[:, i, 0], kv[:, i, 1]) for i in range(layers)], mask, lengths, last, stats, image)


def segments(state: KVState, start: int, counts: Sequence[int]) -> list[torch.Tensor]:
    """Each row's `counts[row]` cache slots from slot `start` on, as (layers, 2, heads, n, dim)
    copies (copies, so that the batch's memory is freed with the batch)."""
    end = [start + n for n in counts]
    return [
        torch.stack([torch.stack((k[row, :, start : end[row]], v[row, :, start : end[row]])) for k, v in state.layers])
        for row in range(len(counts))
    ]
