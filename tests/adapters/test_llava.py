import io

import torch
from PIL import Image

from mmsy_dataset.api.conversation import Message
from mmsy_dataset.engine.kv import extend, prefill
from tests.engine.helpers import png, tiny_adapter

CONV = (
    Message("user", "What color is the ball?\n(A) red (B) blue", image=True),
    Message("assistant", "A"),
    Message("user", "Sorry, I think the answer is blue."),
)


def test_exact_prompt_string():
    assert tiny_adapter().render(CONV) == (
        "USER: <image>\nWhat color is the ball?\n(A) red (B) blue ASSISTANT: A</s>"
        "USER: Sorry, I think the answer is blue. ASSISTANT:"
    )


def test_render_matches_the_processor_chat_template():
    adapter = tiny_adapter()
    messages = [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": CONV[0].text}]},
        {"role": "assistant", "content": [{"type": "text", "text": "A"}]},
        {"role": "user", "content": [{"type": "text", "text": CONV[2].text}]},
    ]
    expected = adapter.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert adapter.render(CONV) == expected


def test_encode_and_image_positions_match_processor_and_model():
    adapter = tiny_adapter()
    encoded = adapter.encode(CONV)
    image = Image.open(io.BytesIO(png((1, 2, 3))))
    reference = adapter.processor(images=[image], text=[adapter.render(CONV)], return_tensors="pt")
    assert encoded.input_ids == reference["input_ids"][0].tolist()
    ids = torch.tensor([encoded.input_ids])
    embeds = adapter.model.get_input_embeddings()(ids)
    n = adapter.n_image_tokens
    features = torch.zeros(1, n, embeds.shape[-1])
    mask = adapter.model.model.get_placeholder_mask(ids, inputs_embeds=embeds, image_features=features)
    assert encoded.image_positions == torch.nonzero(mask[0, :, 0]).flatten().tolist()
    # 32 px / patch 8 = 16 patches; +1 CLS, dropped by the "default" feature strategy.
    first = encoded.image_positions[0]
    assert n == 16 and encoded.image_positions == list(range(first, first + n))


def test_label_tokens_cover_spellings_and_are_distinct():
    adapter = tiny_adapter()
    labels = adapter.label_token_ids(("A", "B", "C", "D"))
    tok = adapter.tokenizer
    for letter, ids in labels.items():
        assert adapter.continuation_ids(" " + letter)[0] in ids  # "ASSISTANT: A" -> "▁A"
        assert all(letter in tok.convert_ids_to_tokens(i) for i in ids)
    assert len({i for ids in labels.values() for i in ids}) == sum(len(v) for v in labels.values())


def test_padded_batch_with_cache_equals_unbatched():
    """Right padding in the prefix and between prefix and suffix changes nothing."""
    adapter = tiny_adapter()
    short = adapter.encode(CONV[:1]).input_ids
    long_conv = (Message("user", CONV[0].text + " Think twice.", image=True),)
    long = adapter.encode(long_conv).input_ids
    pixels = adapter.image_inputs([png((9, 9, 9)), png((200, 9, 9))])
    state = prefill(adapter, [short[:-3], long[:-1]], pixels)
    out, _ = extend(adapter, state, [0, 1, 0], [short[-3:], long[-1:], short[-3:-1]])
    cases = [(short, png((9, 9, 9))), (long, png((200, 9, 9))), (short[:-1], png((9, 9, 9)))]
    for row, (ids, image) in enumerate(cases):
        alone = prefill(adapter, [ids], adapter.image_inputs([image]))
        assert torch.allclose(out.last_logits[row], alone.last_logits[0], atol=1e-4)
