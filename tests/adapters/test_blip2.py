"""BLIP-2 (OPT) and InstructBLIP (Llama/Vicuna) on tiny random models: prompt format, query-token
positions, Q-Former instruction, engine = naive, adapter forward = model forward."""

from functools import lru_cache
from typing import Any

import pytest
import torch

from mmsy_dataset.adapters.blip2 import Blip2Adapter, InstructBlipAdapter
from tests.adapters.families import (
    CONV,
    check_engine_equals_naive,
    check_logits_equal_model_forward,
    llama_text,
    opinionated,
    pil,
    request,
    tokenizer,
)
from tests.engine.helpers import WORDS

QUERIES = 4


def _vision_and_qformer(vocab: int | None = None) -> dict[str, Any]:
    from transformers import Blip2QFormerConfig, Blip2VisionConfig

    vision = Blip2VisionConfig(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64,
                               num_hidden_layers=2, num_attention_heads=2)
    qformer = Blip2QFormerConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                                 encoder_hidden_size=32, cross_attention_frequency=1, max_position_embeddings=256,
                                 **({"vocab_size": vocab, "pad_token_id": 0} if vocab else {}))
    return {"vision_config": vision.to_dict(), "qformer_config": qformer.to_dict()}


def _processor(cls: Any, *parts: Any) -> Any:
    from tokenizers import AddedToken

    processor = cls(*parts, num_query_tokens=QUERIES)
    # Real checkpoints' tokenizers have no `image_token` attribute, and the processor adds an
    # AddedToken; ours has one (a str), which the processor does not expect.
    processor.image_token = AddedToken("<image>", normalized=False, special=True)
    return processor


def _images() -> Any:
    from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil

    return BlipImageProcessorPil(size={"height": 32, "width": 32})


def _qformer_tokenizer() -> Any:
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    wp = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    wp.normalizer = normalizers.BertNormalizer(lowercase=True)
    wp.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    trainer = trainers.WordPieceTrainer(vocab_size=300, special_tokens=special, show_progress=False)
    wp.train_from_iterator(WORDS, trainer)
    wp.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", wp.token_to_id("[CLS]")), ("[SEP]", wp.token_to_id("[SEP]"))]
    )
    return PreTrainedTokenizerFast(tokenizer_object=wp, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]")


def _opinionated_lm(model: Any, seed: int = 0) -> Any:
    """Large random weights in the language model only: in the vision tower and the Q-Former
    they drive activations into denormal floats, which make CPU matmuls 20x slower."""
    opinionated(model.language_model, seed)
    return model.eval()


@lru_cache(maxsize=1)
def tiny_blip2() -> Blip2Adapter:
    from transformers import Blip2Config, Blip2ForConditionalGeneration, Blip2Processor, OPTConfig

    tok = tokenizer()
    text = OPTConfig(vocab_size=len(tok), hidden_size=64, ffn_dim=128, num_hidden_layers=2, num_attention_heads=4,
                     word_embed_proj_dim=64, max_position_embeddings=1024, bos_token_id=tok.bos_token_id,
                     eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    config = Blip2Config(text_config=text.to_dict(), num_query_tokens=QUERIES,
                         image_token_id=tok.convert_tokens_to_ids("<image>"), **_vision_and_qformer())
    model = _opinionated_lm(Blip2ForConditionalGeneration(config))
    return Blip2Adapter(model, _processor(Blip2Processor, _images(), tok), model_id="tiny-blip2")


@lru_cache(maxsize=1)
def tiny_instructblip() -> InstructBlipAdapter:
    from transformers import InstructBlipConfig, InstructBlipForConditionalGeneration, InstructBlipProcessor

    tok, qtok = tokenizer(), _qformer_tokenizer()
    config = InstructBlipConfig(text_config=llama_text(tok).to_dict(), num_query_tokens=QUERIES,
                                image_token_id=tok.convert_tokens_to_ids("<image>"),
                                **_vision_and_qformer(vocab=len(qtok)))
    model = _opinionated_lm(InstructBlipForConditionalGeneration(config), seed=1)
    processor = _processor(InstructBlipProcessor, _images(), tok, qtok)
    return InstructBlipAdapter(model, processor, model_id="tiny-instructblip")


ADAPTERS = {"blip2": tiny_blip2, "instructblip": tiny_instructblip}


@pytest.mark.parametrize("name", ADAPTERS)
def test_vqa_prompt_string_and_query_token_positions(name):
    adapter = ADAPTERS[name]()
    assert adapter.render(CONV) == (
        "Question: What color is the ball?\n(A) red (B) blue Answer: A\nQuestion: Sorry, I think the answer is blue. "
        "Answer:"
    )
    encoded = adapter.encode(CONV)
    # The query outputs go first, before the BOS, exactly where the model scatters them.
    assert encoded.image_positions == list(range(QUERIES))
    ids = torch.tensor([encoded.input_ids])
    mask = adapter.model.get_placeholder_mask(ids, adapter.model.get_input_embeddings()(ids))
    assert torch.nonzero(mask[0, :, 0]).flatten().tolist() == encoded.image_positions
    assert encoded.input_ids[QUERIES] == adapter.tokenizer.bos_token_id


@pytest.mark.parametrize("name", ADAPTERS)
def test_adapter_forward_equals_model_forward(name):
    adapter = ADAPTERS[name]()
    req = request(CONV[:1])  # round 1: the Q-Former instruction is the language model's prompt
    inputs = adapter.processor(images=[pil(req.image)], text=[adapter.render(req.conversation)], return_tensors="pt")
    check_logits_equal_model_forward(adapter, req, dict(inputs))


def test_instructblip_qformer_reads_the_round1_prompt_in_every_round():
    adapter = tiny_instructblip()
    later = adapter.request_image_inputs([request(CONV)])
    first = adapter.request_image_inputs([request(CONV[:1])])
    assert torch.equal(later["qformer_input_ids"], first["qformer_input_ids"])
    with pytest.raises(ValueError, match="Q-Former needs the instruction"):
        adapter.hidden_states(torch.tensor([[1]]), torch.tensor([[1]]), torch.tensor([[0]]), adapter.make_cache(None),
                              adapter.image_inputs([request().image]))


@pytest.mark.slow
@pytest.mark.parametrize("name", ADAPTERS)
def test_engine_scores_equal_naive_loop(name):
    check_engine_equals_naive(ADAPTERS[name]())
