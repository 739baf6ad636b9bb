"""Allocate base items to configs and construct every split.

The benchmark draws from the source's benchmark partition; probing, SFT and DPO from its
training partition (probing first, so the probe never sees a training dialogue's question,
as paper 4.1 requires). SFT questions are the first ones of the DPO questions: the paper's
DPO set "includes the 1,000 samples for SFT", and an SFT dialogue is its DPO pair's chosen side.

Real photo collections hold the same photo more than once, so a training-partition item whose
image bytes equal a benchmark image is left out (`BenchmarkImages`) and the next one drawn in
its place; the build records how many.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from mmsy_dataset.construction.options import balanced_positions
from mmsy_dataset.construction.records import Question, RecordFactory, rng_for
from mmsy_dataset.errors import BuildError
from mmsy_dataset.schemas import BaseItem, QuestionRecord
from mmsy_dataset.sources.base import Source
from mmsy_dataset.tasks import CONFIGS, Mode, Partition, Task, Tone, is_yes_no

Splits = dict[str, dict[str, list[QuestionRecord]]]
Tick = Callable[[int], None]


class Sizes(BaseModel):
    """How many questions / records each part of a build gets."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    questions_per_task: int = Field(150, ge=1)
    """Benchmark questions per task (paper 2.1: 150)."""
    multi_round_pushes: int = Field(5, ge=1, le=5)
    """Pushes per multi-round dialogue (paper Fig. 2: up to 5)."""
    probing_train: int = Field(3000, ge=0)
    """Probing contexts for training the probe (paper 4.1: 3,000)."""
    probing_test: int = Field(800, ge=0)
    """Probing contexts for testing the probe (paper 4.1: 800)."""
    sft: int = Field(1000, ge=0)
    """SFT dialogues, half refuse-misleading, half accept-correction (paper 3.2: 1,000)."""
    dpo: int = Field(10000, ge=0)
    """DPO preference pairs, both modes (paper 3.3: 10,000)."""


def spread(n: int, k: int) -> list[int]:
    """n split over k buckets as evenly as possible, the first buckets taking the remainder."""
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def _digest(item: BaseItem) -> str:
    return hashlib.sha256(item.image).hexdigest()


@dataclass
class BenchmarkImages:
    """The benchmark's images (their ids and the sha256 of their bytes), and the
    training-partition items left out because their image is one of them: the same bytes, or
    the same image id (a real collection can hold one picture under two encodings, and several
    questions about one picture)."""

    digests: set[str] = field(default_factory=set)
    image_ids: set[str] = field(default_factory=set)
    excluded: list[str] = field(default_factory=list)
    """Item ids of the left-out items, in the order they were drawn."""

    def add(self, items: Iterable[BaseItem]) -> None:
        for item in items:
            self.digests.add(_digest(item))
            self.image_ids.add(item.image_id)

    def excludes(self, item: BaseItem) -> bool:
        """Whether `item` shows a benchmark image (then it is recorded as excluded)."""
        if item.image_id in self.image_ids or _digest(item) in self.digests:
            self.excluded.append(item.item_id)
            return True
        return False


def take_items(
    source: Source,
    task: Task,
    partition: Partition,
    n: int,
    tick: Tick | None = None,
    benchmark: BenchmarkImages | None = None,
) -> list[BaseItem]:
    """The first n items of a task, passing over items that show one of the `benchmark` images;
    an error when the source has fewer or repeats an id."""
    items: list[BaseItem] = []
    seen: set[str] = set()
    excluded = 0
    stream: Iterator[BaseItem] = source.items(task, partition) if n > 0 else iter(())
    for item in stream:  # drawn one at a time: a source may record what it passed over
        if item.item_id in seen:
            raise BuildError(f"source {source.name!r}: duplicate question id {item.item_id!r} in task {task}")
        if item.task != task:
            raise BuildError(f"source {source.name!r}: item {item.item_id} has task {item.task}, expected {task}")
        seen.add(item.item_id)
        if benchmark is not None and benchmark.excludes(item):
            excluded += 1
            continue
        items.append(item)
        if tick:
            tick(1)
        if len(items) == n:
            break
    if len(items) < n:
        left_out = (
            f" after leaving out {excluded} whose image is a benchmark image (same bytes or image id)"
            if excluded
            else ""
        )
        raise BuildError(
            f"source {source.name!r}: task {task.value} has only {len(items)} {partition.value} questions"
            f"{left_out}, {n} requested. Lower the size or use a larger source."
        )
    return items


def _questions(factory: RecordFactory, items: list[BaseItem], purpose: str) -> list[Question]:
    positions = balanced_positions(len(items), 4, rng_for(factory.seed, "positions", purpose))
    return [
        factory.question(item, pos % (2 if _yes_no(item) else 4)) for item, pos in zip(items, positions, strict=True)
    ]


def _yes_no(item: BaseItem) -> bool:
    return is_yes_no(item.answer)


def _tones(n: int, factory: RecordFactory, purpose: str) -> list[Tone]:
    return [
        factory.tones[i] for i in balanced_positions(n, len(factory.tones), rng_for(factory.seed, "tones", purpose))
    ]


def check_disjoint(benchmark: list[BaseItem], training: list[BaseItem]) -> None:
    """Training and probing items must share no question and no image with the benchmark."""
    shared_q = {i.item_id for i in benchmark} & {i.item_id for i in training}
    shared_img = {i.image_id for i in benchmark} & {i.image_id for i in training}
    digest = lambda i: hashlib.sha256(i.image).hexdigest()  # noqa: E731
    shared_bytes = {digest(i) for i in benchmark} & {digest(i) for i in training}
    if shared_q or shared_img or shared_bytes:
        raise BuildError(
            "benchmark and training items overlap: "
            f"{len(shared_q)} question ids (e.g. {sorted(shared_q)[:3]}), "
            f"{len(shared_img)} image ids (e.g. {sorted(shared_img)[:3]}), {len(shared_bytes)} identical images"
        )


def items_needed(tasks: tuple[Task, ...], sizes: Sizes, configs: tuple[str, ...]) -> int:
    """How many base items a build draws (for progress totals)."""
    k = len(tasks)
    n = sizes.questions_per_task * k
    if "probing" in configs:
        n += sizes.probing_train + sizes.probing_test
    if {"sft", "dpo"} & set(configs):
        n += sum(max(a, b) for a, b in zip(spread(sizes.dpo, k), spread(sizes.sft, k), strict=True))
    return n


@dataclass(frozen=True)
class Construction:
    """What `construct` made: the records, and the training-partition items it left out."""

    splits: Splits
    excluded: list[str]
    """Ids of training / probing items left out because their image bytes equal a benchmark
    image (`BenchmarkImages`), in the order they were drawn."""


def construct(
    source: Source,
    factory: RecordFactory,
    tasks: tuple[Task, ...],
    sizes: Sizes,
    configs: tuple[str, ...] = CONFIGS,
    tick: Tick | None = None,
) -> Construction:
    """Every requested config's records, grouped by split, in a deterministic order.

    Every task's benchmark items are drawn before any training item, so that a training item
    showing any benchmark image is left out."""
    unknown = set(configs) - set(CONFIGS)
    if unknown:
        raise BuildError(f"unknown configs {sorted(unknown)}; known: {', '.join(CONFIGS)}")
    if not tasks:
        raise BuildError("no tasks selected")
    out: Splits = {config: {} for config in configs}
    k = len(tasks)
    probe_tr, probe_te = spread(sizes.probing_train, k), spread(sizes.probing_test, k)
    dpo_n, sft_n = spread(sizes.dpo, k), spread(sizes.sft, k)
    want_probe = "probing" in configs
    want_train = bool({"sft", "dpo"} & set(configs))

    def add(config: str, split: str, records: Sequence[QuestionRecord]) -> None:
        if config in out:
            out[config].setdefault(split, []).extend(records)

    bench_by_task = [take_items(source, task, Partition.BENCHMARK, sizes.questions_per_task, tick) for task in tasks]
    all_bench = [item for items in bench_by_task for item in items]
    benchmark = BenchmarkImages()
    benchmark.add(all_bench)
    for task, bench_items in zip(tasks, bench_by_task, strict=True):
        bench = _questions(factory, bench_items, f"benchmark:{task}")
        for q in bench:
            add("sycophancy", "test", factory.sycophancy(q))
            add("correction_with_answer", "test", factory.correction_with_answer(q))
            add("correction_without_answer", "test", factory.correction_without_answer(q))
        for q, tone in zip(bench, _tones(len(bench), factory, f"multi_round:{task}"), strict=True):
            add("multi_round", "test", [factory.multi_round(q, tone, sizes.multi_round_pushes)])

    all_train: list[BaseItem] = []
    for ti, task in enumerate(tasks):
        n_probe = (probe_tr[ti] + probe_te[ti]) if want_probe else 0
        n_dialogue = max(dpo_n[ti], sft_n[ti]) if want_train else 0
        if n_probe + n_dialogue == 0:
            continue
        train_items = take_items(source, task, Partition.TRAIN, n_probe + n_dialogue, tick, benchmark)
        all_train += train_items
        probe_q = _questions(factory, train_items[:n_probe], f"probing:{task}")
        for i, (q, tone) in enumerate(zip(probe_q, _tones(n_probe, factory, f"probing:{task}"), strict=True)):
            add("probing", "train" if i < probe_tr[ti] else "test", [factory.probing(q, tone)])
        dialogue_q = _questions(factory, train_items[n_probe:], f"dialogue:{task}")
        tones = _tones(n_dialogue, factory, f"dialogue:{task}")
        for i, (q, tone) in enumerate(zip(dialogue_q, tones, strict=True)):
            mode = Mode.REFUSE_MISLEADING if i % 2 == 0 else Mode.ACCEPT_CORRECTION
            if i < dpo_n[ti]:
                add("dpo", "train", [factory.dpo(q, mode, tone)])
            if i < sft_n[ti]:
                add("sft", "train", [factory.sft(q, mode, tone)])
    check_disjoint(all_bench, all_train)
    return Construction(out, benchmark.excluded)


__all__ = [
    "BenchmarkImages",
    "Construction",
    "Sizes",
    "Splits",
    "check_disjoint",
    "construct",
    "items_needed",
    "spread",
    "take_items",
]
