"""Qwen2-VL adapter, written for `Qwen/Qwen2-VL-2B-Instruct`.

Chat format (ChatML, as the checkpoint's chat template writes it, default system prompt
included when the conversation has none):

    <|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n
    <|im_start|>user\\n<|vision_start|><|image_pad|><|vision_end|>{prompt}<|im_end|>\\n
    <|im_start|>assistant\\n{answer}<|im_end|>\\n<|im_start|>user\\n{push}<|im_end|>\\n<|im_start|>assistant\\n

(without the line breaks after each `\\n`). The answer follows `assistant\\n` directly, so
`answer_prefix` is empty. Images keep their aspect ratio (dynamic resolution): the number of
`<|image_pad|>` tokens is (grid_h x grid_w) / merge^2 of each image, so requests are encoded
with their image.

Positions: M-RoPE gives the image tokens 2-D (height, width) positions, so the text after an
image starts at a position smaller than its token index. After the prefill we report that
difference per row (`position_offsets`, the model's `rope_deltas`) and the engine adds it to
every later position; later tokens are text, whose three M-RoPE components are equal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mmsy_dataset.adapters.base import VLMAdapter
from mmsy_dataset.adapters.registry import register_adapter
from mmsy_dataset.api.conversation import Conversation

DEFAULT_SYSTEM = "You are a helpful assistant."
IMAGE_SPAN = "<|vision_start|><|image_pad|><|vision_end|>"


@dataclass(frozen=True)
class _Image:
    pixel_values: Any  # (patches, channels * temporal * patch * patch)
    grid_thw: Any  # (3,)
    n_tokens: int


@register_adapter("qwen2_vl")
class Qwen2VLAdapter(VLMAdapter):
    name = "qwen2_vl"
    model_types = ("qwen2_vl",)
    model_class = "Qwen2VLForConditionalGeneration"
    image_text = IMAGE_SPAN
    default_answer_prefix = ""
    image_placeholder = None

    # --- formatting -------------------------------------------------------------------------
    def render_family(self, conversation: Conversation, add_generation_prompt: bool = True) -> str:
        parts: list[str] = []
        if not conversation or conversation[0].role != "system":
            parts.append(f"<|im_start|>system\n{DEFAULT_SYSTEM}<|im_end|>\n")
        for message in conversation:
            image = IMAGE_SPAN if message.image else ""
            parts.append(f"<|im_start|>{message.role}\n{image}{message.text}<|im_end|>\n")
        if add_generation_prompt:
            parts.append("<|im_start|>assistant\n")
        return "".join(parts)

    def _tokenize_family(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def process_image(self, pil: Any) -> _Image:
        out = self.processor.image_processor([pil], return_tensors="pt")
        grid = out["image_grid_thw"][0]
        merge = int(self.processor.image_processor.merge_size)
        return _Image(out["pixel_values"], grid, int(grid.prod()) // merge**2)

    def image_expansion(self, image: bytes | None) -> str:
        if image is None:
            raise ValueError(f"{self.name}: image tokens depend on the image; encode the request (encode_request)")
        return self.image_token * self.processed(image).n_tokens

    def image_inputs(self, images: Sequence[bytes]) -> dict[str, Any]:
        import torch

        done = [self.processed(b) for b in images]
        dtype = next(self.model.parameters()).dtype
        pixels = torch.cat([p.pixel_values for p in done]).to(self.device, dtype)
        grids = torch.stack([p.grid_thw for p in done]).to(self.device)
        return {"pixel_values": pixels, "image_grid_thw": grids}

    # --- forward ----------------------------------------------------------------------------
    def _rope(self, input_ids: Any, attention_mask: Any, image_inputs: dict[str, Any]) -> tuple[Any, Any]:
        """(3-D M-RoPE positions, per-row deltas) of a prefill that holds images."""
        types = (input_ids == self.image_token_id).int()
        positions, deltas = self.model.model.get_rope_index(
            input_ids, types, image_grid_thw=image_inputs["image_grid_thw"], attention_mask=attention_mask
        )
        return positions, deltas

    def hidden_states(
        self,
        input_ids: Any,
        attention_mask: Any,
        position_ids: Any,
        cache: Any,
        image_inputs: dict[str, Any] | None = None,
    ) -> Any:
        if image_inputs:
            # A prefill from position 0: the model's own M-RoPE positions for image and text.
            position_ids, _ = self._rope(input_ids, attention_mask, image_inputs)
        return super().hidden_states(input_ids, attention_mask, position_ids, cache, image_inputs)

    def position_offsets(self, input_ids: Any, attention_mask: Any, image_inputs: dict[str, Any] | None) -> Any:
        if not image_inputs:
            return None
        return self._rope(input_ids, attention_mask, image_inputs)[1].reshape(-1)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "image_tokens": "per image (dynamic resolution)"}


@register_adapter("qwen2_5_vl")
class Qwen25VLAdapter(Qwen2VLAdapter):
    """Qwen2.5-VL (`Qwen/Qwen2.5-VL-7B-Instruct`): the same chat format, tokens and M-RoPE
    bookkeeping; a window-attention vision tower that the model class hides."""

    name = "qwen2_5_vl"
    model_types = ("qwen2_5_vl",)
    model_class = "Qwen2_5_VLForConditionalGeneration"
