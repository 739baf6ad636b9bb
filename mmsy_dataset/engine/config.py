"""Settings of one evaluation run, grouped in one validated model (the CLI fills it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mmsy_dataset.api.settings import ApiSettings
from mmsy_dataset.engine.shard import Shard
from mmsy_dataset.predictions import ScoringMode
from mmsy_dataset.tasks import BENCHMARK_CONFIGS

#: Settings that change speed or memory but never a score: a resumed run may change them.
PERFORMANCE_ONLY = frozenset({"batch_size", "chunk_questions", "out", "overwrite", "progress", "threads"})
#: The same for the HTTP adapter (`api`); the key's variable name is not a result either, nor is
#: the server's address (the model name says what is served): shards run against several servers
#: merge, and a run resumes against a server that moved.
API_PERFORMANCE_ONLY = frozenset({"base", "max_concurrency", "timeout", "retries", "key_env"})


class AmplifySettings(BaseModel):
    """Attention amplification (paper 4.3, eq. 7): e' = e + lam * |e| on the attention logits of
    image keys, before the softmax, in text layers `first`..`last` (1-based, inclusive, as the
    paper's 1-16 / 16-32). Implemented in `mmsy_dataset.engine.amplify`."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    first: int
    """First amplified text layer, 1-based."""
    last: int
    """Last amplified text layer, 1-based, inclusive."""
    lam: float
    """The amplification factor lambda (>= 0; 0 changes nothing)."""
    queries: Literal["after-image", "all"] = "after-image"
    """Which query rows read the amplified image keys: the positions after the image (the text
    reading the image, as in PAI, which eq. 7 follows), or every row, the image tokens' own
    attention to earlier image tokens included."""

    @field_validator("first")
    @classmethod
    def _one_based(cls, value: int) -> int:
        if value < 1:
            raise ValueError(f"layers are numbered from 1, got {value}")
        return value

    @field_validator("last")
    @classmethod
    def _ordered(cls, value: int, info: Any) -> int:
        first = info.data.get("first")
        if first is not None and value < first:
            raise ValueError(f"reversed layer range {first}-{value}; write the lower layer first")
        return value

    @field_validator("lam")
    @classmethod
    def _lam(cls, value: float) -> float:
        if not value >= 0 or value == float("inf"):
            raise ValueError(f"lambda must be a finite number >= 0, got {value}")
        return value

    @classmethod
    def parse(cls, spec: str, queries: str = "after-image") -> AmplifySettings:
        """`FIRST-LAST:LAMBDA` or `LAYER:LAMBDA`, e.g. `3-4:0.9` (1-based, inclusive)."""
        from pydantic import ValidationError

        layers, sep, lam = spec.strip().partition(":")
        first, dash, last = layers.partition("-")
        try:
            if not sep or not first.strip():
                raise ValueError
            bounds = (int(first), int(last) if dash else int(first))
            value = float(lam)
        except ValueError:
            raise ValueError(
                f"--amplify {spec!r}: expected FIRST-LAST:LAMBDA or LAYER:LAMBDA, e.g. 3-4:0.9 (1-based layers)"
            ) from None
        try:
            return cls(first=bounds[0], last=bounds[1], lam=value, queries=queries)
        except ValidationError as error:
            reasons = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in error.errors())
            raise ValueError(f"--amplify {spec!r}: {reasons}") from None

    @property
    def spec(self) -> str:
        """The `FIRST-LAST:LAMBDA` form."""
        return f"{self.first}-{self.last}:{self.lam:g}"

    def check_depth(self, depth: int) -> None:
        """Refuse a range outside a decoder of `depth` text layers."""
        if self.last > depth:
            raise ValueError(
                f"--amplify {self.spec}: layers {self.first}-{self.last} are outside the model's "
                f"{depth} text layers (1-{depth})"
            )


class EvalConfig(BaseModel):
    """Everything that defines a run; all but `PERFORMANCE_ONLY` are recorded in run.json and must
    match when a run is resumed into the same folder."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    model: str
    """Hub id or local folder of the model."""
    adapter: str | None = None
    """Adapter name; None detects it from the model's config.json `model_type`."""
    dataset: str
    """Hub-layout folder or Hub dataset id of MM-SY."""
    out: Path
    """Output folder."""
    configs: list[str] = Field(default_factory=lambda: list(BENCHMARK_CONFIGS))
    """Benchmark configs (splits) to run."""
    split: str = "test"
    limit: int | None = None
    """At most this many records per config (quick runs); None runs all."""
    mode: ScoringMode = ScoringMode.LETTER
    """How turns are scored (docs/engine.md, "Scoring modes")."""
    option_choice: Literal["sum", "norm"] = "sum"
    """Option mode: the choice is the argmax of the summed (`sum`) or length-normalised scores."""
    prompt_baseline: bool = False
    """Prepend the system prompt of paper 3.2 to every push."""
    chat_format: Literal["auto", "template", "family"] = "auto"
    """How rounds are rendered: the checkpoint's chat template (`template`), the adapter's
    built-in format (`family`: for LLaVA, the paper's LLaVA-1.5 conversation), or the template
    when the checkpoint has one (`auto`). run.json records the one used."""
    threads: int | None = None
    """torch CPU threads; None: the cores available to this process (`mmsy_dataset.threads`)."""
    batch_size: int = 8
    """Rows per forward pass."""
    chunk_questions: int = 64
    """Questions whose round-1 KV caches are held at once (memory vs. batching)."""
    device: str = "auto"
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    """auto: float16 on GPU, float32 on CPU."""
    trust_remote_code: bool = False
    seed: int = 0
    """Seed of torch and of the bootstrap."""
    max_new_tokens: int = 32
    """Text mode: longest reply."""
    n_bootstrap: int = 1000
    """Bootstrap replicates of the confidence intervals."""
    overwrite: bool = False
    """Delete an existing run in `out` instead of resuming it."""
    progress: bool = True
    """Show progress bars."""
    shard: Shard | None = None
    """Run only this shard's questions, into `out/shard-<i>-of-<n>` (merge with `mmsy merge`)."""
    api: ApiSettings | None = None
    """Score through an OpenAI-compatible HTTP server instead of local weights."""
    amplify: AmplifySettings | None = None
    """Amplify the attention to image keys in some layers (paper 4.3); None: the model as is."""

    @property
    def run_dir(self) -> Path:
        """Where this run's files go: `out`, or its shard's subfolder."""
        return self.out / self.shard.folder_name if self.shard is not None else self.out

    @field_validator("shard")
    @classmethod
    def _valid_shard(cls, value: Shard | None) -> Shard | None:
        return value.check() if value is not None else None

    @field_validator("configs")
    @classmethod
    def _known_configs(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c not in BENCHMARK_CONFIGS]
        if unknown or not value:
            raise ValueError(f"unknown config(s) {unknown}; choose among {', '.join(BENCHMARK_CONFIGS)}")
        return value

    @field_validator("batch_size", "chunk_questions", "max_new_tokens")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError(f"expected >= 1, got {value}")
        return value

    @field_validator("threads")
    @classmethod
    def _threads(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise ValueError(f"expected >= 1 or None, got {value}")
        return value

    @field_validator("limit")
    @classmethod
    def _limit(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise ValueError(f"expected >= 1 or None, got {value}")
        return value

    def settings(self) -> dict[str, Any]:
        """The result-defining settings, as JSON values (compared on resume)."""
        exclude: dict[str, Any] = dict.fromkeys(PERFORMANCE_ONLY, True)
        if self.api is not None:
            exclude["api"] = dict.fromkeys(API_PERFORMANCE_ONLY, True)
        return self.model_dump(mode="json", exclude=exclude)
