"""The predictions record: what the evaluation engine writes and what submissions carry.

One `Prediction` per benchmark record (one line of `predictions.jsonl`). Every figure the
scoring library reports is computed from these records alone, so every score can be traced
back to a dialogue.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, model_validator

from mmsy_dataset.tasks import LETTERS, Task, Tone


class ScoringMode(StrEnum):
    """How a multiple-choice turn was scored (design.md, "Scoring modes")."""

    LETTER = "letter"
    """Logits of the option labels (A-D) at the answer position: the paper's way for open models."""
    OPTION = "option"
    """Log-likelihood of each option's text as the answer (summed and length-normalised)."""
    TEXT = "text"
    """Generated reply, option extracted by text matching (API models)."""


class Turn(BaseModel):
    """The model's answer in one round (round 1 is the unpushed question)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

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
                    raise ValueError(
                        f"rounds[{i - 1}].{name}: expected {self.n_options} values, got {len(values)}"
                    )
        return self
