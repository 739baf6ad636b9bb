"""LLaVA-NeXT on a tiny random model: Mistral chat format, AnyRes image tokens, engine = naive."""

from functools import lru_cache

import pytest
import torch

from mmsy_dataset.adapters.llava_next import LlavaNextAdapter
from tests.adapters.families import (
    CONV,
    check_engine_equals_naive,
    check_logits_equal_model_forward,
    clip_vision,
    llama_text,
    opinionated,
    pil,
    request,
    tokenizer,
    wide_png,
)
from tests.engine.helpers import make_records, png

#: The format of llava-hf/llava-v1.6-mistral-7b-hf's chat template.
MISTRAL = (
    "{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' }}"
    "{% for c in message['content'] %}{% if c['type'] == 'image' %}{{ '<image>\n' }}{% endif %}{% endfor %}"
    "{% for c in message['content'] %}{% if c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}"
    "{{ ' [/INST]' }}{% elif message['role'] == 'assistant' %}"
    "{% for c in message['content'] %}{% if c['type'] == 'text' %}{{ ' ' + c['text'] }}{% endif %}{% endfor %}"
    "{{ eos_token }}{% endif %}{% endfor %}"
)
GRID = [[32, 32], [32, 64], [64, 32], [64, 64]]


@lru_cache(maxsize=1)
def tiny_next() -> LlavaNextAdapter:
    from transformers import LlavaNextConfig, LlavaNextForConditionalGeneration, LlavaNextProcessor
    from transformers.models.llava_next.image_processing_pil_llava_next import LlavaNextImageProcessorPil

    tok = tokenizer(MISTRAL)
    config = LlavaNextConfig(vision_config=clip_vision(), text_config=llama_text(tok),  # type: ignore[call-arg]
                             image_token_id=tok.convert_tokens_to_ids("<image>"), image_grid_pinpoints=GRID,
                             vision_feature_layer=-2, vision_feature_select_strategy="default")
    torch.manual_seed(0)
    model = opinionated(LlavaNextForConditionalGeneration(config))
    images = LlavaNextImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32},
                                        image_grid_pinpoints=GRID)
    processor = LlavaNextProcessor(images, tok, patch_size=8, vision_feature_select_strategy="default",
                                   num_additional_image_tokens=1, chat_template=MISTRAL)
    return LlavaNextAdapter(model, processor, model_id="tiny-llava-next", device="cpu")


def test_mistral_prompt_string():
    assert tiny_next().render(CONV) == (
        "[INST] <image>\nWhat color is the ball?\n(A) red (B) blue [/INST] A</s>[INST] Sorry, I think the answer "
        "is blue. [/INST]"
    )


def test_image_tokens_depend_on_the_image_and_match_processor_and_model():
    adapter = tiny_next()
    counts = set()
    for image in (png((9, 200, 9)), wide_png((30, 30, 200))):
        req = request(image=image)
        encoded = adapter.encode_request(req)
        inputs = adapter.processor(images=[pil(image)], text=[adapter.render(CONV)], return_tensors="pt")
        ids = inputs["input_ids"]
        embeds = adapter.model.get_input_embeddings()(ids)
        n = len(encoded.image_positions)
        mask = adapter.model.model.get_placeholder_mask(ids, embeds, torch.zeros(n, embeds.shape[-1]))
        assert encoded.image_positions == torch.nonzero(mask[0, :, 0]).flatten().tolist()
        check_logits_equal_model_forward(adapter, req, dict(inputs))
        counts.add(n)
    assert len(counts) == 2  # square vs wide image: different AnyRes grids


@pytest.mark.slow
def test_engine_scores_equal_naive_loop_across_image_sizes():
    # Question q1 gets a wide image: batches mix images with different numbers of crops.
    records = [r.model_copy(update={"image": wide_png((30, 200, 30))}) if r.question_id == "q1" else r
               for r in make_records(n_questions=2, rounds=2)]
    check_engine_equals_naive(tiny_next(), records)
