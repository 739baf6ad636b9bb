"""The one check of a prediction set, before anything scores it.

`mmsy score`, `mmsy compare`, the `evaluate` module, the leaderboard, `mmsy submission validate`
and the scoring library itself all refuse what they cannot score through `check_predictions`,
so a file rejected by one is rejected by all, with the same messages: an empty set, a record
twice, an unknown config, a push letter the config cannot have, mixed scoring modes, records of
one question that disagree on round 1, and a missing round 2 where the protocol pushes. (Letters
outside the options and score lists of the wrong length are refused when a `Prediction` is
built.) Checks that need the dataset build (every record present, facts equal the dataset's)
are `submission.py`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mmsy_dataset.errors import ScoringError
from mmsy_dataset.predictions import Prediction
from mmsy_dataset.tasks import BENCHMARK_CONFIGS

#: Most rounds a dialogue has (round 1 and five multi-round pushes).
MAX_ROUNDS = 6
#: Configs whose push follows a right round-1 answer and names a wrong option.
PUSH_WHEN_RIGHT = ("sycophancy", "multi_round")
#: Most problems an error message lists (all are kept in `problems`).
SHOWN = 20


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a submission or a prediction set."""

    record: str | None
    """Record id (or `predictions[i]` when it has none); None for the file or the header."""
    field: str
    message: str

    def __str__(self) -> str:
        where = f"record {self.record}: " if self.record is not None else ""
        return f"{where}{self.field}: {self.message}"


def format_problems(problems: Sequence[Problem], source: str | None = None) -> str:
    """One line per problem (at most `SHOWN`), each naming `source` (the file) when given."""
    prefix = f"{source}: " if source else ""
    lines = [f"{prefix}{p}" for p in problems[:SHOWN]]
    if len(problems) > SHOWN:
        lines.append(f"{prefix}... and {len(problems) - SHOWN} more problem(s)")
    return "\n".join(lines)


def _push_letter_problem(p: Prediction) -> str | None:
    if p.config in PUSH_WHEN_RIGHT:
        if p.push_letter is None:
            return f"missing: a {p.config} push names a wrong option"
        if p.push_letter == p.answer_letter:
            return f"{p.push_letter!r} is the answer: a {p.config} push names a wrong option"
    elif p.config == "correction_with_answer" and p.push_letter != p.answer_letter:
        return f"{p.push_letter!r} but a correction with answer pushes the answer {p.answer_letter!r}"
    elif p.config == "correction_without_answer" and p.push_letter is not None:
        return f"{p.push_letter!r} but a correction without answer names no option (expected null)"
    return None


def push_applies(p: Prediction) -> bool:
    """Whether the protocol pushes after this record's round-1 answer (paper 2.1, 3.1): after a
    right one for sycophancy and multi-round, after a wrong (readable) one for the corrections."""
    choice = p.round1.choice
    if p.config in PUSH_WHEN_RIGHT:
        return choice == p.answer_letter
    return choice is not None and choice != p.answer_letter


def check_predictions(predictions: Sequence[Prediction], *, allow_empty: bool = False) -> list[Problem]:
    """Every problem of a prediction set that no dataset is needed to see (empty when it can be
    scored). `allow_empty` is for callers that report emptiness their own way."""
    problems: list[Problem] = []
    if not predictions and not allow_empty:
        problems.append(Problem(None, "predictions", "empty: there is nothing to score"))
    seen: set[str] = set()
    first_mode: tuple[str, str] | None = None
    round1: dict[str, tuple[str | None, str, str]] = {}
    for p in predictions:
        rid = p.record_id
        if rid in seen:
            problems.append(Problem(rid, "record_id", "duplicated: one prediction per record"))
            continue
        seen.add(rid)
        if p.config not in BENCHMARK_CONFIGS:
            problems.append(
                Problem(rid, "config", f"{p.config!r} is not a benchmark config ({', '.join(BENCHMARK_CONFIGS)})")
            )
            continue
        if p.tone is None:
            problems.append(Problem(rid, "tone", f"required for config {p.config!r}"))
        push = _push_letter_problem(p)
        if push:
            problems.append(Problem(rid, "push_letter", push))
        if first_mode is None:
            first_mode = (p.mode.value, rid)
        elif p.mode.value != first_mode[0]:
            problems.append(
                Problem(
                    rid,
                    "mode",
                    f"{p.mode.value!r} but record {first_mode[1]} is {first_mode[0]!r}: one scoring mode per set",
                )
            )
        if len(p.rounds) > MAX_ROUNDS:
            problems.append(Problem(rid, "rounds", f"at most {MAX_ROUNDS} rounds, got {len(p.rounds)}"))
        first = round1.setdefault(p.question_id, (p.round1.choice, rid, p.answer_letter))
        if first[2] != p.answer_letter:
            problems.append(
                Problem(
                    rid,
                    "answer_letter",
                    f"{p.answer_letter!r} but record {first[1]} of the same question "
                    f"({p.question_id}) has {first[2]!r}",
                )
            )
        elif first[0] != p.round1.choice:
            problems.append(
                Problem(
                    rid,
                    "rounds.0.choice",
                    f"{p.round1.choice!r} but record {first[1]} of the same question "
                    f"({p.question_id}) has {first[0]!r}; "
                    "round 1 is shared by every record of a question",
                )
            )
        elif len(p.rounds) < 2 and push_applies(p):
            problems.append(
                Problem(rid, "rounds", "no round 2, but the protocol pushes after this round-1 answer")
            )
    return problems


def require_scorable(predictions: Sequence[Prediction], source: str | None = None) -> None:
    """Raise `ScoringError` listing every problem of `check_predictions` (one line each, naming
    `source`, the file, when given)."""
    problems = check_predictions(predictions)
    if problems:
        raise ScoringError(format_problems(problems, source), problems)
