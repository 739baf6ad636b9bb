"""Per-layer hidden states and attention rows at the answer position, through any local adapter.

The adapters expose one forward primitive (`VLMAdapter.hidden_states`, the last layer only) and
the engine's `BatchedScorer` keeps a prefix tree of KV states across requests.
Rather than a second forward path per family, forward hooks on the language model's decoder
layers record what the scorer's own forwards compute: each layer's output (the residual
stream, before the final norm) and, with eager attention, the attention weights averaged over
heads. `CapturingScorer` reads them for every request right after the forward that computed
the request's last token, at that token (the round-2 answer position).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from mmsy_dataset.adapters.base import ModelAdapter, VLMAdapter
from mmsy_dataset.api.requests import ScoreRequest, ScoreResult
from mmsy_dataset.engine.batched import BatchedScorer
from mmsy_dataset.engine.kv import KVState
from mmsy_dataset.errors import MmsyError

#: Paths of the language model's decoder-layer list in transformers' VLMs (LLaVA, Qwen2-VL,
#: InternVL: `model.language_model.layers`; Idefics3: `model.text_model.layers`; BLIP-2 with
#: OPT: `language_model.model.decoder.layers`).
_LAYERS = re.compile(r"(^|\.)(language_model|text_model)(\..*)?\.layers$")


class AnalysisError(MmsyError):
    """An analysis that cannot run on this model or data; the message says which and why."""


def decoder_layers(adapter: ModelAdapter) -> list[Any]:
    """The language model's decoder layers, in order; an error for models without them."""
    if not isinstance(adapter, VLMAdapter):
        raise AnalysisError(
            f"model {adapter.model_id!r} (adapter {adapter.name!r}) exposes no hidden states or attentions: "
            "layer-wise analysis needs local weights loaded through a transformers adapter"
        )
    found = [
        module
        for name, module in adapter.model.named_modules()
        if isinstance(module, torch.nn.ModuleList) and _LAYERS.search(name)
    ]
    if len(found) != 1:
        raise AnalysisError(
            f"model {adapter.model_id!r} (adapter {adapter.name!r}): found {len(found)} decoder-layer lists "
            "under language_model / text_model, expected one"
        )
    return list(found[0])


@dataclass
class Row:
    """What was captured for one request at its answer position."""

    hidden: torch.Tensor | None = None
    """(layers, hidden) decoder-layer outputs at the last token."""
    image_ratio: torch.Tensor | None = None
    """(layers,) mean attention to an image token / mean attention to a text token (eq. 6)."""
    image_mass: torch.Tensor | None = None
    """(layers,) total attention on the image tokens (appendix C.1)."""


@dataclass
class Capture:
    """Forward hooks on the decoder layers, recording the latest forward while `active`."""

    layers: list[Any]
    hidden: bool
    attention: bool
    active: bool = False
    outputs: list[torch.Tensor | None] = field(default_factory=list)
    weights: list[torch.Tensor | None] = field(default_factory=list)
    _handles: list[Any] = field(default_factory=list)

    def __enter__(self) -> Capture:
        n = len(self.layers)
        self.outputs, self.weights = [None] * n, [None] * n
        for index, layer in enumerate(self.layers):
            if self.hidden:
                self._handles.append(layer.register_forward_hook(self._output_hook(index)))
            if self.attention:
                attn = getattr(layer, "self_attn", None)
                if attn is None:
                    raise AnalysisError(f"decoder layer {index} ({type(layer).__name__}) has no self_attn module")
                self._handles.append(attn.register_forward_hook(self._weights_hook(index)))
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _output_hook(self, index: int) -> Any:
        def hook(module: Any, args: Any, output: Any) -> None:
            if self.active:
                self.outputs[index] = (output[0] if isinstance(output, tuple) else output).detach()

        return hook

    def _weights_hook(self, index: int) -> Any:
        def hook(module: Any, args: Any, output: Any) -> None:
            if not self.active:
                return
            weights = output[1] if isinstance(output, tuple) and len(output) > 1 else None
            if weights is None:
                raise AnalysisError(
                    f"decoder layer {index}: the attention returned no weights; load the model with eager "
                    "attention (mmsy analyze attention does)"
                )
            self.weights[index] = weights.detach().float().mean(dim=1)  # (rows, queries, keys)

        return hook


def use_eager_attention(adapter: VLMAdapter) -> None:
    """Switch the model to eager attention, the implementation that returns its weights."""
    try:
        adapter.model.set_attn_implementation("eager")
    except (AttributeError, ValueError) as error:
        raise AnalysisError(f"model {adapter.model_id!r}: cannot switch to eager attention ({error})") from None


class CapturingScorer(BatchedScorer):
    """The engine's scorer, also recording per request what `capture` saw at its answer position.

    `BatchedScorer` hands the mode's scorer the rows of the requests that end in the forward it
    has just run: at that moment the hooks hold exactly that forward, so the rows are read there,
    before option scoring runs further forwards."""

    def __init__(self, adapter: VLMAdapter, batch_size: int, capture: Capture) -> None:
        super().__init__(adapter, batch_size=batch_size, max_new_tokens=1)
        self.capture = capture
        self.rows: dict[int, Row] = {}
        """Keyed by `id()` of the `ScoreResult` the request got."""
        self._image_positions: dict[int, list[int]] = {}

    def run_captured(self, requests: Sequence[ScoreRequest], mode: str) -> tuple[list[ScoreResult], list[Row]]:
        """Score `requests` while capturing; one `Row` per request, in order."""
        self._image_positions = {id(r): self.adapter.encode_request(r).image_positions for r in requests}
        self.capture.active = True
        try:
            results = self.run(requests, mode)
        finally:
            self.capture.active = False
        return results, [self.rows.pop(id(result)) for result in results]

    def _letters(self, requests: list[ScoreRequest], state: KVState, rows: list[int], out: list[ScoreResult]) -> None:
        self._read(requests, state, rows, out)
        super()._letters(requests, state, rows, out)

    def _options(self, requests: list[ScoreRequest], state: KVState, rows: list[int], out: list[ScoreResult]) -> None:
        self._read(requests, state, rows, out)
        was, self.capture.active = self.capture.active, False
        try:
            super()._options(requests, state, rows, out)
        finally:
            self.capture.active = was

    def _read(self, requests: list[ScoreRequest], state: KVState, rows: list[int], out: list[ScoreResult]) -> None:
        if not self.capture.active:
            return
        cap = self.capture
        first = next((t for t in (*cap.outputs, *cap.weights) if t is not None), None)
        if first is None:  # nothing asked for: the label alone
            self.rows.update({id(result): Row() for result in out})
            return
        width = int(first.shape[1])
        index = torch.tensor(rows, device=first.device)
        added = state.mask[:, -width:].sum(-1).to(first.device)
        last = (added[index] - 1).clamp(min=0)
        hidden = torch.stack([o[index, last].float().cpu() for o in cap.outputs], 1) if cap.hidden else None  # type: ignore[index]
        ratio = mass = None
        if cap.attention:
            attn = torch.stack([w[index, last].cpu() for w in cap.weights], 1)  # type: ignore[index]
            ratio, mass = self._image_shares(requests, state, rows, attn, width)
        for i, result in enumerate(out):
            self.rows[id(result)] = Row(
                hidden=None if hidden is None else hidden[i],
                image_ratio=None if ratio is None else ratio[i],
                image_mass=None if mass is None else mass[i],
            )

    def _image_shares(
        self, requests: list[ScoreRequest], state: KVState, rows: list[int], attn: torch.Tensor, width: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per request and layer: eq. 6's ratio and the image's total attention.

        Key slots: the path's real tokens first (a prefill pads on the right, a path from the
        prefix tree is laid out compactly), then the padding, then the forward's new tokens;
        every image token lies in the path (a tree's root holds the image, `engine.tree`), so its
        slot is its token index."""
        mask = state.mask.cpu().bool()
        if attn.shape[-1] != mask.shape[1]:
            raise AnalysisError(f"attention covers {attn.shape[-1]} keys, the cache {mask.shape[1]}")
        prefix_width = mask.shape[1] - width
        ratios, masses = [], []
        for i, request in enumerate(requests):
            positions = self._image_positions[id(request)]
            if not positions:
                raise AnalysisError(f"request {request.group!r}: the adapter reports no image positions")
            prefix_len = int(mask[rows[i], :prefix_width].sum())
            slots = torch.tensor([p if p < prefix_len else prefix_width + p - prefix_len for p in positions])
            image = torch.zeros(mask.shape[1], dtype=torch.bool)
            image[slots] = True
            text = mask[rows[i]] & ~image
            a = attn[i]  # (layers, keys)
            image_sum = a[:, image].sum(-1)
            masses.append(image_sum)
            ratios.append((image_sum / int(image.sum())) / (a[:, text].sum(-1) / int(text.sum())))
        return torch.stack(ratios), torch.stack(masses)
