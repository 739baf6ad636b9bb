"""The reference model's architecture: a small LLaVA built with `mmsy_dataset.models.tiny`.

The sizes trade accuracy on the synthetic benchmark against what two CPU cores can train in an
hour. 96 px input with 12 px patches keeps 64 image tokens (a short sequence)
while giving glyphs about 1.5 times more pixels than 64 px; counting and clock reading need
them. The image comes after the question (`image_placement="after"`), so each image token can
check itself against the asked object, and the projector reads the last CLIP layer (a tower
trained from scratch has no "too specialised" last layer to skip). Initialisation is the usual
std 0.02, not tiny.py's test-friendly 0.2, which is too large for training from scratch.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mmsy_dataset.models.tiny import TinyLlavaConfig, build_model, build_processor, build_tokenizer

#: The committed model's configuration.
REFERENCE_CONFIG = TinyLlavaConfig(
    image_size=96,
    patch_size=12,
    vision_hidden=128,
    vision_layers=4,
    vision_heads=4,
    text_hidden=192,
    text_layers=4,
    text_heads=4,
    text_kv_heads=4,
    text_intermediate=512,
    vocab_size=1200,
    max_positions=512,
    seed=0,
    image_placement="after",
    feature_layer=-1,
)

#: A configuration small enough for tests (seconds per step on one core).
QUICK_CONFIG = TinyLlavaConfig(
    image_size=32,
    patch_size=8,
    vision_hidden=32,
    vision_layers=2,
    vision_heads=2,
    text_hidden=64,
    text_layers=2,
    text_heads=4,
    text_kv_heads=2,
    text_intermediate=128,
    vocab_size=600,
    max_positions=512,
    seed=0,
    image_placement="after",
    feature_layer=-1,
)


def init_weights(model: Any, seed: int, std: float = 0.02) -> None:
    """Re-initialise matrices with a small normal (biases zero, norms one): trainable from scratch."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.dim() > 1:
                param.copy_(torch.randn(param.shape, generator=generator) * std)
            elif name.endswith("bias"):
                param.zero_()


def build_reference(words: Iterable[str], config: TinyLlavaConfig = REFERENCE_CONFIG) -> tuple[Any, Any]:
    """(untrained model, processor) whose tokenizer is trained on `words` plus the chat vocabulary."""
    tokenizer = build_tokenizer(list(words), config)
    processor = build_processor(tokenizer, config)
    model = build_model(tokenizer, config)
    init_weights(model, config.seed)
    model.config.use_cache = False
    return model.train(), processor


def count_parameters(model: Any) -> int:
    return int(sum(p.numel() for p in model.parameters()))
