"""`TdiucSource`: base items from a local copy of TDIUC, registered as source "tdiuc".

The benchmark partition is TDIUC's COCO val2014 part (like the released MM-SY, whose images
are all val2014); probing and training material come from train2014, so the two never share
an image. Each task's questions are shuffled once with an RNG keyed by the seed; construction
takes the first n, which is a seeded random sample as in paper 2.1.

Files are read lazily (a benchmark-only build never opens the train JSON) and images only for
the questions actually drawn, each decoded once to catch truncated downloads.
"""

from __future__ import annotations

import io
import json
import random
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PIL import Image

from mmsy_dataset.errors import BuildError, InputError
from mmsy_dataset.schemas import BaseItem
from mmsy_dataset.sources.base import SourceInfo, register_source
from mmsy_dataset.sources.tdiuc_files import COCO_SPLITS, TdiucQuestion, annotations_file, image_file, load_split
from mmsy_dataset.sources.tdiuc_pools import POOL_MAX_SIZE, POOL_MIN_COUNT, YES_NO_POOL, AnswerPool, build_pool
from mmsy_dataset.tasks import Partition, Task, is_yes_no

DESCRIPTION = (
    "Questions, answers and question types from TDIUC (Task Directed Image Understanding "
    "Challenge; Kafle & Kanan, *An Analysis of Visual Question Answering Algorithms*, ICCV 2017, "
    "https://kushalkafle.com/projects/tdiuc.html), ten of its twelve question types; images from "
    "MS COCO 2014 (Lin et al., 2014). Benchmark questions come from the val2014 part, probing and "
    "training questions from the train2014 part. Options are built by `mmsy` from each task's "
    "answer pool (answers seen at least {min_count} times, at most {max_size} per task, variant "
    "spellings merged); distractors are drawn with the answers' frequency weights."
)
ATTRIBUTION = (
    "TDIUC: Kushal Kafle and Christopher Kanan, An Analysis of Visual Question Answering Algorithms, "
    "ICCV 2017. Images: Microsoft COCO (Lin et al., ECCV 2014), https://cocodataset.org."
)
LICENSE_NOTE = (
    "Questions and answers follow TDIUC's terms; the images are MS COCO images, each under the "
    "Flickr license its owner chose (see the COCO terms of use). Check both before redistributing."
)
PERSONAL_INFO = (
    "COCO photographs show people, sometimes with recognisable faces; no names or other identifiers "
    "are attached. The questions and answers contain no personal data."
)
#: How many skipped / passed-over question ids the card and manifest list.
LISTED_IDS = 20


def image_problem(data: bytes) -> str | None:
    """Why the bytes are not a usable image, or None. Decodes (at reduced JPEG scale) to catch truncation."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
                image.load()
    except Exception as error:  # Pillow raises many types for bad files
        return f"not a readable image ({type(error).__name__}: {error})"
    return None


class TdiucSource:
    """Base items of the ten MM-SY tasks from a TDIUC release folder."""

    name = "tdiuc"

    def __init__(
        self,
        tdiuc_dir: str | Path | None = None,
        seed: int = 0,
        skip_missing: bool = False,
        pool_min_count: int = POOL_MIN_COUNT,
        pool_max_size: int = POOL_MAX_SIZE,
        **unused: Any,
    ) -> None:
        if unused:
            raise BuildError(f"source tdiuc does not take {', '.join(sorted(unused))}; it needs --tdiuc-dir only")
        if tdiuc_dir is None:
            raise BuildError("source tdiuc needs the TDIUC folder: pass --tdiuc-dir PATH (see docs/real_sources.md)")
        self.root = Path(tdiuc_dir)
        if not self.root.is_dir():
            raise BuildError(f"--tdiuc-dir {self.root}: no such folder")
        if pool_min_count < 1 or pool_max_size < 4:
            raise BuildError("pool_min_count must be >= 1 and pool_max_size >= 4")
        self.seed = seed
        self.skip_missing = skip_missing
        self.pool_min_count = pool_min_count
        self.pool_max_size = pool_max_size
        self._splits: dict[Partition, dict[Task, list[TdiucQuestion]]] = {}
        self._pools: dict[tuple[Partition, Task], AnswerPool] = {}
        self._skipped: dict[str, str] = {}
        self._passed_over: set[str] = set()

    # -- loading ------------------------------------------------------------------------------

    def _questions(self, task: Task, partition: Partition) -> list[TdiucQuestion]:
        if partition not in self._splits:
            by_task: dict[Task, list[TdiucQuestion]] = {t: [] for t in Task}
            for question in load_split(self.root, COCO_SPLITS[partition]):
                by_task[Task(question.question_type)].append(question)
            for t, questions in by_task.items():
                random.Random(f"mmsy:{self.seed}:tdiuc-order:{partition.value}:{t.value}").shuffle(questions)
            self._splits[partition] = by_task
        return self._splits[partition][task]

    def pool(self, task: Task, partition: Partition) -> AnswerPool:
        """The task's answer pool, from every question of the task in that partition's COCO split."""
        key = (partition, task)
        if key not in self._pools:
            if task is Task.OBJECT_PRESENCE:
                self._pools[key] = YES_NO_POOL
            else:
                answers = (q.answer for q in self._questions(task, partition))
                self._pools[key] = build_pool(answers, self.pool_min_count, self.pool_max_size)
        return self._pools[key]

    # -- images -------------------------------------------------------------------------------

    def _image(self, question: TdiucQuestion, partition: Partition) -> bytes | None:
        """The original JPEG bytes; None when skipped (with skip_missing), else an error."""
        split = COCO_SPLITS[partition]
        path = image_file(self.root, split, question.image_id)
        try:
            data = path.read_bytes()
            problem = image_problem(data)
        except FileNotFoundError:
            problem = "missing"
        except OSError as error:
            problem = f"unreadable ({error.strerror})"
        if problem is None:
            return data
        if self.skip_missing:
            self._skipped[f"tdiuc-{question.question_id}"] = f"{path.relative_to(self.root)}: {problem}"
            return None
        raise self._image_error(question, partition, path, problem)

    def _image_error(self, question: TdiucQuestion, partition: Partition, path: Path, problem: str) -> InputError:
        split = COCO_SPLITS[partition]
        task = Task(question.question_type)
        absent = [q for q in self._questions(task, partition) if not image_file(self.root, split, q.image_id).is_file()]
        listed = ", ".join(
            f"{q.question_id} ({image_file(self.root, split, q.image_id).relative_to(self.root)})" for q in absent[:5]
        )
        count = (
            f"{len(absent)} of the {len(self._questions(task, partition))} {task.value} questions in {split} "
            f"have no image file (first: {listed}). "
            if absent
            else ""
        )
        return InputError(
            f"image {problem}. {count}Download the COCO {split} images into {self.root / 'Images' / split}, or pass "
            "--skip-missing to draw other questions instead (the skipped ids are recorded in the card).",
            file=path,
            record=question.question_id,
        )

    # -- the Source protocol ------------------------------------------------------------------

    def items(self, task: Task, partition: Partition) -> Iterator[BaseItem]:
        """The task's questions in seeded order; questions whose answer is outside the pool are passed over."""
        pool = self.pool(task, partition)
        split = COCO_SPLITS[partition]
        for question in self._questions(task, partition):
            item_id = f"tdiuc-{question.question_id}"
            if task is Task.OBJECT_PRESENCE and not is_yes_no(question.answer):
                raise InputError(
                    f"object_presence answer {question.answer!r} is not yes/no; the file is not TDIUC as released",
                    file=annotations_file(self.root, split),
                    record=question.question_id,
                    field="answers[0].answer",
                )
            if not pool.covers(question.answer):
                self._passed_over.add(item_id)
                continue
            image = self._image(question, partition)
            if image is None:
                continue
            rng = random.Random(f"mmsy:{self.seed}:tdiuc-distractors:{question.question_id}")
            yield BaseItem(
                item_id=item_id,
                image_id=f"{split}-{question.image_id:012d}",
                image=image,
                question=question.question,
                answer=question.answer,
                task=task,
                answer_pool=pool.values,
                preferred_distractors=pool.distractors(question.answer, rng),
                source=self.name,
                meta=json.dumps(
                    {
                        "ans_source": question.ans_source,
                        "coco_image_id": question.image_id,
                        "coco_split": split,
                        "question_id": question.question_id,
                        "question_type": question.question_type,
                    },
                    sort_keys=True,
                ),
            )

    def info(self) -> SourceInfo:
        skipped = sorted(self._skipped)
        limitations = [
            "- Answers are TDIUC's single gold answer; options come from answers seen at least "
            f"{self.pool_min_count} times in the task, so questions with rarer answers are not drawn "
            f"({len(self._passed_over):,} passed over during this build).",
        ]
        if skipped:
            limitations.append(
                f"- {len(skipped):,} drawn questions were skipped because their image file was missing or "
                f"unreadable (`--skip-missing`); first ids: {', '.join(skipped[:LISTED_IDS])}. Other questions "
                "were drawn in their place, so this build differs from a build with all images."
            )
        return SourceInfo(
            name=self.name,
            description=DESCRIPTION.format(min_count=self.pool_min_count, max_size=self.pool_max_size),
            license="other",
            attribution=ATTRIBUTION,
            details={
                "license_note": LICENSE_NOTE,
                "personal_info": PERSONAL_INFO,
                "limitations": "\n".join(limitations),
                "coco_splits": {p.value: s for p, s in COCO_SPLITS.items()},
                "pool_min_count": self.pool_min_count,
                "pool_max_size": self.pool_max_size,
                "pool_sizes": {
                    f"{p.value}:{t.value}": len(pool.values) for (p, t), pool in sorted(self._pools.items())
                },
                "passed_over_rare_answers": {
                    "count": len(self._passed_over),
                    "first_ids": sorted(self._passed_over)[:LISTED_IDS],
                },
                "skipped_images": {
                    "count": len(skipped),
                    "first_ids": skipped[:LISTED_IDS],
                    "reasons": {i: self._skipped[i] for i in skipped[:LISTED_IDS]},
                },
            },
        )


register_source("tdiuc")(TdiucSource)

__all__ = ["TdiucSource"]
