"""Supervising where attention looks: the training signal for finding the asked object.

Glyph identities and tints are linearly readable at their image tokens after stage 1, yet the
language model does not learn from the answer loss alone to pick the asked object out of the
three to five in a scene (`docs/reference_model_findings.md`). Three losses supervise the
attention of head 0 of chosen layers directly; the heads are plain heads of the committed
model, only their training signal is extra:

- focus (`AnswerLookup(to="question")`, layer 0): the position that predicts the round-1
  answer attends to the question's words of what is asked, so that its query carries them;
- name (`NameMatch`, layer 0): the image token of a thing the question names attends to that
  name, so that it carries a copy of the same word;
- lookup (`AnswerLookup(to="image")`, layer 1): the answer position attends to the image
  tokens of what carries the answer (the framed one, the named one, the counted ones, the
  court's equipment), or to the first token when nothing does.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any


class AttentionProbe:
    """Forward pre-hooks on chosen self-attention layers that keep their inputs for one step, so
    that one head's attention can be recomputed (as the model computes it) where a loss needs it."""

    def __init__(self, language_model: Any, layers: Sequence[int], head: int = 0) -> None:
        self.attention = [language_model.layers[i].self_attn for i in layers]
        self.head = head
        self.inputs: list[tuple[Any, Any] | None] = [None] * len(self.attention)
        self.handles = [
            module.register_forward_pre_hook(self._keeper(i), with_kwargs=True)
            for i, module in enumerate(self.attention)
        ]

    def _keeper(self, slot: int) -> Any:
        def keep(_module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            hidden = kwargs.get("hidden_states", args[0] if args else None)
            self.inputs[slot] = (hidden, kwargs["position_embeddings"])

        return keep

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()

    def log_attention(self, rows: Any, queries: Any) -> list[Any]:
        """Per hooked layer, log attention probabilities (n, q, length) of head `head` for the
        query positions `queries` (n, q) of batch rows `rows` (n,); keys after a query are masked."""
        import torch
        from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

        out = []
        for module, kept in zip(self.attention, self.inputs, strict=True):
            assert kept is not None, "AttentionProbe used before a forward pass"
            hidden, (cos, sin) = kept
            hidden = hidden[rows]
            cos = cos[rows] if cos.shape[0] > 1 else cos
            sin = sin[rows] if sin.shape[0] > 1 else sin
            dim = module.head_dim
            kv_head = self.head // (module.config.num_attention_heads // module.config.num_key_value_heads)
            q = module.q_proj(hidden)[..., self.head * dim : (self.head + 1) * dim].unsqueeze(1)
            k = module.k_proj(hidden)[..., kv_head * dim : (kv_head + 1) * dim].unsqueeze(1)
            q, k = apply_rotary_pos_emb(q, k, cos, sin)
            picked = torch.gather(q[:, 0], 1, queries.unsqueeze(-1).expand(-1, -1, dim))  # (n, q, dim)
            scores = torch.einsum("nqd,nld->nql", picked, k[:, 0]).float() * module.scaling
            keys = torch.arange(scores.shape[-1])
            scores = scores.masked_fill(keys.view(1, 1, -1) > queries.unsqueeze(-1), float("-inf"))
            out.append(scores.log_softmax(-1))
        return out

    def done(self) -> None:
        self.inputs = [None] * len(self.attention)

    def batch_loss(self, inputs: dict[str, Any], at_image: Any) -> Any:
        """This probe's loss on a collated training batch (`train.collate` with patch labels)."""
        raise NotImplementedError


class AnswerLookup(AttentionProbe):
    """The attention of the position that predicts the round-1 answer, towards the image tokens
    of the thing that carries the answer (`to="image"`, the lookup) or towards the question's
    focus words (`to="question"`, the focus)."""

    def __init__(self, language_model: Any, layers: Sequence[int], to: str = "image", head: int = 0) -> None:
        if to not in ("image", "question"):
            raise ValueError(f"AnswerLookup: to must be 'image' or 'question', not {to!r}")
        super().__init__(language_model, layers, head)
        self.to = to

    def batch_loss(self, inputs: dict[str, Any], at_image: Any) -> Any:
        """The loss on a collated training batch (`train.collate` with patch labels)."""
        import torch

        if self.to == "question":
            return self.loss(inputs["answer_at"], inputs["focus"])
        targets = torch.zeros_like(at_image)
        targets[at_image] = (inputs["patch_labels"].role == 1).flatten()  # role class 1
        # Nothing carries the answer (a "no" to object presence): look at the first token, so
        # that "found nothing" is a value the answer can be read from, like a glyph.
        targets[~targets.any(-1), 0] = True
        return self.loss(inputs["answer_at"], targets)

    def loss(self, positions: Any, targets: Any) -> Any:
        """Mean -log(attention mass on `targets`) at `positions`, over the hooked layers.

        positions: (batch,) index of the token that predicts the answer, -1 to skip the row;
        targets: (batch, length) bool, the keys that hold the answer. Rows whose target is empty
        are skipped.
        """
        import torch

        rows = ((positions >= 0) & targets.any(-1)).nonzero().squeeze(-1)
        total = positions.new_zeros((), dtype=torch.float32)
        if len(rows):
            for logp in self.log_attention(rows, positions[rows].unsqueeze(1)):
                hit = logp[:, 0].masked_fill(~targets[rows], float("-inf")).logsumexp(-1)
                total = total - hit.mean() / len(self.attention)
        self.done()
        return total


class NameMatch(AttentionProbe):
    """The attention of image tokens to the question: a glyph the question names looks at its
    name, every other glyph looks elsewhere. Both sides start as (nearly) the same vector, the
    word's input embedding and the image token tied to it in stage 1, so this is the one match
    a single layer can make; what the image token gathers then marks it as asked."""

    def batch_loss(self, inputs: dict[str, Any], at_image: Any) -> Any:
        """The loss on a collated training batch (`train.collate` with patch labels and names)."""
        import torch

        thing = inputs["patch_labels"].thing
        is_named = torch.gather(inputs["named"], 1, thing) & (thing != 0)
        named, others = torch.zeros_like(at_image), torch.zeros_like(at_image)
        named[at_image] = is_named.flatten()
        others[at_image] = ((thing != 0) & ~is_named).flatten()
        return self.loss(at_image, named, others, inputs["focus"])

    def loss(self, image: Any, named: Any, others: Any, words: Any) -> Any:
        """image: (batch, length) bool image-token positions (the same count in every row);
        named / others: (batch, length) bool image tokens of named / other things;
        words: (batch, length) bool tokens of the question's focus. Binary cross-entropy of the
        attention mass on `words`, over the named and other tokens of rows that have both."""
        import torch

        rows = (named.any(-1) & words.any(-1)).nonzero().squeeze(-1)
        total = image.new_zeros((), dtype=torch.float32)
        if len(rows):
            queries = image[rows].nonzero()[:, 1].view(len(rows), -1)  # (n, image tokens)
            is_named = torch.gather(named[rows], 1, queries)
            is_other = torch.gather(others[rows], 1, queries)
            for logp in self.log_attention(rows, queries):
                mass = logp.masked_fill(~words[rows].unsqueeze(1), float("-inf")).logsumexp(-1)  # (n, q)
                miss = torch.log1p(-mass.exp().clamp(max=1 - 1e-6))
                loss = -(mass * is_named).sum() - (miss * is_other).sum()
                total = total + loss / (is_named.sum() + is_other.sum()).clamp(min=1) / len(self.attention)
        self.done()
        return total


@functools.cache
def _template_patterns() -> list[Any]:
    import re

    from mmsy_dataset.sources.synthetic import objects, people, relations

    families = [
        getattr(module, name)
        for module in (objects, people, relations)
        for name in sorted(vars(module))
        if name.endswith("_PHRASES")
    ]
    templates = sorted({t for family in families for t in family})
    # The template with the most fixed words first: "What is the object {rel}?" must win over
    # "What is {rel} the {a}?" for "What is the object inside the red frame?".
    templates.sort(key=lambda t: -len(re.sub(r"\{\w+\}", "", t)))
    patterns = []
    for template in templates:
        parts = re.split(r"\{\w+\}", template)
        if len(parts) > 1:
            patterns.append(re.compile("^" + "(.+?)".join(map(re.escape, parts)) + "$"))
    return patterns


def named_things(focus: str, names: Sequence[str]) -> list[bool]:
    """Which of the thing classes' `names` the focus words name (singular or plural)."""
    import re

    def forms(name: str) -> str:
        stem = re.escape(name)
        plural = re.escape(name[:-1]) + "ies" if name.endswith("y") else stem + "e?s"
        return rf"\b(?:{stem}|{plural})\b"

    return [bool(name) and re.search(forms(name), focus) is not None for name in names]


def question_focus(question: str) -> tuple[int, int] | None:
    """Character span of what a synthetic question asks about: the words its template was filled
    with ("umbrella", "inside the red frame", "to the left of the ... cat"), or None when the
    template has no slot (sport, scene, majority questions) or the question is not synthetic."""
    for pattern in _template_patterns():
        match = pattern.match(question)
        if match:
            return match.start(1), match.end(match.lastindex or 1)
    return None
