"""A loopback stand-in for the Hugging Face Hub: the endpoints `huggingface_hub` calls to upload.

Only what an upload needs, as `huggingface_hub` (2.x, no hf_xet) drives it: create a repo,
list its refs, validate a README's YAML, ask the upload mode of each file (preupload), the LFS
batch API ("basic" transfer: one PUT per file), the ndjson commit, and tags. Every request is recorded
(method, path, headers, body) so a test can check the sequence, the bytes and the token.
Binds 127.0.0.1 only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Repo:
    repo_type: str
    private: bool
    sdk: str | None
    files: dict[str, bytes] = field(default_factory=dict)
    commits: list[dict[str, Any]] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)


class FakeHub:
    """`with FakeHub() as hub:` serves on `hub.url` until the block ends."""

    def __init__(self, *, lfs_suffixes: tuple[str, ...] = (".parquet", ".safetensors")) -> None:
        self.requests: list[Request] = []
        self.repos: dict[str, Repo] = {}
        self.lfs: dict[str, bytes] = {}
        self.lfs_suffixes = lfs_suffixes
        self._lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body = _read_chunked(self.rfile)
                request = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with hub._lock:
                    hub.requests.append(request)
                    status, payload = hub.route(request)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- routing -------------------------------------------------------------------------------

    def sequence(self) -> list[str]:
        """`METHOD /path` of every request, query strings dropped."""
        return [f"{r.method} {r.path.split('?')[0]}" for r in self.requests]

    def route(self, r: Request) -> tuple[int, Any]:
        path = r.path.split("?")[0]
        if not r.headers.get("authorization", "").startswith("Bearer ") and r.method != "PUT":
            return 401, {"error": "Invalid credentials in Authorization header"}
        if r.method == "POST" and path == "/api/repos/create":
            return self._create(json.loads(r.body))
        if r.method == "POST" and path == "/api/validate-yaml":
            return 200, {"errors": [], "warnings": []}
        m = re.fullmatch(r"/api/(datasets|spaces|models)/([^/]+/[^/]+)/refs", path)
        if r.method == "GET" and m:
            repo = self.repos.get(m.group(2))
            if repo is None:
                return 404, {"error": "Repository not found"}
            tags = [{"name": t, "ref": f"refs/tags/{t}", "targetCommit": oid} for t, oid in repo.tags.items()]
            head = repo.commits[-1]["oid"] if repo.commits else "0" * 40
            main = [{"name": "main", "ref": "refs/heads/main", "targetCommit": head}]
            return 200, {"branches": main, "converts": [], "tags": tags}
        m = re.fullmatch(r"/api/(datasets|spaces|models)/([^/]+/[^/]+)/(preupload|commit|tag)/(.+)", path)
        if r.method == "POST" and m:
            repo = self.repos.get(m.group(2))
            if repo is None:
                return 404, {"error": "Repository not found"}
            payload = r if m.group(3) == "commit" else json.loads(r.body)
            return getattr(self, f"_{m.group(3)}")(m.group(2), repo, payload)
        m = re.fullmatch(r"/(?:datasets/|spaces/)?([^/]+/[^/]+)\.git/info/lfs/objects/batch", path)
        if r.method == "POST" and m:
            objects = json.loads(r.body)["objects"]
            actions = [
                {"oid": o["oid"], "size": o["size"], "actions": {"upload": {"href": f"{self.url}/lfs-put/{o['oid']}"}}}
                for o in objects
            ]
            return 200, {"transfer": "basic", "objects": actions}
        m = re.fullmatch(r"/lfs-put/([0-9a-f]{64})", path)
        if r.method == "PUT" and m:
            if hashlib.sha256(r.body).hexdigest() != m.group(1):
                return 400, {"error": "sha256 mismatch"}
            self.lfs[m.group(1)] = r.body
            return 200, {}
        return 404, {"error": f"fake hub: no route for {r.method} {path}"}

    def _create(self, payload: dict[str, Any]) -> tuple[int, Any]:
        repo_id = f"{payload['organization']}/{payload['name']}"
        repo_type = payload.get("type") or "model"
        if repo_id in self.repos:
            return 409, {"error": "You already created this repo", "url": self._repo_url(repo_type, repo_id)}
        self.repos[repo_id] = Repo(repo_type, payload.get("visibility") == "private", payload.get("sdk"))
        return 200, {"url": self._repo_url(repo_type, repo_id)}

    def _repo_url(self, repo_type: str, repo_id: str) -> str:
        prefix = {"dataset": "datasets/", "space": "spaces/"}.get(repo_type, "")
        return f"{self.url}/{prefix}{repo_id}"

    def _preupload(self, repo_id: str, repo: Repo, payload: dict[str, Any]) -> tuple[int, Any]:
        files = []
        for f in payload["files"]:
            lfs = f["path"].endswith(self.lfs_suffixes)
            files.append({"path": f["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False})
        return 200, {"files": files, "commitOid": repo.commits[-1]["oid"] if repo.commits else None}

    def _commit(self, repo_id: str, repo: Repo, request: Request) -> tuple[int, Any]:
        lines = [json.loads(line) for line in request.body.decode().splitlines() if line.strip()]
        header = lines[0]["value"]
        for item in lines[1:]:
            value = item["value"]
            if item["key"] == "file":
                repo.files[value["path"]] = base64.b64decode(value["content"])
            elif item["key"] == "lfsFile":
                if value["oid"] not in self.lfs:
                    return 422, {"error": f"LFS object {value['oid']} was never uploaded"}
                repo.files[value["path"]] = self.lfs[value["oid"]]
        oid = hashlib.sha1(json.dumps(lines).encode()).hexdigest()
        repo.commits.append({"oid": oid, "summary": header["summary"], "description": header.get("description")})
        return 200, {"commitUrl": f"{self._repo_url(repo.repo_type, repo_id)}/commit/{oid}", "commitOid": oid}

    def _tag(self, repo_id: str, repo: Repo, payload: dict[str, Any]) -> tuple[int, Any]:
        if payload["tag"] in repo.tags:
            return 409, {"error": f"Tag {payload['tag']} already exists"}
        revision = self.requests[-1].path.split("?")[0].rsplit("/", 1)[1]
        repo.tags[payload["tag"]] = revision
        return 200, {}


def _read_chunked(stream: Any) -> bytes:
    out = b""
    while True:
        size = int(stream.readline().strip(), 16)
        if size == 0:
            stream.readline()
            return out
        out += stream.read(size)
        stream.readline()


# --- running the CLI against it ------------------------------------------------------------------

TOKEN = "hf_loopbackSECRET0123456789abcdef"
ROOT = Path(__file__).resolve().parents[2]


def mmsy(
    args: list[str], hub: FakeHub, home: Path, token: str | None = TOKEN, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the CLI against the loopback Hub, with a fresh HF_HOME (no saved login)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_") or k in ("HF_DATASETS_OFFLINE",)}
    env.update(
        HF_ENDPOINT=hub.url,
        HF_HUB_OFFLINE="0",
        TRANSFORMERS_OFFLINE="0",
        HF_HOME=str(home),
        HF_HUB_DISABLE_XET="1",  # the loopback Hub speaks the LFS protocol, not Xet
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        NO_PROXY="127.0.0.1",
        PYTHONPATH=str(ROOT),
        COLUMNS="1000",  # one error line is one line, not wrapped at 80
    )
    if token is not None:
        env["HF_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "mmsy_dataset.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd or ROOT,
    )


def upload_requests(hub: FakeHub) -> list[str]:
    """The request sequence, without the client's best-effort agent-registry lookup."""
    return [r for r in hub.sequence() if r != "GET /api/agent-harnesses"]


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]
