"""Pre-rendered pools reproduce the evaluation's pixel path exactly."""

from __future__ import annotations

import io

from mmsy_dataset.reference.pool import RENDER_SIZE, blank_like, normalise, render_pool
from mmsy_dataset.tasks import Partition, Task


def test_pool_pixels_equal_the_processor_on_the_dataset_png() -> None:
    import torch
    from PIL import Image
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    from mmsy_dataset.sources.synthetic import SyntheticSource

    side = 48
    pool = render_pool({Task.COUNTING: 2, Task.ATTRIBUTE: 1}, Partition.BENCHMARK, side, workers=1, progress=False)
    processor = CLIPImageProcessorPil(size={"shortest_edge": side}, crop_size={"height": side, "width": side})
    source = SyntheticSource(image_size=RENDER_SIZE)
    png = source.item(Task.ATTRIBUTE, Partition.BENCHMARK, 0).image
    expected = processor(Image.open(io.BytesIO(png)).convert("RGB"), return_tensors="pt")["pixel_values"]
    assert [i.task for i in pool.items] == [Task.COUNTING, Task.COUNTING, Task.ATTRIBUTE]
    assert torch.allclose(normalise(pool.pixels[2:3], processor), expected, atol=1e-6)
    assert pool.pixels.dtype == torch.uint8 and pool.pixels.shape == (3, 3, side, side)
    assert int(blank_like(pool.pixels).float().std()) == 0
