"""InternVL (-hf) on a tiny random model: ChatML via the checkpoint template, tiled image tokens,
engine = naive = model forward."""

import re
from functools import lru_cache
from typing import Any

import pytest
import torch

from mmsy_dataset.adapters.internvl import InternVLAdapter
from tests.adapters.families import (
    CONV,
    check_engine_equals_naive,
    check_logits_equal_model_forward,
    opinionated,
    pil,
    request,
    tokenizer,
    wide_png,
)
from tests.engine.helpers import make_records, png

SPECIAL = ["<|im_start|>", "<|im_end|>", "<img>", "</img>", "<IMG_CONTEXT>", "<video>"]
#: The shape of InternVL3-hf's template: ChatML, the image as the context token and a newline.
CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% for c in message['content'] %}{% if c['type'] == 'image' %}{{ '<IMG_CONTEXT>\n' }}"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{{ '<|im_end|>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _tokenizer() -> Any:
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    backend = tokenizer().backend_tokenizer
    backend.add_special_tokens(SPECIAL)
    backend.post_processor = processors.TemplateProcessing(single="$A", pair="$A $B")  # no BOS, as Qwen2.5
    return PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|im_end|>", unk_token="<unk>",
                                   pad_token="<pad>", chat_template=CHATML)


@lru_cache(maxsize=1)
def tiny_internvl() -> InternVLAdapter:
    from transformers import InternVLConfig, InternVLForConditionalGeneration, InternVLProcessor, Qwen2Config
    from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import GotOcr2ImageProcessorPil

    tok = _tokenizer()
    vision = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
              "image_size": [32, 32], "patch_size": [8, 8]}
    text = Qwen2Config(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                       eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    config = InternVLConfig(vision_config=vision, text_config=text.to_dict(), image_seq_length=4,
                            image_token_id=tok.convert_tokens_to_ids("<IMG_CONTEXT>"), tie_word_embeddings=False)
    torch.manual_seed(0)
    model = InternVLForConditionalGeneration(config)
    opinionated(model.model.language_model)
    opinionated(model.lm_head)
    images = GotOcr2ImageProcessorPil(size={"height": 32, "width": 32}, crop_to_patches=True, min_patches=1,
                                      max_patches=4)
    # The real processor class without its video processor (torchvision is not installed here).
    processor = InternVLProcessor.__new__(InternVLProcessor)
    processor.image_processor, processor.tokenizer, processor.video_processor = images, tok, None
    processor.chat_template, processor.image_seq_length = CHATML, 4
    processor.start_image_token, processor.end_image_token = "<img>", "</img>"
    processor.image_token, processor.video_token = "<IMG_CONTEXT>", "<video>"
    for name in ("start_image", "end_image"):
        setattr(processor, f"{name}_token_id", tok.convert_tokens_to_ids(getattr(processor, f"{name}_token")))
    processor.image_token_id = tok.convert_tokens_to_ids("<IMG_CONTEXT>")
    processor.video_token_id = tok.convert_tokens_to_ids("<video>")
    processor.multimodal_pattern = re.compile("(?P<image><IMG_CONTEXT>)|(?P<video><video>)")
    return InternVLAdapter(model.eval(), processor, model_id="tiny-internvl")


def test_chatml_prompt_string_from_the_template():
    assert tiny_internvl().render(CONV) == (
        "<|im_start|>user\n<IMG_CONTEXT>\nWhat color is the ball?\n(A) red (B) blue<|im_end|>\n"
        "<|im_start|>assistant\nA<|im_end|>\n<|im_start|>user\nSorry, I think the answer is blue.<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_tiled_image_tokens_and_forward_match_processor_and_model():
    adapter = tiny_internvl()
    counts = set()
    for image in (png((9, 200, 9)), wide_png((30, 30, 200))):
        req = request(CONV, image=image)
        encoded = adapter.encode_request(req)
        inputs = dict(adapter.processor(images=[pil(image)], text=[adapter.render(CONV)], return_tensors="pt"))
        inputs = {k: inputs[k] for k in ("input_ids", "attention_mask", "pixel_values")}
        ids = inputs["input_ids"]
        assert encoded.image_positions == torch.nonzero(ids[0] == adapter.image_token_id).flatten().tolist()
        check_logits_equal_model_forward(adapter, req, inputs)
        counts.add(len(encoded.image_positions))
    assert len(counts) == 2  # the tile grid follows the image's shape


@pytest.mark.slow
def test_engine_scores_equal_naive_loop_across_image_sizes():
    records = [r.model_copy(update={"image": wide_png((30, 200, 30))}) if r.question_id == "q1" else r
               for r in make_records(n_questions=2, rounds=2)]
    check_engine_equals_naive(tiny_internvl(), records)
