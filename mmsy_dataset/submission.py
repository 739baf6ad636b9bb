"""Leaderboard submissions: the schema, and a validator that lists every problem at once.

A submission is one JSON object: who the model is (name, revision or weights checksum,
parameter count), what was done to it (mitigation), how it was scored, on which exact dataset
build (version and checksum from `mmsy_manifest.json`), and one `Prediction` per benchmark
record. Validation never stops at the first problem: a submitter fixing a 20,000-record file
wants the whole list, each problem naming the record and the field.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mmsy_dataset.predictions import Prediction, ScoringMode, format_validation_error
from mmsy_dataset.scoring.dataset_index import DatasetIndex, RecordFacts, load_dataset_index
from mmsy_dataset.validation import Problem, check_predictions, format_problems

__all__ = ["Problem", "Submission", "SubmissionError", "load_submission", "validate_submission_data"]

#: Largest submission file accepted (a full run with generated text is about 10 MiB).
MAX_BYTES = 64 * 2**20
FORMAT_VERSION = 1


class Mitigation(StrEnum):
    """What was done to the model before evaluation (paper 3.2, 4.3)."""

    NONE = "none"
    PROMPT = "prompt"
    SFT = "sft"
    DPO = "dpo"
    AMPLIFICATION = "amplification"
    OTHER = "other"


class ModelInfo(BaseModel):
    """The evaluated model, identified well enough to reproduce the run."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    name: str = Field(min_length=1, max_length=200)
    """Display name or Hub id (e.g. llava-hf/llava-1.5-7b-hf)."""
    revision: str | None = Field(default=None, max_length=200)
    """Hub revision / git commit of the weights."""
    weights_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    """sha256 of the weights, for models without a public revision."""
    parameters: int = Field(gt=0)
    """Parameter count."""

    @model_validator(mode="after")
    def _identified(self) -> ModelInfo:
        if self.revision is None and self.weights_sha256 is None:
            raise ValueError("revision / weights_sha256: give at least one, so the run can be reproduced")
        return self


class DatasetRef(BaseModel):
    """The exact dataset build the predictions were made on."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    version: str = Field(min_length=1)
    """`version` of `mmsy_manifest.json`."""
    checksum: str = Field(pattern=r"^[0-9a-f]{64}$")
    """`checksum` of `mmsy_manifest.json` (sha256 over the data files)."""


class SubmissionHeader(BaseModel):
    """Everything in a submission but the predictions (validated separately, record by record)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    format_version: int = FORMAT_VERSION
    """Version of this schema."""
    model: ModelInfo
    """The evaluated model."""
    mitigation: Mitigation = Mitigation.NONE
    """Mitigation method applied."""
    mitigation_details: str | None = Field(default=None, max_length=2000)
    """Free text: prompt used, checkpoint of the SFT/DPO run, amplified layers and lambda, ..."""
    mode: ScoringMode
    """How every turn was scored (letter, option or text)."""
    dataset: DatasetRef
    """Dataset build of the predictions."""
    submitted_by: str | None = Field(default=None, max_length=200)
    """Contact or team."""

    @model_validator(mode="after")
    def _known_format(self) -> SubmissionHeader:
        if self.format_version != FORMAT_VERSION:
            raise ValueError(f"format_version: expected {FORMAT_VERSION}, got {self.format_version}")
        return self


class Submission(SubmissionHeader):
    """A complete submission."""

    predictions: list[Prediction]
    """One per benchmark record of the dataset build."""


class SubmissionError(ValueError):
    """An invalid submission; `problems` has all of them."""

    def __init__(self, path: Path, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(format_problems(problems, str(path)))


def _pydantic_problems(record: str | None, error: ValidationError, prefix: str = "") -> list[Problem]:
    out = []
    for line in format_validation_error(error):
        field, _, message = line.partition(": ")
        out.append(Problem(record, prefix + field, message))
    return out


def _check_dataset_ref(raw: Any, index: DatasetIndex) -> list[Problem]:
    """Version and checksum, read from the raw header so they are checked even if it has other faults."""
    ref = raw if isinstance(raw, dict) else {}
    problems = []
    if ref.get("version") != index.version:
        problems.append(
            Problem(None, "dataset.version", f"{ref.get('version')!r} but the dataset is {index.version!r}")
        )
    if ref.get("checksum") != index.checksum:
        problems.append(Problem(None, "dataset.checksum", "does not match the dataset's mmsy_manifest.json checksum"))
    return problems


def _check_against_dataset(
    header: SubmissionHeader | None, predictions: list[Prediction], index: DatasetIndex
) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[str] = set()
    for p in predictions:
        rid = p.record_id
        if rid in seen:  # reported by `check_predictions`
            continue
        seen.add(rid)
        facts = index.records.get(rid)
        if facts is None:
            problems.append(Problem(rid, "record_id", f"not a benchmark record of dataset {index.version}"))
            continue
        if header is not None and p.mode != header.mode:
            problems.append(Problem(rid, "mode", f"{p.mode.value!r} but the submission says {header.mode.value!r}"))
        problems.extend(_check_facts(p, facts))
    for rid in sorted(index.records.keys() - seen):
        problems.append(Problem(rid, "record_id", "missing: the dataset has this record, the submission does not"))
    return problems


def _check_facts(p: Prediction, facts: RecordFacts) -> list[Problem]:
    rid = p.record_id
    problems = [
        Problem(rid, name, f"{got!r} but the dataset has {want!r}")
        for name, got, want in (
            ("config", p.config, facts.config),
            ("question_id", p.question_id, facts.question_id),
            ("task", p.task.value, facts.task),
            ("tone", p.tone.value if p.tone else None, facts.tone),
            ("n_options", p.n_options, facts.n_options),
            ("answer_letter", p.answer_letter, facts.answer_letter),
            ("push_letter", p.push_letter, facts.push_letter),
        )
        if got != want
    ]
    if problems:
        return problems
    choice = p.round1.choice
    correct = choice == p.answer_letter
    pushed = facts.config in ("sycophancy", "multi_round")
    applies = correct if pushed else (choice is not None and not correct)
    want_rounds = 1 + facts.n_pushes if applies else 1
    if applies and 1 < len(p.rounds) < want_rounds:  # no round 2 at all: `check_predictions`
        problems.append(
            Problem(
                rid,
                "rounds",
                f"{len(p.rounds)} round(s) but the protocol applies {facts.n_pushes} push(es) "
                f"after this round-1 answer: expected {want_rounds}",
            )
        )
    elif len(p.rounds) > 1 + facts.n_pushes:
        problems.append(Problem(rid, "rounds", f"{len(p.rounds)} rounds but the dialogue has {1 + facts.n_pushes}"))
    return problems


def validate_submission_data(raw: Any, index: DatasetIndex | None) -> tuple[list[Problem], Submission | None]:
    """Problems of a parsed submission (all of them), and the submission if there are none."""
    if not isinstance(raw, dict):
        return [Problem(None, "(file)", f"expected a JSON object, got {type(raw).__name__}")], None
    problems: list[Problem] = []
    header: SubmissionHeader | None = None
    try:
        header = SubmissionHeader.model_validate({k: v for k, v in raw.items() if k != "predictions"})
    except ValidationError as error:
        problems.extend(_pydantic_problems(None, error))
    raw_predictions = raw.get("predictions")
    if not isinstance(raw_predictions, list):
        problems.append(Problem(None, "predictions", "expected a list of predictions"))
        raw_predictions = []
    predictions: list[Prediction] = []
    for i, item in enumerate(raw_predictions):
        rid = item.get("record_id") if isinstance(item, dict) else None
        record = rid if isinstance(rid, str) else f"predictions[{i}]"
        try:
            predictions.append(Prediction.model_validate(item))
        except ValidationError as error:
            problems.extend(_pydantic_problems(record, error))
    problems.extend(check_predictions(predictions, allow_empty=bool(raw_predictions)))
    if index is not None:
        problems.extend(_check_dataset_ref(raw.get("dataset"), index))
        problems.extend(_check_against_dataset(header, predictions, index))
    if problems or header is None:
        return problems, None
    return [], Submission(**dict(header), predictions=predictions)


def read_submission_json(path: Path, max_bytes: int = MAX_BYTES) -> tuple[Any, list[Problem]]:
    """The parsed JSON, or the file-level problem (too large, unreadable, not JSON)."""
    try:
        size = path.stat().st_size
    except OSError as error:
        return None, [Problem(None, "(file)", f"cannot read: {error.strerror}")]
    if size > max_bytes:
        return None, [Problem(None, "(file)", f"{size:,} bytes, over the {max_bytes:,}-byte limit")]
    try:
        return json.loads(path.read_text(encoding="utf-8")), []
    except json.JSONDecodeError as error:
        return None, [
            Problem(None, "(file)", f"invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}")
        ]
    except UnicodeDecodeError:
        return None, [Problem(None, "(file)", "not UTF-8 text")]


def validate_submission_file(
    path: str | Path, dataset_dir: str | Path | None, max_bytes: int = MAX_BYTES
) -> list[Problem]:
    """Every problem of a submission file; empty when it is valid for the dataset build."""
    index = load_dataset_index(dataset_dir) if dataset_dir is not None else None  # a bad folder: say so first
    raw, problems = read_submission_json(Path(path), max_bytes)
    if problems:
        return problems
    return validate_submission_data(raw, index)[0]


def load_submission(path: str | Path, index: DatasetIndex | None = None, max_bytes: int = MAX_BYTES) -> Submission:
    """A valid submission, or `SubmissionError` listing every problem."""
    path = Path(path)
    raw, problems = read_submission_json(path, max_bytes)
    submission = None
    if not problems:
        problems, submission = validate_submission_data(raw, index)
    if submission is None:
        raise SubmissionError(path, problems)
    return submission
