from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from datasets import load_dataset
from PIL import Image
from rich.console import Console

from mmsy_dataset.build import BuildConfig, build_dataset
from mmsy_dataset.errors import BuildError, InputError
from mmsy_dataset.hub import read_manifest, read_records, verify_folder
from mmsy_dataset.schemas import CONFIG_SPLITS, RECORD_TYPES
from tests.helpers import build_small, small_config


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("build") / "mmsy"
    build_small(out, version="2.1.0", seed=3)
    return out


def _hashes(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    ("config", "split"),
    [  # one config in the quick run, every config in the full one
        pytest.param(c, s, marks=() if c == "sycophancy" else pytest.mark.slow)
        for c, splits in CONFIG_SPLITS.items()
        for s in splits
    ],
)
def test_load_dataset_returns_every_config_with_images_and_typed_columns(built: Path, config: str, split: str) -> None:
    ds = load_dataset(str(built), config, split=split)
    assert len(ds) == read_manifest(built).counts[config][split]
    row = ds[0]
    assert isinstance(row["image"], Image.Image) and row["image"].size == (16, 16)
    assert isinstance(row["options"], list) and row["answer"] in row["options"]
    assert row["provenance"] == {"version": "2.1.0", "source": "fixture", "seed": 3}
    assert set(ds.features) == set(RECORD_TYPES[config].model_fields)


def test_default_config_is_sycophancy(built: Path) -> None:
    assert load_dataset(str(built), split="test")[0]["id"].endswith(":syc:suggestive")


def test_card_header_declares_configs_features_and_sizes(built: Path) -> None:
    text = (built / "README.md").read_text()
    header = yaml.safe_load(text.split("---")[1])
    assert header["mmsy_version"] == "2.1.0" and header["pretty_name"] == "MM-SY"
    assert {c["config_name"] for c in header["configs"]} == set(CONFIG_SPLITS)
    info = {i["config_name"]: i for i in header["dataset_info"]}
    assert info["sycophancy"]["splits"] == [
        {"name": "test", "num_bytes": info["sycophancy"]["splits"][0]["num_bytes"], "num_examples": 240}
    ]
    assert "**version 2.1.0**" in text and read_manifest(built).checksum in text
    for section in (
        "## Dataset Details",
        "## Uses",
        "## Dataset Structure",
        "## Dataset Creation",
        "## Bias, Risks, and Limitations",
        "## Citation",
    ):
        assert section in text


@pytest.mark.slow
def test_manifest_checksums_verify_and_detect_tampering(built: Path, tmp_path: Path) -> None:
    assert verify_folder(built) == []
    copy = tmp_path / "copy"
    build_small(copy, version="2.1.0", seed=3)
    victim = next((copy / "data" / "sft").glob("*.parquet"))
    victim.write_bytes(victim.read_bytes() + b"x")
    assert verify_folder(copy) == [f"{victim.relative_to(copy).as_posix()}: checksum mismatch"]


@pytest.mark.slow
def test_same_version_and_seed_give_byte_identical_folders(built: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    build_small(again, version="2.1.0", seed=3)
    assert _hashes(again) == _hashes(built)
    other = tmp_path / "other"
    build_small(other, version="2.1.0", seed=4)
    assert read_manifest(other).checksum != read_manifest(built).checksum


def test_read_records_round_trips(built: Path) -> None:
    records = read_records(built, "multi_round", "test")
    assert len(records) == 80 and records[0].pushes
    assert (
        read_records(built, "sycophancy", "test", limit=5)[4].id
        == load_dataset(str(built), "sycophancy", split="test")[4]["id"]
    )


@pytest.mark.slow
def test_a_bad_row_names_file_record_and_field(built: Path, tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    build_small(folder)
    path = next((folder / "data" / "sft").glob("*.parquet"))
    table = pq.read_table(path)
    letters = table.column("answer_letter").to_pylist()
    letters[2] = "E"
    pq.write_table(
        table.set_column(table.schema.get_field_index("answer_letter"), "answer_letter", pa.array(letters)), path
    )
    with pytest.raises(InputError) as error:
        read_records(folder, "sft", "train")
    message = str(error.value)
    assert str(path) in message and table.column("id")[2].as_py() in message and "answer_letter" in message


@pytest.mark.slow
def test_a_corrupt_parquet_file_is_named(built: Path, tmp_path: Path) -> None:
    folder = tmp_path / "corrupt"
    build_small(folder)
    path = next((folder / "data" / "dpo").glob("*.parquet"))
    path.write_bytes(b"not parquet")
    with pytest.raises(InputError, match="unreadable parquet"):
        read_records(folder, "dpo", "train")


@pytest.mark.slow
def test_non_empty_output_is_refused_without_overwrite_and_kept(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    with pytest.raises(BuildError, match="not empty; pass --overwrite"):
        build_small(out)
    assert (out / "precious.txt").read_text() == "keep me"
    build_dataset(small_config(), out, overwrite=True, console=Console(file=io.StringIO()))
    assert not (out / "precious.txt").exists() and (out / "mmsy_manifest.json").exists()


def test_unwritable_output_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(BuildError, match="cannot create the output's parent folder"):
        build_small(blocker / "sub" / "out")


def test_a_failed_build_leaves_nothing_that_looks_complete(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(BuildError, match="only 3 benchmark questions"):
        build_dataset(small_config(source_options={"limit": 3}), out, console=Console(file=io.StringIO()))
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_bad_versions_and_configs_are_rejected() -> None:
    with pytest.raises(ValueError, match="not a semantic version"):
        BuildConfig(version="v1")
    with pytest.raises(ValueError, match="unknown configs"):
        BuildConfig(configs=("sycophancy", "nope"))


def test_manifest_records_the_build_configuration(built: Path) -> None:
    manifest = json.loads((built / "mmsy_manifest.json").read_text())
    assert manifest["build"]["seed"] == 3 and manifest["build"]["sizes"]["questions_per_task"] == 8
    assert manifest["counts"]["probing"] == {"train": 20, "test": 10}


def test_the_card_command_is_a_valid_cli_line() -> None:
    config = BuildConfig(source="tdiuc", source_options={"tdiuc_dir": "/data/TDIUC", "skip_missing": True})
    assert config.command() == (
        "mmsy build --source tdiuc --version 1.0.0 --seed 0 --skip-missing --tdiuc-dir /data/TDIUC --out OUT"
    )
    config = BuildConfig(source_options={"font_path": "/f.ttf", "image_size": 96}, seed=2)
    assert "--font /f.ttf --image-size 96" in config.command() and "--seed 2" in config.command()
