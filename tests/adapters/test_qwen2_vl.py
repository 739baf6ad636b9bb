"""Qwen2-VL / Qwen2.5-VL on tiny random models: ChatML prompt, dynamic-resolution image tokens,
M-RoPE positions through the shared-prefix cache (engine = naive = model forward)."""

from functools import lru_cache
from typing import Any

import pytest
import torch

from mmsy_dataset.adapters.qwen2_vl import Qwen2VLAdapter, Qwen25VLAdapter
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

SPECIAL = ["<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]


def _qwen_tokenizer() -> Any:
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    backend = tokenizer().backend_tokenizer
    backend.add_special_tokens(SPECIAL)
    backend.post_processor = processors.TemplateProcessing(single="$A", pair="$A $B")  # Qwen adds no BOS
    return PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="<|im_end|>",
                                   unk_token="<unk>", pad_token="<pad>",
                                   extra_special_tokens={"image_token": "<|image_pad|>"})


@lru_cache(maxsize=2)
def tiny_qwen(version: str = "2") -> Qwen2VLAdapter:
    import transformers
    from transformers import Qwen2VLProcessor
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    tok = _qwen_tokenizer()
    ids = {name: tok.convert_tokens_to_ids(t) for name, t in
           (("image", "<|image_pad|>"), ("video", "<|video_pad|>"), ("start", "<|vision_start|>"),
            ("end", "<|vision_end|>"))}
    prefix = "Qwen2VL" if version == "2" else "Qwen2_5_VL"
    vision: dict[str, Any] = {"depth": 2, "num_heads": 2, "patch_size": 8, "spatial_merge_size": 2,
                              "temporal_patch_size": 2}
    if version == "2":  # `hidden_size` is the merger's output (the language model's width)
        vision |= {"embed_dim": 32, "hidden_size": 64}
    else:  # 2.5: `out_hidden_size` is; window attention with one full-attention block
        vision |= {"hidden_size": 32, "out_hidden_size": 64, "intermediate_size": 64, "fullatt_block_indexes": [1],
                   "window_size": 32}
    text = {"vocab_size": len(tok), "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
            "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 1024,
            "rope_parameters": {"rope_type": "default", "mrope_section": [2, 3, 3], "rope_theta": 10000.0},
            "bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id, "pad_token_id": tok.pad_token_id}
    config = getattr(transformers, f"{prefix}Config")(
        vision_config=vision, text_config=text, image_token_id=ids["image"], video_token_id=ids["video"],
        vision_start_token_id=ids["start"], vision_end_token_id=ids["end"])
    torch.manual_seed(0)
    model = getattr(transformers, f"{prefix}ForConditionalGeneration")(config)
    opinionated(model.model.language_model)
    opinionated(model.lm_head)
    images = Qwen2VLImageProcessorPil(patch_size=8, merge_size=2, temporal_patch_size=2, min_pixels=16 * 16,
                                      max_pixels=64 * 64)
    # The real processor class, built without its video processor (which needs torchvision, not
    # installed here): the image path, used by the adapter and the checks, is the checkpoint's.
    processor = Qwen2VLProcessor.__new__(Qwen2VLProcessor)
    processor.image_processor, processor.tokenizer, processor.video_processor = images, tok, None
    processor.chat_template = None
    for kind in ("image", "video"):
        setattr(processor, f"{kind}_token", f"<|{kind}_pad|>")
        setattr(processor, f"{kind}_token_id", ids[kind])
    cls = Qwen2VLAdapter if version == "2" else Qwen25VLAdapter
    return cls(model.eval(), processor, model_id=f"tiny-qwen{version}-vl")


def test_chatml_prompt_string():
    assert tiny_qwen().render(CONV) == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<|vision_start|><|image_pad|>"
        "<|vision_end|>What color is the ball?\n(A) red (B) blue<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n"
        "<|im_start|>user\nSorry, I think the answer is blue.<|im_end|>\n<|im_start|>assistant\n"
    )


@pytest.mark.parametrize("version", ["2", "2.5"])
def test_image_tokens_and_forward_match_processor_and_model(version):
    adapter = tiny_qwen(version)
    counts = set()
    for image in (png((9, 200, 9)), wide_png((30, 30, 200))):
        req = request(CONV, image=image)
        encoded = adapter.encode_request(req)
        inputs = dict(adapter.processor(images=[pil(image)], text=[adapter.render(CONV)], return_tensors="pt"))
        ids = inputs["input_ids"]
        assert encoded.image_positions == torch.nonzero(ids[0] == adapter.image_token_id).flatten().tolist()
        check_logits_equal_model_forward(adapter, req, inputs)
        counts.add(len(encoded.image_positions))
    assert len(counts) == 2  # the image's aspect ratio sets its token count


@pytest.mark.slow
@pytest.mark.parametrize("version", ["2", "2.5"])
def test_engine_scores_equal_naive_loop_across_image_sizes(version):
    records = make_records(n_questions=2, rounds=2)
    # Question q1 gets a wide image: rows of one batch hold different M-RoPE offsets.
    records = [r.model_copy(update={"image": wide_png((30, 200, 30))}) if r.question_id == "q1" else r
               for r in records]
    check_engine_equals_naive(tiny_qwen(version), records)
