"""The model adapter interface: what the engine needs from a vision-language model.

An adapter owns everything family-specific (chat format, image placeholders, pixel inputs,
where the decoder and the LM head are) and exposes token-level primitives. The engine owns
everything protocol- and efficiency-specific (which conversations, batching, KV reuse).
Adapters import only the dependency-free `mmsy_dataset.api` layer, never the engine.
"""

from __future__ import annotations

import hashlib
import io
import os
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from mmsy_dataset.api.conversation import Conversation, Message
from mmsy_dataset.api.prompts import CHAT_FORMATS, DType, EncodedPrompt, LoadOptions
from mmsy_dataset.api.requests import ScoreRequest
from mmsy_dataset.api.scorer import Scorer
from mmsy_dataset.api.weights import weights_fingerprint

if TYPE_CHECKING:
    import torch

#: The spellings a reply may start a label with (docs/engine.md, letter mode), `{}` the letter.
LABEL_SPELLINGS = (" {}", "{}", " ({}", "({}")
#: Stands for an answer when the answer prefix is read off the chat format.
_ANSWER_MARK = "MMSYANSWERMARK"
T = TypeVar("T")


def image_only_class(processor_class: type) -> type:
    """`processor_class` without its video processor: the same class to every other code (its
    name, its methods), whose sub-processors are all but the `video_processor`."""

    class ImageOnly(processor_class):
        @classmethod
        def get_attributes(cls) -> list[str]:
            return [name for name in super().get_attributes() if "video" not in name]

    ImageOnly.__name__ = ImageOnly.__qualname__ = processor_class.__name__
    return ImageOnly


def load_image_only_processor(source: str, trust_remote_code: bool = False) -> Any:
    """The checkpoint's processor built without its video processor.

    Processors of families that also take videos (Qwen2-VL, Qwen2.5-VL, InternVL, ...) build a
    video processor that needs torchvision, which the package does not install. MM-SY asks about
    images only, so when torchvision is missing the processor is built from its image processor
    (the PIL backend), tokenizer and chat template alone: the same prompts and pixels.
    """
    from transformers import AutoConfig
    from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES

    from mmsy_dataset.errors import MmsyError

    model_type = AutoConfig.from_pretrained(source, trust_remote_code=trust_remote_code).model_type
    name = PROCESSOR_MAPPING_NAMES.get(model_type)
    if not name:
        raise MmsyError(f"{source}: the processor needs torchvision; model_type {model_type!r} has no known processor")
    import transformers

    processor_class: Any = image_only_class(getattr(transformers, name))
    return processor_class.from_pretrained(source)


def resolve_device(device: str) -> str:
    import torch

    if device != "auto":
        return device
    if not torch.cuda.is_available():
        return "cpu"
    # One process per GPU under `accelerate launch` / `torchrun` (with `--shard auto`).
    local_rank = os.environ.get("LOCAL_RANK")
    return f"cuda:{int(local_rank) % torch.cuda.device_count()}" if local_rank else "cuda"


def resolve_dtype(dtype: DType, device: str) -> torch.dtype:
    """Half precision on GPU (the published LLaVA weights are fp16), fp32 on CPU."""
    import torch

    if dtype == "auto":
        return torch.float16 if device.startswith("cuda") else torch.float32
    return getattr(torch, dtype)


class ImageCache(Generic[T]):
    """Processed images by content hash, least recently used dropped first.

    Families whose image processing decides the token count (tiling, dynamic resolution) need
    the processed image both to encode a request and to build its inputs; caching by hash
    processes each question's image once however many rounds and tones reuse it.
    """

    def __init__(self, process: Callable[[Any], T], size: int = 256) -> None:
        self._process = process
        self._size = size
        self._items: OrderedDict[str, T] = OrderedDict()

    def __call__(self, image: bytes) -> T:
        key = hashlib.sha256(image).hexdigest()
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        from PIL import Image

        self._items[key] = self._process(Image.open(io.BytesIO(image)).convert("RGB"))
        while len(self._items) > self._size:
            self._items.popitem(last=False)
        return self._items[key]


class ModelAdapter(ABC):
    """What the engine needs from any model, local or behind an HTTP API: a way to score a
    chunk's requests, and the facts run.json records. Registered with `register_adapter`."""

    name: ClassVar[str] = ""
    model_types: ClassVar[tuple[str, ...]] = ()
    """`config.json` model_type values this adapter handles (auto-detection)."""
    kv_sharing: ClassVar[str] = (
        "prefix tree: per question, every distinct token prefix's KV state is computed once "
        "(round k extends round k-1); states no later round extends are released"
    )
    """How round-1 work is reused across a question's requests (recorded in run.json stats)."""

    device: str
    model_id: str

    @property
    def chat_format(self) -> str:
        """How prompts are rendered: `template`, `family`, or `server` (an HTTP model's own)."""
        return "server"

    @classmethod
    @abstractmethod
    def load(cls, source: str, options: LoadOptions) -> ModelAdapter:
        """Load from a local folder or a Hub id."""

    @abstractmethod
    def render(self, conversation: Conversation, add_generation_prompt: bool = True) -> str:
        """The exact prompt the model sees (for an API model: the messages, as JSON)."""

    def make_scorer(self, batch_size: int, max_new_tokens: int) -> Scorer | None:
        """The adapter's own scorer for one chunk of questions (a model behind an API scores on
        its server). None, the default for local weights, lets the engine drive the model with
        its batched prefix-tree scorer, which keeps per-question KV state."""
        return None

    def resolve_mode(self, mode: str) -> tuple[str, str | None]:
        """The scoring mode this model can really run for `mode`, and why it differs (None if
        it does not). Local models run every mode."""
        return mode, None

    def weights_info(self, source: str) -> dict[str, Any]:
        """Fingerprint of the weights for run.json (merge and resume compare it)."""
        return weights_fingerprint(source)

    def describe(self) -> dict[str, Any]:
        """Facts for run.json."""
        return {"adapter": self.name, "model_id": self.model_id, "device": self.device, "chat_format": self.chat_format}

    def run_stats(self) -> dict[str, Any]:
        """Adapter counters for run.json `stats` (HTTP attempts, retries ...)."""
        return {}


class VLMAdapter(ModelAdapter):
    """Base class of local (transformers) adapters: token-level primitives the engine batches."""

    model: Any
    tokenizer: Any
    processor: Any
    #: The transformers class the checkpoints of this family load with.
    model_class: ClassVar[str] = ""
    #: Whether the family has a built-in chat format (`render_family`); families whose
    #: checkpoints differ in format (LLaVA-NeXT, InternVL) render only with the checkpoint's.
    has_family_format: ClassVar[bool] = True
    #: How a tokenizer-only chat template (string contents) is told where the image goes:
    #: this text is written before the turn's text.
    image_text: ClassVar[str] = "<image>\n"
    #: Whether `template_messages` gives the image its own content part (False: BLIP-2, whose
    #: query tokens go before the text, not in it).
    image_in_text: ClassVar[bool] = True
    #: Answer prefix when the chat format does not show one (see `answer_prefix`).
    default_answer_prefix: ClassVar[str] = " "

    #: What a rendered prompt holds once per image, replaced by `image_expansion` when encoding
    #: (None: the processor's image token itself, as in ChatML and InternVL templates).
    image_placeholder: ClassVar[str | None] = "<image>"

    def __init__(self, model: Any, processor: Any, model_id: str = "", device: str | None = None) -> None:
        """Wrap a loaded model and its processor (what `load` builds; tests pass tiny models).

        Families that render only with the checkpoint's template (`has_family_format = False`)
        refuse a checkpoint without one here, before any prompt is built."""
        self.model = model.eval()
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.device = str(device or next(model.parameters()).device)
        self.model_id = model_id or str(getattr(model.config, "_name_or_path", ""))
        self.image_token_id = int(model.config.image_token_id)
        self.image_token = str(getattr(processor, "image_token", None) or self.image_placeholder)
        #: Processed images by content hash: a question's rounds and tones process its image once.
        self.processed: ImageCache[Any] = ImageCache(self.process_image)
        if not self.has_family_format and self.template_owner() is None:
            raise ValueError(
                f"{self.model_id or self.name}: no chat_template (processor, tokenizer); "
                f"the {self.name} adapter renders with the checkpoint's"
            )

    @classmethod
    def load(cls, source: str, options: LoadOptions) -> VLMAdapter:
        """Load from a local folder or a Hub id: safetensors only, remote code only when asked."""
        import transformers
        from transformers import AutoProcessor

        device = resolve_device(options.device)
        loader: Any = getattr(transformers, cls.model_class)
        model = loader.from_pretrained(
            source,
            dtype=resolve_dtype(options.dtype, device),
            use_safetensors=True,
            trust_remote_code=options.trust_remote_code,
        ).to(device)
        try:
            processor = AutoProcessor.from_pretrained(source, trust_remote_code=options.trust_remote_code)
        except (ImportError, ValueError) as error:  # the video processor's missing dependency
            if "torchvision" not in str(error).lower():
                raise
            processor = load_image_only_processor(source, options.trust_remote_code)
        adapter = cls(model, processor, model_id=source, device=device)
        adapter.use_chat_format(options.chat_format)
        return adapter

    # --- formatting -------------------------------------------------------------------------
    def template_owner(self) -> Any | None:
        """What holds the checkpoint's chat template: the processor, else the tokenizer, else None."""
        processor = getattr(self, "processor", None)
        if processor is not None and getattr(processor, "chat_template", None):
            return processor
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer
        return None

    def use_chat_format(self, requested: str) -> None:
        """Render with the checkpoint's template, the family's built-in format, or (`auto`) the
        template when there is one. Fine-tuned checkpoints carry their own template, so `auto`
        is the default; `family` reproduces a paper's format (LLaVA-1.5's conversation)."""
        from mmsy_dataset.errors import MmsyError

        if requested not in CHAT_FORMATS:
            raise MmsyError(f"chat format: expected one of {', '.join(CHAT_FORMATS)}, got {requested!r}")
        if requested == "template" and self.template_owner() is None:
            raise MmsyError(f"{self.model_id or self.name}: the checkpoint has no chat template (processor, tokenizer)")
        if requested == "family" and not self.has_family_format:
            raise MmsyError(
                f"{self.model_id or self.name}: the {self.name} adapter has no built-in chat format "
                "(its checkpoints differ); use the checkpoint's template (--chat-format auto)"
            )
        for key in ("_chat_format_requested", "_probe_ids", "_continuation_cache", "_answer_prefix"):
            self.__dict__.pop(key, None)
        self.__dict__["_chat_format_requested"] = requested

    @property
    def chat_format(self) -> str:
        """The format in use: `template` or `family` (recorded in run.json and transcripts)."""
        requested = self.__dict__.get("_chat_format_requested", "auto")
        if requested == "auto":
            return "template" if self.template_owner() is not None else "family"
        return str(requested)

    def template_messages(self, conversation: Conversation, string_content: bool = False) -> list[dict[str, Any]]:
        """Messages in the `apply_chat_template` format. Processor templates take content parts
        (the image part first in its turn); tokenizer templates, written for text models, take a
        string, with the family's image placeholder (`image_text`) before the text."""
        out: list[dict[str, Any]] = []
        for m in conversation:
            image = m.image and self.image_in_text
            if string_content:
                out.append({"role": m.role, "content": (self.image_text if image else "") + m.text})
            else:
                parts: list[dict[str, Any]] = [{"type": "image"}] if image else []
                out.append({"role": m.role, "content": [*parts, {"type": "text", "text": m.text}]})
        return out

    def render(self, conversation: Conversation, add_generation_prompt: bool = True) -> str:
        """The exact prompt string the model sees, with one image placeholder per image: the
        checkpoint's chat template, or the family's format (`chat_format`)."""
        if self.chat_format == "family":
            return self.render_family(conversation, add_generation_prompt)
        owner = self.template_owner()
        if owner is None:  # `template` was asked of a checkpoint that lost its template
            raise ValueError(f"{self.model_id or self.name}: no chat template to render with")
        messages = self.template_messages(conversation, string_content=owner is self.tokenizer)
        return str(owner.apply_chat_template(messages, add_generation_prompt=add_generation_prompt, tokenize=False))

    def render_family(self, conversation: Conversation, add_generation_prompt: bool = True) -> str:
        """The family's built-in chat format (families with `has_family_format`)."""
        from mmsy_dataset.errors import MmsyError

        raise MmsyError(f"{self.name}: no built-in chat format; the checkpoint's template renders the prompts")

    def encode(self, conversation: Conversation, image: bytes | None = None, where: str = "") -> EncodedPrompt:
        """Token ids of `render(conversation)`, each image placeholder expanded to
        `image_expansion(image)`, and the positions of the image tokens (which amplification and
        attention analysis read). A count that differs from the expansion's (a message text
        holding the placeholder) is refused: the image features would land on the wrong tokens."""
        text = self.render(conversation)
        n_images = sum(m.image for m in conversation)
        expected = 0
        if n_images:
            placeholder = self.image_placeholder or self.image_token
            expansion = self.image_expansion(image)
            text = text.replace(placeholder, expansion)
            expected = expansion.count(self.image_token) * n_images
        ids = self._tokenize(text)
        positions = [i for i, t in enumerate(ids) if t == self.image_token_id]
        if len(positions) != expected:
            raise ValueError(
                f"{self.name}: {where}expected {expected} image tokens, found {len(positions)}; "
                "does a message text contain the image placeholder?"
            )
        return EncodedPrompt(ids, positions)

    def encode_request(self, request: ScoreRequest) -> EncodedPrompt:
        """Token ids of a request, its image's tokens counted from the image itself."""
        return self.encode(request.conversation, request.image, f"question {request.group}: ")

    def image_expansion(self, image: bytes | None) -> str:
        """The text that replaces one image placeholder: the image token once per image feature
        (families with a fixed count may ignore `image`; the others read `processed(image)` and
        refuse None, since their count depends on the image)."""
        raise NotImplementedError(f"{self.name}: the adapter does not say how an image's placeholder expands")

    def process_image(self, pil: Any) -> Any:
        """One image as the model takes it (pixels, and what decides its token count), cached by
        `processed`. Families whose token count depends on the image override this."""
        raise NotImplementedError(f"{self.name}: the adapter does not process images one by one")

    def request_image_inputs(self, requests: Sequence[ScoreRequest]) -> dict[str, torch.Tensor]:
        """Model inputs for the images of `requests` (one per request). Families whose vision
        side also reads text (InstructBLIP's Q-Former) override this."""
        return self.image_inputs([r.image for r in requests])

    @abstractmethod
    def image_inputs(self, images: Sequence[bytes]) -> dict[str, torch.Tensor]:
        """Model inputs for a batch of encoded images (pixel values ...), on the model's device."""

    # --- forward ----------------------------------------------------------------------------
    # Defaults for transformers' composite VLMs (LLaVA, Idefics3, InternVL, Qwen2-VL, ...): the
    # multimodal base model is `model.model`, the head `model.lm_head`, the cache a DynamicCache.
    # Families built differently (BLIP-2's separate language model) override them.
    def hidden_states(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        position_ids: torch.Tensor,
        cache: Any,
        image_inputs: dict[str, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Last hidden states (batch, seq, hidden); `cache` (a transformers Cache) is extended in place."""
        out = self.model.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=cache,
            use_cache=True,
            **(image_inputs or {}),
        )
        return out.last_hidden_state

    def lm_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Vocabulary logits of selected hidden states (kept apart to skip unneeded positions)."""
        return self.model.lm_head(hidden).float()

    def make_cache(self, layers: list[tuple[torch.Tensor, torch.Tensor]] | None) -> Any:
        """A KV cache for this model, empty or holding one (keys, values) pair per layer."""
        from transformers import DynamicCache

        return DynamicCache(ddp_cache_data=layers) if layers else DynamicCache()

    # --- tokens -----------------------------------------------------------------------------
    @property
    def pad_token_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return int(pad if pad is not None else self.tokenizer.eos_token_id)

    @property
    def eos_token_ids(self) -> frozenset[int]:
        return frozenset({int(self.tokenizer.eos_token_id)})

    def decode(self, ids: Sequence[int]) -> str:
        return str(self.tokenizer.decode(list(ids), skip_special_tokens=True)).strip()

    @cached_property
    def _probe_ids(self) -> list[int]:
        return list(self._tokenize(self._probe_text))

    @property
    def _probe_text(self) -> str:
        """Text that ends like a generation prompt; continuations are tokenized after it."""
        return self.render((Message("user", "?"),), add_generation_prompt=True)

    def _tokenize(self, text: str) -> list[int]:
        """Token ids of rendered text, special tokens added as the renderer expects: with a chat
        template, as `apply_chat_template(tokenize=True)` does (a tokenizer's template adds none;
        a processor's adds them unless the text starts with the BOS, so a template that writes
        its own BOS never gets a second one); else as the family's format needs."""
        if self.chat_format == "family":
            return self._tokenize_family(text)
        if self.template_owner() is self.tokenizer:
            special = False
        else:
            bos = self.tokenizer.bos_token
            special = not (bos is not None and text.startswith(str(bos)))
        return list(self.tokenizer(text, add_special_tokens=special)["input_ids"])

    def _tokenize_family(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=True)["input_ids"])

    def continuation_ids(self, text: str) -> list[int]:
        """Tokens of `text` written right after the generation prompt, as the full prompt would
        tokenize them (lm-eval's context/continuation split), so that scores are of the tokens the
        model would really produce."""
        cache = self.__dict__.setdefault("_continuation_cache", {})
        if text not in cache:
            base = self._probe_ids
            full = self._tokenize(self._probe_text + text)
            if full[: len(base)] != base:
                raise ValueError(
                    f"{self.name}: tokenizer merges the answer {text!r} into the generation prompt; "
                    "cannot split context and continuation"
                )
            cache[text] = full[len(base) :]
        return list(cache[text])

    def answer_prefix(self) -> str:
        """What goes between the generation prompt and the answer, read off the chat format:
        the text between the generation prompt and an assistant turn's content (a space after
        llava-1.5's `ASSISTANT:`, nothing after ChatML's `assistant\\n`). A format whose
        assistant turn does not extend its generation prompt gives `default_answer_prefix`."""
        if "_answer_prefix" not in self.__dict__:
            ask = (Message("user", "?"),)
            prompt = self.render(ask, add_generation_prompt=True)
            full = self.render((*ask, Message("assistant", _ANSWER_MARK)), add_generation_prompt=False)
            rest = full[len(prompt) :] if full.startswith(prompt) else ""
            self.__dict__["_answer_prefix"] = (
                rest.split(_ANSWER_MARK)[0] if _ANSWER_MARK in rest else self.default_answer_prefix
            )
        return str(self.__dict__["_answer_prefix"])

    def label_token_ids(self, letters: Sequence[str]) -> dict[str, list[int]]:
        """Token ids that start each label, in every spelling a reply may use (" A", "A", " (A",
        "(A", the same four for every family: `LABEL_SPELLINGS`), keeping only tokens that belong
        to one label: the score of a label is the total probability of starting the answer with
        it, whatever the tokenizer's splits and whatever the chat format puts before an answer."""
        firsts: dict[str, set[int]] = {}
        for letter in letters:
            spellings = [form.format(letter) for form in LABEL_SPELLINGS]
            firsts[letter] = {self.continuation_ids(s)[0] for s in spellings if self.continuation_ids(s)}
        out: dict[str, list[int]] = {}
        for letter, ids in firsts.items():
            others = set().union(*(v for k, v in firsts.items() if k != letter))
            unique = sorted(ids - others)
            if not unique:
                raise ValueError(f"{self.name}: no token identifies label {letter!r} on its own")
            out[letter] = unique
        return out

    def position_offsets(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, image_inputs: dict[str, torch.Tensor] | None
    ) -> torch.Tensor | None:
        """Per row, next position id minus real-token count after a prefill (None: zero).

        The engine numbers positions by real tokens; a family whose image tokens take fewer
        rotary positions than tokens (Qwen2-VL's M-RoPE) reports the difference here, and the
        engine adds it to every later position of that row."""
        return None
