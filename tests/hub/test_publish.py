"""`mmsy publish dataset`: the dry run, the upload through huggingface_hub against a loopback
Hub, and the refusals. The CLI runs in a subprocess so that `HF_ENDPOINT` (read when
huggingface_hub is imported) points at the loopback server."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mmsy_dataset.hub.manifest import MANIFEST, sha256_file
from mmsy_dataset.hub.publish import PublishError, check_repo_id, execute, plan_dataset
from tests.helpers import build_small
from tests.hub.fake_hub import TOKEN, FakeHub, mmsy, one_error_line, upload_requests


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("publish") / "ds"
    build_small(out)
    return out


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    with FakeHub() as server:
        yield server


def expected_files(folder: Path) -> list[str]:
    manifest = json.loads((folder / MANIFEST).read_text())
    return [*sorted(manifest["files"]), MANIFEST]


@pytest.mark.slow
def test_dry_run_lists_exactly_the_files_and_the_commit(built: Path, hub: FakeHub, tmp_path: Path) -> None:
    result = mmsy(["publish", "dataset", str(built), "--repo", "my-org/mmsy", "--dry-run"], hub, tmp_path, token=None)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    total = sum((built / f).stat().st_size for f in expected_files(built))
    assert lines[:5] == [
        "dry run: nothing uploaded",
        "repo: my-org/mmsy (dataset, public)",
        "commit: 'MM-SY 1.0.0 (fixture source, seed 0)' on main, one commit",
        "tag: v1.0.0",
        f"files: {len(expected_files(built))}, {total:,} bytes",
    ]
    listed = [line.split()[0] for line in lines[5:]]
    assert listed == expected_files(built)
    for line in lines[5:]:
        rel, sha = line.split()[0], line.split()[-1]
        assert sha == sha256_file(built / rel)
    assert hub.requests == []  # no token needed, nothing sent


@pytest.mark.slow
def test_upload_end_to_end_through_huggingface_hub(built: Path, hub: FakeHub, tmp_path: Path) -> None:
    home = tmp_path / "hf-home"
    result = mmsy(["publish", "dataset", str(built), "--repo", "my-org/mmsy", "--private"], hub, home)
    assert result.returncode == 0, result.stderr
    files = expected_files(built)
    lfs = [f for f in files if f.endswith(".parquet")]
    seq = upload_requests(hub)
    commit_oid = hub.repos["my-org/mmsy"].commits[0]["oid"]
    # create the repo, check the card's YAML, ask upload modes, LFS batch, one PUT per parquet, commit, tag.
    assert seq[:5] == [
        "POST /api/repos/create",
        "GET /api/datasets/my-org/mmsy/refs",
        "POST /api/validate-yaml",
        "POST /api/datasets/my-org/mmsy/preupload/main",
        "POST /datasets/my-org/mmsy.git/info/lfs/objects/batch",
    ]
    puts = seq[5 : 5 + len(lfs)]
    assert sorted(puts) == sorted(f"PUT /lfs-put/{sha256_file(built / f)}" for f in lfs)
    assert seq[5 + len(lfs) :] == [
        "POST /api/datasets/my-org/mmsy/commit/main",
        f"POST /api/datasets/my-org/mmsy/tag/{commit_oid}",
    ]
    create = json.loads(hub.requests[[r.path for r in hub.requests].index("/api/repos/create")].body)
    assert create == {"name": "mmsy", "organization": "my-org", "visibility": "private", "type": "dataset"}
    repo = hub.repos["my-org/mmsy"]
    assert repo.files == {f: (built / f).read_bytes() for f in files}  # every byte, nothing else
    assert repo.tags == {"v1.0.0": commit_oid}
    assert len(repo.commits) == 1 and repo.commits[0]["summary"] == "MM-SY 1.0.0 (fixture source, seed 0)"
    assert f"committed {commit_oid}" in result.stdout and "tagged v1.0.0" in result.stdout
    # The token travels only in the Authorization header of Hub API calls (not to the LFS store).
    for r in hub.requests:
        assert TOKEN.encode() not in r.body
        others = {k: v for k, v in r.headers.items() if k != "authorization"}
        assert TOKEN not in json.dumps(others)
        assert r.headers.get("authorization") == (None if r.method == "PUT" else f"Bearer {TOKEN}") or (
            r.path == "/api/agent-harnesses"
        )
    assert TOKEN not in result.stdout + result.stderr
    for path in [*tmp_path.rglob("*"), *built.rglob("*")]:
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
    # What the Hub now holds loads with `datasets` by the card's configs, like the built folder.
    from datasets import load_dataset

    mirror = tmp_path / "mirror"
    for rel, data in repo.files.items():
        (mirror / rel).parent.mkdir(parents=True, exist_ok=True)
        (mirror / rel).write_bytes(data)
    counts = json.loads((built / MANIFEST).read_text())["counts"]
    loaded = load_dataset(str(mirror), "sycophancy", split="test", cache_dir=str(tmp_path / "cache"))
    assert loaded.num_rows == counts["sycophancy"]["test"]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning")  # huggingface_hub's LFS PUT
def test_large_build_goes_through_the_folder_upload_and_is_tagged(
    built: Path, hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)  # with hf_xet this is the streamed pipeline
    plan = dataclasses.replace(plan_dataset(built, "my-org/big"), large=True)
    assert "resumable multi-commit folder upload" in plan.describe()[1]
    published = execute(plan, TOKEN, endpoint=hub.url)
    repo = hub.repos["my-org/big"]
    assert repo.files == {f.path_in_repo: f.local.read_bytes() for f in plan.files}
    assert repo.tags == {"v1.0.0": repo.commits[-1]["oid"]} == {"v1.0.0": published.commit_oid}


@pytest.mark.slow
def test_publishing_a_version_twice_is_refused_before_uploading(built: Path, hub: FakeHub, tmp_path: Path) -> None:
    assert mmsy(["publish", "dataset", str(built), "--repo", "my-org/mmsy"], hub, tmp_path).returncode == 0
    sent = len(hub.requests)
    line = one_error_line(mmsy(["publish", "dataset", str(built), "--repo", "my-org/mmsy"], hub, tmp_path))
    assert "my-org/mmsy: tag v1.0.0 exists: a version is published once" in line and "nothing uploaded" in line
    after = [f"{r.method} {r.path}" for r in hub.requests[sent:] if r.path != "/api/agent-harnesses"]
    assert after == ["POST /api/repos/create", "GET /api/datasets/my-org/mmsy/refs"]
    assert len(hub.repos["my-org/mmsy"].commits) == 1


@pytest.mark.slow
def test_folder_that_does_not_match_its_manifest_uploads_nothing(built: Path, hub: FakeHub, tmp_path: Path) -> None:
    broken = tmp_path / "ds"
    shutil.copytree(built, broken)
    shard = sorted((broken / "data" / "sycophancy").glob("*.parquet"))[0]
    shard.write_bytes(shard.read_bytes()[:-1] + b"\0")
    line = one_error_line(mmsy(["publish", "dataset", str(broken), "--repo", "my-org/mmsy"], hub, tmp_path))
    assert f"data/sycophancy/{shard.name}: checksum mismatch" in line and "mmsy_manifest.json" in line
    assert hub.requests == []


@pytest.mark.slow
def test_folder_without_manifest_uploads_nothing(hub: FakeHub, tmp_path: Path) -> None:
    line = one_error_line(mmsy(["publish", "dataset", str(tmp_path), "--repo", "my-org/mmsy"], hub, tmp_path))
    assert "no MM-SY manifest here" in line
    assert hub.requests == []


@pytest.mark.parametrize("repo", ["mmsy", "my-org/mm--sy", "a/b/c", "my org/mmsy", "my-org/mmsy.git", "my-org/.x"])
def test_invalid_repo_ids(repo: str) -> None:
    with pytest.raises(PublishError, match="not a Hub repo id"):
        check_repo_id(repo)


@pytest.mark.slow
def test_invalid_repo_id_uploads_nothing(built: Path, hub: FakeHub, tmp_path: Path) -> None:
    line = one_error_line(mmsy(["publish", "dataset", str(built), "--repo", "my-org/mm..sy"], hub, tmp_path))
    assert "--repo 'my-org/mm..sy': not a Hub repo id" in line
    assert hub.requests == []


@pytest.mark.slow
def test_missing_token_uploads_nothing(built: Path, hub: FakeHub, tmp_path: Path) -> None:
    line = one_error_line(mmsy(["publish", "dataset", str(built), "--repo", "my-org/mmsy"], hub, tmp_path, token=None))
    assert "no Hugging Face token" in line and "HF_TOKEN" in line
    assert hub.requests == []
