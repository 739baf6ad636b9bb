"""`ReleaseSource`: import the released MM-SY parquet, registered as source "mmsy-release".

The release (Hub `MM-Hallu/MM-SY`) already holds finished sycophancy dialogues: the question
with its options in the text, the true and the pushed option, and one push per tone written
by the authors (`solid_response` = strong, `gentle_response` = euphemistic, `suggest_response`
= suggestive). Importing keeps those texts verbatim, so only the `sycophancy` config can be
built faithfully: the release has no correction pushes, no push that names no option, a single
push per tone (no multi-round) and no training questions. Those configs are left out, never
synthesised.

The release has no task column. With `tdiuc_dir` the TDIUC question type is joined on
(COCO image id, question text); otherwise `release_parse.guess_task` reads the question's
wording. Rows whose task cannot be recovered are left out and listed in the card.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from mmsy_dataset.answers import normalise
from mmsy_dataset.errors import BuildError, InputError
from mmsy_dataset.schemas import BaseItem, Provenance, QuestionRecord, SycophancyRecord
from mmsy_dataset.sources.base import SourceInfo, register_source
from mmsy_dataset.sources.release_parse import (
    guess_task,
    letters_convention,
    parse_question,
    resolve_option,
    same_answer,
)
from mmsy_dataset.sources.tdiuc import image_problem
from mmsy_dataset.sources.tdiuc_files import load_split
from mmsy_dataset.tasks import LETTERS, TASKS, Partition, Task, Tone

COLUMNS = (
    "image",
    "image_id",
    "question",
    "answer",
    "true_option",
    "sy_option",
    "solid_response",
    "gentle_response",
    "suggest_response",
)
#: Release column of each tone's push (paper A.3: strong, euphemistic, suggestive).
TONE_COLUMNS: dict[Tone, str] = {
    Tone.SUGGESTIVE: "suggest_response",
    Tone.EUPHEMISTIC: "gentle_response",
    Tone.STRONG: "solid_response",
}
LISTED_IDS = 20
DESCRIPTION = (
    "Imported from the released MM-SY benchmark parquet (Hugging Face Hub `MM-Hallu/MM-SY`; Li et al., "
    "2024): questions, options, true and pushed options and the authors' push texts, verbatim. Images "
    "are COCO val2014 images chosen from TDIUC by the authors. Only the `sycophancy` config can be "
    "built from the release."
)
LICENSE_NOTE = (
    "The release is published under Apache-2.0 by its authors; its images are MS COCO images, each "
    "under its owner's Flickr license (see the COCO terms of use)."
)


@dataclass(frozen=True)
class ReleaseRow:
    """One parsed release row."""

    question_id: str
    image_id: str
    image: bytes
    question: str
    options: tuple[str, ...]
    answer_index: int
    push_index: int
    prompt: str
    pushes: dict[Tone, str]
    task: Task
    task_via: str


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(path.rglob("*.parquet"))
        if files:
            return files
        raise BuildError(f"--path {path}: no .parquet files in this folder")
    raise BuildError(f"--path {path}: no such file or folder")


def _image_bytes(value: Any, base: Path) -> bytes | None:
    """Bytes of a `datasets.Image` cell ({bytes, path} struct) or a raw binary cell."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, dict):
        data = value.get("bytes")
        if isinstance(data, bytes | bytearray) and data:
            return bytes(data)
        if isinstance(value.get("path"), str) and value["path"] and "\x00" not in value["path"]:
            # Only files beside the parquet: a path in a downloaded file never reads elsewhere.
            candidate = (base / value["path"]).resolve()
            inside = candidate.is_relative_to(base.resolve())
            return candidate.read_bytes() if inside and candidate.is_file() else None
    return None


def _tdiuc_types(root: Path, splits: set[str]) -> dict[tuple[str, int, str], str]:
    """TDIUC question type by (COCO split, image id, normalised question)."""
    return {
        (split, q.image_id, normalise(q.question)): q.question_type
        for split in sorted(splits)
        for q in load_split(root, split)
    }


def _coco_key(image_id: str) -> tuple[str, int] | None:
    match = re.fullmatch(r"(?:COCO_)?(train2014|val2014)_0*(\d+)(?:\.jpg)?", image_id.strip())
    if match:
        return match.group(1), int(match.group(2))
    return ("val2014", int(image_id)) if image_id.strip().isdigit() else None


class ReleaseSource:
    """The released MM-SY benchmark as finished sycophancy records."""

    name = "mmsy-release"

    def __init__(
        self,
        path: str | Path | None = None,
        seed: int = 0,
        tdiuc_dir: str | Path | None = None,
        skip_missing: bool = False,
        **unused: Any,
    ) -> None:
        if unused:
            raise BuildError(f"source mmsy-release does not take {', '.join(sorted(unused))}")
        if path is None:
            raise BuildError("source mmsy-release needs the released parquet: pass --path FILE_OR_DIR")
        self.path = Path(path)
        self.files = _files(self.path)
        self.seed = seed  # unused: the release fixes every choice; kept for the factory signature
        self.tdiuc_dir = Path(tdiuc_dir) if tdiuc_dir is not None else None
        self.skip_missing = skip_missing
        self._rows: list[ReleaseRow] | None = None
        self._skipped: dict[str, str] = {}
        self._unknown: list[str] = []
        self._via: dict[str, int] = {"tdiuc": 0, "wording": 0}

    # -- reading --------------------------------------------------------------------------------

    def _table(self, file: Path) -> pa.Table:
        try:
            table = pq.read_table(file)
        except (pa.ArrowException, OSError) as error:
            raise InputError(f"unreadable parquet: {error}", file=file) from None
        missing = [c for c in COLUMNS if c not in table.column_names]
        if missing:
            raise InputError(
                f"missing columns {missing}; the MM-SY release has {', '.join(COLUMNS)}", file=file, field=missing[0]
            )
        return table

    def rows(self) -> list[ReleaseRow]:
        """Every usable row, in file order; parsed once."""
        if self._rows is None:
            raw = [(file, i, row) for file in self.files for i, row in enumerate(self._table(file).to_pylist())]
            types = self._join_tdiuc(raw)
            self._rows = self._parse(raw, types)
        return self._rows

    def _join_tdiuc(self, raw: list[tuple[Path, int, dict[str, Any]]]) -> dict[tuple[str, int, str], str]:
        if self.tdiuc_dir is None:
            return {}
        splits = {key[0] for _, _, row in raw if (key := _coco_key(str(row["image_id"])))}
        return _tdiuc_types(self.tdiuc_dir, splits or {"val2014"})

    def _parse(
        self, raw: list[tuple[Path, int, dict[str, Any]]], types: dict[tuple[str, int, str], str]
    ) -> list[ReleaseRow]:
        letters = letters_convention([str(row["true_option"]) for _, _, row in raw])
        rows: list[ReleaseRow] = []
        seen: dict[str, str] = {}
        bad_images: list[tuple[Path, str, str]] = []
        for file, index, row in raw:
            where = f"row {index} (image_id {row['image_id']})"
            for column in COLUMNS[1:]:
                if not isinstance(row[column], str) or not row[column].strip():
                    raise InputError("expected non-empty text", file=file, record=where, field=column)
            image_id = row["image_id"].strip()
            try:
                parsed = parse_question(row["question"])
            except ValueError as error:
                raise InputError(str(error), file=file, record=where, field="question") from None
            try:
                true = resolve_option(row["true_option"], parsed.options, letters)
            except ValueError as error:
                raise InputError(str(error), file=file, record=where, field="true_option") from None
            try:
                push = resolve_option(row["sy_option"], parsed.options, letters)
            except ValueError as error:
                raise InputError(str(error), file=file, record=where, field="sy_option") from None
            if push == true:
                raise InputError("the pushed option is the true option", file=file, record=where, field="sy_option")
            answer = row["answer"].strip()
            if not same_answer(answer, parsed.options[true]) and not _is_label(answer, true):
                raise InputError(
                    f"answer {answer!r} disagrees with true_option {row['true_option']!r} ({parsed.options[true]!r})",
                    file=file,
                    record=where,
                    field="answer",
                )
            digest = hashlib.sha1(f"{image_id}\n{row['question']}".encode()).hexdigest()[:12]
            question_id = f"release-{digest}"
            if question_id in seen:
                raise InputError(
                    f"duplicate row: same image and question as {seen[question_id]}", file=file, record=where
                )
            seen[question_id] = where
            task, via = self._task(image_id, parsed.question, parsed.options[true], types)
            if task is None:
                self._unknown.append(question_id)
                continue
            image = _image_bytes(row["image"], file.parent)
            problem = "missing" if image is None else image_problem(image)
            if problem is not None or image is None:
                bad_images.append((file, where, problem or "missing"))
                self._skipped[question_id] = f"{where}: image {problem}"
                continue
            self._via[via] += 1
            rows.append(
                ReleaseRow(
                    question_id=question_id,
                    image_id=image_id,
                    image=image,
                    question=parsed.question,
                    options=parsed.options,
                    answer_index=true,
                    push_index=push,
                    prompt=parsed.prompt,
                    pushes={tone: row[column] for tone, column in TONE_COLUMNS.items()},
                    task=task,
                    task_via=via,
                )
            )
        if bad_images and not self.skip_missing:
            first = "; ".join(f"{w}: {p}" for _, w, p in bad_images[:5])
            raise InputError(
                f"{len(bad_images)} rows have a missing or unreadable image (first: {first}). Re-download the "
                "release, or pass --skip-missing to import the other rows (the skipped ones are listed in the card).",
                file=bad_images[0][0],
                field="image",
            )
        return rows

    def _task(
        self, image_id: str, question: str, answer: str, types: dict[tuple[str, int, str], str]
    ) -> tuple[Task | None, str]:
        key = _coco_key(image_id)
        if key is not None and types:
            qtype = types.get((key[0], key[1], normalise(question)))
            if qtype in {t.value for t in TASKS}:
                return Task(qtype), "tdiuc"
        return guess_task(question, answer), "wording"

    # -- the RecordSource protocol ----------------------------------------------------------------

    def records(
        self, provenance: Provenance, tasks: tuple[Task, ...], configs: tuple[str, ...]
    ) -> dict[str, dict[str, list[QuestionRecord]]]:
        if "sycophancy" not in configs:
            raise BuildError(
                "source mmsy-release provides only the sycophancy config (the release has no correction, "
                "multi-round or training data); add sycophancy to --configs"
            )
        order = {task: i for i, task in enumerate(TASKS)}
        chosen = sorted((r for r in self.rows() if r.task in tasks), key=lambda r: order[r.task])
        if not chosen:
            raise BuildError(f"source mmsy-release: no rows of the tasks {[t.value for t in tasks]} in {self.path}")
        records: list[QuestionRecord] = []
        for row in chosen:
            letters = LETTERS[: len(row.options)]
            common = {
                "question_id": row.question_id,
                "image_id": row.image_id,
                "image": row.image,
                "task": row.task,
                "question": row.question,
                "options": list(row.options),
                "answer": row.options[row.answer_index],
                "answer_letter": letters[row.answer_index],
                "prompt": row.prompt,
                "provenance": provenance,
            }
            for tone in Tone:
                records.append(
                    SycophancyRecord(
                        id=f"{row.question_id}:syc:{tone.value}",
                        tone=tone,
                        template_id=f"release-{TONE_COLUMNS[tone].removesuffix('_response')}",
                        push=row.pushes[tone],
                        push_letter=letters[row.push_index],
                        push_option=row.options[row.push_index],
                        **common,
                    )
                )
        return {"sycophancy": {"test": records}}

    def items(self, task: Task, partition: Partition) -> Iterator[BaseItem]:
        """The release's questions as base items (benchmark only), its own options as the pool."""
        if partition is not Partition.BENCHMARK:
            return
        for row in self.rows():
            if row.task is task:
                answer = row.options[row.answer_index]
                others = tuple(o for i, o in enumerate(row.options) if i != row.answer_index)
                yield BaseItem(
                    item_id=row.question_id,
                    image_id=row.image_id,
                    image=row.image,
                    question=row.question,
                    answer=answer,
                    task=task,
                    answer_pool=others,
                    preferred_distractors=others,
                    source=self.name,
                    meta=json.dumps({"task_via": row.task_via}),
                )

    def info(self) -> SourceInfo:
        unknown, skipped = sorted(self._unknown), sorted(self._skipped)
        limitations = [
            "- Imported release: only the `sycophancy` config; push texts are the authors' (one per tone and "
            "question), so `template_id` is `release-solid` / `release-gentle` / `release-suggest`.",
            f"- Tasks: {self._via['tdiuc']} questions matched in TDIUC, {self._via['wording']} assigned from the "
            "question's wording (approximate); "
            f"{len(unknown)} left out because no task could be recovered"
            + (f" (first ids: {', '.join(unknown[:LISTED_IDS])})." if unknown else "."),
        ]
        if skipped:
            limitations.append(
                f"- {len(skipped)} rows skipped for a missing or unreadable image (`--skip-missing`); "
                f"first ids: {', '.join(skipped[:LISTED_IDS])}."
            )
        return SourceInfo(
            name=self.name,
            description=DESCRIPTION,
            license="other",
            attribution="Li et al., Have the Vision-Language Models Lost Confidence? A Study of Sycophancy in "
            "VLMs (arXiv:2410.11302). Images: Microsoft COCO (Lin et al., ECCV 2014).",
            details={
                "license_note": LICENSE_NOTE,
                "personal_info": "COCO photographs show people, sometimes with recognisable faces; no names "
                "or other identifiers are attached.",
                "limitations": "\n".join(limitations),
                "files": [p.name for p in self.files],
                "task_recovery": {**self._via, "unrecovered": len(unknown)},
                "unrecovered_ids": unknown[:LISTED_IDS],
                "skipped_images": {"count": len(skipped), "first_ids": skipped[:LISTED_IDS]},
                "configs_not_available": [
                    "correction_with_answer",
                    "correction_without_answer",
                    "multi_round",
                    "probing",
                    "sft",
                    "dpo",
                ],
            },
        )


def _is_label(answer: str, index: int) -> bool:
    label = answer.strip().strip("().:").upper()
    return label in {LETTERS[index], str(index + 1)}


register_source("mmsy-release")(ReleaseSource)

__all__ = ["COLUMNS", "TONE_COLUMNS", "ReleaseRow", "ReleaseSource"]
