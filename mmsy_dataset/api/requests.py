"""Requests the engine sends to an adapter, and what comes back.

A request is one multiple-choice turn: a conversation ending in a user turn, its image, and
the options. Requests that share a `group` share the image and the round-1 prefix, which is
what lets the engine compute that prefix once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mmsy_dataset.api.conversation import Conversation


@dataclass(frozen=True)
class ScoreRequest:
    group: str
    """Requests with the same group share the image and their round-1 prefix (one question)."""
    image: bytes
    conversation: Conversation
    letters: tuple[str, ...]
    options: tuple[str, ...]
    """Option texts in letter order (scored as continuations in `option` mode)."""
    continued: bool = True
    """Whether a later request may extend this conversation (the dialogue's next round): a local
    scorer keeps this request's KV state until its next call only if so."""


@dataclass
class ScoreResult:
    scores: list[float] | None = None
    """Per-option log-probabilities (letter: of the label at the answer position; option: summed
    over the option's tokens); None in text mode."""
    scores_norm: list[float] | None = None
    """Option mode: `scores` divided by the option's length in UTF-8 bytes (lm-eval `acc_norm`)."""
    text: str | None = None
    """Generated reply (text mode)."""
    prompt: str = ""
    """The rendered prompt, exactly as the model saw it."""
    n_prompt_tokens: int = 0
    stats: dict[str, int] = field(default_factory=dict)
