"""Model adapters: one per VLM family, registered by name (see `registry`)."""

from mmsy_dataset.adapters.base import EncodedPrompt, LoadOptions, VLMAdapter
from mmsy_dataset.adapters.registry import (
    available_adapters,
    detect_adapter,
    get_adapter,
    load_adapter,
    register_adapter,
)

__all__ = [
    "EncodedPrompt",
    "LoadOptions",
    "VLMAdapter",
    "available_adapters",
    "detect_adapter",
    "get_adapter",
    "load_adapter",
    "register_adapter",
]
