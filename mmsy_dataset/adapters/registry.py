"""Registry of model adapters, keyed by name, with auto-detection from `config.json`."""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from mmsy_dataset.adapters.base import ModelAdapter
from mmsy_dataset.api.prompts import LoadOptions
from mmsy_dataset.errors import MmsyError

A = TypeVar("A", bound=type[ModelAdapter])


class UnknownAdapterError(MmsyError, KeyError):
    """No adapter of that name, or none for the checkpoint's model_type (a KeyError, as before)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""

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
        raise UnknownAdapterError(f"Unknown adapter {name!r}.{hint} Available: {', '.join(known)}") from None


def check_model_source(source: str) -> None:
    """Refuse, with a line naming it, a `--model` that is neither a model folder nor a Hub id:
    a file, a folder without config.json, or a path (`./x`, `/x`, `a/b/c`) that does not exist."""
    path = Path(source).expanduser()
    if path.is_file():
        raise MmsyError(f"{source}: a file; --model takes a model folder or a Hub id")
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise MmsyError(f"{path / 'config.json'}: no such file; {source} is not a model folder")
        return
    if source.startswith((".", "/", "~")) or source.count("/") > 1 or "\\" in source:
        raise MmsyError(f"{source}: no such model folder (nor a Hub id, which reads 'org/name')")


def read_model_type(source: str, trust_remote_code: bool = False) -> str:
    """`model_type` from a local folder's config.json, or from the Hub config of an id."""
    check_model_source(source)
    folder = Path(source).expanduser()
    if folder.is_dir():
        path = folder / "config.json"
        try:
            model_type = json.loads(path.read_text(encoding="utf-8")).get("model_type")
        except (ValueError, AttributeError) as error:
            raise MmsyError(f"{path}: not a JSON object ({error})") from None
        if not isinstance(model_type, str):
            raise MmsyError(f"{path}: field 'model_type': missing; pass --adapter explicitly")
        return model_type
    from transformers import AutoConfig

    try:
        return str(AutoConfig.from_pretrained(source, trust_remote_code=trust_remote_code).model_type)
    except (OSError, ValueError) as error:
        raise MmsyError(f"{source}: cannot read the model's config: {str(error).splitlines()[0]}") from None


def detect_adapter(source: str, trust_remote_code: bool = False) -> str:
    """Name of the adapter that handles the model at `source`."""
    _ensure_builtins()
    model_type = read_model_type(source, trust_remote_code)
    for name, cls in sorted(_REGISTRY.items()):
        if model_type in cls.model_types:
            return name
    raise UnknownAdapterError(
        f"{source}: no adapter for model_type {model_type!r}. Available adapters: "
        f"{', '.join(sorted(_REGISTRY))} (pass --adapter to force one)"
    )


def load_adapter(source: str, name: str | None = None, options: LoadOptions | None = None) -> ModelAdapter:
    """The adapter for the model at `source`; a source that cannot be loaded is an `MmsyError`
    naming it (a missing folder, a Hub id that is not there or not cached offline, ...)."""
    options = options or LoadOptions()
    cls = get_adapter(name or detect_adapter(source, options.trust_remote_code))
    check_model_source(source)
    try:
        return cls.load(source, options)
    except OSError as error:
        raise MmsyError(f"{source}: cannot load the model: {str(error).splitlines()[0]}") from None
