import torch

from mmsy_dataset.models.tiny import TinyLlavaConfig, build_tiny_llava, load_tiny_llava, save_tiny_llava
from tests.engine.helpers import png, tiny_adapter


def _inputs(processor):
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png((10, 120, 200))))
    return processor(images=[image], text=["USER: <image>\nWhat color is the ball? ASSISTANT:"], return_tensors="pt")


def test_build_is_seeded_and_small():
    a, _ = build_tiny_llava(["red blue"], TinyLlavaConfig(seed=3))
    b, _ = build_tiny_llava(["red blue"], TinyLlavaConfig(seed=3))
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))
    assert sum(p.numel() for p in a.parameters()) < 1_500_000


def test_tokenizer_has_no_unknowns_and_expands_image():
    processor = tiny_adapter().processor
    tokens = processor.tokenizer.tokenize("USER: <image>\nWhat (B) ASSISTANT: B</s>")
    assert "<unk>" not in tokens and "<image>" in tokens
    ids = _inputs(processor)["input_ids"][0].tolist()
    assert ids.count(processor.image_token_id) == TinyLlavaConfig().image_tokens == 16


def test_save_and_load_round_trip(tmp_path):
    adapter = tiny_adapter()
    save_tiny_llava(adapter.model, adapter.processor, tmp_path)
    assert list(tmp_path.glob("*.safetensors"))
    model, processor = load_tiny_llava(tmp_path)
    inputs = _inputs(processor)
    with torch.no_grad():
        assert torch.allclose(model(**inputs).logits, adapter.model(**inputs).logits, atol=1e-6)


def test_image_after_placement_is_saved_and_rendered(tmp_path):
    import pytest

    with pytest.raises(ValueError, match="image_placement"):
        TinyLlavaConfig(image_placement="middle")
    with pytest.raises(ValueError, match="feature_layer"):
        TinyLlavaConfig(feature_layer=-3)
    model, processor = build_tiny_llava(["red blue"], TinyLlavaConfig(image_placement="after", feature_layer=-1))
    save_tiny_llava(model, processor, tmp_path)
    loaded, processor = load_tiny_llava(tmp_path)
    assert loaded.config.mmsy_image_placement == "after" and loaded.config.vision_feature_layer == -1
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Q?"}]}]
    assert processor.apply_chat_template(messages, add_generation_prompt=True) == "USER: Q?\n<image> ASSISTANT:"
    plain, _ = build_tiny_llava(["red blue"])
    assert not hasattr(plain.config, "mmsy_image_placement")
