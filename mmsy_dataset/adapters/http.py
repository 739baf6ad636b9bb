"""OpenAI-compatible chat-completions adapter: closed models, or open ones behind vLLM / TGI.

`mmsy eval --api-base URL --api-model NAME` sends every request's whole conversation (image
as a data URL in the first user turn) to `<base>/chat/completions`, `--max-concurrency` at a
time. Modes:
- `text` — greedy reply (`temperature` 0, `max_tokens` = `--max-new-tokens`), option read by
  `engine.extract` as for local models: the paper's way for API models.
- `letter` — one token with `logprobs: true, top_logprobs: k`; a label's score is the total
  probability of the returned tokens that spell it (`A`, ` A`, `(A`, `A)`), a label the server
  did not return scores -inf. A server that returns no logprobs (or rejects the parameter) is
  detected once, before the run, and the run falls back to `text` with the reason logged and
  recorded in run.json.
- `option` — each option's text is scored as the assistant's answer from the server's prompt
  log-probabilities (vLLM's `prompt_logprobs` on chat completions): one request with the
  generation prompt alone gives the context's token ids, one request per option continues an
  assistant message holding the option (`continue_final_message`), and the option's score is
  the sum of the log-probabilities of the tokens after the context, exactly as the local engine
  sums them (and normalised by the option's UTF-8 length for `--option-choice norm`). A server
  without prompt log-probabilities is refused before the run, never guessed.
No KV cache can be shared across requests from here; the requests of one question are sent
together, so that a server with a prefix cache (vLLM's automatic prefix caching) computes the
shared image and round-1 prefix once; run.json says so in `stats.kv_sharing`, and records the
model and version the server reports. The API key is read from the environment when the
run starts, sent only in the Authorization header, and never written or raised (see
`http_client`).
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, ClassVar

from mmsy_dataset.adapters.base import ModelAdapter
from mmsy_dataset.adapters.http_client import ApiError, JsonClient
from mmsy_dataset.adapters.registry import register_adapter
from mmsy_dataset.api.conversation import Conversation, Message
from mmsy_dataset.api.prompts import LoadOptions
from mmsy_dataset.api.requests import ScoreRequest, ScoreResult
from mmsy_dataset.api.scorer import Scorer, TokenStats
from mmsy_dataset.errors import MmsyError

if TYPE_CHECKING:
    from mmsy_dataset.api.settings import ApiSettings

_LABEL = re.compile(r"^\(?([A-Z])[).:]?$")
IMAGE_PLACEHOLDER = "<image>"


def _mime(image: bytes) -> str:
    if image.startswith(b"\x89PNG"):
        return "image/png"
    if image.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if image[:4] == b"RIFF" and image[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


def chat_messages(conversation: Conversation, image: bytes | None) -> list[dict[str, Any]]:
    """OpenAI chat messages; the turn flagged `image` carries the image before its text. With
    `image=None` the image part is a placeholder (what transcripts store)."""
    out: list[dict[str, Any]] = []
    for message in conversation:
        if not message.image:
            out.append({"role": message.role, "content": message.text})
            continue
        url = IMAGE_PLACEHOLDER
        if image is not None:
            url = f"data:{_mime(image)};base64,{base64.b64encode(image).decode('ascii')}"
        parts = [{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": message.text}]
        out.append({"role": message.role, "content": parts})
    return out


def label_scores(top: Sequence[dict[str, Any]], letters: Sequence[str]) -> list[float]:
    """Log-probability of each label from one position's top alternatives (-inf if absent)."""
    found: dict[str, list[float]] = {}
    for item in top:
        match = _LABEL.match(str(item.get("token", "")).strip())
        if match and match.group(1) in letters and item.get("logprob") is not None:
            found.setdefault(match.group(1), []).append(float(item["logprob"]))
    out = []
    for letter in letters:
        values = found.get(letter)
        if not values:
            out.append(-math.inf)
            continue
        peak = max(values)
        out.append(peak + math.log(sum(math.exp(v - peak) for v in values)))
    return out


def _top_logprobs(reply: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The first generated position's alternatives (with the chosen token), or None."""
    try:
        content = reply["choices"][0]["logprobs"]["content"]
        first = content[0]
    except (KeyError, IndexError, TypeError):
        return None
    top = list(first.get("top_logprobs") or [])
    if "token" in first and "logprob" in first and all(t.get("token") != first["token"] for t in top):
        top.append({"token": first["token"], "logprob": first["logprob"]})
    return top or None


def _prompt_logprobs(reply: dict[str, Any]) -> tuple[list[int], list[Any]] | None:
    """(prompt token ids, per-token log-probability entries) of a reply, or None if absent."""
    ids, entries = reply.get("prompt_token_ids"), reply.get("prompt_logprobs")
    if not isinstance(ids, list) or not isinstance(entries, list) or len(ids) != len(entries):
        return None
    return ids, entries


def continuation_score(context_ids: Sequence[int], reply: dict[str, Any], what: str) -> float:
    """Summed log-probability of the tokens a continued prompt has after `context_ids`."""
    found = _prompt_logprobs(reply)
    if found is None:
        raise ApiError(f"{what}: the server stopped returning prompt_logprobs and prompt_token_ids; "
                       "nothing of this chunk was written, rerun with --mode letter or text")
    ids, entries = found
    n = len(context_ids)
    if len(ids) <= n or list(ids[:n]) != list(context_ids):
        raise ApiError(
            f"{what}: the option's tokens do not extend the generation prompt's ({len(ids)} vs {n} tokens); the "
            "server's chat template merges the answer into the prompt, so the option cannot be scored on its own"
        )
    total = 0.0
    for position in range(n, len(ids)):
        entry = entries[position]
        item = entry.get(str(ids[position])) if isinstance(entry, dict) else None
        if not isinstance(item, dict) or not isinstance(item.get("logprob"), int | float):
            raise ApiError(f"{what}: prompt_logprobs has no log-probability for token {ids[position]} "
                           f"at position {position}")
        total += float(item["logprob"])
    return total


@register_adapter("openai")
class OpenAIAdapter(ModelAdapter):
    name = "openai"
    model_types = ()
    kv_sharing: ClassVar[str] = (
        "none: an HTTP server receives each round's whole conversation; any prefix caching is the server's own"
    )

    def __init__(self, settings: ApiSettings, key: str | None, backoff: float = 0.5) -> None:
        self.settings = settings
        self.model_id = settings.model
        self.device = "remote"
        self.client = JsonClient(settings.base, key, settings.timeout, settings.retries, backoff)
        self._server_info: dict[str, Any] | None = None

    @classmethod
    def from_settings(cls, settings: ApiSettings, backoff: float = 0.5) -> OpenAIAdapter:
        """Read the key from `settings.key_env` now (unset: no Authorization header, as local
        vLLM servers expect)."""
        return cls(settings, os.environ.get(settings.key_env), backoff)

    @classmethod
    def load(cls, source: str, options: LoadOptions) -> OpenAIAdapter:
        raise MmsyError(
            f"adapter 'openai' serves models behind an HTTP API: pass --api-base URL and --api-model NAME "
            f"(got --model {source!r} only)"
        )

    def render(self, conversation: Conversation, add_generation_prompt: bool = True) -> str:
        return json.dumps(chat_messages(conversation, None), ensure_ascii=False)

    def make_scorer(self, batch_size: int, max_new_tokens: int) -> Scorer:
        return HttpScorer(self, max_new_tokens)

    def payload(self, request: ScoreRequest, mode: str, max_new_tokens: int) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.settings.model,
            "messages": chat_messages(request.conversation, request.image),
            "temperature": 0,
        }
        if mode == "letter":
            return {**body, "max_tokens": 1, "logprobs": True, "top_logprobs": self.settings.top_logprobs}
        return {**body, "max_tokens": max_new_tokens}

    def option_payloads(self, request: ScoreRequest) -> list[dict[str, Any]]:
        """Option mode: the context (generation prompt, token ids returned) and then one
        continuation of an assistant message per option (prompt log-probabilities returned).
        Both chat-template switches are set explicitly: a server default must not decide where
        the answer starts."""
        messages = chat_messages(request.conversation, request.image)
        common = {"model": self.settings.model, "temperature": 0, "max_tokens": 1, "return_token_ids": True}
        context = {**common, "messages": messages, "add_generation_prompt": True, "continue_final_message": False}
        return [context] + [
            {
                **common,
                "messages": [*messages, {"role": "assistant", "content": option}],
                "add_generation_prompt": False,
                "continue_final_message": True,
                "prompt_logprobs": 1,
            }
            for option in request.options
        ]

    def resolve_mode(self, mode: str) -> tuple[str, str | None]:
        if mode == "option":
            self._check_prompt_logprobs()
            return mode, None
        if mode != "letter":
            return mode, None
        probe = ScoreRequest("probe", b"", (), ("A", "B"), ("yes", "no"))
        body = {**self.payload(probe, "letter", 1), "messages": [{"role": "user", "content": "Reply A or B."}]}
        try:
            reply = self.client.post("chat/completions", body, what="logprobs probe")
        except ApiError as err:
            if err.status is not None and 400 <= err.status < 500 and err.status != 429:
                return "text", f"the server refused logprobs ({err})"
            raise
        if _top_logprobs(reply) is None:
            return "text", "the server returned no top_logprobs for the first token"
        return mode, None

    def _check_prompt_logprobs(self) -> None:
        """Refuse option mode, before the run, on a server that cannot score a given answer."""
        probe = ScoreRequest("probe", b"", (Message("user", "Reply A or B."),), ("A", "B"), ("A", "B"))
        body = self.option_payloads(probe)[1]
        why = None
        try:
            reply = self.client.post("chat/completions", body, what="prompt-logprobs probe")
        except ApiError as err:
            if err.status is None or not 400 <= err.status < 500 or err.status == 429:
                raise
            why = f"it refused the request ({err})"
        else:
            if _prompt_logprobs(reply) is None:
                why = "its reply has no prompt_logprobs and prompt_token_ids"
        if why is not None:
            raise MmsyError(
                f"--mode option over HTTP needs prompt log-probabilities (vLLM's `prompt_logprobs` with "
                f"`return_token_ids` and `continue_final_message` on chat completions), and {self.settings.base} "
                f"offers none: {why}; use --mode letter or --mode text with this server"
            )

    def weights_info(self, source: str) -> dict[str, Any]:
        return {"files": {}, "combined": None, "remote": {"base": self.settings.base, "model": self.settings.model}}

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "api_base": self.settings.base,
            "api_model": self.settings.model,
            "api_key_env": self.settings.key_env,
            "server": self.server_info(),
        }

    def server_info(self) -> dict[str, Any]:
        """What the server says it serves (`GET /models`) and its version (`GET /version`, which
        vLLM exposes beside `/v1`); None where the server does not say."""
        if self._server_info is None:
            models = self.client.get("models")
            entry = next(
                (m for m in (models or {}).get("data") or [] if isinstance(m, dict) and m.get("id") == self.model_id),
                None,
            )
            version = self.client.get(f"{self.client.root}version")
            self._server_info = {
                "model": entry.get("id") if entry else None,
                "root": entry.get("root") if entry else None,
                "max_model_len": entry.get("max_model_len") if entry else None,
                "owned_by": entry.get("owned_by") if entry else None,
                "version": (version or {}).get("version"),
            }
        return dict(self._server_info)

    def run_stats(self) -> dict[str, Any]:
        return {"http": dict(self.client.counts)}


class HttpScorer:
    """Sends a chunk's requests concurrently; keeps no state between requests."""

    def __init__(self, adapter: OpenAIAdapter, max_new_tokens: int) -> None:
        self.adapter = adapter
        self.max_new_tokens = max_new_tokens
        self.stats = TokenStats()
        self.fallbacks = 0

    def _one(self, request: ScoreRequest, mode: str) -> ScoreResult:
        rounds = sum(m.role == "user" for m in request.conversation)
        what = f"question {request.group} round {rounds}"
        payload = self.adapter.payload(request, mode, self.max_new_tokens)
        reply = self.adapter.client.post("chat/completions", payload, what=what)
        usage = reply.get("usage") or {}
        result = ScoreResult(
            prompt=self.adapter.render(request.conversation), n_prompt_tokens=int(usage.get("prompt_tokens") or 0)
        )
        if mode == "letter":
            top = _top_logprobs(reply)
            if top is None:
                raise ApiError(f"{what}: the server stopped returning top_logprobs; rerun with --mode text")
            result.scores = label_scores(top, request.letters)
            return result
        try:
            content = reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            message = f"{what}: reply without choices[0].message: {reply!r:.300}"
            raise ApiError(self.adapter.client.scrub(message)) from None
        result.text = str(content or "").strip()
        return result

    def _option(self, request: ScoreRequest, replies: Sequence[dict[str, Any]]) -> ScoreResult:
        """Option scores from the context reply and one reply per option."""
        what = f"question {request.group} round {sum(m.role == 'user' for m in request.conversation)}"
        context_ids = replies[0].get("prompt_token_ids")
        if not isinstance(context_ids, list) or not context_ids:
            raise ApiError(f"{what}: the server stopped returning prompt_token_ids; nothing of this chunk was "
                           "written, rerun with --mode letter or text")
        scores = [
            continuation_score(context_ids, reply, f"{what} option {letter}")
            for letter, reply in zip(request.letters, replies[1:], strict=True)
        ]
        return ScoreResult(
            scores=scores,
            scores_norm=[v / max(1, len(o.encode("utf-8"))) for v, o in zip(scores, request.options, strict=True)],
            prompt=self.adapter.render(request.conversation),
            n_prompt_tokens=len(context_ids),
        )

    def run(self, requests: Sequence[ScoreRequest], mode: str) -> list[ScoreResult]:
        if mode not in ("letter", "option", "text"):
            raise ValueError(f"mode: the HTTP adapter scores 'letter', 'option' or 'text', not {mode!r}")
        workers = max(1, min(self.adapter.settings.max_concurrency, len(requests)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mmsy-http") as pool:
            if mode != "option":
                results = list(pool.map(lambda r: self._one(r, mode), requests))
            else:
                # A question's requests go out one after another, so they are in flight together
                # and a prefix-caching server computes their shared image and round 1 once.
                jobs = [(i, body) for i, r in enumerate(requests) for body in self.adapter.option_payloads(r)]
                what = [f"question {requests[i].group} option request" for i, _ in jobs]
                replies = list(pool.map(lambda k: self.adapter.client.post("chat/completions", jobs[k][1],
                                                                           what=what[k]), range(len(jobs))))
                grouped: list[list[dict[str, Any]]] = [[] for _ in requests]
                for (i, _), reply in zip(jobs, replies, strict=True):
                    grouped[i].append(reply)
                results = [self._option(r, g) for r, g in zip(requests, grouped, strict=True)]
        for result in results:
            self.stats.forwards += 1
            self.stats.real += result.n_prompt_tokens
            self.stats.padded += result.n_prompt_tokens
        return results
