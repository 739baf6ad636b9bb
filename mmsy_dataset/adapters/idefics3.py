"""Idefics3 / SmolVLM adapter, written for `HuggingFaceM4/Idefics3-8B-Llama3` and
`HuggingFaceTB/SmolVLM-Instruct` (both `model_type` idefics3).

Chat format (the checkpoints' chat template):

    <|begin_of_text|>User:<image>{prompt}<end_of_utterance>\\nAssistant: {answer}<end_of_utterance>\\n
    User: {push}<end_of_utterance>\\nAssistant:

(one line; a turn that starts with its image has no space after the colon). The image is split
into a grid of crops plus a global view, each written as `<fake_token_around_image>`, a
`<row_i_col_j>` (or `<global-img>`) tag and `image_seq_len` image tokens; the grid depends on
the image size, so requests are encoded with their image (the expansion is cached per image).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mmsy_dataset.adapters.base import VLMAdapter
from mmsy_dataset.adapters.registry import register_adapter
from mmsy_dataset.api.conversation import Conversation

IMAGE = "<image>"
END = "<end_of_utterance>"


@dataclass(frozen=True)
class _Image:
    pixel_values: Any  # (crops, 3, H, W)
    pixel_mask: Any  # (crops, H, W)
    expansion: str  # what replaces the image placeholder in the text


@register_adapter("idefics3")
class Idefics3Adapter(VLMAdapter):
    model_class = "Idefics3ForConditionalGeneration"
    name = "idefics3"
    model_types = ("idefics3",)
    image_text = IMAGE

    # --- formatting -------------------------------------------------------------------------
    def render_family(self, conversation: Conversation, add_generation_prompt: bool = True) -> str:
        parts = [str(self.tokenizer.bos_token or "")]
        for message in conversation:
            role = message.role.capitalize()
            head = f"{role}:{IMAGE}" if message.image else f"{role}: "
            parts.append(f"{head}{message.text}{END}\n")
        if add_generation_prompt:
            parts.append("Assistant:")
        return "".join(parts)

    def _tokenize_family(self, text: str) -> list[int]:
        # The format writes the BOS itself.
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def process_image(self, pil: Any) -> _Image:
        out = self.processor.image_processor([[pil]], return_tensors="pt", return_row_col_info=True)
        expansion = self.processor.replace_image_token(out, 0)
        return _Image(out["pixel_values"][0], out["pixel_attention_mask"][0], str(expansion))

    def image_expansion(self, image: bytes | None) -> str:
        if image is None:
            raise ValueError(f"{self.name}: image tokens depend on the image; encode the request (encode_request)")
        return str(self.processed(image).expansion)

    def image_inputs(self, images: Sequence[bytes]) -> dict[str, Any]:
        import torch

        done = [self.processed(b) for b in images]
        most = max(p.pixel_values.shape[0] for p in done)
        # All-zero crops are padding: the model drops them (as the processor pads a batch).
        pixels = torch.zeros((len(done), most, *done[0].pixel_values.shape[1:]), dtype=done[0].pixel_values.dtype)
        masks = torch.zeros((len(done), most, *done[0].pixel_mask.shape[1:]), dtype=done[0].pixel_mask.dtype)
        for i, p in enumerate(done):
            pixels[i, : p.pixel_values.shape[0]] = p.pixel_values
            masks[i, : p.pixel_mask.shape[0]] = p.pixel_mask
        dtype = next(self.model.parameters()).dtype
        return {"pixel_values": pixels.to(self.device, dtype), "pixel_attention_mask": masks.to(self.device)}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "image_tokens": "per image (crops + global view)"}
