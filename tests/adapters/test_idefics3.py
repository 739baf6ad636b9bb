"""Idefics3 / SmolVLM on a tiny random model: chat format, image splitting, engine = naive."""

from functools import lru_cache
from typing import Any

import pytest
import torch

from mmsy_dataset.adapters.idefics3 import Idefics3Adapter
from tests.adapters.families import (
    CONV,
    check_engine_equals_naive,
    check_logits_equal_model_forward,
    llama_text,
    opinionated,
    pil,
    request,
    tokenizer,
    wide_png,
)
from tests.engine.helpers import make_records, png

TAGS = ["<fake_token_around_image>", "<global-img>", "<end_of_utterance>",
        *(f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7))]


def _tokenizer() -> Any:
    from transformers import PreTrainedTokenizerFast

    backend = tokenizer().backend_tokenizer
    backend.add_special_tokens(TAGS)
    return PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="<end_of_utterance>",
                                   unk_token="<unk>", pad_token="<pad>",
                                   extra_special_tokens={"image_token": "<image>"})


@lru_cache(maxsize=1)
def tiny_idefics3() -> Idefics3Adapter:
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration, Idefics3Processor
    from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil

    tok = _tokenizer()
    vision = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
              "image_size": 32, "patch_size": 8}
    config = Idefics3Config(vision_config=vision, text_config=llama_text(tok).to_dict(), scale_factor=2,
                            image_token_id=tok.convert_tokens_to_ids("<image>"))
    torch.manual_seed(0)
    model = Idefics3ForConditionalGeneration(config)
    opinionated(model.model.text_model)
    opinionated(model.lm_head)
    images = Idefics3ImageProcessorPil(size={"longest_edge": 64}, max_image_size={"longest_edge": 32})
    processor = Idefics3Processor(images, tok, image_seq_len=4)
    return Idefics3Adapter(model.eval(), processor, model_id="tiny-idefics3")


def test_prompt_string():
    assert tiny_idefics3().render(CONV) == (
        "<s>User:<image>What color is the ball?\n(A) red (B) blue<end_of_utterance>\nAssistant: A<end_of_utterance>\n"
        "User: Sorry, I think the answer is blue.<end_of_utterance>\nAssistant:"
    )


def test_image_splitting_tokens_and_forward_match_processor_and_model():
    adapter = tiny_idefics3()
    counts = set()
    for image in (png((9, 200, 9)), wide_png((30, 30, 200))):
        req = request(CONV, image=image)
        encoded = adapter.encode_request(req)
        inputs = dict(adapter.processor(images=[[pil(image)]], text=[adapter.render(CONV)], return_tensors="pt",
                                        add_special_tokens=False))
        inputs.pop("mm_token_type_ids", None)
        ids = inputs["input_ids"]
        assert encoded.image_positions == torch.nonzero(ids[0] == adapter.image_token_id).flatten().tolist()
        check_logits_equal_model_forward(adapter, req, inputs)
        counts.add(len(encoded.image_positions))
    assert len(counts) == 2  # the crop grid follows the image's shape


@pytest.mark.slow
def test_engine_scores_equal_naive_loop_across_image_sizes():
    records = [r.model_copy(update={"image": wide_png((30, 200, 30))}) if r.question_id == "q1" else r
               for r in make_records(n_questions=2, rounds=2)]
    check_engine_equals_naive(tiny_idefics3(), records)
