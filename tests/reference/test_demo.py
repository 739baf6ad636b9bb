"""`mmsy demo`: the command is registered and reuses a matching dataset folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmsy_dataset.cli import parser
from mmsy_dataset.demo import demo_build_config, reusable
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


@pytest.mark.slow
def test_a_full_build_serves_the_demo_and_has_the_same_benchmark(tmp_path: Path) -> None:
    """`mmsy build` with every config writes the very benchmark files a benchmark-only build writes,
    so the demo reuses it; a build with another seed is neither reused nor overwritten."""
    from mmsy_dataset.demo import same_benchmark
    from mmsy_dataset.hub.manifest import read_manifest
    from mmsy_dataset.tasks import CONFIGS
    from tests.helpers import build_small, small_config

    full, bench = tmp_path / "full", tmp_path / "bench"
    build_small(full, configs=tuple(CONFIGS))
    build_small(bench, configs=tuple(BENCHMARK_CONFIGS))
    full_files, bench_files = read_manifest(full).files, read_manifest(bench).files
    data = [rel for rel in bench_files if rel.startswith("data/")]
    assert data and all(full_files[rel] == bench_files[rel] for rel in data)
    demo_small = small_config(configs=tuple(BENCHMARK_CONFIGS))
    assert same_benchmark(read_manifest(full).build, demo_small)
    assert not same_benchmark(read_manifest(full).build, small_config(configs=tuple(BENCHMARK_CONFIGS), seed=1))


def test_demo_keeps_a_folder_it_cannot_reuse(tmp_path: Path) -> None:
    import io

    import pytest
    from rich.console import Console

    from mmsy_dataset.demo import ensure_dataset

    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="--rebuild"):
        ensure_dataset(tmp_path, rebuild=False, console=Console(file=io.StringIO()))
    assert (tmp_path / "notes.txt").read_text() == "mine"
