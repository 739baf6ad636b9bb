"""Model adapters: one per VLM family, registered by name (see `registry`)."""

from mmsy_dataset.adapters.base import VLMAdapter
from mmsy_dataset.adapters.registry import (
    available_adapters,
    detect_adapter,
    get_adapter,
    load_adapter,
    register_adapter,
)

__all__ = [
    "VLMAdapter",
    "available_adapters",
    "detect_adapter",
    "get_adapter",
    "load_adapter",
    "register_adapter",
]
