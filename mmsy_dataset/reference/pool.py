"""Pre-rendered image pools: synthetic items as uint8 tensors at the model's input size.

Images go through exactly the evaluation path (224 px PNG from the source, decoded, then the
model's own image processor resizes and crops), stopping before rescale/normalise so they fit
in uint8; `normalise` finishes the job bit-for-bit like the processor (checked in the tests).
Rendering is the slow part of training data (about 4 ms an image), so a pool is rendered once,
in parallel, and cached on disk; epochs then re-ask the same images with fresh options.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmsy_dataset.tasks import Partition, Task

RENDER_SIZE = 224  # the dataset's image size: the processor resizes from it, as in evaluation


@dataclass(frozen=True)
class PoolItem:
    """The text side of a base item (its image lives in the pool tensor at the same index)."""

    task: Task
    question: str
    answer: str
    pool: tuple[str, ...]
    preferred: tuple[str, ...]


@dataclass
class ImagePool:
    items: list[PoolItem]
    pixels: Any  # uint8 tensor (n, 3, side, side)

    def __len__(self) -> int:
        return len(self.items)

    def by_task(self) -> dict[Task, list[int]]:
        out: dict[Task, list[int]] = {}
        for i, item in enumerate(self.items):
            out.setdefault(item.task, []).append(i)
        return out


def _resize_uint8(image_processor: Any, png: bytes) -> Any:
    import torch
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    out = image_processor(image, do_rescale=False, do_normalize=False, return_tensors="pt")["pixel_values"][0]
    return out.round().clamp(0, 255).to(torch.uint8)


def _render_chunk(args: tuple[int, int, str, str, list[int]]) -> tuple[list[PoolItem], Any]:
    """Worker: render items `indices` of one (task, partition) stream and resize them."""
    import torch
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    from mmsy_dataset.sources.synthetic import SyntheticSource

    torch.set_num_threads(1)
    side, seed, task, partition, indices = args
    source = SyntheticSource(image_size=RENDER_SIZE, seed=seed)
    processor = CLIPImageProcessorPil(size={"shortest_edge": side}, crop_size={"height": side, "width": side})
    items, tensors = [], []
    for index in indices:
        base = source.item(Task(task), Partition(partition), index)
        items.append(PoolItem(base.task, base.question, base.answer, base.answer_pool, base.preferred_distractors))
        tensors.append(_resize_uint8(processor, base.image))
    return items, torch.stack(tensors)


def render_pool(
    counts: dict[Task, int],
    partition: Partition,
    side: int,
    seed: int = 0,
    workers: int = 2,
    cache_dir: Path | None = None,
    progress: bool = True,
) -> ImagePool:
    """Items 0..n-1 of each task's stream, resized to `side`; cached under `cache_dir` if given."""
    import torch

    key = "-".join(f"{t.value[:4]}{n}" for t, n in counts.items())
    path = cache_dir / f"pool-{partition.value}-s{seed}-{side}px-{key}.pt" if cache_dir else None
    if path is not None and path.exists():
        data = torch.load(path, weights_only=False)
        return ImagePool(items=data["items"], pixels=data["pixels"])
    chunks = [
        (side, seed, task.value, partition.value, list(range(start, min(n, start + 250))))
        for task, n in counts.items()
        for start in range(0, n, 250)
    ]
    results = _run_chunks(chunks, workers, progress, f"rendering {partition.value} images")
    items = [item for chunk_items, _ in results for item in chunk_items]
    pixels = torch.cat([t for _, t in results]) if results else torch.zeros(0, 3, side, side, dtype=torch.uint8)
    pool = ImagePool(items=items, pixels=pixels)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"items": items, "pixels": pixels}, path)
    return pool


def _run_chunks(chunks: Sequence[Any], workers: int, progress: bool, label: str) -> list[Any]:
    from rich.progress import Progress

    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task(label, total=len(chunks))
        if workers <= 1:
            results = []
            for chunk in chunks:
                results.append(_render_chunk(chunk))
                bar.advance(task)
            return results
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = []
            for result in pool.map(_render_chunk, chunks):
                results.append(result)
                bar.advance(task)
            return results


def normalise(pixels: Any, image_processor: Any) -> Any:
    """uint8 (n, 3, s, s) -> the processor's pixel values (rescale, then mean/std), float32."""
    import torch

    mean = torch.tensor(image_processor.image_mean, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(image_processor.image_std, dtype=torch.float32).view(1, 3, 1, 1)
    return (pixels.float() * float(image_processor.rescale_factor) - mean) / std


def blank_like(pixels: Any, value: int = 128) -> Any:
    """Uniform gray images of the same shape: the image-free control."""
    import torch

    return torch.full_like(pixels, value, dtype=torch.uint8)
