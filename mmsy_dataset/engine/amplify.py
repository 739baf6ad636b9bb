"""Attention amplification (paper 4.3, eq. 7): a training-free mitigation at evaluation time.

In each chosen text layer l, before the softmax,

    e'_l,i = e_l,i + lam * |e_l,i|   for an image key i,      e'_l,t = e_l,t   for any other key t,

where e = q.k * scaling are the raw attention logits. The causal and padding mask is added after
eq. 7, so a masked key stays masked whatever lam. The paper uses lam = 0.9 for LLaVA-1.5 and
compares layers 1-16, 16-32 and 1-32 (Table 3, Figure 7).

How it hooks in, through transformers' supported extension points only (no model class is
patched):

- `AttentionInterface.register` adds an attention function that applies eq. 7 in the chosen
  layers and runs the model's own implementation (sdpa or eager) in the others, and
  `AttentionMaskInterface.register` gives that name the base implementation's mask function
  (without it transformers silently passes no mask at all);
- `model.set_attn_implementation({"text_config": name})` selects it for the language model only
  (the vision tower keeps its attention);
- a forward pre-hook (`with_kwargs=True`) on the text decoder adds the forward's plan (layers,
  lam, and the image-key flags that the engine publishes in `kv.FORWARD_IMAGE_KEYS`) to the
  keyword arguments transformers hands down to every attention call. The flags follow the
  engine's KV layout, so the cached round-1 image keys of a shared prefix, padding, and rows
  merged from several prefixes are all amplified exactly where an uncached forward would.

Query rows. `after-image` (the default) amplifies what the positions after the image read from
it: the question or the answer reading the picture, which is the attention Section 4.2 measures
and the one PAI (Liu et al. 2024, which eq. 7 follows) amplifies. The image tokens' attention to
earlier image tokens, the model's own encoding of the picture, is left as it is. `all` amplifies
every query row, image tokens included. Positions before the image never see image keys (causal
mask), so the two differ only on the image rows. PAI itself changes only the row being decoded;
under a shared-prefix cache that row is not a property of the token sequence (a prefix's last
row is not a request's last row), so the engine offers the two variants that are.

Attention in the chosen layers is computed the eager way (matmul, softmax in float32), so
lam = 0 reproduces eager attention exactly and sdpa to float rounding.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import torch
from transformers import AttentionInterface
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

from mmsy_dataset.adapters.base import ModelAdapter, VLMAdapter
from mmsy_dataset.api.conversation import Message
from mmsy_dataset.api.requests import ScoreRequest
from mmsy_dataset.engine.config import AmplifySettings
from mmsy_dataset.engine.kv import FORWARD_IMAGE_KEYS

#: Prefix of the registered attention names (`mmsy_amplify_sdpa`, `mmsy_amplify_eager`).
NAME_PREFIX = "mmsy_amplify_"
#: The keyword argument that carries a forward's `Plan` down to the attention calls.
PLAN_KWARG = "mmsy_amplify"
#: Base implementations whose masks the chosen layers can read; others run sdpa.
BASES = ("sdpa", "eager")


@dataclass(frozen=True)
class Plan:
    """What one forward amplifies."""

    layers: frozenset[int]
    """0-based indices of the chosen text layers (`module.layer_idx`)."""
    lam: float
    after_image: bool
    image: torch.Tensor
    """(rows, key slots) bool: True where the key is an image token."""


def targets(image: torch.Tensor, q_len: int, after_image: bool) -> torch.Tensor:
    """(rows, 1, q_len, keys) bool: which logits eq. 7 changes. The queries are the last `q_len`
    key slots (a cache appends them); with `after_image` only slots after a row's last image key
    query it."""
    rows, kv_len = image.shape
    keys = image[:, None, None, :]
    if not after_image:
        return keys.expand(rows, 1, q_len, kv_len)
    slots = torch.arange(kv_len, device=image.device)
    last_image = torch.where(image, slots, -1).amax(-1)
    after = slots[kv_len - q_len :][None, :] > last_image[:, None]
    return keys & after[:, None, :, None]


def amplified_logits(scores: torch.Tensor, plan: Plan) -> torch.Tensor:
    """Eq. 7 on raw logits `scores` (rows, heads, queries, keys)."""
    where = targets(plan.image, scores.shape[2], plan.after_image)
    return torch.where(where, scores + plan.lam * scores.abs(), scores)


def _additive_mask(mask: torch.Tensor | None, q_len: int, kv_len: int, dtype: torch.dtype, device: Any) -> Any:
    """The base implementation's mask as an additive float mask. sdpa's masks are boolean (True:
    attend) or None when transformers lets sdpa apply plain causality itself."""
    if mask is None:
        if q_len == 1:
            return None
        query = torch.arange(kv_len - q_len, kv_len, device=device)[:, None]
        mask = (torch.arange(kv_len, device=device)[None, :] <= query)[None, None]
    if mask.dtype == torch.bool:
        zero = torch.zeros((), dtype=dtype, device=device)
        return torch.where(mask, zero, torch.finfo(dtype).min)
    return mask


def eager_attention(
    module: Any,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float,
    dropout: float = 0.0,
    plan: Plan | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Eager attention (as Llama's `eager_attention_forward`), with eq. 7 when `plan` is given."""
    groups = query.shape[1] // key.shape[1]
    if groups > 1:
        key = key.repeat_interleave(groups, dim=1)
        value = value.repeat_interleave(groups, dim=1)
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling
    if plan is not None:
        scores = amplified_logits(scores, plan)
    mask = _additive_mask(attention_mask, query.shape[2], key.shape[2], scores.dtype, scores.device)
    if mask is not None:
        scores = scores + mask
    weights = torch.nn.functional.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
    weights = torch.nn.functional.dropout(weights, p=dropout, training=module.training)
    return torch.matmul(weights, value).transpose(1, 2).contiguous(), weights


def _attention_function(base: str) -> Any:
    def attention(
        module: Any,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        attention_mask: torch.Tensor | None,
        scaling: float | None = None,
        dropout: float = 0.0,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        plan = kwargs.pop(PLAN_KWARG, None)
        if not isinstance(plan, Plan):
            raise RuntimeError(
                f"{NAME_PREFIX}{base}: an attention call without an amplification plan; this attention "
                "implementation is only set by `mmsy_dataset.engine.amplify.Amplifier`"
            )
        scaling = scaling if scaling is not None else query.shape[-1] ** -0.5
        if module.layer_idx not in plan.layers:
            if base == "eager":
                return eager_attention(module, query, key, value, attention_mask, scaling, dropout)
            return ALL_ATTENTION_FUNCTIONS[base](
                module, query, key, value, attention_mask, scaling=scaling, dropout=dropout, **kwargs
            )
        if plan.image.shape != (query.shape[0], key.shape[2]):
            raise RuntimeError(
                f"amplification: image-key flags of shape {tuple(plan.image.shape)} for a forward with "
                f"{query.shape[0]} rows and {key.shape[2]} keys"
            )
        return eager_attention(module, query, key, value, attention_mask, scaling, dropout, plan)

    return attention


def register(base: str) -> str:
    """Register the amplifying attention over `base` (and its mask function); returns its name."""
    name = f"{NAME_PREFIX}{base}"
    AttentionInterface.register(name, _attention_function(base))
    AttentionMaskInterface.register(name, ALL_MASK_ATTENTION_FUNCTIONS[base])
    return name


def _probe_png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (128, 64, 32)).save(buffer, format="PNG")
    return buffer.getvalue()


def check_adapter(adapter: ModelAdapter) -> None:
    """Refuse an adapter whose attention cannot be amplified: no local weights, or a family
    that does not say which tokens are the image's (`EncodedPrompt.image_positions`)."""
    if not isinstance(adapter, VLMAdapter):
        raise ValueError(
            f"--amplify: the {adapter.name!r} adapter scores through an API; attention amplification "
            "changes the attention of local weights (pass --model with a local or Hub checkpoint)"
        )
    probe = ScoreRequest("amplify-probe", _probe_png(), (Message("user", "?", image=True),), ("A", "B"), ("a", "b"))
    if not adapter.encode_request(probe).image_positions:
        raise ValueError(
            f"--amplify: the {adapter.name!r} adapter does not report where the image tokens are "
            "(EncodedPrompt.image_positions); attention amplification needs them"
        )


def text_decoder(model: Any) -> Any:
    """The language model's decoder: the module that owns the text layers."""
    text = model.config.get_text_config()
    for module in model.modules():
        if getattr(module, "config", None) is text and isinstance(getattr(module, "layers", None), torch.nn.ModuleList):
            return module
    raise ValueError(f"{type(model).__name__}: no text decoder with `layers` found; cannot amplify its attention")


def text_depth(model: Any) -> int:
    return int(model.config.get_text_config().num_hidden_layers)


class Amplifier:
    """Eq. 7 installed on one local adapter's language model; `remove()` restores the model."""

    def __init__(self, adapter: ModelAdapter, settings: AmplifySettings) -> None:
        check_adapter(adapter)
        assert isinstance(adapter, VLMAdapter)
        model = adapter.model
        self.depth = text_depth(model)
        settings.check_depth(self.depth)
        text = model.config.get_text_config()
        original = str(text._attn_implementation)
        if original.startswith(NAME_PREFIX):
            raise ValueError(f"{adapter.model_id}: attention amplification is already installed")
        self.model = model
        self.settings = settings
        self.original = original
        self.base = original if original in BASES else "sdpa"
        self.layers = frozenset(range(settings.first - 1, settings.last))
        decoder = text_decoder(model)
        name = register(self.base)
        model.set_attn_implementation({"text_config": name})
        if text._attn_implementation != name:
            model.set_attn_implementation({"text_config": original})
            raise ValueError(f"{type(model).__name__}: the language model does not accept a registered attention")
        self._hook = decoder.register_forward_pre_hook(self._inject, with_kwargs=True)

    def _inject(self, module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        image = FORWARD_IMAGE_KEYS.get()
        if image is None:
            raise RuntimeError(
                "amplification: this forward does not say which keys are image tokens; run the model "
                "through the engine (mmsy_dataset.engine.kv publishes them in FORWARD_IMAGE_KEYS)"
            )
        after = self.settings.queries == "after-image"
        kwargs[PLAN_KWARG] = Plan(self.layers, self.settings.lam, after, image)
        return args, kwargs

    def remove(self) -> None:
        """Take the hook off and give the language model its original attention back."""
        self._hook.remove()
        self.model.set_attn_implementation({"text_config": self.original})

    def describe(self) -> dict[str, Any]:
        """Facts for run.json."""
        return {
            **self.settings.model_dump(mode="json"),
            "spec": self.settings.spec,
            "text_layers": self.depth,
            "base_attention": self.base,
        }

    def __enter__(self) -> Amplifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def preflight(
    settings: AmplifySettings, model: ModelAdapter | str, api: object | None, trust_remote_code: bool
) -> None:
    """The checks that need only the model's config, run before anything is written: a model
    behind an API, or a layer range beyond the model's text layers. `model` is a loaded adapter
    or the `--model` source."""
    if isinstance(model, ModelAdapter):
        check_adapter(model)
        assert isinstance(model, VLMAdapter)
        settings.check_depth(text_depth(model.model))
        return
    if api is not None:
        raise ValueError(
            "--amplify: a model behind an HTTP API has no attention to change; amplification needs local weights"
        )
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model, trust_remote_code=trust_remote_code)
    settings.check_depth(int(config.get_text_config().num_hidden_layers))
