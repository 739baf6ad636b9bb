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

from mmsy_dataset.adapters.base import ImageCache
from mmsy_dataset.adapters.llava import IMAGE_TOKEN, LlavaAdapter
from mmsy_dataset.adapters.registry import register_adapter
from mmsy_dataset.api.conversation import Conversation
from mmsy_dataset.api.prompts import EncodedPrompt
from mmsy_dataset.api.requests import ScoreRequest


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

    def __init__(self, model: Any, processor: Any, model_id: str = "", device: str | None = None) -> None:
        super().__init__(model, processor, model_id, device)
        if self.template_owner() is None:
            raise ValueError(f"{self.model_id}: no chat_template; LLaVA-NeXT needs the checkpoint's")
        self._processed: ImageCache[ProcessedImage] = ImageCache(self._process)

    def _count_image_tokens(self) -> int:
        return 0  # depends on each image (AnyRes): see `_processed`

    # --- formatting: the checkpoint's chat template (VLMAdapter.render) -------------------------
    def _process(self, pil: Any) -> ProcessedImage:
        out = self.processor.image_processor([pil], return_tensors="pt")
        pixels = out["pixel_values"][0]
        height, width = (int(v) for v in out["image_sizes"][0])
        n = self.processor._get_number_of_features(height, width, *pixels.shape[-2:])
        if self.processor.vision_feature_select_strategy == "default":
            n -= 1
        return ProcessedImage(pixels, (height, width), int(n))

    def encode(self, conversation: Conversation) -> EncodedPrompt:
        if any(m.image for m in conversation):
            raise ValueError("llava_next: image tokens depend on the image; encode the request (encode_request)")
        return EncodedPrompt(self._tokenize(self.render(conversation)))

    def encode_request(self, request: ScoreRequest) -> EncodedPrompt:
        n = self._processed(request.image).n_tokens
        text = self.render(request.conversation).replace(IMAGE_TOKEN, self.image_token * n)
        ids = self._tokenize(text)
        positions = [i for i, t in enumerate(ids) if t == self.image_token_id]
        expected = n * sum(m.image for m in request.conversation)
        if len(positions) != expected:
            raise ValueError(
                f"llava_next: question {request.group}: expected {expected} image tokens, found {len(positions)}; "
                "does a message text contain the image placeholder?"
            )
        return EncodedPrompt(ids, positions)

    def image_inputs(self, images: Sequence[bytes]) -> dict[str, Any]:
        import torch

        done = [self._processed(b) for b in images]
        most = max(p.pixel_values.shape[0] for p in done)
        pixels = torch.zeros((len(done), most, *done[0].pixel_values.shape[1:]), dtype=done[0].pixel_values.dtype)
        for i, p in enumerate(done):  # the model reads only each image's own patches (image_sizes)
            pixels[i, : p.pixel_values.shape[0]] = p.pixel_values
        dtype = next(self.model.parameters()).dtype
        sizes = torch.tensor([p.size for p in done], dtype=torch.long, device=self.device)
        return {"pixel_values": pixels.to(self.device, dtype), "image_sizes": sizes}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "image_tokens": "per image (AnyRes)"}
