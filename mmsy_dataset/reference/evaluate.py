"""A fast round-1 option-likelihood evaluation for training-time monitoring and the blank control.

It scores what the engine's `option` mode scores (log-probability of " {option}" after the
round-1 prompt, summed over its tokens, and divided by its UTF-8 length for `norm`), but on
pre-rendered pools, so it can run every few hundred steps. The reported figures come from
`mmsy eval`; this module also provides the image-free control (the same questions with a
uniform gray image), which the benchmark itself does not contain.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from mmsy_dataset.construction.templates import round1_prompt
from mmsy_dataset.reference.data import Dialogue, Encoder, Kind, Turn, draw_options
from mmsy_dataset.reference.pool import ImagePool, blank_like, normalise
from mmsy_dataset.tasks import LETTERS


@dataclass(frozen=True)
class Round1Result:
    per_task: dict[str, float]
    overall: float
    n: int


def _sequences(encoder: Encoder, pool: ImagePool, seed: int) -> list[tuple[int, int, int, list[int], int, int]]:
    """(item, option index, correct index, ids, option token count, option byte length)."""
    out = []
    for i, item in enumerate(pool.items):
        options, right = draw_options(item, random.Random(f"mmsy-reference-eval|{seed}|{i}"))
        prompt = round1_prompt(item.question, LETTERS[: len(options)], options)
        base = encoder.encode(Dialogue(Kind.VQA, [Turn("user", prompt)]), i, generation_prompt=True).input_ids
        for j, option in enumerate(options):
            full = encoder.encode(Dialogue(Kind.VQA, [Turn("user", prompt), Turn("assistant", option)]), i)
            ids = full.input_ids[:-1]  # drop </s>: the engine scores the option's words only
            if ids[: len(base)] != base:
                raise ValueError(f"option {option!r} merges into the prompt's tokens")
            out.append((i, j, right, ids, len(ids) - len(base), len(option.encode("utf-8"))))
    return out


def round1_accuracy(
    model: Any,
    processor: Any,
    pool: ImagePool,
    blank: bool = False,
    choice: str = "sum",
    batch_size: int = 64,
    seed: int = 0,
) -> Round1Result:
    """Acc@R1 per task by option likelihood; `blank` swaps every image for uniform gray."""
    import torch

    encoder = Encoder(processor.tokenizer, _image_tokens(model), image_after(model))
    rows = _sequences(encoder, pool, seed)
    pixels = blank_like(pool.pixels) if blank else pool.pixels
    scores: dict[int, dict[int, float]] = defaultdict(dict)
    rights: dict[int, int] = {}
    was_training = model.training
    model.eval()
    pad = int(processor.tokenizer.pad_token_id)
    with torch.inference_mode():
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            width = max(len(r[3]) for r in batch)
            ids = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for b, row in enumerate(batch):
                ids[b, : len(row[3])] = torch.tensor(row[3])
                mask[b, : len(row[3])] = 1
            values = normalise(pixels[[r[0] for r in batch]], processor.image_processor)
            logits = model(input_ids=ids, attention_mask=mask, pixel_values=values).logits.float()
            logp = torch.log_softmax(logits[:, :-1], dim=-1)
            for b, (i, j, right, seq, n_opt, n_bytes) in enumerate(batch):
                target = torch.tensor(seq[len(seq) - n_opt :])
                positions = torch.arange(len(seq) - n_opt - 1, len(seq) - 1)
                total = float(logp[b, positions, target].sum())
                scores[i][j] = total / n_bytes if choice == "norm" else total
                rights[i] = right
    model.train(was_training)
    correct: dict[str, list[int]] = defaultdict(list)
    for i, by_option in scores.items():
        best = max(by_option, key=lambda j: by_option[j])
        correct[pool.items[i].task.value].append(int(best == rights[i]))
    per_task = {task: sum(v) / len(v) for task, v in sorted(correct.items())}
    n = sum(len(v) for v in correct.values())
    overall = sum(sum(v) for v in correct.values()) / max(1, n)
    return Round1Result(per_task=per_task, overall=overall, n=n)


def image_after(model: Any) -> bool:
    """Whether the model reads the image after the first user text (see `models.tiny`)."""
    return getattr(model.config, "mmsy_image_placement", "before") == "after"


def _image_tokens(model: Any) -> int:
    vision = model.config.vision_config
    return int((vision.image_size // vision.patch_size) ** 2)
