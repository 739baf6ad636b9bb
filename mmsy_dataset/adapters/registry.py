"""Registry of model adapters, keyed by name, with auto-detection from `config.json`."""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from mmsy_dataset.adapters.base import LoadOptions, ModelAdapter

A = TypeVar("A", bound=type[ModelAdapter])
_REGISTRY: dict[str, type[ModelAdapter]] = {}


def register_adapter(name: str) -> Callable[[A], A]:
    def decorate(cls: A) -> A:
        _REGISTRY[name] = cls
        return cls

    return decorate


def _ensure_builtins() -> None:
    # Importing the modules registers the built-in adapters.
    from mmsy_dataset.adapters import blip2, http, idefics3, internvl, llava, llava_next, qwen2_vl  # noqa: F401


def available_adapters() -> list[str]:
    _ensure_builtins()
    return sorted(_REGISTRY)


def get_adapter(name: str) -> type[ModelAdapter]:
    """The adapter class registered as `name`; a miss names the closest match and all names."""
    _ensure_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = sorted(_REGISTRY)
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise KeyError(f"Unknown adapter {name!r}.{hint} Available: {', '.join(known)}") from None


def read_model_type(source: str, trust_remote_code: bool = False) -> str:
    """`model_type` from a local folder's config.json, or from the Hub config of an id."""
    folder = Path(source)
    if folder.is_dir():
        path = folder / "config.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no config.json; pass --adapter explicitly")
        return str(json.loads(path.read_text())["model_type"])
    from transformers import AutoConfig

    return str(AutoConfig.from_pretrained(source, trust_remote_code=trust_remote_code).model_type)


def detect_adapter(source: str, trust_remote_code: bool = False) -> str:
    """Name of the adapter that handles the model at `source`."""
    _ensure_builtins()
    model_type = read_model_type(source, trust_remote_code)
    for name, cls in sorted(_REGISTRY.items()):
        if model_type in cls.model_types:
            return name
    raise KeyError(
        f"{source}: no adapter for model_type {model_type!r}. Available adapters: "
        f"{', '.join(sorted(_REGISTRY))} (pass --adapter to force one)"
    )


def load_adapter(source: str, name: str | None = None, options: LoadOptions | None = None) -> ModelAdapter:
    options = options or LoadOptions()
    cls = get_adapter(name or detect_adapter(source, options.trust_remote_code))
    return cls.load(source, options)
