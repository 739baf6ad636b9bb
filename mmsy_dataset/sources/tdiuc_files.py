"""Read and validate the released TDIUC layout (questions + annotations JSON, COCO images).

Validation is strict and happens once, on the whole file, because a TDIUC download that is
half-extracted or mixed with another VQA release (same file names as VQA v1/v2) is the common
failure: every error names the file, the question id and the key, so it can be fixed at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmsy_dataset.errors import InputError
from mmsy_dataset.tasks import Partition, Task

#: COCO split of each partition: the benchmark comes from val (as the released MM-SY), training
#: material from train; COCO train and val share no image.
COCO_SPLITS: dict[Partition, str] = {Partition.BENCHMARK: "val2014", Partition.TRAIN: "train2014"}

#: TDIUC question types MM-SY leaves out (paper 2.1 keeps the other ten).
DROPPED_TYPES: frozenset[str] = frozenset({"absurd", "sentiment_understanding"})
KNOWN_TYPES: frozenset[str] = frozenset(t.value for t in Task) | DROPPED_TYPES


@dataclass(frozen=True)
class TdiucQuestion:
    """One joined TDIUC question: question text, type and gold answer (`answers[0].answer`)."""

    question_id: int
    image_id: int
    question: str
    question_type: str
    answer: str
    ans_source: str


def questions_file(root: Path, split: str) -> Path:
    return root / "Questions" / f"OpenEnded_mscoco_{split}_questions.json"


def annotations_file(root: Path, split: str) -> Path:
    return root / "Annotations" / f"mscoco_{split}_annotations.json"


def image_file(root: Path, split: str, image_id: int) -> Path:
    return root / "Images" / split / f"COCO_{split}_{image_id:012d}.jpg"


def _entries(path: Path, key: str) -> list[Any]:
    if not path.is_file():
        raise InputError(
            "file not found. Expected the TDIUC release layout: Questions/OpenEnded_mscoco_{train,val}2014_"
            "questions.json, Annotations/mscoco_{train,val}2014_annotations.json, Images/{train,val}2014/ "
            "(see docs/real_sources.md)",
            file=path,
        )
    try:
        with path.open("rb") as handle:
            data = json.load(handle)
    except json.JSONDecodeError as error:
        raise InputError(
            f"malformed JSON at line {error.lineno}, column {error.colno}: {error.msg}. Re-extract the file.",
            file=path,
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read the file: {error}", file=path) from None
    if not isinstance(data, dict) or key not in data:
        raise InputError(f"missing top-level key {key!r}; is this a TDIUC file?", file=path, field=key)
    entries = data[key]
    if not isinstance(entries, list):
        raise InputError(f"{key!r} must be a list, got {type(entries).__name__}", file=path, field=key)
    return entries


def _label(entry: Any, index: int) -> str | int:
    """How an entry is named in errors: its question id when it has one, else its position."""
    if isinstance(entry, dict) and isinstance(entry.get("question_id"), int):
        return int(entry["question_id"])
    return f"#{index} (no question_id)"


def _get(entry: Any, key: str, kind: type, path: Path, index: int) -> Any:
    record = _label(entry, index)
    if not isinstance(entry, dict):
        raise InputError(f"expected an object, got {type(entry).__name__}", file=path, record=record)
    if key not in entry:
        raise InputError("missing key", file=path, record=record, field=key)
    value = entry[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise InputError(f"expected {kind.__name__}, got {value!r}", file=path, record=record, field=key)
    if isinstance(value, str) and not value.strip():
        raise InputError("empty text", file=path, record=record, field=key)
    return value


def _by_id(entries: list[Any], path: Path) -> dict[int, Any]:
    out: dict[int, Any] = {}
    for index, entry in enumerate(entries):
        qid = _get(entry, "question_id", int, path, index)
        if qid in out:
            raise InputError("duplicate question_id; each question must appear once", file=path, record=qid)
        out[qid] = entry
    return out


def _answer(entry: dict[str, Any], path: Path, index: int) -> str:
    answers = _get(entry, "answers", list, path, index)
    qid = entry["question_id"]
    if not answers:
        raise InputError("no answers", file=path, record=qid, field="answers")
    first = answers[0]
    if not isinstance(first, dict) or not isinstance(first.get("answer"), str) or not first["answer"].strip():
        raise InputError("answers[0] needs a non-empty 'answer'", file=path, record=qid, field="answers[0].answer")
    return " ".join(first["answer"].lower().split())


def _unmatched(ids: set[int], path: Path, what: str) -> None:
    if ids:
        first = sorted(ids)[:5]
        raise InputError(
            f"{len(ids)} question ids have no {what} (e.g. {first}); questions and annotations must be the same "
            "TDIUC release",
            file=path,
            record=first[0],
        )


def load_split(root: Path, split: str) -> list[TdiucQuestion]:
    """Every question of one COCO split of TDIUC, joined on `question_id`, sorted by id.

    Questions of the two dropped types are validated, then left out; any other unknown type
    is an error (it means a different dataset or a newer TDIUC).
    """
    q_path, a_path = questions_file(root, split), annotations_file(root, split)
    questions = _by_id(_entries(q_path, "questions"), q_path)
    annotations = _by_id(_entries(a_path, "annotations"), a_path)
    _unmatched(set(questions) - set(annotations), a_path, "annotation")
    _unmatched(set(annotations) - set(questions), q_path, "question")
    out: list[TdiucQuestion] = []
    for index, (qid, annotation) in enumerate(sorted(annotations.items())):
        question = questions[qid]
        qtype = _get(annotation, "question_type", str, a_path, index)
        if qtype not in KNOWN_TYPES:
            raise InputError(
                f"unknown question type {qtype!r}; TDIUC has {', '.join(sorted(KNOWN_TYPES))}",
                file=a_path,
                record=qid,
                field="question_type",
            )
        image_id = _get(question, "image_id", int, q_path, index)
        if _get(annotation, "image_id", int, a_path, index) != image_id:
            raise InputError(
                f"image_id {annotation['image_id']} differs from the question's {image_id} in {q_path}",
                file=a_path,
                record=qid,
                field="image_id",
            )
        text = _get(question, "question", str, q_path, index)
        answer = _answer(annotation, a_path, index)
        source = annotation.get("ans_source", "")
        if qtype in DROPPED_TYPES:
            continue
        out.append(TdiucQuestion(qid, image_id, " ".join(text.split()), qtype, answer, str(source)))
    return out


__all__ = [
    "COCO_SPLITS",
    "DROPPED_TYPES",
    "KNOWN_TYPES",
    "TdiucQuestion",
    "annotations_file",
    "image_file",
    "load_split",
    "questions_file",
]
