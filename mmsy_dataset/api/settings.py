"""Settings of an OpenAI-compatible server, in the api layer so that the HTTP adapter reads
them without importing the engine."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator


class ApiSettings(BaseModel):
    """An OpenAI-compatible chat-completions server (closed models, vLLM, TGI, ...). The key is
    read from the environment variable `key_env` when the run starts and is never stored."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    base: str
    """Base URL up to and including `/v1` (requests go to `<base>/chat/completions`)."""
    model: str
    """Model name sent in each request."""
    key_env: str = "OPENAI_API_KEY"
    """Environment variable holding the API key (unset: no Authorization header)."""
    max_concurrency: int = 8
    """Requests in flight at once."""
    timeout: float = 60.0
    """Seconds per request attempt."""
    retries: int = 5
    """Extra attempts after a 429, a 5xx, a timeout or a dropped connection."""
    top_logprobs: int = 20
    """Letter mode: alternatives asked per position (OpenAI allows at most 20)."""

    @field_validator("max_concurrency", "top_logprobs")
    @classmethod
    def _at_least_one(cls, value: int) -> int:
        if value < 1:
            raise ValueError(f"expected >= 1, got {value}")
        return value

    @field_validator("retries")
    @classmethod
    def _not_negative(cls, value: int) -> int:
        if value < 0:
            raise ValueError(f"expected >= 0, got {value}")
        return value

    @field_validator("timeout")
    @classmethod
    def _positive_time(cls, value: float) -> float:
        if value <= 0:
            raise ValueError(f"expected > 0 seconds, got {value}")
        return value
