"""BLIP-2 and InstructBLIP adapters, written for `Salesforce/blip2-opt-2.7b` and
`Salesforce/instructblip-vicuna-7b` (decoder-only language models; the Flan-T5 variants are
encoder-decoder and not supported: the engine's prefix cache is a decoder's).

Image positions: the Q-Former turns the image into `num_query_tokens` (32) query outputs that
are projected into the language model's embedding space and written over 32 image-token
placeholders placed *before* the BOS token (as `Blip2Processor` does). Those are the positions
that attention amplification and the attention-ratio analysis act on.

Chat format: neither model was tuned for dialogue; both answer VQA prompts of the form
`Question: {q} Answer:` (LAVIS's VQA prompt for BLIP-2). Turns are chained in that form,
one per line: `Question: {prompt} Answer: {answer}\\nQuestion: {push} Answer:`. A system message
(none in MM-SY's protocol) is written first, followed by a space.

InstructBLIP's Q-Former also reads the instruction (LAVIS feeds it the same prompt as the
language model). We give it the round-1 prompt in every round: the image is encoded once per
question, for the question it was asked with, which is also what lets every later round reuse
the round-1 cache. Record the choice when comparing with runs that re-encode per round.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from mmsy_dataset.adapters.base import VLMAdapter
from mmsy_dataset.adapters.registry import register_adapter
from mmsy_dataset.api.conversation import Conversation
from mmsy_dataset.api.prompts import EncodedPrompt
from mmsy_dataset.api.requests import ScoreRequest


@register_adapter("blip2")
class Blip2Adapter(VLMAdapter):
    name = "blip2"
    model_types = ("blip-2",)
    model_class = "Blip2ForConditionalGeneration"
    # The Q-Former's outputs go before the BOS, not in the text: no image part in a template.
    image_in_text = False
    image_text = ""

    def __init__(self, model: Any, processor: Any, model_id: str = "", device: str | None = None) -> None:
        if not model.config.use_decoder_only_language_model:
            raise ValueError(
                f"{model_id or self.name}: encoder-decoder language models (Flan-T5) are not supported; "
                "use an OPT / Vicuna checkpoint"
            )
        super().__init__(model, processor, model_id, device)
        self.n_query_tokens = int(model.config.num_query_tokens)

    # --- formatting -------------------------------------------------------------------------
    def render_family(self, conversation: Conversation, add_generation_prompt: bool = True) -> str:
        parts: list[str] = []
        for message in conversation:
            if message.role == "system":
                parts.append(f"{message.text} ")
            elif message.role == "user":
                parts.append(f"Question: {message.text} Answer:")
            else:
                parts.append(f" {message.text}\n")
        text = "".join(parts)
        if not add_generation_prompt and text.endswith(" Answer:"):
            text = text.removesuffix(" Answer:")
        return text

    def encode(self, conversation: Conversation, image: bytes | None = None, where: str = "") -> EncodedPrompt:
        n_images = sum(m.image for m in conversation)
        if n_images > 1:
            raise ValueError(f"{self.name}: {where}one image per conversation, got {n_images}")
        text_ids = self._tokenize(self.render(conversation))
        queries = [self.image_token_id] * (self.n_query_tokens * n_images)
        return EncodedPrompt(queries + text_ids, list(range(len(queries))))

    def image_inputs(self, images: Sequence[bytes]) -> dict[str, Any]:
        from PIL import Image

        pil = [Image.open(io.BytesIO(b)).convert("RGB") for b in images]
        out = self.processor.image_processor(pil, return_tensors="pt")
        dtype = next(self.model.parameters()).dtype
        return {"pixel_values": out["pixel_values"].to(self.device, dtype)}

    # --- forward ----------------------------------------------------------------------------
    def _query_features(self, image_inputs: dict[str, Any]) -> Any:
        return self.model.get_image_features(**image_inputs, return_dict=True).pooler_output

    def hidden_states(
        self,
        input_ids: Any,
        attention_mask: Any,
        position_ids: Any,
        cache: Any,
        image_inputs: dict[str, Any] | None = None,
    ) -> Any:
        lm = self.model.language_model
        embeds = lm.get_input_embeddings()(input_ids)
        if image_inputs:
            features = self._query_features(image_inputs).to(embeds.dtype)
            mask = (input_ids == self.image_token_id)[..., None].expand_as(embeds)
            embeds = embeds.masked_scatter(mask, features)
        out = lm.model(
            inputs_embeds=embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=cache,
            use_cache=True,
        )
        return out.last_hidden_state

    def lm_logits(self, hidden: Any) -> Any:
        return self.model.language_model.lm_head(hidden).float()

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "image_tokens": self.n_query_tokens}


@register_adapter("instructblip")
class InstructBlipAdapter(Blip2Adapter):
    name = "instructblip"
    model_types = ("instructblip",)
    model_class = "InstructBlipForConditionalGeneration"

    def qformer_text(self, request: ScoreRequest) -> str:
        """The Q-Former's instruction: the round-1 prompt, as the language model saw it."""
        first = next((m for m in request.conversation if m.image), request.conversation[0])
        return self.render((first,))

    def request_image_inputs(self, requests: Sequence[ScoreRequest]) -> dict[str, Any]:
        inputs = self.image_inputs([r.image for r in requests])
        tok = self.processor.qformer_tokenizer(
            [self.qformer_text(r) for r in requests], padding=True, return_tensors="pt"
        )
        inputs["qformer_input_ids"] = tok["input_ids"].to(self.device)
        inputs["qformer_attention_mask"] = tok["attention_mask"].to(self.device)
        return inputs

    def _query_features(self, image_inputs: dict[str, Any]) -> Any:
        if "qformer_input_ids" not in image_inputs:
            raise ValueError("instructblip: the Q-Former needs the instruction; use request_image_inputs")
        return super()._query_features(image_inputs)
