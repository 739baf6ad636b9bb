"""A tiny, real LLaVA-1.5-architecture model built offline: tests, benchmarks, reference model.

Everything a checkpoint from the Hub would have (CLIP vision tower, projector, Llama decoder,
a sentencepiece-style tokenizer with `<image>`, a `LlavaProcessor` and a llava-1.5 chat
template) is built in-process from a config and a word list, so the evaluation engine and the
adapters are exercised on the same code path as `llava-hf/llava-1.5-7b-hf` without a download.
Weights are random but seeded: two builds with the same config are identical.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: llava-1.5 conversation format (the original LLaVA `vicuna_v1` separators: the assistant's
#: turn ends with `</s>`), written as a Jinja chat template so `processor.apply_chat_template`
#: renders exactly what :class:`mmsy_dataset.adapters.llava.LlavaAdapter` renders.
LLAVA15_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}{{ 'USER: ' }}{% elif message['role'] == 'assistant' %}"
    "{{ 'ASSISTANT: ' }}{% endif %}"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for part in message['content'] %}{% if part['type'] == 'image' %}{{ '<image>\n' }}{% endif %}"
    "{% endfor %}"
    "{% for part in message['content'] %}{% if part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{% if message['role'] == 'assistant' %}{{ eos_token }}{% else %}{{ ' ' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)

#: The same format with the image after the first user text (`USER: {prompt}\n<image> ...`): a
#: causal decoder then reads every image token already knowing the question, which is what lets
#: a small model trained from scratch find the asked object (docs/models.md, reference model).
LLAVA15_IMAGE_AFTER_CHAT_TEMPLATE = LLAVA15_CHAT_TEMPLATE.replace(
    "{% for part in message['content'] %}{% if part['type'] == 'image' %}{{ '<image>\n' }}{% endif %}"
    "{% endfor %}"
    "{% for part in message['content'] %}{% if part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}",
    "{% for part in message['content'] %}{% if part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}"
    "{% for part in message['content'] %}{% if part['type'] == 'image' %}{{ '\n<image>' }}{% endif %}"
    "{% endfor %}",
)
assert LLAVA15_IMAGE_AFTER_CHAT_TEMPLATE != LLAVA15_CHAT_TEMPLATE

#: Where the image goes in the first user turn; recorded in the model config as
#: `mmsy_image_placement` so the llava adapter renders what the model was trained on.
IMAGE_PLACEMENTS = ("before", "after")

SPECIAL_TOKENS = ("<unk>", "<s>", "</s>", "<pad>", "<image>")

#: Every printable ASCII character and the newline: no `<unk>` in any English prompt.
ALPHABET = [*map(chr, range(32, 127)), "\n", "▁"]

#: Words every MM-SY conversation uses, so that they are whole tokens whatever the caller's corpus.
BASE_WORDS = (
    "USER ASSISTANT A B C D ( ) : . , ? ! ' \" - answer option correct wrong question image the "
    "a an is are of to in on what which how many yes no I you your think should be maybe choose "
    "only output letter sure really right are you very confident and has courage stand up for even "
    "if user gives different opinion"
)


@dataclass(frozen=True)
class TinyLlavaConfig:
    """Sizes of the tiny model; the defaults give about 0.25 M parameters (fast on 2 cores)."""

    image_size: int = 32  # input resolution (square), pixels
    patch_size: int = 8  # CLIP patch: (32 / 8)^2 = 16 image tokens
    vision_hidden: int = 32  # CLIP width
    vision_layers: int = 2  # CLIP depth (feature layer -2 needs at least 2)
    vision_heads: int = 2
    text_hidden: int = 64  # Llama width
    text_layers: int = 2  # Llama depth
    text_heads: int = 4
    text_kv_heads: int = 2  # grouped-query attention, as in recent Llamas
    text_intermediate: int = 128
    vocab_size: int = 400  # BPE target size (the trained vocabulary may be smaller)
    max_positions: int = 1024
    seed: int = 0  # weight initialisation seed
    image_placement: str = "before"  # image before (llava-1.5) or after the first user text
    feature_layer: int = -2  # CLIP layer the projector reads (llava-1.5: the second-to-last)

    def __post_init__(self) -> None:
        if self.image_placement not in IMAGE_PLACEMENTS:
            raise ValueError(f"image_placement: expected one of {IMAGE_PLACEMENTS}, got {self.image_placement!r}")
        if not -self.vision_layers <= self.feature_layer <= -1:
            raise ValueError(f"feature_layer: expected -{self.vision_layers}..-1, got {self.feature_layer}")
        if self.image_size % self.patch_size:
            raise ValueError(f"image_size {self.image_size} must be a multiple of patch_size {self.patch_size}")
        if self.vision_layers < 2:
            raise ValueError("vision_layers must be >= 2: LLaVA reads the second-to-last CLIP layer")

    @property
    def image_tokens(self) -> int:
        """Image placeholders per image: patches (+1 CLS, dropped by the `default` strategy)."""
        return (self.image_size // self.patch_size) ** 2


def chat_template(config: TinyLlavaConfig) -> str:
    return LLAVA15_IMAGE_AFTER_CHAT_TEMPLATE if config.image_placement == "after" else LLAVA15_CHAT_TEMPLATE


def build_tokenizer(words: Iterable[str], config: TinyLlavaConfig) -> Any:
    """A Llama-like (metaspace BPE) fast tokenizer trained on `words` plus the chat vocabulary."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    corpus = [BASE_WORDS, *words]
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    bpe.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
    trainer = trainers.BpeTrainer(
        vocab_size=config.vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=ALPHABET,
        show_progress=False,
    )
    bpe.train_from_iterator(corpus, trainer=trainer)
    bos = bpe.token_to_id("<s>")
    bpe.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        extra_special_tokens={"image_token": "<image>"},
        chat_template=chat_template(config),
        padding_side="left",
    )


def build_processor(tokenizer: Any, config: TinyLlavaConfig) -> Any:
    from transformers import LlavaProcessor
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    side = config.image_size
    image_processor = CLIPImageProcessorPil(size={"shortest_edge": side}, crop_size={"height": side, "width": side})
    return LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=config.patch_size,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=chat_template(config),
    )


def build_model(tokenizer: Any, config: TinyLlavaConfig) -> Any:
    import torch
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

    vision = CLIPVisionConfig(
        image_size=config.image_size,
        patch_size=config.patch_size,
        hidden_size=config.vision_hidden,
        intermediate_size=2 * config.vision_hidden,
        num_hidden_layers=config.vision_layers,
        num_attention_heads=config.vision_heads,
        projection_dim=config.vision_hidden,
    )
    text = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=config.text_hidden,
        intermediate_size=config.text_intermediate,
        num_hidden_layers=config.text_layers,
        num_attention_heads=config.text_heads,
        num_key_value_heads=config.text_kv_heads,
        max_position_embeddings=config.max_positions,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    llava = LlavaConfig(  # type: ignore[call-arg]
        vision_config=vision,
        text_config=text,
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        vision_feature_layer=config.feature_layer,
        vision_feature_select_strategy="default",
        projector_hidden_act="gelu",
    )
    if config.image_placement != "before":
        llava.mmsy_image_placement = config.image_placement
    torch.manual_seed(config.seed)
    model = LlavaForConditionalGeneration(llava)
    # Random init with std 0.02 gives near-uniform outputs; a larger scale gives the tiny model
    # opinions, so that scores differ between options and bugs in scoring cannot hide.
    with torch.no_grad():
        for param in model.parameters():
            if param.dim() > 1:
                param.normal_(0.0, 0.2)
    return model.eval()


def build_tiny_llava(words: Iterable[str] = (), config: TinyLlavaConfig | None = None) -> tuple[Any, Any]:
    """(model, processor) of a seeded random tiny LLaVA whose tokenizer knows `words`."""
    config = config or TinyLlavaConfig()
    tokenizer = build_tokenizer(list(words), config)
    processor = build_processor(tokenizer, config)
    return build_model(tokenizer, config), processor


def save_tiny_llava(model: Any, processor: Any, folder: str | Path) -> Path:
    """Write a loadable checkpoint folder (safetensors weights, tokenizer, processor, template)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    processor.save_pretrained(folder)
    return folder


def load_tiny_llava(folder: str | Path) -> tuple[Any, Any]:
    """Load a folder written by :func:`save_tiny_llava`, offline."""
    from transformers import AutoProcessor, LlavaForConditionalGeneration

    model = LlavaForConditionalGeneration.from_pretrained(folder, use_safetensors=True)
    processor = AutoProcessor.from_pretrained(folder)
    return model.eval(), processor
