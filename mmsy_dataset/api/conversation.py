"""A model-agnostic conversation: what the protocol builds and every adapter renders.

The protocol never writes a chat format; an adapter never decides what is said. Both meet in
this tiny type, which transcripts also store verbatim.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    """One turn. `image=True` puts the dialogue's single image before this turn's text."""

    role: Role
    text: str
    image: bool = False

    def as_dict(self) -> dict[str, object]:
        return {"role": self.role, "text": self.text, "image": self.image}


Conversation = tuple[Message, ...]
