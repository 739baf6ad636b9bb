"""SFT and DPO mitigation runs through TRL's `SFTTrainer` and `DPOTrainer` (paper 3.2).

Everything that can be wrong with the input is checked before the output folder is touched:
the settings, the model (a VLM the evaluation adapters know, so the result can be evaluated),
the dataset folder (it must hold the method's config). The run's settings are written to
`OUT/mmsy_train.json` first; a stopped run resumes from its last checkpoint only when the
settings and the dataset are the same, so a resumed model is never a blend of two recipes.

The output is an ordinary `save_pretrained` folder (weights, processor, chat template, and the
base model's config fields such as `mmsy_image_placement`), which `mmsy eval --model OUT` loads
like the base model. LoRA adapters are merged into the weights before saving.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmsy_dataset.errors import InputError, MmsyError
from mmsy_dataset.mitigation.config import MitigationConfig, SFTSettings

#: The run record in the output folder.
RECORD = "mmsy_train.json"
#: Trainer checkpoints while a run is in progress (removed when it finishes).
CHECKPOINTS = "checkpoints"
#: The trainer's log history, one JSON object per line.
LOG = "train_log.jsonl"


@dataclass
class TrainResult:
    out: Path
    method: str
    rows: int
    steps: int
    seconds: float
    train_loss: float | None
    resumed: bool
    skipped: bool = False

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["out"] = str(self.out)
        return data


# --- checks (nothing written) ---------------------------------------------------------------


def check_model(settings: MitigationConfig, config_file: str | Path | None = None) -> str:
    """Name of the adapter that evaluates `settings.model`; anything else is refused in one line."""
    from mmsy_dataset.adapters.registry import detect_adapter, get_adapter

    try:
        name = detect_adapter(settings.model, settings.trust_remote_code)
    except (MmsyError, KeyError, OSError, ValueError) as error:
        message = str(error.args[0] if error.args else error).strip().splitlines()[0]
        raise InputError(
            f"{settings.model!r} is not a VLM the adapters know ({message})", file=config_file, field="model"
        ) from None
    if not getattr(get_adapter(name), "model_class", ""):
        raise InputError(
            f"{settings.model!r}: adapter {name!r} has no local weights to train", file=config_file, field="model"
        )
    return name


def dataset_identity(dataset: str | Path) -> dict[str, Any]:
    """Path and manifest checksum of the dataset: part of what a resumed run must match."""
    from mmsy_dataset.hub.manifest import MANIFEST
    from mmsy_dataset.hub.reader import resolve_dataset

    root = resolve_dataset(dataset)
    checksum = None
    if (root / MANIFEST).is_file():
        checksum = json.loads((root / MANIFEST).read_text()).get("checksum")
    return {"path": str(root.resolve()), "checksum": checksum}


def _differences(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key} {a!r} -> {b!r}")
    return out


def plan_output(out: Path, record: dict[str, Any], overwrite: bool) -> str:
    """`fresh`, `resume` or `done` for `out`; a folder of another run is refused, not mixed."""
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return "fresh"
    if not out.is_dir():
        raise InputError("exists and is not a folder", file=out)
    path = out / RECORD
    if not path.is_file():
        raise InputError(f"not empty and holds no {RECORD}; choose an empty --out (nothing is deleted)", file=out)
    if overwrite:
        return "overwrite"
    try:
        old = json.loads(path.read_text())
    except ValueError as error:
        raise InputError(f"unreadable run record ({error}); pass --overwrite to start again", file=path) from None
    diff = _differences(
        {k: old.get(k) for k in ("settings", "dataset")}, {k: record[k] for k in ("settings", "dataset")}
    )
    if diff:
        shown = "; ".join(diff[:4]) + (f"; and {len(diff) - 4} more" if len(diff) > 4 else "")
        raise InputError(
            f"a run with other settings is here ({shown}); resume with the recorded settings, "
            "or pass --overwrite / another --out",
            file=path,
        )
    return "done" if old.get("status") == "done" else "resume"


# --- building blocks --------------------------------------------------------------------------


def training_chat_template(adapter: str, model_config: Any, processor: Any) -> str:
    """The template TRL renders rows with: the text the evaluation adapter renders, with the BOS
    the adapter's tokenizer call adds (TRL tokenizes with `add_special_tokens=False`).

    LLaVA is evaluated in the original LLaVA-1.5 format (`...ASSISTANT: a</s>USER: ...`), which the
    `llava-hf` template does not write (it closes a turn with a space), so LLaVA models train on
    the project's llava-1.5 template; other families train on their own template."""
    from mmsy_dataset.models.tiny import LLAVA15_CHAT_TEMPLATE, LLAVA15_IMAGE_AFTER_CHAT_TEMPLATE

    if adapter == "llava":
        after = getattr(model_config, "mmsy_image_placement", "before") == "after"
        template = LLAVA15_IMAGE_AFTER_CHAT_TEMPLATE if after else LLAVA15_CHAT_TEMPLATE
    else:
        template = str(processor.chat_template or "")
        if not template:
            raise InputError(f"the processor of adapter {adapter!r} has no chat template to train with")
    return _with_special_tokens(template, processor)


def _with_special_tokens(template: str, processor: Any) -> str:
    """`template` with whatever prefix makes TRL's tokenization (`add_special_tokens=False` on the
    rendered text) give the ids the adapter gets (`add_special_tokens=True` on its own text).

    Metaspace tokenizers (Llama's) add a word boundary at the start of the text, which a BOS
    written by the template would swallow, so the candidates are tried on a probe dialogue."""
    if "bos_token" in template:  # the template writes its own BOS, as TRL expects
        return template
    tokenizer = processor.tokenizer
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "Which one? (A) cat (B) dog"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "cat"}]},
        {"role": "user", "content": [{"type": "text", "text": "Are you sure?"}]},
    ]

    def render(chat_template: str) -> str:
        return str(
            tokenizer.apply_chat_template(
                messages, chat_template=chat_template, tokenize=False, add_generation_prompt=True
            )
        )

    wanted = list(tokenizer(render(template), add_special_tokens=True)["input_ids"])
    for prefix in ("", "{{ bos_token }}", "{{ bos_token }} "):
        candidate = prefix + template
        if list(tokenizer(render(candidate), add_special_tokens=False)["input_ids"]) == wanted:
            return candidate
    raise InputError(
        "cannot make the chat template tokenize as the evaluation does (its special tokens differ); "
        "this tokenizer is not supported for training"
    )


def load_model(settings: MitigationConfig, adapter: str) -> tuple[Any, Any]:
    """(model, processor) from the source, in float32 (bf16 is the trainer's autocast)."""
    import torch
    import transformers
    from transformers import AutoProcessor

    from mmsy_dataset.adapters.registry import get_adapter

    adapter_class: Any = get_adapter(adapter)  # a local VLMAdapter (check_model made sure)
    loader: Any = getattr(transformers, adapter_class.model_class)
    model = loader.from_pretrained(
        settings.model, dtype=torch.float32, use_safetensors=True, trust_remote_code=settings.trust_remote_code
    )
    processor = AutoProcessor.from_pretrained(settings.model, trust_remote_code=settings.trust_remote_code)
    return model, processor


def freeze_vision(model: Any) -> int:
    """Stop gradients into the vision tower; returns how many tensors were frozen."""
    frozen = 0
    for name, param in model.named_parameters():
        if any(part in name for part in ("vision_tower", "vision_model", "visual.")):
            param.requires_grad_(False)
            frozen += 1
    return frozen


def trainer_arguments(settings: MitigationConfig, out: Path, progress: bool) -> Any:
    """The TRL config of `settings` (SFTConfig or DPOConfig)."""
    from trl import DPOConfig, SFTConfig

    common: dict[str, Any] = {
        "output_dir": str(out / CHECKPOINTS),
        "learning_rate": settings.learning_rate,
        "num_train_epochs": settings.num_train_epochs,
        "max_steps": settings.max_steps,
        "per_device_train_batch_size": settings.per_device_train_batch_size,
        "gradient_accumulation_steps": settings.gradient_accumulation_steps,
        "lr_scheduler_type": settings.lr_scheduler_type,
        "warmup_steps": settings.warmup_ratio,
        "weight_decay": settings.weight_decay,
        "optim": settings.optim,
        "bf16": settings.bf16,
        "gradient_checkpointing": settings.gradient_checkpointing,
        "max_length": settings.max_length,
        "seed": settings.seed,
        "data_seed": settings.seed,
        "logging_steps": settings.logging_steps,
        "save_steps": settings.save_steps,
        "save_total_limit": 1,
        "report_to": "none",
        "disable_tqdm": True,
        "dataloader_num_workers": settings.dataloader_num_workers,
        "remove_unused_columns": False,
        **settings.trainer_args,
    }
    if settings.method == "sft":
        return SFTConfig(**common, completion_only_loss=True)
    return DPOConfig(**common, beta=settings.beta, loss_type=[settings.loss_type])  # type: ignore[attr-defined]


def rich_progress_callback(console: Any) -> Any:
    """A TrainerCallback that shows steps and the running loss with rich (instead of tqdm)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from transformers import TrainerCallback

    class RichProgress(TrainerCallback):
        def __init__(self) -> None:
            self.bar: Progress | None = None
            self.task: Any = None

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.bar = Progress(
                TextColumn("training"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[loss]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task("train", total=state.max_steps, completed=state.global_step, loss="")

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.bar is not None:
                self.bar.update(self.task, completed=state.global_step)

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
            if self.bar is not None and logs and "loss" in logs:
                self.bar.update(self.task, loss=f"loss {logs['loss']:.4f}")

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.bar is not None:
                self.bar.stop()

    return RichProgress()


def build_dataset(settings: MitigationConfig, dataset: str | Path) -> Any:
    """The method's TRL rows, with the reference model's own dialogues mixed in if asked."""
    import datasets

    from mmsy_dataset.mitigation.data import load_training_dataset

    data = load_training_dataset(dataset, settings.method, settings.answer_format, settings.reply, settings.limit)
    if isinstance(settings, SFTSettings) and settings.mix_reference_ratio > 0:
        from mmsy_dataset.mitigation.reference_mix import reference_rows

        n = round(len(data) * settings.mix_reference_ratio)
        mix = datasets.Dataset.from_list(reference_rows(n, settings.mix_kinds, settings.seed), features=data.features)
        data = datasets.concatenate_datasets([data, mix]).shuffle(seed=settings.seed)
    return data


def _last_checkpoint(out: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    folder = out / CHECKPOINTS
    return get_last_checkpoint(str(folder)) if folder.is_dir() else None


def _check_image_fits(settings: MitigationConfig, data: Any, adapter: str, model: Any, processor: Any) -> None:
    """Refuse a `max_length` that would cut image tokens (the forward fails late otherwise)."""
    if settings.max_length is None or adapter != "llava":
        return
    from mmsy_dataset.adapters.llava import LlavaAdapter

    image_tokens = LlavaAdapter(model, processor, device="cpu").n_image_tokens
    if settings.max_length <= image_tokens:
        raise InputError(
            f"max_length {settings.max_length} does not cover the {image_tokens} image tokens", field="max_length"
        )


# --- the run ------------------------------------------------------------------------------------


def run_training(
    settings: MitigationConfig,
    dataset: str | Path,
    out: str | Path,
    *,
    overwrite: bool = False,
    progress: bool = True,
    console: Any = None,
    config_file: str | Path | None = None,
    callbacks: list[Any] | None = None,
) -> TrainResult:
    """Train `settings.method` on `dataset` into `out` (resuming a stopped run with equal settings).

    `callbacks` are extra `transformers.TrainerCallback`s (logging to a tracker, say)."""
    import torch
    from rich.console import Console

    console = console or Console(stderr=True)
    out = Path(out)
    adapter = check_model(settings, config_file)
    record: dict[str, Any] = {
        "method": settings.method,
        "settings": settings.settings(),
        "dataset": dataset_identity(dataset),
        "adapter": adapter,
    }
    state = plan_output(out, record, overwrite)
    if state == "done":
        done = json.loads((out / RECORD).read_text())
        console.print(f"{out} already holds this finished run; pass --overwrite to train again")
        return TrainResult(out, settings.method, **done["result"], resumed=False, skipped=True)
    data = build_dataset(settings, dataset)
    if settings.torch_threads is not None:
        torch.set_num_threads(settings.torch_threads)
    model, processor = load_model(settings, adapter)
    _check_image_fits(settings, data, adapter, model, processor)

    saved_template = processor.chat_template
    template = training_chat_template(adapter, model.config, processor)

    # Only now is the output folder touched; under `accelerate launch` by the main process only.
    from accelerate import PartialState

    launch = PartialState()
    if launch.is_main_process:
        if state == "overwrite":
            shutil.rmtree(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / RECORD).write_text(
            json.dumps({**record, "status": "running", "full_settings": settings.to_json()}, indent=2)
        )
    launch.wait_for_everyone()
    resume = _last_checkpoint(out) if state == "resume" else None
    processor.chat_template = template
    if settings.freeze_vision and settings.lora is None:
        freeze_vision(model)
    trainer = make_trainer(settings, model, processor, data, out, progress)
    if progress:
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)
        trainer.add_callback(rich_progress_callback(console))
    for callback in callbacks or ():
        trainer.add_callback(callback)
    started = time.perf_counter()
    output = trainer.train(resume_from_checkpoint=resume)
    seconds = time.perf_counter() - started

    processor.chat_template = saved_template
    save_model(trainer, settings, adapter, out)
    if not trainer.accelerator.is_main_process:
        return TrainResult(
            out, settings.method, len(data), int(trainer.state.global_step), seconds, None, resume is not None
        )
    processor.save_pretrained(out)
    (out / "training_args.bin").unlink(missing_ok=True)  # a pickle; the settings are in RECORD
    with (out / LOG).open("w") as handle:
        for entry in trainer.state.log_history:
            handle.write(json.dumps(entry) + "\n")
    shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)
    result = TrainResult(
        out=out,
        method=settings.method,
        rows=len(data),
        steps=int(trainer.state.global_step),
        seconds=round(seconds, 1),
        train_loss=float(output.training_loss) if output.training_loss is not None else None,
        resumed=resume is not None,
    )
    summary = {k: v for k, v in result.to_json().items() if k not in ("out", "method", "resumed", "skipped")}
    launch = {
        "distributed_type": str(trainer.accelerator.distributed_type),
        "processes": trainer.accelerator.num_processes,
    }
    (out / RECORD).write_text(
        json.dumps(
            {**record, "status": "done", "full_settings": settings.to_json(), "result": summary, "launch": launch},
            indent=2,
        )
    )
    return result


def save_model(trainer: Any, settings: MitigationConfig, adapter: str, out: Path) -> None:
    """Write the trained weights to `out` as an ordinary model folder.

    `trainer.save_model` gathers sharded weights (FSDP, DeepSpeed ZeRO-3) on the main process. A
    LoRA run saves its adapter first, then the main process merges it into a fresh copy of the
    base model, so the merge never touches sharded tensors."""
    if settings.lora is None:
        trainer.model.config.use_cache = True
        trainer.save_model(str(out))
        return
    adapter_dir = out / "lora-adapter"
    trainer.save_model(str(adapter_dir))
    trainer.accelerator.wait_for_everyone()
    if trainer.accelerator.is_main_process:
        from peft import PeftModel

        base, _ = load_model(settings, adapter)
        merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
        merged.config.use_cache = True
        merged.save_pretrained(out, safe_serialization=True)
        shutil.rmtree(adapter_dir)


def make_trainer(settings: MitigationConfig, model: Any, processor: Any, data: Any, out: Path, progress: bool) -> Any:
    """TRL's trainer for the method; full DPO gets a frozen copy of the start model as reference."""
    from trl import DPOTrainer, SFTTrainer

    args = trainer_arguments(settings, out, progress)
    peft_config = None
    if settings.lora is not None:
        from peft import LoraConfig

        lora = settings.lora
        peft_config = LoraConfig(
            r=lora.r,
            lora_alpha=lora.alpha,
            lora_dropout=lora.dropout,
            target_modules=lora.target_modules,
            task_type="CAUSAL_LM",
        )
    if settings.method == "sft":
        return SFTTrainer(
            model=model, args=args, train_dataset=data, processing_class=processor, peft_config=peft_config
        )
    ref_model = None
    if peft_config is None:
        import copy

        ref_model = copy.deepcopy(model).eval()
        for param in ref_model.parameters():
            param.requires_grad_(False)
    return DPOTrainer(
        model=model,
        ref_model=ref_model,
        args=args,
        train_dataset=data,
        processing_class=processor,
        peft_config=peft_config,
    )
