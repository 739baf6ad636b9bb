"""Upload to the Hugging Face Hub: the dataset repo, the metric Space, the leaderboard Space.

Every upload is first turned into a `Plan` (repo, files with their sha256, commit message,
tag), so `--dry-run` prints exactly what the real run sends and the real run sends exactly
what was planned. Nothing here reads, stores or prints the token: it comes from `HF_TOKEN` or
the saved `hf auth login`, is passed to `huggingface_hub` and nowhere else, and error messages
are scrubbed of it in case a server echoes it back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmsy_dataset.errors import MmsyError
from mmsy_dataset.hub.manifest import MANIFEST, read_manifest, sha256_file, verify_folder

#: A build this large (or with this many files) goes up through the resumable multi-commit
#: upload; below it, one commit holds the whole version, so its tag names one complete commit.
LARGE_BYTES = 2 * 2**30
LARGE_FILES = 5_000
#: Hub repo ids: `namespace/name`, letters, digits, `-`, `_`, `.`; no `--` or `..`, no `.git`.
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")


class PublishError(MmsyError):
    """Something that stops an upload before (or while) it talks to the Hub."""


@dataclass(frozen=True)
class PlannedFile:
    """One file of a commit."""

    path_in_repo: str
    local: Path
    size: int
    sha256: str


@dataclass(frozen=True)
class Plan:
    """Everything one publish sends: the dry run prints it, the real run executes it."""

    repo_id: str
    repo_type: str
    """"dataset" or "space"."""
    root: Path
    """The local folder; every file is `root / path_in_repo`."""
    files: list[PlannedFile]
    commit_message: str
    commit_description: str = ""
    tag: str | None = None
    private: bool = False
    space_sdk: str | None = None
    large: bool = False
    """Use the resumable multi-commit folder upload instead of one commit."""
    notes: list[str] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def describe(self) -> list[str]:
        """The lines `--dry-run` prints: repo, commit, tag, then every file."""
        kind = f"{self.repo_type} ({self.space_sdk} Space)" if self.space_sdk else self.repo_type
        how = (
            "resumable multi-commit folder upload (rerun the same command to resume)"
            if self.large
            else "one commit"
        )
        lines = [
            f"repo: {self.repo_id} ({kind}, {'private' if self.private else 'public'})",
            f"commit: {self.commit_message!r} on main, {how}",
            f"tag: {self.tag}" if self.tag else "tag: none",
            f"files: {len(self.files)}, {self.total_bytes:,} bytes",
        ]
        lines += [f"  {f.path_in_repo}  {f.size:,} bytes  sha256 {f.sha256}" for f in self.files]
        lines += self.notes
        return lines


@dataclass(frozen=True)
class Published:
    """What the Hub answered."""

    url: str
    commit_oid: str
    tag: str | None


def check_repo_id(repo_id: str) -> str:
    """`ORG/NAME` as the Hub accepts it, or a `PublishError` that says what is wrong."""
    if (
        not _REPO_ID.fullmatch(repo_id)
        or "--" in repo_id
        or ".." in repo_id
        or repo_id.endswith(".git")
        or repo_id.split("/")[1].startswith(".")
    ):
        raise PublishError(
            f"--repo {repo_id!r}: not a Hub repo id; expected ORG/NAME (letters, digits, '-', '_', '.'; "
            "no '--' or '..', at most 96 characters each)"
        )
    return repo_id


def _planned(root: Path, rel: str) -> PlannedFile:
    path = root / rel
    return PlannedFile(rel, path, path.stat().st_size, sha256_file(path))


def plan_dataset(folder: str | Path, repo_id: str, *, private: bool = False) -> Plan:
    """Verify a built folder against its manifest and plan its upload, tagged `v<version>`."""
    root = Path(folder)
    check_repo_id(repo_id)
    manifest = read_manifest(root)
    problems = verify_folder(root)
    if problems:
        shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
        raise PublishError(f"{root}: does not match its {MANIFEST} ({shown}); rebuild it with `mmsy build`")
    # Exactly the files the manifest pins (hashes just re-checked), plus the manifest itself.
    rels = [*sorted(manifest.files), MANIFEST]
    files = [
        PlannedFile(rel, root / rel, (root / rel).stat().st_size, manifest.files[rel])
        if rel in manifest.files
        else _planned(root, rel)
        for rel in rels
    ]
    plan = Plan(
        repo_id=repo_id,
        repo_type="dataset",
        root=root,
        files=files,
        commit_message=f"MM-SY {manifest.version} ({manifest.source} source, seed {manifest.seed})",
        commit_description=f"Dataset checksum {manifest.checksum}. Built by `mmsy build`; see {MANIFEST}.",
        tag=f"v{manifest.version}",
        private=private,
        large=sum(f.size for f in files) >= LARGE_BYTES or len(files) >= LARGE_FILES,
    )
    return plan


def plan_folder(
    folder: str | Path,
    repo_id: str,
    *,
    repo_type: str,
    commit_message: str,
    space_sdk: str | None,
    private: bool,
    files: list[Path] | None = None,
) -> Plan:
    """Plan the upload of a generated folder (a Space) in one commit: `files`, or all of it."""
    root = Path(folder)
    check_repo_id(repo_id)
    chosen = files if files is not None else [p for p in root.rglob("*") if p.is_file()]
    rels = sorted(p.relative_to(root).as_posix() for p in chosen)
    if not rels:
        raise PublishError(f"{root}: no files to upload")
    return Plan(
        repo_id=repo_id,
        repo_type=repo_type,
        root=root,
        files=[_planned(root, rel) for rel in rels],
        commit_message=commit_message,
        private=private,
        space_sdk=space_sdk,
    )


def resolve_token() -> str:
    """The token of `HF_TOKEN` or of the saved login; never printed, never written."""
    from huggingface_hub import constants, get_token

    if constants.HF_HUB_OFFLINE:
        raise PublishError("HF_HUB_OFFLINE is set: unset it (or set HF_HUB_OFFLINE=0) to publish")
    token = get_token()
    if not token:
        raise PublishError("no Hugging Face token: set HF_TOKEN or run `hf auth login` (nothing was uploaded)")
    return token


def _scrub(message: str, token: str) -> str:
    return message.replace(token, "***") if token else message


def execute(plan: Plan, token: str, endpoint: str | None = None) -> Published:
    """Create the repo (existing is fine), upload the plan's files, tag the commit.

    `endpoint` defaults to huggingface_hub's (`HF_ENDPOINT`, else huggingface.co).
    """
    import httpx2
    from huggingface_hub import CommitOperationAdd, HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi(endpoint=endpoint, token=token)
    step = "create the repo"
    try:
        url = api.create_repo(
            plan.repo_id,
            repo_type=plan.repo_type,
            private=plan.private,
            exist_ok=True,
            space_sdk=plan.space_sdk,
        )
        if plan.tag:
            step = "list the repo's tags"
            if plan.tag in {t.name for t in api.list_repo_refs(plan.repo_id, repo_type=plan.repo_type).tags}:
                raise PublishError(
                    f"{plan.repo_id}: tag {plan.tag} exists: a version is published once; build a new --version "
                    "(nothing uploaded)"
                )
        if plan.large:
            step = "upload the folder"
            info: Any = api.upload_folder(
                repo_id=plan.repo_id,
                repo_type=plan.repo_type,
                folder_path=plan.root,
                allow_patterns=[f.path_in_repo for f in plan.files],
                commit_message=plan.commit_message,
                commit_description=plan.commit_description,
            )
        else:
            step = "commit the files"
            info = api.create_commit(
                plan.repo_id,
                [CommitOperationAdd(path_in_repo=f.path_in_repo, path_or_fileobj=str(f.local)) for f in plan.files],
                repo_type=plan.repo_type,
                commit_message=plan.commit_message,
                commit_description=plan.commit_description,
            )
        if plan.tag:
            step = f"tag the commit {plan.tag}"
            api.create_tag(
                plan.repo_id,
                tag=plan.tag,
                revision=info.oid,
                repo_type=plan.repo_type,
                tag_message=plan.commit_message,
            )
    except HfHubHTTPError as error:
        status = error.response.status_code if error.response is not None else "?"
        hint = " (the tag exists: a version is published once; build a new --version)" if status == 409 else ""
        first = _scrub(str(error), token).splitlines()[0] if str(error) else type(error).__name__
        raise PublishError(f"{plan.repo_id}: could not {step}: HTTP {status}: {first}{hint}") from None
    except (OSError, httpx2.HTTPError, ValueError, RuntimeError) as error:  # connection refused, DNS, TLS, malformed
        raise PublishError(f"{plan.repo_id}: could not {step}: {_scrub(str(error), token)}") from None
    return Published(url=str(url), commit_oid=str(info.oid), tag=plan.tag)
