"""The reference model's training loop: from scratch, on CPU, deterministic for a given seed.

One process, `threads` torch threads, AdamW with linear warm-up and cosine decay, optional
bf16 autocast (the weights and optimiser stay fp32). Batches hold examples of similar length
(sorted within chunks, then shuffled), because dialogues are up to three times longer than
round-1 questions and padding would waste most of a mixed batch. The loss is computed only
at labelled positions, so the LM head never runs over image tokens.
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
from mmsy_dataset.reference.labels import COUNTS, PATTERN_CLASSES, TINTS, PatchHeads, pool_labels, word_ids
from mmsy_dataset.reference.lookup import AnswerLookup, AttentionProbe, NameMatch, named_things
from mmsy_dataset.reference.model import QUICK_CONFIG, REFERENCE_CONFIG, build_reference, count_parameters
from mmsy_dataset.reference.pool import ImagePool, normalise, render_pool
from mmsy_dataset.tasks import TASKS, Partition, Task
from mmsy_dataset.threads import set_torch_threads

#: Extra sampling weight per task (none: up-weighting the hardest tasks, counting 3, attribute and
#: positional reasoning 2, did not make them learnable in the budget and slowed the others).
DEFAULT_TASK_WEIGHTS: dict[str, float] = {}

#: Stage 1's sampling weight per task (none: counting and attribute at 3 raised the count label's
#: accuracy from 0.36 to 0.53 but left a clock's hour and a count as unreadable to a linear
#: probe as before, and slowed the other tasks; diagnostics.md, fifth session).
DEFAULT_VISION_TASK_WEIGHTS: dict[str, float] = {}


@dataclass
class TrainConfig:
    model: TinyLlavaConfig = REFERENCE_CONFIG
    steps: int = 3200
    batch_size: int = 32
    lr: float = 1.5e-3
    min_lr_ratio: float = 0.05
    warmup: int = 200
    weight_decay: float = 0.05
    grad_clip: float = 1.0
    bf16: bool = False
    threads: int | None = 2
    """torch CPU threads (None: the cores available to the process, `mmsy_dataset.threads`)."""
    seed: int = 0
    images_per_task: int = 6000
    eval_per_task: int = 60
    eval_every: int = 800
    chunk_batches: int = 16
    render_workers: int = 2
    mix: dict[Kind, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    task_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_TASK_WEIGHTS))
    #: Stage 1: steps of dense patch-label pre-training of the vision tower and projector.
    vision_steps: int = 1500
    vision_batch_size: int = 128
    vision_lr: float = 2e-3
    #: Stage 1: sampling weight of each task's images (default 1).
    vision_task_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_VISION_TASK_WEIGHTS))
    #: Stage 2: weight of the same patch-label loss next to the answer loss (0 = off).
    aux_weight: float = 0.5
    #: Fraction of the (stage 2) steps trained on round-1 questions only before `mix` starts.
    dialogue_from: float = 0.7
    #: Score patches against the input embeddings of the things', tints', counts' (and patterns')
    #: words (labels.py).
    tie_words: bool = True
    #: Give each word-tied head a linear twin over the same classes (labels.py `PatchHeads`).
    twin_heads: bool = False
    #: Label a shape's fill pattern (an attribute answer) with its own head, tied like the tint.
    pattern_head: bool = False
    #: Label counts in every scene (False: counting scenes only; labels.py `scene_labels`).
    count_everywhere: bool = True
    #: Weight of the answer-lookup loss (lookup.py) on head 0 of `lookup_layers` (0 = off):
    #: the second hop, from the answer position to the image tokens of what carries the answer.
    lookup_weight: float = 0.3
    lookup_layers: tuple[int, ...] = (1,)
    #: With nothing to find (a "no" to object presence), the lookup targets the first token.
    lookup_sink: bool = True
    #: Weight of the same loss towards the question's words of what is asked, on `focus_layers`:
    #: the first hop, which puts what is asked into the answer position's query.
    focus_weight: float = 0.3
    focus_layers: tuple[int, ...] = (0,)
    #: Weight of the image tokens' attention to their names in the question, on `name_layers`:
    #: the named glyph gathers the same word the answer position gathers, so that the lookup
    #: matches two copies of one word embedding instead of a word against an image feature.
    name_weight: float = 0.3
    name_layers: tuple[int, ...] = (0,)
    #: Stage 2 trains the projector and language model only, as LLaVA does: trained end to end,
    #: the first 200 steps wiped out the count a linear probe read from the image tokens after
    #: stage 1 (0.45 -> 0.16 on the benchmark's counting items; diagnostics.md, fifth session).
    freeze_vision: bool = True
    #: After stage 1, scale the projector's output so that an image token's mean norm is this
    #: many times a word embedding's (0 = leave it).
    feature_norm: float = 0.0

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
            elif name in ("task_weights", "vision_task_weights"):
                known = {t.value for t in TASKS}
                if not isinstance(value, dict) or set(value) - known:
                    unknown = sorted(set(value) - known) if isinstance(value, dict) else value
                    raise ValueError(f"{where}: {name}: {unknown!r} (tasks: {', '.join(sorted(known))})")
                value = {task: float(weight) for task, weight in value.items()}
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
    again, which cost up to ten times the step's compute on the development machine.
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
    bf16=False,
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
    """Endless, seeded stream of length-homogeneous batches of `mix` (default: the config's)."""
    rng = random.Random(f"mmsy-reference-data|{cfg.seed}|{stream}")
    by_task = pool.by_task()
    tasks = sorted(by_task)
    task_weights = [cfg.task_weights.get(t.value, 1.0) for t in tasks]
    mix = mix if mix is not None else cfg.mix
    kinds, kind_weights = list(mix), list(mix.values())
    while True:
        chunk = []
        for _ in range(cfg.batch_size * cfg.chunk_batches):
            task = rng.choices(tasks, task_weights)[0]
            index = rng.choice(by_task[task])
            kind = rng.choices(kinds, kind_weights)[0]
            chunk.append(encoder.encode(make_dialogue(pool.items[index], kind, rng), index))
        chunk.sort(key=lambda e: len(e.input_ids))
        groups = [chunk[i : i + cfg.batch_size] for i in range(0, len(chunk), cfg.batch_size)]
        rng.shuffle(groups)
        yield from groups


def collate(
    batch: list[Encoded],
    pool: ImagePool,
    processor: Any,
    patch_labels: Sequence[Any] = (),
    names: Sequence[str] = (),
) -> dict[str, Any]:
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
    out = {"input_ids": ids, "attention_mask": mask, "pixel_values": pixels, "labels": targets}
    if patch_labels:
        out["patch_labels"] = [grid[rows] for grid in patch_labels]
        # Round-1 questions only: the position that predicts the answer's first token.
        answer_at = torch.full((len(batch),), -1, dtype=torch.long)
        focus = torch.zeros((len(batch), width), dtype=torch.bool)
        named = torch.zeros((len(batch), max(1, len(names))), dtype=torch.bool)
        for b, e in enumerate(batch):
            if e.kind is Kind.VQA:
                answer_at[b] = next(i for i, t in enumerate(e.labels) if t != IGNORE) - 1
                focus[b, list(e.focus)] = True
                if names and e.focus_text:
                    named[b] = torch.tensor(named_things(e.focus_text, names))
        out["focus"] = focus
        out["named"] = named
        out["answer_at"] = answer_at
    return out


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
    heads: PatchHeads | None = None,
    aux_weight: float = 0.0,
    parts: dict[str, float] | None = None,
    probes: Sequence[tuple[str, AttentionProbe, float]] = (),
) -> Any:
    """Mean next-token cross-entropy over labelled (assistant) positions only, plus the weighted
    patch-label loss when `heads` is given (the image features are computed once for both) and
    each (name, probe, weight) attention-supervision loss (lookup.py)."""
    import torch

    ids = inputs["input_ids"]
    at_image = ids == model.config.image_token_id
    features = image_features(model, inputs["pixel_values"])
    embeds = model.get_input_embeddings()(ids)
    embeds = embeds.masked_scatter(at_image.unsqueeze(-1).expand_as(embeds), features.to(embeds.dtype))
    aux = heads is not None and aux_weight > 0
    out = model.model.language_model(
        inputs_embeds=embeds, attention_mask=inputs["attention_mask"], output_hidden_states=aux
    )
    hidden = out.last_hidden_state[:, :-1]
    targets = inputs["labels"][:, 1:]
    keep = targets != IGNORE
    logits = model.lm_head(hidden[keep]).float()
    loss = torch.nn.functional.cross_entropy(logits, targets[keep])
    terms = {"answer": loss}
    if heads is not None and aux:
        labels = inputs["patch_labels"]
        # The role head reads the middle layer, so that the layers above can use what it finds.
        middle = out.hidden_states[len(out.hidden_states) // 2]
        terms["patch"] = heads.loss(features, labels)
        terms["role"] = heads.role_loss(middle[at_image].view(features.shape), labels[3])
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
    """Train a reference model; writes checkpoints, `history.jsonl` and `train_config.json` to `out_dir`."""
    import torch
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    tune_allocator()
    set_torch_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    model, processor, train_pool, eval_pool = prepare(cfg, cache_dir, progress)
    log(f"model: {count_parameters(model):,} parameters, vocabulary {len(processor.tokenizer)}")
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "train_config.json").write_text(json.dumps(cfg.to_json(), indent=2, default=str) + "\n")
    started = time.monotonic()
    heads: PatchHeads | None = None
    patch_labels: list[Any] = []
    labelled = bool(cfg.aux_weight or cfg.lookup_weight or cfg.focus_weight or cfg.name_weight)
    vocabulary: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    if cfg.vision_steps or labelled:
        grid = cfg.model.image_size // cfg.model.patch_size
        counts = {task: cfg.images_per_task for task in TASKS}
        count_in = None if cfg.count_everywhere else (Task.COUNTING,)
        *patch_labels, vocabulary, names = pool_labels(counts, Partition.TRAIN, grid, cfg.seed, count_in)
        if cfg.tie_words:
            words = {
                "thing": word_ids(processor.tokenizer, names),
                "tint": word_ids(processor.tokenizer, TINTS),
                "count": word_ids(processor.tokenizer, COUNTS),
            }
            if cfg.pattern_head:
                words["pattern"] = word_ids(processor.tokenizer, PATTERN_CLASSES)
            embeddings = model.get_input_embeddings()
            heads = PatchHeads(
                cfg.model.text_hidden, len(vocabulary), cfg.seed, embeddings, words, cfg.twin_heads, cfg.pattern_head
            )
        else:
            heads = PatchHeads(cfg.model.text_hidden, len(vocabulary), cfg.seed, patterns=cfg.pattern_head)
        if cfg.vision_steps:
            pretrain_vision(model, heads, train_pool, patch_labels, processor, cfg, progress, log)
    if cfg.feature_norm:
        match_feature_norm(model, train_pool, processor, cfg.feature_norm, log)
    encoder = Encoder(processor.tokenizer, cfg.model.image_tokens, cfg.model.image_placement == "after")
    if cfg.freeze_vision:
        model.model.vision_tower.requires_grad_(False)
    trained = [p for p in model.parameters() if p.requires_grad]
    params = [*trained, *(heads.parameters() if heads is not None and cfg.aux_weight else ())]
    language = model.model.language_model
    probes: list[tuple[str, AttentionProbe, float]] = []
    if cfg.lookup_weight:
        lookup = AnswerLookup(language, cfg.lookup_layers, "image", sink=cfg.lookup_sink)
        probes.append(("lookup", lookup, cfg.lookup_weight))
    if cfg.focus_weight:
        probes.append(("focus", AnswerLookup(language, cfg.focus_layers, "question"), cfg.focus_weight))
    if cfg.name_weight:
        probes.append(("name", NameMatch(language, cfg.name_layers), cfg.name_weight))
    # Which things each question names, for the name loss only (a shape is named by its shape
    # word, "circle"; a glyph by its name): collate skips the per-example matching otherwise.
    match_names = (
        [k.split(":")[1] if k.startswith("shape:") else n for k, n in zip(vocabulary, names, strict=True)]
        if cfg.name_weight
        else []
    )
    optimiser = adamw(params, cfg.lr, cfg.weight_decay)
    history: list[dict[str, Any]] = []
    # Round-1 questions only until `dialogue_from`, then the dialogue mix (the habit of giving in
    # is learned in a few hundred steps; seeing what is in the image is what takes time).
    vqa_only = batches(train_pool, encoder, cfg, {Kind.VQA: 1.0}, "vqa")
    mixed = batches(train_pool, encoder, cfg)
    switch = round(cfg.dialogue_from * cfg.steps)
    running, seen = 0.0, 0
    parts: dict[str, float] = {}
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"))
    with Progress(*columns, TimeElapsedColumn(), TimeRemainingColumn(), disable=not progress) as bar:
        job = bar.add_task("training", total=cfg.steps)
        for step in range(cfg.steps):
            for group in optimiser.param_groups:
                group["lr"] = lr_at(step, cfg)
            batch = next(mixed if step >= switch else vqa_only)
            inputs = collate(batch, train_pool, processor, patch_labels if labelled else (), match_names)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
                loss = loss_of(model, inputs, heads, cfg.aux_weight, parts, probes)
            update(optimiser, loss, params, cfg.grad_clip)
            running += float(loss.detach())
            seen += 1
            bar.update(job, advance=1, description=f"training loss {running / seen:.3f}")
            if not progress and (step + 1) % 100 == 0:
                rate = (step + 1) * cfg.batch_size / (time.monotonic() - started)
                split = " ".join(f"{k} {v / 100:.3f}" for k, v in parts.items())
                log(f"step {step + 1}/{cfg.steps} loss {running / seen:.3f} ({split}) {rate:.0f} samples/s")
            if (step + 1) % 100 == 0:
                parts.clear()
            last = step + 1 == cfg.steps
            if cfg.eval_every and ((step + 1) % cfg.eval_every == 0 or last):
                entry = _evaluate(model, processor, eval_pool, step + 1, running / seen, started)
                history.append(entry)
                running, seen = 0.0, 0
                log(json.dumps(entry))
                if out_dir is not None:
                    with (out_dir / "history.jsonl").open("a") as fh:
                        fh.write(json.dumps(entry) + "\n")
                    save_tiny_llava(model.eval(), processor, out_dir / "checkpoint")
                    model.train()
    for _, probe, _ in probes:
        probe.remove()
    model.model.vision_tower.requires_grad_(True)
    model.eval()
    if out_dir is not None:
        save_tiny_llava(model, processor, out_dir / "checkpoint")
    return TrainResult(model, processor, history, time.monotonic() - started)


def vision_rows(pool: ImagePool, cfg: TrainConfig) -> Iterator[Any]:
    """Endless, seeded stream of stage 1's batches (pool rows), each task's images drawn with
    their `vision_task_weights` weight."""
    import torch

    generator = torch.Generator().manual_seed(cfg.seed + 7)
    weights = torch.tensor([cfg.vision_task_weights.get(item.task.value, 1.0) for item in pool.items])
    uniform = bool((weights == weights[0]).all()) if len(weights) else True
    while True:
        if uniform:  # the committed run's draws, kept bit-for-bit
            yield torch.randint(len(pool), (cfg.vision_batch_size,), generator=generator)
        else:
            yield torch.multinomial(weights, cfg.vision_batch_size, replacement=True, generator=generator)


def pretrain_vision(
    model: Any,
    heads: PatchHeads,
    pool: ImagePool,
    patch_labels: Sequence[Any],
    processor: Any,
    cfg: TrainConfig,
    progress: bool,
    log: Any,
) -> None:
    """Stage 1: vision tower and projector learn the dense patch labels (the language model idles).

    This stands in for CLIP pre-training: afterwards every glyph's identity, tint and frame are
    linearly readable at its centre patch, so the answer loss only has to learn where to look.
    """
    import torch
    from rich.progress import Progress

    vision = [*model.model.vision_tower.parameters(), *model.model.multi_modal_projector.parameters()]
    words = [*model.get_input_embeddings().parameters()] if heads.embeddings is not None else []
    params = [*vision, *words, *heads.parameters()]
    optimiser = adamw(params, cfg.vision_lr, cfg.weight_decay)
    stage = dataclasses.replace(
        cfg, steps=cfg.vision_steps, lr=cfg.vision_lr, warmup=min(cfg.warmup, cfg.vision_steps // 10)
    )
    rows_of = vision_rows(pool, cfg)
    running, seen, hits, counted, things, counts = 0.0, 0, 0, 0, 0, 0
    with Progress(disable=not progress) as bar:
        job = bar.add_task("pre-training the vision tower", total=cfg.vision_steps)
        for step in range(cfg.vision_steps):
            for group in optimiser.param_groups:
                group["lr"] = lr_at(step, stage)
            rows = next(rows_of)
            targets = [grid[rows] for grid in patch_labels]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
                features = image_features(model, normalise(pool.pixels[rows], processor.image_processor))
                loss = heads.loss(features, targets)
            update(optimiser, loss, params, cfg.grad_clip)
            running += float(loss.detach())
            seen += 1
            with torch.no_grad():
                present = targets[0] != 0
                guess = heads.logits("thing", features.detach()).argmax(-1)
                hits += int((guess[present] == targets[0][present]).sum())
                things += int(present.sum())
                # Scored where a count is labelled (only counting scenes without count_everywhere).
                marked = targets[4] != 0
                guess = heads.logits("count", features.detach()).argmax(-1)
                counted += int((guess[marked] == targets[4][marked]).sum())
                counts += int(marked.sum())
            bar.update(job, advance=1, description=f"pre-training the vision tower, loss {running / seen:.3f}")
            if (step + 1) % 100 == 0 or step + 1 == cfg.vision_steps:
                log(
                    json.dumps(
                        {
                            "vision_step": step + 1,
                            "loss": round(running / seen, 4),
                            "thing_acc": round(hits / max(1, things), 4),
                            "count_acc": round(counted / max(1, counts), 4),
                        }
                    )
                )
                running, seen, hits, counted, things, counts = 0.0, 0, 0, 0, 0, 0


def match_feature_norm(model: Any, pool: ImagePool, processor: Any, ratio: float, log: Any) -> None:
    """Bring image tokens to the scale of word embeddings.

    Stage 1 scores patches by cosine, so nothing bounds the projector's output: it ends about a
    hundred times the norm of a word embedding, and whatever the attention layers add to an
    image token (that the question names it, say) is small next to it. Scaling the projector's
    last linear layer changes nothing else (the heads are scale-free). Measured without gain
    in 600 steps (diagnostics.md, run K); off in the recipe.
    """
    import torch

    with torch.no_grad():
        rows = torch.arange(0, len(pool), max(1, len(pool) // 256))[:256]
        features = image_features(model, normalise(pool.pixels[rows], processor.image_processor))
        words = model.get_input_embeddings().weight.norm(dim=-1).mean()
        scale = float(ratio * words / features.norm(dim=-1).mean())
        last = model.model.multi_modal_projector.linear_2
        last.weight.mul_(scale)
        last.bias.mul_(scale)
    log(f"image features scaled by {scale:.4f} to {ratio} x the word embeddings' norm")


def _evaluate(model: Any, processor: Any, pool: ImagePool, step: int, loss: float, started: float) -> dict[str, Any]:
    result = round1_accuracy(model, processor, pool)
    return {
        "step": step,
        "loss": round(loss, 4),
        "minutes": round((time.monotonic() - started) / 60, 2),
        "acc_r1": round(result.overall, 4),
        "per_task": {k: round(v, 3) for k, v in result.per_task.items()},
    }


def parameters_changed(before: dict[str, Any], model: Any) -> list[str]:
    """Names of parameters that differ from a `state_dict` copy (the recipe's smoke test)."""
    import torch

    return [n for n, p in model.state_dict().items() if not torch.equal(before[n], p)]


__all__ = ["QUICK_TRAIN", "TASKS", "Task", "TrainConfig", "TrainResult", "lr_at", "parameters_changed", "train"]
