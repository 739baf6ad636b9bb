"""The types every layer shares, with no torch or transformers: conversations, score requests
and results, encoded prompts, load options, the scorer protocol and its token counts.

Adapters and the engine both import this layer and nothing here imports them, so the package's
dependencies run one way (api <- adapters <- engine).
"""

from mmsy_dataset.api.conversation import Conversation, Message, Role
from mmsy_dataset.api.prompts import CHAT_FORMATS, ChatFormat, DType, EncodedPrompt, LoadOptions
from mmsy_dataset.api.requests import ScoreRequest, ScoreResult
from mmsy_dataset.api.scorer import Scorer, TokenStats
from mmsy_dataset.api.settings import ApiSettings
from mmsy_dataset.api.weights import weights_fingerprint

__all__ = [
    "CHAT_FORMATS",
    "ApiSettings",
    "ChatFormat",
    "Conversation",
    "DType",
    "EncodedPrompt",
    "LoadOptions",
    "Message",
    "Role",
    "ScoreRequest",
    "ScoreResult",
    "Scorer",
    "TokenStats",
    "weights_fingerprint",
]
