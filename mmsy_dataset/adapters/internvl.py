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

from mmsy_dataset.adapters.base import ImageCache, VLMAdapter
from mmsy_dataset.adapters.registry import register_adapter
from mmsy_dataset.api.conversation import Conversation
from mmsy_dataset.api.prompts import EncodedPrompt
from mmsy_dataset.api.requests import ScoreRequest


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

    def __init__(self, model: Any, processor: Any, model_id: str = "", device: str | None = None) -> None:
        self.model = model.eval()
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.device = str(device or next(model.parameters()).device)
        self.model_id = model_id or str(getattr(model.config, "_name_or_path", ""))
        self.image_token_id = int(model.config.image_token_id)
        self.image_token = str(processor.image_token)
        self._processed: ImageCache[_Image] = ImageCache(self._process)
        if self.template_owner() is None:
            raise ValueError(f"{model_id or self.name}: no chat_template (processor, tokenizer); use the checkpoint's")

    # --- formatting: the checkpoint's chat template (VLMAdapter.render) -------------------------

    def _process(self, pil: Any) -> _Image:
        # The checkpoint's own tiling settings (`crop_to_patches`, `max_patches`), as the processor uses.
        out = self.processor.image_processor([pil], return_tensors="pt")
        expansion = self.processor.replace_image_token({"num_patches": [int(out["num_patches"][0])]}, 0)
        return _Image(out["pixel_values"], str(expansion))

    def encode(self, conversation: Conversation) -> EncodedPrompt:
        if any(m.image for m in conversation):
            raise ValueError("internvl: image tokens depend on the image; encode the request (encode_request)")
        return EncodedPrompt(self._tokenize(self.render(conversation)))

    def encode_request(self, request: ScoreRequest) -> EncodedPrompt:
        image = self._processed(request.image)
        ids = self._tokenize(self.render(request.conversation).replace(self.image_token, image.expansion))
        positions = [i for i, t in enumerate(ids) if t == self.image_token_id]
        expected = image.expansion.count(self.image_token) * sum(m.image for m in request.conversation)
        if len(positions) != expected:
            raise ValueError(
                f"internvl: question {request.group}: expected {expected} image tokens, found {len(positions)}; "
                "does a message text contain the image placeholder?"
            )
        return EncodedPrompt(ids, positions)

    def image_inputs(self, images: Sequence[bytes]) -> dict[str, Any]:
        import torch

        # Tiles of all images, in order: the model scatters them onto the context tokens in order.
        pixels = torch.cat([self._processed(b).pixel_values for b in images])
        return {"pixel_values": pixels.to(self.device, next(self.model.parameters()).dtype)}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "image_tokens": "per image (tiles + thumbnail)"}
