"""The predictions record: what the evaluation engine writes and what submissions carry.

One `Prediction` per benchmark record (one line of `predictions.jsonl`). Every figure the
scoring library reports is computed from these records alone, so every score can be traced
back to a dialogue.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from mmsy_dataset.errors import MmsyError
from mmsy_dataset.tasks import LETTERS, Task, Tone


class ScoringMode(StrEnum):
    """How a multiple-choice turn was scored (docs/engine.md, "Scoring modes")."""

    LETTER = "letter"
    """Logits of the option labels (A-D) at the answer position: the paper's way for open models."""
    OPTION = "option"
    """Log-likelihood of each option's text as the answer (summed and length-normalised)."""
    TEXT = "text"
    """Generated reply, option extracted by text matching (API models)."""


class Turn(BaseModel):
    """The model's answer in one round (round 1 is the unpushed question)."""

    # -inf (a label no token can start, an impossible option) is written as the JSON string
    # "-Infinity": a bare `-Infinity` is not JSON, and `null` would lose the value.
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True, ser_json_inf_nan="strings")

    round: int
    """1 for the initial answer, 2 for the first push, ... up to 6."""
    scores: list[float] | None = None
    """Per-option scores in letter order (logit, or log-probability); None in text mode."""
    scores_norm: list[float] | None = None
    """Length-normalised option log-probabilities (option mode only)."""
    choice: str | None = None
    """Chosen letter: argmax of the scores, or the letter extracted from the text; None if none could be."""
    text: str | None = None
    """Generated reply, where the model generated one."""

    @field_validator("scores", "scores_norm", mode="before")
    @classmethod
    def _null_is_minus_infinity(cls, value: object) -> object:
        """Files of earlier versions wrote -inf as `null` (the only value that became null: NaN
        was always refused), so a null score reads back as -inf."""
        if isinstance(value, list):
            return [float("-inf") if v is None else v for v in value]
        return value


class Prediction(BaseModel):
    """A model's answers on one benchmark record."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    record_id: str
    """The dataset record's `id`."""
    config: str
    """Hub config of the record (sycophancy, correction_with_answer, ...)."""
    question_id: str
    """The record's base question; all records on one question share round 1."""
    task: Task
    """Task of the question."""
    tone: Tone | None = None
    """Tone of the push(es)."""
    mode: ScoringMode
    """How the turns were scored."""
    n_options: int
    """Number of options (4, or 2 for yes/no)."""
    answer_letter: str
    """Letter of the correct option."""
    push_letter: str | None = None
    """Letter the user pushed in round 2+ (None for correction without answer)."""
    rounds: list[Turn]
    """Round 1 first. Later rounds are present only where the protocol applies them (a sycophancy
    push follows a right round-1 answer, a correction a wrong one)."""

    @model_validator(mode="after")
    def _check(self) -> Prediction:
        letters = LETTERS[: self.n_options]
        if self.n_options not in (2, 4):
            raise ValueError(f"n_options: expected 2 or 4, got {self.n_options}")
        if self.answer_letter not in letters:
            raise ValueError(f"answer_letter: {self.answer_letter!r} not in {letters}")
        if self.push_letter is not None and self.push_letter not in letters:
            raise ValueError(f"push_letter: {self.push_letter!r} not in {letters}")
        if not self.rounds or self.rounds[0].round != 1:
            raise ValueError("rounds: must start with round 1")
        for i, turn in enumerate(self.rounds, start=1):
            if turn.round != i:
                raise ValueError(f"rounds[{i - 1}].round: expected {i}, got {turn.round}")
            if turn.choice is not None and turn.choice not in letters:
                raise ValueError(f"rounds[{i - 1}].choice: {turn.choice!r} not in {letters}")
            for name in ("scores", "scores_norm"):
                values = getattr(turn, name)
                if values is not None and len(values) != self.n_options:
                    raise ValueError(f"rounds[{i - 1}].{name}: expected {self.n_options} values, got {len(values)}")
                # -inf is a legitimate log-probability; NaN would make every comparison False
                # and silently count as "not sycophantic".
                if values is not None and any(math.isnan(v) for v in values):
                    raise ValueError(f"rounds[{i - 1}].{name}: NaN score")
        return self

    @property
    def round1(self) -> Turn:
        """The unpushed answer, shared by every record on the same question."""
        return self.rounds[0]


class PredictionsFileError(MmsyError, ValueError):
    """A predictions file that cannot be read; the message names the file, the line and the field."""


def format_validation_error(error: ValidationError) -> list[str]:
    """One `field: message` string per pydantic error, fields dotted (`rounds.1.choice`)."""
    out = []
    for item in error.errors():
        loc = ".".join(str(part) for part in item["loc"])
        msg = item["msg"].removeprefix("Value error, ")
        # Model-level checks raise "field: message"; keep that field as the location.
        out.append(f"{loc}: {msg}" if loc or ": " not in msg else msg)
    return out


def prediction_line(prediction: Prediction) -> str:
    """One prediction as a JSON line (no newline): the single writer of the engine, the library
    and submissions. `None` fields are left out; -inf is written as the string "-Infinity"."""
    return prediction.model_dump_json(exclude_none=True)


def parse_prediction(line: str | bytes, where: str = "(line)") -> Prediction:
    """One prediction from a JSON line, or `PredictionsFileError` naming `where` (`file:line`),
    the record and the field. Reads what `prediction_line` writes, and the files of earlier
    versions (`null` or a bare `-Infinity` for -inf)."""
    try:
        raw = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        detail = f"{exc.msg} at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
        raise PredictionsFileError(
            f"{where}: (line): invalid JSON ({detail}); the line may be truncated: rerun or remove it"
        ) from None
    try:
        return Prediction.model_validate(raw)
    except ValidationError as exc:
        rid = raw.get("record_id", "?") if isinstance(raw, dict) else "?"
        details = "; ".join(format_validation_error(exc))
        raise PredictionsFileError(f"{where}: record {rid}: {details}") from None


def iter_predictions(path: str | Path) -> Iterator[Prediction]:
    """Predictions of a JSONL file, one per non-blank line.

    Raises `PredictionsFileError` at the first bad line (a truncated write, a wrong letter, a
    score list of the wrong length), naming `file:line` and the field, so that a partial file
    from an interrupted run is never scored as if it were complete.
    """
    path = Path(path)
    if not path.is_file():
        reason = "is a folder, not a predictions file" if path.is_dir() else "no such file"
        raise PredictionsFileError(f"{path}: {reason}")
    with path.open("rb") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            yield parse_prediction(line, f"{path}:{lineno}")


def read_predictions(path: str | Path) -> list[Prediction]:
    """All predictions of a JSONL file (see `iter_predictions` for the errors)."""
    return list(iter_predictions(path))


def write_predictions(path: str | Path, predictions: Iterable[Prediction]) -> None:
    """Write one JSON line per prediction (`prediction_line`)."""
    with Path(path).open("w", encoding="utf-8") as handle:
        for prediction in predictions:
            handle.write(prediction_line(prediction) + "\n")
