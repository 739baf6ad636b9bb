"""Settings of an SFT or DPO mitigation run, in TRL's style: dataclasses whose fields carry
their help text, validated in `__post_init__`, loaded from a JSON or YAML file.

Only the settings that differ between our recipes live here; anything else TRL's `SFTConfig` /
`DPOConfig` accepts can be passed through `trainer_args` (TRL validates those itself). The
defaults are safe on a CPU (no bf16, no gradient checkpointing), because TRL's own defaults
(`bf16=True`, `gradient_checkpointing=True`) fail or slow down there.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from mmsy_dataset.errors import InputError

#: Settings that change speed, logging or where checkpoints go but never the trained weights: a
#: resumed run may change them.
PERFORMANCE_ONLY = frozenset({"logging_steps", "save_steps", "torch_threads", "dataloader_num_workers", "progress"})

#: How the assistant names an option, as `mmsy eval --mode` scores it.
ANSWER_FORMATS = ("option", "letter")
#: What the round-2 target is: the option alone, or the record's reply sentence.
REPLIES = ("answer", "response")


@dataclass
class LoraSettings:
    """LoRA through `peft`; the adapter is merged into the weights of the saved model (an ordinary folder)."""

    r: int = field(default=16, metadata={"help": "LoRA rank."})
    alpha: int = field(default=32, metadata={"help": "LoRA scaling numerator (lora_alpha)."})
    dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA input."})
    target_modules: str | list[str] = field(
        default=r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)",
        metadata={
            "help": "Modules to adapt: a regex on module names or a list of names (default: the "
            "language model's attention and MLP projections, as LLaVA's LoRA recipe)."
        },
    )

    def __post_init__(self) -> None:
        if self.r < 1 or self.alpha < 1:
            raise ValueError(f"lora: r and alpha must be >= 1, got r={self.r}, alpha={self.alpha}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"lora.dropout: expected 0 <= dropout < 1, got {self.dropout}")


@dataclass
class MitigationConfig:
    """Settings shared by SFT and DPO."""

    method: ClassVar[str] = ""

    model: str = field(metadata={"help": "Local folder or Hub id of the VLM to fine-tune (a model the adapters know)."})
    answer_format: str = field(
        default="option",
        metadata={
            "help": "How the assistant names an option in the dialogue: `option` (its words, for models "
            "scored with `mmsy eval --mode option`, such as the reference model) or `letter`."
        },
    )
    reply: str = field(
        default="response",
        metadata={
            "help": "Round-2 target: `response` (the record's reply sentence, paper B.1) or `answer` (the "
            "option alone in `answer_format`: eq. 2-4's y_true / y_false themselves)."
        },
    )
    learning_rate: float = field(default=2e-5, metadata={"help": "Peak learning rate (AdamW)."})
    num_train_epochs: float = field(default=1.0, metadata={"help": "Passes over the training rows."})
    max_steps: int = field(default=-1, metadata={"help": "Stop after this many optimiser steps (-1: use epochs)."})
    per_device_train_batch_size: int = field(default=8, metadata={"help": "Rows per device per forward."})
    gradient_accumulation_steps: int = field(
        default=1, metadata={"help": "Forwards per optimiser step; the batch is per-device x accumulation x devices."}
    )
    lr_scheduler_type: str = field(default="cosine", metadata={"help": "Schedule (paper B.2: cosine decay)."})
    warmup_ratio: float = field(default=0.03, metadata={"help": "Share of steps spent warming up."})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay (paper B.2: 0)."})
    optim: str = field(default="adamw_torch", metadata={"help": "Optimiser name as in TrainingArguments (AdamW)."})
    bf16: bool = field(default=False, metadata={"help": "bfloat16 mixed precision (paper B.2; GPUs)."})
    gradient_checkpointing: bool = field(default=False, metadata={"help": "Trade compute for memory (large models)."})
    max_length: int | None = field(
        default=None,
        metadata={
            "help": "Longest tokenised row, image tokens included (None: no truncation). Too short a value "
            "cuts image tokens and breaks the forward."
        },
    )
    limit: int | None = field(default=None, metadata={"help": "Use only the first N records of the dataset config."})
    seed: int = field(default=0, metadata={"help": "Seed of the trainer, the data order and the mix."})
    lora: LoraSettings | None = field(default=None, metadata={"help": "LoRA settings; None trains every weight."})
    freeze_vision: bool = field(
        default=True,
        metadata={"help": "Keep the vision tower frozen (LLaVA-1.5's recipe trains projector and LLM only)."},
    )
    trust_remote_code: bool = field(default=False, metadata={"help": "Allow model code from the Hub (off: safer)."})
    trainer_args: dict[str, Any] = field(
        default_factory=dict,
        metadata={"help": "Further SFTConfig / DPOConfig arguments, passed through unchanged."},
    )
    logging_steps: int = field(default=10, metadata={"help": "Log the loss every N steps."})
    save_steps: int = field(default=200, metadata={"help": "Checkpoint every N steps (a stopped run resumes)."})
    torch_threads: int | None = field(default=None, metadata={"help": "CPU threads for torch (None: torch's default)."})
    dataloader_num_workers: int = field(default=0, metadata={"help": "Worker processes that collate batches."})

    def __post_init__(self) -> None:
        if isinstance(self.lora, dict):
            self.lora = LoraSettings(**self.lora)
        if not str(self.model).strip():
            raise ValueError("model: must name a model folder or Hub id")
        if self.answer_format not in ANSWER_FORMATS:
            raise ValueError(f"answer_format: expected one of {ANSWER_FORMATS}, got {self.answer_format!r}")
        if self.reply not in REPLIES:
            raise ValueError(f"reply: expected one of {REPLIES}, got {self.reply!r}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate: expected > 0, got {self.learning_rate}")
        if self.num_train_epochs <= 0 and self.max_steps <= 0:
            raise ValueError("num_train_epochs or max_steps must be > 0")
        for name in ("per_device_train_batch_size", "gradient_accumulation_steps", "logging_steps", "save_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: expected >= 1, got {getattr(self, name)}")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"warmup_ratio: expected 0 <= ratio < 1, got {self.warmup_ratio}")
        if self.max_length is not None and self.max_length < 8:
            raise ValueError(f"max_length: expected >= 8 or null, got {self.max_length}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit: expected >= 1 or null, got {self.limit}")
        if self.torch_threads is not None and self.torch_threads < 1:
            raise ValueError(f"torch_threads: expected >= 1 or null, got {self.torch_threads}")
        reserved = set(self.trainer_args) & {f.name for f in dataclasses.fields(self)}
        if reserved:
            raise ValueError(f"trainer_args: set {sorted(reserved)} as top-level settings instead")

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, **dataclasses.asdict(self)}

    def settings(self) -> dict[str, Any]:
        """What defines the trained weights: compared when a stopped run is resumed."""
        return {k: v for k, v in self.to_json().items() if k not in PERFORMANCE_ONLY}


@dataclass
class SFTSettings(MitigationConfig):
    """Supervised fine-tuning on the `sft` config (paper eq. 2)."""

    method: ClassVar[str] = "sft"

    mix_reference_ratio: float = field(
        default=0.0,
        metadata={
            "help": "Reference model only: own training dialogues mixed in per SFT record (the paper mixes "
            "its 1k records into LLaVA's 664k instruction rows). 0: no mix."
        },
    )
    mix_kinds: list[str] = field(
        default_factory=lambda: ["vqa", "correction", "no_answer"],
        metadata={
            "help": "Kinds of the reference model's dialogues to mix in (mmsy_dataset/reference/data.py), "
            "in their training proportions."
        },
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mix_reference_ratio < 0:
            raise ValueError(f"mix_reference_ratio: expected >= 0, got {self.mix_reference_ratio}")
        known = ("vqa", "sycophancy", "correction", "no_answer", "multi_round")
        unknown = [k for k in self.mix_kinds if k not in known]
        if unknown or (self.mix_reference_ratio > 0 and not self.mix_kinds):
            raise ValueError(f"mix_kinds: expected a non-empty list of {known}, got {self.mix_kinds}")


@dataclass
class DPOSettings(MitigationConfig):
    """Direct preference optimisation on the `dpo` config (paper eq. 3-4)."""

    method: ClassVar[str] = "dpo"

    learning_rate: float = field(default=1e-6, metadata={"help": "Peak learning rate (paper B.2: 1e-6)."})
    beta: float = field(default=0.1, metadata={"help": "DPO temperature beta (paper 3.2: 0.1)."})
    loss_type: str = field(default="sigmoid", metadata={"help": "TRL loss type (sigmoid: the DPO loss of eq. 3-4)."})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.beta <= 0:
            raise ValueError(f"beta: expected > 0, got {self.beta}")


SETTINGS: dict[str, type[MitigationConfig]] = {"sft": SFTSettings, "dpo": DPOSettings}


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A JSON or YAML mapping (chosen by the suffix); never executes anything (yaml.safe_load)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise InputError(f"cannot read the config ({error.strerror})", file=path) from None
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as error:  # json and yaml raise different classes; the message is what matters
        raise InputError(f"not valid {path.suffix.lstrip('.') or 'JSON'} ({error})", file=path) from None
    if not isinstance(data, dict):
        raise InputError(f"expected a mapping of settings, got {type(data).__name__}", file=path)
    return data


def load_settings(method: str, source: str | Path | dict[str, Any]) -> MitigationConfig:
    """Settings of `method` from a file or a mapping; a bad field is named with the file."""
    if method not in SETTINGS:
        raise ValueError(f"unknown method {method!r}; known: {', '.join(SETTINGS)}")
    cls = SETTINGS[method]
    path = None if isinstance(source, dict) else Path(source)
    data = dict(source) if isinstance(source, dict) else read_config_file(source)
    declared = data.pop("method", method)
    if declared != method:
        raise InputError(f"this config is for {declared!r}, not {method!r}", file=path, field="method")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise InputError(f"unknown setting(s) {unknown}; known: {', '.join(sorted(names))}", file=path)
    if "model" not in data:
        raise InputError("missing setting", file=path, field="model")
    try:
        return cls(**data)
    except (TypeError, ValueError) as error:
        raise InputError(str(error), file=path) from None
