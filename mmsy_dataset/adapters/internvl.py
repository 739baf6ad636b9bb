"""InternVL adapter (transformers-native `-hf` checkpoints), written for
`OpenGVLab/InternVL3-1B-hf`.

Chat format: the checkpoint's own `chat_template` (ChatML for InternVL3, whose language model is
Qwen2.5), with the image written as the context token followed by a newline; the answer follows
`<|im_start|>assistant\\n` directly, so `answer_prefix` is empty. Each image placeholder expands
to `<img>` + `image_seq_length` context tokens per tile + `</img>`; the number of tiles
(`crop_to_patches`: a grid matched to the aspect ratio, plus a thumbnail) depends on the image,
so requests are encoded with their image (the tiling is cached per image).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mmsy_dataset.adapters.base import VLMAdapter
from mmsy_dataset.adapters.registry import register_adapter


@dataclass(frozen=True)
class _Image:
    pixel_values: Any  # (tiles, 3, H, W)
    expansion: str


@register_adapter("internvl")
class InternVLAdapter(VLMAdapter):
    model_class = "InternVLForConditionalGeneration"
    name = "internvl"
    model_types = ("internvl",)
    has_family_format = False
    image_text = "<IMG_CONTEXT>\n"
    default_answer_prefix = ""
    image_placeholder = None

    # --- formatting: the checkpoint's chat template (VLMAdapter.render) -------------------------

    def process_image(self, pil: Any) -> _Image:
        # The checkpoint's own tiling settings (`crop_to_patches`, `max_patches`), as the processor uses.
        out = self.processor.image_processor([pil], return_tensors="pt")
        expansion = self.processor.replace_image_token({"num_patches": [int(out["num_patches"][0])]}, 0)
        return _Image(out["pixel_values"], str(expansion))

    def image_expansion(self, image: bytes | None) -> str:
        if image is None:
            raise ValueError(f"{self.name}: image tokens depend on the image; encode the request (encode_request)")
        return str(self.processed(image).expansion)

    def image_inputs(self, images: Sequence[bytes]) -> dict[str, Any]:
        import torch

        # Tiles of all images, in order: the model scatters them onto the context tokens in order.
        pixels = torch.cat([self.processed(b).pixel_values for b in images])
        return {"pixel_values": pixels.to(self.device, next(self.model.parameters()).dtype)}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "image_tokens": "per image (tiles + thumbnail)"}
