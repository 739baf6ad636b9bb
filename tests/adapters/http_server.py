"""A real OpenAI-compatible server on 127.0.0.1 for HTTP adapter tests: `/v1/chat/completions`
answered by the tiny LLaVA through its adapter (so replies and logprobs can be compared with
the local engine), with scripted failures (429, 5xx, no reply) and bookkeeping of what it saw. Nothing depends on
how fast either side is: a request that must time out gets no reply at all, and a concurrency
test holds requests until the expected number is in flight."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import torch

from mmsy_dataset.api.conversation import Message
from mmsy_dataset.engine.kv import greedy, prefill


@dataclass
class Behaviour:
    script: list[tuple[str, float]] = field(default_factory=list)
    """Per request, in order: ("status", 429), ("hang", 0) (never answer), ...; then normal answers."""
    always: tuple[str, float] | None = None
    """Applied to every request after the script (e.g. ("status", 500), ("hang", 0))."""
    logprobs: bool = True
    """Whether the server honours `logprobs` (False: like a server without the feature)."""
    prompt_logprobs: bool = True
    """Whether it honours vLLM's `prompt_logprobs` / `return_token_ids` (option mode)."""
    prompt_logprobs_until: int | None = None
    """Stop returning prompt log-probabilities after this many requests (a server changing mid-run)."""
    version: str | None = "0.0-test"
    """What `GET /version` answers (None: 404, like servers that do not say)."""
    together: int = 0
    """Hold each request until this many are in flight at once (concurrency tests; at most
    `HOLD_S` seconds, so that a client that never sends that many fails the test, not hangs)."""
    total: int = 0
    """With `together`: how many requests the test sends; the last one is never held (its
    partners may all have been answered already)."""
    seen_auth: list[str] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    changed: threading.Condition = field(init=False)
    closed: threading.Event = field(default_factory=threading.Event)
    """Set when the server stops: hanging requests end then."""

    def __post_init__(self) -> None:
        self.changed = threading.Condition(self.lock)


HOLD_S = 10.0


def _conversation(messages: list[dict[str, Any]]) -> tuple[tuple[Message, ...], bytes]:
    out, image = [], b""
    for m in messages:
        content = m["content"]
        if isinstance(content, str):
            out.append(Message(m["role"], content))
            continue
        text = "".join(p["text"] for p in content if p["type"] == "text")
        urls = [p["image_url"]["url"] for p in content if p["type"] == "image_url"]
        if urls:
            image = base64.b64decode(urls[0].split(",", 1)[1])
        out.append(Message(m["role"], text, image=bool(urls)))
    return tuple(out), image


def _prompt_logprobs(adapter: Any, ids: list[int], image: bytes) -> list[dict[str, dict[str, Any]] | None]:
    """vLLM's `prompt_logprobs: 1` shape: per prompt token (the first None) the actual token's
    log-probability and rank, and the rank-1 token."""
    tokens = torch.tensor([ids], device=adapter.device)
    mask = torch.ones_like(tokens)
    positions = torch.arange(len(ids), device=adapter.device)[None]
    with torch.no_grad():
        hidden = adapter.hidden_states(tokens, mask, positions, adapter.make_cache(None), adapter.image_inputs([image]))
        logprobs = torch.log_softmax(adapter.lm_logits(hidden)[0], dim=-1)
    out: list[dict[str, dict[str, Any]] | None] = [None]
    for position in range(1, len(ids)):
        row, token = logprobs[position - 1], ids[position]
        rank = int((row > row[token]).sum()) + 1
        best = int(row.argmax())
        entry = {str(token): {"logprob": float(row[token]), "rank": rank, "decoded_token": adapter.decode([token])}}
        entry.setdefault(str(best), {"logprob": float(row[best]), "rank": 1, "decoded_token": adapter.decode([best])})
        out.append(entry)
    return out


def answer(adapter: Any, body: dict[str, Any], logprobs: bool, prompt_logprobs: bool = True) -> dict[str, Any]:
    conv, image = _conversation(body["messages"])
    if not image:  # the adapter's logprobs probe is text-only: give it any image
        from tests.engine.helpers import png

        conv, image = (Message(conv[0].role, conv[0].text, image=True), *conv[1:]), png((0, 0, 0))
    if body.get("continue_final_message") and conv[-1].role == "assistant":
        # The tokens a chat template gives a continued answer: the generation prompt, then the text.
        answer_ids = adapter.continuation_ids(adapter.answer_prefix() + conv[-1].text)
        ids = adapter.encode(conv[:-1]).input_ids + answer_ids
    else:
        ids = adapter.encode(conv).input_ids
    state = prefill(adapter, [ids], adapter.image_inputs([image]))
    extra: dict[str, Any] = {}
    if prompt_logprobs and body.get("return_token_ids"):
        extra["prompt_token_ids"] = ids
    if prompt_logprobs and body.get("prompt_logprobs"):
        extra["prompt_logprobs"] = _prompt_logprobs(adapter, ids, image)
    usage = {"prompt_tokens": len(ids), "completion_tokens": 1}
    if body.get("logprobs") and logprobs:
        lp = torch.log_softmax(state.last_logits[0].float(), dim=-1)
        k = int(body.get("top_logprobs", 0)) or 1
        values, indices = lp.topk(min(k, lp.shape[0]))
        tokens = [adapter.tokenizer.convert_ids_to_tokens(int(i)).replace("▁", " ") for i in indices]
        top = [{"token": t, "logprob": float(v)} for t, v in zip(tokens, values, strict=True)]
        content = [{"token": top[0]["token"], "logprob": top[0]["logprob"], "top_logprobs": top}]
        return {"choices": [{"index": 0, "message": {"role": "assistant", "content": tokens[0]},
                             "logprobs": {"content": content}}], "usage": usage, **extra}
    reply = adapter.decode(greedy(adapter, state, int(body.get("max_tokens", 16)))[0])
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": reply}}], "usage": usage, **extra}


def _handler(adapter: Any, behaviour: Behaviour, model_lock: threading.Lock) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        answered = False

        def _leave(self) -> None:
            """The request stops counting as in flight once its answer starts: after that, the
            client may already be sending its next request while this thread still writes."""
            if not self.answered:
                self.answered = True
                with behaviour.lock:
                    behaviour.in_flight -= 1
                    behaviour.changed.notify_all()

        def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            self._leave()
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self.answered = True  # never counted in flight
            if self.path == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": "tiny", "object": "model", "root": "tiny-root",
                                                             "max_model_len": 1024, "owned_by": "mmsy-tests"}]})
            elif self.path == "/version" and behaviour.version is not None:
                self._send(200, {"version": behaviour.version})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:
            self.answered = False
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            auth = self.headers.get("Authorization", "")
            with behaviour.lock:
                behaviour.seen_auth.append(auth)
                behaviour.requests += 1
                action = behaviour.script.pop(0) if behaviour.script else behaviour.always
                behaviour.in_flight += 1
                behaviour.max_in_flight = max(behaviour.max_in_flight, behaviour.in_flight)
                behaviour.changed.notify_all()
                if behaviour.together:
                    behaviour.changed.wait_for(
                        lambda: behaviour.in_flight >= behaviour.together or behaviour.requests >= behaviour.total,
                        HOLD_S,
                    )
            try:
                if self.path != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                if action and action[0] == "status":
                    # A careless server echoing the request's credentials in its error body.
                    self._send(int(action[1]), {"error": {"message": f"overloaded (you sent {auth!r})"}},
                               {"Retry-After": "0"} if action[1] == 429 else None)
                    return
                if action and action[0] == "hang":
                    behaviour.closed.wait()
                    return
                with behaviour.lock:
                    until = behaviour.prompt_logprobs_until
                    prompt_logprobs = behaviour.prompt_logprobs and (until is None or behaviour.requests <= until)
                with model_lock:
                    reply = answer(adapter, body, behaviour.logprobs, prompt_logprobs)
                self._send(200, reply)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up
                pass
            finally:
                self._leave()

    return Handler


@contextmanager
def serve(adapter: Any, behaviour: Behaviour | None = None, port: int = 0) -> Iterator[tuple[str, Behaviour]]:
    """(base URL with /v1, behaviour) of a server running in a thread until the block ends
    (on `port`, e.g. to resume a run against "the same server"; 0: any free port)."""
    behaviour = behaviour or Behaviour()
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(adapter, behaviour, threading.Lock()))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", behaviour
    finally:
        behaviour.closed.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
