"""LLaVA-1.5 adapter (`llava-hf/llava-1.5-*-hf` checkpoints and the project's tiny LLaVA).

Chat format: the original LLaVA-1.5 training format (`vicuna_v1` separators), which the paper
evaluated with the official code:

    USER: <image>\n{prompt} ASSISTANT: {answer}</s>USER: {push} ASSISTANT:

(after the tokenizer's `<s>`). This is the built-in (family) format, used when the checkpoint
has no chat template or with `--chat-format family`; otherwise the checkpoint's template renders
(`VLMAdapter.render`). The `llava-hf` processor's `chat_template` renders the same text except
that it closes an assistant turn with a space instead of `</s>`. A system message, if any, is written before
the first `USER:` followed by a space (LLaVA's system line). A model whose config sets
`mmsy_image_placement = "after"` (the project's reference model, `models/tiny.py`) reads the
image after the first user text: `USER: {prompt}\n<image> ASSISTANT: ...`.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence
from typing import Any

from mmsy_dataset.adapters.base import VLMAdapter
from mmsy_dataset.adapters.registry import register_adapter
from mmsy_dataset.api.conversation import Conversation

IMAGE_TOKEN = "<image>"


@register_adapter("llava")
class LlavaAdapter(VLMAdapter):
    model_class = "LlavaForConditionalGeneration"
    name = "llava"
    model_types = ("llava",)

    def __init__(self, model: Any, processor: Any, model_id: str = "", device: str | None = None) -> None:
        super().__init__(model, processor, model_id, device)
        # The project's reference model reads the image after the question (models/tiny.py).
        self.image_after = getattr(model.config, "mmsy_image_placement", "before") == "after"

    @functools.cached_property
    def n_image_tokens(self) -> int:
        """Placeholders per image, as `LlavaProcessor` expands them: patches, plus the extra
        (CLS) tokens, minus one if the `default` strategy drops CLS."""
        proc = self.processor
        crop = getattr(proc.image_processor, "crop_size", None) or {}
        size = getattr(proc.image_processor, "size", None) or {}
        height = crop.get("height") or size.get("height") or size.get("shortest_edge")
        width = crop.get("width") or size.get("width") or size.get("shortest_edge")
        patch = proc.patch_size or self.model.config.vision_config.patch_size
        n = (height // patch) * (width // patch) + int(proc.num_additional_image_tokens or 0)
        strategy = proc.vision_feature_select_strategy or self.model.config.vision_feature_select_strategy
        return int(n - 1 if strategy == "default" else n)

    # --- formatting -------------------------------------------------------------------------
    def render_family(self, conversation: Conversation, add_generation_prompt: bool = True) -> str:
        parts: list[str] = []
        eos = str(self.tokenizer.eos_token)
        for message in conversation:
            image = f"{IMAGE_TOKEN}\n" if message.image else ""
            if message.role == "system":
                parts.append(f"{message.text} ")
            elif message.role == "user" and message.image and self.image_after:
                parts.append(f"USER: {message.text}\n{IMAGE_TOKEN} ")
            elif message.role == "user":
                parts.append(f"USER: {image}{message.text} ")
            else:
                parts.append(f"ASSISTANT: {image}{message.text}{eos}")
        if add_generation_prompt:
            parts.append("ASSISTANT:")
        return "".join(parts)

    def image_expansion(self, image: bytes | None) -> str:
        return self.image_token * self.n_image_tokens

    def image_inputs(self, images: Sequence[bytes]) -> dict[str, Any]:
        from PIL import Image

        pil = [Image.open(io.BytesIO(b)).convert("RGB") for b in images]
        out = self.processor.image_processor(pil, return_tensors="pt")
        dtype = next(self.model.parameters()).dtype
        return {"pixel_values": out["pixel_values"].to(self.device, dtype)}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "image_tokens": self.n_image_tokens}
