"""A small JSON-over-HTTP client for OpenAI-compatible servers: timeouts, bounded retries with
backoff, and an API key that never leaves the Authorization header.

Standard library only (`urllib`): the adapter must work wherever the package installs, and an
evaluation sends a few thousand small requests, not a stream. Retried: 408, 409, 429, every
5xx, timeouts and dropped connections (what rate limits and overloaded servers produce);
anything else is the caller's mistake and fails at once. A `Retry-After` header is honoured
(capped). Every error message is built by this module and scrubbed of the key, and chained
exceptions are dropped, so a traceback cannot carry the key either.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from typing import Any

from mmsy_dataset.errors import MmsyError

RETRY_STATUS = frozenset({408, 409, 429})
MAX_RETRY_AFTER = 60.0
BODY_EXCERPT = 300


class ApiError(MmsyError):
    """A request that failed for good (after its retries, or at once for a client error)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class JsonClient:
    """POSTs JSON to `<base>/<path>`; thread-safe (one instance serves all worker threads)."""

    def __init__(
        self,
        base: str,
        key: str | None,
        timeout: float = 60.0,
        retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
    ) -> None:
        self.base = base.rstrip("/")
        parts = urllib.parse.urlsplit(self.base)
        self.root = f"{parts.scheme}://{parts.netloc}/"
        """Scheme and host of the server: the only place the key is ever sent."""
        self._key = key or None
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def scrub(self, text: str) -> str:
        """`text` with the key (if any) replaced: for messages that quote a server's reply."""
        return text.replace(self._key, "***") if self._key else text

    def _count(self, name: str) -> None:
        with self._lock:
            self.counts[name] += 1

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after is not None:
            try:
                return min(MAX_RETRY_AFTER, max(0.0, float(retry_after)))
            except ValueError:
                pass  # an HTTP date: fall back to our own backoff
        return float(min(self.max_backoff, self.backoff * 2**attempt))

    def get(self, path: str) -> dict[str, Any] | None:
        """One GET of `<base>/<path>`, or of `path` itself when it is a URL on the same server: the
        decoded JSON object, or None when the server does not answer it. For optional facts (a
        model list, a version) that a run records but never needs; counted, not retried."""
        url = path if path.startswith(self.root) else f"{self.base}/{path.lstrip('/')}"
        headers = {"Accept": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        self._count("get_attempts")
        try:
            request = urllib.request.Request(url, headers=headers, method="GET")
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                parsed = json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError):
            self._count("get_unanswered")
            return None
        return parsed if isinstance(parsed, dict) else None

    def post(self, path: str, payload: dict[str, Any], what: str = "request") -> dict[str, Any]:
        """The decoded JSON reply; `what` names the request in errors (a record, a round)."""
        url = f"{self.base}/{path.lstrip('/')}"
        data = json.dumps(payload).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        last = ""
        status: int | None = None
        for attempt in range(self.retries + 1):
            self._count("attempts")
            retry_after: str | None = None
            try:
                request = urllib.request.Request(url, data=data, headers=headers, method="POST")
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    body = response.read()
                self._count("ok")
                try:
                    parsed: dict[str, Any] = json.loads(body)
                except json.JSONDecodeError:
                    raise ApiError(
                        self.scrub(f"{what}: {url} answered with invalid JSON: {body[:BODY_EXCERPT]!r}")
                    ) from None
                return parsed
            except urllib.error.HTTPError as err:
                status = err.code
                self._count(f"status_{status}")
                body_text = err.read()[:BODY_EXCERPT].decode("utf-8", "replace")
                last = f"HTTP {status}: {body_text}"
                if status not in RETRY_STATUS and status < 500:
                    raise ApiError(self.scrub(f"{what}: {url} refused the request ({last})"), status) from None
                retry_after = err.headers.get("Retry-After") if err.headers else None
            except TimeoutError:
                self._count("timeouts")
                last, status = f"no reply within {self.timeout:g} s", None
            except (urllib.error.URLError, ConnectionError, OSError) as err:
                self._count("connection_errors")
                reason = getattr(err, "reason", err)
                if isinstance(reason, TimeoutError):
                    self._count("timeouts")
                    last = f"no reply within {self.timeout:g} s"
                else:
                    last = f"connection failed ({type(reason).__name__}: {reason})"
                status = None
            if attempt < self.retries:
                self._count("retries")
                time.sleep(self._delay(attempt, retry_after))
        raise ApiError(
            self.scrub(f"{what}: {url} failed after {self.retries + 1} attempts; last error: {last}"), status
        )
