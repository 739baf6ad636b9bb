"""`mmsy demo`: the command is registered and reuses a matching dataset folder."""

from __future__ import annotations

from pathlib import Path

from mmsy_dataset.cli import parser
from mmsy_dataset.cli_demo import demo_build_config, reusable
from mmsy_dataset.tasks import BENCHMARK_CONFIGS


def test_demo_command_is_registered() -> None:
    args = parser().parse_args(["demo", "--limit", "3"])
    assert args.command == "demo" and args.limit == 3 and args.data == Path("mmsy-data")


def test_demo_builds_only_the_benchmark_configs() -> None:
    assert tuple(demo_build_config().configs) == tuple(BENCHMARK_CONFIGS)


def test_reuse_needs_a_matching_manifest(tmp_path: Path) -> None:
    assert not reusable(tmp_path, demo_build_config())
    (tmp_path / "mmsy_manifest.json").write_text("{}")
    assert not reusable(tmp_path, demo_build_config())
