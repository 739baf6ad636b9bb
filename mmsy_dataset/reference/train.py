"""The reference model's training loop: from scratch, on CPU, deterministic for a given seed.

Two stages: stage 1 (`pretrain_vision`) teaches the vision tower and projector dense patch
labels (labels.py), standing in for CLIP's pre-training; stage 2 (`train_conversations`) teaches
the projector and language model the conversations, round-1 questions first, then the dialogue
mix, with the patch labels and attention supervision (lookup.py) as auxiliary losses.

One process, `threads` torch threads, fp32, AdamW with linear warm-up and cosine decay.
Batches hold examples of similar length (sorted within chunks, then shuffled), because
dialogues are up to three times longer than round-1 questions and padding would waste most of
a mixed batch. The loss is computed only at labelled positions, so the LM head never runs over image tokens.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mmsy_dataset.models.tiny import TinyLlavaConfig, save_tiny_llava
from mmsy_dataset.reference.data import DEFAULT_MIX, IGNORE, Encoded, Encoder, Kind, make_dialogue, vocabulary_corpus
from mmsy_dataset.reference.evaluate import round1_accuracy
from mmsy_dataset.reference.labels import (
    COUNTS,
    TINTS,
    PatchHeads,
    PatchLabels,
    PoolLabels,
    pool_labels,
    word_ids,
)
from mmsy_dataset.reference.lookup import AnswerLookup, AttentionProbe, NameMatch, named_things
from mmsy_dataset.reference.model import QUICK_CONFIG, REFERENCE_CONFIG, build_reference, count_parameters
from mmsy_dataset.reference.pool import ImagePool, normalise, render_pool
from mmsy_dataset.tasks import TASKS, Partition
from mmsy_dataset.threads import set_torch_threads


@dataclass
class TrainConfig:
    """The recipe's settings; the defaults are the committed run's
    (`baselines/reference_model/train_config.json`)."""

    model: TinyLlavaConfig = REFERENCE_CONFIG
    #: Stage 2: steps, batch size and schedule (AdamW, linear warm-up, cosine decay to
    #: `min_lr_ratio` of `lr`).
    steps: int = 3200
    batch_size: int = 32
    lr: float = 1.5e-3
    min_lr_ratio: float = 0.05
    warmup: int = 200
    weight_decay: float = 0.05
    grad_clip: float = 1.0
    threads: int | None = 2
    """torch CPU threads (None: the cores available to the process, `mmsy_dataset.threads`)."""
    seed: int = 0
    #: Training images rendered per task (every stage draws from them).
    images_per_task: int = 6000
    #: Monitoring: round-1 accuracy on this many benchmark-partition items per task, every
    #: `eval_every` stage-2 steps (0 = never).
    eval_per_task: int = 60
    eval_every: int = 800
    #: Batches drawn at once and sorted by length, so that each batch holds similar lengths.
    chunk_batches: int = 16
    render_workers: int = 2
    #: Share of each conversation kind once the dialogue mix starts (`dialogue_from`).
    mix: dict[Kind, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    #: Stage 1: steps, batch size and peak learning rate of the patch-label pre-training of the
    #: vision tower and projector (labels.py).
    vision_steps: int = 1500
    vision_batch_size: int = 128
    vision_lr: float = 2e-3
    #: Stage 2: weight of the same patch labels and of the role label next to the answer loss
    #: (0 = off).
    aux_weight: float = 0.5
    #: Fraction of the stage-2 steps trained on round-1 questions only before `mix` starts: the
    #: habit of giving in is learned in a few hundred steps, seeing the image is what takes time.
    dialogue_from: float = 0.7
    #: Weight (0 = off) and layers of the lookup loss (lookup.py): the answer position attends
    #: to the image tokens of what carries the answer.
    lookup_weight: float = 0.3
    lookup_layers: tuple[int, ...] = (1,)
    #: Weight and layers of the focus loss: the answer position attends to the question's words
    #: of what is asked.
    focus_weight: float = 0.3
    focus_layers: tuple[int, ...] = (0,)
    #: Weight and layers of the name loss: the image token of a named thing attends to its name.
    name_weight: float = 0.3
    name_layers: tuple[int, ...] = (0,)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["mix"] = {k.value: v for k, v in self.mix.items()}
        return data

    def override(self, values: dict[str, Any], where: str = "--train") -> TrainConfig:
        """A copy with `values` (JSON: lists for tuples, kind names for `mix`) replacing fields;
        an unknown or model field is an error that names it (`--model` sets the model)."""
        fields = {f.name: f for f in dataclasses.fields(self) if f.name != "model"}
        changes: dict[str, Any] = {}
        for name, value in values.items():
            if name not in fields:
                raise ValueError(f"{where}: {name!r} is not a training setting (one of: {', '.join(fields)})")
            current = getattr(self, name)
            if name == "mix":
                try:
                    value = {Kind(k): float(v) for k, v in value.items()}
                except ValueError as error:
                    raise ValueError(f"{where}: mix: {error} (kinds: {', '.join(k.value for k in Kind)})") from None
            elif isinstance(current, tuple):
                value = tuple(value)
            elif isinstance(current, bool) != isinstance(value, bool) or not isinstance(value, type(current) | int):
                raise ValueError(f"{where}: {name} must be {type(current).__name__}, not {value!r}")
            changes[name] = value
        return dataclasses.replace(self, **changes)


def tune_allocator() -> None:
    """Keep freed memory in glibc's heap instead of returning it to the kernel.

    Sequence lengths vary from batch to batch, so tensors of new sizes are allocated at every
    step; by default glibc serves them with fresh mmaps and every page is faulted in and zeroed
    again, which cost up to ten times the step's compute on a 2-core machine.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt(-3, 32 * 2**20)  # M_MMAP_THRESHOLD: largest allowed, keep tensors on the heap
        libc.mallopt(-1, 2**31 - 1)  # M_TRIM_THRESHOLD: never give the heap's top back
        libc.mallopt(-2, 256 * 2**20)  # M_TOP_PAD: grow the heap in large steps
    except (OSError, AttributeError):
        return


#: The recipe's quick mode (seconds on one core): both stages on the tiny model, a few steps.
QUICK_TRAIN = TrainConfig(
    model=QUICK_CONFIG,
    steps=6,
    batch_size=8,
    warmup=2,
    images_per_task=8,
    eval_per_task=4,
    eval_every=3,
    chunk_batches=2,
    render_workers=1,
    vision_steps=2,
    vision_batch_size=8,
)


def adamw(params: list[Any], lr: float, weight_decay: float) -> Any:
    """AdamW with weight decay on matrices only (not on biases and norms)."""
    import torch

    return torch.optim.AdamW(
        [
            {"params": [p for p in params if p.dim() > 1], "weight_decay": weight_decay},
            {"params": [p for p in params if p.dim() <= 1], "weight_decay": 0.0},
        ],
        lr=lr,
        betas=(0.9, 0.98),
    )


def update(optimiser: Any, loss: Any, params: list[Any], clip: float) -> None:
    """One optimiser step on `loss`, gradients clipped to norm `clip`."""
    import torch

    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, clip)
    optimiser.step()


def lr_at(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + (cfg.lr - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def batches(
    pool: ImagePool, encoder: Encoder, cfg: TrainConfig, mix: dict[Kind, float] | None = None, stream: str = "mix"
) -> Iterator[list[Encoded]]:
    """Endless, seeded stream of length-homogeneous batches of `mix` (default: the config's);
    every task's images are drawn equally often."""
    rng = random.Random(f"mmsy-reference-data|{cfg.seed}|{stream}")
    by_task = pool.by_task()
    tasks = sorted(by_task)
    mix = mix if mix is not None else cfg.mix
    kinds, kind_weights = list(mix), list(mix.values())
    while True:
        chunk = []
        for _ in range(cfg.batch_size * cfg.chunk_batches):
            task = rng.choices(tasks)[0]  # not rng.choice: another draw, other batches
            index = rng.choice(by_task[task])
            kind = rng.choices(kinds, kind_weights)[0]
            chunk.append(encoder.encode(make_dialogue(pool.items[index], kind, rng), index))
        chunk.sort(key=lambda e: len(e.input_ids))
        groups = [chunk[i : i + cfg.batch_size] for i in range(0, len(chunk), cfg.batch_size)]
        rng.shuffle(groups)
        yield from groups


def collate(batch: list[Encoded], pool: ImagePool, processor: Any, labels: PoolLabels) -> dict[str, Any]:
    """Model inputs of a batch, padded to its longest example, with what the auxiliary losses
    read: the patch labels of its images and, for round-1 questions, the position that predicts
    the answer, the question's focus tokens and which thing classes the focus names."""
    import torch

    width = max(len(e.input_ids) for e in batch)
    pad = int(processor.tokenizer.pad_token_id)
    ids = torch.full((len(batch), width), pad, dtype=torch.long)
    targets = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for b, e in enumerate(batch):
        ids[b, : len(e.input_ids)] = torch.tensor(e.input_ids)
        targets[b, : len(e.labels)] = torch.tensor(e.labels)
        mask[b, : len(e.input_ids)] = 1
    rows = [e.index for e in batch]
    pixels = normalise(pool.pixels[rows], processor.image_processor)
    names = question_names(labels)
    answer_at = torch.full((len(batch),), -1, dtype=torch.long)  # -1: not a round-1 question
    focus = torch.zeros((len(batch), width), dtype=torch.bool)
    named = torch.zeros((len(batch), len(names)), dtype=torch.bool)
    for b, e in enumerate(batch):
        if e.kind is Kind.VQA:
            answer_at[b] = next(i for i, t in enumerate(e.labels) if t != IGNORE) - 1
            focus[b, list(e.focus)] = True
            if e.focus_text:
                named[b] = torch.tensor(named_things(e.focus_text, names))
    return {
        "input_ids": ids,
        "attention_mask": mask,
        "pixel_values": pixels,
        "labels": targets,
        "patch_labels": labels.patches.rows(rows),
        "focus": focus,
        "named": named,
        "answer_at": answer_at,
    }


def question_names(labels: PoolLabels) -> list[str]:
    """How the questions name each thing class: a shape by its shape word ("circle"), a glyph
    by its name."""
    pairs = zip(labels.vocabulary, labels.names, strict=True)
    return [key.split(":")[1] if key.startswith("shape:") else name for key, name in pairs]


def image_features(model: Any, pixel_values: Any) -> Any:
    """Projected image features (batch, image tokens, text width): what the language model reads."""
    import torch

    out = model.model.get_image_features(
        pixel_values=pixel_values,
        vision_feature_layer=model.config.vision_feature_layer,
        vision_feature_select_strategy=model.config.vision_feature_select_strategy,
    )
    return torch.stack(list(out.pooler_output))


def loss_of(
    model: Any,
    inputs: dict[str, Any],
    heads: PatchHeads,
    aux_weight: float,
    probes: Sequence[tuple[str, AttentionProbe, float]],
    parts: dict[str, float] | None = None,
) -> Any:
    """Mean next-token cross-entropy over labelled (assistant) positions only, plus the weighted
    patch-label and role losses (the image features are computed once for all) and each
    (name, probe, weight) attention loss (lookup.py); `parts` accumulates each term."""
    import torch

    ids = inputs["input_ids"]
    at_image = ids == model.config.image_token_id
    features = image_features(model, inputs["pixel_values"])
    embeds = model.get_input_embeddings()(ids)
    embeds = embeds.masked_scatter(at_image.unsqueeze(-1).expand_as(embeds), features.to(embeds.dtype))
    aux = aux_weight > 0
    out = model.model.language_model(
        inputs_embeds=embeds, attention_mask=inputs["attention_mask"], output_hidden_states=aux
    )
    hidden = out.last_hidden_state[:, :-1]
    targets = inputs["labels"][:, 1:]
    keep = targets != IGNORE
    logits = model.lm_head(hidden[keep]).float()
    loss = torch.nn.functional.cross_entropy(logits, targets[keep])
    terms = {"answer": loss}
    if aux:
        labels = inputs["patch_labels"]
        # The role head reads the middle layer, so that the layers above can use what it finds.
        middle = out.hidden_states[len(out.hidden_states) // 2]
        terms["patch"] = heads.loss(features, labels)
        terms["role"] = heads.role_loss(middle[at_image].view(features.shape), labels.role)
        loss = loss + aux_weight * (terms["patch"] + terms["role"])
    for name, probe, weight in probes:
        terms[name] = probe.batch_loss(inputs, at_image)
        loss = loss + weight * terms[name]
    if parts is not None:
        for name, term in terms.items():
            parts[name] = parts.get(name, 0.0) + float(term.detach())
    return loss


@dataclass
class TrainResult:
    model: Any
    processor: Any
    history: list[dict[str, Any]]
    seconds: float


def prepare(cfg: TrainConfig, cache_dir: Path | None, progress: bool) -> tuple[Any, Any, ImagePool, ImagePool]:
    """Render pools, train the tokenizer, build the untrained model."""
    side = cfg.model.image_size
    counts = {task: cfg.images_per_task for task in TASKS}
    train_pool = render_pool(counts, Partition.TRAIN, side, cfg.seed, cfg.render_workers, cache_dir, progress)
    eval_counts = {task: cfg.eval_per_task for task in TASKS}
    eval_pool = render_pool(eval_counts, Partition.BENCHMARK, side, cfg.seed, cfg.render_workers, cache_dir, progress)
    model, processor = build_reference(vocabulary_corpus(train_pool.items), cfg.model)
    return model, processor, train_pool, eval_pool


def train(
    cfg: TrainConfig,
    out_dir: Path | None = None,
    cache_dir: Path | None = None,
    progress: bool = True,
    log: Any = print,
) -> TrainResult:
    """Train a reference model: stage 1 (`pretrain_vision`), then stage 2 (`train_conversations`).

    Writes `train_config.json`, `history.jsonl` and `checkpoint/` to `out_dir` when given."""
    import torch

    tune_allocator()
    set_torch_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    model, processor, train_pool, eval_pool = prepare(cfg, cache_dir, progress)
    log(f"model: {count_parameters(model):,} parameters, vocabulary {len(processor.tokenizer)}")
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "train_config.json").write_text(json.dumps(cfg.to_json(), indent=2, default=str) + "\n")
    started = time.monotonic()
    grid = cfg.model.image_size // cfg.model.patch_size
    labels = pool_labels({task: cfg.images_per_task for task in TASKS}, Partition.TRAIN, grid, cfg.seed)
    heads = patch_heads(model, processor.tokenizer, labels, cfg)
    if cfg.vision_steps:
        pretrain_vision(model, heads, train_pool, labels.patches, processor, cfg, progress, log)
    history = train_conversations(
        model, processor, heads, labels, train_pool, eval_pool, cfg, started, out_dir, progress, log
    )
    model.eval()
    if out_dir is not None:
        save_tiny_llava(model, processor, out_dir / "checkpoint")
    return TrainResult(model, processor, history, time.monotonic() - started)


def patch_heads(model: Any, tokenizer: Any, labels: PoolLabels, cfg: TrainConfig) -> PatchHeads:
    """The label heads, the thing, tint and count heads tied to the model's input embeddings of
    their classes' words."""
    words = {
        "thing": word_ids(tokenizer, labels.names),
        "tint": word_ids(tokenizer, TINTS),
        "count": word_ids(tokenizer, COUNTS),
    }
    return PatchHeads(cfg.model.text_hidden, len(labels.vocabulary), cfg.seed, model.get_input_embeddings(), words)


def vision_rows(pool: ImagePool, cfg: TrainConfig) -> Iterator[Any]:
    """Endless, seeded stream of stage 1's batches (pool rows, drawn uniformly)."""
    import torch

    generator = torch.Generator().manual_seed(cfg.seed + 7)
    while True:
        yield torch.randint(len(pool), (cfg.vision_batch_size,), generator=generator)


def pretrain_vision(
    model: Any,
    heads: PatchHeads,
    pool: ImagePool,
    patch_labels: PatchLabels[Any],
    processor: Any,
    cfg: TrainConfig,
    progress: bool,
    log: Any,
) -> None:
    """Stage 1: vision tower and projector learn the dense patch labels (the language model idles,
    but for the input embeddings the tied heads score against).

    This stands in for CLIP pre-training: afterwards every glyph's identity, tint and frame are
    linearly readable at its centre patch, so the answer loss only has to learn where to look.
    Logs the loss and the thing and count heads' accuracy on the patches that hold a thing.
    """
    import torch
    from rich.progress import Progress

    vision = [*model.model.vision_tower.parameters(), *model.model.multi_modal_projector.parameters()]
    params = [*vision, *model.get_input_embeddings().parameters(), *heads.parameters()]
    optimiser = adamw(params, cfg.vision_lr, cfg.weight_decay)
    stage = dataclasses.replace(
        cfg, steps=cfg.vision_steps, lr=cfg.vision_lr, warmup=min(cfg.warmup, cfg.vision_steps // 10)
    )
    rows_of = vision_rows(pool, cfg)
    running, seen, hits, counted, things = 0.0, 0, 0, 0, 0
    with Progress(disable=not progress) as bar:
        job = bar.add_task("pre-training the vision tower", total=cfg.vision_steps)
        for step in range(cfg.vision_steps):
            for group in optimiser.param_groups:
                group["lr"] = lr_at(step, stage)
            rows = next(rows_of)
            targets = patch_labels.rows(rows)
            features = image_features(model, normalise(pool.pixels[rows], processor.image_processor))
            loss = heads.loss(features, targets)
            update(optimiser, loss, params, cfg.grad_clip)
            running += float(loss.detach())
            seen += 1
            with torch.no_grad():
                present = targets.thing != 0  # every thing has a count: the same patches
                guess = heads.logits("thing", features.detach()).argmax(-1)
                hits += int((guess[present] == targets.thing[present]).sum())
                guess = heads.logits("count", features.detach()).argmax(-1)
                counted += int((guess[present] == targets.count[present]).sum())
                things += int(present.sum())
            bar.update(job, advance=1, description=f"pre-training the vision tower, loss {running / seen:.3f}")
            if (step + 1) % 100 == 0 or step + 1 == cfg.vision_steps:
                log(
                    json.dumps(
                        {
                            "vision_step": step + 1,
                            "loss": round(running / seen, 4),
                            "thing_acc": round(hits / max(1, things), 4),
                            "count_acc": round(counted / max(1, things), 4),
                        }
                    )
                )
                running, seen, hits, counted, things = 0.0, 0, 0, 0, 0


def attention_probes(language_model: Any, cfg: TrainConfig) -> list[tuple[str, AttentionProbe, float]]:
    """The attention losses with a weight, as (name, probe, weight)."""
    probes: list[tuple[str, AttentionProbe, float]] = []
    if cfg.lookup_weight:
        probes.append(("lookup", AnswerLookup(language_model, cfg.lookup_layers, "image"), cfg.lookup_weight))
    if cfg.focus_weight:
        probes.append(("focus", AnswerLookup(language_model, cfg.focus_layers, "question"), cfg.focus_weight))
    if cfg.name_weight:
        probes.append(("name", NameMatch(language_model, cfg.name_layers), cfg.name_weight))
    return probes


def train_conversations(
    model: Any,
    processor: Any,
    heads: PatchHeads,
    labels: PoolLabels,
    train_pool: ImagePool,
    eval_pool: ImagePool,
    cfg: TrainConfig,
    started: float,
    out_dir: Path | None,
    progress: bool,
    log: Any,
) -> list[dict[str, Any]]:
    """Stage 2: the projector and language model learn the conversations (round-1 questions,
    then the dialogue mix) next to the auxiliary losses; the vision tower stays as stage 1 left
    it, as a LLaVA's pre-trained encoder does. Returns the monitoring history (`monitor`);
    `started` is when training began (`time.monotonic()`), for the history's minutes."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    stage_started = time.monotonic()
    encoder = Encoder(processor.tokenizer, cfg.model.image_tokens, cfg.model.image_placement == "after")
    model.model.vision_tower.requires_grad_(False)
    trained = [p for p in model.parameters() if p.requires_grad]
    params = [*trained, *(heads.parameters() if cfg.aux_weight else ())]
    probes = attention_probes(model.model.language_model, cfg)
    optimiser = adamw(params, cfg.lr, cfg.weight_decay)
    vqa_only = batches(train_pool, encoder, cfg, {Kind.VQA: 1.0}, "vqa")
    mixed = batches(train_pool, encoder, cfg)
    switch = round(cfg.dialogue_from * cfg.steps)
    history: list[dict[str, Any]] = []
    running, seen = 0.0, 0
    parts: dict[str, float] = {}
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"))
    with Progress(*columns, TimeElapsedColumn(), TimeRemainingColumn(), disable=not progress) as bar:
        job = bar.add_task("training", total=cfg.steps)
        for step in range(cfg.steps):
            for group in optimiser.param_groups:
                group["lr"] = lr_at(step, cfg)
            inputs = collate(next(mixed if step >= switch else vqa_only), train_pool, processor, labels)
            loss = loss_of(model, inputs, heads, cfg.aux_weight, probes, parts)
            update(optimiser, loss, params, cfg.grad_clip)
            running += float(loss.detach())
            seen += 1
            bar.update(job, advance=1, description=f"training loss {running / seen:.3f}")
            if (step + 1) % 100 == 0:
                if not progress:
                    rate = (step + 1) * cfg.batch_size / (time.monotonic() - stage_started)
                    split = " ".join(f"{k} {v / 100:.3f}" for k, v in parts.items())
                    log(f"step {step + 1}/{cfg.steps} loss {running / seen:.3f} ({split}) {rate:.0f} samples/s")
                parts.clear()
            if cfg.eval_every and ((step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps):
                entry = monitor(model, processor, eval_pool, step + 1, running / seen, started, out_dir, log)
                history.append(entry)
                running, seen = 0.0, 0
    for _, probe, _ in probes:
        probe.remove()
    model.model.vision_tower.requires_grad_(True)
    return history


def monitor(
    model: Any,
    processor: Any,
    pool: ImagePool,
    step: int,
    loss: float,
    started: float,
    out_dir: Path | None,
    log: Any,
) -> dict[str, Any]:
    """Round-1 accuracy on the monitoring pool; logged, appended to `history.jsonl` with a
    checkpoint when there is an `out_dir`. Leaves the model in training mode."""
    result = round1_accuracy(model, processor, pool)
    entry = {
        "step": step,
        "loss": round(loss, 4),
        "minutes": round((time.monotonic() - started) / 60, 2),
        "acc_r1": round(result.overall, 4),
        "per_task": {k: round(v, 3) for k, v in result.per_task.items()},
    }
    log(json.dumps(entry))
    if out_dir is not None:
        with (out_dir / "history.jsonl").open("a") as fh:
            fh.write(json.dumps(entry) + "\n")
        save_tiny_llava(model.eval(), processor, out_dir / "checkpoint")
    model.train()
    return entry


__all__ = ["QUICK_TRAIN", "TrainConfig", "TrainResult", "lr_at", "train"]
