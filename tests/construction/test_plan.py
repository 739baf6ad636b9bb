from __future__ import annotations

from collections import Counter
from itertools import islice

import pytest

from mmsy_dataset.construction import RecordFactory, Sizes, construct
from mmsy_dataset.construction.plan import check_disjoint, items_needed, spread, take_items
from mmsy_dataset.errors import BuildError
from mmsy_dataset.schemas import DPORecord, MultiRoundRecord, SFTRecord, SycophancyRecord
from mmsy_dataset.tasks import CONFIGS, TASKS, Mode, Partition, Task, Tone
from tests.helpers import FixtureSource

SIZES = Sizes(questions_per_task=12, probing_train=30, probing_test=20, sft=20, dpo=40)


@pytest.fixture(scope="module")
def splits():
    factory = RecordFactory(version="1.2.3", seed=7, source="fixture")
    return construct(FixtureSource(seed=7), factory, TASKS, SIZES).splits


def test_every_config_has_the_requested_counts(splits) -> None:
    q = SIZES.questions_per_task * len(TASKS)
    assert len(splits["sycophancy"]["test"]) == 3 * q
    assert len(splits["correction_with_answer"]["test"]) == 3 * q
    assert len(splits["correction_without_answer"]["test"]) == 3 * q
    assert len(splits["multi_round"]["test"]) == q
    assert len(splits["probing"]["train"]) == 30 and len(splits["probing"]["test"]) == 20
    assert len(splits["sft"]["train"]) == 20 and len(splits["dpo"]["train"]) == 40
    assert items_needed(TASKS, SIZES, CONFIGS) == q + 50 + 40


def test_ids_are_unique_and_every_record_carries_the_version(splits) -> None:
    for config, by_split in splits.items():
        records = [r for rs in by_split.values() for r in rs]
        assert len({r.id for r in records}) == len(records), config
        assert {r.provenance.version for r in records} == {"1.2.3"}


def test_correct_letter_is_balanced_within_every_task(splits) -> None:
    by_task: dict[Task, Counter[str]] = {}
    for r in splits["multi_round"]["test"]:
        by_task.setdefault(r.task, Counter())[r.answer_letter] += 1
    for task, counts in by_task.items():
        n_letters = 2 if task is Task.OBJECT_PRESENCE else 4
        assert len(counts) == n_letters, task
        assert max(counts.values()) - min(counts.values()) <= 2, (task, counts)


def test_a_question_pushes_one_wrong_option_for_every_tone(splits) -> None:
    by_question: dict[str, list[SycophancyRecord]] = {}
    for r in splits["sycophancy"]["test"]:
        by_question.setdefault(r.question_id, []).append(r)  # type: ignore[arg-type]
    for records in by_question.values():
        assert {r.tone for r in records} == set(Tone)
        assert len({r.push_letter for r in records}) == 1
        assert all(r.push_letter != r.answer_letter and r.push_option in r.push for r in records)


def test_corrections_push_the_answer_or_no_option(splits) -> None:
    for r in splits["correction_with_answer"]["test"]:
        assert r.push_letter == r.answer_letter and f"({r.answer_letter}) {r.answer}" in r.push
    for r in splits["correction_without_answer"]["test"]:
        assert not any(f"({letter})" in r.push for letter in "ABCD")


def test_multi_round_uses_distinct_templates_of_one_tone(splits) -> None:
    tones = Counter()
    for r in splits["multi_round"]["test"]:
        assert isinstance(r, MultiRoundRecord)
        assert len(r.pushes) == 5 and len(set(r.template_ids)) == 5
        assert all(t.startswith(r.tone.value) for t in r.template_ids)
        tones[r.tone] += 1
    assert max(tones.values()) - min(tones.values()) <= len(TASKS)


def test_sft_is_half_each_mode_and_the_chosen_side_of_its_dpo_pair(splits) -> None:
    sft: list[SFTRecord] = splits["sft"]["train"]  # type: ignore[assignment]
    dpo = {r.question_id: r for r in splits["dpo"]["train"]}
    assert Counter(r.mode for r in sft) == {Mode.REFUSE_MISLEADING: 10, Mode.ACCEPT_CORRECTION: 10}
    for r in sft:
        pair: DPORecord = dpo[r.question_id]  # type: ignore[assignment]
        assert pair.chosen == r.response and pair.push == r.push and pair.mode == r.mode
        assert f"({r.answer_letter}) {r.answer}" in r.response
        false_letter = r.push_letter if r.mode is Mode.REFUSE_MISLEADING else r.round1_letter
        assert f"({false_letter})" in pair.rejected


def test_training_and_probing_share_no_question_or_image_with_the_benchmark(splits) -> None:
    bench = [
        r
        for c in ("sycophancy", "correction_with_answer", "correction_without_answer", "multi_round")
        for r in splits[c]["test"]
    ]
    train = [r for c in ("probing", "sft", "dpo") for rs in splits[c].values() for r in rs]
    assert {r.question_id for r in bench}.isdisjoint({r.question_id for r in train})
    assert {r.image_id for r in bench}.isdisjoint({r.image_id for r in train})
    assert {r.image for r in bench}.isdisjoint({r.image for r in train})
    probe = {r.question_id for rs in splits["probing"].values() for r in rs}
    assert probe.isdisjoint({r.question_id for r in splits["dpo"]["train"]})


def test_overlap_between_partitions_is_refused() -> None:
    items = take_items(FixtureSource(), Task.COLOR, Partition.BENCHMARK, 3)
    with pytest.raises(BuildError, match="overlap"):
        check_disjoint(items, items[:1])


class RepeatedPhotos(FixtureSource):
    """Every third training item shows the image of a benchmark item of another task."""

    def items(self, task: Task, partition: Partition):
        benchmark = list(islice(super().items(Task.COLOR, Partition.BENCHMARK), 200))
        for index, item in enumerate(super().items(task, partition)):
            if partition is Partition.TRAIN and index % 3 == 1:
                item = item.model_copy(update={"image": benchmark[index % len(benchmark)].image})
            yield item


@pytest.mark.slow
def test_training_items_showing_a_benchmark_image_are_left_out_and_counted() -> None:
    factory = RecordFactory(version="1.0.0", seed=0, source="fixture")
    sizes = Sizes(questions_per_task=12, probing_train=20, probing_test=10, sft=10, dpo=20)
    made = construct(RepeatedPhotos(), factory, TASKS, sizes)
    bench = {r.image for r in made.splits["sycophancy"]["test"]}
    train = [r for c in ("probing", "sft", "dpo") for rs in made.splits[c].values() for r in rs]
    assert bench.isdisjoint(r.image for r in train)
    assert len(made.splits["probing"]["train"]) == 20 and len(made.splits["dpo"]["train"]) == 20
    # 3 + 2 (probing) and 2 (dialogues) training items per task; the second of every three is
    # a copy of a benchmark colour item's image (indices below 12: items 1, 4, 7, 10).
    assert made.excluded[:2] == ["fixture-t-activity_recognition-00001", "fixture-t-activity_recognition-00004"]
    assert {i for i in made.excluded if int(i[-5:]) % 3 != 1} == set()
    assert len(made.excluded) == sum(1 for i in made.excluded if i.startswith("fixture-t-")) > 0
    clean = construct(FixtureSource(), factory, TASKS, sizes)
    assert clean.excluded == [] and clean.splits["sycophancy"] == made.splits["sycophancy"]


class SharedImageIds(FixtureSource):
    """Every third training item is another question about a benchmark colour item's picture:
    its image id, but (re-encoded) other bytes."""

    def items(self, task: Task, partition: Partition):
        benchmark = list(islice(super().items(Task.COLOR, Partition.BENCHMARK), 200))
        for index, item in enumerate(super().items(task, partition)):
            if partition is Partition.TRAIN and index % 3 == 1:
                item = item.model_copy(update={"image_id": benchmark[index % len(benchmark)].image_id})
            yield item


def test_training_items_sharing_a_benchmark_image_id_are_left_out_too() -> None:
    factory = RecordFactory(version="1.0.0", seed=0, source="fixture")
    sizes = Sizes(questions_per_task=9, probing_train=0, probing_test=0, sft=0, dpo=6)
    made = construct(SharedImageIds(limit=9), factory, (Task.COLOR,), sizes, ("sycophancy", "dpo"))
    assert made.excluded == ["fixture-t-color-00001", "fixture-t-color-00004", "fixture-t-color-00007"]
    bench = {r.image_id for r in made.splits["sycophancy"]["test"]}
    assert bench.isdisjoint(r.image_id for r in made.splits["dpo"]["train"])


def test_too_few_items_once_duplicates_are_left_out_says_how_many() -> None:
    factory = RecordFactory(version="1.0.0", seed=0, source="fixture")
    sizes = Sizes(questions_per_task=9, probing_train=0, probing_test=0, sft=0, dpo=7)
    with pytest.raises(BuildError, match=r"has only 6 train questions after leaving out 3 whose image is a benchmark"):
        construct(RepeatedPhotos(limit=9), factory, (Task.COLOR,), sizes, ("sycophancy", "dpo"))
    made = construct(RepeatedPhotos(limit=9), factory, (Task.COLOR,), sizes.model_copy(update={"dpo": 6}))
    assert len(made.excluded) == 3 and len(made.splits["dpo"]["train"]) == 6


def test_a_source_with_too_few_questions_is_a_clear_error() -> None:
    factory = RecordFactory(version="1.0.0", seed=0, source="fixture")
    with pytest.raises(BuildError, match=r"task activity_recognition has only 5 benchmark questions, 12 requested"):
        construct(FixtureSource(limit=5), factory, TASKS, SIZES)


def test_same_seed_same_records_and_another_seed_differs() -> None:
    sizes = Sizes(questions_per_task=4, probing_train=0, probing_test=0, sft=0, dpo=0)

    def make(seed: int):
        factory = RecordFactory(version="1.0.0", seed=seed, source="fixture")
        return construct(FixtureSource(), factory, TASKS, sizes, ("sycophancy",)).splits

    a, b, c = make(1), make(1), make(2)
    assert a == b
    assert [r.push for r in a["sycophancy"]["test"]] != [r.push for r in c["sycophancy"]["test"]]


def test_spread_distributes_the_remainder() -> None:
    assert spread(10, 3) == [4, 3, 3]
    assert sum(spread(3800, 10)) == 3800
