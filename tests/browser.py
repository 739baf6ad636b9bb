"""Headless Chromium driven over the DevTools protocol, for tests of the static pages.

`--dump-dom` only shows the page after load; clicking a header or changing a filter needs a
live page. This starts Chromium with `--remote-debugging-port=0` (loopback only), reads the
port it picked from `DevToolsActivePort`, and talks to the page over its WebSocket with
aiohttp: `evaluate` runs JavaScript in the page and returns the JSON value.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


class Browser:
    """`with Browser(profile_dir) as b: b.open(url); b.evaluate("document.title")`."""

    def __init__(self, profile: Path, timeout: float = 60.0) -> None:
        self.profile = profile
        self.timeout = timeout
        self._id = 0
        self._loop = asyncio.new_event_loop()

    def __enter__(self) -> Browser:
        import aiohttp

        binary = chromium_path()
        assert binary is not None
        self.process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.process.kill()
                raise RuntimeError("Chromium did not open its DevTools port")
            time.sleep(0.1)
        port = int(port_file.read_text().splitlines()[0])

        async def connect() -> None:
            self._session = aiohttp.ClientSession()
            async with self._session.get(f"http://127.0.0.1:{port}/json/list") as response:
                targets = await response.json()
            url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
            self._ws = await self._session.ws_connect(url, max_msg_size=0)

        self._loop.run_until_complete(asyncio.wait_for(connect(), self.timeout))
        return self

    def __exit__(self, *exc: object) -> None:
        async def close() -> None:
            await self._ws.close()
            await self._session.close()

        try:
            self._loop.run_until_complete(close())
        finally:
            self._loop.close()
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """One DevTools command; events arriving meanwhile are skipped."""
        self._id += 1
        ident = self._id

        async def call() -> dict[str, Any]:
            await self._ws.send_str(json.dumps({"id": ident, "method": method, "params": params}))
            while True:
                message = json.loads((await self._ws.receive()).data)
                if message.get("id") == ident:
                    if "error" in message:
                        raise RuntimeError(f"{method}: {message['error']}")
                    result: dict[str, Any] = message.get("result", {})
                    return result

        return self._loop.run_until_complete(asyncio.wait_for(call(), self.timeout))

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page raised: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str, before_load: str | None = None) -> None:
        """Navigate and wait for the load; `before_load` runs in the page before its own scripts."""
        self.send("Page.enable")
        if before_load:
            self.send("Page.addScriptToEvaluateOnNewDocument", source=before_load)
        self.send("Page.navigate", url=url)
        deadline = time.monotonic() + self.timeout
        while self.evaluate("document.readyState + ' ' + location.href") != f"complete {url}":
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not load")
            time.sleep(0.05)
