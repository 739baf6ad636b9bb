"""What an adapter hands the engine for one prompt, and how weights are loaded."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

DType = Literal["auto", "float32", "float16", "bfloat16"]
ChatFormat = Literal["auto", "template", "family"]
"""How rounds are rendered: `template` (the checkpoint's chat template), `family` (the
adapter's built-in format, e.g. the paper's LLaVA-1.5 conversation), `auto` (the template when
the checkpoint has one, else the family's)."""
CHAT_FORMATS: tuple[str, ...] = ("auto", "template", "family")


@dataclass(frozen=True)
class LoadOptions:
    """How to load weights. `trust_remote_code` stays False unless the user passes the flag."""

    device: str = "auto"
    dtype: DType = "auto"
    trust_remote_code: bool = False
    chat_format: ChatFormat = "auto"


@dataclass(frozen=True)
class EncodedPrompt:
    """Token ids of a rendered conversation, image placeholders expanded to one id per feature."""

    input_ids: list[int]
    image_positions: list[int] = field(default_factory=list)
    """Indices in `input_ids` that receive image features (amplification / attention analysis)."""
