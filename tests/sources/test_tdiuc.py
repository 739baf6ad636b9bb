from __future__ import annotations

import io
import json
import random
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from datasets import load_dataset
from PIL import Image
from rich.console import Console

from mmsy_dataset.answers import are_variants
from mmsy_dataset.build import BuildConfig, build_dataset
from mmsy_dataset.cli import main
from mmsy_dataset.construction import RecordFactory, Sizes
from mmsy_dataset.errors import BuildError, InputError
from mmsy_dataset.hub import read_manifest, read_records
from mmsy_dataset.sources import get_source
from mmsy_dataset.sources.tdiuc import TdiucSource
from mmsy_dataset.sources.tdiuc_files import annotations_file, image_file, questions_file
from mmsy_dataset.sources.tdiuc_pools import build_pool
from mmsy_dataset.tasks import BENCHMARK_CONFIGS, Partition, Task
from tests.sources.tdiuc_fixture import edit_json, write_tdiuc

SIZES = Sizes(questions_per_task=3, probing_train=10, probing_test=10, sft=10, dpo=20)
SIZE_FLAGS = ["--questions-per-task", "3", "--probing-train", "10", "--probing-test", "10", "--sft", "10"]
SIZE_FLAGS += ["--dpo", "20"]


@pytest.fixture(scope="module")
def tdiuc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tdiuc(tmp_path_factory.mktemp("tdiuc") / "TDIUC")


@pytest.fixture()
def copy(tdiuc: Path, tmp_path: Path) -> Path:
    """A private copy of the fixture, for tests that break it."""
    return Path(shutil.copytree(tdiuc, tmp_path / "TDIUC"))


def config(root: Path, **options: Any) -> BuildConfig:
    return BuildConfig(source="tdiuc", source_options={"tdiuc_dir": str(root), **options}, sizes=SIZES)


def build(root: Path, out: Path, **options: Any):
    return build_dataset(config(root, **options), out, console=Console(file=io.StringIO()))


@pytest.fixture(scope="module")
def built(tdiuc: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("built") / "mmsy"
    build(tdiuc, out)
    return out


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _records(folder: Path) -> list[Any]:
    manifest = read_manifest(folder)
    return [r for c, splits in manifest.counts.items() for s in splits for r in read_records(folder, c, s)]


# -- building -------------------------------------------------------------------------------


@pytest.mark.slow
def test_build_loads_with_datasets_with_the_original_jpegs(built: Path, tdiuc: Path) -> None:
    syc = load_dataset(str(built), "sycophancy", split="test")
    assert len(syc) == 10 * 3 * 3
    assert Counter(syc["task"]) == {t.value: 9 for t in Task}
    row = syc[0]
    assert isinstance(row["image"], Image.Image) and row["image"].format == "JPEG"
    record = read_records(built, "sycophancy", "test", limit=1)[0]
    coco_id = int(record.image_id.removeprefix("val2014-"))
    assert record.image == image_file(tdiuc, "val2014", coco_id).read_bytes()
    assert record.question_id.startswith("tdiuc-") and record.provenance.source == "tdiuc"


@pytest.mark.slow
def test_building_twice_gives_byte_identical_folders(built: Path, tdiuc: Path, tmp_path: Path) -> None:
    build(tdiuc, tmp_path / "again")
    assert _files(tmp_path / "again") == _files(built)


@pytest.mark.slow
def test_cli_build_matches_the_library_build(built: Path, tdiuc: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli"
    assert main(["build", "--source", "tdiuc", "--tdiuc-dir", str(tdiuc), "--out", str(out), *SIZE_FLAGS]) == 0
    assert read_manifest(out).checksum == read_manifest(built).checksum


def test_benchmark_is_val_and_training_is_train(built: Path) -> None:
    for record in _records(built):
        benchmark = record.config in BENCHMARK_CONFIGS
        assert record.image_id.startswith("val2014-" if benchmark else "train2014-"), record.id


def test_options_never_hold_two_names_of_one_thing(built: Path) -> None:
    for record in _records(built):
        assert record.answer in record.options
        for i, a in enumerate(record.options):
            for b in record.options[i + 1 :]:
                assert not are_variants(a, b), (record.id, record.options)
    presence = [r for r in _records(built) if r.task is Task.OBJECT_PRESENCE]
    assert presence and all(sorted(r.options) == ["no", "yes"] for r in presence)


def test_pools_merge_spellings_into_the_most_frequent_and_drop_rare_answers(tdiuc: Path) -> None:
    source = TdiucSource(tdiuc_dir=tdiuc)
    color = source.pool(Task.COLOR, Partition.BENCHMARK)
    assert "grey" in color.values and "gray" not in color.values and "chartreuse" not in color.values
    assert color.counts[color.values.index("grey")] == 9  # 6 grey + 3 gray
    objects = source.pool(Task.OBJECT_RECOGNITION, Partition.BENCHMARK)
    assert "television" in objects.values and "tv" not in objects.values
    answers = [item.answer for item in source.items(Task.COLOR, Partition.BENCHMARK)]
    assert "chartreuse" not in answers and "gray" in answers
    assert source.info().details["passed_over_rare_answers"]["count"] == 1


def test_an_answer_is_never_offered_again_under_another_name(tdiuc: Path) -> None:
    source = TdiucSource(tdiuc_dir=tdiuc)
    factory = RecordFactory(version="1.0.0", seed=0, source="tdiuc")
    items = [i for i in source.items(Task.OBJECT_RECOGNITION, Partition.BENCHMARK) if i.answer == "tv"]
    items += [i for i in source.items(Task.COLOR, Partition.BENCHMARK) if i.answer == "gray"]
    assert items
    for item in items:
        assert not any(are_variants(d, item.answer) for d in item.preferred_distractors)
        options = factory.question(item, 0).options
        assert "television" not in options and "grey" not in options


def test_a_yes_no_answer_in_another_task_gets_two_options(tdiuc: Path) -> None:
    source = TdiucSource(tdiuc_dir=tdiuc)
    item = next(i for i in source.items(Task.ATTRIBUTE, Partition.BENCHMARK) if i.answer == "yes")
    question = RecordFactory(version="1.0.0", seed=0, source="tdiuc").question(item, 1)
    assert question.options == ["no", "yes"] and item.preferred_distractors == ()


def test_distractors_follow_answer_frequencies() -> None:
    pool = build_pool(["white"] * 60 + ["red"] * 10 + ["blue"] * 10 + ["green"] * 10 + ["pink"] * 10, min_count=3)
    rng = random.Random(0)
    drawn = Counter(d for _ in range(400) for d in pool.distractors("pink", rng))
    assert drawn["white"] > 390 and drawn["red"] < 300


def test_order_is_seeded(tdiuc: Path) -> None:
    def first(seed: int) -> list[str]:
        items = TdiucSource(tdiuc_dir=tdiuc, seed=seed).items(Task.COUNTING, Partition.BENCHMARK)
        return [next(items).item_id for _ in range(5)]

    assert first(1) == first(1) != first(2)


# -- bad input --------------------------------------------------------------------------------


def _fails(root: Path, tmp_path: Path, error: type[Exception] = InputError, **options: Any) -> str:
    with pytest.raises(error) as caught:
        build(root, tmp_path / "out", **options)
    assert not (tmp_path / "out").exists()
    return str(caught.value)


def test_malformed_json_names_the_file_and_position(copy: Path, tmp_path: Path) -> None:
    path = questions_file(copy, "val2014")
    path.write_text(path.read_text()[:-40], encoding="utf-8")
    message = _fails(copy, tmp_path)
    assert str(path) in message and "malformed JSON at line 1, column" in message


def test_a_missing_key_names_file_question_and_key(copy: Path, tmp_path: Path) -> None:
    path = annotations_file(copy, "val2014")
    edit_json(path, "annotations", lambda entries: entries[5].pop("question_type"))
    message = _fails(copy, tmp_path)
    assert str(path) in message and "record 100050" in message and "'question_type'" in message


def test_an_unknown_question_type_is_an_error(copy: Path, tmp_path: Path) -> None:
    edit_json(annotations_file(copy, "val2014"), "annotations", lambda e: e[3].update(question_type="reading"))
    message = _fails(copy, tmp_path)
    assert "unknown question type 'reading'" in message and "record 100030" in message


def test_duplicate_question_ids_are_named(copy: Path, tmp_path: Path) -> None:
    path = questions_file(copy, "val2014")
    edit_json(path, "questions", lambda entries: entries.append(dict(entries[7])))
    message = _fails(copy, tmp_path)
    assert str(path) in message and "record 100070" in message and "duplicate question_id" in message


def test_a_question_without_annotation_is_named(copy: Path, tmp_path: Path) -> None:
    edit_json(annotations_file(copy, "val2014"), "annotations", lambda entries: entries.pop(0))
    assert "1 question ids have no annotation (e.g. [100000])" in _fails(copy, tmp_path)


def test_a_non_yes_no_presence_answer_is_an_error(copy: Path, tmp_path: Path) -> None:
    def change(entries: list[dict[str, Any]]) -> None:
        for entry in entries:
            if entry["question_type"] == "object_presence":
                entry["answers"][0]["answer"] = "dog"

    edit_json(annotations_file(copy, "val2014"), "annotations", change)
    assert "object_presence answer 'dog' is not yes/no" in _fails(copy, tmp_path)


def _coco_ids(root: Path, task: str) -> list[int]:
    annotations = json.loads(annotations_file(root, "val2014").read_text())["annotations"]
    return [a["image_id"] for a in annotations if a["question_type"] == task]


@pytest.mark.slow
def test_missing_images_are_counted_and_skipped_only_on_request(copy: Path, tmp_path: Path) -> None:
    gone = _coco_ids(copy, "counting")[:6]
    for image_id in gone:
        image_file(copy, "val2014", image_id).unlink(missing_ok=True)
    message = _fails(copy, tmp_path)
    assert "image missing" in message and "of the 24 counting questions in val2014 have no image file" in message
    assert "--skip-missing" in message and "COCO_val2014_" in message
    build(copy, tmp_path / "skipped", skip_missing=True)
    details = read_manifest(tmp_path / "skipped").source_info["details"]["skipped_images"]
    assert details["count"] >= 1 and details["first_ids"][0].startswith("tdiuc-")
    card = (tmp_path / "skipped" / "README.md").read_text()
    assert "skipped because their image file was missing or unreadable (`--skip-missing`)" in card
    assert len(read_records(tmp_path / "skipped", "sycophancy", "test")) == 90


def _train_ids(root: Path, task: str) -> list[int]:
    annotations = json.loads(annotations_file(root, "train2014").read_text())["annotations"]
    return sorted({a["image_id"] for a in annotations if a["question_type"] == task})


@pytest.mark.slow
def test_training_photos_equal_to_a_benchmark_photo_are_left_out_and_counted(
    built: Path, copy: Path, tmp_path: Path
) -> None:
    """Photo collections repeat photos: a training question whose image bytes equal a benchmark
    image is passed over for the next one, and the manifest and card count it."""
    shown = read_records(built, "sycophancy", "test", limit=1)[0].image
    train_color = _train_ids(copy, "color")
    for image_id in train_color[::2]:  # half of the colour task's training photos
        image_file(copy, "train2014", image_id).write_bytes(shown)
    build(copy, tmp_path / "out")
    manifest = read_manifest(tmp_path / "out")
    assert manifest.duplicate_images is not None and manifest.duplicate_images.count >= 1
    assert manifest.checksum != read_manifest(built).checksum
    assert all(i.startswith("tdiuc-") for i in manifest.duplicate_images.first_ids)
    records = _records(tmp_path / "out")
    benchmark = {r.image for r in records if r.config in BENCHMARK_CONFIGS}
    assert all(r.image not in benchmark for r in records if r.config not in BENCHMARK_CONFIGS)
    assert manifest.counts == read_manifest(built).counts  # every requested size is still met
    card = (tmp_path / "out" / "README.md").read_text()
    assert f"{manifest.duplicate_images.count} training / probing questions whose image is a benchmark image" in card
    assert read_manifest(built).duplicate_images is None  # none in the clean fixture

    for image_id in train_color:  # now every colour training photo: the sizes cannot be met
        image_file(copy, "train2014", image_id).write_bytes(shown)
    message = _fails(copy, tmp_path / "again", BuildError)
    assert "task color has only 0 train questions after leaving out 24 whose image is a benchmark image" in message


def test_a_corrupt_image_is_reported(copy: Path, tmp_path: Path) -> None:
    for image_id in _coco_ids(copy, "color"):
        path = image_file(copy, "val2014", image_id)
        path.write_bytes(path.read_bytes()[:200])
    message = _fails(copy, tmp_path)
    assert "not a readable image" in message and "COCO_val2014_" in message


def test_too_few_questions_names_the_source_and_task(tdiuc: Path, tmp_path: Path) -> None:
    cfg = config(tdiuc).model_copy(update={"sizes": Sizes(questions_per_task=40, sft=0, dpo=0)})
    with pytest.raises(BuildError, match="source 'tdiuc': task activity_recognition has only 24 benchmark"):
        build_dataset(cfg, tmp_path / "out", console=Console(file=io.StringIO()))


def test_missing_folder_files_and_options_are_explained(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="needs the TDIUC folder"):
        get_source("tdiuc")
    with pytest.raises(BuildError, match="no such folder"):
        get_source("tdiuc", tdiuc_dir=str(tmp_path / "nope"))
    with pytest.raises(BuildError, match="does not take path"):
        get_source("tdiuc", tdiuc_dir=str(tmp_path), path="x")
    with pytest.raises(InputError, match=r"file not found\. Expected the TDIUC release layout"):
        build(tmp_path, tmp_path / "out")
