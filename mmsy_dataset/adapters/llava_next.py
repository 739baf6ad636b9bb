"""LLaVA-NeXT (LLaVA-1.6) adapter, written for `llava-hf/llava-v1.6-mistral-7b-hf`.

What differs from LLaVA-1.5:
- Chat format: each LLaVA-NeXT checkpoint pairs the vision tower with a different language
  model (Mistral, Vicuna, Yi-34B), each with its own format, and the `llava-hf` checkpoints ship
  it as the processor's `chat_template`; we render with that template (for the Mistral
  checkpoint: `[INST] <image>\\n{prompt} [/INST] {answer}</s>[INST] {push} [/INST]`).
- "AnyRes": the image is tiled at the grid resolution that best fits its aspect ratio, so the
  number of image tokens depends on the image. Requests are therefore encoded with their image
  (`encode_request`); the processed image is cached per image, since a question's rounds share it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mmsy_dataset.adapters.base import VLMAdapter
from mmsy_dataset.adapters.llava import LlavaAdapter
from mmsy_dataset.adapters.registry import register_adapter


@dataclass(frozen=True)
class ProcessedImage:
    pixel_values: Any  # (patches, 3, H, W)
    size: tuple[int, int]  # original (height, width)
    n_tokens: int


@register_adapter("llava_next")
class LlavaNextAdapter(LlavaAdapter):
    model_class = "LlavaNextForConditionalGeneration"
    name = "llava_next"
    model_types = ("llava_next",)
    has_family_format = False

    # --- formatting: the checkpoint's chat template (VLMAdapter.render) -------------------------
    def process_image(self, pil: Any) -> ProcessedImage:
        out = self.processor.image_processor([pil], return_tensors="pt")
        pixels = out["pixel_values"][0]
        height, width = (int(v) for v in out["image_sizes"][0])
        n = self.processor._get_number_of_features(height, width, *pixels.shape[-2:])
        if self.processor.vision_feature_select_strategy == "default":
            n -= 1
        return ProcessedImage(pixels, (height, width), int(n))

    def image_expansion(self, image: bytes | None) -> str:
        if image is None:
            raise ValueError(f"{self.name}: image tokens depend on the image; encode the request (encode_request)")
        return self.image_token * self.processed(image).n_tokens

    def image_inputs(self, images: Sequence[bytes]) -> dict[str, Any]:
        import torch

        done = [self.processed(b) for b in images]
        most = max(p.pixel_values.shape[0] for p in done)
        pixels = torch.zeros((len(done), most, *done[0].pixel_values.shape[1:]), dtype=done[0].pixel_values.dtype)
        for i, p in enumerate(done):  # the model reads only each image's own patches (image_sizes)
            pixels[i, : p.pixel_values.shape[0]] = p.pixel_values
        dtype = next(self.model.parameters()).dtype
        sizes = torch.tensor([p.size for p in done], dtype=torch.long, device=self.device)
        return {"pixel_values": pixels.to(self.device, dtype), "image_sizes": sizes}

    def describe(self) -> dict[str, Any]:
        # Not LLaVA-1.5's fixed count: AnyRes gives each image its own (`process_image`).
        return {**VLMAdapter.describe(self), "image_tokens": "per image (AnyRes)"}
